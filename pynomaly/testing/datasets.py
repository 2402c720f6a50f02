"""Small labelled datasets for testing detectors: real ones bundled with scikit-learn and a
generated one with planted outliers. Nothing is downloaded.

Every loader returns ``(X, y)``: ``X`` a float64 :class:`~pandas.DataFrame` with a
``RangeIndex``, ``y`` a :class:`~pandas.Series` of 0/1 with **1 = anomaly**. The same
arguments always give the same data.

* ``breast_cancer``: the Wisconsin diagnostic breast-cancer data (30 features). All 357 benign
  cases are inliers; 19 of the 212 malignant ones, drawn with a fixed seed, are the anomalies
  (about 5 %, as in outlier-detection benchmarks). 376 rows.
* ``wine``: the wine recognition data (13 features). Cultivars 2 and 3 are inliers, 10 wines of
  cultivar 1 are the anomalies, as in the ODDS benchmark. 129 rows.
* ``planted``: standard-normal inliers and outliers ``distance`` standard deviations away in
  every feature (random signs), see :func:`planted`. 200 rows, 4 features, 10 outliers.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

DATASETS = ("breast_cancer", "wine", "planted")


def load_dataset(name: str) -> tuple[pd.DataFrame, pd.Series]:
    """``(X, y)`` of a named dataset (see the module docstring); fresh copies on every call."""
    loaders = {"breast_cancer": _breast_cancer, "wine": _wine, "planted": _planted_default}
    loader = loaders.get(name.replace("-", "_"))
    if loader is None:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    X, y = loader()
    return X.copy(), y.copy()


def planted(
    n_inliers: int = 190,
    n_outliers: int = 10,
    n_features: int = 4,
    *,
    distance: float = 10.0,
    random_state: int = 0,
) -> tuple[pd.DataFrame, pd.Series]:
    """Standard-normal inliers plus outliers ``distance`` standard deviations out in every
    feature (each coordinate ``±distance``, random signs), rows shuffled; columns ``x0, x1 …``.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(random_state)
    inliers = rng.standard_normal((n_inliers, n_features))
    signs = rng.choice([-1.0, 1.0], size=(n_outliers, n_features))
    outliers = signs * distance
    values = np.vstack([inliers, outliers])
    labels = np.r_[np.zeros(n_inliers, dtype=np.int64), np.ones(n_outliers, dtype=np.int64)]
    order = rng.permutation(len(values))
    X = pd.DataFrame(values[order], columns=[f"x{i}" for i in range(n_features)])
    return X, pd.Series(labels[order], name="is_anomaly")


@functools.cache
def _breast_cancer() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    # scikit-learn's target: 0 = malignant, 1 = benign
    return _subsample(bunch.data, bunch.target == 0, n_anomalies=19, random_state=0)


@functools.cache
def _wine() -> tuple[pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_wine

    bunch = load_wine(as_frame=True)
    return _subsample(bunch.data, bunch.target == 0, n_anomalies=10, random_state=0)


@functools.cache
def _planted_default() -> tuple[pd.DataFrame, pd.Series]:
    return planted()


def _subsample(
    data: pd.DataFrame, is_anomaly: pd.Series, *, n_anomalies: int, random_state: int
) -> tuple[pd.DataFrame, pd.Series]:
    """All inliers and ``n_anomalies`` anomalies drawn with a fixed seed, rows shuffled."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(random_state)
    mask = is_anomaly.to_numpy(dtype=bool)
    inliers = np.flatnonzero(~mask)
    anomalies = rng.choice(np.flatnonzero(mask), size=n_anomalies, replace=False)
    rows = rng.permutation(np.r_[inliers, anomalies])
    X = data.iloc[rows].astype(np.float64).reset_index(drop=True)
    y = pd.Series(mask[rows].astype(np.int64), name="is_anomaly")
    return X, y
