"""Model-agnostic feature importance, used when no plugin explains a detector itself."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def ablation_importance(score: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> np.ndarray:
    """Mean absolute change of each row's score when one feature is set to its median.

    One batch scored per feature; works for any detector and never modifies ``X``.
    """
    base = np.asarray(score(X), dtype=np.float64)
    medians = np.median(X, axis=0)
    importances = np.empty(X.shape[1])
    work = np.array(X, dtype=np.float64, copy=True)
    for j in range(X.shape[1]):
        column = work[:, j].copy()
        work[:, j] = medians[j]
        importances[j] = np.mean(np.abs(np.asarray(score(work), dtype=np.float64) - base))
        work[:, j] = column
    return importances
