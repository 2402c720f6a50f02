"""The pynomaly plugin ``robustz``: a robust z-score detector.

``robustz:mad`` measures each feature of a row as a robust z-score:
its distance to the training median in units of the median absolute deviation (MAD). A row's
score is the largest (``aggregate="max"``) or the mean (``"mean"``) absolute z. Medians are not
dragged by the anomalies they look for, unlike means and standard deviations.

Replace it with your own algorithm and keep the rules: heavy libraries (numpy, scikit-learn,
torch ...) are imported inside the hooks, never at module level, because pynomaly imports
every plugin module to list plugins and detectors; ``X`` is never modified; a hook returns
``None`` for a detector that is not this plugin's. Written against pynomaly's public plugin
API only: ``pynomaly.hookimpl``, ``pynomaly.types`` and ``pynomaly.errors``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pynomaly import hookimpl
from pynomaly.errors import InvalidParameterError
from pynomaly.types import DetectorInfo, FitResult, ParamSpec, PluginMetadata, PluginType

# >>> example: what the Markdown output at the end of this module imports
# isort: split
from pathlib import Path

from pynomaly import atomic_write
from pynomaly.types import OutputInfo

# <<< example

if TYPE_CHECKING:  # numpy is imported inside the hooks that compute; here for annotations
    import numpy as np

__version__ = "0.1.0"

DETECTOR = "robustz:mad"
AGGREGATES = ("max", "mean")
DEFAULT_PARAMS: dict[str, Any] = {"aggregate": "max", "eps": 1e-9}
MAD_TO_SD = 1.4826  # the MAD of normal data times this is its standard deviation
MEAN_AD_TO_SD = 1.2533  # the same for the mean absolute deviation: sqrt(pi / 2)

PLUGIN_TYPES = [PluginType.ALGORITHM]  # what the plugin provides
# its settings (`pynomaly --config`): the JSON Schema of each, validated by pynomaly before
# pynomaly_initialize gets them, and their defaults; none yet
SETTINGS: dict[str, Any] = {}
DEFAULT_CONFIG: dict[str, Any] = {}

# >>> example: the plugin also provides the Markdown output, which has a setting
PLUGIN_TYPES.append(PluginType.OUTPUT)
SETTINGS["digits"] = {
    "type": "integer",
    "minimum": 1,
    "maximum": 17,
    "description": "significant digits of the scores in Markdown output",
}
DEFAULT_CONFIG["digits"] = 6
# <<< example

_config: dict[str, Any] = dict(DEFAULT_CONFIG)


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="robustz",
        version=__version__,
        plugin_types=PLUGIN_TYPES,
        description="a robust z-score detector (median / MAD)",
        dependencies=["numpy>=1.24"],
        pynomaly_compat=">=1.0,<2",  # the pynomaly versions this plugin works with
        config_schema={"type": "object", "properties": SETTINGS, "additionalProperties": False},
    )


@hookimpl
def pynomaly_initialize(config: Mapping[str, Any]) -> None:
    # config has been validated against the schema; {} when the user gave none
    _config.clear()
    _config.update(DEFAULT_CONFIG)
    _config.update(config)


@hookimpl
def pynomaly_configure(config: Mapping[str, Any]) -> None:
    pynomaly_initialize(config)  # a new configuration replaces the previous one


@hookimpl
def pynomaly_cleanup() -> None:
    pynomaly_initialize({})


@hookimpl
def pynomaly_health_check() -> dict[str, Any]:
    try:
        import numpy as np
    except ImportError as exc:
        return {"status": "unhealthy", "reason": f"numpy cannot be imported: {exc}"}
    return {"status": "healthy", "numpy": np.__version__}


@hookimpl
def pynomaly_detectors() -> list[DetectorInfo]:
    return [
        DetectorInfo(
            DETECTOR,
            "robust z-scores (median / MAD) per feature; the max or mean |z| of a row",
            {
                "aggregate": ParamSpec(
                    "categorical",
                    default=DEFAULT_PARAMS["aggregate"],
                    choices=AGGREGATES,
                    description="max: one extreme feature is enough; mean: many mild ones add up",
                ),
                "eps": ParamSpec(
                    "float",
                    default=DEFAULT_PARAMS["eps"],
                    low=1e-12,
                    high=1e-3,
                    log=True,
                    description="smallest scale, for constant features",
                ),
            },
            # a row's score depends on the fitted medians and the row alone: pynomaly may
            # score it in chunks, in parallel or streamed
            batch_independent=True,
            # scoring only reads the fitted state, in numpy (which releases the GIL): --jobs
            # may score chunks in threads at once
            threaded_scoring=True,
        )
    ]


@hookimpl
def pynomaly_validate_parameters(
    detector_id: str, params: Mapping[str, Any]
) -> dict[str, Any] | None:
    if detector_id != DETECTOR:
        return None
    unknown = sorted(set(params) - set(DEFAULT_PARAMS))
    if unknown:
        raise InvalidParameterError(DETECTOR, unknown[0], "is unknown (use aggregate or eps)")
    checked = {**DEFAULT_PARAMS, **params}
    if checked["aggregate"] not in AGGREGATES:
        raise InvalidParameterError(
            DETECTOR, "aggregate", f"must be 'max' or 'mean', got {checked['aggregate']!r}"
        )
    eps = checked["eps"]
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not 0 < eps < math.inf:
        raise InvalidParameterError(DETECTOR, "eps", f"must be a positive number, got {eps!r}")
    checked["eps"] = float(eps)
    return checked


@hookimpl
def pynomaly_fit(detector_id: str, X: np.ndarray, params: Mapping[str, Any]) -> FitResult | None:
    if detector_id != DETECTOR:
        return None  # not ours
    import numpy as np

    center = np.median(X, axis=0)
    deviation = np.abs(X - center)  # a new array: X itself is never modified
    scale = MAD_TO_SD * np.median(deviation, axis=0)
    # a feature with more than half of its values equal has a MAD of 0: fall back to the mean
    # absolute deviation, and to eps for a constant feature
    flat = scale == 0
    scale[flat] = MEAN_AD_TO_SD * deviation[:, flat].mean(axis=0)
    state = {
        "center": center,
        "scale": np.maximum(scale, params.get("eps", DEFAULT_PARAMS["eps"])),
        "aggregate": params.get("aggregate", DEFAULT_PARAMS["aggregate"]),
    }
    return FitResult(state=state, training_scores=_scores(state, X))


@hookimpl
def pynomaly_score(detector_id: str, state: Any, X: np.ndarray) -> np.ndarray | None:
    if detector_id != DETECTOR:
        return None
    return _scores(state, X)


@hookimpl
def pynomaly_explain(detector_id: str, state: Any, X: np.ndarray) -> np.ndarray | None:
    if detector_id != DETECTOR:
        return None  # another plugin's detector: pynomaly asks the next plugin
    return _abs_z(state, X).mean(axis=0)  # one importance per feature: its mean |z|


def _abs_z(state: Mapping[str, Any], X: np.ndarray) -> np.ndarray:
    import numpy as np

    return np.abs(X - state["center"]) / state["scale"]


def _scores(state: Mapping[str, Any], X: np.ndarray) -> np.ndarray:
    z = _abs_z(state, X)
    return z.max(axis=1) if state["aggregate"] == "max" else z.mean(axis=1)


# >>> example: an output format in the same plugin, Markdown tables
FORMAT = "markdown"


@hookimpl
def pynomaly_outputs() -> list[OutputInfo]:
    return [OutputInfo(FORMAT, "Markdown table: top anomalies, or every row in a file", (".md",))]


@hookimpl
def pynomaly_format_output(result: Any, fmt: str, options: Mapping[str, Any]) -> str | None:
    if fmt != FORMAT:
        return None  # another plugin's format
    s = result.summary()
    title = f"{s['anomalies']} anomalies in {s['rows']} rows ({s['detector']} on {s['source']})"
    return f"**{title}**\n\n{_markdown(result.top(int(options.get('top', 10))))}"


@hookimpl
def pynomaly_export_data(
    result: Any, destination: str, fmt: str, options: Mapping[str, Any]
) -> bool | None:
    if fmt != FORMAT:
        return None
    overwrite = bool(options.get("overwrite"))
    _write_atomically(Path(destination), _markdown(result.to_frame()), overwrite)
    return True


def _markdown(frame: Any) -> str:
    digits = _config["digits"]
    lines = [
        f"| {_cell(frame.index.name or 'index')} | anomaly_score | is_anomaly |",
        "| ---: | ---: | :---: |",
    ]
    for index, score, label in zip(
        frame.index, frame["anomaly_score"], frame["is_anomaly"], strict=True
    ):
        lines.append(f"| {_cell(index)} | {score:.{digits}g} | {int(label)} |")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _write_atomically(dest: Path, text: str, overwrite: bool) -> None:
    """Write to a temporary file next to ``dest``, then rename it: readers never see a
    half-written file, a failure leaves nothing behind, and an existing file is replaced only
    with ``overwrite`` (pynomaly's own helper; the file gets the usual permissions)."""
    atomic_write(dest, lambda tmp: tmp.write_text(text, encoding="utf-8"), overwrite=overwrite)
# <<< example
