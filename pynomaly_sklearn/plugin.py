"""The ``sklearn_adapter`` plugin: scikit-learn's outlier detectors behind pynomaly's hooks.

Scores follow pynomaly's convention, higher = more anomalous: they are scikit-learn's
``score_samples`` (lower = more abnormal) negated, never rescaled, so they keep the library's
meaning (e.g. ``sklearn:lof`` scores are the local outlier factors themselves).

The module imports neither scikit-learn, numpy nor pandas: they load when a detector is
validated or fitted. ``pynomaly_explain`` answers for ``sklearn:elliptic`` alone: the terms of
its squared Mahalanobis distance, feature by feature (:mod:`pynomaly_sklearn.terms`); pynomaly
explains the others from the outside.

Configuration (``{"n_jobs": 4}``) is kept per process: the module is the plugin object, so
every manager that registers it shares the last configuration applied.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pynomaly._version import __version__
from pynomaly.errors import InvalidParameterError
from pynomaly.markers import hookimpl, import_module
from pynomaly.types import DetectorInfo, FitResult, ParamSpec, PluginMetadata, PluginType
from pynomaly_sklearn.catalog import CATALOG, PROPERTIES, THREADED_SCORING, Entry
from pynomaly_sklearn.checked import finite_input

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

PLUGIN_NAME = "sklearn_adapter"
MIN_SKLEARN = "1.3"

# set through pynomaly's own fit arguments, never as detector parameters
_RESERVED = {
    "contamination": "is not a detector parameter: pass contamination= to pynomaly instead",
    "random_state": "is not a detector parameter: pass random_state= to pynomaly instead",
}

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "n_jobs": {
            "type": ["integer", "null"],
            "not": {"const": 0},
            "description": "parallel jobs for detectors that take n_jobs (-1: all cores)",
        }
    },
    "additionalProperties": False,
}

_config: dict[str, Any] = {}

# "The 'n_estimators' parameter of IsolationForest must be an int ... Got -5 instead."
_SKLEARN_MESSAGE = re.compile(r"The '(?P<name>\w+)' parameter of \w+ (?P<problem>.*)", re.S)


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
        description="scikit-learn outlier detectors: " + ", ".join(CATALOG),
        dependencies=(f"scikit-learn>={MIN_SKLEARN}",),
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
    problem = _sklearn_problem()
    if problem:
        return {"status": "unhealthy", "reason": problem}
    return {
        "status": "healthy",
        "scikit-learn": importlib.metadata.version("scikit-learn"),
        "detectors": list(CATALOG),
        "config": dict(_config),
    }


def _sklearn_problem() -> str:
    """Why scikit-learn cannot be used ("" if it can), found without importing it."""
    hint = f"install it with: pip install 'scikit-learn>={MIN_SKLEARN}'"
    try:
        version = importlib.metadata.version("scikit-learn")
    except importlib.metadata.PackageNotFoundError:
        return f"scikit-learn is not installed; {hint}"
    if importlib.util.find_spec("sklearn") is None:
        return f"scikit-learn {version} is registered but the sklearn module is missing; {hint}"
    from packaging.version import InvalidVersion, Version

    try:
        too_old = Version(version) < Version(MIN_SKLEARN)
    except InvalidVersion:
        return ""
    return f"scikit-learn {version} is too old; {hint}" if too_old else ""


# --------------------------------------------------------------------------------------------
# Algorithm hooks
# --------------------------------------------------------------------------------------------


@hookimpl
def pynomaly_detectors() -> list[DetectorInfo]:
    problem = _sklearn_problem()
    return [
        # every one scores a new row against the fitted model alone (LOF in novelty mode)
        DetectorInfo(
            e.id,
            e.description,
            e.params,
            available=not problem,
            reason=problem,
            batch_independent=True,
            threaded_scoring=e.id in THREADED_SCORING,
            additive_contributions=e.additive,
            properties=PROPERTIES.get(e.id, {}),
        )
        for e in CATALOG.values()
    ]


@hookimpl
def pynomaly_validate_parameters(
    detector_id: str, params: Mapping[str, Any]
) -> dict[str, Any] | None:
    entry = CATALOG.get(detector_id)
    if entry is None:
        return None
    estimator = _class(entry.module, entry.estimator)
    valid = _valid_names(entry)
    for name in params:
        if name not in valid:
            raise InvalidParameterError(detector_id, name, _unknown_problem(entry, name, valid))
    checked = {name: _normalize(entry.params.get(name), value) for name, value in params.items()}
    detector_args, map_args = _split(entry, checked)
    _sklearn_validate(detector_id, estimator, {**detector_args, **entry.fixed}, detector_args)
    if entry.feature_map is not None:
        _sklearn_validate(detector_id, _class(*entry.feature_map), map_args, map_args)
    _check_combinations(detector_id, entry, estimator(**detector_args).get_params())
    return checked


@hookimpl
def pynomaly_fit(
    detector_id: str,
    X: np.ndarray,
    params: Mapping[str, Any],
    contamination: float,
    random_state: int | None,
) -> FitResult | None:
    entry = CATALOG.get(detector_id)
    if entry is None:
        return None
    # contamination is not passed on: pynomaly sets the threshold itself, and given one,
    # IsolationForest.fit scores every training row a second time just to set offset_
    model = _build(entry, params, random_state, n_rows=X.shape[0])
    with finite_input():
        model.fit(X)
        if entry.training_attribute is not None:
            raw = getattr(_final_step(model), entry.training_attribute)
        else:
            raw = model.score_samples(X)
    return FitResult(state=model, training_scores=_anomaly_scores(detector_id, raw))


@hookimpl
def pynomaly_score(detector_id: str, state: Any, X: np.ndarray) -> np.ndarray | None:
    if detector_id not in CATALOG:
        return None
    with finite_input():
        raw = state.score_samples(X)
    return _anomaly_scores(detector_id, raw)


@hookimpl
def pynomaly_explain(detector_id: str, state: Any, X: np.ndarray) -> np.ndarray | None:
    """For ``sklearn:elliptic``, each row's ZCA-cor whitened terms of its squared Mahalanobis
    distance (:mod:`pynomaly_sklearn.terms`; they add up to its score); ``None`` for the other
    detectors."""
    entry = CATALOG.get(detector_id)
    if entry is None or not entry.additive:
        return None
    from pynomaly_sklearn.terms import mahalanobis_terms

    return mahalanobis_terms(state, X)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _class(module: str, name: str) -> type:
    cls: type = getattr(import_module(module), name)  # under pynomaly's import lock
    return cls


def _constructor_names(module: str, name: str) -> set[str]:
    return set(_class(module, name)().get_params())


def _valid_names(entry: Entry) -> set[str]:
    """Parameters a user may set: the constructors' minus those pynomaly or the adapter sets."""
    names = _constructor_names(entry.module, entry.estimator)
    names |= set(entry.feature_map_params)
    return names - set(_RESERVED) - set(entry.fixed)


def _unknown_problem(entry: Entry, name: str, valid: set[str]) -> str:
    if name in _RESERVED:
        return _RESERVED[name]
    if name in entry.fixed:
        return f"is fixed to {entry.fixed[name]!r} by the adapter (so that new rows can be scored)"
    return f"is not a parameter of {entry.estimator}; valid: {', '.join(sorted(valid))}"


def _normalize(spec: ParamSpec | None, value: Any) -> Any:
    """Plain Python values: numpy scalars unwrapped, whole floats for int parameters as int
    (tuners and JSON configs often produce ``100.0``, which scikit-learn rejects)."""
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    if (
        spec is not None
        and spec.kind == "int"
        and isinstance(value, float)
        and value.is_integer()
    ):
        return int(value)
    return value


def _split(entry: Entry, params: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The user parameters for the detector and for the feature map."""
    to_map = set(entry.feature_map_params)
    detector = {k: v for k, v in params.items() if k not in to_map}
    feature_map = {k: v for k, v in params.items() if k in to_map}
    return detector, feature_map


def _sklearn_validate(
    detector_id: str, cls: type, kwargs: Mapping[str, Any], user: Mapping[str, Any]
) -> None:
    """Run scikit-learn's declarative parameter check; its error names the parameter."""
    validate = getattr(cls(**kwargs), "_validate_params", None)
    if validate is None:  # pragma: no cover - scikit-learn < 1.2 checks in fit only
        return
    try:
        validate()
    except (ValueError, TypeError) as exc:  # sklearn's InvalidParameterError is both
        name, problem = _parse_sklearn_error(str(exc), cls, user)
        raise InvalidParameterError(detector_id, name, problem) from None


def _parse_sklearn_error(message: str, cls: type, user: Mapping[str, Any]) -> tuple[str, str]:
    """(parameter, one-line problem) from scikit-learn's message, else by checking each one."""
    found = _SKLEARN_MESSAGE.search(message)
    if found:
        return found["name"], " ".join(found["problem"].split())
    for name, value in user.items():
        try:
            cls(**{name: value})._validate_params()
        except (ValueError, TypeError) as exc:
            return name, " ".join(str(exc).split())
    return next(iter(user), "?"), " ".join(message.split())


def _check_combinations(detector_id: str, entry: Entry, args: Mapping[str, Any]) -> None:
    """Reject what scikit-learn's per-parameter check lets through but ``fit`` refuses."""
    if "precomputed" in (args.get("kernel"), args.get("metric")):
        name = "kernel" if args.get("kernel") == "precomputed" else "metric"
        raise InvalidParameterError(
            detector_id, name, "'precomputed' is not supported: detectors receive feature rows"
        )
    if entry.estimator == "LocalOutlierFactor" and args["algorithm"] in ("kd_tree", "ball_tree"):
        from sklearn.neighbors import VALID_METRICS

        algorithm, metric = args["algorithm"], args["metric"]
        if isinstance(metric, str) and metric not in VALID_METRICS[algorithm]:
            raise InvalidParameterError(
                detector_id, "metric", f"{metric!r} does not work with algorithm={algorithm!r}; "
                "use algorithm='brute' or one of " + ", ".join(sorted(VALID_METRICS[algorithm]))
            )
        if metric == "minkowski" and args["p"] is not None and args["p"] < 1:
            raise InvalidParameterError(
                detector_id, "p", f"must be >= 1 with algorithm={algorithm!r} (or use 'brute')"
            )
    # older scikit-learn defaulted eta0 to 0.0, which only the 'optimal' schedule accepts
    if args.get("learning_rate", "optimal") != "optimal" and args.get("eta0", 1) <= 0:
        raise InvalidParameterError(
            detector_id, "eta0", f"must be > 0 with learning_rate={args['learning_rate']!r}"
        )


def _build(
    entry: Entry, params: Mapping[str, Any], random_state: int | None, *, n_rows: int
) -> Any:
    """The unfitted model: detector (plus scaler and feature map), seeded where possible."""
    detector_args, map_args = _split(entry, params)
    if "n_components" in entry.feature_map_params and "n_components" not in map_args:
        # Nystroem caps its default size at the row count anyway, but warns; same result
        map_args["n_components"] = min(entry.params["n_components"].default, n_rows)
    detector = _construct(
        entry.module, entry.estimator, {**detector_args, **entry.fixed}, random_state
    )
    if not entry.standardize and entry.feature_map is None:
        return detector
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    steps: list[Any] = [StandardScaler()] if entry.standardize else []
    if entry.feature_map is not None:
        steps.append(_construct(*entry.feature_map, map_args, random_state))
    return make_pipeline(*steps, detector)


def _construct(
    module: str, name: str, args: Mapping[str, Any], random_state: int | None
) -> Any:
    """``name(**args)`` plus the seed and configured n_jobs where it takes them (a user's own
    n_jobs wins over the plugin configuration)."""
    cls = _class(module, name)
    accepted = _constructor_names(module, name)
    kwargs = dict(args)
    if "random_state" in accepted:
        kwargs["random_state"] = random_state
    if "n_jobs" in accepted and "n_jobs" not in kwargs and _config.get("n_jobs") is not None:
        kwargs["n_jobs"] = _config["n_jobs"]
    return cls(**kwargs)


def _final_step(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


def _anomaly_scores(detector_id: str, library_scores: Any) -> np.ndarray:
    """Negate scikit-learn's scores (lower = more abnormal) into pynomaly's convention."""
    import numpy as np

    scores = -np.asarray(library_scores, dtype=np.float64).ravel()
    if not np.isfinite(scores).all():
        raise ValueError(
            f"{detector_id} produced non-finite scores (the model diverged or the data is "
            "degenerate); try other parameters"
        )
    return scores
