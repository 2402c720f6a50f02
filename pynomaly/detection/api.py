"""The library API: ``detect``, ``fit``, ``score``, ``explain``, ``detectors``, ``load_data``,
``load``.

A call flows: input (DataFrame, array or path) → data source plugin (for paths) →
``pynomaly_preprocess`` → label column set aside → processing steps (fitted on the training
data, kept in the model) → ``pynomaly_validate`` → float64 matrix → detector plugin (fit /
score) → threshold → ``pynomaly_postprocess`` → :class:`DetectionResult`
(see :mod:`pynomaly.detection.prepare` and :mod:`pynomaly.services`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from pynomaly.detection import explain as explaining
from pynomaly.detection.parallel import resolve_jobs
from pynomaly.detection.persistence import load_model
from pynomaly.detection.prepare import (
    Prepared,
    Scorer,
    checked_scores,
    default_manager,
    prepare,
    set_default_manager,
    text_columns,
)
from pynomaly.detection.results import (
    DetectionResult,
    Model,
    ThresholdRule,
    build_result,
)
from pynomaly.errors import DataError, InputError, InvalidParameterError
from pynomaly.services import data as data_service
from pynomaly.services import detectors as detector_service
from pynomaly.services import processing
from pynomaly.types import DetectorInfo, ProcessingStep

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.manager import PluginManager

DEFAULT_DETECTOR = "sklearn:iforest"
DEFAULT_CONTAMINATION = 0.1

# a processing step by name ("impute") or with options (("scale", {"method": "robust"}))
StepSpec = str | tuple[str, Mapping[str, Any]]

__all__ = [
    "DEFAULT_CONTAMINATION",
    "DEFAULT_DETECTOR",
    "default_manager",
    "detect",
    "detectors",
    "explain",
    "fit",
    "load",
    "load_data",
    "score",
    "set_default_manager",
    "validate_parameters",
]


def detectors(*, manager: PluginManager | None = None) -> list[DetectorInfo]:
    """Every detector offered by the loaded plugins, with hyperparameter spaces."""
    return detector_service.detectors(manager or default_manager())


def validate_parameters(
    detector: str, params: Mapping[str, Any], *, manager: PluginManager | None = None
) -> dict[str, Any]:
    """Check ``params`` for ``detector``; raises :class:`InvalidParameterError` if wrong."""
    return detector_service.validate_parameters(manager or default_manager(), detector, params)


def load_data(
    source: str | os.PathLike[str],
    *,
    options: Mapping[str, Any] | None = None,
    manager: PluginManager | None = None,
) -> pd.DataFrame:
    """Read a path or URI (``data.csv``, ``x.parquet``, ``sample:wbc``) through its plugin."""
    pm = manager or default_manager()
    return data_service.read_data(pm, data_service.connect(pm, os.fspath(source), options))


def load(path: str | os.PathLike[str], *, manager: PluginManager | None = None) -> Model:
    """A model saved with :meth:`Model.save` (``pynomaly fit --save``); see
    :mod:`pynomaly.detection.persistence` for the file format and its checks."""
    return load_model(path, manager=manager)


def fit(
    data: Any,
    detector: str = DEFAULT_DETECTOR,
    *,
    contamination: float = DEFAULT_CONTAMINATION,
    random_state: int | None = None,
    steps: Sequence[StepSpec] = (),
    label_column: str | None = None,
    threshold_percentile: float | None = None,
    threshold_score: float | None = None,
    source_options: Mapping[str, Any] | None = None,
    manager: PluginManager | None = None,
    jobs: int | None = None,
    **params: Any,
) -> Model:
    """Fit ``detector`` on ``data`` (DataFrame, 2-D array or path); returns a :class:`Model`.

    Extra keyword arguments are the detector's parameters (``n_estimators=200``). ``steps``
    are processing steps fitted on ``data`` and applied to everything scored later;
    ``label_column`` is a ground-truth column (1 = anomaly) kept out of the features. The
    label threshold follows ``contamination`` unless ``threshold_percentile`` (0–100 of the
    training scores) or ``threshold_score`` (a fixed score) is given. ``jobs`` (``-1``: every
    core) becomes the detector's ``n_jobs`` parameter when its plugin accepts one (scikit-learn's
    IsolationForest and LOF, PyOD's KNN, IForest …) and ``n_jobs`` is not given.
    """
    model, _ = _fit(
        data,
        detector,
        contamination,
        random_state,
        steps,
        label_column,
        _rule(contamination, threshold_percentile, threshold_score),
        source_options,
        manager or default_manager(),
        params,
        jobs,
    )
    return model


def detect(
    data: Any,
    detector: str = DEFAULT_DETECTOR,
    *,
    contamination: float = DEFAULT_CONTAMINATION,
    random_state: int | None = None,
    steps: Sequence[StepSpec] = (),
    label_column: str | None = None,
    threshold_percentile: float | None = None,
    threshold_score: float | None = None,
    source_options: Mapping[str, Any] | None = None,
    manager: PluginManager | None = None,
    jobs: int | None = None,
    **params: Any,
) -> DetectionResult:
    """Fit ``detector`` on ``data`` and score the same rows (arguments as for :func:`fit`).

    The scores are the wrapped library's own scores of its training rows (higher = more
    anomalous); ``labels`` mark the rows above the threshold. With ``label_column`` the
    result's ``metrics`` hold ROC AUC and average precision. ``jobs``: as for :func:`fit`.
    """
    start = time.perf_counter()
    pm = manager or default_manager()
    model, prepared = _fit(
        data,
        detector,
        contamination,
        random_state,
        steps,
        label_column,
        _rule(contamination, threshold_percentile, threshold_score),
        source_options,
        pm,
        params,
        jobs,
    )
    return build_result(pm, model, model.training_scores, prepared, start)


def score(
    model: Model, data: Any, *, manager: PluginManager | None = None, jobs: int | None = 1
) -> np.ndarray:
    """Scores of new rows with a fitted model (see :meth:`Model.score`); ``jobs`` > 1 scores
    a batch-independent detector's rows in that many worker processes, with the same scores."""
    return model.score(data, manager=manager, jobs=jobs)


def explain(
    model: Model, data: Any, *, manager: PluginManager | None = None, preprocessed: bool = False
) -> pd.Series:
    """Per-feature importance for the scores of ``data``: one value per feature, by name.

    ``preprocessed=True`` for data that already went through ``pynomaly_preprocess``, such as
    a result's ``data`` (the model's steps are applied either way).
    """
    pm = manager or default_manager()
    frame = prepare(pm, data, model, None, preprocessed=preprocessed).frame
    return explaining.importance(Scorer(pm, model), frame)


# ---------------------------------------------------------------------------------------------


def _rule(contamination: float, percentile: float | None, score: float | None) -> ThresholdRule:
    _check_contamination(contamination)
    for name, value in (("threshold_percentile", percentile), ("threshold_score", score)):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, (int, float, np.number))
            or not np.isfinite(value)
        ):
            raise InvalidParameterError(
                "threshold", name, f"must be a finite number, got {value!r}"
            )
    if percentile is not None and score is not None:
        raise InputError("give threshold_percentile or threshold_score, not both")
    if percentile is not None:
        if not 0.0 <= percentile <= 100.0:
            raise InvalidParameterError(
                "threshold", "threshold_percentile", f"must be in [0, 100], got {percentile!r}"
            )
        return ThresholdRule("percentile", float(percentile))
    if score is not None:
        return ThresholdRule("score", float(score))
    return ThresholdRule("contamination", float(contamination))


def _check_contamination(contamination: Any) -> None:
    if (
        isinstance(contamination, bool)
        or not isinstance(contamination, (int, float, np.number))
        or not 0.0 < contamination <= 0.5
    ):
        raise InvalidParameterError(
            "detect", "contamination", f"must be in (0, 0.5], got {contamination!r}"
        )


def _fit(
    data: Any,
    detector: str,
    contamination: float,
    random_state: int | None,
    steps: Sequence[StepSpec],
    label_column: str | None,
    rule: ThresholdRule,
    source_options: Mapping[str, Any] | None,
    pm: PluginManager,
    params: Mapping[str, Any],
    jobs: int | None = None,
) -> tuple[Model, Prepared]:
    if random_state is not None and (
        isinstance(random_state, bool)
        or not isinstance(random_state, (int, np.integer))
        or not 0 <= random_state < 2**32
    ):
        raise InvalidParameterError(
            detector, "random_state", f"must be an int in [0, 2**32) or None, got {random_state!r}"
        )
    info = detector_service.resolve(pm, detector)
    checked = _with_jobs(pm, info.id, params, jobs)
    unfitted = [_make_step(pm, spec) for spec in steps]
    prepared = prepare(
        pm, data, None, unfitted, label_column=label_column, source_options=source_options
    )
    X = prepared.X
    if X.shape[0] < 2:
        raise DataError(
            f"{prepared.source}: need at least 2 rows to fit a detector, got {X.shape[0]}"
        )
    # (only at fit time: a scored batch of one row is constant in every column, and fine)
    if _every_row_equal(X):
        raise DataError(
            f"{prepared.source}: every column is constant in the training data; nothing to detect"
        )
    fitted = detector_service.fit(pm, info.id, X, checked, float(contamination), random_state)
    train = checked_scores(fitted.training_scores, X, info.plugin)
    model = Model(
        detector=info.id,
        plugin=info.plugin,
        params=checked,
        contamination=float(contamination),
        random_state=random_state,
        state=fitted.state,
        threshold=rule.threshold(train),
        feature_names=prepared.feature_names,
        training_scores=train,
        steps=tuple(unfitted),
        label_column=label_column,
        threshold_rule=rule,
        text_columns=text_columns(prepared.frame),
    )
    return model, prepared


def _with_jobs(
    pm: PluginManager, detector: str, params: Mapping[str, Any], jobs: int | None
) -> dict[str, Any]:
    """The checked parameters, with ``n_jobs=jobs`` when ``jobs`` is given, ``n_jobs`` is not,
    and the detector's plugin accepts it (asked through ``pynomaly_validate_parameters``)."""
    workers = resolve_jobs(jobs)
    if jobs is None or workers == 1 or "n_jobs" in params:
        return detector_service.validate_parameters(pm, detector, params)
    try:
        return detector_service.validate_parameters(pm, detector, {**params, "n_jobs": jobs})
    except InvalidParameterError as exc:
        if exc.parameter != "n_jobs":
            raise
    return detector_service.validate_parameters(pm, detector, params)


def _every_row_equal(X: np.ndarray) -> bool:
    """Whether every row equals the first, without a boolean copy of the whole matrix for
    ordinary data (its first rows already differ)."""
    head = X[:1024]
    if np.any(head != X[0]):
        return False
    return not np.any(X[1024:] != X[0])


def _make_step(pm: PluginManager, spec: StepSpec) -> ProcessingStep:
    if isinstance(spec, str):
        return processing.create_step(pm, spec, {})
    name, options = spec
    return processing.create_step(pm, name, options)
