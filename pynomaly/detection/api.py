"""The library API: ``detect``, ``fit``, ``score``, ``explain``, ``detectors``, ``load_data``.

A call flows: input (DataFrame, array or path) → data source plugin (for paths) → preprocess
→ validate → float64 matrix → detector plugin (fit / score) → threshold from contamination →
postprocess → :class:`~pynomaly.detection.results.DetectionResult`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pynomaly.detection.results import DetectionResult, Model, labels_for, threshold_for
from pynomaly.errors import DataError, InvalidParameterError
from pynomaly.plugin.manager import PluginManager
from pynomaly.types import DetectorInfo

DEFAULT_DETECTOR = "sklearn:iforest"
DEFAULT_CONTAMINATION = 0.1

_default: PluginManager | None = None
_default_lock = threading.Lock()


def default_manager() -> PluginManager:
    """The process-wide plugin manager used when no ``manager=`` is given (created lazily)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = PluginManager()
        return _default


def set_default_manager(manager: PluginManager | None) -> None:
    """Replace (or with ``None`` reset) the process-wide manager."""
    global _default
    with _default_lock:
        _default = manager


def detectors(*, manager: PluginManager | None = None) -> list[DetectorInfo]:
    """Every detector offered by the loaded plugins, with hyperparameter spaces."""
    return (manager or default_manager()).detectors()


def validate_parameters(
    detector: str, params: Mapping[str, Any], *, manager: PluginManager | None = None
) -> dict[str, Any]:
    """Check ``params`` for ``detector``; raises :class:`InvalidParameterError` if wrong."""
    return (manager or default_manager()).validate_parameters(detector, params)


def load_data(
    source: str | os.PathLike[str],
    *,
    options: Mapping[str, Any] | None = None,
    manager: PluginManager | None = None,
) -> pd.DataFrame:
    """Read a path or URI (``data.csv``, ``x.parquet``, ``sample:wbc``) through its plugin."""
    pm = manager or default_manager()
    conn = pm.connect(os.fspath(source), options)
    return pm.read_data(conn)


def fit(
    data: Any,
    detector: str = DEFAULT_DETECTOR,
    *,
    contamination: float = DEFAULT_CONTAMINATION,
    random_state: int | None = None,
    manager: PluginManager | None = None,
    **params: Any,
) -> Model:
    """Fit ``detector`` on ``data`` (DataFrame, 2-D array or path); returns a :class:`Model`.

    Extra keyword arguments are the detector's parameters (``n_estimators=200``).
    """
    model, _, _ = _fit(data, detector, contamination, random_state, manager, params)
    return model


def detect(
    data: Any,
    detector: str = DEFAULT_DETECTOR,
    *,
    contamination: float = DEFAULT_CONTAMINATION,
    random_state: int | None = None,
    manager: PluginManager | None = None,
    **params: Any,
) -> DetectionResult:
    """Fit ``detector`` on ``data`` and score the same rows.

    The scores are the wrapped library's own scores of its training rows (higher = more
    anomalous); ``labels`` mark the ``contamination`` share above the threshold.
    """
    start = time.perf_counter()
    pm = manager or default_manager()
    model, frame, source = _fit(data, detector, contamination, random_state, pm, params)
    return _result(pm, model, model.training_scores, frame, source, start)


def score(model: Model, data: Any, *, manager: PluginManager | None = None) -> np.ndarray:
    """Scores of new rows with a fitted model (see :meth:`Model.score`)."""
    pm = manager or default_manager()
    X, _, _ = _matrix(pm, data, model.feature_names)
    return _checked_scores(pm.score(model.detector, model.state, X), X, model.plugin)


def detect_with(
    model: Model, data: Any, *, manager: PluginManager | None = None
) -> DetectionResult:
    """Score and label new rows with a fitted model, threshold fixed at fit time."""
    start = time.perf_counter()
    pm = manager or default_manager()
    X, frame, source = _matrix(pm, data, model.feature_names)
    scores = _checked_scores(pm.score(model.detector, model.state, X), X, model.plugin)
    return _result(pm, model, scores, frame, source, start)


def explain(model: Model, data: Any, *, manager: PluginManager | None = None) -> pd.Series:
    """Per-feature importance for the scores of ``data``: one value per feature, by name."""
    pm = manager or default_manager()
    X, _, _ = _matrix(pm, data, model.feature_names)
    importances = np.asarray(pm.explain(model.detector, model.state, X), dtype=np.float64)
    if importances.shape != (X.shape[1],):
        raise DataError(
            f"{model.detector}: explain returned shape {importances.shape}, "
            f"expected one importance per feature ({X.shape[1]},)"
        )
    return pd.Series(importances, index=list(model.feature_names), name="importance")


# ---------------------------------------------------------------------------------------------


def _fit(
    data: Any,
    detector: str,
    contamination: float,
    random_state: int | None,
    manager: PluginManager | None,
    params: Mapping[str, Any],
) -> tuple[Model, pd.DataFrame, str]:
    pm = manager or default_manager()
    if (
        isinstance(contamination, bool)
        or not isinstance(contamination, (int, float))
        or not (0.0 < contamination <= 0.5)
    ):
        raise InvalidParameterError(
            detector, "contamination", f"must be in (0, 0.5], got {contamination!r}"
        )
    if random_state is not None and (
        isinstance(random_state, bool) or not isinstance(random_state, (int, np.integer))
    ):
        raise InvalidParameterError(
            detector, "random_state", f"must be an int or None, got {random_state!r}"
        )
    info = pm.resolve_detector(detector)
    checked = pm.validate_parameters(info.id, params)
    X, frame, source = _matrix(pm, data, None)
    if X.shape[0] < 2:
        raise DataError(f"{source}: need at least 2 rows to fit a detector, got {X.shape[0]}")
    fitted = pm.fit(info.id, X, checked, float(contamination), random_state)
    train = _checked_scores(fitted.training_scores, X, info.plugin)
    model = Model(
        detector=info.id,
        plugin=info.plugin,
        params=checked,
        contamination=float(contamination),
        random_state=random_state,
        state=fitted.state,
        threshold=threshold_for(train, contamination),
        feature_names=tuple(str(c) for c in frame.columns),
        training_scores=train,
    )
    return model, frame, source


def _result(
    pm: PluginManager,
    model: Model,
    scores: np.ndarray,
    frame: pd.DataFrame,
    source: str,
    start: float,
) -> DetectionResult:
    """Label ``scores`` with the model's threshold, postprocess, and time the whole call."""
    result = DetectionResult(
        scores=scores,
        labels=labels_for(scores, model.threshold),
        threshold=model.threshold,
        index=frame.index,
        detector=model.detector,
        model=model,
        source=source,
        data=frame,
    )
    result = pm.postprocess(result)
    result.duration = time.perf_counter() - start
    return result


def _frame(pm: PluginManager, data: Any) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        return data, "<DataFrame>"
    if isinstance(data, (str, Path, os.PathLike)):
        source = os.fspath(data)
        return load_data(source, manager=pm), source
    if isinstance(data, pd.Series):
        return data.to_frame(), "<Series>"
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise DataError(f"<array>: expected a 2-D array (rows × features), got {arr.ndim}-D")
    columns = [f"x{i}" for i in range(arr.shape[1])]
    return pd.DataFrame(arr, columns=columns, copy=False), "<array>"


def _matrix(
    pm: PluginManager, data: Any, expected: tuple[str, ...] | None
) -> tuple[np.ndarray, pd.DataFrame, str]:
    frame, source = _frame(pm, data)
    frame = pm.preprocess(frame, source)
    pm.validate(frame, source)
    if expected is not None and len(expected) != frame.shape[1]:
        raise DataError(
            f"{source}: the model was fitted on {len(expected)} features, this data has "
            f"{frame.shape[1]}"
        )
    # float64 without a copy when the frame already holds one float64 block
    return frame.to_numpy(dtype=np.float64, copy=False), frame, source


def _checked_scores(scores: Any, X: np.ndarray, plugin: str) -> np.ndarray:
    from pynomaly.errors import PluginError

    arr = np.asarray(scores, dtype=np.float64).ravel()
    if arr.shape[0] != X.shape[0]:
        raise PluginError(
            plugin, "pynomaly_score", f"returned {arr.shape[0]} scores for {X.shape[0]} rows"
        )
    if not np.isfinite(arr).all():  # a NaN would silently poison the threshold
        bad = int(np.count_nonzero(~np.isfinite(arr)))
        raise PluginError(
            plugin, "pynomaly_score", f"returned {bad} non-finite scores; try other parameters"
        )
    return arr
