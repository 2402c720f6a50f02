"""Scores against ground truth, agreement between detectors, and measuring one run."""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from pynomaly._peak import peak_rss, reset_peak

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
    if len(scores) == 2:  # scipy gives the one coefficient, not the matrix
        return np.array([[1.0, float(rho)], [float(rho), 1.0]])
    return np.asarray(rho, dtype=np.float64)


def rank_scores(scores: np.ndarray) -> np.ndarray:
    """Each score's rank among ``scores`` as a fraction in (0, 1] (average for ties)."""
    from scipy.stats import rankdata

    return np.asarray(rankdata(scores, method="average")) / len(scores)


def measured(function: Callable[[], T]) -> tuple[T, float, int]:
    """``function()``, its wall time in seconds and its peak memory in bytes.

    The peak is how far the process's resident memory rose above its level at the start of the
    call: on Linux the kernel's high-water mark (``VmHWM``), reset before the call, so native
    allocations (BLAS, numba, scikit-learn's trees) count, however briefly held, and memory the
    process had already reserved and reuses does not. Where the mark cannot be reset,
    ``tracemalloc`` measures the Python-level allocations instead, which slows the call (up to
    10× for IForest), so the time is then taken in a second, untraced run.
    """
    if not (_STATM.exists() and reset_peak()):
        return _traced(function)
    start_rss = _rss(os.sysconf("SC_PAGE_SIZE"))
    start = time.perf_counter()
    value = function()
    seconds = time.perf_counter() - start
    return value, seconds, max(0, peak_rss() - start_rss)


_STATM = Path("/proc/self/statm")


def _rss(page: int) -> int:
    return int(_STATM.read_text().split()[1]) * page


def _traced(function: Callable[[], T]) -> tuple[T, float, int]:
    tracemalloc.start()
    try:
        function()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    start = time.perf_counter()
    value = function()
    return value, time.perf_counter() - start, int(peak)


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
