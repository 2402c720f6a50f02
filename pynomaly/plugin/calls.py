"""pynomaly's calling conventions, on top of pluggy's own dispatch.

pluggy calls a hook: ``pm.hook.pynomaly_fit(...)`` runs every plugin's implementation in
pluggy's order, wrappers around them, and stops at the first non-``None`` answer of a
firstresult hook. When a plugin registers, :func:`instrument` puts a thin shim around each of
its (non-wrapper) implementations, so that the hook kinds of :mod:`pynomaly.hookspecs` hold
whoever calls the hook:

* a lifecycle call reaches only the plugin it is for (:meth:`HookMonitor.only`);
* a hook that takes a ``connection`` reaches only the plugin that opened it;
* a coroutine or async generator that an ``async def`` implementation returns is run on the
  manager's event loop (:mod:`pynomaly.plugin.loop`), so pluggy sees the answer, not a
  coroutine — ``None`` from an async owner hook still means "not mine";
* in a chained hook each plugin receives the previous plugin's output;
* in a collecting or event hook a plugin that raises is logged and skipped, never fatal;
* every run is recorded in the current :class:`~pynomaly.plugin.monitor.CallFrame`, and an
  exception is tagged with the plugin it came from (:func:`raised_by`).
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable
from typing import Any

import pluggy

from pynomaly import hookspecs
from pynomaly._log import get_logger
from pynomaly.plugin.monitor import _UNSET, HookMonitor, Invocation

log = get_logger("pynomaly.plugins")

_PLUGIN_ATTR = "__pynomaly_plugin__"
_CHAINED_ARG = {"pynomaly_preprocess": "data", "pynomaly_postprocess": "result"}


def instrument(
    impl: pluggy.HookImpl, hook: str, monitor: HookMonitor, resolve: Callable[[Any], Any]
) -> None:
    """Replace ``impl.function`` by a shim applying pynomaly's conventions (module docstring).

    ``resolve`` runs what an ``async def`` implementation returns (a coroutine, an async
    generator) on the manager's event loop.

    Wrappers (``wrapper=True`` / ``hookwrapper=True``) are left alone: they wrap every call.
    """
    if impl.wrapper or impl.hookwrapper or hasattr(impl.function, "__pynomaly_original__"):
        return
    function: Callable[..., Any] = impl.function
    plugin = impl.plugin_name
    kind = hookspecs.CALLS.get(hook)
    tolerant = kind in (hookspecs.COLLECT, hookspecs.EVENT)
    chained = _CHAINED_ARG.get(hook)
    position = impl.argnames.index(chained) if chained in impl.argnames else None

    def shim(*args: Any) -> Any:
        frame = monitor.current()
        if frame is not None:
            if frame.only is not None and frame.only != plugin:
                return None
            connection = frame.kwargs.get("connection")
            if connection is not None and getattr(connection, "plugin", plugin) != plugin:
                return None
            if position is not None and frame.chained is not _UNSET:
                args = (*args[:position], frame.chained, *args[position + 1 :])
        run = Invocation(plugin)
        start = time.perf_counter()
        try:
            out = function(*args)
            if inspect.isawaitable(out) or inspect.isasyncgen(out):
                out = resolve(out)
        except BaseException as exc:
            run.error, run.seconds = exc, time.perf_counter() - start
            if frame is not None:
                frame.invocations.append(run)
            _tag(exc, plugin)
            if tolerant and isinstance(exc, Exception):
                log.warning("plugin %s failed in %s (skipped): %s", plugin, hook, _short(exc))
                return None
            raise
        run.result, run.seconds = out, time.perf_counter() - start
        if frame is not None:
            frame.invocations.append(run)
            if position is not None and out is not None:
                frame.chained = out
        return out

    shim.__pynomaly_original__ = function  # type: ignore[attr-defined]
    shim.__wrapped__ = function  # type: ignore[attr-defined]
    shim.__name__ = getattr(function, "__name__", hook)
    impl.function = shim  # type: ignore[misc]  # pluggy calls impl.function(*args)


def raised_by(exc: BaseException, impls: list[pluggy.HookImpl]) -> str | None:
    """The plugin ``exc`` came from: the one it was tagged with, else the plugin of the
    innermost traceback frame that runs one of ``impls`` (a wrapper that raised)."""
    tagged = getattr(exc, _PLUGIN_ATTR, None)
    if tagged is not None:
        return str(tagged)
    codes = {
        getattr(getattr(i.function, "__pynomaly_original__", i.function), "__code__", None): i
        for i in impls
    }
    found = None
    import traceback

    for frame, _ in traceback.walk_tb(exc.__traceback__):
        impl = codes.get(frame.f_code)
        if impl is not None:
            found = impl.plugin_name
    return found


def _tag(exc: BaseException, plugin: str) -> None:
    if getattr(exc, _PLUGIN_ATTR, None) is None:  # the innermost plugin raised it
        with contextlib.suppress(AttributeError):  # exceptions with __slots__
            setattr(exc, _PLUGIN_ATTR, plugin)


def _short(exc: BaseException) -> str:
    return " ".join(describe(exc).split())


def describe(exc: BaseException | None) -> str:
    """``Type: message`` of an exception, for one-line reports."""
    return f"{type(exc).__name__}: {exc}" if exc is not None else ""


def raised_at(exc: BaseException) -> str:
    """`` (at FILE:LINE)``: where the innermost traceback frame of ``exc`` raised it."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    return f" (at {frames[-1].filename}:{frames[-1].lineno})" if frames else ""
