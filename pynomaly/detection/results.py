"""What detection returns: a fitted :class:`Model` and a :class:`DetectionResult`.

A model scores new rows itself (through :mod:`pynomaly.detection.prepare` and
:mod:`pynomaly.services`), so this module and :mod:`pynomaly.detection.api` do not import
each other.
"""

from __future__ import annotations

import os
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from pynomaly.detection import explain as explaining
from pynomaly.detection.parallel import Pending, batch_scorer, resolve_jobs
from pynomaly.detection.prepare import (
    Prepared,
    Scorer,
    default_manager,
    prepare,
)
from pynomaly.errors import DataError, InputError
from pynomaly.progress import ProgressCallback, Tracker
from pynomaly.services import data as data_service
from pynomaly.services import processing

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from pynomaly.detection.autoprep import Preparation
    from pynomaly.plugin.manager import PluginManager
    from pynomaly.types import ProcessingStep

THRESHOLD_RULES = ("contamination", "percentile", "score", "mad", "iqr", "zscore", "auto")


def _rule_kind(instance: Any, attribute: Any, value: str) -> None:
    if value not in THRESHOLD_RULES and value.count(":") != 1:
        raise ValueError(f"threshold rule kind must be one of {THRESHOLD_RULES} or NS:NAME")


@attrs.frozen
class ThresholdRule:
    """How the label threshold is derived from the training scores.

    ``contamination`` (PyOD's rule): the (1 - value) percentile, so that about ``value`` of the
    training rows are anomalies; ``percentile``: that percentile (0–100) of the training
    scores; ``score``: the fixed score ``value``; ``mad``, ``iqr``, ``zscore``: a spread rule
    with multiplier ``value`` (see :mod:`pynomaly.detection.thresholds`); ``auto``: chosen from
    the scores at fit time (a model keeps the rule it chose); ``NS:NAME``: a plugin's method
    (``pythresh:karch``), computed through ``pynomaly_threshold`` at fit time.
    """

    kind: str = attrs.field(validator=_rule_kind)
    value: float = 0.0

    @property
    def is_plugin_method(self) -> bool:
        return self.kind not in THRESHOLD_RULES

    def describe(self) -> str:
        """``"contamination 0.1"``, ``"mad 3"``, ``"pythresh:karch"`` ..."""
        return self.kind if self.is_plugin_method or self.kind == "auto" else (
            f"{self.kind} {self.value:g}"
        )

    def threshold(self, training_scores: np.ndarray) -> float:
        """The threshold on ``training_scores`` (``auto`` and plugin methods need
        :func:`pynomaly.detection.thresholds.resolve`)."""
        from pynomaly.detection import thresholds

        if self.kind == "contamination":
            return float(np.percentile(training_scores, 100.0 * (1.0 - self.value)))
        if self.kind == "percentile":
            return float(np.percentile(training_scores, self.value))
        if self.kind == "score":
            return float(self.value)
        if self.kind in thresholds.SPREAD_RULES:
            return thresholds.spread_threshold(self.kind, self.value, training_scores)
        if self.kind == "auto":
            return thresholds.auto(training_scores)[1]
        raise InputError(f"threshold {self.kind!r} is a plugin's method: it needs the manager")


def threshold_for(training_scores: np.ndarray, contamination: float) -> float:
    """PyOD's threshold: the (1 - contamination) percentile of the training scores."""
    return ThresholdRule("contamination", contamination).threshold(training_scores)


def top_positions(scores: np.ndarray, n: int) -> np.ndarray:
    """Positions of the ``n`` highest scores, highest first, ties in input order: the first
    ``n`` of a stable descending sort, without sorting every score."""
    if n <= 0:
        return np.empty(0, dtype=np.intp)
    if n < len(scores):
        nth = np.partition(scores, len(scores) - n)[len(scores) - n]
        candidates = np.flatnonzero(scores >= nth)  # every tie of the n-th score included
    else:
        candidates = np.arange(len(scores))
    return candidates[np.argsort(-scores[candidates], kind="stable")][:n]


def labels_for(scores: np.ndarray, threshold: float) -> np.ndarray:
    """1 where the score is above the threshold (an anomaly), else 0."""
    return (scores > threshold).astype(np.int8)


def ranking_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC AUC and average precision of ``scores`` against 0/1 ground truth (1 = anomaly),
    from :mod:`sklearn.metrics`. Empty when only one class is present."""
    y = np.asarray(y_true, dtype=np.int64)
    if y.min(initial=0) == y.max(initial=0) or len(np.unique(y)) < 2:
        return {}
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {
        "roc_auc": float(roc_auc_score(y, scores)),
        "average_precision": float(average_precision_score(y, scores)),
    }


@attrs.define(eq=False)
class Model:
    """A fitted detector with its fitted processing steps and threshold.

    A model holds no reference to a plugin manager, so it pickles; it is scored through the
    default manager unless one is passed.
    """

    detector: str
    plugin: str
    params: Mapping[str, Any]
    contamination: float
    random_state: int | None
    state: Any = attrs.field(repr=False)
    threshold: float
    feature_names: tuple[str, ...]
    training_scores: np.ndarray = attrs.field(repr=False)
    steps: tuple[ProcessingStep, ...] = attrs.field(default=(), repr=False)
    label_column: str | None = None
    threshold_rule: ThresholdRule | None = None
    text_columns: tuple[str, ...] = ()  # read as text when a source is scored batch by batch
    preparation: Preparation | None = attrs.field(default=None, repr=False)  # prepare="auto"
    #: each feature's typical value, what model-agnostic explanations set a feature to: the
    #: median of the training matrix (steps applied; of at most REFERENCE_ROWS evenly spaced
    #: rows). None in models saved before 1.1 (see pynomaly.detection.explain).
    reference: np.ndarray | None = attrs.field(default=None, repr=False)
    explanation: str = ""  # what detector="auto" / threshold="auto" chose and why

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def __repr__(self) -> str:
        # short whatever the model: never the training scores, nor a thousand feature names
        steps = ", ".join(getattr(s, "name", type(s).__name__) for s in self.steps)
        return (
            f"Model(detector={self.detector!r}, features={self.n_features}, "
            f"threshold={self.threshold:.6g}, steps=[{steps}])"
        )

    def _repr_html_(self) -> str:
        """The model in a notebook: detector, threshold, parameters, features and steps."""
        from pynomaly.detection.display import model_html

        return model_html(self)

    def __getstate__(self) -> dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in attrs.fields(type(self))}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # a model saved before a field existed takes the field's default
        for field in attrs.fields(type(self)):
            object.__setattr__(self, field.name, state.get(field.name, _default(field)))

    def score(
        self,
        data: Any,
        *,
        manager: PluginManager | None = None,
        engine: str = "local",
        scheduler: str | None = None,
        jobs: int | None = 1,
    ) -> np.ndarray:
        """Anomaly scores of new rows (higher = more anomalous), one per row.

        ``engine="dask"`` scores the partitions of ``data`` (a directory or glob of files, or
        a Dask DataFrame) on a Dask cluster — ``scheduler``'s address, else the active
        client, else a local cluster for the call — and gathers the scores here, in
        partition order; only for batch-independent detectors (see
        :mod:`pynomaly.detection.partitioned`).

        ``jobs`` > 1 (``-1``: every core) scores chunks of the rows in that many threads (a
        detector that declares ``threaded_scoring``) or processes when the detector is
        batch-independent, with the same scores (see :mod:`pynomaly.detection.parallel`).
        """
        pm = manager or default_manager()
        from pynomaly.detection import partitioned

        if partitioned.check_engine(engine, scheduler) == "dask":
            tracker = Tracker()
            partitioned.check_batch_independent(pm, self.detector)
            with partitioned.client_for(scheduler, tracker) as client:
                return partitioned.collected(pm, self, data, client=client, tracker=tracker).scores
        X = prepare(pm, data, self, None).X
        with batch_scorer(pm, self, resolve_jobs(jobs)) as scorer:
            return scorer.score(X)

    def predict(self, data: Any, *, manager: PluginManager | None = None) -> np.ndarray:
        """0/1 labels of new rows (1 = anomaly) with the threshold fixed at fit time."""
        return labels_for(self.score(data, manager=manager), self.threshold)

    def detect(self, data: Any, *, manager: PluginManager | None = None) -> DetectionResult:
        """Scores, labels and threshold of new rows as a :class:`DetectionResult`."""
        start = time.perf_counter()
        pm = manager or default_manager()
        prepared = prepare(pm, data, self, None)
        return build_result(pm, self, Scorer(pm, self).score(prepared.X), prepared, start)

    def score_source(
        self,
        source: str | os.PathLike[str],
        *,
        batch_size: int = 50_000,
        source_options: Mapping[str, Any] | None = None,
        manager: PluginManager | None = None,
        jobs: int | None = 1,
        progress: ProgressCallback | Tracker | None = None,
        total_rows: int | None = None,
    ) -> Iterator[DetectionResult]:
        """Detect on a path or URI batch by batch (``pynomaly_read_batches``), never holding
        all of its data in memory: one :class:`DetectionResult` per batch, in input order.

        The next batch is read in a thread while this one is scored. With ``jobs`` > 1 and a
        batch-independent detector, each batch is split across that many threads or, when the
        first rows show that they pay, worker processes (same scores; see
        :mod:`pynomaly.detection.parallel`), and the next batch is prepared while the workers
        score this one.

        ``progress`` is told of the ``score`` phase and each batch done (out of
        ``total_rows``, when the caller knows or estimates it: it also tells ``jobs`` how much
        work is left); waiting for the next batch is timed as the ``read`` phase (see
        :mod:`pynomaly.progress`).
        """
        from pynomaly.detection.stream import read_ahead

        pm = manager or default_manager()
        workers = resolve_jobs(jobs)
        tracker = Tracker.of(progress)
        options = dict(source_options or {})
        if self.text_columns:
            # chunks are typed one by one: a code column ("01", "02", later "X") must stay
            # text in every batch, as in the training read, or fitted encoders see unknowns
            options.setdefault("text_columns", list(self.text_columns))
        conn = data_service.connect(pm, os.fspath(source), options)

        def batches() -> Iterator[pd.DataFrame]:
            return _without_short_tail(data_service.read_batches(pm, conn, batch_size), batch_size)

        detail = f"{self.detector} on {conn.uri}"
        with (
            read_ahead(batches) as ahead,
            batch_scorer(pm, self, workers, total_rows) as scorer,
            tracker.phase("score", total=total_rows, detail=detail) as scoring,
        ):
            # with workers, one batch is scored while the next is prepared and the one before
            # is delivered
            waiting: deque[tuple[Prepared, float, Pending]] = deque()

            def deliver() -> DetectionResult:
                prepared, start, pending = waiting.popleft()
                result = build_result(pm, self, pending.result(), prepared, start)
                result.timings = tracker.timings
                scoring.advance(len(result.scores))
                return result

            while True:
                begin = time.perf_counter()
                batch = next(ahead, None)
                scoring.exclude("read", time.perf_counter() - begin)
                if batch is None:
                    break
                start = time.perf_counter()
                prepared = prepare(pm, batch, self, None, source=conn.uri)  # password masked
                waiting.append((prepared, start, scorer.submit(prepared.X)))
                if len(waiting) > scorer.parallel:
                    yield deliver()
            while waiting:
                yield deliver()

    def save(
        self, path: str | os.PathLike[str], *, overwrite: bool = False, format: str | None = None
    ) -> None:
        """Write this model to ``path`` atomically, signed with the user's key (created on
        first use). ``format="skops"`` writes a payload whose loading runs no code (see
        :func:`pynomaly.load` and :mod:`pynomaly.detection.persistence`)."""
        from pynomaly.detection.persistence import save_model

        save_model(self, path, overwrite=overwrite, format=format)


def _default(field: Any) -> Any:
    """An attrs field's default value (``None`` when it has none)."""
    default: Any = field.default
    if default is attrs.NOTHING:
        return None
    return default.factory() if isinstance(default, attrs.Factory) else default  # type: ignore[arg-type]


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


def build_result(
    pm: PluginManager, model: Model, scores: np.ndarray, prepared: Prepared, start: float
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
        scorer=Scorer(pm, model),
        explanation=model.explanation,
    )
    result = processing.postprocess(pm, result)
    result.duration = time.perf_counter() - start
    return result


@attrs.define(eq=False)
class DetectionResult:
    """Scores (higher = more anomalous), 0/1 labels and the threshold for a set of rows.

    ``data`` holds the input features after ``pynomaly_preprocess`` (label column removed,
    before the processing steps) for display and contributions; ``y_true`` the label column
    when one was given, and ``metrics`` its ROC AUC and average precision. A result can score
    its model's rows (:meth:`contributions`, :meth:`importance`) but holds no plugin manager.
    """

    scores: np.ndarray
    labels: np.ndarray
    threshold: float
    index: pd.Index
    detector: str
    model: Model = attrs.field(repr=False)
    source: str = "<DataFrame>"
    duration: float = 0.0
    data: pd.DataFrame | None = attrs.field(default=None, repr=False)
    y_true: pd.Series | None = attrs.field(default=None, repr=False)
    metrics: dict[str, float] = attrs.field(factory=dict)
    _scorer: Scorer | None = attrs.field(default=None, repr=False, alias="scorer")
    #: seconds per phase of the call that made it (read, prepare, fit, score; the command
    #: line adds explain and write; first_use: first imports and compilations)
    timings: dict[str, float] = attrs.field(factory=dict, repr=False)
    #: what ``detector="auto"`` / ``threshold="auto"`` chose and why (``""`` otherwise)
    explanation: str = ""

    @property
    def n_anomalies(self) -> int:
        return int(self.labels.sum())

    @property
    def preparation(self) -> Preparation | None:
        """What ``prepare="auto"`` did to the data (the model's), else ``None``."""
        return self.model.preparation

    def __repr__(self) -> str:
        # short whatever the number of rows: never the score array
        metrics = "".join(f", {k}={v:.3f}" for k, v in self.metrics.items())
        return (
            f"DetectionResult(detector={self.detector!r}, rows={len(self.scores)}, "
            f"anomalies={self.n_anomalies}, threshold={self.threshold:.6g}{metrics}, "
            f"source={_short(self.source)!r})"
        )

    def _repr_html_(self) -> str:
        """The result in a notebook: summary, top anomalies with their contributions,
        parameters (HTML escaped, no script, no external request)."""
        from pynomaly.detection.display import result_html

        return result_html(self)

    def plot(self, *, ax: Axes | None = None, bins: int | None = None) -> Figure:
        """Histogram of the scores with the threshold as a dashed vertical line, coloured by
        the ground-truth label when it is known (else by the predicted label).

        Drawn into ``ax`` when given, else into a new figure; returns the figure. matplotlib
        is imported here, and the global pyplot state is left alone.
        """
        from pynomaly.detection import plots

        return plots.scores(self, ax=ax, bins=bins)

    def plot_contributions(
        self, row: Any = None, *, ax: Axes | None = None, features: int = 15
    ) -> Figure:
        """Bar chart of one row's feature contributions (see :meth:`contributions`): how much
        each feature raises (red) or lowers (blue) the row's score, the ``features`` largest
        in size. ``row`` is an index label; by default the highest-scoring row. Returns the
        figure (``ax``'s when given)."""
        from pynomaly.detection import plots

        return plots.contributions(self, row, ax=ax, features=features)

    def to_frame(self) -> pd.DataFrame:
        """The input index with ``anomaly_score`` and ``is_anomaly`` columns."""
        return pd.DataFrame(
            {"anomaly_score": self.scores, "is_anomaly": self.labels}, index=self.index
        )

    def top(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` highest-scoring rows, with their features when the input data is known.

        Selected by position, so that a duplicated index cannot mix rows up.
        """
        order = self._top_positions(n)
        frame = self.to_frame().iloc[order]
        if self.data is not None:
            features = self.data.iloc[order].set_axis(frame.index)
            # an input column may itself be called anomaly_score (a previous run's output)
            clash = {c: f"{c} (input)" for c in features.columns if c in frame.columns}
            frame = pd.concat([frame, features.rename(columns=clash)], axis=1)
        return frame

    def __getstate__(self) -> dict[str, Any]:
        # the scorer (and the manager behind it) stays behind: a result pickles like its model
        state = {field.name: getattr(self, field.name) for field in attrs.fields(type(self))}
        state["_scorer"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for field in attrs.fields(type(self)):  # fields a result pickled earlier lacks: defaults
            object.__setattr__(self, field.name, state.get(field.name, _default(field)))
        # results pickled by pynomaly 1.0 had a "manager" instead of a scorer: left behind

    def contributions(self, n: int = 10, *, sample: int | None = None) -> pd.DataFrame:
        """For the ``n`` highest-scoring rows, how much each feature raises its score (see
        :func:`pynomaly.contributions`): rows by index, highest score first, columns by
        feature. Only these rows are explained; a row's contributions do not depend on ``n``.

        ``sample`` is accepted and ignored since 1.1: the reference row is the model's, not
        the median of a sample of the data.
        """
        del sample  # kept so that calls written for 1.0 still work
        return self._contributions_at(self._top_positions(n))

    def _contributions_at(self, positions: Any) -> pd.DataFrame:
        """:meth:`contributions` of the rows at ``positions`` (of the rows scored together,
        which only a detector that is not batch-independent needs)."""
        return explaining.contributions(self._scoring(), self._data(), np.asarray(positions))

    def importance(self, *, sample: int = 2000) -> pd.Series:
        """Per-feature importance of the model on the input data (a random sample of at most
        ``sample`` rows; see :func:`pynomaly.explain`)."""
        data = self._data()
        used = data if len(data) <= sample else data.sample(sample, random_state=0)
        return explaining.importance(self._scoring(), used)

    def _data(self) -> pd.DataFrame:
        if self.data is None:
            raise DataError("explanations need the input data, which this result lacks")
        return self.data

    def _scoring(self) -> Scorer:
        # a result built without one (unpickled, or made by hand) scores with the default manager
        return self._scorer or Scorer(default_manager(), self.model)

    def _top_positions(self, n: int) -> np.ndarray:
        return top_positions(self.scores, n)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: rows, anomalies, threshold, detector, source, seconds."""
        out = summary_of(self, len(self.scores))
        if self.preparation is not None:
            out["preparation"] = self.preparation.to_dict()
        if self.explanation:
            out["explanation"] = self.explanation
        return out


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def combine_results(results: Iterable[DetectionResult]) -> DetectionResult:
    """One result from consecutive batch results of the same model, consumed lazily.

    Only scores, labels, indexes and ground truth are kept (not the batches' data), so a large
    source scored batch by batch never has to fit in memory.
    """
    scores: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    indexes: list[pd.Index] = []
    truths: list[pd.Series] = []
    first: DetectionResult | None = None
    duration = 0.0
    for result in results:
        first = first or result
        scores.append(result.scores)
        labels.append(result.labels)
        indexes.append(result.index)
        duration += result.duration
        if result.y_true is not None:
            truths.append(result.y_true)
    if first is None:
        raise DataError("no rows to score: the source is empty")
    all_scores = np.concatenate(scores)
    y_true = pd.concat(truths) if len(truths) == len(scores) else None
    return DetectionResult(
        scores=all_scores,
        labels=np.concatenate(labels),
        threshold=first.threshold,
        index=indexes[0].append(indexes[1:]) if len(indexes) > 1 else indexes[0],
        detector=first.detector,
        model=first.model,
        source=first.source,
        duration=duration,
        y_true=y_true,
        metrics=ranking_metrics(y_true.to_numpy(), all_scores) if y_true is not None else {},
        scorer=first._scorer,
        timings=first.timings,
        explanation=first.explanation,
    )


def summary_of(result: Any, rows: int) -> dict[str, Any]:
    """The summary fields every result has (a :class:`DetectionResult`, a streamed one):
    source, detector, rows, anomalies, contamination, threshold, seconds, timings, metrics."""
    out = {
        "source": result.source,
        "detector": result.detector,
        "rows": rows,
        "anomalies": result.n_anomalies,
        "contamination": result.model.contamination,
        "threshold": result.threshold,
        "seconds": round(result.duration, 4),
    }
    if result.timings:
        out["timings"] = {k: round(v, 4) for k, v in result.timings.items()}
    out.update(result.metrics)
    return out
