"""What detection returns: a fitted :class:`Model` and a :class:`DetectionResult`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.manager import PluginManager


def threshold_for(training_scores: np.ndarray, contamination: float) -> float:
    """The score above which a row is an anomaly: PyOD's rule, the (1 - contamination)
    percentile of the training scores, so that about ``contamination`` of them lie above it."""
    return float(np.percentile(training_scores, 100.0 * (1.0 - contamination)))


def labels_for(scores: np.ndarray, threshold: float) -> np.ndarray:
    """1 where the score is above the threshold (an anomaly), else 0."""
    return (scores > threshold).astype(np.int8)


@attrs.define(eq=False)
class Model:
    """A fitted detector: scores and labels new data the way it was trained.

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


@attrs.define(eq=False)
class DetectionResult:
    """Scores (higher = more anomalous), 0/1 labels and the threshold for a set of rows."""

    scores: np.ndarray
    labels: np.ndarray
    threshold: float
    index: pd.Index
    detector: str
    model: Model = attrs.field(repr=False)
    source: str = "<DataFrame>"
    duration: float = 0.0
    data: pd.DataFrame | None = attrs.field(default=None, repr=False)

    @property
    def n_anomalies(self) -> int:
        return int(self.labels.sum())

    def to_frame(self) -> pd.DataFrame:
        """The input index with ``anomaly_score`` and ``is_anomaly`` columns."""
        return pd.DataFrame(
            {"anomaly_score": self.scores, "is_anomaly": self.labels}, index=self.index
        )

    def top(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` highest-scoring rows, with their features when the input data is known."""
        frame = self.to_frame()
        if self.data is not None:
            frame = frame.join(self.data, how="left")
        return frame.sort_values("anomaly_score", ascending=False, kind="stable").head(n)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: rows, anomalies, threshold, detector, source, seconds."""
        return {
            "source": self.source,
            "detector": self.detector,
            "rows": len(self.scores),
            "anomalies": self.n_anomalies,
            "contamination": self.model.contamination,
            "threshold": self.threshold,
            "seconds": round(self.duration, 4),
        }
