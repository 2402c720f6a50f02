"""The arithmetic of the ``ensemble`` plugin on a matrix of member scores (rows × members).

Imported only when an ensemble is fitted or scored: listing plugins must not pay for it. See
:mod:`pynomaly.builtin.ensemble` for what each combination does.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np


@attrs.frozen
class Combiner:
    """A fitted combination: the training statistics of each member's scores."""

    kind: str
    center: Any = attrs.field(repr=False)  # per member: median (or sorted scores for rank)
    scale: Any = attrs.field(repr=False)
    n_buckets: int = 1


def robust_scale(S: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the median, and 1.4826 · MAD (else IQR / 1.349, else the standard deviation,
    else 1) — each an estimate of the standard deviation of normal scores."""
    center = np.median(S, axis=0)
    scale = 1.4826 * np.median(np.abs(S - center), axis=0)
    q1, q3 = np.percentile(S, [25.0, 75.0], axis=0)
    for fallback in ((q3 - q1) / 1.349, S.std(axis=0), np.ones(S.shape[1])):
        scale = np.where(scale > 0, scale, fallback)
    return center, scale


def combine(combiner: Combiner, S: np.ndarray) -> np.ndarray:
    """The combined score of each row of member scores ``S`` (rows × members)."""
    if combiner.kind == "rank":
        ranks = np.empty(S.shape, dtype=np.float64)
        train = combiner.center
        n = train.shape[0]
        for j in range(S.shape[1]):
            low = np.searchsorted(train[:, j], S[:, j], side="left")
            high = np.searchsorted(train[:, j], S[:, j], side="right")
            ranks[:, j] = (low + high) / (2.0 * n)
        return ranks.mean(axis=1)
    Z = (S - combiner.center) / combiner.scale
    if combiner.kind == "mean":
        return Z.mean(axis=1)
    if combiner.kind == "max":
        return Z.max(axis=1)
    groups = np.array_split(np.arange(Z.shape[1]), combiner.n_buckets)
    if combiner.kind == "aom":
        return np.column_stack([Z[:, g].max(axis=1) for g in groups]).mean(axis=1)
    return np.column_stack([Z[:, g].mean(axis=1) for g in groups]).max(axis=1)  # moa
