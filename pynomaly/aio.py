"""Awaitable versions of the library API and the plugin lifecycle (ADR-025's async API).

Detection is CPU-bound, so each call runs the synchronous implementation in a worker thread
(:func:`asyncio.to_thread`) and the event loop stays responsive. Plugins' ``async def``
hookimpls are awaited on the caller's own event loop (the worker thread hands them over), so a
data source can use the caller's sessions and pools, and what its ``pynomaly_connect`` made on
that loop is still usable when its ``pynomaly_read_data`` runs.

>>> res = await pynomaly.aio.detect(df, detector="pyod:ecod")   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pynomaly.detection import api
from pynomaly.detection.results import DetectionResult, Model
from pynomaly.plugin.loop import CALLER_LOOP
from pynomaly.plugin.manager import PluginManager
from pynomaly.plugin.records import PluginRecord

_T = TypeVar("_T")


async def _in_thread(function: Callable[..., _T], /, *args: Any, **kwargs: Any) -> _T:
    """``function(*args, **kwargs)`` in a worker thread; async hookimpls it reaches run on this
    (the caller's) event loop."""
    token = CALLER_LOOP.set(asyncio.get_running_loop())
    try:  # to_thread copies the context, CALLER_LOOP included
        return await asyncio.to_thread(function, *args, **kwargs)
    finally:
        CALLER_LOOP.reset(token)


async def detect(data: Any, detector: str = api.DEFAULT_DETECTOR, **kwargs: Any) -> DetectionResult:
    """Awaitable :func:`pynomaly.detect`."""
    return await _in_thread(api.detect, data, detector, **kwargs)


async def fit(data: Any, detector: str = api.DEFAULT_DETECTOR, **kwargs: Any) -> Model:
    """Awaitable :func:`pynomaly.fit`."""
    return await _in_thread(api.fit, data, detector, **kwargs)


async def score(
    model: Model, data: Any, *, manager: PluginManager | None = None, jobs: int | None = 1
) -> Any:
    """Awaitable :meth:`Model.score`."""
    return await _in_thread(api.score, model, data, manager=manager, jobs=jobs)


async def contributions(
    model: Model, data: Any, *, manager: PluginManager | None = None
) -> Any:
    """Awaitable :func:`pynomaly.contributions`."""
    return await _in_thread(api.contributions, model, data, manager=manager)


async def explain(model: Model, data: Any, *, manager: PluginManager | None = None) -> Any:
    """Awaitable :func:`pynomaly.explain`."""
    return await _in_thread(api.explain, model, data, manager=manager)


async def load_data(source: str, *, manager: PluginManager | None = None) -> Any:
    """Awaitable :func:`pynomaly.load_data` (async data-source hooks are awaited)."""
    return await _in_thread(api.load_data, source, manager=manager)


async def load(
    name: str, config: Mapping[str, Any] | None = None, *, manager: PluginManager | None = None
) -> PluginRecord:
    """Awaitable :meth:`PluginManager.load` (initialize)."""
    pm = manager or api.default_manager()
    return await _in_thread(pm.load, name, config)


async def health_check_all(*, manager: PluginManager | None = None) -> dict[str, dict[str, Any]]:
    """Awaitable :meth:`PluginManager.health_check_all`."""
    pm = manager or api.default_manager()
    return await _in_thread(pm.health_check_all)


async def unload(name: str, *, manager: PluginManager | None = None) -> None:
    """Awaitable :meth:`PluginManager.unload` (cleanup)."""
    pm = manager or api.default_manager()
    await _in_thread(pm.unload, name)
