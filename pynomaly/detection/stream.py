"""Scoring a source batch by batch in flat memory: each batch is written to the output as soon
as it is scored, and only running summaries are kept (:class:`StreamedResult`).

What a streamed run keeps, whatever the number of rows: the counts of rows and anomalies, the
highest-scoring rows with their features (for the table, the JSON document and their
contributions) and a uniform random sample of at most 2,000 input rows (the reference of the
contributions). ROC AUC and average precision need every score: when the source has the
model's label column, the scores and labels are kept (9 bytes per row) and the metrics are
computed at the end; without one, nothing is kept per row.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import numpy as np
import pandas as pd

from pynomaly.detection import explain as explaining
from pynomaly.detection.prepare import Scorer, default_manager
from pynomaly.detection.results import (
    DetectionResult,
    Model,
    ranking_metrics,
    summary_of,
    top_positions,
)
from pynomaly.errors import DataError

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.types import OutputWriter

T = TypeVar("T")

#: rows of the input kept as the reference of contributions (``contributions(sample=...)``)
SAMPLE_ROWS = 2000


@attrs.define(eq=False)
class StreamedResult:
    """The result of a source scored batch by batch (``pynomaly score``,
    ``pynomaly detect --batch-size``): summaries, not every row.

    Like a :class:`~pynomaly.DetectionResult` it has ``summary()``, ``threshold``, ``metrics``,
    ``n_anomalies``, ``top(n)`` and ``contributions(n)``, but no per-row arrays: the rows
    themselves went to the output as they were scored. ``top(n)`` and ``contributions(n)`` are
    limited to the ``kept`` highest-scoring rows; ``index`` and ``y_true`` are those rows' index
    and ground truth (in ``top()`` order); ``data`` is a uniform random sample of the input rows
    (at most 2,000, preprocessed, before the model's steps), the reference of contributions.
    """

    rows: int
    n_anomalies: int
    threshold: float
    detector: str
    model: Model = attrs.field(repr=False)
    source: str = "<DataFrame>"
    duration: float = 0.0
    metrics: dict[str, float] = attrs.field(factory=dict)
    timings: dict[str, float] = attrs.field(factory=dict)
    index: pd.Index = attrs.field(factory=lambda: pd.RangeIndex(0), repr=False)
    y_true: pd.Series | None = attrs.field(default=None, repr=False)
    data: pd.DataFrame | None = attrs.field(default=None, repr=False)
    _top: pd.DataFrame = attrs.field(factory=pd.DataFrame, repr=False, alias="top")
    _scorer: Scorer | None = attrs.field(default=None, repr=False, alias="scorer")

    @property
    def kept(self) -> int:
        """How many of the highest-scoring rows were kept (``top(n)`` takes at most these)."""
        return len(self._top)

    def top(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` highest-scoring rows (``anomaly_score``, ``is_anomaly``, then their
        features), as :meth:`DetectionResult.top` gives them; ties in input order."""
        self._check(n)
        return self._top.iloc[:n]

    def contributions(self, n: int = 10, *, sample: int | None = None) -> pd.DataFrame:
        """For the ``n`` highest-scoring rows, how much each feature drives its score (see
        :meth:`DetectionResult.contributions`). The rows were scored in many batches: a
        detector that is not batch-independent explains them within a batch of these rows and
        ``data``, the random sample of the input kept while streaming. ``sample`` is accepted
        and ignored, as by :meth:`DetectionResult.contributions`."""
        del sample
        self._check(n)
        if self.data is None or self._features is None:
            raise DataError("explanations need the input data, which this result lacks")
        rows = self._features.iloc[:n]
        scorer = self._scorer or Scorer(default_manager(), self.model)
        batch = pd.concat([rows, self.data[rows.columns]])
        return explaining.contributions(scorer, batch, np.arange(len(rows)))

    @property
    def _features(self) -> pd.DataFrame | None:
        if self.data is None:
            return None
        names = list(self.data.columns)
        features = self._top.iloc[:, 2 : 2 + len(names)]
        return features.set_axis(names, axis=1)

    def _check(self, n: int) -> None:
        if n > self.kept and self.kept < self.rows:
            raise ValueError(
                f"this streamed result kept its {self.kept} highest-scoring rows; "
                f"top({n}) needs more (score again keeping more, e.g. --top {n})"
            )

    @property
    def scores(self) -> np.ndarray:
        raise AttributeError(
            "a StreamedResult holds no per-row scores: they were written to the output as "
            "they were scored (use top(n), or score with Model.score for every row)"
        )

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: rows, anomalies, threshold, detector, source, seconds (and
        ROC AUC / average precision with a label column), as :meth:`DetectionResult.summary`."""
        return summary_of(self, self.rows)


class Summary:
    """Running summaries of batch results (counts, top rows, a random sample, the scores and
    ground truth when labelled), from which :meth:`result` makes a :class:`StreamedResult`."""

    def __init__(self, keep: int = 10, sample: int = SAMPLE_ROWS, seed: int = 0) -> None:
        self.keep = max(0, keep)
        self.capacity = max(0, sample)
        self.rows = 0
        self.anomalies = 0
        self._first: DetectionResult | None = None
        # the best rows so far: anomaly_score, is_anomaly, features; their scores, ground truth
        self._top: pd.DataFrame | None = None
        self._top_scores = np.empty(0)
        self._top_truth: np.ndarray | None = np.empty(0, dtype=np.int8)  # None: unlabelled
        self._labelled: list[tuple[np.ndarray, np.ndarray]] | None = []  # for the metrics
        self._sample: pd.DataFrame | None = None
        self._slots = np.empty(0, dtype=np.int64)
        self._rng = np.random.default_rng(seed)
        self._has_data = True
        self._timings: dict[str, float] = {}

    def add(self, batch: DetectionResult) -> None:
        """Take in one batch's result (rows in input order, after the earlier batches')."""
        if self._first is None:
            self._first = batch
        self._timings = batch.timings  # the tracker's, to date
        if batch.y_true is None:
            self._labelled = None
        elif self._labelled is not None:
            self._labelled.append((batch.scores, batch.y_true.to_numpy()))
        if batch.data is None:
            self._has_data = False
        self._take_top(batch)
        if self._has_data and batch.data is not None:
            self._take_sample(batch.data)
        self.rows += len(batch.scores)
        self.anomalies += batch.n_anomalies

    def _take_top(self, batch: DetectionResult) -> None:
        best = top_positions(batch.scores, self.keep)
        frame = pd.DataFrame(
            {"anomaly_score": batch.scores[best], "is_anomaly": batch.labels[best]},
            index=batch.index[best],
        )
        if self._has_data and batch.data is not None:
            features = batch.data.iloc[best].set_axis(frame.index)
            clash = {c: f"{c} (input)" for c in features.columns if c in frame.columns}
            frame = pd.concat([frame, features.rename(columns=clash)], axis=1)
        scores = batch.scores[best]
        truth = None
        if batch.y_true is not None and self._top_truth is not None:
            truth = batch.y_true.to_numpy()[best]
        if self._top is not None:
            # earlier rows first: a stable sort keeps ties in input order, as top() does
            frame = pd.concat([self._top, frame])
            scores = np.concatenate([self._top_scores, scores])
            if truth is not None and self._top_truth is not None:
                truth = np.concatenate([self._top_truth, truth])
        order = top_positions(scores, self.keep)
        self._top, self._top_scores = frame.iloc[order], scores[order]
        self._top_truth = None if truth is None else truth[order]

    def _take_sample(self, data: pd.DataFrame) -> None:
        """Reservoir sampling (algorithm R), a batch at a time: every row seen so far has the
        same chance to be in the sample."""
        if self.capacity == 0:
            return
        seen = self.rows + np.arange(len(data))
        slots = np.where(seen < self.capacity, seen, self._rng.integers(0, seen + 1))
        taken = np.flatnonzero(slots < self.capacity)
        if not len(taken):
            return
        # a slot drawn twice in this batch holds the later row
        backwards = slots[taken][::-1]
        slot, first = np.unique(backwards, return_index=True)
        rows = taken[::-1][first]
        kept = ~np.isin(self._slots, slot)
        new = data.iloc[rows]
        self._sample = new if self._sample is None else pd.concat([self._sample[kept], new])
        self._slots = np.concatenate([self._slots[kept], slot])

    def result(self, duration: float) -> StreamedResult:
        """The :class:`StreamedResult` of every batch taken in."""
        first = self._first
        if first is None or self._top is None:
            raise DataError("no rows to score: the source is empty")
        metrics: dict[str, float] = {}
        if self._labelled:
            scores = np.concatenate([s for s, _ in self._labelled])
            truth = np.concatenate([y for _, y in self._labelled])
            metrics = ranking_metrics(truth, scores)
        y_true = None
        if self._top_truth is not None and first.y_true is not None:
            y_true = pd.Series(self._top_truth, index=self._top.index, name=first.y_true.name)
        return StreamedResult(
            rows=self.rows,
            n_anomalies=self.anomalies,
            threshold=first.threshold,
            detector=first.detector,
            model=first.model,
            source=first.source,
            duration=duration,
            metrics=metrics,
            timings=dict(self._timings),
            index=self._top.index,
            y_true=y_true,
            data=self._sample if self._has_data else None,
            top=self._top,
            scorer=first._scorer,
        )


def stream(
    batches: Iterable[DetectionResult],
    writer: OutputWriter | None = None,
    *,
    keep: int = 10,
    sample: int = SAMPLE_ROWS,
) -> StreamedResult:
    """Write each batch result to ``writer`` as it comes and summarize them; the writer is
    closed with the :class:`StreamedResult` at the end, or aborted if anything fails."""
    start = time.perf_counter()
    summary = Summary(keep, sample)
    try:
        for batch in batches:
            if writer is not None:
                writer.write(batch)
            summary.add(batch)
        result = summary.result(time.perf_counter() - start)
        if writer is not None:
            writer.close(result)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    return result


def batches_of(result: DetectionResult, size: int) -> Iterator[DetectionResult]:
    """``result`` as consecutive results of at most ``size`` rows each (views, not copies),
    for writing an output a batch at a time."""
    for start in range(0, len(result.scores), size):
        rows = slice(start, start + size)
        yield attrs.evolve(
            result,
            scores=result.scores[rows],
            labels=result.labels[rows],
            index=result.index[rows],
            data=None if result.data is None else result.data.iloc[rows],
            y_true=None if result.y_true is None else result.y_true.iloc[rows],
            metrics={},
        )


_END = object()


@contextmanager
def read_ahead(make: Callable[[], Iterable[T]], depth: int = 1) -> Iterator[Iterator[T]]:
    """The items of ``make()``, produced in a thread up to ``depth`` items ahead of the
    consumer (reading the next batch while this one is scored). The thread also calls
    ``make``, so a source is opened and read in one thread. An exception in the thread is
    raised to the consumer; leaving the ``with`` block stops the thread and closes the source.
    """
    items: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue(maxsize=max(1, depth))
    stop = threading.Event()

    def put(item: Any, error: BaseException | None = None) -> bool:
        while not stop.is_set():
            try:
                items.put((item, error), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        source: Any = None
        try:
            source = iter(make())
            for item in source:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_END, exc)
        finally:
            close = getattr(source, "close", None)
            if callable(close):
                # the consumer has what it needs (or an error of its own): a close error is moot
                with contextlib.suppress(Exception):
                    close()

    def consume() -> Iterator[T]:
        while True:
            item, error = items.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield item

    thread = threading.Thread(target=produce, name="pynomaly-read-ahead", daemon=True)
    thread.start()
    try:
        yield consume()
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                items.get(timeout=0.1)  # unblock a put
        thread.join()
