"""The library API: ``detect``, ``fit``, ``score``, ``contributions``, ``explain``,
``detectors``, ``load_data``, ``load``.

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

import attrs
import numpy as np
import pandas as pd

from pynomaly.detection import autoprep, partitioned, thresholds
from pynomaly.detection import cache as model_cache
from pynomaly.detection import explain as explaining
from pynomaly.detection.parallel import resolve_jobs
from pynomaly.detection.persistence import load_model
from pynomaly.detection.prepare import (
    Prepared,
    Scorer,
    checked_scores,
    default_manager,
    set_default_manager,
    text_columns,
)
from pynomaly.detection.prepare import prepare as prepare_data  # "prepare" is a parameter here
from pynomaly.detection.results import (
    DetectionResult,
    Model,
    ThresholdRule,
    build_result,
)
from pynomaly.errors import DataError, InputError, InvalidParameterError
from pynomaly.progress import ProgressCallback, Tracker
from pynomaly.services import data as data_service
from pynomaly.services import detectors as detector_service
from pynomaly.services import processing
from pynomaly.types import DetectorInfo, FitResult, ProcessingStep

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.detection.cache import ModelCache
    from pynomaly.plugin.manager import PluginManager

DEFAULT_DETECTOR = "sklearn:iforest"
DEFAULT_CONTAMINATION = 0.1
# reproducible by default, as the command line always was; None asks for a fresh seed
DEFAULT_RANDOM_STATE = 0
AUTO = "auto"  # detector="auto": chosen from the data (pynomaly.detection.auto)
DEFAULT_FIT_ROWS = partitioned.DEFAULT_FIT_ROWS

# a processing step by name ("impute") or with options (("scale", {"method": "robust"}))
StepSpec = str | tuple[str, Mapping[str, Any]]

__all__ = [
    "DEFAULT_CONTAMINATION",
    "DEFAULT_DETECTOR",
    "DEFAULT_RANDOM_STATE",
    "contributions",
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


def load(
    path: str | os.PathLike[str], *, trusted: bool = False, manager: PluginManager | None = None
) -> Model:
    """A model saved with :meth:`Model.save` (``pynomaly fit --save``) by this user.

    A file not signed with this user's key (another user's or machine's, pynomaly 1.0's) is
    refused unless ``trusted=True``: only trust files whose origin you know, as loading a
    pickled model can run code. A damaged, truncated or altered file is always refused. See
    :mod:`pynomaly.detection.persistence` for the file format and its checks.
    """
    return load_model(path, trusted=trusted, manager=manager)


def fit(
    data: Any,
    detector: str = DEFAULT_DETECTOR,
    *,
    contamination: float | str = DEFAULT_CONTAMINATION,
    random_state: int | None = DEFAULT_RANDOM_STATE,
    steps: Sequence[StepSpec] = (),
    label_column: str | None = None,
    threshold: str | ThresholdRule | None = None,
    threshold_percentile: float | None = None,
    threshold_score: float | None = None,
    source_options: Mapping[str, Any] | None = None,
    prepare: str | None = None,
    manager: PluginManager | None = None,
    progress: ProgressCallback | Tracker | None = None,
    cache: bool | ModelCache = False,
    engine: str = "local",
    scheduler: str | None = None,
    fit_rows: int | str | None = DEFAULT_FIT_ROWS,
    jobs: int | None = None,
    **params: Any,
) -> Model:
    """Fit ``detector`` on ``data`` (DataFrame, 2-D array or path); returns a :class:`Model`.

    Extra keyword arguments are the detector's parameters (``n_estimators=200``).
    ``random_state`` seeds the detector: results are reproducible by default (seed 0, as on
    the command line); ``None`` gives a fresh seed each call. ``steps``
    are processing steps fitted on ``data`` and applied to everything scored later;
    ``prepare="auto"`` adds, after them, the steps the data still needs (impute, encode,
    dates, dropping constant and id-like columns, scaling; see ``model.preparation``).
    ``label_column`` is a ground-truth column (1 = anomaly) kept out of the features.

    ``detector="auto"`` profiles the data and picks a detector or an ensemble of the available
    ones (see :mod:`pynomaly.detection.auto`; never from ``label_column``); the model's
    ``explanation`` says what it chose and why.

    The label threshold follows ``contamination`` unless ``threshold`` names another rule:
    ``"percentile:P"``, ``"fixed:S"``, ``"mad"``, ``"iqr"``, ``"zscore"`` (data-driven, with an
    optional multiplier ``"mad:2.5"``), ``"auto"`` or a plugin's ``"NS:NAME"`` (see
    :mod:`pynomaly.detection.thresholds`). ``contamination="auto"`` means the share of anomalies
    is unknown: the threshold is then ``"auto"`` unless another data-driven rule is given.
    ``threshold_percentile=P`` and ``threshold_score=S`` are the older spellings of
    ``threshold="percentile:P"`` and ``threshold="fixed:S"``. ``progress`` is called with a
    :class:`~pynomaly.progress.ProgressEvent` as each phase (read, prepare, fit) starts and
    ends (see :mod:`pynomaly.progress`).

    ``cache=True`` (or a :class:`~pynomaly.detection.cache.ModelCache`) reuses the detector
    fitted by an earlier call on the same prepared data with the same detector, parameters,
    threshold rule, seed, steps and versions, instead of fitting it again (see
    :mod:`pynomaly.detection.cache`).

    ``engine="dask"`` reads partitioned ``data`` (a directory or glob of files, or a Dask
    DataFrame) on a Dask cluster (``scheduler``'s address, else the active client, else a
    local cluster for the call) and fits on a uniform sample of at most ``fit_rows`` rows
    drawn with the seed (``None`` or ``"all"``: every row); see
    :mod:`pynomaly.detection.partitioned`.

    ``jobs`` (``-1``: every core) becomes the detector's ``n_jobs`` parameter when its plugin
    accepts one (scikit-learn's IsolationForest and LOF, PyOD's KNN, IForest …) and ``n_jobs``
    is not given.
    """
    tracker = Tracker.of(progress)
    pm = manager or default_manager()
    arguments = _Arguments(contamination, random_state, steps, label_column, threshold,
                           threshold_percentile, threshold_score, prepare, cache, jobs, params)
    if partitioned.check_engine(engine, scheduler) == "dask":
        _check_before_cluster(pm, detector, arguments, fit_rows)
        with partitioned.client_for(scheduler, tracker) as client:
            return _fit_on_cluster(
                client, pm, data, detector, fit_rows, source_options, tracker, arguments
            )
    return _fit(data, detector, arguments, source_options, pm, tracker)[0]


def detect(
    data: Any,
    detector: str = DEFAULT_DETECTOR,
    *,
    contamination: float | str = DEFAULT_CONTAMINATION,
    random_state: int | None = DEFAULT_RANDOM_STATE,
    steps: Sequence[StepSpec] = (),
    label_column: str | None = None,
    threshold: str | ThresholdRule | None = None,
    threshold_percentile: float | None = None,
    threshold_score: float | None = None,
    source_options: Mapping[str, Any] | None = None,
    prepare: str | None = None,
    manager: PluginManager | None = None,
    progress: ProgressCallback | Tracker | None = None,
    cache: bool | ModelCache = False,
    engine: str = "local",
    scheduler: str | None = None,
    fit_rows: int | str | None = DEFAULT_FIT_ROWS,
    jobs: int | None = None,
    **params: Any,
) -> DetectionResult:
    """Fit ``detector`` on ``data`` and score the same rows (arguments as for :func:`fit`).

    The scores are the wrapped library's own scores of its training rows (higher = more
    anomalous); ``labels`` mark the rows above the threshold. With ``label_column`` the
    result's ``metrics`` hold ROC AUC and average precision; its ``timings`` the seconds each
    phase took; with ``prepare="auto"``, ``preparation`` says what was done to the data.
    ``cache=True`` skips the fit when an earlier call fitted the same, ``jobs`` sets the
    detector's ``n_jobs`` (see :func:`fit`).

    ``engine="dask"`` fits as :func:`fit` does with it, on a sample of partitioned data,
    then scores every partition on the cluster as new rows (so only batch-independent
    detectors), and gathers the scores, labels and index here (the features stay on the
    cluster: ``result.data`` is ``None``). To write the scores to files instead, see
    :func:`pynomaly.detection.partitioned.detect`.
    """
    start = time.perf_counter()
    pm = manager or default_manager()
    tracker = Tracker.of(progress)
    arguments = _Arguments(contamination, random_state, steps, label_column, threshold,
                           threshold_percentile, threshold_score, prepare, cache, jobs, params)
    if partitioned.check_engine(engine, scheduler) == "dask":
        _check_before_cluster(pm, detector, arguments, fit_rows)
        partitioned.check_batch_independent(pm, detector)
        with partitioned.client_for(scheduler, tracker) as client:
            model = _fit_on_cluster(
                client, pm, data, detector, fit_rows, source_options, tracker, arguments
            )
            result = partitioned.collected(
                pm, model, data, client=client, tracker=tracker, source_options=source_options
            )
        result.duration = time.perf_counter() - start
        return result
    model, prepared = _fit(data, detector, arguments, source_options, pm, tracker)
    result = build_result(pm, model, model.training_scores, prepared, start)
    result.timings = tracker.timings
    return result


def score(
    model: Model, data: Any, *, manager: PluginManager | None = None, jobs: int | None = 1
) -> np.ndarray:
    """Scores of new rows with a fitted model (see :meth:`Model.score`); ``jobs`` > 1 scores
    a batch-independent detector's rows in that many threads or processes, with the same
    scores."""
    return model.score(data, manager=manager, jobs=jobs)


def contributions(
    model: Model, data: Any, *, manager: PluginManager | None = None, preprocessed: bool = False
) -> pd.DataFrame:
    """How much each feature raises the score of each row of ``data``: a DataFrame of rows ×
    features, indexed like the data, columns the model's feature names (after its steps).

    Each row is compared with the model's reference row, every feature at its training
    median (:attr:`Model.reference`). The detector's own per-feature terms where its plugin
    gives them (``pyod:ecod``, ``pyod:copod``, ``pyod:hbos``, ``pyod:pca``, ``pyod:mcd``,
    ``sklearn:elliptic``: the row's terms minus the reference row's, adding up to the row's
    score minus the reference row's), else how much the row's score drops when the feature is
    set to its reference value — each changed row scored against the fitted model alone, or,
    for a detector whose scores depend on the rows scored together, within ``data`` (see
    :mod:`pynomaly.detection.explain` and docs/quality.md, "Explanations").
    ``attrs["method"]`` names the method. Explain the rows you show, not all of them: the
    measured methods score ``n_rows × n_features`` changed rows (or ``data`` once per
    feature).

    ``preprocessed=True`` for data that already went through ``pynomaly_preprocess``, such as
    a result's ``data`` (the model's steps are applied either way).

    :raises pynomaly.errors.ExplainError: the detector cannot be explained (its
        ``DetectorInfo.cannot_explain`` says why).
    """
    pm = manager or default_manager()
    frame = prepare_data(pm, data, model, None, preprocessed=preprocessed).frame
    return explaining.contributions(Scorer(pm, model), frame)


def explain(
    model: Model, data: Any, *, manager: PluginManager | None = None, preprocessed: bool = False
) -> pd.Series:
    """Per-feature importance for the scores of ``data``: one value per feature, by name.

    The mean absolute contribution of each feature over the rows of ``data`` (see
    :func:`contributions`), or the detector plugin's own per-feature importances when its
    ``pynomaly_explain`` gives one value per feature. ``preprocessed`` as for
    :func:`contributions`.

    :raises pynomaly.errors.ExplainError: the detector cannot be explained.
    """
    pm = manager or default_manager()
    frame = prepare_data(pm, data, model, None, preprocessed=preprocessed).frame
    return explaining.importance(Scorer(pm, model), frame)


# ---------------------------------------------------------------------------------------------


def _rule(
    contamination: Any,
    threshold: str | ThresholdRule | None,
    percentile: float | None,
    score: float | None,
) -> ThresholdRule:
    unknown = isinstance(contamination, str) and contamination.strip().lower() == "auto"
    if not unknown:
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
    given = [
        n for n, v in (("threshold", threshold), ("threshold_percentile", percentile),
                       ("threshold_score", score)) if v is not None
    ]
    if len(given) > 1:
        raise InputError(f"give one of {' or '.join(given)}, not both")
    if percentile is not None:
        if not 0.0 <= percentile <= 100.0:
            raise InvalidParameterError(
                "threshold", "threshold_percentile", f"must be in [0, 100], got {percentile!r}"
            )
        return ThresholdRule("percentile", float(percentile))
    if score is not None:
        return ThresholdRule("score", float(score))
    if threshold is None:
        threshold = "auto" if unknown else "contamination"
    return thresholds.parse(threshold, None if unknown else float(contamination))


def _detector_contamination(contamination: Any) -> float:
    """The contamination handed to the detector (``"auto"``: the default, which only libraries
    whose scores depend on it use)."""
    return DEFAULT_CONTAMINATION if isinstance(contamination, str) else float(contamination)


def _check_contamination(contamination: Any) -> None:
    if (
        isinstance(contamination, bool)
        or not isinstance(contamination, (int, float, np.number))
        or not 0.0 < contamination <= 0.5
    ):
        raise InvalidParameterError(
            "detect", "contamination", f"must be in (0, 0.5] or 'auto', got {contamination!r}"
        )


@attrs.frozen
class _Arguments:
    """What :func:`fit` and :func:`detect` take besides the data, the detector and where they
    run (in their signatures' order), and the detector's own parameters."""

    contamination: float | str
    random_state: int | None
    steps: Sequence[StepSpec]
    label_column: str | None
    threshold: str | ThresholdRule | None
    threshold_percentile: float | None
    threshold_score: float | None
    prepare: str | None
    cache: bool | ModelCache
    jobs: int | None
    params: Mapping[str, Any]

    def rule(self) -> ThresholdRule:
        """The threshold rule they ask for (an :class:`InputError` when they disagree)."""
        return _rule(
            self.contamination, self.threshold, self.threshold_percentile, self.threshold_score
        )

    def keywords(self) -> dict[str, Any]:
        """As :func:`fit`'s keyword arguments."""
        named = attrs.asdict(self, recurse=False, filter=lambda a, _: a.name != "params")
        return {**named, **self.params}


def _fit(
    data: Any,
    detector: str,
    arguments: _Arguments,
    source_options: Mapping[str, Any] | None,
    pm: PluginManager,
    tracker: Tracker,
) -> tuple[Model, Prepared]:
    rule = arguments.rule()
    contamination, random_state = arguments.contamination, arguments.random_state
    steps, label_column, prepare = arguments.steps, arguments.label_column, arguments.prepare
    params = arguments.params
    _check_seed(detector, random_state)
    choosing = detector == AUTO
    with tracker.phase("load", detail=detector):  # plugins, detector, steps: first use
        if choosing:
            if params:
                raise InputError(
                    "detector 'auto' chooses its detector's parameters itself; "
                    f"got {sorted(params)}"
                )
        else:
            info = detector_service.resolve(pm, detector)
            checked = _with_jobs(pm, info.id, params, arguments.jobs)
        auto = autoprep.check_mode(prepare)
        unfitted = [_make_step(pm, spec) for spec in steps]
        # a fresh seed each call asks for a new fit: never answered from the cache
        models = model_cache.resolve(arguments.cache) if random_state is not None else None
    prepared = prepare_data(
        pm,
        data,
        None,
        unfitted,
        label_column=label_column,
        source_options=source_options,
        tracker=tracker,
        auto=auto,
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
    # before the fit, while the data and pandas' code are still in the CPU caches (after a
    # fit of 16 MB they take several times longer)
    texts, reference = text_columns(prepared.frame), explaining.reference(X)
    notes = []
    if choosing:  # from the features only: prepare set the label column aside
        from pynomaly.detection import auto as choose

        choice = choose.choose(pm, X, prepared.frame)
        info = detector_service.resolve(pm, choice.detector)
        checked = detector_service.validate_parameters(pm, info.id, choice.params)
        notes.append(choice.explanation)
    detector_contamination = _detector_contamination(contamination)
    key: str | None = None
    cached: Model | None = None
    if models is not None:
        key = models.key(
            pm,
            X=X,
            feature_names=prepared.feature_names,
            detector=info.id,
            plugin=info.plugin,
            params=checked,
            contamination=detector_contamination,
            rule=rule,
            random_state=random_state,
            steps=steps,
            prepare=prepare,
            label_column=label_column,
        )
        cached = models.get(key, pm)
    if cached is not None and cached.training_scores.shape == (X.shape[0],):
        fitted = FitResult(cached.state, cached.training_scores)
        with tracker.phase("fit", rows=X.shape[0], detail=f"{info.id} (cached)"):
            train = cached.training_scores
    else:
        with tracker.phase("fit", rows=X.shape[0], detail=info.id):
            fitted = detector_service.fit(
                pm, info.id, X, checked, detector_contamination, random_state
            )
            train = checked_scores(
                fitted.training_scores, X, info.plugin, prepared.feature_names, "pynomaly_fit"
            )
        cached = None
    given = _library_threshold(fitted, rule, detector_contamination)
    if given is not None:
        threshold, why = given, ""
    else:
        rule, threshold, why = thresholds.resolve(pm, rule, train)
    if why:
        notes.append(why)
    model = Model(
        detector=info.id,
        plugin=info.plugin,
        params=checked,
        contamination=detector_contamination,
        random_state=random_state,
        state=fitted.state,
        threshold=threshold,
        feature_names=prepared.feature_names,
        training_scores=train,
        steps=prepared.steps,
        label_column=label_column,
        threshold_rule=rule,
        text_columns=texts,
        preparation=prepared.preparation,
        reference=reference,
        explanation="\n".join(notes),
    )
    if models is not None and key is not None and cached is None:
        with tracker.phase("write", detail="model cache"):
            models.put(key, model, pm)
    return model, prepared


def _library_threshold(
    fitted: FitResult, rule: ThresholdRule, contamination: float
) -> float | None:
    """The plugin's own ``1 - contamination`` percentile of the training scores
    (:attr:`FitResult.threshold`), when it is the threshold ``rule`` asks for: the
    ``contamination`` rule at the contamination the detector was fitted with, on float64
    scores as returned (the percentile of other values would differ)."""
    given = fitted.threshold
    if given is None or rule.kind != "contamination" or rule.value != contamination:
        return None
    scores = fitted.training_scores
    if not isinstance(scores, np.ndarray) or scores.dtype != np.float64 or scores.ndim != 1:
        return None
    value = float(given)
    return value if np.isfinite(value) else None


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
def _check_before_cluster(
    pm: PluginManager, detector: str, arguments: _Arguments, fit_rows: Any
) -> None:
    """Bad arguments fail before a cluster starts and the data is sampled."""
    arguments.rule()
    _check_seed(detector, arguments.random_state)
    partitioned.check_fit_rows(fit_rows)
    autoprep.check_mode(arguments.prepare)
    detector_service.validate_parameters(pm, detector, arguments.params)


def _fit_on_cluster(
    client: Any,
    pm: PluginManager,
    data: Any,
    detector: str,
    fit_rows: int | str | None,
    source_options: Mapping[str, Any] | None,
    tracker: Tracker,
    arguments: _Arguments,
) -> Model:
    """:func:`fit` on a sample of partitioned ``data`` drawn on ``client``'s cluster."""
    model, *_ = partitioned.fit(
        pm,
        data,
        fit_rows=partitioned.check_fit_rows(fit_rows),
        random_state=arguments.random_state,
        client=client,
        source_options=source_options,
        tracker=tracker,
        fit_model=lambda frame: fit(
            frame, detector, manager=pm, progress=tracker, **arguments.keywords()
        ),
    )
    return model


def _check_seed(detector: str, random_state: Any) -> None:
    if random_state is not None and (
        isinstance(random_state, bool)
        or not isinstance(random_state, (int, np.integer))
        or not 0 <= random_state < 2**32
    ):
        raise InvalidParameterError(
            detector, "random_state", f"must be an int in [0, 2**32) or None, got {random_state!r}"
        )


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
