"""The pynomaly plugin ``v1_algorithm``: a robust anomaly detector.

Its detector ``v1_algorithm:mad`` scores a row by its distance to the training
median, each feature measured in units of its median absolute deviation (MAD): robust
statistics, so that the anomalies in the training data do not hide themselves. Replace it
with your own algorithm and keep the rules:

* heavy libraries (numpy, scikit-learn, torch ...) are imported inside the hooks, never at
  module level: pynomaly imports every plugin module to list plugins and detectors;
* ``X`` is never modified: compute on new arrays;
* a hook returns ``None`` for a detector that is not this plugin's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pynomaly import hookimpl
from pynomaly.errors import InvalidParameterError
from pynomaly.types import DetectorInfo, FitResult, ParamSpec, PluginMetadata, PluginType

if TYPE_CHECKING:
    import numpy as np

__version__ = "0.1.0"

DETECTOR = "v1_algorithm:mad"
METRICS = ("euclidean", "manhattan", "chebyshev")
DEFAULTS: dict[str, Any] = {"metric": "euclidean", "eps": 1e-9}


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="v1_algorithm",
        version=__version__,
        plugin_types=[PluginType.ALGORITHM],
        description="distance to the training median in MAD units",
        pynomaly_compat=">=1.0,<2",  # the pynomaly versions this plugin works with
        config_schema={"type": "object", "properties": {}, "additionalProperties": False},
    )


@hookimpl
def pynomaly_detectors() -> list[DetectorInfo]:
    return [
        DetectorInfo(
            DETECTOR,
            "distance to the training median, each feature in MAD units",
            {
                "metric": ParamSpec(
                    "categorical",
                    default=DEFAULTS["metric"],
                    choices=METRICS,
                    description="how the per-feature distances add up",
                ),
                "eps": ParamSpec(
                    "float",
                    default=DEFAULTS["eps"],
                    low=1e-12,
                    high=1e-3,
                    log=True,
                    description="smallest scale, for features whose MAD is 0",
                ),
            },
        )
    ]


@hookimpl
def pynomaly_validate_parameters(
    detector_id: str, params: Mapping[str, Any]
) -> dict[str, Any] | None:
    if detector_id != DETECTOR:
        return None
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        expected = ", ".join(DEFAULTS)
        raise InvalidParameterError(DETECTOR, unknown[0], f"is unknown (expected {expected})")
    checked = {**DEFAULTS, **params}
    if checked["metric"] not in METRICS:
        raise InvalidParameterError(
            DETECTOR, "metric", f"must be one of {', '.join(METRICS)}, got {checked['metric']!r}"
        )
    eps = checked["eps"]
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
        raise InvalidParameterError(DETECTOR, "eps", f"must be a number > 0, got {eps!r}")
    checked["eps"] = float(eps)
    return checked


@hookimpl
def pynomaly_fit(detector_id: str, X: np.ndarray, params: Mapping[str, Any]) -> FitResult | None:
    if detector_id != DETECTOR:
        return None
    import numpy as np

    center = np.median(X, axis=0)
    mad = np.median(np.abs(X - center), axis=0)
    state = {
        "center": center,
        "scale": np.maximum(1.4826 * mad, float(params.get("eps", DEFAULTS["eps"]))),
        "metric": params.get("metric", DEFAULTS["metric"]),
    }
    return FitResult(state=state, training_scores=_scores(state, X))


@hookimpl
def pynomaly_score(detector_id: str, state: Any, X: np.ndarray) -> np.ndarray | None:
    if detector_id != DETECTOR:
        return None
    return _scores(state, X)


def _scores(state: Mapping[str, Any], X: np.ndarray) -> np.ndarray:
    """Higher = more anomalous, one score per row."""
    import numpy as np

    z = np.abs(X - state["center"]) / state["scale"]
    if state["metric"] == "manhattan":
        return z.sum(axis=1)
    if state["metric"] == "chebyshev":
        return z.max(axis=1)
    return np.sqrt(np.square(z).sum(axis=1))


@hookimpl
def pynomaly_health_check() -> dict[str, Any]:
    import importlib.util

    if importlib.util.find_spec("numpy") is None:
        return {"status": "unhealthy", "reason": "numpy is not installed"}
    return {"status": "healthy"}
