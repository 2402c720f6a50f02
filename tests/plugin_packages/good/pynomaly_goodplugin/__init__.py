"""A third-party style pynomaly plugin: detector ``good:maxz`` (largest absolute z-score)."""

from pynomaly import hookimpl
from pynomaly.types import DetectorInfo, FitResult, ParamSpec, PluginMetadata

__version__ = "0.3.0"


@hookimpl
def pynomaly_plugin_metadata():
    return PluginMetadata(
        name="goodplugin",
        version=__version__,
        plugin_types=["algorithm"],
        author="tests",
        description="max |z| detector",
        pynomaly_compat=">=1.0,<2",
        config_schema={
            "type": "object",
            "properties": {"ddof": {"type": "integer", "minimum": 0}},
            "additionalProperties": False,
        },
    )


@hookimpl
def pynomaly_detectors():
    return [
        DetectorInfo(
            "good:maxz",
            "largest absolute z-score over the features",
            {"ddof": ParamSpec("int", default=0, low=0, high=1)},
        )
    ]


@hookimpl
def pynomaly_fit(detector_id, X, params, contamination, random_state):
    if detector_id != "good:maxz":
        return None
    state = (X.mean(axis=0), X.std(axis=0, ddof=params.get("ddof", 0)) + 1e-12)
    return FitResult(state=state, training_scores=_score(state, X))


@hookimpl
def pynomaly_score(detector_id, state, X):
    return _score(state, X) if detector_id == "good:maxz" else None


def _score(state, X):
    mean, std = state
    return abs((X - mean) / std).max(axis=1)


@hookimpl
def pynomaly_health_check():
    return {"status": "healthy"}
