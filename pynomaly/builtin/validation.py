"""Built-in processing plugin ``validation``: the data must be a non-empty numeric table.

Rejections name the column and, for bad values, the first offending row.
"""

from __future__ import annotations

from typing import Any

from pynomaly._version import __version__
from pynomaly.errors import DataError
from pynomaly.markers import hookimpl
from pynomaly.types import PluginMetadata, PluginType


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="validation",
        version=__version__,
        plugin_types=[PluginType.PROCESSING],
        author="pynomaly",
        description="rejects empty, non-numeric, NaN and infinite input",
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_validate(data: Any, source: str) -> None:
    import numpy as np
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    if data.shape[1] == 0:
        raise DataError(f"{source}: no columns")
    if data.shape[0] == 0:
        raise DataError(f"{source}: no rows (only a header?)")
    duplicated = data.columns[data.columns.duplicated()].unique().tolist()
    if duplicated:
        raise DataError(f"{source}: duplicate column names {duplicated}")
    for name, dtype in data.dtypes.items():
        if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype)):
            column = data[name]
            bad = column[~column.map(_is_number)]
            example = f"; row {bad.index[0]!r} holds {bad.iloc[0]!r}" if len(bad) else ""
            raise DataError(
                f"{source}: column {name!r} is not numeric (dtype {dtype}){example}; "
                "drop or encode it first"
            )
    values = data.to_numpy(dtype=np.float64, copy=False)
    # one pass summing is far cheaper than a boolean mask of every cell; any NaN or inf makes
    # the sum non-finite, and only then (or on overflow) is the mask computed to locate it
    if np.isfinite(values.sum()):
        return
    finite = np.isfinite(values)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise DataError(
            f"{source}: column {data.columns[col]!r} has a missing or infinite value "
            f"({values[row, col]}) at row {data.index[row]!r}; impute or drop such rows first"
        )


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True
