"""What detection returns: a fitted :class:`Model` and a :class:`DetectionResult`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from pynomaly.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.manager import PluginManager
    from pynomaly.types import ProcessingStep

THRESHOLD_RULES = ("contamination", "percentile", "score")


@attrs.frozen
class ThresholdRule:
    """How the label threshold is derived from the training scores.

    ``contamination`` (PyOD's rule): the (1 - value) percentile, so that about ``value`` of the
    training rows are anomalies; ``percentile``: that percentile (0–100) of the training
    scores; ``score``: the fixed score ``value``.
    """

    kind: str = attrs.field(validator=attrs.validators.in_(THRESHOLD_RULES))
    value: float

    def threshold(self, training_scores: np.ndarray) -> float:
        if self.kind == "contamination":
            return float(np.percentile(training_scores, 100.0 * (1.0 - self.value)))
        if self.kind == "percentile":
            return float(np.percentile(training_scores, self.value))
        return float(self.value)


def threshold_for(training_scores: np.ndarray, contamination: float) -> float:
    """PyOD's threshold: the (1 - contamination) percentile of the training scores."""
    return ThresholdRule("contamination", contamination).threshold(training_scores)


def labels_for(scores: np.ndarray, threshold: float) -> np.ndarray:
    """1 where the score is above the threshold (an anomaly), else 0."""
    return (scores > threshold).astype(np.int8)


def ranking_metrics(y_true: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """ROC AUC and average precision of ``scores`` against 0/1 ground truth (1 = anomaly).

    Computed here with numpy/pandas (ties get average ranks, as scikit-learn's do), so the core
    does not depend on a detector library. Empty when only one class is present.
    """
    y = np.asarray(y_true, dtype=np.int64)
    positives = int(y.sum())
    negatives = len(y) - positives
    if positives == 0 or negatives == 0:
        return {}
    ranks = pd.Series(scores).rank(method="average").to_numpy()
    roc_auc = (ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives)
    # average precision: precision at each distinct score threshold, weighted by recall gained
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_y = scores[order], y[order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(sorted_scores)), len(y) - 1]
    tp = np.cumsum(sorted_y)[last_of_tie]
    precision = tp / (last_of_tie + 1)
    recall_gain = np.diff(np.r_[0, tp]) / positives
    return {"roc_auc": float(roc_auc), "average_precision": float(np.sum(precision * recall_gain))}


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

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def score(self, data: Any, *, manager: PluginManager | None = None) -> np.ndarray:
        """Anomaly scores of new rows (higher = more anomalous), one per row."""
        from pynomaly.detection import api

        return api.score(self, data, manager=manager)

    def predict(self, data: Any, *, manager: PluginManager | None = None) -> np.ndarray:
        """0/1 labels of new rows (1 = anomaly) with the threshold fixed at fit time."""
        return labels_for(self.score(data, manager=manager), self.threshold)

    def detect(self, data: Any, *, manager: PluginManager | None = None) -> DetectionResult:
        """Scores, labels and threshold of new rows as a :class:`DetectionResult`."""
        from pynomaly.detection import api

        return api.detect_with(self, data, manager=manager)

    def score_source(
        self,
        source: str,
        *,
        batch_size: int = 50_000,
        source_options: Mapping[str, Any] | None = None,
        manager: PluginManager | None = None,
    ) -> Iterator[DetectionResult]:
        """Detect on a path or URI batch by batch, never holding all of its data in memory."""
        from pynomaly.detection import api

        return api.detect_batches(
            self, source, batch_size=batch_size, source_options=source_options, manager=manager
        )


@attrs.define(eq=False)
class DetectionResult:
    """Scores (higher = more anomalous), 0/1 labels and the threshold for a set of rows.

    ``data`` holds the input features after ``pynomaly_preprocess`` (label column removed,
    before the processing steps) for display and contributions; ``y_true`` the label column
    when one was given, and ``metrics`` its ROC AUC and average precision.
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
    manager: PluginManager | None = attrs.field(default=None, repr=False)

    @property
    def n_anomalies(self) -> int:
        return int(self.labels.sum())

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
        # the manager (and the plugins it holds) stays behind: a result pickles like its model
        state = {field.name: getattr(self, field.name) for field in attrs.fields(type(self))}
        state["manager"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            object.__setattr__(self, name, value)

    def contributions(self, n: int = 10, *, sample: int = 2000) -> pd.DataFrame:
        """For the ``n`` highest-scoring rows, how much each feature drives its score.

        The score drop when the feature is set to its median over the input data (a sample
        of at most ``sample`` rows, processing steps applied), so a row's contributions do not
        depend on ``n``. One batch of ``n × features`` rows is scored; rows by index, columns
        by feature.
        """
        from pynomaly.detection import api

        if self.data is None:
            raise DataError("contributions need the input data, which this result lacks")
        data = self.data
        reference = data if len(data) <= sample else data.sample(sample, random_state=0)
        rows = data.iloc[self._top_positions(n)]
        return api.row_contributions(self.model, rows, reference=reference, manager=self.manager)

    def _top_positions(self, n: int) -> np.ndarray:
        return np.argsort(-self.scores, kind="stable")[:n]

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: rows, anomalies, threshold, detector, source, seconds."""
        out = {
            "source": self.source,
            "detector": self.detector,
            "rows": len(self.scores),
            "anomalies": self.n_anomalies,
            "contamination": self.model.contamination,
            "threshold": self.threshold,
            "seconds": round(self.duration, 4),
        }
        out.update(self.metrics)
        return out


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
        manager=first.manager,
    )
