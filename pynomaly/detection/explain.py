"""Why rows score as they do: per-row contributions and per-feature importance.

A row's **contributions** say, feature by feature, how much each one raises its score. They
come from the first of these that applies to the model's detector:

``native``
    The detector plugin's own, when its ``pynomaly_explain`` returns per-row contributions
    (rows × features): ECOD's and COPOD's tail terms, HBOS's histogram terms, PCA's and
    Mahalanobis terms. Those of a detector declaring ``additive_contributions`` add up to the
    row's score (less the reference row's, see below). Nothing is scored again.
``ablation`` (the detector declares ``batch_independent``)
    The row's score minus its score with that feature set to the model's reference value,
    the training median (:attr:`Model.reference <pynomaly.Model>`). Each perturbed row is
    scored against the fitted model alone, so they are scored in blocks: one row's
    contributions depend on that row and the model only, never on the other rows asked about.
``batch`` (any other detector: a row's score may depend on the rows scored with it)
    The feature is set to the reference value in every row of the batch — the rows whose
    scores are explained, as they were scored together — and that batch is scored once per
    feature; a row's contribution is its score minus its score in that batch. For the
    distance-based ones a constant feature counts for nothing, so this is the row's score
    with and without the feature. Perturbed copies of a row are never scored together (they
    would be each other's nearest neighbours). A row's contributions depend on its batch, as
    its score does, but not on which of its rows are shown.

A detector whose ``DetectorInfo.cannot_explain`` gives a reason raises
:class:`~pynomaly.errors.ExplainError` with it.

The **importance** of a feature over rows is the mean absolute contribution of that feature
(or the plugin's own per-feature answer when ``pynomaly_explain`` returns one value per
feature).

Models saved before pynomaly 1.1 keep no reference value: the median of the data explained
(a sample of at most :data:`FALLBACK_ROWS` rows) stands in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

from pynomaly.errors import ExplainError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from pynomaly.detection.prepare import Scorer
    from pynomaly.types import DetectorInfo

#: the reference value is the median of at most this many evenly spaced training rows: an
#: exact median of a million rows costs more than fitting a fast detector
REFERENCE_ROWS = 2048
#: rows of the data whose median stands in for the reference of a model saved without one
FALLBACK_ROWS = 2000
#: cells (rows × features) of one block of perturbed rows scored at once
BLOCK_CELLS = 4_000_000

#: what a contribution is, by method (``attrs["method"]`` of a frame of contributions)
METHODS = {
    "native": "the detector's own per-feature term of the row's score, minus that of a row "
    "at the training median",
    "additive": "the detector's own per-feature term of the row's score, minus that of a row "
    "at the training median (the terms add up to how far the row's score exceeds that row's)",
    "ablation": "how much the row's score drops when the feature is set to its training median",
    "batch": "how much the row's score drops when the feature is set to its training median "
    "in every row scored with it",
}

Score = Callable[[np.ndarray], np.ndarray]


def note(frame: pd.DataFrame) -> str:
    """What the contributions in ``frame`` (from :func:`contributions`) are, in words."""
    return METHODS.get(frame.attrs.get("method", ""), "how much the feature raises the score")


def reference(X: np.ndarray) -> np.ndarray:
    """Each column's median over at most :data:`REFERENCE_ROWS` evenly spaced rows of ``X``
    (all of them when there are no more)."""
    step = -(-X.shape[0] // REFERENCE_ROWS)
    # np.median(X[::step], axis=0), the same numbers (the middle value, or the mean of the two
    # middle ones) in a quarter of the time: each column partitioned as one contiguous row
    rows = X[::step].T.copy()
    half = rows.shape[1] // 2
    if rows.shape[1] % 2:
        rows.partition(half, axis=1)
        return rows[:, half].copy()
    rows.partition((half - 1, half), axis=1)
    return np.mean(rows[:, half - 1 : half + 1], axis=1)


def ablation(score: Score, X: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Each row's score minus its score with feature ``j`` set to ``ref[j]``, for every
    feature: an array shaped like ``X``. For batch-independent detectors: the perturbed rows
    are scored in blocks of at most :data:`BLOCK_CELLS` cells. ``X`` is not modified."""
    n, m = X.shape
    base = np.asarray(score(X), dtype=np.float64)
    out = np.empty((n, m), dtype=np.float64)
    rows = max(1, BLOCK_CELLS // max(1, m * m))
    columns = np.tile(np.arange(m), rows)
    for start in range(0, n, rows):
        block = X[start : start + rows]
        k = block.shape[0]
        perturbed = np.repeat(block, m, axis=0)  # each row m times, feature j changed in copy j
        perturbed[np.arange(k * m), columns[: k * m]] = np.tile(ref, k)
        changed = np.asarray(score(_like(X, perturbed)), dtype=np.float64).reshape(k, m)
        out[start : start + k] = base[start : start + k, None] - changed
    return out


def batch_ablation(
    score: Score, batch: np.ndarray, ref: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """For the ``rows`` (positions; all when ``None``) of ``batch``: each one's score in the
    batch minus its score in the batch with feature ``j`` set to ``ref[j]`` in every row.
    ``n_features + 1`` scorings of the whole batch; ``batch`` is not modified."""
    picked = slice(None) if rows is None else rows
    base = np.asarray(score(batch), dtype=np.float64)[picked]
    work = np.array(batch, dtype=np.float64, copy=True)  # order="K": batch's layout
    out = np.empty((len(base), batch.shape[1]), dtype=np.float64)
    for j in range(batch.shape[1]):
        column = work[:, j].copy()
        work[:, j] = ref[j]
        work.flags.writeable = batch.flags.writeable  # as the batch: the same numba types
        out[:, j] = base - np.asarray(score(work), dtype=np.float64)[picked]
        work.flags.writeable = True
        work[:, j] = column
    return out


def _like(X: np.ndarray, array: np.ndarray) -> np.ndarray:
    """``array`` (a new one, C-ordered) in the memory layout (C, Fortran or strided) and
    writability of ``X``: scored with the array types the detector already saw, a
    numba-compiled detector compiles nothing new."""
    if not X.flags.c_contiguous:
        if X.flags.f_contiguous:
            array = np.asfortranarray(array)
        else:  # strided rows, as a row selection of a Fortran-ordered matrix has
            strided = np.empty((array.shape[0] + 1, array.shape[1]), order="F")[:-1]
            strided[...] = array
            array = strided
    array.flags.writeable = X.flags.writeable
    return array


def measured(
    info: DetectorInfo,
    score: Score,
    X: np.ndarray,
    ref: np.ndarray,
    batch: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, str]:
    """Model-agnostic contributions of ``X`` (the ``rows`` of ``batch`` when it is given, the
    batch its rows were scored in) and the method's name; see the module's docstring."""
    if info.cannot_explain:
        raise ExplainError(f"{info.id} cannot be explained: {info.cannot_explain}")
    if info.batch_independent:
        return ablation(score, X, ref), "ablation"
    if batch is None:
        return batch_ablation(score, X, ref), "batch"
    return batch_ablation(score, batch, ref, rows), "batch"


def contributions(
    scorer: Scorer, data: pd.DataFrame, positions: np.ndarray | None = None
) -> pd.DataFrame:
    """The contributions of the rows of ``data`` at ``positions`` (every row when ``None``):
    rows × features, indexed like those rows, columns the model's feature names. The method
    is in the frame's ``attrs["method"]`` (a key of :data:`METHODS`).

    ``data`` is preprocessed (a result's ``data``): only the model's steps are applied. It is
    the batch the rows were scored in, which only detectors that are not batch-independent
    need whole.
    """
    import pandas as pd

    rows = data if positions is None else data.iloc[positions]
    columns = list(scorer.model.feature_names)
    if len(rows) == 0:
        return pd.DataFrame(np.empty((0, len(columns))), index=rows.index, columns=columns)
    X = scorer.matrix(rows)
    info = scorer.info()
    ref = _reference(scorer, data, X if positions is None else None)
    own = _own(scorer, info, X, ref)
    if own is not None and own.ndim == 2:
        values = own
        method = "additive" if info.additive_contributions else "native"
    else:
        batch = None
        if positions is not None and not info.batch_independent and not info.cannot_explain:
            batch = scorer.matrix(data)
        values, method = measured(info, scorer.score, X, ref, batch, positions)
    frame = pd.DataFrame(values, index=rows.index, columns=columns)
    frame.attrs["method"] = method
    return frame


def importance(scorer: Scorer, data: pd.DataFrame) -> pd.Series:
    """Per-feature importance of the model on ``data`` (preprocessed rows): the mean absolute
    contribution of each feature over the rows, or the plugin's own per-feature answer. One
    value per feature, by name."""
    import pandas as pd

    X = scorer.matrix(data)
    info = scorer.info()
    ref = _reference(scorer, data, X)
    own = _own(scorer, info, X, ref)
    if own is not None and own.ndim == 1:
        values = own
    else:
        if own is None:
            own, _ = measured(info, scorer.score, X, ref)
        values = np.abs(own).mean(axis=0) if len(own) else np.zeros(X.shape[1])
    return pd.Series(values, index=list(scorer.model.feature_names), name="importance")


def _own(scorer: Scorer, info: DetectorInfo, X: np.ndarray, ref: np.ndarray) -> np.ndarray | None:
    """The plugin's own explanation of ``X``. Per-row contributions of a batch-independent
    detector are made relative to those of the reference row, asked for in a second call of
    that one row (a 1.0 plugin answering one importance per feature is asked once)."""
    own = scorer.explain(X)
    if own is None or own.ndim == 1 or not info.batch_independent:
        return own
    typical = scorer.explain(_like(X, np.array(ref[None, :], dtype=np.float64)))
    if typical is None or typical.ndim != 2:
        from pynomaly.errors import PluginError

        raise PluginError(
            scorer.model.plugin,
            "pynomaly_explain",
            "answered per-row contributions for the rows but not for the reference row",
        )
    return own - typical


def _reference(scorer: Scorer, data: pd.DataFrame, X: np.ndarray | None) -> np.ndarray:
    """The model's reference value, else (a model saved without one) the median of ``X``, the
    matrix of ``data``, or of a sample of ``data``."""
    ref = getattr(scorer.model, "reference", None)
    if ref is not None:
        return np.asarray(ref, dtype=np.float64)
    if X is None:
        sample = data if len(data) <= FALLBACK_ROWS else data.sample(FALLBACK_ROWS, random_state=0)
        X = scorer.matrix(sample)
    return np.median(X, axis=0)
