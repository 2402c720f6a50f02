"""Built-in processing plugin ``steps``: transformations fitted on the training data.

Every step learns what it needs from the training frame (medians, scales, categories, which
columns are constant), is kept in the fitted :class:`~pynomaly.Model` and applied unchanged to
every batch scored later. Steps run in the order given, after ``pynomaly_preprocess`` and
before validation; they never modify the caller's DataFrame and pickle with the model. An
option left out or set to ``None`` takes its default; a wrong option is an
:class:`~pynomaly.errors.InputError` naming the step and the option. Column lists
(``columns``) are a list of names or one comma-separated string.

Warnings (all-missing columns, dropped constant columns, many categories) go to the
``pynomaly.processing`` logger.

The statistics and codes are scikit-learn's: each step fits a transformer (``SimpleImputer``,
``StandardScaler`` / ``RobustScaler`` / ``MinMaxScaler``, ``OneHotEncoder`` /
``OrdinalEncoder``, ``VarianceThreshold``) on the training frame and keeps it. Around them the
step keeps the frame: its index, the columns it does not treat (values and dtypes), the order
of the columns and their names. scikit-learn and pandas are imported when a step is fitted,
not with this module.

``impute`` — fill missing values (NaN, None, NA; not infinities)
    ``strategy``: ``median`` (default), ``mean``, ``most_frequent`` or ``constant``;
    ``fill_value``: the value of ``constant`` (default 0 in numeric columns, ``"missing"`` in
    others), and the value used for a column with no value at all in the training data (with
    a warning; default again 0 / ``"missing"``), so that impute never leaves a NaN behind;
    ``columns``: the columns to impute (default: every numeric column for ``mean`` and
    ``median``, every column for ``most_frequent``, every column but dates for
    ``constant``). Means, medians and most frequent values are ``SimpleImputer``'s, taken
    over the finite training values; ``most_frequent`` takes the smallest of tied values
    (values that do not compare, such as numbers and text in one column: by type name, then
    text). Numeric columns that get filled become float64; text, category and date columns
    keep their dtype (a category column gains the fill value as a category). ::

        pynomaly.detect(df, steps=[("impute", {"strategy": "median"})])       # --impute median

``scale`` — centre and scale numeric columns with training statistics
    ``method``: ``standard`` (default; ``StandardScaler``: mean and population standard
    deviation), ``robust`` (``RobustScaler``: median and interquartile range 25–75 %, numpy's
    linear percentiles) or ``minmax`` (``MinMaxScaler``: to [0, 1] over the training range);
    ``columns``: the columns to scale (default: every numeric, non-boolean column). The
    statistics are taken over the finite training values. A column with no spread in the
    training data (constant; for ``standard``, a variance within rounding error of zero,
    scikit-learn's test) gets scale 1 instead of a division by zero, so it becomes 0 with
    every method. NaN stays NaN and infinities stay infinite; a column with no finite
    training value is left as it is (as float64). ::

        pynomaly.detect(df, steps=[("scale", {"method": "robust"})])          # --scale robust

``encode`` — turn text and categorical columns into numbers
    ``method``: ``onehot`` (default) or ``ordinal``; ``columns``: the columns to encode
    (default: every object, string and category column, except text columns of ISO 8601
    dates, which are for the ``datetime`` step; booleans already count as 0/1). The
    categories are the sorted values seen in training, given to ``OneHotEncoder``
    (``handle_unknown="ignore"``) or ``OrdinalEncoder`` (``unknown_value=-1``); a missing
    value is not a category. ``onehot`` replaces column ``c`` by float columns
    ``c=value`` (1.0 / 0.0) in its place; ``ordinal`` replaces it by the category's position
    (0, 1, ...). A value not seen in training, or a missing value, becomes all zeros
    (``onehot``) or -1 (``ordinal``). A column mixing numbers and text in training is
    encoded by the text of its values (``1`` and ``"1"`` are one category), as the encoders
    need values of one type. ::

        pynomaly.detect(df, steps=[("encode", {"method": "onehot"})])         # --encode onehot

``drop`` — remove columns
    ``columns`` (required): the columns to remove; a column that is not in the training data
    is an error naming it. Batches scored later may lack the dropped columns. ::

        pynomaly.detect(df, steps=[("drop", {"columns": "id,comment"})])      # --drop id

``datetime`` — turn dates into numbers, or remove them
    ``mode``: ``expand`` (default) replaces a date column ``c`` by float columns
    ``c_year``, ``c_month``, ``c_day``, ``c_dayofweek`` (Monday = 0) and ``c_hour`` in its
    place, leaving out the parts that are constant over the training dates (the hour of
    date-only values, the year of one year's dates; missing dates aside); ``drop`` removes
    it. ``columns``: the columns to treat (default: every datetime64
    column, and every text column whose values are all ISO 8601 dates such as
    ``2024-05-01`` or ``2024-05-01T13:45:00+02:00`` — the way dates arrive from CSV files).
    Named text columns are parsed as dates whatever their format (a value that is not a date
    is an error naming its row); a missing date gives NaN features (follow with
    ``impute``). ::

        pynomaly.detect(df, steps=[("datetime", {"mode": "expand"})])         # --datetime expand
        pynomaly.detect(df, steps=[("datetime", {"columns": "day"})])  # "01/05/2024" text

``drop_constant`` — remove the columns that are constant in the training data
    No options. A column is constant when all its training values are equal, a missing
    value counting as a value of its own (1, 1, NaN is not constant): ``VarianceThreshold``
    over the values numbered by ``pandas.factorize``. The dropped columns are named in a
    warning; batches scored later lose the same columns. Training data in which every column
    is constant is an error: nothing would be left to detect anomalies on. ::

        pynomaly.detect(df, steps=["drop_constant"])                          # --drop-constant

Chained, in the user's order::

    model = pynomaly.fit(df, "pyod:ecod", steps=[
        ("impute", {"strategy": "median"}),
        ("encode", {"method": "onehot"}),
        ("scale", {"method": "robust"}),
    ])
    model.score(new_df)  # the same medians, categories and scales, learnt from df
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from pynomaly._log import get_logger
from pynomaly._version import __version__
from pynomaly.errors import DataError, InputError, PynomalyError
from pynomaly.markers import hookimpl
from pynomaly.types import ParamSpec, PluginMetadata, PluginType, StepInfo

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

log = get_logger("pynomaly.processing")

MANY_CATEGORIES = 100  # encode warns above this many categories in one column

# an ISO 8601 date, with an optional time and UTC offset: text the datetime step takes unasked
ISO_DATE = re.compile(
    r"\d{4}-\d{1,2}-\d{1,2}(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?(?:Z|[+-]\d{2}:?\d{2})?"
)

_COLUMNS_HELP = "column names: a list or one comma-separated string"


def _columns_spec(what: str) -> ParamSpec:
    return ParamSpec("categorical", None, description=f"{what} ({_COLUMNS_HELP})")


# ---------------------------------------------------------------------------------------------
# Option parsing
# ---------------------------------------------------------------------------------------------


def _choice(step: str, option: str, value: Any, choices: tuple[str, ...]) -> str:
    if isinstance(value, str):
        normalized = value.strip().lower().replace("-", "_")
        if normalized in choices:
            return normalized
    raise InputError(
        f"step {step}: option {option!r} must be one of {', '.join(choices)}; got {value!r}"
    )


def _column_list(step: str, option: str, value: Any) -> tuple[Any, ...]:
    if isinstance(value, str):
        names: list[Any] = [part.strip() for part in value.split(",")]
    elif isinstance(value, (list, tuple)):
        names = [v.strip() if isinstance(v, str) else v for v in value]
    else:
        raise InputError(
            f"step {step}: option {option!r} must be a list of column names or a "
            f"comma-separated string; got {value!r}"
        )
    if not names or any(n == "" or n is None for n in names):
        raise InputError(
            f"step {step}: option {option!r} must name columns, without empty names; got {value!r}"
        )
    return tuple(dict.fromkeys(names))


def _fill(step: str, option: str, value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(
            f"step {step}: option {option!r} must be a number or a text; got {value!r}"
        )
    if isinstance(value, float) and value != value:  # NaN
        raise InputError(f"step {step}: option {option!r} must not be NaN")
    return value


# ---------------------------------------------------------------------------------------------
# Column helpers
# ---------------------------------------------------------------------------------------------


def _kind(dtype: Any) -> str:
    """``"number"`` (numeric or boolean), ``"date"`` (datetime64, timedelta) or ``"other"``."""
    from pandas.api.types import (
        is_datetime64_any_dtype,
        is_numeric_dtype,
        is_timedelta64_dtype,
    )

    if is_datetime64_any_dtype(dtype) or is_timedelta64_dtype(dtype):
        return "date"
    if is_numeric_dtype(dtype):
        return "number"
    return "other"


def _is_bool(dtype: Any) -> bool:
    from pandas.api.types import is_bool_dtype

    return bool(is_bool_dtype(dtype))


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (``3``, not ``np.int64(3)``)."""
    import numpy as np

    return value.item() if isinstance(value, np.generic) else value


def iso_dates(column: pd.Series) -> bool:
    """Whether a text column holds ISO 8601 dates only (and at least one)."""
    import pandas as pd

    if _kind(column.dtype) != "other" or isinstance(column.dtype, pd.CategoricalDtype):
        return False
    values = column.dropna()
    head = values.iloc[:20].tolist()  # a cheap look first: most text columns stop here
    if not head or not all(isinstance(v, str) and ISO_DATE.fullmatch(v.strip()) for v in head):
        return False
    for utc in (False, True):
        try:
            parsed = pd.to_datetime(values, errors="coerce", format="ISO8601", utc=utc)
        except (TypeError, ValueError):  # mixed UTC offsets need utc=True
            continue
        return not parsed.isna().any()
    return False


def _shown(labels: Any, limit: int = 10) -> str:
    names = [str(c) for c in labels]
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")


def _find(step: str, data: pd.DataFrame, names: tuple[Any, ...]) -> list[Any]:
    """The frame's column labels for ``names`` (exact label, else the same text)."""
    by_text = {str(c): c for c in data.columns}
    found = []
    for name in names:
        if name in data.columns:
            found.append(name)
        elif str(name) in by_text:
            found.append(by_text[str(name)])
        else:
            raise InputError(
                f"step {step}: column {name!r} not found (columns: {_shown(data.columns)})"
            )
    return list(dict.fromkeys(found))


def _rebuild(data: pd.DataFrame, replaced: Mapping[Any, Mapping[Any, Any]]) -> pd.DataFrame:
    """A new frame with each column of ``replaced`` swapped, in its place, for its new
    columns (``{name: 1-D array}``; empty to remove it); the other columns are kept."""
    import pandas as pd

    columns: dict[Any, Any] = {}
    for label in data.columns:
        if label in replaced:
            columns.update(replaced[label])
        else:
            columns[label] = data[label].array
    if not columns:
        return pd.DataFrame(index=data.index)
    return pd.DataFrame(columns, index=data.index)


# ---------------------------------------------------------------------------------------------
# Steps
# ---------------------------------------------------------------------------------------------


class Step:
    """Base of the built-in steps: option checking, the fitted flag, a readable repr."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    OPTIONS: ClassVar[dict[str, ParamSpec]] = {}

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.OPTIONS), key=str)
        if unknown:
            known = ", ".join(self.OPTIONS) or "none"
            raise InputError(f"step {self.name}: unknown option {unknown[0]!r} (options: {known})")
        given = {k: v for k, v in options.items() if v is not None}
        self.options = self._parse(given)
        self.fitted = False

    def _parse(self, options: dict[str, Any]) -> dict[str, Any]:
        """Options checked against :attr:`OPTIONS`: a categorical option with choices must be
        one of them (its default applies when left out); ``columns`` is a list of names.
        Steps with other options extend this."""
        parsed: dict[str, Any] = {}
        for option, spec in self.OPTIONS.items():
            if option == "columns":
                if option in options:
                    parsed[option] = _column_list(self.name, option, options[option])
            elif spec.kind == "categorical" and spec.choices:
                value = options.get(option, spec.default)
                parsed[option] = _choice(self.name, option, value, tuple(spec.choices))
        return parsed

    def fit(self, data: pd.DataFrame) -> Step:
        self._check(data)
        self._learn(data)
        self.fitted = True
        return self

    def transform(self, data: pd.DataFrame) -> pd.DataFrame:
        if not self.fitted:
            raise PynomalyError(f"step {self.name}: transform called before fit")
        self._check(data)
        return self._apply(data)

    def _check(self, data: pd.DataFrame) -> None:
        if data.columns.has_duplicates:
            duplicated = data.columns[data.columns.duplicated()].unique()
            raise DataError(f"step {self.name}: duplicate column names {_shown(duplicated)}")

    def _learn(self, data: pd.DataFrame) -> None:
        raise NotImplementedError

    def _apply(self, data: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        state = "" if self.fitted else ", unfitted"
        return f"{type(self).__name__}({shown}{state})"


class Impute(Step):
    name = "impute"
    description = "fill missing values with training medians, means, modes or a constant"
    STRATEGIES = ("mean", "median", "most_frequent", "constant")
    OPTIONS: ClassVar[dict[str, ParamSpec]] = {
        "strategy": ParamSpec("categorical", "median", choices=STRATEGIES),
        "fill_value": ParamSpec(
            "float",
            None,
            description="the constant, and the fill of columns empty in training "
            "(default 0, or 'missing' in text columns)",
        ),
        "columns": _columns_spec("the columns to impute (default: every applicable one)"),
    }

    def _parse(self, options: dict[str, Any]) -> dict[str, Any]:
        parsed = super()._parse(options)
        if "fill_value" in options:
            parsed["fill_value"] = _fill(self.name, "fill_value", options["fill_value"])
        return parsed

    def _number_fill(self) -> float:
        import math

        value = self.options.get("fill_value", 0.0)
        try:
            number = float(value)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            raise InputError(
                f"step impute: option 'fill_value' must be a finite number to fill numeric "
                f"columns; got {value!r}"
            )
        return number

    def _learn(self, data: pd.DataFrame) -> None:
        strategy = self.options["strategy"]
        if "columns" in self.options:
            targets = _find(self.name, data, self.options["columns"])
        else:
            targets = [
                c
                for c in data.columns
                if (_kind(data[c].dtype) == "number")
                or (strategy == "most_frequent")
                or (strategy == "constant" and _kind(data[c].dtype) == "other")
            ]
        numbers, others, empty = [], [], []
        for label in targets:
            kind = _kind(data[label].dtype)
            if strategy != "constant" and not _observed(data[label]):
                empty.append(label)  # no (finite) value in training: fill_value, with a warning
            if kind == "number":
                numbers.append(label)
                if strategy == "constant" or label in empty:
                    self._number_fill()  # a wrong fill_value fails here, naming the option
            elif strategy in ("mean", "median"):
                raise InputError(
                    f"step impute: column {label!r} is not numeric (dtype {data[label].dtype}); "
                    f"strategy {strategy} needs numbers (use most_frequent or constant)"
                )
            elif strategy == "constant" and kind == "date":
                raise InputError(
                    f"step impute: strategy constant cannot fill the dates of column {label!r}"
                )
            else:
                others.append(label)
        self.columns_ = targets
        self.values_ = {
            **self._fit_numbers(data, numbers, empty),
            **self._fit_others(data, others, empty),
        }
        if empty:
            log.warning(
                "step impute: column%s %s %s no value in the training data; filled with %s",
                "s" if len(empty) > 1 else "",
                _shown(empty),
                "have" if len(empty) > 1 else "has",
                ", ".join(sorted({repr(self.values_[c]) for c in empty})),
            )

    def _fit_numbers(
        self, data: pd.DataFrame, numbers: list[Any], empty: list[Any]
    ) -> dict[Any, float]:
        """SimpleImputer over the finite values of the numeric columns; the columns without
        any get fill_value (SimpleImputer alone would drop them, or fill 0)."""
        import numpy as np
        from sklearn.compose import ColumnTransformer
        from sklearn.impute import SimpleImputer

        self.numbers_ = numbers
        self.imputer_: Any = None
        if not numbers:
            return {}
        strategy = self.options["strategy"]
        learnt = [i for i, c in enumerate(numbers) if c not in empty]
        unseen = [i for i, c in enumerate(numbers) if c in empty]
        fill = self._number_fill() if strategy == "constant" or unseen else 0.0
        groups = [
            ("learnt", SimpleImputer(strategy=strategy, fill_value=fill), learnt),
            ("empty", SimpleImputer(strategy="constant", fill_value=fill), unseen),
        ]
        self.imputer_ = ColumnTransformer(
            [
                (name, imputer.set_params(keep_empty_features=True), at)
                for name, imputer, at in groups
                if at
            ]
        ).set_output(transform="default")
        X = _finite(_matrix(self.name, data, numbers))
        if X.shape[0] == 0:  # no rows (validation rejects them after the steps): fill_value
            X = np.full((1, len(numbers)), np.nan)
        self.imputer_.fit(X)
        # the output holds the groups one after the other: order_ puts the columns back
        self.order_ = np.argsort(learnt + unseen)
        fills = [
            t.statistics_ for _, t, _ in self.imputer_.transformers_ if hasattr(t, "statistics_")
        ]
        return dict(zip(numbers, np.concatenate(fills)[self.order_].tolist(), strict=True))

    def _fit_others(
        self, data: pd.DataFrame, others: list[Any], empty: list[Any]
    ) -> dict[Any, Any]:
        """The most frequent value of text, category and date columns (SimpleImputer's), or
        the constant."""
        from sklearn.impute import SimpleImputer

        values = dict.fromkeys(others, self.options.get("fill_value", "missing"))
        if self.options["strategy"] == "most_frequent":
            modal = [c for c in others if c not in empty]
            try:
                imputer = SimpleImputer(strategy="most_frequent")
                modes = imputer.fit(_objects(data, modal)).statistics_ if modal else []
            except TypeError:  # scikit-learn < 1.8 on a tie of values that do not compare
                modes = [_mode(data[c]) for c in modal]
            values.update(zip(modal, map(_plain, modes), strict=True))
        return values

    def _apply(self, data: pd.DataFrame) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        todo = [c for c in self.columns_ if c in data.columns and data[c].hasnans]
        if not todo:
            return data.copy(deep=False)
        replaced: dict[Any, dict[Any, Any]] = {}
        numeric = {c for c in todo if c in self.numbers_ and _kind(data[c].dtype) == "number"}
        if numeric:  # absent, or not numeric in this batch: NaN for the imputer
            present = [c for c in self.numbers_ if c in data.columns and c in numeric]
            X = _matrix(self.name, data[present].reindex(columns=self.numbers_), self.numbers_)
            filled = self.imputer_.transform(_finite(X))[:, self.order_]
            filled = np.where(np.isnan(X), filled, X)  # infinities stay
            replaced = {c: {c: filled[:, i]} for i, c in enumerate(self.numbers_) if c in numeric}
        for label in todo:
            if label in replaced:
                continue
            # text, category and date columns keep their dtype: pandas fills them
            column, value = data[label], self.values_[label]
            if isinstance(column.dtype, pd.StringDtype):
                value = str(value)
            elif (
                isinstance(column.dtype, pd.CategoricalDtype) and value not in column.cat.categories
            ):
                column = column.cat.add_categories([value])
            replaced[label] = {label: column.fillna(value).array}
        return _rebuild(data, replaced)


def _mode(column: pd.Series) -> Any:
    """The most frequent value of ``column`` as scikit-learn >= 1.8 takes it: the smallest of
    ties, by type name and then text when they do not compare."""
    counts = column.value_counts()
    top = counts.index[counts == counts.max()].tolist()
    try:
        return min(top)
    except TypeError:
        return min(top, key=lambda v: (str(type(v)), str(v)))


class Scale(Step):
    name = "scale"
    description = "centre and scale numeric columns with training statistics"
    METHODS = ("standard", "robust", "minmax")
    OPTIONS: ClassVar[dict[str, ParamSpec]] = {
        "method": ParamSpec("categorical", "standard", choices=METHODS),
        "columns": _columns_spec("the columns to scale (default: every numeric column)"),
    }

    def _learn(self, data: pd.DataFrame) -> None:
        import numpy as np
        from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

        if "columns" in self.options:
            targets = _find(self.name, data, self.options["columns"])
            for label in targets:
                if _kind(data[label].dtype) != "number":
                    raise InputError(
                        f"step scale: column {label!r} is not numeric "
                        f"(dtype {data[label].dtype}); encode it first"
                    )
        else:
            targets = [
                c
                for c in data.columns
                if _kind(data[c].dtype) == "number" and not _is_bool(data[c].dtype)
            ]
        X = _finite(_matrix(self.name, data, targets))
        # the scaler learns from the columns with a finite value; the others stay as they are
        self.columns_ = targets
        self.fitted_ = np.flatnonzero(~np.isnan(X).all(axis=0))
        self.scaler_: Any = None
        if self.fitted_.size:
            scalers = {"standard": StandardScaler, "robust": RobustScaler, "minmax": MinMaxScaler}
            scaler = scalers[self.options["method"]]().set_output(transform="default")
            self.scaler_ = scaler.fit(X[:, self.fitted_])

    def _apply(self, data: pd.DataFrame) -> pd.DataFrame:
        import numpy as np
        import pandas as pd

        keep = [i for i, c in enumerate(self.columns_) if c in data.columns]
        labels = [self.columns_[i] for i in keep]
        if not labels:
            return data.copy(deep=False)
        # absent columns as NaN: the scaler takes the columns it was fitted on
        X = _matrix(self.name, data.reindex(columns=self.columns_), self.columns_)
        Z = X.copy()
        if self.scaler_ is not None:
            F = X[:, self.fitted_]
            scaled = self.scaler_.transform(_finite(F))
            infinite = np.isinf(F)
            scaled[infinite] = F[infinite]  # infinities stay
            Z[:, self.fitted_] = scaled
        if len(keep) < len(self.columns_):
            Z = Z[:, keep]
        if labels == list(data.columns):  # the common case: one float64 block, no copy later
            return pd.DataFrame(Z, index=data.index, columns=data.columns)
        return _rebuild(data, {c: {c: Z[:, i]} for i, c in enumerate(labels)})


def _matrix(step: str, data: pd.DataFrame, labels: list[Any]) -> Any:
    import numpy as np

    try:
        return data[labels].to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        for label in labels:
            try:
                data[label].to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                raise DataError(
                    f"step {step}: column {label!r} is not numeric (dtype {data[label].dtype})"
                ) from None
        raise


def _finite(X: Any) -> Any:
    """``X`` with infinities as NaN: scikit-learn's imputer and scalers skip NaN, and refuse
    infinities."""
    import numpy as np

    infinite = np.isinf(X)
    return np.where(infinite, np.nan, X) if infinite.any() else X


def _objects(data: pd.DataFrame, labels: list[Any]) -> Any:
    """The object matrix of ``labels``, every missing value (None, NA, NaT) as NaN: the one
    scikit-learn's imputer and encoders recognise in text."""
    import numpy as np
    import pandas as pd

    X = data[labels].to_numpy(dtype=object, copy=True)
    X[pd.isna(X)] = np.nan
    return X


def _observed(column: pd.Series) -> bool:
    """Whether ``column`` holds a value (a finite one, for numbers)."""
    import numpy as np

    if _kind(column.dtype) == "number":
        return bool(np.isfinite(column.to_numpy(dtype=np.float64, na_value=np.nan)).any())
    return bool(column.notna().any())


def _onehot_name(column: str, category: Any) -> str:
    """One-hot column names (OneHotEncoder's feature_name_combiner): ``color=red``."""
    return f"{column}={category}"


class Encode(Step):
    name = "encode"
    description = "one-hot or ordinal codes for text and categorical columns"
    METHODS = ("onehot", "ordinal")
    OPTIONS: ClassVar[dict[str, ParamSpec]] = {
        "method": ParamSpec("categorical", "onehot", choices=METHODS),
        "columns": _columns_spec("the columns to encode (default: every text/category column)"),
    }

    def _learn(self, data: pd.DataFrame) -> None:
        from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder

        if "columns" in self.options:
            targets = _find(self.name, data, self.options["columns"])
        else:
            targets = [
                c
                for c in data.columns
                if _kind(data[c].dtype) == "other" and not iso_dates(data[c])
            ]
        categories: dict[Any, list[Any]] = {}
        self.as_text_: set[Any] = set()
        for label in targets:
            values = data[label].dropna().unique().tolist()
            try:
                values = sorted(values)
            except TypeError:  # numbers and text mixed: the encoders need one type, so text
                values = sorted({str(v) for v in values})
                self.as_text_.add(label)
            categories[label] = values
            if len(values) > MANY_CATEGORIES and self.options["method"] == "onehot":
                log.warning(
                    "step encode: column %r has %d categories, one-hot makes a column of each; "
                    "consider dropping it or the ordinal method",
                    label,
                    len(values),
                )
        self.categories_ = categories
        # a column without any value in training has no category: the encoders need one
        self.encoded_ = [c for c in targets if categories[c]]
        self.encoder_: Any = None
        if not self.encoded_:
            return
        known = [categories[c] for c in self.encoded_]
        if self.options["method"] == "onehot":
            encoder: Any = OneHotEncoder(
                categories=known,
                handle_unknown="ignore",
                sparse_output=False,
                dtype=float,
                feature_name_combiner=_onehot_name,
            )
        else:
            encoder = OrdinalEncoder(
                categories=known,
                handle_unknown="use_encoded_value",
                unknown_value=-1,  # a missing value is no category: unknown too
                dtype=float,
            )
        self.encoder_ = encoder.set_output(transform="default").fit(self._keys(data))
        if self.options["method"] == "onehot":
            names = self.encoder_.get_feature_names_out([str(c) for c in self.encoded_])
            existing = {str(c) for c in data.columns if c not in categories}
            for name in names:
                if name in existing:
                    raise DataError(
                        f"step encode: one-hot column name {name!r} is already taken; "
                        "rename a column first"
                    )
                existing.add(name)
            self.names_ = names.tolist()

    def _keys(self, data: pd.DataFrame) -> Any:
        """The encoded columns as the encoder takes them (text for mixed columns)."""
        import pandas as pd

        X = _objects(data, self.encoded_)
        for i, label in enumerate(self.encoded_):
            if label in self.as_text_:
                present = ~pd.isna(X[:, i])
                X[present, i] = [str(v) for v in X[present, i]]
        return X

    def _apply(self, data: pd.DataFrame) -> pd.DataFrame:
        import numpy as np

        for label in self.categories_:
            if label not in data.columns:
                raise DataError(f"step encode: column {label!r} (encoded in training) is missing")
        if not self.categories_:
            return data.copy(deep=False)
        Z: Any = None if self.encoder_ is None else self.encoder_.transform(self._keys(data))
        onehot = self.options["method"] == "onehot"
        replaced: dict[Any, dict[Any, Any]] = {}
        at = 0  # the encoder's first output column for the next column
        for label, values in self.categories_.items():
            if not values:  # no value in training: no one-hot column, ordinal code -1
                replaced[label] = {} if onehot else {label: np.full(len(data), -1.0)}
                continue
            width = len(values) if onehot else 1
            names = self.names_[at : at + width] if onehot else [label]
            replaced[label] = dict(zip(names, Z[:, at : at + width].T, strict=True))
            at += width
        return _rebuild(data, replaced)


class Drop(Step):
    name = "drop"
    description = "remove the named columns"
    OPTIONS: ClassVar[dict[str, ParamSpec]] = {
        "columns": _columns_spec("the columns to remove (required)"),
    }

    def _parse(self, options: dict[str, Any]) -> dict[str, Any]:
        if "columns" not in options:
            raise InputError("step drop: option 'columns' is required (the columns to remove)")
        return super()._parse(options)

    def _learn(self, data: pd.DataFrame) -> None:
        labels = _find(self.name, data, self.options["columns"])
        if len(labels) == data.shape[1]:
            raise InputError(
                f"step drop: dropping every column ({_shown(labels)}) leaves nothing to detect on"
            )
        self.columns_ = labels

    def _apply(self, data: pd.DataFrame) -> pd.DataFrame:
        return data.drop(columns=[c for c in self.columns_ if c in data.columns])


class DateTime(Step):
    name = "datetime"
    description = "expand dates into year, month, day, dayofweek, hour, or drop them"
    MODES = ("expand", "drop")
    # column suffix -> attribute of the ``.dt`` accessor
    PARTS: ClassVar[dict[str, str]] = {
        "year": "year",
        "month": "month",
        "day": "day",
        "dayofweek": "day_of_week",
        "hour": "hour",
    }
    OPTIONS: ClassVar[dict[str, ParamSpec]] = {
        "mode": ParamSpec("categorical", "expand", choices=MODES),
        "columns": _columns_spec(
            "the columns to treat, text ones parsed as dates (default: every datetime column)"
        ),
    }

    def _learn(self, data: pd.DataFrame) -> None:
        from pandas.api.types import is_datetime64_any_dtype

        if "columns" in self.options:
            targets = _find(self.name, data, self.options["columns"])
            for label in targets:
                dtype = data[label].dtype
                if not is_datetime64_any_dtype(dtype) and _kind(dtype) != "other":
                    raise InputError(
                        f"step datetime: column {label!r} holds {dtype} values, not dates or "
                        "text to parse as dates"
                    )
        else:
            targets = [
                c
                for c in data.columns
                if is_datetime64_any_dtype(data[c].dtype) or iso_dates(data[c])
            ]
        self.parts_: dict[Any, list[str]] = {}
        if self.options["mode"] == "expand":
            for label in targets:  # text that is not a date fails at fit already
                self.parts_[label] = self._varying(_dates(data[label], label), label)
            existing = {str(c) for c in data.columns if c not in targets}
            for label in targets:
                for part in self.parts_[label]:
                    name = f"{label}_{part}"
                    if name in existing:
                        raise DataError(
                            f"step datetime: column name {name!r} is already taken; "
                            "rename a column first"
                        )
                    existing.add(name)
        self.columns_ = targets

    def _varying(self, dates: pd.Series, label: Any) -> list[str]:
        """The parts that are not constant in the training ``dates``: an all-zero hour of
        date-only values (or the year of one year's dates) would only add a constant
        feature, which some detectors cannot take. One row proves nothing: every part."""
        if len(dates) < 2:
            return list(self.PARTS)
        kept = [
            part
            for part, attr in self.PARTS.items()
            if getattr(dates.dt, attr).nunique() > 1  # missing dates aside: impute fills them
        ]
        left = ", ".join(f"{label}_{p}" for p in self.PARTS if p not in kept)
        if not kept:
            log.warning(
                "step datetime: column %r has no two different dates in the training data; "
                "no feature is made of it",
                label,
            )
        elif left:
            log.info("step datetime: leaving out %s, constant in the training data", left)
        return kept

    def _apply(self, data: pd.DataFrame) -> pd.DataFrame:
        import numpy as np

        missing = [c for c in self.columns_ if c not in data.columns]
        if missing and self.options["mode"] == "expand":
            raise DataError(f"step datetime: column {missing[0]!r} (dates in training) is missing")
        if self.options["mode"] == "drop":
            return data.drop(columns=[c for c in self.columns_ if c in data.columns])
        replaced: dict[Any, dict[Any, Any]] = {}
        # a step fitted before constant parts were left out has no parts_: every part
        parts = getattr(self, "parts_", {})
        for label in self.columns_:
            dates = _dates(data[label], label).dt
            replaced[label] = {
                f"{label}_{part}": getattr(dates, self.PARTS[part]).to_numpy(
                    dtype=np.float64, na_value=np.nan
                )
                for part in parts.get(label, self.PARTS)
            }
        return _rebuild(data, replaced) if replaced else data.copy(deep=False)


def _dates(column: pd.Series, label: Any) -> pd.Series:
    """``column`` as datetime64 values; text is parsed, and a value that is no date fails."""
    import warnings

    import pandas as pd
    from pandas.api.types import is_datetime64_any_dtype

    if is_datetime64_any_dtype(column.dtype):
        return column
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "could not infer format" and the like
        try:
            parsed = pd.to_datetime(column, errors="coerce")
            if (parsed.isna() & column.notna()).any():  # several formats: element by element
                parsed = pd.to_datetime(column, errors="coerce", format="mixed")
        except (TypeError, ValueError):  # e.g. mixed time zones
            parsed = pd.to_datetime(column, errors="coerce", format="mixed", utc=True)
    bad = (parsed.isna() & column.notna()).to_numpy()
    if bad.any():
        at = int(bad.argmax())
        raise DataError(
            f"step datetime: column {label!r} row {_plain(column.index[at])!r} holds "
            f"{_plain(column.iloc[at])!r}, which is not a date"
        )
    return parsed


class DropConstant(Step):
    name = "drop_constant"
    description = "remove the columns that are constant in the training data"
    OPTIONS: ClassVar[dict[str, ParamSpec]] = {}

    def _learn(self, data: pd.DataFrame) -> None:
        import numpy as np
        import pandas as pd
        from sklearn.feature_selection import VarianceThreshold

        constant: list[Any] = []
        if data.shape[0] >= 2:  # one row proves nothing (and the core rejects it anyway)
            # every column's values numbered (a missing value is a value of its own), so that
            # VarianceThreshold judges text, dates, NaN and infinities alike, exactly
            judged, codes = [], []
            for label in data.columns:
                try:
                    codes.append(pd.factorize(data[label])[0])
                except TypeError:  # unhashable values: not judged
                    continue
                judged.append(label)
            if judged:
                try:
                    varies = VarianceThreshold(0.0).fit(np.column_stack(codes)).get_support()
                except ValueError:  # scikit-learn's "no feature meets the variance threshold"
                    varies = np.zeros(len(judged), dtype=bool)
                constant = [c for c, v in zip(judged, varies, strict=True) if not v]
        if constant and len(constant) == data.shape[1]:
            raise DataError(
                f"step drop_constant: every column is constant in the training data "
                f"({_shown(constant)}); nothing would be left to detect anomalies on"
            )
        if constant:
            log.warning(
                "step drop_constant: dropping %d constant column%s: %s",
                len(constant),
                "s" if len(constant) > 1 else "",
                _shown(constant, limit=50),
            )
        self.columns_ = constant

    def _apply(self, data: pd.DataFrame) -> pd.DataFrame:
        return data.drop(columns=[c for c in self.columns_ if c in data.columns])


STEPS: dict[str, type[Step]] = {
    cls.name: cls for cls in (Impute, Scale, Encode, Drop, DateTime, DropConstant)
}


# ---------------------------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------------------------


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="steps",
        version=__version__,
        plugin_types=[PluginType.PROCESSING],
        author="pynomaly",
        description="processing steps: " + ", ".join(STEPS),
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_processing_steps() -> list[StepInfo]:
    return [StepInfo(cls.name, cls.description, dict(cls.OPTIONS)) for cls in STEPS.values()]


@hookimpl
def pynomaly_create_step(name: str, options: Mapping[str, Any]) -> Step | None:
    cls = STEPS.get(name.replace("-", "_")) if isinstance(name, str) else None
    return None if cls is None else cls(options)
