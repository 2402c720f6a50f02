"""What runs in a scoring worker process (see :mod:`pynomaly.detection.parallel`).

Kept light on purpose: a worker imports this module, the plugin manager and the detector's
library, not pandas nor the detection API, so that it starts in about the time its library
takes to import.
"""

from __future__ import annotations

import pickle
from typing import Any

import attrs

from pynomaly.errors import PluginError
from pynomaly.plugin.replica import ManagerSpec


@attrs.frozen
class WorkerSpec:
    """What a worker process needs to score: the detector, its pickled fitted state, the
    parent's plugin settings and the plugins registered by hand, its share of threads."""

    detector: str
    plugin: str
    state: bytes = attrs.field(repr=False)
    manager: ManagerSpec
    threads: int = 1


_worker: dict[str, Any] = {}


def start(spec: WorkerSpec) -> None:
    """Pool initializer: runs once in each worker process, so that the fitted state is
    unpickled once per worker, not once per chunk."""
    from threadpoolctl import threadpool_limits

    # kept referenced: the limits hold for the worker's life
    _worker["limits"] = threadpool_limits(limits=spec.threads)
    pm = spec.manager.build()
    _worker.update(pm=pm, spec=spec, state=pickle.loads(spec.state))


def ready() -> bool:
    """A task that returns once a worker has started (its initializer ran)."""
    return True


def score(X: Any) -> Any:
    """The detector plugin's scores of one chunk, as it returns them (the caller checks them
    as it checks scores computed in its own process)."""
    pm, spec = _worker["pm"], _worker["spec"]
    scores = pm.call("pynomaly_score", detector_id=spec.detector, state=_worker["state"], X=X)
    if scores is None:
        raise PluginError(spec.plugin, "pynomaly_score", "returned None for its own detector")
    return scores
