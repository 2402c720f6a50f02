"""Built-in processing plugin ``validation``: the data must be a non-empty numeric table.

It runs on every batch after preprocessing and the processing steps, so it sees what the
detector would get. A rejection is a :class:`~pynomaly.errors.DataError` that starts with the
source, names the column and, for a bad value, the first row holding one, and suggests the
processing step that fixes it:

* no columns, or no rows; duplicate column names (these stop at once, on one line);
* a column that is not numeric (booleans count as 0/1): text or categories (``--encode
  onehot`` or ``--drop COL``), dates (``--datetime expand``);
* a missing value (``--impute median``) or an infinite one.

One bad column gives one line. Several are reported together, one line each under a first
line that also suggests ``--prepare auto`` (``prepare="auto"``), which fixes them all: a
messy file is not fixed one error per run.

Constant columns are allowed, even when every column is constant: a batch scored later may
well be a single row, and this hook cannot tell a training batch from a scored one. Training
data without any spread is for the fit itself to reject.

The common case stays cheap: one sum over the float64 matrix finds that every value is finite;
only when it is not (a NaN or an infinity, or an overflow of finite values) are the cells
searched for the offending one.
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
    names = data.columns.tolist()  # Arrow-backed names convert in one go, not one by one
    duplicated = [] if _distinct(names) else (
        data.columns[data.columns.duplicated()].unique().tolist()
    )
    if duplicated:
        raise DataError(f"{source}: duplicate column names {duplicated}; rename them")
    # every column's problem, in column order, so that one run lists every fix
    problems: dict[int, str] = {}
    numeric: list[int] = []
    for position, (name, dtype) in enumerate(zip(names, data.dtypes.tolist(), strict=True)):
        # numpy's numbers and booleans by kind (pandas' checks cost more per column)
        if (isinstance(dtype, np.dtype) and dtype.kind in "biufc") or (
            is_numeric_dtype(dtype) or is_bool_dtype(dtype)
        ):
            numeric.append(position)
        else:
            problems[position] = _not_numeric(data[name], name)
    if len(numeric) == data.shape[1]:
        values = data.to_numpy(dtype=np.float64, copy=False)
    else:
        values = data.iloc[:, numeric].to_numpy(dtype=np.float64)
    # one pass summing is far cheaper than a boolean mask of every cell; any NaN or inf makes
    # the sum non-finite, and only then (or on overflow) is the mask computed to locate it.
    # einsum's plain running sum reads the matrix about twice as fast as sum()'s pairwise one
    # (whose extra precision a finiteness test does not need)
    with np.errstate(over="ignore", invalid="ignore"):  # overflow, inf - inf: no warnings
        total = np.einsum("ij->", values)
    if not np.isfinite(total):
        finite = np.isfinite(values)
        for col in np.flatnonzero(~finite.all(axis=0)):
            at = numeric[col]
            problems[at] = _not_finite(values[:, col], finite[:, col], data.columns[at], data)
    if len(problems) == 1:
        raise DataError(f"{source}: {next(iter(problems.values()))}")
    if problems:
        listed = "\n".join(f"  - {problems[at]}" for at in sorted(problems))
        raise DataError(
            f"{source}: {len(problems)} columns cannot be used as they are; fix each as "
            f"suggested, or let pynomaly prepare the data (--prepare auto, prepare='auto'):"
            f"\n{listed}"
        )


def _distinct(names: list[Any]) -> bool:
    """True when no two column names can be the same for pandas: all differ by Python's
    equality and none is NaN-like. ``False`` leaves it to pandas' ``duplicated`` (which a
    fresh index computes with a hash table: a tenth of a millisecond)."""
    try:
        if len(set(names)) == len(names) and all(name == name for name in names):
            return True
    except TypeError:  # an unhashable name, or pd.NA compared
        pass
    return False


def _not_finite(values: Any, finite: Any, name: Any, data: Any) -> str:
    """The message for a numeric column with a missing or infinite value."""
    import numpy as np

    row = int(np.argmin(finite))  # the first non-finite value
    value = values[row]
    count = int(np.count_nonzero(~finite))
    if count == len(values) and np.isnan(values).all():
        return f"column {_plain(name)!r} has no value at all; drop it (--drop {_plain(name)})"
    how_many = f"; {count} such values in this column" if count > 1 else ""
    if np.isnan(value):
        what, fix = "NaN", "impute missing values (--impute median) or drop such rows"
    else:
        what, fix = str(value), "replace infinite values or drop such rows"
    return (
        f"column {_plain(name)!r} has a missing or infinite value at row "
        f"{_plain(data.index[row])!r} ({what}{how_many}); {fix}"
    )


def _not_numeric(column: Any, name: Any) -> str:
    """The message for a column the detectors cannot take, with the step that fixes it."""
    from pandas.api.types import is_datetime64_any_dtype, is_timedelta64_dtype

    dtype = column.dtype
    if is_datetime64_any_dtype(dtype) or is_timedelta64_dtype(dtype):
        return (
            f"column {name!r} holds dates (dtype {dtype}); turn them into numbers "
            f"(--datetime expand) or drop it (--drop {name})"
        )
    values = column.dropna()
    bad = values[~values.map(_is_number).astype(bool)] if len(values) else values
    if not len(bad):
        return (
            f"column {name!r} is not numeric (dtype {dtype}) although its values are "
            f"numbers; convert it (pandas.to_numeric) or drop it (--drop {name})"
        )
    row, value = _plain(bad.index[0]), _plain(bad.iloc[0])
    hint = f"encode it (--encode onehot) or drop it (--drop {name})"
    if isinstance(value, str) and _is_date(value):
        from pynomaly.builtin.steps import iso_dates

        # the datetime step takes columns of ISO dates unasked; others must be named to it
        how = "--datetime expand" if iso_dates(column) else f"--step datetime:columns={name}"
        hint = f"it looks like a date: expand it ({how}) or drop it (--drop {name})"
    return (
        f"column {name!r} is not numeric (dtype {dtype}); "
        f"row {row!r} holds {value!r}; {hint}"
    )


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds, so that messages show ``3``, not
    ``np.int64(3)``."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def _is_number(value: object) -> bool:
    try:
        float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return True


def _is_date(text: str) -> bool:
    """Whether ``text`` reads as a date (has digits and a date or time separator)."""
    import warnings

    import pandas as pd

    if not any(ch.isdigit() for ch in text) or not any(ch in text for ch in "-/:."):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            pd.Timestamp(text)
        except (TypeError, ValueError):
            return False
    return True
