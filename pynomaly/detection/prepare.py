"""From the caller's input to the float64 matrix detectors see, and scores checked on return.

Input (DataFrame, Series, 2-D array or a path/URI read through its data-source plugin) →
``pynomaly_preprocess`` → label column set aside → processing steps (fitted on training data,
or the model's fitted ones) → ``pynomaly_validate`` → columns aligned with the model's →
float64 matrix.
"""

from __future__ import annotations

import functools
import os
import threading
import warnings
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from pynomaly.errors import DataError, PluginError
from pynomaly.redact import mask_uri
from pynomaly.services import data as data_service
from pynomaly.services import detectors as detector_service
from pynomaly.services import processing

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.detection.autoprep import Preparation
    from pynomaly.detection.results import Model
    from pynomaly.plugin.manager import PluginManager
    from pynomaly.progress import Tracker
    from pynomaly.types import DetectorInfo, ProcessingStep

_default: PluginManager | None = None
_default_lock = threading.Lock()


def default_manager() -> PluginManager:
    """The process-wide plugin manager used when no ``manager=`` is given (created lazily)."""
    global _default
    with _default_lock:
        if _default is None:
            from pynomaly.plugin.manager import PluginManager

            _default = PluginManager()
        return _default


def set_default_manager(manager: PluginManager | None) -> None:
    """Replace (or with ``None`` reset) the process-wide manager."""
    global _default
    with _default_lock:
        _default = manager


@attrs.frozen
class Prepared:
    """Input after reading, preprocessing, steps and validation."""

    X: np.ndarray
    frame: pd.DataFrame  # features before the processing steps (for display)
    source: str
    y_true: pd.Series | None
    feature_names: tuple[str, ...]  # the columns of X
    steps: tuple[ProcessingStep, ...] = ()  # fitted here: the explicit ones, then the auto ones
    preparation: Preparation | None = None  # what prepare="auto" did


def read(
    pm: PluginManager, data: Any, source_options: Mapping[str, Any] | None
) -> tuple[pd.DataFrame, str]:
    """The input as a DataFrame and a name for it in messages."""
    if isinstance(data, pd.DataFrame):
        return data, "<DataFrame>"
    if isinstance(data, (str, Path, os.PathLike)):
        source = os.fspath(data)
        conn = data_service.connect(pm, source, source_options)
        return data_service.read_data(pm, conn), conn.uri  # password masked
    if isinstance(data, pd.Series):
        return data.to_frame(), "<Series>"
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise DataError(f"<array>: expected a 2-D array (rows × features), got {arr.ndim}-D")
    # a shallow copy: the values are shared, but an Index's name can be set in place
    columns = _array_columns(arr.shape[1]).copy()
    return pd.DataFrame(arr, columns=columns, copy=False), "<array>"


@functools.lru_cache(maxsize=16)
def _array_columns(width: int) -> pd.Index:
    """``x0, x1 ...``: the column names of an array's frame, built once per width. Plain Python
    strings (object dtype): pandas' Arrow-backed ones are converted back to Python on every
    ``columns.tolist()`` and ``dtypes`` of every call, 0.1-0.2 ms of scoring 1,000 rows."""
    return pd.Index([f"x{i}" for i in range(width)], dtype=object)


def prepare(
    pm: PluginManager,
    data: Any,
    model: Model | None,
    unfitted: list[ProcessingStep] | None,
    *,
    label_column: str | None = None,
    source_options: Mapping[str, Any] | None = None,
    source: str | None = None,
    preprocessed: bool = False,
    tracker: Tracker | None = None,
    auto: bool = False,
) -> Prepared:
    """Read, preprocess, set the label aside, run the steps (fitting ``unfitted`` ones, else
    the model's), validate, align the columns with the model's and convert to float64.

    With a ``tracker``, reading and the rest are reported as the ``read`` and ``prepare``
    phases. When fitting (``unfitted`` given), label-like feature columns are warned about,
    and ``auto`` plans, creates and fits the steps the data still needs after ``unfitted``
    (:mod:`pynomaly.detection.autoprep`).
    """
    shown = source or (_shown(os.fspath(data)) if isinstance(data, (str, os.PathLike)) else "")
    with _phase(tracker, "read", detail=shown) as reading:
        frame, where = read(pm, data, source_options)
        if reading is not None:
            reading.rows = len(frame)
    where = source or where
    with _phase(tracker, "prepare", rows=len(frame), detail=where):
        return _prepared(pm, frame, where, model, unfitted, label_column, preprocessed, auto)


def _shown(source: str) -> str:
    return "<stdin>" if source == "-" else mask_uri(source)


def _phase(tracker: Tracker | None, name: str, **kwargs: Any) -> Any:
    return nullcontext() if tracker is None else tracker.phase(name, **kwargs)


def _prepared(
    pm: PluginManager,
    frame: pd.DataFrame,
    where: str,
    model: Model | None,
    unfitted: list[ProcessingStep] | None,
    label_column: str | None,
    preprocessed: bool,
    auto: bool = False,
) -> Prepared:
    if not preprocessed:
        frame = processing.preprocess(pm, frame, where)
    label = model.label_column if model is not None else label_column
    y_true = None
    if label is not None:
        if label in frame.columns:
            y_true = ground_truth(frame[label], label, where)
            frame = frame.drop(columns=[label])
        elif model is None:
            raise DataError(f"{where}: label column {label!r} not found (columns: {_names(frame)})")
    features = frame
    steps: tuple[ProcessingStep, ...] = ()
    planned: tuple[dict[str, str], list[Any]] | None = None
    if unfitted is not None:
        from pynomaly.detection import autoprep

        autoprep.warn_label_like(frame, where)
        for step in unfitted:
            features = step.fit(features).transform(features)
        steps = tuple(unfitted)
        if auto:
            planned = autoprep.plan(features, unfitted)
            made = [processing.create_step(pm, a.step, a.options) for a in planned[1]]
            for step in made:
                features = step.fit(features).transform(features)
            steps += tuple(made)
    elif model is not None:
        features = _named_like(features, model, where)
        for fitted in model.steps:
            features = fitted.transform(features)
    processing.validate(pm, features, where)
    if model is not None:
        features = aligned(features, model, where)
    # float64 without a copy when the frame already holds one float64 block
    X = features.to_numpy(dtype=np.float64, copy=False)
    names = tuple(map(str, features.columns.tolist()))  # Arrow-backed names in one go
    preparation = None
    if planned is not None:
        from pynomaly.detection import autoprep

        kinds, actions = planned
        preparation = autoprep.finish(actions, steps[len(steps) - len(actions) :], kinds, names)
    return Prepared(
        X=X,
        frame=frame,
        source=where,
        y_true=y_true,
        feature_names=names,
        steps=steps,
        preparation=preparation,
    )


def _named_like(features: pd.DataFrame, model: Model, where: str) -> pd.DataFrame:
    """An array's columns taken as the model's features in order, as scikit-learn takes an
    array scored by an estimator fitted on a DataFrame (with a warning): only for a model
    without steps, whose features are its input columns, and an array of that width."""
    names = model.feature_names
    if (
        where != "<array>"
        or model.steps
        or features.shape[1] != len(names)
        or list(features.columns) == list(names)
    ):
        return features
    warnings.warn(
        f"<array> has no column names: its {len(names)} columns are taken as the features "
        f"the model was fitted on, in order ({_listed(names)})",
        UserWarning,
        stacklevel=2,
    )
    return features.set_axis(list(names), axis=1)


def aligned(features: pd.DataFrame, model: Model, where: str) -> pd.DataFrame:
    """``features`` with the model's columns in the model's order (by name)."""
    names = list(map(str, features.columns.tolist()))  # Arrow-backed names in one go
    if names == list(model.feature_names):
        return features
    if len(names) != len(model.feature_names) or set(names) != set(model.feature_names):
        missing = sorted(set(model.feature_names) - set(names))
        extra = sorted(set(names) - set(model.feature_names))
        parts = [f"missing: {missing}" if missing else "", f"unexpected: {extra}" if extra else ""]
        detail = f" ({'; '.join(p for p in parts if p)})" if missing or extra else ""
        raise DataError(
            f"{where}: the model was fitted on {len(model.feature_names)} features, this data "
            f"has {len(names)}{detail}"
        )
    return features.set_axis(names, axis=1)[list(model.feature_names)]


def ground_truth(column: pd.Series, name: str, where: str) -> pd.Series:
    """A 0/1 label column (1 = anomaly) as int8, or a one-line DataError."""
    missing = int(column.isna().sum())
    if missing:
        raise DataError(f"{where}: label column {name!r} has {missing} missing values")
    values = pd.unique(column)
    if not set(values) <= {0, 1}:
        raise DataError(
            f"{where}: label column {name!r} must hold 0/1 (1 = anomaly), "
            f"found {sorted(map(str, values))[:5]}"
        )
    return column.astype(np.int8)


def text_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """The columns that are neither numeric, boolean nor dates."""
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

    # numpy's numbers, booleans and datetimes by kind (pandas' checks cost more per column),
    # and the column names only when some column is something else
    dtypes = frame.dtypes.tolist()
    if all(isinstance(dtype, np.dtype) and dtype.kind in "biufcM" for dtype in dtypes):
        return ()
    return tuple(
        str(name)
        for name, dtype in zip(frame.columns, dtypes, strict=True)
        if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype) or is_datetime64_any_dtype(dtype))
    )


def _names(frame: pd.DataFrame) -> str:
    return _listed(frame.columns)


def _listed(names: Sequence[Any]) -> str:
    shown = [str(c) for c in names]
    return ", ".join(shown[:10]) + (" ..." if len(shown) > 10 else "")


def checked_scores(
    scores: Any,
    X: np.ndarray,
    plugin: str,
    feature_names: Sequence[str] | None = None,
    hook: str = "pynomaly_score",
) -> np.ndarray:
    """One finite float64 score per row of ``X``, or a :class:`PluginError` naming ``plugin``
    and ``hook`` (``pynomaly_fit`` for training scores).

    ``feature_names`` are given for training data: non-finite scores then name the columns
    that are constant in it, the usual cause (a detector that standardizes divides by zero).
    """
    try:
        arr = np.asarray(scores, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        raise PluginError(
            plugin, hook, f"returned {type(scores).__name__}, not an array of scores"
        ) from None
    if arr.shape[0] != X.shape[0]:
        raise PluginError(plugin, hook, f"returned {arr.shape[0]} scores for {X.shape[0]} rows")
    if not np.isfinite(arr).all():  # a NaN would silently poison the threshold
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        fix = "try other parameters"
        if feature_names is not None and X.shape[0] > 1:
            flat = np.ptp(X, axis=0) == 0
            constant = [name for name, same in zip(feature_names, flat, strict=True) if same]
            if constant:
                shown = ", ".join(repr(c) for c in constant[:10])
                more = f" and {len(constant) - 10} more" if len(constant) > 10 else ""
                fix = (
                    f"the training data has constant columns ({shown}{more}), which this "
                    "detector cannot take: drop them (--drop-constant, steps=['drop_constant']) "
                    "or try other parameters"
                )
        raise PluginError(plugin, hook, f"returned {bad} non-finite scores; {fix}")
    return arr


class Scorer:
    """Scores rows with one fitted model through the manager that fitted it.

    A :class:`~pynomaly.DetectionResult` carries one instead of the plugin manager: output
    plugins that receive the result can score and explain its model's rows (contributions,
    importance), and nothing else — no hook is handed the manager (least privilege).
    """

    __slots__ = ("_pm", "model")

    def __init__(self, pm: PluginManager, model: Model) -> None:
        self._pm = pm
        self.model = model

    def matrix(self, rows: Any, *, preprocessed: bool = True) -> np.ndarray:
        """``rows`` through the model's steps as the detector's float64 matrix."""
        return prepare(self._pm, rows, self.model, None, preprocessed=preprocessed).X

    def score(self, X: np.ndarray) -> np.ndarray:
        """Checked scores of a prepared matrix, one batch."""
        model = self.model
        scores = detector_service.score(self._pm, model.detector, model.state, X)
        return checked_scores(scores, X, model.plugin)

    def explain(self, X: np.ndarray) -> np.ndarray | None:
        """The detector plugin's own explanation of a prepared matrix, checked: per-row
        contributions shaped like ``X``, or one importance per feature; ``None`` when the
        plugin leaves it to pynomaly (:mod:`pynomaly.detection.explain`)."""
        model = self.model
        return detector_service.own_explanation(self._pm, model.detector, model.state, X)

    def info(self) -> DetectorInfo:
        """The description of the model's detector as explanations need it (batch
        independence, whether it can be explained; an ensemble's from its members)."""
        return detector_service.explained(self._pm, self.model.detector, self.model.state)
