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
  exception is tagged with the plugin it came from (:func:`raised_by`);
* the in-process protections of :mod:`pynomaly.plugin.protect` apply: ``sys.exit`` and a
  ``KeyboardInterrupt`` raised by plugin code become a :class:`~pynomaly.errors.PluginError`,
  a crash report names the plugin, what the plugin prints goes to stderr, and the data it is
  handed is read-only or a copy.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Callable, Generator
from typing import Any

import pluggy

from pynomaly import hookspecs
from pynomaly._log import get_logger
from pynomaly.errors import PluginError
from pynomaly.plugin.monitor import _UNSET, HookMonitor, Invocation
from pynomaly.plugin.protect import (
    done,
    frame_label,
    is_real_interrupt,
    protector,
    running,
    sigint_mark,
)

log = get_logger("pynomaly.plugins")

_PLUGIN_ATTR = "__pynomaly_plugin__"
_CHAINED_ARG = {"pynomaly_preprocess": "data", "pynomaly_postprocess": "result"}


def instrument(
    impl: pluggy.HookImpl,
    hook: str,
    monitor: HookMonitor | None,
    resolve: Callable[[Any], Any],
    *,
    tolerant: bool | None = None,
) -> None:
    """Replace ``impl.function`` by a shim applying pynomaly's conventions (module docstring)
    and the in-process protections of :mod:`pynomaly.plugin.protect`.

    ``resolve`` runs what an ``async def`` implementation returns (a coroutine, an async
    generator) on the manager's event loop. ``tolerant`` (default: from the hook's kind) logs
    and skips an exception of a collecting or event hook instead of raising it; an isolated
    plugin's worker passes ``False``, so that the host decides. ``monitor`` is ``None`` in a
    worker, which has no hook-call frames.

    Wrappers (``wrapper=True`` / ``hookwrapper=True``) wrap every call: they get the same
    protections, and nothing else changes for them.
    """
    if hasattr(impl.function, "__pynomaly_original__"):
        return
    function: Callable[..., Any] = impl.function
    plugin = impl.plugin_name
    protect = protector((*impl.argnames, *impl.kwargnames))
    label = frame_label(plugin, hook)
    guard = _guard_factory(plugin, hook, label)
    if impl.wrapper or impl.hookwrapper:

        def wrapper_shim(*args: Any, **kwargs: Any) -> Any:
            if protect is not None:
                args, kwargs = _protected(protect, impl, args, kwargs)
            return guard(function(*args, **kwargs))  # the wrapper's code runs in guard

        _install(impl, wrapper_shim, function, hook, label)
        return
    kind = hookspecs.CALLS.get(hook)
    if tolerant is None:
        tolerant = kind in (hookspecs.COLLECT, hookspecs.EVENT)
    chained = _CHAINED_ARG.get(hook)
    position = impl.argnames.index(chained) if chained in impl.argnames else None
    # export_data to "-" (-o -) is asked to write the rows to stdout: stdout is its output
    writes_stdout = (
        impl.argnames.index("destination")
        if hook == "pynomaly_export_data" and "destination" in impl.argnames
        else None
    )

    def shim(*args: Any, **kwargs: Any) -> Any:
        frame = monitor.current() if monitor is not None else None
        if frame is not None:
            if frame.only is not None and frame.only != plugin:
                return None
            connection = frame.kwargs.get("connection")
            if connection is not None and getattr(connection, "plugin", plugin) != plugin:
                return None
            if position is not None and frame.chained is not _UNSET:
                args = (*args[:position], frame.chained, *args[position + 1 :])
        if protect is not None:
            args, kwargs = _protected(protect, impl, args, kwargs)
        run = Invocation(plugin)
        mark = sigint_mark()
        stdout_is_its_own = writes_stdout is not None and args[writes_stdout] == "-"
        token = running(None if stdout_is_its_own else plugin)
        start = time.perf_counter()
        try:
            out = function(*args, **kwargs)
            if inspect.isawaitable(out) or inspect.isasyncgen(out):
                out = resolve(out)
            if inspect.isgenerator(out):  # read_batches: its code runs as it is iterated
                out = guard(out)
        except BaseException as exc:
            error = _as_plugin_error(exc, plugin, hook, mark)
            run.error, run.seconds = error, time.perf_counter() - start
            if frame is not None:
                frame.invocations.append(run)
            _tag(error, plugin)
            if tolerant and isinstance(error, Exception):
                log.warning("plugin %s failed in %s (skipped): %s", plugin, hook, _short(error))
                return None
            if error is exc:
                raise
            raise error from exc
        finally:
            done(token)
        run.result, run.seconds = out, time.perf_counter() - start
        if frame is not None:
            frame.invocations.append(run)
            if position is not None and out is not None:
                frame.chained = out
        return out

    _install(impl, shim, function, hook, label)


def _install(
    impl: pluggy.HookImpl, shim: Callable[..., Any], function: Callable[..., Any], hook: str,
    label: str,
) -> None:
    # the shim's frame is named after the plugin and hook it runs: tracebacks and
    # faulthandler's crash report (a segfault) show which plugin was running
    shim.__code__ = shim.__code__.replace(co_name=label, co_qualname=label)
    shim.__pynomaly_original__ = function  # type: ignore[attr-defined]
    shim.__wrapped__ = function  # type: ignore[attr-defined]
    shim.__name__ = getattr(function, "__name__", hook)
    impl.function = shim  # type: ignore[misc]  # pluggy calls impl.function(*args)


def _protected(
    protect: Callable[[tuple[Any, ...]], tuple[Any, ...]],
    impl: pluggy.HookImpl,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if not kwargs:  # how pluggy calls an implementation without defaulted arguments
        return protect(args), kwargs
    names = (*impl.argnames[: len(args)], *kwargs)
    values = protect((*args, *kwargs.values()))
    return values[: len(args)], dict(zip(names[len(args) :], values[len(args) :], strict=True))


def _as_plugin_error(exc: BaseException, plugin: str, hook: str, mark: int) -> BaseException:
    """``exc``, or for a ``SystemExit`` or a ``KeyboardInterrupt`` that plugin code raised (not
    a real Ctrl-C: :func:`~pynomaly.plugin.protect.is_real_interrupt`), a
    :class:`PluginError`: plugins never end or interrupt the caller's process."""
    if isinstance(exc, SystemExit):
        why = f"called sys.exit({exc.code!r}): a plugin must raise an exception, not exit"
    elif isinstance(exc, KeyboardInterrupt) and not is_real_interrupt(mark):
        why = "raised KeyboardInterrupt: a plugin must raise an exception, not interrupt"
    else:
        return exc
    error = PluginError(plugin, hook, why)
    error.__cause__ = exc
    return error


def _guard_factory(
    plugin: str, hook: str, label: str
) -> Callable[[Generator[Any, Any, Any]], Generator[Any, Any, Any]]:
    """A function wrapping a generator that plugin code returned (a hook wrapper, a
    ``read_batches`` generator) so that each step of it runs with the shim's protections."""

    def guard(gen: Generator[Any, Any, Any]) -> Generator[Any, Any, Any]:
        sent: Any = None
        thrown: BaseException | None = None
        while True:
            mark = sigint_mark()
            token = running(plugin)
            try:
                item = gen.throw(thrown) if thrown is not None else gen.send(sent)
            except StopIteration as stop:
                return stop.value
            except BaseException as exc:
                if exc is thrown:  # another plugin's error, thrown into a wrapper: not ours
                    raise
                error = _as_plugin_error(exc, plugin, hook, mark)
                _tag(error, plugin)
                if error is exc:
                    raise
                raise error from exc
            finally:
                done(token)
            try:
                sent, thrown = (yield item), None
            except GeneratorExit:
                gen.close()
                raise
            except BaseException as exc:  # pluggy throws the hook's exception into wrappers
                sent, thrown = None, exc

    guard.__code__ = guard.__code__.replace(co_name=label, co_qualname=label)
    return guard


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
