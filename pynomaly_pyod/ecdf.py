"""Batch-independent scoring of new rows for PyOD's ECOD and COPOD.

PyOD scores new rows of a fitted ECOD or COPOD by ranking them together with a copy of the whole
training set and the rest of their batch (``decision_function`` concatenates and re-sorts
everything on every call): a row's score depends on the batch it came in, each call costs a
sort of the training data, and the fitted estimator keeps the training data plus four arrays of
its size. Here the fitted state keeps only the sorted training columns and four moments per
column, and a new row ``x`` gets the score PyOD gives a batch holding ``x`` alone
(``decision_function(x[None, :])``), whatever else is scored with it.

That definition, for column ``j`` with ``n`` training values ``t`` and ``N = n + 1`` values
once ``x`` joins them:

* PyOD's ECDF of the ``N`` values is ``linspace(1/N, 1, N)`` along the sorted values, tied
  values taking the highest probability of their group. For ``x`` that is the entry at index
  ``#{t <= x_j}`` (left tail, ``U_l = -log`` of it) and at ``#{t >= x_j}`` for the negated column
  (right tail, ``U_r``): two binary searches in the sorted column.
* ``s`` is the sign of the skewness of the ``N`` values (:func:`scipy.stats.skew`, NaN → 0),
  and ``U_skew = -U_l * sign(s - 1) + U_r * sign(s + 1)``.
* ECOD: ``O_j = max(U_l, U_r, U_skew)``; COPOD: ``O_j = max(U_skew, (U_l + U_r) / 2)``; the
  score is ``sum_j O_j``.

The skewness of the training values plus ``x`` follows from the training values' centred sums
(``Σd²``, ``Σd³``) in closed form. When it is zero up to rounding (a symmetric column and ``x``
at its centre, a constant column, overflow) the closed form cannot tell the sign that PyOD's
floating-point arithmetic gives, and the sign is computed PyOD's way, with its order of
additions, on the training column plus ``x`` (one pass over the column per distinct such
value). The training column is then in sorted order rather than PyOD's row order, which changes
nothing when the sums are exact (integer or other exactly representable values) or the column
is constant. Where PyOD's own skewness is rounding noise in a column that is neither (a true
``Σd³`` within PyOD's rounding error of zero but not zero) its sign depends on the row order
and the two may differ; the score then differs in that column's term.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np

METHODS = ("ecod", "copod")

# Relative margins within which the closed-form centred sums may be rounding noise (their own
# error is ~eps·log2(N) of these scales): the sign is then computed PyOD's way. Wider margins
# send more cells of continuous data down that slow path (it grows with the training rows).
_M3_MARGIN = 1e-12
_M2_MARGIN = 1e-10
# Rows per block while scoring: bounds the temporaries (a few arrays of this × n_features).
_BLOCK = 16_384


_FIELDS = ("sorted_columns", "mean", "sum_d2", "sum_d3", "sum_abs_d3", "max_abs_d")


class EcdfState:
    """What ECOD/COPOD need to score new rows: the sorted training columns and, per column,
    the training mean, centred sums ``Σd²`` and ``Σd³``, ``Σ|d|³`` and ``max|d|``.

    ``sorted_columns`` has shape ``(n_features, n_rows)``: one sorted, contiguous column per
    feature. Nothing else of the training data is kept, so a saved model is about the size of
    its training data.

    Made by :func:`fit_state`, it keeps a copy of the training data, one contiguous column per
    feature, and computes those arrays on first use (scoring new rows, explaining, pickling):
    a ``detect`` that only needs the training scores, which PyOD's fit gives, never pays for
    the sort. The copy is sorted in place and becomes ``sorted_columns``: no other array of
    the training data's size is allocated (the first touch of fresh memory for a few of them
    cost 1.8 s of system time on 1M × 20). It pickles as the arrays.
    """

    __slots__ = ("_arrays", "_lock", "_training", "method")

    def __init__(self, method: str, training: np.ndarray | None = None, **arrays: Any) -> None:
        if (training is None) == (set(arrays) != set(_FIELDS)):
            raise TypeError(f"give either the training data or the arrays {_FIELDS}")
        self._set(method, None if training is None else _columns(training), arrays or None)

    @classmethod
    def _of_columns(cls, method: str, columns: np.ndarray) -> EcdfState:
        """A state owning ``columns``, the training data's (no copy: sorted in place on first
        use)."""
        state = cls.__new__(cls)
        state._set(method, columns, None)
        return state

    def _set(
        self, method: str, columns: np.ndarray | None, arrays: dict[str, np.ndarray] | None
    ) -> None:
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.method = method
        # the training data's columns (n_features × n_rows), a copy this state owns
        self._training = columns
        self._arrays = arrays
        self._lock = threading.Lock()

    def _fitted(self) -> dict[str, np.ndarray]:
        arrays = self._arrays
        if arrays is None:
            with self._lock:  # two threads scoring a fresh model sort once
                arrays = self._arrays
                if arrays is None:
                    assert self._training is not None
                    arrays = self._arrays = _fit_arrays(self._training)
                    self._training = None
        return arrays

    @property
    def sorted_columns(self) -> np.ndarray:
        return self._fitted()["sorted_columns"]

    @property
    def mean(self) -> np.ndarray:
        return self._fitted()["mean"]

    @property
    def sum_d2(self) -> np.ndarray:
        return self._fitted()["sum_d2"]

    @property
    def sum_d3(self) -> np.ndarray:
        return self._fitted()["sum_d3"]

    @property
    def sum_abs_d3(self) -> np.ndarray:
        return self._fitted()["sum_abs_d3"]

    @property
    def max_abs_d(self) -> np.ndarray:
        return self._fitted()["max_abs_d"]

    @property
    def n_train(self) -> int:
        data = self._training if self._arrays is None else None
        return int((data if data is not None else self.sorted_columns).shape[1])

    @property
    def n_features(self) -> int:
        data = self._training if self._arrays is None else None
        return int((data if data is not None else self.sorted_columns).shape[0])

    def __repr__(self) -> str:
        return f"EcdfState(method={self.method!r}, n_train={self.n_train}, " \
               f"n_features={self.n_features})"

    def __getstate__(self) -> dict[str, Any]:
        return {"method": self.method, **self._fitted()}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._set(state["method"], None, {name: state[name] for name in _FIELDS})


def fit_state(method: str, X: np.ndarray, spare: Any = None) -> EcdfState:
    """The scoring state of ``method`` (``"ecod"`` or ``"copod"``) fitted on ``X`` (copied:
    the caller may change ``X`` afterwards; the arrays are computed on first use).

    ``spare`` is an array nothing else uses any more, which the copy may be written into
    instead of a new one (PyOD's fitted estimator's own n × d work arrays, which it drops):
    taken when it is a writeable, C-ordered float64 array of ``X``'s size owning its memory.
    """
    if (
        isinstance(spare, np.ndarray)
        and spare.size == X.size
        and spare.dtype == np.float64
        and spare.flags.c_contiguous
        and spare.flags.writeable
        and spare.flags.owndata
        and not np.shares_memory(spare, X)
    ):
        columns = spare.reshape(X.shape[1], X.shape[0])
        np.copyto(columns, X.T)
    else:
        columns = _columns(X)
    return EcdfState._of_columns(method, columns)


def _columns(X: np.ndarray) -> np.ndarray:
    """A copy of ``X``'s columns, each one contiguous (``n_features × n_rows``)."""
    columns = np.empty((X.shape[1], X.shape[0]), dtype=np.float64)
    np.copyto(columns, np.asarray(X).T, casting="unsafe")
    return columns


def _fit_arrays(columns: np.ndarray) -> dict[str, np.ndarray]:
    """The state's arrays from the training columns, which are sorted in place."""
    k = columns.shape[0]
    mean, sum_d2, sum_d3, sum_abs_d3, max_abs_d = (np.empty(k) for _ in range(5))
    for j, column in enumerate(columns):  # one column's temporaries at a time
        mean[j] = column.mean()
        d = column - mean[j]
        abs_d = np.abs(d)
        d2 = d * d
        sum_d2[j] = d2.sum()
        # contiguous 1-D sums are pairwise: rounding error ~eps·log2(n), which the margins of
        # _closed_form_sign assume (a dot product's sequential one can be ~eps·n)
        sum_d3[j] = (d2 * d).sum()
        sum_abs_d3[j] = (d2 * abs_d).sum()
        max_abs_d[j] = abs_d.max(initial=0.0)
    columns.sort(axis=1)
    return {
        "sorted_columns": columns,
        "mean": mean,
        "sum_d2": sum_d2,
        "sum_d3": sum_d3,
        "sum_abs_d3": sum_abs_d3,
        "max_abs_d": max_abs_d,
    }


def score(state: EcdfState, X: np.ndarray) -> np.ndarray:
    """Each row's score as PyOD's ``decision_function`` gives it for that row alone."""
    X = _checked(state, X)
    out = np.empty(X.shape[0], dtype=np.float64)
    for start in range(0, X.shape[0], _BLOCK):
        # row sums over a C-ordered matrix, as PyOD's: numpy sums contiguous rows pairwise
        out[start : start + _BLOCK] = _terms_block(state, X[start : start + _BLOCK]).sum(axis=1)
    return out


def terms(state: EcdfState, X: np.ndarray) -> np.ndarray:
    """Each row's per-feature outlier terms ``O_j``, shaped like ``X``: PyOD's ``O`` (what its
    ``explain_outlier`` plots) for that row alone. Their row sums are :func:`score`'s scores."""
    X = _checked(state, X)
    out = np.empty(X.shape, dtype=np.float64)
    for start in range(0, X.shape[0], _BLOCK):
        out[start : start + _BLOCK] = _terms_block(state, X[start : start + _BLOCK])
    return out


def _checked(state: EcdfState, X: np.ndarray) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != state.n_features:
        raise ValueError(f"expected {state.n_features} features, got shape {X.shape}")
    return X


def _terms_block(state: EcdfState, X: np.ndarray) -> np.ndarray:
    """The C-ordered ``O`` matrix of a block of rows."""
    n = state.n_train
    below, above = _counts(state.sorted_columns, X)
    u_l = -1 * np.log(_ecdf(below, n + 1))
    u_r = -1 * np.log(_ecdf(above, n + 1))
    s = _skew_sign(state, X)
    # PyOD's expressions, elementwise with a per-row sign instead of a per-column one
    u_skew = u_l * -1 * np.sign(s - 1) + u_r * np.sign(s + 1)
    if state.method == "ecod":
        o = np.maximum(u_l, u_r)
        o = np.maximum(u_skew, o)
    else:
        o = np.maximum(u_skew, np.add(u_l, u_r) / 2)
    return np.ascontiguousarray(o)


def _counts(sorted_columns: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, the number of training values ``<= x`` and ``>= x`` in its column, as
    float64 arrays of ``X``'s shape."""
    k, n = sorted_columns.shape
    m = X.shape[0]
    below = np.empty((k, m), dtype=np.float64)
    above = np.empty((k, m), dtype=np.float64)
    # Between 1/1000 and 1/20 of the column's length, the binary searches of a batch reach
    # most of the column's cache lines: out of cache (the model not used for a while), one
    # streaming read brings it into the CPU's cache in far less time than the searches'
    # scattered misses (1,000 rows into 100,000: 1.6 instead of 2.5 ms; 0.2 ms more when it
    # was cached already). Fewer rows touch too little of it, more search mostly in cache.
    stream = n // 1000 <= m <= n // 20
    for j, x in enumerate(np.ascontiguousarray(X.T)):
        column = sorted_columns[j]
        if stream:
            # one value per 64-byte cache line: every line read, an eighth of the comparisons
            # (about 0.1 ms less for 20 columns of 100,000, within the noise of one run)
            column[::8].max()
        # sorted queries walk the column in order: far fewer cache misses than random ones
        order = np.argsort(x) if m > 64 else None
        xs = x if order is None else x[order]
        first = np.searchsorted(column, xs, side="left")  # training values < x
        past = first.copy()  # training values <= x: more only where x is a training value
        tied = column[np.minimum(first, n - 1)] == xs
        if tied.any():
            past[tied] = np.searchsorted(column, xs[tied], side="right")
        if order is None:
            below[j], above[j] = past, n - first
        else:
            below[j, order], above[j, order] = past, n - first
    return below.T, above.T


def _ecdf(index: np.ndarray, N: int) -> np.ndarray:
    """Entry ``index`` of ``np.linspace(1/N, 1, N)``, computed the way numpy computes it."""
    start = 1.0 / N
    step = (1.0 - start) / (N - 1)
    p = index * step
    p += start
    p[index == N - 1] = 1.0  # linspace sets its endpoint exactly
    return p


def _skew_sign(state: EcdfState, X: np.ndarray) -> np.ndarray:
    """Per cell, the sign of the skewness of the training column plus that value."""
    with np.errstate(all="ignore"):  # overflow of huge values: the cell is then uncertain
        certain, sign = _closed_form_sign(state, X)
    if not certain.all():
        rows, cols = np.nonzero(~certain)
        for j in np.unique(cols):
            at = rows[cols == j]
            values, inverse = np.unique(X[at, j], return_inverse=True)
            signs = np.array([_pyod_skew_sign(state.sorted_columns[j], v) for v in values])
            sign[at, j] = signs[inverse]
    return sign


def _closed_form_sign(state: EcdfState, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The sign of each cell's skewness from the centred sums, and where it is certain."""
    n = state.n_train
    N = n + 1
    d = X - state.mean
    d2 = d * d
    # centred sums of the N values from the training ones plus x (pairwise update formulas)
    m2 = d2 * (n / N)
    m2 += state.sum_d2
    m3 = d2 * d
    m3 *= n * (n - 1) / N**2
    m3 -= d * (3.0 * state.sum_d2 / N)
    m3 += state.sum_d3
    # bounds of the magnitudes their rounding scales with: Σ|d|³ and max|value| · Σd²
    abs_d = np.abs(d, out=d)
    scale = abs_d + (np.abs(state.mean) + state.max_abs_d)
    bound = d2
    bound *= abs_d
    bound += state.sum_abs_d3
    bound += scale * m2
    certain = np.abs(m3) > _M3_MARGIN * bound
    scale *= _M2_MARGIN
    certain &= m2 / N > scale * scale
    return certain, np.sign(m3)


def _pyod_skew_sign(column: np.ndarray, value: float) -> float:
    """``np.sign`` of PyOD's skewness of ``column`` plus ``value``, rounded as PyOD rounds it."""
    from scipy.stats import skew

    # PyOD reduces a C-ordered (N, n_features) matrix along axis 0, which numpy sums row after
    # row; a single column would be summed pairwise and round differently. Two columns keep
    # PyOD's order of additions.
    values = np.empty((column.size + 1, 2))
    values[:-1, 0] = column
    values[-1, 0] = value
    values[:, 1] = values[:, 0]
    # scipy warns of precision loss for a (nearly) constant column, as it does in PyOD
    with np.errstate(all="ignore"):  # overflow: PyOD's skewness is then NaN, its sign 0
        result: Any = np.sign(np.nan_to_num(skew(values, axis=0)))
    return float(result[0])
