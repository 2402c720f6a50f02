"""Awaitable versions of the library API and the plugin lifecycle (ADR-025's async API).

Detection is CPU-bound, so each call runs the synchronous implementation in a worker thread
(:func:`asyncio.to_thread`) and the event loop stays responsive. Plugins' ``async def``
hookimpls are run to completion inside that thread.

>>> res = await pynomaly.aio.detect(df, detector="pyod:ecod")   # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from pynomaly.detection import api
from pynomaly.detection.results import DetectionResult, Model
from pynomaly.plugin.manager import PluginManager
from pynomaly.plugin.records import PluginRecord


async def detect(data: Any, detector: str = api.DEFAULT_DETECTOR, **kwargs: Any) -> DetectionResult:
    """Awaitable :func:`pynomaly.detect`."""
    return await asyncio.to_thread(api.detect, data, detector, **kwargs)


async def fit(data: Any, detector: str = api.DEFAULT_DETECTOR, **kwargs: Any) -> Model:
    """Awaitable :func:`pynomaly.fit`."""
    return await asyncio.to_thread(api.fit, data, detector, **kwargs)


async def score(model: Model, data: Any, *, manager: PluginManager | None = None) -> Any:
    """Awaitable :meth:`Model.score`."""
    return await asyncio.to_thread(api.score, model, data, manager=manager)


async def explain(model: Model, data: Any, *, manager: PluginManager | None = None) -> Any:
    """Awaitable :func:`pynomaly.explain`."""
    return await asyncio.to_thread(api.explain, model, data, manager=manager)


async def load_data(source: str, *, manager: PluginManager | None = None) -> Any:
    """Awaitable :func:`pynomaly.load_data` (async data-source hooks are awaited)."""
    return await asyncio.to_thread(api.load_data, source, manager=manager)


async def load(
    name: str, config: Mapping[str, Any] | None = None, *, manager: PluginManager | None = None
) -> PluginRecord:
    """Awaitable :meth:`PluginManager.load` (initialize)."""
    pm = manager or api.default_manager()
    return await asyncio.to_thread(pm.load, name, config)


async def health_check_all(*, manager: PluginManager | None = None) -> dict[str, dict[str, Any]]:
    """Awaitable :meth:`PluginManager.health_check_all`."""
    pm = manager or api.default_manager()
    return await asyncio.to_thread(pm.health_check_all)


async def unload(name: str, *, manager: PluginManager | None = None) -> None:
    """Awaitable :meth:`PluginManager.unload` (cleanup)."""
    pm = manager or api.default_manager()
    await asyncio.to_thread(pm.unload, name)
