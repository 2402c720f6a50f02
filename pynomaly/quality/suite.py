"""The built-in benchmark suite: labelled tasks made only of data that ships with scikit-learn.

Two kinds of task, each min-max scaled to [0, 1] per feature as ADBench does:

* **one-vs-rest**: one class of a bundled classification set is the anomaly class, the other
  classes are normal; the anomaly class is subsampled (seeded) to 5% of the task's rows.
  breast_cancer (malignant), wine (each of 3 cultivars), iris (each of 3 species), digits (each
  of the 10 digits).
* **planted**: real rows are the normal rows and anomalies of ADBench's four types are generated
  from them (Han et al., *ADBench: Anomaly Detection Benchmark*, NeurIPS 2022, section 3.3):

  - *local*: a Gaussian mixture fitted on the normal rows (components chosen by BIC among 1–9,
    as ADBench does), sampled with every covariance scaled by α = 5;
  - *global*: uniform in each feature between (1 + 0.1)·min and (1 + 0.1)·max of the normal rows
    (ADBench's bounds, literally: for a feature with positive minimum the box starts above it);
  - *dependency*: each feature sampled independently from a Gaussian kernel density estimate of
    that feature (the normal rows' marginals with their dependence removed);
  - *clustered*: the same mixture with every mean scaled by α = 5 (covariances kept).

  ADBench also replaces the normal rows by samples of the fitted model (a GMM, or a vine copula
  for dependency anomalies); here the normal rows are the real ones, so no copula is needed and
  a detector cannot win by telling generated rows from real ones. The anomalies are 5% of the
  rows. Bases: breast_cancer's benign rows, wine, diabetes and iris.

Everything is seeded: the same seed gives the same tasks.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import numpy as np

ANOMALY_SHARE = 0.05
ALPHA = 5.0  # ADBench's scaling of covariances (local) and means (clustered)
GLOBAL_MARGIN = 0.1  # ADBench's "percentage" of the global anomalies' bounds
PLANTED_TYPES = ("local", "global", "dependency", "clustered")


@attrs.frozen
class Task:
    """One labelled task: features (min-max scaled) and ground truth (1 = anomaly)."""

    name: str
    kind: str  # "one-vs-rest" or an ADBench anomaly type
    X: np.ndarray = attrs.field(repr=False, eq=False)
    y: np.ndarray = attrs.field(repr=False, eq=False)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(self.X.shape[0]), int(self.X.shape[1]))

    @property
    def anomalies(self) -> int:
        return int(self.y.sum())


@functools.lru_cache(maxsize=8)
def _load(name: str) -> tuple[np.ndarray, np.ndarray]:
    from sklearn import datasets

    loader: Callable[..., Any] = getattr(datasets, f"load_{name}")
    X, y = loader(return_X_y=True)
    return np.asarray(X, dtype=np.float64), np.asarray(y)


def _n_anomalies(n_normal: int) -> int:
    return max(3, round(ANOMALY_SHARE / (1.0 - ANOMALY_SHARE) * n_normal))


def _minmax(X: np.ndarray) -> np.ndarray:
    low, high = X.min(axis=0), X.max(axis=0)
    span = np.where(high > low, high - low, 1.0)
    return (X - low) / span


def _shuffled(name: str, kind: str, normal: np.ndarray, anomalies: np.ndarray,
              rng: np.random.Generator) -> Task:
    X = np.vstack([normal, anomalies])
    y = np.r_[np.zeros(len(normal), np.int8), np.ones(len(anomalies), np.int8)]
    order = rng.permutation(len(y))
    return Task(name, kind, np.ascontiguousarray(_minmax(X[order])), y[order])


def one_vs_rest(dataset: str, label: Any, rng: np.random.Generator,
                name: str | None = None) -> Task:
    """``dataset``'s class ``label`` as anomalies (subsampled to 5%) among the other classes."""
    X, y = _load(dataset)
    normal = X[y != label]
    pool = X[y == label]
    k = min(len(pool), _n_anomalies(len(normal)))
    anomalies = pool[rng.choice(len(pool), k, replace=False)]
    return _shuffled(name or f"{dataset}-{label}", "one-vs-rest", normal, anomalies, rng)


@functools.lru_cache(maxsize=8)
def _base_mixture(base: str, seed: int) -> Any:
    """The mixture of a base's normal rows (fitted once for its local and clustered tasks)."""
    return _mixture(_normal_rows(base), seed)


def _mixture(X: np.ndarray, seed: int) -> Any:
    """ADBench's Gaussian mixture: the number of components with the lowest BIC among 1–9."""
    from sklearn.mixture import GaussianMixture

    best, best_bic = None, np.inf
    for k in range(1, min(9, len(X) // 10) + 1):
        gm = GaussianMixture(n_components=k, random_state=seed, reg_covar=1e-6).fit(X)
        bic = gm.bic(X)
        if bic < best_bic:
            best, best_bic = gm, bic
    return best


def planted_anomalies(
    kind: str, normal: np.ndarray, n: int, seed: int, mixture: Any = None
) -> np.ndarray:
    """``n`` anomalies of ADBench's type ``kind`` generated from the ``normal`` rows (``mixture``:
    their Gaussian mixture, when already fitted)."""
    rng = np.random.default_rng(seed)
    if kind in ("local", "clustered"):
        gm = copy.deepcopy(mixture) if mixture is not None else _mixture(normal, seed)
        if kind == "local":
            gm.covariances_ = ALPHA * gm.covariances_
        else:
            gm.means_ = ALPHA * gm.means_
        gm.random_state = seed
        return np.asarray(gm.sample(n)[0])
    if kind == "global":
        low = normal.min(axis=0) * (1.0 + GLOBAL_MARGIN)
        high = normal.max(axis=0) * (1.0 + GLOBAL_MARGIN)
        return rng.uniform(low, high, size=(n, normal.shape[1]))
    if kind == "dependency":
        from scipy.stats import gaussian_kde

        out = np.empty((n, normal.shape[1]))
        for j in range(normal.shape[1]):
            column = normal[:, j]
            if np.ptp(column) == 0:  # a constant feature has no density to estimate
                out[:, j] = column[0]
                continue
            out[:, j] = gaussian_kde(column).resample(n, seed=rng)[0]
        return out
    raise ValueError(f"unknown anomaly type {kind!r}; known: {', '.join(PLANTED_TYPES)}")


def _normal_rows(base: str) -> np.ndarray:
    X, y = _load(base)
    return X[y == 1] if base == "breast_cancer" else X  # breast_cancer: the benign rows


def planted(base: str, kind: str, seed: int, mixture_seed: int | None = None) -> Task:
    """A task of ADBench anomaly type ``kind`` planted into the real rows of ``base``."""
    normal = _normal_rows(base)
    rng = np.random.default_rng(seed)
    mixture = None
    if kind in ("local", "clustered"):
        mixture = _base_mixture(base, seed if mixture_seed is None else mixture_seed)
    anomalies = planted_anomalies(kind, normal, _n_anomalies(len(normal)), seed, mixture)
    return _shuffled(f"{base}+{kind}", kind, normal, anomalies, rng)


ONE_VS_REST = (
    [("breast_cancer", 0, "breast_cancer-malignant")]
    + [("wine", c, None) for c in range(3)]
    + [("iris", c, None) for c in range(3)]
    + [("digits", c, None) for c in range(10)]
)
PLANTED_BASES = ("breast_cancer", "wine", "diabetes", "iris")
#: a few small, varied tasks for --quick and the tests
QUICK = ("breast_cancer-malignant", "wine-1", "iris+local", "wine+clustered")


def builtin_suite(seed: int = 0, *, names: Any = None) -> Iterator[Task]:
    """The tasks of the built-in suite (33), made lazily; ``names`` selects some by name."""
    wanted = set(names) if names is not None else None
    for i, (dataset, label, name) in enumerate(ONE_VS_REST):
        full = name or f"{dataset}-{label}"
        if wanted is None or full in wanted:
            yield one_vs_rest(dataset, label, np.random.default_rng([seed, i]), full)
    for i, base in enumerate(PLANTED_BASES):
        for j, kind in enumerate(PLANTED_TYPES):
            full = f"{base}+{kind}"
            if wanted is None or full in wanted:
                yield planted(base, kind, seed * 1000 + 10 * i + j, seed * 1000 + 10 * i)


def task_names() -> list[str]:
    """The names of the suite's tasks, in order (nothing is generated)."""
    return [name or f"{d}-{c}" for d, c, name in ONE_VS_REST] + [
        f"{b}+{k}" for b in PLANTED_BASES for k in PLANTED_TYPES
    ]
