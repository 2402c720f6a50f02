"""The ``pyod_adapter`` plugin: PyOD's tabular detectors as pynomaly detectors ``pyod:<name>``.

Lazy imports. pynomaly imports every plugin module at start-up and asks it for its detectors on
every ``pynomaly detectors`` / ``pynomaly plugins list``. This module and
:mod:`pynomaly_pyod.catalog` therefore import only the standard library and pynomaly's light
modules: metadata, the health check and the detector list never import PyOD, numpy,
scikit-learn or numba (whether PyOD and a detector's extras are installed is decided with
:func:`importlib.util.find_spec`). PyOD is imported inside the hooks that use a detector
(validate, fit, score, explain), and only the module of that detector.

Semantics. Training scores are PyOD's own ``decision_scores_`` and new rows are scored with
``decision_function``; both are "higher = more anomalous", as pynomaly expects. ECOD and COPOD
are the exception for new rows: PyOD ranks them against the training data plus the rest of their
batch, and the adapter scores each row as PyOD scores a batch of that row alone, from the sorted
training columns (:mod:`pynomaly_pyod.ecdf`; their fitted state is an
:class:`~pynomaly_pyod.ecdf.EcdfState`, not the PyOD estimator). pynomaly derives
the threshold from ``contamination`` the way PyOD does, so labels match PyOD's ``labels_`` (MAD
excepted: PyOD labels it with its z-score ``threshold``). ``random_state`` is passed only to
detectors that take one, and only when it is not ``None`` (``None`` keeps PyOD's default).

Configuration (validated against :data:`CONFIG_SCHEMA`): ``n_jobs`` is passed to every detector
that takes it, unless the detector's parameters set it.

PyOD's numba-compiled functions are kept on disk so that they compile once per machine, not
once per process (:mod:`pynomaly_pyod.jitcache`).
"""

from __future__ import annotations

import copy
import functools
import importlib
import importlib.metadata
import importlib.util
import inspect
import math
import numbers
import re
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pynomaly._version import __version__
from pynomaly.errors import DataError, InputError, InvalidParameterError
from pynomaly.markers import hookimpl, import_module
from pynomaly.types import DetectorInfo, FitResult, PluginMetadata, PluginType
from pynomaly_pyod.catalog import (
    RESERVED,
    THREADED_SCORING,
    Entry,
    Param,
    entries,
    entry,
    properties,
)
from pynomaly_sklearn.checked import finite_input

if TYPE_CHECKING:  # pragma: no cover - annotations only
    import numpy as np

PLUGIN_NAME = "pyod_adapter"

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "n_jobs": {
            "type": "integer",
            "minimum": -1,
            "not": {"const": 0},
            "description": "parallel jobs for detectors that take n_jobs (-1: all cores)",
        },
    },
    "additionalProperties": False,
}

# The configuration of the last initialize/configure call. Module-level because the plugin is
# this module: every manager that registers it shares the configuration.
_config: dict[str, Any] = {}

# LSCP needs a pool of base detectors; this is the pool of its paper's experiments (LOF with a
# range of neighbourhood sizes), used when the user gives no ``detector_list``.
_LSCP_POOL_NEIGHBORS = (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)


# --------------------------------------------------------------------------------------------
# Metadata and lifecycle
# --------------------------------------------------------------------------------------------


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name=PLUGIN_NAME,
        version=__version__,
        plugin_types=[PluginType.ALGORITHM],
        author="pynomaly",
        description="PyOD's tabular outlier detectors (pyod:<name>)",
        dependencies=["pyod>=2"],
        pynomaly_compat=">=1.0,<2",
        config_schema=CONFIG_SCHEMA,
    )


@hookimpl
def pynomaly_initialize(config: Mapping[str, Any]) -> None:
    _apply_config(config)


@hookimpl
def pynomaly_configure(config: Mapping[str, Any]) -> None:
    _apply_config(config)


@hookimpl
def pynomaly_cleanup() -> None:
    _config.clear()


def _apply_config(config: Mapping[str, Any]) -> None:
    """Replace the configuration (already validated against :data:`CONFIG_SCHEMA`)."""
    _config.clear()
    _config.update(config)


@hookimpl
def pynomaly_health_check() -> dict[str, Any]:
    """Healthy when PyOD >= 2 is installed; counts the usable detectors. Imports no PyOD."""
    if importlib.util.find_spec("pyod") is None:
        return {"status": "unhealthy", "reason": "pyod is not installed: pip install pyod"}
    version = importlib.metadata.version("pyod")
    from packaging.version import InvalidVersion, Version

    try:
        too_old = Version(version).major < 2
    except InvalidVersion:
        too_old = False  # an unusual local build: let the detectors speak for themselves
    if too_old:
        reason = f"pyod {version} is too old: pip install 'pyod>=2'"
        return {"status": "unhealthy", "reason": reason}
    available = sum(1 for e in entries() if not e.unavailable_reason())
    return {
        "status": "healthy",
        "pyod": version,
        "available_detectors": available,
        "unavailable_detectors": len(entries()) - available,
    }


# --------------------------------------------------------------------------------------------
# Algorithm hooks
# --------------------------------------------------------------------------------------------


@hookimpl
def pynomaly_detectors() -> list[DetectorInfo]:
    """Every PyOD tabular detector, from the static table (no PyOD import)."""
    return [_info(e) for e in entries()]


def _info(e: Entry) -> DetectorInfo:
    reason = e.unavailable_reason()
    note = "; a new row's score depends on the other rows of its batch" if e.batch_relative else ""
    if e.defaults_reason:
        note += f"; {e.defaults_reason}"
    return DetectorInfo(
        id=e.id,
        description=f"{e.summary}{note} (PyOD {e.cls})",
        params=e.space(),
        available=not reason,
        reason=reason,
        batch_independent=not e.batch_relative,
        threaded_scoring=not e.batch_relative and e.name in THREADED_SCORING,
        additive_contributions=e.additive,
        cannot_explain=e.cannot_explain,
        properties=properties(e.name),
    )


@hookimpl
def pynomaly_validate_parameters(
    detector_id: str, params: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Check names, types and ranges, then let PyOD's constructor check the values too.

    :returns: the parameters with numbers normalized to the type PyOD expects (``5.0`` → ``5``
        for an int, ``1`` → ``1.0`` for a float, numpy scalars → Python ones).
    """
    e = entry(detector_id)
    if e is None:
        return None
    cls = _load(e)
    valid = [n for n in _param_names(cls) if n not in RESERVED]
    checked: dict[str, Any] = {}
    for name, value in params.items():
        if name in RESERVED:
            raise InvalidParameterError(
                detector_id, name,
                f"is set by pynomaly: pass {name}= to detect()/fit(), not as a detector parameter",
            )
        if name not in valid:
            raise InvalidParameterError(
                detector_id, name, f"is not a parameter of {e.cls}; valid: {', '.join(valid)}"
            )
        checked[name] = _check_value(detector_id, name, e.params.get(name), value)
    _construct(e, cls, _constructor_args(e, cls, checked, 0.1, None))
    return checked


@hookimpl
def pynomaly_fit(
    detector_id: str,
    X: np.ndarray,
    params: Mapping[str, Any],
    contamination: float,
    random_state: int | None,
) -> FitResult | None:
    """Fit PyOD's detector on the whole batch; training scores are its ``decision_scores_``.

    For ECOD and COPOD the state is the :class:`~pynomaly_pyod.ecdf.EcdfState` of ``X``: PyOD's
    estimator keeps the training data and four arrays of its size, which scoring no longer
    needs.
    """
    e = entry(detector_id)
    if e is None:
        return None
    cls = _load(e)
    _check_features(e, X.shape[1])
    estimator = _construct(e, cls, _constructor_args(e, cls, params, contamination, random_state))
    try:
        with finite_input():
            estimator.fit(X)
    except ValueError as exc:  # PyOD's way of rejecting a parameter/data combination
        raise InputError(
            f"{detector_id}: {e.cls} cannot fit these {X.shape[0]}×{X.shape[1]} data: {exc}"
        ) from exc
    threshold = _pyod_threshold(e, estimator, contamination)
    if e.sorted_scoring:
        import numpy

        from pynomaly_pyod import ecdf

        # the copy of X the state keeps goes into PyOD's outlier matrix O, dropped with the
        # estimator: no second n × d allocation (and its page faults) in every fit
        scores = estimator.decision_scores_
        spare = getattr(estimator, "O", None)
        if isinstance(spare, numpy.ndarray) and numpy.shares_memory(spare, scores):
            spare = None
        del estimator
        return FitResult(
            state=ecdf.fit_state(e.name, X, spare), training_scores=scores, threshold=threshold
        )
    return FitResult(
        state=estimator, training_scores=estimator.decision_scores_, threshold=threshold
    )


@hookimpl
def pynomaly_score(detector_id: str, state: Any, X: np.ndarray) -> Any:
    """PyOD's ``decision_function`` of the batch (higher = more anomalous); for ECOD and COPOD
    each row as PyOD scores it alone (:func:`pynomaly_pyod.ecdf.score`)."""
    e = entry(detector_id)
    if e is None:
        return None
    if e.sorted_scoring:
        return _sorted_score(e, state, X)
    if e.name == "qmcd":
        return _qmcd_scores(state, X)
    k = getattr(state, "n_neighbors", None)
    if e.batch_relative and isinstance(k, int) and X.shape[0] <= k:
        raise InputError(
            f"{detector_id}: {e.cls} scores rows within their batch and needs more than "
            f"n_neighbors={k} rows per batch, got {X.shape[0]}"
        )
    from pynomaly_pyod import jitcache

    # a model loaded in a fresh process (pynomaly score, a Dask or process-pool worker)
    # imported its PyOD module by unpickling, not through _load: cache its numba functions
    jitcache.enable()
    if e.name == "lscp":
        # LSCP draws from the RandomState it keeps in decision_function: score with a copy so
        # that a fitted model gives the same scores for the same rows every time
        state = copy.deepcopy(state)
    try:
        with finite_input():
            return state.decision_function(X)
    except ValueError as exc:  # e.g. a batch-relative detector given fewer rows than neighbours
        within = " (it scores rows within their batch)" if e.batch_relative else ""
        raise InputError(
            f"{detector_id}: {e.cls} cannot score these {X.shape[0]}×{X.shape[1]} data{within}: "
            f"{exc}"
        ) from exc


@hookimpl
def pynomaly_explain(detector_id: str, state: Any, X: np.ndarray) -> Any:
    """Each row's per-feature terms for the detectors whose score is their sum (ECOD, COPOD,
    HBOS, PCA, MCD: :mod:`pynomaly_pyod.terms`); ``None`` for the others, which pynomaly
    explains from the outside."""
    e = entry(detector_id)
    if e is None or not e.additive:
        return None
    from pynomaly_pyod import ecdf, terms

    if e.sorted_scoring:
        return ecdf.terms(_ecdf_state(e, state, X), X)
    if e.name == "hbos":
        return terms.hbos_terms(state, X)
    if e.name == "pca":
        return terms.pca_terms(state, X)
    from pynomaly_sklearn.terms import mahalanobis_terms

    return mahalanobis_terms(state.detector_, X)  # mcd: PyOD scores detector_.mahalanobis


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


# Detectors whose fit sets decision_scores_ last and then calls BaseDetector's
# _process_decision_scores, so that threshold_ is numpy.percentile(decision_scores_, 100 * (1 -
# contamination)), pynomaly's contamination threshold (checked for PyOD 2 and 3; MAD labels
# with its own z-score threshold, and ALAD replaces its scores after computing threshold_).
# tests/test_pyod_adapter.py recomputes the percentile for each.
_THRESHOLD_FROM_FIT = frozenset({
    "abod", "cblof", "cd", "cof", "copod", "ecod", "feature_bagging", "gmm", "hbos",
    "hdbscan", "iforest", "inne", "kde", "knn", "kpca", "lmdd", "loci", "loda", "lof", "lscp",
    "mcd", "ocsvm", "pca", "qmcd", "rgraph", "rod", "sampling", "sod", "sos",
})


def _pyod_threshold(e: Entry, estimator: Any, contamination: float) -> float | None:
    """PyOD's ``threshold_`` when it is pynomaly's threshold for ``contamination`` (see
    :attr:`~pynomaly.types.FitResult.threshold`): saves a second percentile of the scores."""
    if e.name not in _THRESHOLD_FROM_FIT:
        return None
    from pyod.models.base import BaseDetector

    own = getattr(type(estimator), "_process_decision_scores", None)
    if own is not BaseDetector._process_decision_scores:
        return None
    given = getattr(estimator, "contamination", None)
    if type(given) is not float or given != contamination:
        return None
    threshold = getattr(estimator, "threshold_", None)
    return float(threshold) if isinstance(threshold, numbers.Real) else None


# PyOD estimators fitted before ECOD/COPOD had their own state (models saved by pynomaly 1.0),
# with the EcdfState made from their training data on first use.
_legacy_states: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def _sorted_score(e: Entry, state: Any, X: np.ndarray) -> np.ndarray:
    from pynomaly_pyod import ecdf

    return ecdf.score(_ecdf_state(e, state, X), X)


def _ecdf_state(e: Entry, state: Any, X: np.ndarray) -> Any:
    """The :class:`~pynomaly_pyod.ecdf.EcdfState` of an ECOD/COPOD state (a 1.0 model's PyOD
    estimator is converted once), checked against the width of ``X``."""
    from pynomaly_pyod import ecdf

    if not isinstance(state, ecdf.EcdfState):
        fast = _legacy_states.get(state)
        if fast is None:
            fast = _legacy_states[state] = ecdf.fit_state(e.name, state.X_train)
        state = fast
    if X.shape[1] != state.n_features:
        raise DataError(
            f"{e.id}: the model was fitted on {state.n_features} features, got {X.shape[1]}"
        )
    return state


def _load(e: Entry) -> Any:
    """Import the detector's PyOD class; an unusable detector is an :class:`InputError`."""
    reason = e.unavailable_reason()
    if reason:
        raise InputError(f"detector {e.id} is unavailable: {reason}")
    module = import_module(e.module)  # under pynomaly's import lock
    from pynomaly_pyod import jitcache

    jitcache.enable()  # before the module's numba functions first run
    return getattr(module, e.cls)


def _check_features(e: Entry, n_features: int) -> None:
    if e.max_features is not None and n_features > e.max_features:
        raise DataError(
            f"{e.id} is univariate: it fits exactly {e.max_features} feature, got {n_features} "
            "(select one column or use another detector)"
        )
    if n_features < e.min_features:
        raise DataError(f"{e.id} needs at least {e.min_features} features, got {n_features}")


def _constructor_args(
    e: Entry,
    cls: Any,
    params: Mapping[str, Any],
    contamination: float,
    random_state: int | None,
) -> dict[str, Any]:
    """Keyword arguments for ``cls``: adapter defaults < configured n_jobs < user params."""
    accepted = set(_param_names(cls))
    kwargs: dict[str, Any] = {
        k: v for k, v in {**e.fixed, **e.defaults}.items() if k in accepted
    }
    if _config.get("n_jobs") is not None and "n_jobs" in accepted:
        kwargs["n_jobs"] = _config["n_jobs"]
    # A copy: PyOD fits estimator-valued parameters (LSCP's detector_list) in place, and two
    # fits with the same parameters must not share them.
    kwargs.update(copy.deepcopy(dict(params)))
    if e.name == "lscp" and "detector_list" not in kwargs:
        kwargs["detector_list"] = _lscp_pool()
    kwargs["contamination"] = contamination
    if random_state is not None and "random_state" in accepted:
        kwargs["random_state"] = random_state
    return kwargs


@functools.lru_cache(maxsize=128)
def _param_names(cls: Any) -> tuple[str, ...]:
    """The constructor's named parameters, in order (PyOD's ``_get_param_names`` is not a
    classmethod, so it cannot be asked before an instance exists). Cached: every fit asks
    three times, and ``inspect.signature`` is slow."""
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]  # skip self
    return tuple(p.name for p in params if p.kind in kinds)


def _qmcd_scores(state: Any, X: np.ndarray) -> Any:
    """QMCD's ``decision_function`` with new rows clipped to the training range first.

    QMCD min-max scales the data and measures the wrap-around discrepancy, a formula for values
    in [0, 1]. PyOD scales new rows with the training scaler but does not clip them, so a new
    row far outside the training range gets a huge raw discrepancy, which QMCD's orientation
    flip (chosen on the training scores) turns into the *lowest* score. Clipped, such a row
    sits on the boundary of the training cube and scores like the most extreme training rows;
    rows inside the training range get exactly PyOD's scores.
    """
    import numpy as np

    module = import_module("pyod.models.qmcd")
    X_norm = np.clip(state._scaler.transform(X), 0.0, 1.0)
    scores = module._wrap_around_discrepancy(state._fitted_data, X_norm)
    if state._is_flipped:
        scores = state.decision_scores_.max() + state.decision_scores_.min() - scores
    return scores


def _lscp_pool() -> list[Any]:
    from pyod.models.lof import LOF

    return [LOF(n_neighbors=k) for k in _LSCP_POOL_NEIGHBORS]


def _construct(e: Entry, cls: Any, kwargs: Mapping[str, Any]) -> Any:
    """``cls(**kwargs)``; PyOD's ValueError/TypeError becomes an InvalidParameterError."""
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        user = [k for k in kwargs if k != "contamination" and k not in e.fixed]
        raise InvalidParameterError(
            e.id, _culprit(str(exc), user), f"is rejected by PyOD's {e.cls}: {exc}"
        ) from exc


def _culprit(message: str, names: list[str]) -> str:
    """The parameter a PyOD error message is about (the longest name it mentions)."""
    mentioned = [n for n in names if re.search(rf"\b{re.escape(n)}\b", message)]
    if mentioned:
        return max(mentioned, key=len)
    return names[0] if len(names) == 1 else ", ".join(names) or "(parameters)"


def _check_value(detector_id: str, name: str, p: Param | None, value: Any) -> Any:
    """Check one value against its validity rule; returns it normalized."""
    if name == "n_jobs":
        if value is None or (_is_int(value) and int(value) != 0):
            return None if value is None else int(value)
        raise InvalidParameterError(
            detector_id, name, f"must be a non-zero int or None, got {value!r}"
        )
    if name == "detector_list":
        return _check_detector_list(detector_id, value)
    if p is None:  # no rule known: PyOD's constructor (and fit) will judge it
        return value
    if any(value is s or (isinstance(s, str) and isinstance(value, str) and value == s)
           for s in p.special):
        return value

    def bad(problem: str) -> InvalidParameterError:
        return InvalidParameterError(detector_id, name, f"{problem}, got {value!r}")

    also = "".join(f" or {s!r}" for s in p.special)
    if p.check == "bool":
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            return bool(value)
        raise bad(f"must be True or False{also}")
    if p.check == "choice":
        choices = p.choices or p.spec.choices
        if isinstance(value, str) and value in choices:
            return value
        raise bad("must be one of " + ", ".join(repr(c) for c in (*choices, *p.special)))
    if p.check == "int":
        if not (_is_int(value) or (_is_real(value) and float(value).is_integer())):
            raise bad(f"must be an integer{also}")
        return _in_range(int(value), p, bad)
    if p.check == "float":
        if not _is_real(value):
            raise bad(f"must be a number{also}")
        return _in_range(float(value), p, bad)
    if p.check == "count_or_fraction":
        if _is_int(value):
            if int(value) < p.count_min:
                raise bad(f"must be >= {p.count_min} as a count (int)")
            return int(value)
        if _is_real(value):
            return _in_range(float(value), p, bad, " as a fraction (float)")
        raise bad(f"must be an int (a count) or a float (a fraction){also}")
    raise AssertionError(f"unknown check {p.check!r}")  # pragma: no cover - table error


def _in_range(value: float, p: Param, bad: Any, what: str = "") -> Any:
    if not math.isfinite(value):
        raise bad("must be finite")
    too_low = p.low is not None and (value <= p.low if p.low_open else value < p.low)
    too_high = p.high is not None and (value >= p.high if p.high_open else value > p.high)
    if too_low or too_high:
        raise bad(f"must be {_interval(p)}{what}")
    return value


def _interval(p: Param) -> str:
    if p.high is None:
        return f"{'>' if p.low_open else '>='} {p.low}"
    if p.low is None:
        return f"{'<' if p.high_open else '<='} {p.high}"
    return f"in {'(' if p.low_open else '['}{p.low}, {p.high}{')' if p.high_open else ']'}"


def _is_int(value: Any) -> bool:
    """An integer, numpy's included, but not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    """A finite-or-not real number, numpy's included, but not a bool."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_detector_list(detector_id: str, value: Any) -> list[Any]:
    """LSCP's pool: at least two unfitted PyOD-style detectors."""
    if not isinstance(value, (list, tuple)) or len(value) < 2 or not all(
        hasattr(d, "fit") and hasattr(d, "decision_function") for d in value
    ):
        raise InvalidParameterError(
            detector_id, "detector_list",
            f"must be a list of at least 2 PyOD detectors, got {value!r}",
        )
    return list(value)
