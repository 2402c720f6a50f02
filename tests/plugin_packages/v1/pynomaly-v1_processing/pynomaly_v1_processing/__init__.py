"""The pynomaly plugin ``v1_processing``: checks and cleans data.

Before detection, ``pynomaly_preprocess`` returns a cleaned copy of the data (``None`` when
nothing needs cleaning: the caller's data is never modified):

* a numeric column with some values missing — at most ``max_missing`` of them, a share, 0.5 by
  default — gets them filled with the column's median;
* extreme values — glitches such as 1e30 from a faulty sensor — are clipped to ``clip_iqr``
  interquartile ranges beyond the quartiles of their column (10 by default), which keeps
  ordinary anomalies anomalous.

Then ``pynomaly_validate`` rejects what is left unusable: a column with more than
``max_missing`` of its values missing, naming it and its share, and any other missing value.

pandas is imported inside the hooks, never at module level, so that listing plugins stays fast.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pynomaly import hookimpl
from pynomaly.errors import DataError
from pynomaly.types import PluginMetadata, PluginType

if TYPE_CHECKING:
    import pandas as pd

__version__ = "0.1.0"

DEFAULTS: dict[str, float] = {"max_missing": 0.5, "clip_iqr": 10.0}
_settings: dict[str, float] = dict(DEFAULTS)


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="v1_processing",
        version=__version__,
        plugin_types=[PluginType.PROCESSING],
        description="fills sparse gaps, clips glitches, rejects mostly-missing columns",
        pynomaly_compat=">=1.0,<2",  # the pynomaly versions this plugin works with
        config_schema={  # pynomaly validates the configuration against it
            "type": "object",
            "properties": {
                "max_missing": {"type": "number", "minimum": 0, "maximum": 1},
                "clip_iqr": {"type": "number", "exclusiveMinimum": 0},
            },
            "additionalProperties": False,
        },
    )


@hookimpl
def pynomaly_initialize(config: Mapping[str, Any]) -> None:
    _settings.clear()
    _settings.update({**DEFAULTS, **config})


@hookimpl
def pynomaly_configure(config: Mapping[str, Any]) -> None:
    pynomaly_initialize(config)


@hookimpl
def pynomaly_preprocess(data: pd.DataFrame, source: str) -> pd.DataFrame | None:
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    numeric = [
        column
        for column, dtype in data.dtypes.items()
        if is_numeric_dtype(dtype) and not is_bool_dtype(dtype)
    ]
    if not numeric or data.shape[0] == 0:
        return None
    values = data[numeric]
    missing = values.isna().mean()
    fill = values.median().where((missing > 0) & (missing <= _settings["max_missing"]))
    q1, q3 = values.quantile(0.25), values.quantile(0.75)
    spread = (q3 - q1).where(q3 > q1)  # NaN (no bound) for constant-looking columns
    low, high = q1 - _settings["clip_iqr"] * spread, q3 + _settings["clip_iqr"] * spread
    cleaned = values.clip(lower=low, upper=high, axis=1).fillna(fill)
    if cleaned.equals(values):
        return None  # nothing to clean: no copy
    out = data.copy()
    out[numeric] = cleaned
    return out


@hookimpl
def pynomaly_validate(data: pd.DataFrame, source: str) -> None:
    if data.shape[0] == 0:
        raise DataError(f"{source}: no rows")
    limit = _settings["max_missing"]
    for column, count in data.isna().sum().items():
        share = count / data.shape[0]
        if share > limit:
            raise DataError(
                f"{source}: column {column!r} is {share:.0%} missing (more than {limit:.0%}); "
                "drop it or impute it first"
            )
        if count:
            raise DataError(f"{source}: column {column!r} has {count} missing value(s)")
