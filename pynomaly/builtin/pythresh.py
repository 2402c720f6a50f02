"""Built-in plugin ``pythresh``: PyThresh's thresholding methods as ``threshold="pythresh:NAME"``.

PyThresh (``pip install pythresh``, or ``pip install 'pynomaly[pythresh]'``) is optional: without
it this plugin loads, reports itself unhealthy and answers ``pythresh:*`` thresholds with a
one-line error saying how to install it. Nothing of PyThresh is imported until a threshold is
computed.

PyThresh labels the training scores (its ``eval``); pynomaly keeps a score threshold, so that new
rows are labelled the same way: the highest training score PyThresh labels normal (every method
offered here labels by a cut on the normalized scores, so the labels are the same).
"""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from pynomaly._version import __version__
from pynomaly.errors import InputError
from pynomaly.markers import hookimpl, import_module, is_mine
from pynomaly.types import PluginMetadata, PluginType

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

NAMESPACE = "pythresh"

#: PyThresh's methods that need nothing beyond PyThresh itself and finish in about a second on
#: 10^5 scores (GAMGMM takes minutes; CLUST, CPD, META and VAE need further libraries).
METHODS: dict[str, str] = {
    name: name.upper()
    for name in (
        "aucp", "boot", "chau", "clf", "comb", "decomp", "dsn", "eb", "fgd", "filter", "fwfm",
        "gesd", "hist", "iqr", "karch", "mad", "mcst", "mixmod", "moll", "mtt", "ocsvm", "qmcd",
        "regr", "wind", "yj", "zscore",
    )
}
INSTALL = "pip install pythresh (or pip install 'pynomaly[pythresh]')"


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="pythresh",
        version=__version__,
        plugin_types=[PluginType.PROCESSING],
        author="pynomaly",
        description="PyThresh's thresholding methods: --threshold pythresh:NAME (optional)",
        dependencies=["pythresh"],
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_health_check() -> dict[str, Any]:
    if importlib.util.find_spec("pythresh") is None:
        return {"status": "unhealthy", "reason": f"pythresh is not installed: {INSTALL}"}
    return {"status": "healthy", "methods": len(METHODS)}


@hookimpl
def pynomaly_threshold(method: str, scores: np.ndarray) -> float | None:
    """The highest training score PyThresh's ``method`` labels normal."""
    if not is_mine(method, NAMESPACE):
        return None
    name = method.partition(":")[2].lower()
    if name not in METHODS:
        raise InputError(
            f"threshold {method!r}: unknown PyThresh method; known: "
            + ", ".join(f"pythresh:{m}" for m in METHODS)
        )
    if importlib.util.find_spec("pythresh") is None:
        raise InputError(f"threshold {method!r} needs PyThresh: {INSTALL}")
    import inspect

    import numpy as np

    cls = getattr(import_module(f"pythresh.thresholds.{name}"), METHODS[name])
    # the methods that draw random numbers are seeded: the same scores give the same threshold
    seeded = {"random_state": 0} if "random_state" in inspect.signature(cls).parameters else {}
    labels = np.asarray(cls(**seeded).eval(np.array(scores, dtype=np.float64)), dtype=np.int64)
    normal = scores[labels == 0]
    if normal.size:
        return float(normal.max())
    return float(np.nextafter(scores.min(), -np.inf))  # every row is an anomaly
