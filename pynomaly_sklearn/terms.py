"""Per-feature terms of a Mahalanobis score, for ``sklearn:elliptic`` and PyOD's MCD (which
scores with scikit-learn's ``MinCovDet``).

The score is the squared Mahalanobis distance ``d² = δᵀPδ`` (``δ = x - location_``, ``P`` the
precision matrix). Its terms are the squares of the **ZCA-cor whitened** deviation
``z = R^(-1/2) D^(-1/2) δ`` (``D`` the variances, ``R`` the correlation matrix of the fitted
covariance): ``Σ_j z_j² = d²`` exactly, every term is ``>= 0``, and of all whitenings this one
keeps each ``z_j`` closest to its own standardized feature (Kessy, Lewin and Strimmer, "Optimal
whitening and decorrelation", 2018), so that ``z_j²`` is feature ``j``'s share. It does not
depend on the features' units. Two nearly collinear features whose values disagree share the
disagreement's term equally; features that deviate together, consistently, share theirs by how
far each deviates.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def mahalanobis_terms(estimator: Any, X: np.ndarray) -> np.ndarray:
    """The terms ``z_j²`` of each row of ``X`` for a fitted scikit-learn covariance estimator
    (``location_``, ``covariance_``, ``get_precision()``): they add up to its
    ``mahalanobis(X)``."""
    precision = np.asarray(estimator.get_precision(), dtype=np.float64)
    scale = np.sqrt(np.diag(np.asarray(estimator.covariance_, dtype=np.float64)))
    scale[~(scale > 0)] = 1.0  # a constant feature: any positive scale keeps the sum exact
    # D^(1/2) P D^(1/2) is the inverse correlation matrix; its symmetric square root whitens
    values, vectors = np.linalg.eigh(precision * scale[:, None] * scale[None, :])
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    z = ((np.asarray(X, dtype=np.float64) - estimator.location_) / scale) @ root
    terms: np.ndarray = z * z
    return terms
