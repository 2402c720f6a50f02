"""Why rows score as they do: per-feature importance and per-row contributions.

Model-agnostic where no plugin explains a detector itself (ablation: a feature set to its
median), computed through a :class:`~pynomaly.detection.prepare.Scorer`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from pynomaly.detection.prepare import Scorer


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


def row_contributions(scorer: Scorer, rows: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """How much each feature raises each row's score: the score minus the score with that
    feature set to its median in ``reference``. One batch of ``rows × features`` is scored.

    ``rows`` and ``reference`` are a result's ``data``: already preprocessed, so only the
    model's steps are applied to them.
    """
    import pandas as pd

    X = scorer.matrix(rows)
    ref = X if reference is rows else scorer.matrix(reference)
    n, m = X.shape
    perturbed = np.repeat(X, m, axis=0)
    perturbed[np.arange(n * m), np.tile(np.arange(m), n)] = np.tile(np.median(ref, axis=0), n)
    base = scorer.score(X)
    changed = scorer.score(perturbed).reshape(n, m)
    return pd.DataFrame(
        base[:, None] - changed, index=rows.index, columns=list(scorer.model.feature_names)
    )


def importance(scorer: Scorer, data: pd.DataFrame) -> pd.Series:
    """Per-feature importance of the model on ``data`` (preprocessed rows): one value per
    feature, by name."""
    import pandas as pd

    from pynomaly.errors import DataError

    X = scorer.matrix(data)
    values = np.asarray(scorer.explain(X), dtype=np.float64)
    if values.shape != (X.shape[1],):
        raise DataError(
            f"{scorer.model.detector}: explain returned shape {values.shape}, "
            f"expected one importance per feature ({X.shape[1]},)"
        )
    return pd.Series(values, index=list(scorer.model.feature_names), name="importance")
