"""Per-row contributions of the PyOD detectors whose score is a sum of per-feature terms.

Each function returns a ``(rows, features)`` array whose row sums are the scores
:func:`pynomaly_pyod.plugin.pynomaly_score` gives the same rows (up to rounding): the detector's
own account of its score, computed from the fitted state without scoring anything again.

* ECOD and COPOD: the per-dimension outlier terms ``O_j`` (tail probabilities, as ``-log``),
  what PyOD's ``explain_outlier`` plots (:func:`pynomaly_pyod.ecdf.terms`).
* HBOS: ``-log2`` of each feature's histogram density (plus ``alpha``), PyOD's per-feature
  terms before its sum, from the same numba function its scoring uses (no new compilation:
  the array is the same type and layout).
* PCA: PyOD's score is ``Σ_k d_k / w_k``, ``d_k`` the Euclidean distance of the (standardized)
  row to the ``k``-th selected component and ``w_k`` its weight. Feature ``j``'s term is its
  share of each distance, ``Σ_k (x_j - c_kj)² / (w_k d_k)`` (``d_k = Σ_j (x_j - c_kj)² / d_k``).
* MCD: PyOD scores with scikit-learn's ``MinCovDet`` (its ``detector_``), whose squared
  Mahalanobis distance is split into ZCA-cor whitened terms as for ``sklearn:elliptic``
  (:mod:`pynomaly_sklearn.terms`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

# cells of the (rows, components, features) temporary of a PCA block
_PCA_CELLS = 2_000_000


def hbos_terms(state: Any, X: np.ndarray) -> np.ndarray:
    from pyod.models import hbos
    from sklearn.utils import check_array

    X = check_array(X)  # as HBOS.decision_function
    if X.shape[0] == 1:  # pynomaly's reference row: typed C-ordered by numba, whatever its
        # order, a layout the fit may not have compiled: two copies take the fit's layout
        return hbos_terms(state, np.repeat(X, 2, axis=0))[:1]
    if isinstance(state.n_bins, str) and state.n_bins.lower() == "auto":
        log_density = hbos._calculate_outlier_scores_auto(
            X, state.bin_edges_, state.hist_, state.alpha, state.tol
        )
    else:
        function = hbos._calculate_outlier_scores
        log_density = function(
            _compiled_layout(function, X),
            state.bin_edges_,
            state.hist_,
            state.n_bins,
            state.alpha,
            state.tol,
        )
    return -np.asarray(log_density, dtype=np.float64)  # PyOD's invert_order of the sum


def pca_terms(state: Any, X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if state.standardization:
        X = state.scaler_.transform(X)
    components = np.asarray(state.selected_components_, dtype=np.float64)  # (k, features)
    weights = np.asarray(state.selected_w_components_, dtype=np.float64)  # (k,)
    out = np.empty(X.shape, dtype=np.float64)
    step = max(1, _PCA_CELLS // max(1, components.size))
    for start in range(0, X.shape[0], step):
        squares = (X[start : start + step, None, :] - components[None, :, :]) ** 2
        distances = np.sqrt(squares.sum(axis=2))  # (rows, k)
        with np.errstate(divide="ignore"):
            # a row on a component is at distance 0 from it: that component adds nothing
            share = np.where(distances > 0, 1.0 / (distances * weights), 0.0)
        out[start : start + step] = np.einsum("rkf,rk->rf", squares, share)
    return out


def _compiled_layout(function: Any, X: np.ndarray) -> np.ndarray:
    """``X`` as an array type the numba ``function`` is already compiled for. numba compiles
    one specialization per memory layout (C, Fortran, strided) and writability, and the fit
    compiled those of the training matrix (pynomaly's: read-only, Fortran-ordered for a
    DataFrame's): another one would cost seconds."""
    compiled = sorted(  # (layout, writable) of each compiled X
        (t.layout, t.mutable)
        for t in (sig[0] for sig in getattr(function, "signatures", ()))
        if hasattr(t, "layout")
    )
    own = ("C" if X.flags.c_contiguous else "F" if X.flags.f_contiguous else "A", X.flags.writeable)
    if not compiled or own in compiled:
        return X
    for layout, writable in compiled:
        if layout == "F" and min(X.shape) == 1:  # one row or column is typed C whatever its order
            continue
        if layout == "A":  # strided, as a row selection of a Fortran-ordered matrix is
            out = np.empty((X.shape[0] + 1, X.shape[1]), order="F")[:-1]
            out[...] = X
        else:
            out = np.array(X, dtype=np.float64, order=layout, copy=True)
        out.flags.writeable = writable
        return out
    return X
