"""Scores against ground truth, agreement between detectors, and measuring one run."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

T = TypeVar("T")


def roc_auc(y: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, scores))


def average_precision(y: np.ndarray, scores: np.ndarray) -> float:
    from sklearn.metrics import average_precision_score

    return float(average_precision_score(y, scores))


def f1(y: np.ndarray, labels: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, labels, zero_division=0.0))


def ranks(values: Sequence[float], *, higher_is_better: bool = True) -> np.ndarray:
    """1 for the best value, ties sharing the average rank; NaN counts as the worst."""
    from scipy.stats import rankdata

    v = np.asarray(values, dtype=np.float64)
    v = np.where(np.isnan(v), -np.inf if higher_is_better else np.inf, v)
    return np.asarray(rankdata(-v if higher_is_better else v, method="average"))


def spearman(scores: Sequence[np.ndarray]) -> np.ndarray:
    """The Spearman rank correlation of every pair of score vectors (a square matrix)."""
    from scipy.stats import spearmanr

    if len(scores) == 1:
        return np.ones((1, 1))
    rho = spearmanr(np.column_stack(scores)).statistic
    return np.atleast_2d(np.asarray(rho, dtype=np.float64))


def rank_scores(scores: np.ndarray) -> np.ndarray:
    """Each score's rank among ``scores`` as a fraction in (0, 1] (average for ties)."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(scores, method="average")) / len(scores)


def measured(function: Callable[[], T]) -> tuple[T, float, int]:
    """``function()``, its wall time in seconds and the peak memory it allocated (bytes).

    The peak is what ``tracemalloc`` sees: every allocation through Python's allocators, numpy's
    arrays included, but not memory that native libraries allocate themselves (BLAS workspaces,
    numba). It is traced in the same run as the time, which tracing slows a little.
    """
    already = tracemalloc.is_tracing()
    if not already:
        tracemalloc.start()
    tracemalloc.reset_peak()
    start_memory = tracemalloc.get_traced_memory()[0]
    start = time.perf_counter()
    try:
        value = function()
    finally:
        seconds = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] - start_memory
        if not already:
            tracemalloc.stop()
    return value, seconds, max(0, int(peak))


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def jsonable(value: Any) -> Any:
    """NaN → None, numpy scalars → Python's, recursively."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
