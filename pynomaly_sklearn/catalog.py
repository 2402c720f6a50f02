"""Static description of the scikit-learn detectors: estimator, model layout, search spaces.

Nothing here imports scikit-learn: the estimators are named by module and class and imported
only when a detector is validated or fitted, so that listing detectors stays cheap.

Each space's default is scikit-learn's own default (as of scikit-learn 1.9); every value a
space allows is accepted by scikit-learn, also in combination with the other parameters.
``contamination`` and ``random_state`` are never part of a space: pynomaly passes them to the
fit hook separately.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from pynomaly.types import ParamSpec


@attrs.frozen
class Entry:
    """How one ``sklearn:*`` detector is built.

    * ``module``/``estimator``: the scikit-learn detector, imported lazily.
    * ``fixed``: constructor arguments the adapter sets and the user may not (LOF's novelty).
    * ``standardize``: put a ``StandardScaler`` first (distance/kernel models on raw features
      are dominated by the feature with the largest unit).
    * ``feature_map``: an optional ``(module, class)`` transformer between scaler and detector;
      ``feature_map_params`` are the user parameters routed to it instead of the detector.
    * ``training_attribute``: fitted attribute holding the library's training-row scores
      (score_samples convention, lower = more abnormal) when ``score_samples`` on the training
      rows would differ from them; ``None`` means ``score_samples(X)``.
    * ``additive``: the score is a sum of per-feature terms, which the adapter's
      ``pynomaly_explain`` returns as each row's contributions.
    """

    id: str
    description: str
    module: str
    estimator: str
    params: Mapping[str, ParamSpec]
    fixed: Mapping[str, Any] = attrs.field(factory=dict)
    standardize: bool = False
    feature_map: tuple[str, str] | None = None
    feature_map_params: tuple[str, ...] = ()
    training_attribute: str | None = None
    additive: bool = False


def _int(default: Any, low: int, high: int, description: str, *, log: bool = False) -> ParamSpec:
    return ParamSpec("int", default, low, high, log=log, description=description)


def _float(
    default: Any, low: float, high: float, description: str, *, log: bool = False
) -> ParamSpec:
    return ParamSpec("float", default, low, high, log=log, description=description)


def _choice(default: Any, choices: tuple[Any, ...], description: str) -> ParamSpec:
    return ParamSpec("categorical", default, choices=choices, description=description)


def _bool(default: bool, description: str) -> ParamSpec:
    return ParamSpec("bool", default, description=description)


_TOL = _float(1e-3, 1e-5, 1e-2, "stopping tolerance", log=True)

CATALOG: dict[str, Entry] = {
    e.id: e
    for e in (
        Entry(
            id="sklearn:iforest",
            description="Isolation Forest: rows isolated by few random splits are anomalous",
            module="sklearn.ensemble",
            estimator="IsolationForest",
            params={
                "n_estimators": _int(100, 50, 500, "number of trees", log=True),
                # "auto" (min(256, n_samples)) is the default; the space searches fractions
                "max_samples": _float("auto", 0.1, 1.0, "share of rows drawn per tree"),
                "max_features": _float(1.0, 0.5, 1.0, "share of features drawn per tree"),
                "bootstrap": _bool(False, "draw rows with replacement"),
            },
        ),
        Entry(
            id="sklearn:lof",
            description="Local Outlier Factor: local density compared with the neighbours'",
            module="sklearn.neighbors",
            estimator="LocalOutlierFactor",
            params={
                "n_neighbors": _int(20, 5, 100, "neighbours per row", log=True),
                "algorithm": _choice(
                    "auto", ("auto", "ball_tree", "kd_tree", "brute"), "neighbour search"
                ),
                "leaf_size": _int(30, 10, 100, "leaf size of the search tree", log=True),
                # only metrics both tree algorithms support, so every combination is valid
                "metric": _choice(
                    "minkowski",
                    ("minkowski", "euclidean", "manhattan", "chebyshev"),
                    "distance metric",
                ),
                "p": _int(2, 1, 4, "Minkowski power (used by metric='minkowski')"),
            },
            # novelty=True lets a fitted model score new rows; the training rows' scores are
            # negative_outlier_factor_, identical to what novelty=False computes
            fixed={"novelty": True},
            training_attribute="negative_outlier_factor_",
        ),
        Entry(
            id="sklearn:ocsvm",
            description="One-Class SVM on standardized features",
            module="sklearn.svm",
            estimator="OneClassSVM",
            params={
                "kernel": _choice("rbf", ("rbf", "linear", "poly", "sigmoid"), "kernel"),
                "gamma": _float("scale", 1e-3, 1.0, "kernel coefficient", log=True),
                "nu": _float(0.5, 0.01, 0.5, "upper bound on the share of training errors"),
                "degree": _int(3, 2, 5, "degree of the poly kernel"),
                "coef0": _float(0.0, 0.0, 1.0, "independent term of poly/sigmoid kernels"),
                "tol": _TOL,
                "shrinking": _bool(True, "use the shrinking heuristic"),
            },
            standardize=True,
        ),
        Entry(
            id="sklearn:elliptic",
            description="Elliptic Envelope: Mahalanobis distance under a robust covariance",
            module="sklearn.covariance",
            estimator="EllipticEnvelope",
            params={
                "support_fraction": _float(
                    None, 0.5, 1.0, "share of rows in the robust estimate (None: automatic)"
                ),
                "assume_centered": _bool(False, "assume the data is centred at zero"),
            },
            # the squared Mahalanobis distance, split by feature (terms.mahalanobis_terms)
            additive=True,
        ),
        Entry(
            id="sklearn:sgd_ocsvm",
            description=(
                "One-Class SVM trained by SGD on a Nystroem RBF feature map of standardized "
                "features (linear time in rows)"
            ),
            module="sklearn.linear_model",
            estimator="SGDOneClassSVM",
            params={
                "nu": _float(0.5, 0.01, 0.5, "upper bound on the share of training errors"),
                "learning_rate": _choice(
                    "optimal", ("optimal", "constant", "invscaling", "adaptive"), "step schedule"
                ),
                "eta0": _float(0.01, 1e-4, 0.1, "initial step (not used by 'optimal')", log=True),
                "power_t": _float(0.5, 0.1, 1.0, "exponent of the 'invscaling' schedule"),
                "max_iter": _int(1000, 100, 5000, "passes over the data at most", log=True),
                "tol": _TOL,
                "fit_intercept": _bool(True, "estimate the intercept"),
                "average": _bool(False, "average the SGD weights"),
                "gamma": _float(
                    None, 1e-3, 1.0, "RBF coefficient (None: 1 / n_features)", log=True
                ),
                "n_components": _int(100, 20, 500, "size of the Nystroem feature map", log=True),
            },
            standardize=True,
            # a linear one-class SVM on standardized (zero-mean) features cannot separate the
            # data from the origin; sklearn pairs SGDOneClassSVM with a kernel approximation
            feature_map=("sklearn.kernel_approximation", "Nystroem"),
            feature_map_params=("gamma", "n_components"),
        ),
    )
}

# Detectors whose scoring releases the GIL and may run in several threads at once: `jobs`
# scores them in threads (DetectorInfo.threaded_scoring). Measured: two threads scoring halves
# of 20,000-200,000 rows took 0.52-0.58 of one call, with the same scores. LOF (0.8-1.0x) and
# EllipticEnvelope (too little work per row to share) use worker processes.
THREADED_SCORING = frozenset({"sklearn:iforest", "sklearn:ocsvm", "sklearn:sgd_ocsvm"})

# What each detector is, for `detector="auto"` and readers (DetectorInfo.properties); auto picks
# PyOD's IForest first and scikit-learn's when PyOD is not there (same algorithm).
PROPERTIES: dict[str, dict[str, Any]] = {
    "sklearn:iforest": {"family": "isolation", "cost": "nlogn", "auto": True, "auto_rank": 2},
    "sklearn:lof": {
        "family": "proximity", "cost": "quadratic", "auto": True, "auto_rank": 2,
        "neighbors_param": "n_neighbors",
    },
    "sklearn:ocsvm": {"family": "boundary", "cost": "quadratic"},
    "sklearn:sgd_ocsvm": {"family": "boundary", "cost": "linear"},
    "sklearn:elliptic": {"family": "linear", "cost": "linear"},
}
