"""Automatic data preparation: ``prepare="auto"`` (``--prepare auto``).

The training frame's columns are sorted into kinds, and the processing steps the kinds need
are planned in this order, each an ordinary step created through
:func:`pynomaly.services.processing.create_step`, fitted on the training data and kept in the
model, so rows scored later get exactly the same preparation:

1. ``drop`` the columns that cannot help: empty (no value), constant (one value, missing
   values aside) and id-like ones (every value distinct: text such as order numbers, or
   integers that are consecutive or named like an id);
2. ``datetime`` expand dates (datetime columns, and text whose values all read as dates)
   into year, month, day, day of week and hour, constant parts left out;
3. ``impute`` the median into missing numbers (and missing dates' parts) — only when the
   training data has missing values;
4. ``scale`` numeric columns robustly (median and interquartile range: anomalies do not
   distort it), unless explicit steps already scale;
5. ``encode`` text and categories: one-hot up to :data:`ONEHOT_LIMIT` categories, ordinal
   codes above (one-hot would make a column of each).

Explicit steps run first; the plan is made on what they leave. What was found and done is a
:class:`Preparation` (``result.preparation``, ``model.preparation``), shown by the CLI, its
``--json`` and the HTML report. Infinite values and text holding numbers are not guessed at:
validation still names them with their fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from pynomaly._log import get_logger

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from pynomaly.types import ProcessingStep

log = get_logger("pynomaly.data")

PREPARE_MODES = ("auto",)
ONEHOT_LIMIT = 30  # more categories than this are encoded as ordinal codes
MIN_ROWS_FOR_IDS = 10  # with fewer rows, distinct values say nothing
LABEL_NAMES = frozenset(
    {
        "target", "label", "labels", "class", "y", "is_anomaly", "anomaly", "is_outlier",
        "outlier", "is_fraud", "fraud", "ground_truth", "truth", "gt", "outcome",
    }
)  # fmt: skip
MAX_LABEL_VALUES = 10
_ID_NAME = re.compile(r"(?:^|[_\s.-])(?:id|uuid|guid|key|idx|index)$|^(?:row|rowid|row_?num)$")
_CAMEL_ID = re.compile(r"[a-z0-9](?:Id|ID)$")


@attrs.frozen
class Action:
    """One processing step that automatic preparation added to the model.

    ``columns`` maps each input column the step treats to what about it made the step needed
    (``"every value distinct"``, ``"12 missing"``, ``"3 categories"``).
    """

    step: str
    options: Mapping[str, Any]
    reason: str
    columns: Mapping[str, str] = attrs.field(factory=dict)

    def describe(self, limit: int = 12) -> str:
        """One line: the step, its options, and each column with its note."""
        head = " ".join([self.step, *(str(v) for k, v in self.options.items() if k != "columns")])
        shown = [f"{c} ({note})" if note else c for c, note in list(self.columns.items())[:limit]]
        more = len(self.columns) - limit
        listed = ", ".join(shown) + (f", … ({len(self.columns)} columns)" if more > 0 else "")
        return f"{head}: {listed} — {self.reason}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "options": {k: v for k, v in self.options.items() if k != "columns"},
            "columns": dict(self.columns),
            "reason": self.reason,
        }


@attrs.frozen
class Preparation:
    """What ``prepare="auto"`` found in the training data and did about it.

    ``kinds`` gives each input column's kind (``number``, ``boolean``, ``date``,
    ``category``, ``id``, ``constant``, ``empty``); ``actions`` the steps added, in the order
    they run; ``features`` the columns the detector was fitted on.
    """

    kinds: Mapping[str, str]
    actions: tuple[Action, ...]
    features: tuple[str, ...] = ()

    def lines(self) -> list[str]:
        """A readable account, one line per step."""
        head = "Prepared the data automatically (--prepare auto):"
        if not self.actions:
            return [f"{head} nothing to do"]
        body = [f"  {action.describe()}" for action in self.actions]
        tail = f"  → {len(self.features)} features from {len(self.kinds)} columns"
        return [head, *body, tail]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"mode", "columns" (kinds), "actions", "features"}``."""
        return {
            "mode": "auto",
            "columns": dict(self.kinds),
            "actions": [action.to_dict() for action in self.actions],
            "features": list(self.features),
        }

    def __str__(self) -> str:
        return "\n".join(self.lines())


def check_mode(prepare: Any) -> bool:
    """Whether ``prepare`` asks for automatic preparation; an :class:`InputError` when it is
    neither ``None`` nor one of :data:`PREPARE_MODES`."""
    from pynomaly.errors import InvalidParameterError

    if prepare is None or prepare == "none":
        return False
    if isinstance(prepare, str) and prepare.strip().lower() in PREPARE_MODES:
        return True
    raise InvalidParameterError(
        "prepare", "prepare", f"must be 'auto' or None, got {prepare!r}"
    )


# ---------------------------------------------------------------------------------------------
# Kinds
# ---------------------------------------------------------------------------------------------


def _show(value: Any) -> str:
    text = repr(value.item() if hasattr(value, "item") else value)
    return text if len(text) <= 30 else text[:27] + "..."


def _integers(values: pd.Series) -> bool:
    import numpy as np

    array = values.to_numpy(dtype=np.float64, na_value=np.nan)
    return bool(np.isfinite(array).all() and (array == np.round(array)).all())


def _id_name(name: str) -> bool:
    return bool(_ID_NAME.search(name.strip().lower()) or _CAMEL_ID.search(name.strip()))


def _text_dates(column: pd.Series) -> bool:
    """Text whose values all read as dates (ISO 8601, or any format pandas parses)."""
    import warnings

    import pandas as pd

    from pynomaly.builtin.steps import iso_dates

    if iso_dates(column):
        return True
    values = column.dropna()
    head = values.iloc[:20].tolist()
    looks = [
        isinstance(v, str) and any(ch.isdigit() for ch in v) and any(ch in v for ch in "-/:")
        for v in head
    ]
    if not head or not all(looks):
        return False

    def parses(texts: Any) -> bool:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                parsed = pd.to_datetime(texts, errors="coerce", format="mixed")
            except (TypeError, ValueError):  # mixed time zones
                parsed = pd.to_datetime(texts, errors="coerce", format="mixed", utc=True)
        return not pd.isna(parsed).any()

    # the head first: "mixed" parses value by value, slow on a long column of codes
    return parses(head) and parses(values)


def column_kind(column: pd.Series) -> tuple[str, str]:
    """The kind of one training column and a note on why: ``("id", "every value
    distinct")``, ``("constant", "always 'NZ'")``, ``("number", "")`` ..."""
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

    dtype = column.dtype
    values = column.dropna()
    missing = len(column) - len(values)
    distinct = values.nunique()
    if distinct == 0:
        return "empty", "no value"
    if distinct == 1:
        gaps = f"; {missing} missing" if missing else ""
        return "constant", f"always {_show(values.iloc[0])}{gaps}"
    if is_datetime64_any_dtype(dtype):
        return "date", "dates"
    name = str(column.name)
    if is_bool_dtype(dtype):
        return "boolean", ""
    every = distinct == len(values) and len(values) >= MIN_ROWS_FOR_IDS
    if is_numeric_dtype(dtype):
        if every and _integers(values):
            if _id_name(name):
                return "id", "every value distinct, named like an id"
            if values.max() - values.min() == len(values) - 1:
                return "id", "consecutive integers"
        return "number", ""
    if _text_dates(column):
        return "date", "dates as text"
    if every:
        return "id", "every value distinct"
    return "category", f"{distinct} categories"


def label_like(frame: pd.DataFrame) -> list[tuple[str, list[Any]]]:
    """The columns that look like ground truth used as a feature: named like a label
    (:data:`LABEL_NAMES`) and holding a few integer values (0/1, classes)."""
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    found = []
    for name in frame.columns.tolist():  # tolist: Arrow-backed names convert in one go
        if str(name).strip().lower() not in LABEL_NAMES:
            continue
        column = frame[name]
        if not (is_numeric_dtype(column.dtype) or is_bool_dtype(column.dtype)):
            continue
        values = column.dropna()
        if values.empty or values.nunique() > MAX_LABEL_VALUES:
            continue
        if not is_bool_dtype(column.dtype) and not _integers(values):
            continue
        found.append((str(name), sorted(values.unique().tolist())))
    return found


def warn_label_like(frame: pd.DataFrame, where: str) -> None:
    """Warn, on the ``pynomaly.data`` logger, about each label-like column among the
    features, saying how to use it as ground truth instead."""
    for name, values in label_like(frame):
        shown = ", ".join(map(str, values[:MAX_LABEL_VALUES]))
        log.warning(
            "%s: column %r looks like ground truth (values %s) but is used as a feature; to "
            "evaluate against it instead, pass --label-column %s (label_column=%r)",
            where,
            name,
            shown,
            name,
            name,
        )


# ---------------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------------


def plan(
    frame: pd.DataFrame, explicit: Sequence[ProcessingStep] = ()
) -> tuple[dict[str, str], list[Action]]:
    """Each column's kind, and the steps ``frame`` (training data, after the ``explicit``
    steps) needs, in the order they run."""
    kinds = {str(name): column_kind(frame[name]) for name in frame.columns}
    gaps = dict(zip(kinds, frame.isna().sum().tolist(), strict=True))
    drop = {c: f"{kind}: {note}" for c, (kind, note) in kinds.items()
            if kind in ("empty", "constant", "id")}  # fmt: skip
    if drop and len(drop) == len(kinds):
        from pynomaly.errors import DataError

        raise DataError(
            "prepare auto: no column is usable ("
            + ", ".join(f"{c}: {note}" for c, note in list(drop.items())[:10])
            + "); nothing to detect anomalies on"
        )
    dates = [c for c, (kind, _) in kinds.items() if kind == "date"]
    numbers = [c for c, (kind, _) in kinds.items() if kind == "number"]
    categories = {c: note for c, (kind, note) in kinds.items() if kind == "category"}
    missing = {
        c: f"{n} missing"
        for c, (kind, _) in kinds.items()
        if kind in ("number", "boolean", "date") and (n := int(gaps[c]))
    }
    actions = []
    if drop:
        actions.append(
            Action("drop", {"columns": list(drop)}, "no signal for a detector", drop)
        )
    if dates:
        actions.append(
            Action(
                "datetime",
                {"mode": "expand", "columns": dates},
                "dates turned into numbers, parts constant in the training data left out",
                {c: kinds[c][1] for c in dates},
            )
        )
    if missing:
        actions.append(
            Action(
                "impute",
                {"strategy": "median"},
                "missing numbers filled with the training median (later rows too)",
                missing,
            )
        )
    scaled = any(getattr(step, "name", None) == "scale" for step in explicit)
    if (numbers or dates) and not scaled:
        actions.append(
            Action(
                "scale",
                {"method": "robust"},
                "centred on the median, scaled by the interquartile range",
                {**dict.fromkeys(numbers, ""), **{c: "its date parts" for c in dates}},
            )
        )
    for method, chosen in (
        ("onehot", {c: n for c, n in categories.items() if _count(n) <= ONEHOT_LIMIT}),
        ("ordinal", {c: n for c, n in categories.items() if _count(n) > ONEHOT_LIMIT}),
    ):
        if chosen:
            why = (
                "a 0/1 column per category"
                if method == "onehot"
                else f"more than {ONEHOT_LIMIT} categories: one code per category"
            )
            actions.append(
                Action("encode", {"method": method, "columns": list(chosen)}, why, chosen)
            )
    return {c: kind for c, (kind, _) in kinds.items()}, actions


def _count(note: str) -> int:
    return int(note.split()[0])


def finish(
    actions: Sequence[Action],
    steps: Sequence[ProcessingStep],
    kinds: Mapping[str, str],
    features: Sequence[str],
) -> Preparation:
    """The record of a fitted plan: date columns name the parts their fitted step made."""
    done = []
    for action, step in zip(actions, steps, strict=True):
        parts = getattr(step, "parts_", None)
        if action.step == "datetime" and isinstance(parts, Mapping):
            columns = {
                c: ", ".join(f"{c}_{p}" for p in parts.get(c, ())) or "no part varies"
                for c in action.columns
            }
            action = attrs.evolve(action, columns=columns)
        done.append(action)
    return Preparation(dict(kinds), tuple(done), tuple(features))
