"""pynomaly: anomaly detection where every capability is a pluggy plugin.

>>> import pynomaly                                                    # doctest: +SKIP
>>> res = pynomaly.detect(df, detector="sklearn:iforest", random_state=0)  # doctest: +SKIP

Importing pynomaly is cheap: numpy, pandas, the detection API and scikit-learn (for
:class:`AnomalyDetector`) load on first use, so that plugin modules (which import
:data:`hookimpl`) and ``pynomaly --help`` start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynomaly._lazy import lazy_exports
from pynomaly._version import __version__
from pynomaly.markers import hookimpl, hookspec, import_module, is_mine

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.builtin.atomic import AtomicFile, atomic_write
    from pynomaly.detection.api import (
        contributions,
        default_manager,
        detect,
        detectors,
        explain,
        fit,
        load,
        load_data,
        score,
        validate_parameters,
    )
    from pynomaly.detection.plots import plot_embedding
    from pynomaly.detection.results import DetectionResult, Model
    from pynomaly.detection.stream import StreamedResult
    from pynomaly.estimator import AnomalyDetector, anomaly_scorer
    from pynomaly.plugin.manager import PluginManager
    from pynomaly.types import DetectorInfo, FitResult, ParamSpec, PluginMetadata, PluginType

_LAZY = {
    "AtomicFile": "pynomaly.builtin.atomic",
    "atomic_write": "pynomaly.builtin.atomic",
    "detect": "pynomaly.detection.api",
    "fit": "pynomaly.detection.api",
    "score": "pynomaly.detection.api",
    "explain": "pynomaly.detection.api",
    "contributions": "pynomaly.detection.api",
    "detectors": "pynomaly.detection.api",
    "load": "pynomaly.detection.api",
    "load_data": "pynomaly.detection.api",
    "validate_parameters": "pynomaly.detection.api",
    "default_manager": "pynomaly.detection.api",
    "AnomalyDetector": "pynomaly.estimator",
    "anomaly_scorer": "pynomaly.estimator",
    "DetectionResult": "pynomaly.detection.results",
    "Model": "pynomaly.detection.results",
    "StreamedResult": "pynomaly.detection.stream",
    "plot_embedding": "pynomaly.detection.plots",
    "PluginManager": "pynomaly.plugin.manager",
    "DetectorInfo": "pynomaly.types",
    "FitResult": "pynomaly.types",
    "ParamSpec": "pynomaly.types",
    "PluginMetadata": "pynomaly.types",
    "PluginType": "pynomaly.types",
}

__all__ = [
    "AnomalyDetector",
    "AtomicFile",
    "DetectionResult",
    "DetectorInfo",
    "FitResult",
    "Model",
    "ParamSpec",
    "PluginManager",
    "PluginMetadata",
    "PluginType",
    "StreamedResult",
    "__version__",
    "anomaly_scorer",
    "atomic_write",
    "contributions",
    "default_manager",
    "detect",
    "detectors",
    "explain",
    "fit",
    "hookimpl",
    "hookspec",
    "import_module",
    "is_mine",
    "load",
    "load_data",
    "plot_embedding",
    "score",
    "validate_parameters",
]


__getattr__, __dir__ = lazy_exports("pynomaly", _LAZY, globals(), __all__)
