"""The static table of PyOD's tabular detectors: classes, requirements, hyperparameters.

This module is plain data. It imports neither PyOD nor numpy, scikit-learn or numba, so that
listing detectors (``pynomaly detectors``, ``pynomaly plugins list``) stays fast. Whether a
detector's extra requirements are installed is decided with :func:`importlib.util.find_spec`,
which locates a top-level module without importing it.

Every hyperparameter has two parts:

* a **search space** (:class:`~pynomaly.types.ParamSpec`): what a tuner samples from, with
  PyOD's own default;
* a **validity rule** (the other :class:`Param` fields): what PyOD accepts, which may be wider
  than the space (``n_neighbors=500`` is valid but outside the 1..100 space).
"""

from __future__ import annotations

import functools
import importlib.util
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import attrs

from pynomaly.types import ParamSpec

# pip distribution for each importable module a detector may need beyond PyOD itself.
PIP_NAMES: dict[str, str] = {
    "pyod": "pyod",
    "torch": "torch",
    "combo": "combo",
    "suod": "suod",
    "xgboost": "xgboost",
    "numba": "numba",
    "matplotlib": "matplotlib",
}

# Parameters pynomaly passes itself (as fit arguments), never as detector parameters.
RESERVED = ("contamination", "random_state")


@dataclass(frozen=True)
class Param:
    """One hyperparameter: its search space and what PyOD accepts.

    ``check`` is the kind of value PyOD accepts:

    * ``"int"`` / ``"float"``: a number within ``low``/``high`` (``*_open`` excludes the bound);
    * ``"count_or_fraction"``: an int ``>= count_min`` (a count) or a float within
      ``low``/``high`` (a fraction), as in scikit-learn's ``max_samples``;
    * ``"choice"``: one of ``choices`` (default: the space's choices);
    * ``"bool"``: ``True`` or ``False``.

    ``special`` lists further accepted values (``None``, ``"auto"``).
    """

    spec: ParamSpec
    check: str
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    count_min: int = 1
    special: tuple[Any, ...] = ()
    choices: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Entry:
    """One PyOD detector as pynomaly offers it (``pyod:<name>``).

    ``requires`` are the top-level modules it imports beyond PyOD; ``blocked`` is a reason it
    cannot be used through pynomaly at all (supervised detectors, unreliable scores). ``fixed``
    are constructor arguments the adapter sets unless the user gives them (quiet output, never a
    hyperparameter). ``defaults`` are hyperparameter defaults the adapter uses instead of
    PyOD's, each because PyOD's default gives meaningless scores; ``defaults_reason`` says why
    (shown in the detector's description). ``min_features``/``max_features`` bound the
    number of columns it fits on.
    ``batch_relative`` detectors score new rows against the other rows of the same batch, not
    against the training data alone (PyOD's ``decision_function`` recomputes them from the
    batch: COF, LMDD, LOCI, SOD and SOS from the batch only, so that one row alone has no
    meaningful score; CD from the batch's leverages, residual variance and score range; ROD
    divides by the batch's median deviation; RGraph solves for the training data plus blocks of
    the batch).
    ``sorted_scoring`` detectors (ECOD, COPOD) are scored by :mod:`pynomaly_pyod.ecdf` from
    their sorted training columns: each new row as PyOD scores it alone, whatever its batch.
    ``additive`` detectors' scores are sums of per-feature terms, which the adapter's
    ``pynomaly_explain`` returns as each row's contributions (:mod:`pynomaly_pyod.terms`).
    ``cannot_explain`` is why a detector's scores cannot be explained feature by feature.
    """

    name: str
    module: str
    cls: str
    summary: str
    params: Mapping[str, Param] = field(default_factory=dict)
    requires: tuple[str, ...] = ()
    blocked: str = ""
    fixed: Mapping[str, Any] = field(default_factory=dict)
    defaults: Mapping[str, Any] = field(default_factory=dict)
    defaults_reason: str = ""
    min_features: int = 1
    max_features: int | None = None
    batch_relative: bool = False
    sorted_scoring: bool = False
    additive: bool = False
    cannot_explain: str = ""

    @property
    def id(self) -> str:
        return f"pyod:{self.name}"

    @property
    def class_path(self) -> str:
        return f"{self.module}.{self.cls}"

    def space(self) -> dict[str, ParamSpec]:
        """The hyperparameter space: name → :class:`ParamSpec` (defaults as the adapter uses
        them: PyOD's, but where :attr:`defaults` replaces them)."""
        return {
            name: attrs.evolve(p.spec, default=self.defaults[name]) if name in self.defaults
            else p.spec
            for name, p in self.params.items()
        }

    def missing(self) -> list[str]:
        """Required modules (PyOD included) that are not installed; nothing is imported."""
        return [m for m in ("pyod", *self.requires) if importlib.util.find_spec(m) is None]

    def unavailable_reason(self) -> str:
        """Why this detector cannot be used here, or ``""`` when it can."""
        missing = self.missing()
        needs = ""
        if missing:
            pips = " ".join(PIP_NAMES.get(m, m) for m in missing)
            needs = f"needs {', '.join(missing)}: pip install {pips}"
        if self.blocked:
            return f"{self.blocked}; {needs}" if needs else self.blocked
        return needs


# --------------------------------------------------------------------------------------------
# Helpers that build a Param: the space first, then the validity rule.
# --------------------------------------------------------------------------------------------


def _int(
    default: Any,
    low: int,
    high: int,
    *,
    log: bool = False,
    min: int | None = 1,
    max: int | None = None,
    special: tuple[Any, ...] = (),
    doc: str = "",
) -> Param:
    spec = ParamSpec("int", default, low, high, log=log, description=doc)
    return Param(spec, "int", low=min, high=max, special=special)


def _float(
    default: Any,
    low: float,
    high: float,
    *,
    log: bool = False,
    min: float | None = None,
    max: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    special: tuple[Any, ...] = (),
    doc: str = "",
) -> Param:
    spec = ParamSpec("float", default, low, high, log=log, description=doc)
    return Param(
        spec, "float", low=min, high=max, low_open=min_open, high_open=max_open, special=special
    )


def _cat(default: Any, choices: tuple[Any, ...], *, doc: str = "") -> Param:
    return Param(ParamSpec("categorical", default, choices=choices, description=doc), "choice")


def _bool(default: bool, *, doc: str = "") -> Param:
    return Param(ParamSpec("bool", default, description=doc), "bool")


def _samples(default: Any, choices: tuple[Any, ...], *, count_min: int = 1, doc: str = "") -> Param:
    """``max_samples``-like: ``"auto"``, a count (int) or a fraction in (0, 1] (float)."""
    spec = ParamSpec("categorical", default, choices=choices, description=doc)
    return Param(
        spec,
        "count_or_fraction",
        low=0.0,
        high=1.0,
        low_open=True,
        count_min=count_min,
        special=("auto",),
    )


_NEIGHBORS_DOC = "number of neighbours"
_TORCH = ("torch",)
_SUPERVISED = "supervised: it trains on labelled anomalies, which unsupervised detection lacks"
# Detectors whose scores fail the conformance kit's "higher = more anomalous" check with their
# default parameters (a 10-sigma outlier among 100 standard-normal rows); listed, not usable.
_HDBSCAN_TIES = (
    "unreliable scores: GLOSH gives every row HDBSCAN leaves unclustered the same top score "
    "1.0, so on data without clear clusters most rows tie with a 10-sigma outlier (62 of 101 "
    "rows of one Gaussian blob)"
)
_RGRAPH_FLAT = (
    "unreliable scores: R-graph scores most rows -0.0 with default parameters and ranks a "
    "10-sigma outlier 92nd of 101 rows"
)

# --------------------------------------------------------------------------------------------
# The table. Defaults are PyOD's (checked by the tests against the constructors' signatures),
# except an entry's ``defaults``.
# --------------------------------------------------------------------------------------------


def _table() -> tuple[Entry, ...]:
    return (
        Entry(
            "abod",
            "pyod.models.abod",
            "ABOD",
            "Angle-based outlier detection: variance of the angles to the nearest neighbours",
            {
                "n_neighbors": _int(
                    5,
                    3,
                    50,
                    log=True,
                    min=3,
                    doc="neighbours (fewer than 3 give NaN angle variances)",
                ),
                "method": _cat(
                    "fast",
                    ("fast", "default"),
                    doc="'fast' uses the neighbours only; 'default' all points, O(n³)",
                ),
            },
            requires=("numba",),
        ),
        Entry(
            "cblof",
            "pyod.models.cblof",
            "CBLOF",
            "Cluster-based local outlier factor: distance to large k-means clusters",
            {
                "n_clusters": _int(8, 2, 20, min=2, doc="number of k-means clusters"),
                "alpha": _float(
                    0.9,
                    0.5,
                    0.99,
                    min=0.0,
                    max=1.0,
                    min_open=True,
                    max_open=True,
                    doc="share of the points in large clusters",
                ),
                "beta": _float(
                    5,
                    2.0,
                    20.0,
                    min=1.0,
                    min_open=True,
                    doc="minimum size ratio between large and small clusters",
                ),
                "use_weights": _bool(False, doc="weight the scores by cluster size"),
            },
        ),
        Entry(
            "cd",
            "pyod.models.cd",
            "CD",
            "Cook's distance of each row in regressions of every feature on the others "
            "(needs at least 2 features; parameter 'model' takes a scikit-learn regressor)",
            min_features=2,
            # leverages, residual variance and the min-max scaling come from the batch scored
            batch_relative=True,
        ),
        Entry(
            "cof",
            "pyod.models.cof",
            "COF",
            "Connectivity-based outlier factor: chaining distance to the nearest neighbours",
            {
                "n_neighbors": _int(20, 2, 100, log=True, min=2, doc=_NEIGHBORS_DOC),
                "method": _cat(
                    "fast",
                    ("fast", "memory"),
                    doc="'fast' stores the distance matrix, 'memory' does not",
                ),
            },
            batch_relative=True,
        ),
        Entry(
            "copod",
            "pyod.models.copod",
            "COPOD",
            "Copula-based outlier detection; parameter-free",
            requires=("matplotlib",),
            # PyOD ranks new rows against the training data plus the rest of their batch;
            # pynomaly_pyod.ecdf ranks each against the training data alone, as PyOD does a
            # batch of one row
            sorted_scoring=True,
            additive=True,
        ),
        Entry(
            "ecod",
            "pyod.models.ecod",
            "ECOD",
            "Empirical-cumulative-distribution outlier detection; parameter-free",
            requires=("matplotlib",),
            # PyOD ranks new rows against the training data plus the rest of their batch;
            # pynomaly_pyod.ecdf ranks each against the training data alone, as PyOD does a
            # batch of one row
            sorted_scoring=True,
            additive=True,
        ),
        Entry(
            "gmm",
            "pyod.models.gmm",
            "GMM",
            "Gaussian mixture model: negative log-likelihood",
            {
                "n_components": _int(1, 1, 20, doc="number of mixture components"),
                "covariance_type": _cat("full", ("full", "tied", "diag", "spherical")),
                "tol": _float(0.001, 1e-5, 1e-1, log=True, min=0.0, doc="EM convergence threshold"),
                "reg_covar": _float(
                    1e-06, 1e-8, 1e-2, log=True, min=0.0, doc="added to the covariance diagonal"
                ),
                "max_iter": _int(100, 20, 500, log=True, min=0, doc="EM iterations"),
                "n_init": _int(1, 1, 10, doc="EM initializations, the best is kept"),
                "init_params": _cat(
                    "kmeans", ("kmeans", "k-means++", "random", "random_from_data")
                ),
            },
        ),
        Entry(
            "hbos",
            "pyod.models.hbos",
            "HBOS",
            "Histogram-based outlier score: per-feature histogram densities",
            {
                "n_bins": _int(
                    10,
                    5,
                    100,
                    log=True,
                    min=3,
                    special=("auto",),
                    doc="bins per histogram, or 'auto'",
                ),
                "alpha": _float(
                    0.1,
                    0.01,
                    0.5,
                    min=0.0,
                    max=1.0,
                    min_open=True,
                    max_open=True,
                    doc="regularizer against empty bins",
                ),
                "tol": _float(
                    0.5,
                    0.1,
                    0.9,
                    min=0.0,
                    max=1.0,
                    min_open=True,
                    max_open=True,
                    doc="tolerance for points outside the bins",
                ),
            },
            requires=("numba",),
            additive=True,
        ),
        Entry(
            "hdbscan",
            "pyod.models.hdbscan",
            "HDBSCAN",
            "HDBSCAN clustering: GLOSH outlier score",
            {
                "min_cluster_size": _int(5, 2, 50, log=True, min=2, doc="smallest cluster size"),
                "min_samples": _int(
                    None,
                    1,
                    50,
                    log=True,
                    special=(None,),
                    doc="core-point neighbourhood (None: min_cluster_size)",
                ),
                "alpha": _float(1.0, 0.5, 2.0, min=0.0, min_open=True, doc="distance scaling"),
            },
            blocked=_HDBSCAN_TIES,
        ),
        Entry(
            "iforest",
            "pyod.models.iforest",
            "IForest",
            "Isolation forest: average path length in random isolation trees",
            {
                "n_estimators": _int(100, 50, 500, log=True, doc="number of trees"),
                "max_samples": _samples(
                    "auto",
                    ("auto", 64, 128, 256, 512, 0.25, 0.5, 0.75, 1.0),
                    doc="rows per tree: 'auto', a count or a fraction",
                ),
                "max_features": Param(
                    ParamSpec("float", 1.0, 0.1, 1.0, description="share of the features per tree"),
                    "count_or_fraction",
                    low=0.0,
                    high=1.0,
                    low_open=True,
                ),
                "bootstrap": _bool(False, doc="draw rows with replacement"),
            },
        ),
        Entry(
            "inne",
            "pyod.models.inne",
            "INNE",
            "Isolation using nearest-neighbour ensembles",
            {
                "n_estimators": _int(200, 50, 500, log=True, doc="ensemble size"),
                "max_samples": _samples(
                    "auto",
                    ("auto", 4, 8, 16, 32, 64, 0.05, 0.1),
                    count_min=2,
                    doc="rows per member: 'auto', a count or a fraction",
                ),
            },
        ),
        Entry(
            "kde",
            "pyod.models.kde",
            "KDE",
            "Kernel density estimation: negative log-density",
            {
                "bandwidth": _float(
                    1.0, 0.05, 10.0, log=True, min=0.0, min_open=True, doc="kernel bandwidth"
                ),
            },
        ),
        Entry(
            "knn",
            "pyod.models.knn",
            "KNN",
            "k-nearest-neighbour distance",
            {
                "n_neighbors": _int(5, 1, 100, log=True, doc=_NEIGHBORS_DOC),
                "method": _cat(
                    "largest",
                    ("largest", "mean", "median"),
                    doc="distance to the k-th neighbour, or mean/median over k",
                ),
                "p": _int(2, 1, 3, doc="Minkowski exponent (1: Manhattan, 2: Euclidean)"),
            },
        ),
        Entry(
            "kpca",
            "pyod.models.kpca",
            "KPCA",
            "Kernel PCA reconstruction error",
            {
                "kernel": _cat("rbf", ("linear", "poly", "rbf", "sigmoid", "cosine")),
                "n_components": _int(
                    None, 2, 50, log=True, special=(None,), doc="kernel components (None: all)"
                ),
                "gamma": _float(
                    None,
                    1e-3,
                    10.0,
                    log=True,
                    min=0.0,
                    min_open=True,
                    special=(None,),
                    doc="kernel coefficient (None: 1 / n_features)",
                ),
                "degree": _int(3, 2, 5, doc="degree of the poly kernel"),
                "coef0": _float(1, 0.0, 10.0, doc="independent term of poly/sigmoid kernels"),
            },
            defaults={"n_components": 5},
            defaults_reason=(
                "n_components defaults to 5, not PyOD's None: with every component kept, the "
                "reconstruction error of the training rows is 0 up to rounding, so PyOD's "
                "default scores are floating-point noise (mean ROC AUC 0.50 on the one-vs-rest "
                "tasks of scikit-learn's bundled sets, 0.79 with 5)"
            ),
        ),
        Entry(
            "lmdd",
            "pyod.models.lmdd",
            "LMDD",
            "Linear method for deviation-based outlier detection",
            {
                "n_iter": _int(50, 10, 200, log=True, min=2, doc="random orderings tried"),
                "dis_measure": _cat(
                    "aad", ("aad", "var", "iqr"), doc="dissimilarity measure ('iqr' is much slower)"
                ),
            },
            requires=("numba",),
            batch_relative=True,
        ),
        Entry(
            "loci",
            "pyod.models.loci",
            "LOCI",
            "Local correlation integral; O(n³), for small data",
            {
                "alpha": _float(
                    0.5, 0.1, 1.0, min=0.0, max=1.0, min_open=True, doc="neighbourhood radius ratio"
                ),
                "k": _int(3, 1, 5, doc="outlier cutoff in standard deviations"),
            },
            requires=("numba",),
            batch_relative=True,
        ),
        Entry(
            "loda",
            "pyod.models.loda",
            "LODA",
            "Lightweight on-line detector of anomalies: histograms of random projections",
            {
                "n_bins": _int(
                    10, 5, 100, log=True, special=("auto",), doc="histogram bins or 'auto'"
                ),
                "n_random_cuts": _int(100, 10, 500, log=True, doc="number of random projections"),
            },
        ),
        Entry(
            "lof",
            "pyod.models.lof",
            "LOF",
            "Local outlier factor: local density relative to the neighbours'",
            {
                "n_neighbors": _int(20, 1, 100, log=True, doc=_NEIGHBORS_DOC),
                "p": _int(2, 1, 3, doc="Minkowski exponent (1: Manhattan, 2: Euclidean)"),
            },
        ),
        Entry(
            "lscp",
            "pyod.models.lscp",
            "LSCP",
            "Locally selective combination of parallel detectors; without 'detector_list' the "
            "pool is 10 LOF detectors with n_neighbors 5, 10, …, 50",
            {
                "local_region_size": _int(
                    30, 10, 100, log=True, min=2, doc="rows in each local region"
                ),
                "local_max_features": _float(
                    1.0,
                    0.75,
                    1.0,
                    min=0.5,
                    max=1.0,
                    min_open=True,
                    doc="largest share of the features for local regions",
                ),
                "n_bins": _int(10, 2, 10, doc="histogram bins for choosing detectors"),
            },
        ),
        Entry(
            "mad",
            "pyod.models.mad",
            "MAD",
            "Median absolute deviation (modified z-score); univariate: fits exactly 1 feature; "
            "labels follow contamination, not PyOD's z-score 'threshold'",
            {
                "threshold": _float(3.5, 2.0, 5.0, doc="modified z-score PyOD labels outliers at"),
            },
            max_features=1,
        ),
        Entry(
            "mcd",
            "pyod.models.mcd",
            "MCD",
            "Minimum covariance determinant: robust Mahalanobis distance",
            {
                "support_fraction": _float(
                    None,
                    0.5,
                    1.0,
                    min=0.0,
                    max=1.0,
                    min_open=True,
                    special=(None,),
                    doc="share of rows in the support",
                ),
                "assume_centered": _bool(False),
            },
            additive=True,
        ),
        Entry(
            "ocsvm",
            "pyod.models.ocsvm",
            "OCSVM",
            "One-class support vector machine",
            {
                "kernel": _cat("rbf", ("linear", "poly", "rbf", "sigmoid")),
                "nu": _float(
                    0.5,
                    0.01,
                    0.99,
                    min=0.0,
                    max=1.0,
                    min_open=True,
                    doc="upper bound on training errors",
                ),
                "gamma": Param(
                    ParamSpec(
                        "categorical",
                        "auto",
                        choices=("auto", "scale", 0.001, 0.01, 0.1, 1.0),
                        description="kernel coefficient: 'auto', 'scale' or a float > 0",
                    ),
                    "float",
                    low=0.0,
                    low_open=True,
                    special=("auto", "scale"),
                ),
                "degree": _int(3, 2, 5, min=0, doc="degree of the poly kernel"),
                "coef0": _float(0.0, 0.0, 1.0, doc="independent term of poly/sigmoid kernels"),
                "tol": _float(0.001, 1e-5, 1e-1, log=True, min=0.0, min_open=True),
                "shrinking": _bool(True),
            },
        ),
        Entry(
            "pca",
            "pyod.models.pca",
            "PCA",
            "Principal component analysis: weighted distance to the principal hyperplanes",
            {
                "n_components": Param(
                    ParamSpec(
                        "float",
                        None,
                        0.5,
                        0.99,
                        description="explained variance to keep (float), components (int), "
                        "or None for all",
                    ),
                    "count_or_fraction",
                    low=0.0,
                    high=1.0,
                    low_open=True,
                    high_open=True,
                    special=(None,),
                ),
                "whiten": _bool(False),
                "weighted": _bool(True, doc="weight components by their eigenvalues"),
                "standardization": _bool(True, doc="standardize features first"),
            },
            additive=True,
        ),
        Entry(
            "qmcd",
            "pyod.models.qmcd",
            "QMCD",
            "Quasi-Monte Carlo discrepancy; parameter-free; new rows are clipped to the training "
            "range first",
            requires=("numba",),
        ),
        Entry(
            "rgraph",
            "pyod.models.rgraph",
            "RGraph",
            "R-graph: self-representation graph random walk; slow, scores new data in blocks",
            {
                "transition_steps": _int(10, 5, 50, log=True, doc="random-walk steps"),
                "n_nonzero": _int(10, 5, 50, log=True, doc="nonzero entries per representation"),
                "gamma": _float(
                    50.0,
                    5.0,
                    500.0,
                    log=True,
                    min=0.0,
                    min_open=True,
                    doc="sparsity weight (times alpha0)",
                ),
                "algorithm": _cat("lasso_lars", ("lasso_lars", "lasso_cd")),
            },
            fixed={"verbose": False},
            # new rows are solved for together with the training data and up to
            # blocksize_test_data - 1 other rows of their batch
            batch_relative=True,
            blocked=_RGRAPH_FLAT,
        ),
        Entry(
            "rod",
            "pyod.models.rod",
            "ROD",
            "Rotation-based outlier detection over 3-D subspaces; cost grows with features³",
            requires=("numba",),
            # scores are divided by the median deviation of the batch's rotation costs
            batch_relative=True,
        ),
        Entry(
            "sampling",
            "pyod.models.sampling",
            "Sampling",
            "Distance to a random subsample of the training rows",
            {
                "subset_size": Param(
                    ParamSpec(
                        "int",
                        20,
                        5,
                        100,
                        log=True,
                        description="subsample size (int) or share of rows (float)",
                    ),
                    "count_or_fraction",
                    low=0.0,
                    high=1.0,
                    low_open=True,
                    high_open=True,
                ),
            },
        ),
        Entry(
            "sod",
            "pyod.models.sod",
            "SOD",
            "Subspace outlier detection in axis-parallel subspaces of shared neighbours",
            {
                "n_neighbors": _int(20, 15, 100, log=True, min=3, doc=_NEIGHBORS_DOC),
                "ref_set": _int(
                    10,
                    2,
                    10,
                    min=2,
                    doc="shared neighbours in the reference set (fewer than n_neighbors)",
                ),
                "alpha": _float(
                    0.8,
                    0.5,
                    0.95,
                    min=0.0,
                    max=1.0,
                    min_open=True,
                    max_open=True,
                    doc="subspace selection cutoff",
                ),
            },
            requires=("numba",),
            batch_relative=True,
            cannot_explain=(
                "a feature held at one value throughout the batch joins every row's "
                "low-variance subspace and lowers every score: the change does not measure "
                "that feature"
            ),
        ),
        Entry(
            "sos",
            "pyod.models.sos",
            "SOS",
            "Stochastic outlier selection via affinities; O(n²) memory",
            {
                "perplexity": _float(
                    4.5, 1.0, 50.0, log=True, min=1.0, doc="effective number of neighbours"
                ),
                "eps": _float(
                    1e-05,
                    1e-8,
                    1e-3,
                    log=True,
                    min=0.0,
                    min_open=True,
                    doc="binary-search tolerance",
                ),
            },
            requires=("numba",),
            batch_relative=True,
        ),
        # --- ensembles needing optional extras ----------------------------------------------
        Entry(
            "feature_bagging",
            "pyod.models.feature_bagging",
            "FeatureBagging",
            "Feature bagging: base detectors on random feature subsets",
            {
                "n_estimators": _int(10, 2, 50, log=True, doc="number of base detectors"),
                "max_features": _float(1.0, 0.5, 1.0, min=0.0, max=1.0, min_open=True),
                "bootstrap_features": _bool(False),
                "combination": _cat("average", ("average", "max")),
            },
            requires=("combo",),
        ),
        Entry(
            "suod",
            "pyod.models.suod",
            "SUOD",
            "SUOD: accelerated ensemble of heterogeneous detectors",
            {
                "combination": _cat("average", ("average", "maximization")),
                "target_dim_frac": _float(0.5, 0.1, 1.0, min=0.0, max=1.0, min_open=True),
            },
            requires=("suod", "combo"),
        ),
        Entry(
            "xgbod",
            "pyod.models.xgbod",
            "XGBOD",
            "Extreme gradient boosting outlier detection (supervised)",
            {
                "max_depth": _int(3, 2, 10),
                "learning_rate": _float(0.1, 0.01, 0.3, log=True, min=0.0, min_open=True),
                "n_estimators": _int(100, 50, 500, log=True),
            },
            requires=("xgboost",),
            blocked=_SUPERVISED,
        ),
        # --- deep learning (torch) -----------------------------------------------------------
        Entry(
            "auto_encoder",
            "pyod.models.auto_encoder",
            "AutoEncoder",
            "Fully connected auto-encoder reconstruction error",
            {
                "epoch_num": _int(10, 5, 100, log=True),
                "lr": _float(0.001, 1e-4, 1e-2, log=True, min=0.0, min_open=True),
                "batch_size": _int(32, 16, 256, log=True),
                "dropout_rate": _float(0.2, 0.0, 0.5, min=0.0, max=1.0, max_open=True),
                "batch_norm": _bool(True),
            },
            requires=_TORCH,
            fixed={"verbose": 0},
        ),
        Entry(
            "vae",
            "pyod.models.vae",
            "VAE",
            "Variational auto-encoder reconstruction error",
            {
                "epoch_num": _int(30, 5, 100, log=True),
                "lr": _float(0.001, 1e-4, 1e-2, log=True, min=0.0, min_open=True),
                "latent_dim": _int(2, 1, 16, log=True),
                "beta": _float(1.0, 0.1, 10.0, log=True, min=0.0),
                "dropout_rate": _float(0.2, 0.0, 0.5, min=0.0, max=1.0, max_open=True),
            },
            requires=_TORCH,
            fixed={"verbose": 0},
        ),
        Entry(
            "deep_svdd",
            "pyod.models.deep_svdd",
            "DeepSVDD",
            "Deep support vector data description",
            {
                "epochs": _int(100, 10, 300, log=True),
                "learning_rate": _float(0.0001, 1e-5, 1e-2, log=True, min=0.0, min_open=True),
                "dropout_rate": _float(0.2, 0.0, 0.5, min=0.0, max=1.0, max_open=True),
                "use_ae": _bool(False),
            },
            requires=_TORCH,
            fixed={"verbose": 0},
        ),
        Entry(
            "so_gaal",
            "pyod.models.so_gaal",
            "SO_GAAL",
            "Single-objective generative adversarial active learning",
            {
                "stop_epochs": _int(20, 10, 100, log=True),
                "lr_d": _float(0.01, 1e-3, 1e-1, log=True, min=0.0, min_open=True),
                "lr_g": _float(0.0001, 1e-5, 1e-3, log=True, min=0.0, min_open=True),
            },
            requires=_TORCH,
        ),
        Entry(
            "mo_gaal",
            "pyod.models.mo_gaal",
            "MO_GAAL",
            "Multiple-objective generative adversarial active learning",
            {
                "k": _int(10, 2, 20, doc="number of sub-generators"),
                "stop_epochs": _int(20, 10, 100, log=True),
                "lr_d": _float(0.01, 1e-3, 1e-1, log=True, min=0.0, min_open=True),
                "lr_g": _float(0.0001, 1e-5, 1e-3, log=True, min=0.0, min_open=True),
            },
            requires=_TORCH,
        ),
        Entry(
            "alad",
            "pyod.models.alad",
            "ALAD",
            "Adversarially learned anomaly detection",
            {
                "epochs": _int(200, 50, 500, log=True),
                "latent_dim": _int(2, 1, 16, log=True),
                "learning_rate_gen": _float(0.0001, 1e-5, 1e-2, log=True, min=0.0, min_open=True),
                "learning_rate_disc": _float(0.0001, 1e-5, 1e-2, log=True, min=0.0, min_open=True),
                "add_recon_loss": _bool(False),
            },
            requires=_TORCH,
        ),
        Entry(
            "anogan",
            "pyod.models.anogan",
            "AnoGAN",
            "Anomaly detection with generative adversarial networks",
            {
                "epochs": _int(500, 100, 1000, log=True),
                "latent_dim_G": _int(2, 1, 16, log=True),
                "learning_rate": _float(0.001, 1e-4, 1e-2, log=True, min=0.0, min_open=True),
            },
            requires=_TORCH,
        ),
        Entry(
            "dif",
            "pyod.models.dif",
            "DIF",
            "Deep isolation forest: isolation trees on random neural representations",
            {
                "n_ensemble": _int(50, 10, 100, log=True),
                "n_estimators": _int(6, 2, 20),
                "max_samples": _int(256, 64, 512, log=True),
                "representation_dim": _int(20, 5, 50, log=True),
            },
            requires=_TORCH,
        ),
        Entry(
            "lunar",
            "pyod.models.lunar",
            "LUNAR",
            "LUNAR: graph neural network over nearest-neighbour distances",
            {
                "model_type": _cat("WEIGHT", ("WEIGHT", "SCORE")),
                "n_neighbours": _int(5, 2, 50, log=True),
                "negative_sampling": _cat("MIXED", ("MIXED", "UNIFORM", "SUBSPACE")),
                "n_epochs": _int(200, 50, 500, log=True),
            },
            requires=_TORCH,
        ),
        Entry(
            "ae1svm",
            "pyod.models.ae1svm",
            "AE1SVM",
            "Auto-encoder with a one-class SVM on its latent space",
            {
                "epochs": _int(50, 10, 200, log=True),
                "learning_rate": _float(0.001, 1e-4, 1e-2, log=True, min=0.0, min_open=True),
                "nu": _float(0.1, 0.01, 0.5, min=0.0, max=1.0, min_open=True),
                "kernel_approx_features": _int(1000, 100, 2000, log=True),
            },
            requires=_TORCH,
        ),
        Entry(
            "devnet",
            "pyod.models.devnet",
            "DevNet",
            "Deviation networks (semi-supervised)",
            {
                "epochs": _int(50, 10, 200, log=True),
                "batch_size": _int(512, 64, 1024, log=True),
            },
            requires=_TORCH,
            blocked=_SUPERVISED,
        ),
    )


# What each detector is, for `detector="auto"` and readers (DetectorInfo.properties): its family,
# how its time grows with the rows, and — for the ones auto may pick — ``auto`` and its rank
# within the family (lower first). See docs/quality.md for the evidence behind the picks.
_FAMILY_COST: dict[str, tuple[str, str]] = {
    "abod": ("proximity", "quadratic"), "cblof": ("proximity", "linear"),
    "cd": ("linear", "linear"), "cof": ("proximity", "quadratic"),
    "copod": ("distribution", "linear"), "ecod": ("distribution", "linear"),
    "gmm": ("density", "linear"), "hbos": ("distribution", "linear"),
    "hdbscan": ("density", "nlogn"), "iforest": ("isolation", "nlogn"),
    "inne": ("isolation", "nlogn"), "kde": ("density", "quadratic"),
    "knn": ("proximity", "quadratic"), "kpca": ("linear", "quadratic"),
    "lmdd": ("linear", "linear"), "loci": ("proximity", "cubic"),
    "loda": ("distribution", "linear"), "lof": ("proximity", "quadratic"),
    "lscp": ("ensemble", "quadratic"), "mad": ("distribution", "linear"),
    "mcd": ("linear", "linear"), "ocsvm": ("boundary", "quadratic"),
    "pca": ("linear", "linear"), "qmcd": ("distribution", "quadratic"),
    "rgraph": ("proximity", "quadratic"), "rod": ("linear", "linear"),
    "sampling": ("proximity", "linear"), "sod": ("proximity", "quadratic"),
    "sos": ("density", "quadratic"),
}
_AUTO: dict[str, dict[str, Any]] = {
    "iforest": {"auto": True, "auto_rank": 1},
    # kNN at two neighbourhood sizes: k = 10 (largest distance) for local anomalies, k = 20
    # (mean distance) for anomalies that come in small groups
    "knn": {
        "auto": True,
        "auto_rank": 1,
        "neighbors_param": "n_neighbors",
        "auto_params": [{"n_neighbors": 10}, {"n_neighbors": 20, "method": "mean"}],
    },
    "ecod": {"auto": True, "auto_rank": 1},
}


# Detectors whose scoring releases the GIL and may run in several threads at once: `jobs`
# scores them in threads (DetectorInfo.threaded_scoring). Measured (docs/performance.md): two
# threads scoring halves of 20,000 or 200,000 rows took 0.46-0.71 of one call, same scores. Not
# here: HBOS and sampling (they hold the GIL), LOF, KNN, KDE, ABOD, KPCA, QMCD, LSCP (1.0-1.3x
# faster), MCD (too little work per row to share); they use worker processes.
THREADED_SCORING = frozenset(
    {"copod", "ecod", "gmm", "iforest", "inne", "loda", "ocsvm", "pca"}
)


def properties(name: str) -> dict[str, Any]:
    """The :attr:`~pynomaly.types.DetectorInfo.properties` of PyOD's detector ``name``."""
    family, cost = _FAMILY_COST.get(name, ("deep", "linear"))
    return {"family": family, "cost": cost, **_AUTO.get(name, {})}


@functools.cache
def entries() -> tuple[Entry, ...]:
    """Every entry of the table, built on first use: ~40 entries of attrs objects cost a few
    milliseconds, which ``pynomaly plugins list`` (no detectors needed) does not pay."""
    return _table()


@functools.cache
def _by_id() -> dict[str, Entry]:
    return {e.id: e for e in entries()}


def entry(detector_id: str) -> Entry | None:
    """The table entry of ``detector_id``, or ``None`` if it is not one of ours."""
    return _by_id().get(detector_id)


def __getattr__(name: str) -> Any:
    if name == "ENTRIES":  # the table as a constant, for readers who prefer it
        return entries()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
