"""The library API: ``detect``, ``fit``, ``score``, ``explain``, ``detectors``, ``load_data``.

A call flows: input (DataFrame, array or path) → data source plugin (for paths) →
``pynomaly_preprocess`` → label column set aside → processing steps (fitted on the training
data, kept in the model) → ``pynomaly_validate`` → float64 matrix → detector plugin (fit /
score) → threshold → ``pynomaly_postprocess`` → :class:`DetectionResult`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pandas as pd

from pynomaly.detection.results import (
    DetectionResult,
    Model,
    ThresholdRule,
    labels_for,
    ranking_metrics,
)
from pynomaly.errors import DataError, InputError, InvalidParameterError, PluginError
from pynomaly.plugin.manager import PluginManager
from pynomaly.redact import mask_uri
from pynomaly.types import DetectorInfo, ProcessingStep

DEFAULT_DETECTOR = "sklearn:iforest"
DEFAULT_CONTAMINATION = 0.1

# a processing step by name ("impute") or with options (("scale", {"method": "robust"}))
StepSpec = str | tuple[str, Mapping[str, Any]]

_default: PluginManager | None = None
_default_lock = threading.Lock()


@attrs.frozen
class _Prepared:
    """Input after reading, preprocessing, steps and validation."""

    X: np.ndarray
    frame: pd.DataFrame  # features before the processing steps (for display)
    source: str
    y_true: pd.Series | None
    feature_names: tuple[str, ...]  # the columns of X


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
    steps: Sequence[StepSpec] = (),
    label_column: str | None = None,
    threshold_percentile: float | None = None,
    threshold_score: float | None = None,
    source_options: Mapping[str, Any] | None = None,
    manager: PluginManager | None = None,
    **params: Any,
) -> Model:
    """Fit ``detector`` on ``data`` (DataFrame, 2-D array or path); returns a :class:`Model`.

    Extra keyword arguments are the detector's parameters (``n_estimators=200``). ``steps``
    are processing steps fitted on ``data`` and applied to everything scored later;
    ``label_column`` is a ground-truth column (1 = anomaly) kept out of the features. The
    label threshold follows ``contamination`` unless ``threshold_percentile`` (0–100 of the
    training scores) or ``threshold_score`` (a fixed score) is given.
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
    **params: Any,
) -> DetectionResult:
    """Fit ``detector`` on ``data`` and score the same rows (arguments as for :func:`fit`).

    The scores are the wrapped library's own scores of its training rows (higher = more
    anomalous); ``labels`` mark the rows above the threshold. With ``label_column`` the
    result's ``metrics`` hold ROC AUC and average precision.
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
    )
    return _result(pm, model, model.training_scores, prepared, start)


def score(model: Model, data: Any, *, manager: PluginManager | None = None) -> np.ndarray:
    """Scores of new rows with a fitted model (see :meth:`Model.score`)."""
    pm = manager or default_manager()
    prepared = _prepare(pm, data, model, None)
    return _checked_scores(
        pm.score(model.detector, model.state, prepared.X), prepared.X, model.plugin
    )


def detect_with(
    model: Model, data: Any, *, manager: PluginManager | None = None
) -> DetectionResult:
    """Score and label new rows with a fitted model, threshold fixed at fit time."""
    start = time.perf_counter()
    pm = manager or default_manager()
    prepared = _prepare(pm, data, model, None)
    scores = _checked_scores(
        pm.score(model.detector, model.state, prepared.X), prepared.X, model.plugin
    )
    return _result(pm, model, scores, prepared, start)


def detect_batches(
    model: Model,
    source: str | os.PathLike[str],
    *,
    batch_size: int = 50_000,
    source_options: Mapping[str, Any] | None = None,
    manager: PluginManager | None = None,
) -> Iterator[DetectionResult]:
    """One :class:`DetectionResult` per batch of ``source``, read with ``pynomaly_read_batches``."""
    pm = manager or default_manager()
    options = dict(source_options or {})
    if model.text_columns:
        # chunks are typed one by one: a code column ("01", "02", later "X") must stay text in
        # every batch, as in the training read, or the fitted encoders see unknown values
        options.setdefault("text_columns", list(model.text_columns))
    conn = pm.connect(os.fspath(source), options)
    uri = conn.uri  # password masked
    for batch in _without_short_tail(pm.read_batches(conn, batch_size), batch_size):
        start = time.perf_counter()
        prepared = _prepare(pm, batch, model, None, source=uri)
        scores = _checked_scores(
            pm.score(model.detector, model.state, prepared.X), prepared.X, model.plugin
        )
        yield _result(pm, model, scores, prepared, start)


def _without_short_tail(batches: Iterator[pd.DataFrame], size: int) -> Iterator[pd.DataFrame]:
    """The batches, with a last one of fewer than a tenth of ``size`` rows joined to the one
    before: detectors that score rows against their batch (COF, SOD ...) need enough rows."""
    held: pd.DataFrame | None = None
    for batch in batches:
        if held is not None:
            if len(batch) < max(1, size // 10):
                batch = pd.concat([held, batch])
            else:
                yield held
        held = batch
    if held is not None:
        yield held


def explain(
    model: Model, data: Any, *, manager: PluginManager | None = None, preprocessed: bool = False
) -> pd.Series:
    """Per-feature importance for the scores of ``data``: one value per feature, by name.

    ``preprocessed=True`` for data that already went through ``pynomaly_preprocess``, such as
    a result's ``data`` (the model's steps are applied either way).
    """
    pm = manager or default_manager()
    X = _prepare(pm, data, model, None, preprocessed=preprocessed).X
    importances = np.asarray(pm.explain(model.detector, model.state, X), dtype=np.float64)
    if importances.shape != (X.shape[1],):
        raise DataError(
            f"{model.detector}: explain returned shape {importances.shape}, "
            f"expected one importance per feature ({X.shape[1]},)"
        )
    return pd.Series(importances, index=list(model.feature_names), name="importance")


def row_contributions(
    model: Model,
    rows: pd.DataFrame,
    *,
    reference: pd.DataFrame | None = None,
    manager: PluginManager | None = None,
) -> pd.DataFrame:
    """How much each feature raises each row's score: the score minus the score with that
    feature set to its median in ``reference`` (default: ``rows``). One batch is scored.

    ``rows`` and ``reference`` are a result's ``data``: already preprocessed, so only the
    model's steps are applied to them.
    """
    pm = manager or default_manager()
    X = _prepare(pm, rows, model, None, preprocessed=True).X
    ref = X if reference is None else _prepare(pm, reference, model, None, preprocessed=True).X
    n, m = X.shape
    perturbed = np.repeat(X, m, axis=0)
    perturbed[np.arange(n * m), np.tile(np.arange(m), n)] = np.tile(np.median(ref, axis=0), n)
    base = pm.score(model.detector, model.state, X)
    changed = np.asarray(pm.score(model.detector, model.state, perturbed)).reshape(n, m)
    return pd.DataFrame(
        np.asarray(base)[:, None] - changed, index=rows.index, columns=list(model.feature_names)
    )


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
) -> tuple[Model, _Prepared]:
    if random_state is not None and (
        isinstance(random_state, bool)
        or not isinstance(random_state, (int, np.integer))
        or not 0 <= random_state < 2**32
    ):
        raise InvalidParameterError(
            detector, "random_state", f"must be an int in [0, 2**32) or None, got {random_state!r}"
        )
    info = pm.resolve_detector(detector)
    checked = pm.validate_parameters(info.id, params)
    unfitted = [_make_step(pm, spec) for spec in steps]
    prepared = _prepare(
        pm, data, None, unfitted, label_column=label_column, source_options=source_options
    )
    X = prepared.X
    if X.shape[0] < 2:
        raise DataError(
            f"{prepared.source}: need at least 2 rows to fit a detector, got {X.shape[0]}"
        )
    # (only at fit time: a scored batch of one row is constant in every column, and fine)
    if not np.any(X[1:] != X[0]):
        raise DataError(
            f"{prepared.source}: every column is constant in the training data; nothing to detect"
        )
    fitted = pm.fit(info.id, X, checked, float(contamination), random_state)
    train = _checked_scores(fitted.training_scores, X, info.plugin)
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
        text_columns=_text_columns(prepared.frame),
    )
    return model, prepared


def _make_step(pm: PluginManager, spec: StepSpec) -> ProcessingStep:
    if isinstance(spec, str):
        return pm.create_step(spec, {})
    name, options = spec
    return pm.create_step(name, options)


def _result(
    pm: PluginManager, model: Model, scores: np.ndarray, prepared: _Prepared, start: float
) -> DetectionResult:
    """Label ``scores`` with the model's threshold, postprocess, and time the whole call."""
    metrics = {}
    if prepared.y_true is not None:
        metrics = ranking_metrics(prepared.y_true.to_numpy(), scores)
    result = DetectionResult(
        scores=scores,
        labels=labels_for(scores, model.threshold),
        threshold=model.threshold,
        index=prepared.frame.index,
        detector=model.detector,
        model=model,
        source=prepared.source,
        data=prepared.frame,
        y_true=prepared.y_true,
        metrics=metrics,
        manager=pm,
    )
    result = pm.postprocess(result)
    result.duration = time.perf_counter() - start
    return result


def _frame(
    pm: PluginManager, data: Any, source_options: Mapping[str, Any] | None
) -> tuple[pd.DataFrame, str]:
    if isinstance(data, pd.DataFrame):
        return data, "<DataFrame>"
    if isinstance(data, (str, Path, os.PathLike)):
        source = os.fspath(data)
        return load_data(source, options=source_options, manager=pm), mask_uri(source)
    if isinstance(data, pd.Series):
        return data.to_frame(), "<Series>"
    arr = np.asarray(data)
    if arr.ndim != 2:
        raise DataError(f"<array>: expected a 2-D array (rows × features), got {arr.ndim}-D")
    columns = [f"x{i}" for i in range(arr.shape[1])]
    return pd.DataFrame(arr, columns=columns, copy=False), "<array>"


def _prepare(
    pm: PluginManager,
    data: Any,
    model: Model | None,
    unfitted: list[ProcessingStep] | None,
    *,
    label_column: str | None = None,
    source_options: Mapping[str, Any] | None = None,
    source: str | None = None,
    preprocessed: bool = False,
) -> _Prepared:
    """Read, preprocess, set the label aside, run the steps (fitting ``unfitted`` ones, else
    the model's), validate, align the columns with the model's and convert to float64."""
    frame, where = _frame(pm, data, source_options)
    where = source or where
    if not preprocessed:
        frame = pm.preprocess(frame, where)
    label = model.label_column if model is not None else label_column
    y_true = None
    if label is not None:
        if label in frame.columns:
            y_true = _ground_truth(frame[label], label, where)
            frame = frame.drop(columns=[label])
        elif model is None:
            raise DataError(f"{where}: label column {label!r} not found (columns: {_names(frame)})")
    features = frame
    if unfitted is not None:
        for step in unfitted:
            features = step.fit(features).transform(features)
    elif model is not None:
        for fitted in model.steps:
            features = fitted.transform(features)
    pm.validate(features, where)
    if model is not None:
        features = _aligned(features, model, where)
    # float64 without a copy when the frame already holds one float64 block
    X = features.to_numpy(dtype=np.float64, copy=False)
    names = tuple(str(c) for c in features.columns)
    return _Prepared(X=X, frame=frame, source=where, y_true=y_true, feature_names=names)


def _aligned(features: pd.DataFrame, model: Model, where: str) -> pd.DataFrame:
    names = [str(c) for c in features.columns]
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


def _ground_truth(column: pd.Series, name: str, where: str) -> pd.Series:
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


def _text_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

    return tuple(
        str(name)
        for name, dtype in frame.dtypes.items()
        if not (is_numeric_dtype(dtype) or is_bool_dtype(dtype) or is_datetime64_any_dtype(dtype))
    )


def _names(frame: pd.DataFrame) -> str:
    names = [str(c) for c in frame.columns]
    return ", ".join(names[:10]) + (" ..." if len(names) > 10 else "")


def _checked_scores(scores: Any, X: np.ndarray, plugin: str) -> np.ndarray:
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
