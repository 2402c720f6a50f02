"""The worker process of an isolated plugin: ``python -m pynomaly.plugin.worker FD DATA_FD``.

It imports the one plugin it is for, runs each of its hookimpls when the host forwards a call
and sends the answer back (:mod:`pynomaly.plugin.wire`), until the host closes the socket. The
bytes of a fitted state (or a processing step) go back on a second socket, from a thread of
their own, while the next call already runs: a fit is answered without waiting for them.
Whatever the plugin does — raise, print, exit, exhaust its memory limit, hang, crash — only
this process is affected: the host reports it and starts a new worker for the next call
(:mod:`pynomaly.plugin.isolation`).

The hookimpls get the same shims as in the host (:func:`pynomaly.plugin.calls.instrument`), so
``sys.exit`` is an error naming the plugin, a crash report names the plugin's frame, and the
data is read-only. Descriptor 1 is sent to stderr for the worker's whole life: nothing the plugin
or a C library prints can reach the host's stdout.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import socket
import sys
import threading
import traceback
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

from pynomaly._peak import peak_rss, reset_peak
from pynomaly.plugin import wire

#: fitted states and steps kept in the worker, by token (the host sends a token, not the
#: bytes): at most this many, and beyond the newest one at most this many bytes
KEPT_OBJECTS = 4
KEPT_BYTES = 256 * 2**20


class _Missing(Exception):
    """The host referred to a state this worker does not hold (any more)."""


class Worker:
    """One plugin, its hookimpls and what it keeps between calls."""

    def __init__(self, sock: socket.socket, data: socket.socket, init: dict[str, Any]) -> None:
        self.sock = sock
        self.data = data
        self.outbox: queue.SimpleQueue[tuple[str, Any, list[Any]] | None] = queue.SimpleQueue()
        self.name: str = init["name"]
        self.memory_limit: int | None = init.get("memory_limit")
        self.impls: list[Any] = []
        self.hooks: list[str] = []
        self.kept: OrderedDict[str, tuple[Any, int]] = OrderedDict()
        self.handles: dict[int, Any] = {}
        self.iterators: dict[int, Iterator[Any]] = {}
        self._next_key = 0
        self.pid = os.getpid()
        self._loop: Any = None

    # --- loading -------------------------------------------------------------------------

    def load(self, recipe: tuple[str, Any]) -> object:
        kind, target = recipe
        if kind == "module":
            import importlib

            return importlib.import_module(target)
        if kind == "entrypoint":
            from importlib.metadata import EntryPoint

            from pynomaly.plugin.discovery import ENTRY_POINT_GROUP

            return EntryPoint(self.name, target, ENTRY_POINT_GROUP).load()
        if kind == "file":
            from pathlib import Path

            from pynomaly.plugin.discovery import _file_importer

            return _file_importer(Path(target))()
        if kind == "pickle":
            return pickle.loads(target)
        raise ValueError(f"unknown plugin recipe {kind!r}")

    def register(self, obj: object) -> list[dict[str, Any]]:
        """Register ``obj`` with a pluggy manager of its own (the same checks as the host's)
        and instrument its hookimpls; returns what the host needs to make the proxy."""
        import pluggy

        from pynomaly import hookspecs
        from pynomaly.errors import PynomalyError
        from pynomaly.markers import PROJECT_NAME
        from pynomaly.plugin.calls import instrument

        if isinstance(obj, type):
            raise PynomalyError(
                f"entry point gives the class {obj.__name__}; it must give a module or an instance"
            )
        pm = pluggy.PluginManager(PROJECT_NAME)
        pm.add_hookspecs(hookspecs)
        try:
            pm.register(obj, name=self.name)
        except pluggy.PluginValidationError as exc:
            raise PynomalyError("invalid hookimpl: " + " ".join(str(exc).split())) from None
        infos = []
        for caller in pm.get_hookcallers(obj) or []:
            if caller.spec is None and caller.name.startswith("pynomaly_"):
                raise PynomalyError(
                    f"{caller.name} is not a pynomaly hook (misspelt? see pynomaly.hookspecs)"
                )
            if caller.spec is None:
                continue
            for impl in caller.get_hookimpls():
                if impl.wrapper or impl.hookwrapper:
                    raise PynomalyError(
                        f"its {caller.name} is a hook wrapper, which wraps other plugins' calls "
                        "and cannot run in a worker process: run this plugin in-process"
                    )
                instrument(impl, caller.name, None, self.resolve, tolerant=False)
                self.impls.append(impl)
                self.hooks.append(caller.name)
                infos.append(
                    {
                        "hook": caller.name,
                        "argnames": (*impl.argnames, *impl.kwargnames),
                        "tryfirst": impl.tryfirst,
                        "trylast": impl.trylast,
                    }
                )
        return infos

    def resolve(self, value: Any) -> Any:
        if self._loop is None:
            from pynomaly.plugin.loop import EventLoopThread

            self._loop = EventLoopThread()
        return self._loop.resolve(value)

    # --- calls ---------------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            try:
                message = wire.receive(self.sock)
            except (wire.WorkerGone, OSError):
                return  # the host closed the socket (or exited): this worker is done
            except pickle.UnpicklingError as exc:  # read whole: the stream is still usable
                from pynomaly.errors import PluginError

                error = PluginError(self.name, "a call", f"its worker cannot read it: {exc}")
                wire.send(self.sock, ("error", error, "", False, (0.0, 0)))
                continue
            hook = self.label(message)
            before = _usage_start()
            fatal = False
            try:
                reply: tuple[Any, ...] = ("ok", self.handle(message))
            except _Missing as missing:
                reply = ("missing", str(missing))
            except BaseException as exc:  # anything the plugin does becomes the host's error
                fatal = isinstance(exc, MemoryError)
                reply = ("error", *self.portable(exc, hook), fatal)
            reply = (*reply, _usage(before))
            try:
                wire.send(self.sock, reply)
            except (BrokenPipeError, ConnectionError):
                return
            except wire.Unsendable as exc:  # the answer cannot be pickled: nothing was sent
                from pynomaly.errors import PluginError

                why = f"answered with what cannot be sent to the host: {exc}"
                error = PluginError(self.name, hook, why)
                wire.send(self.sock, ("error", error, "", False, reply[-1]))
            if fatal:  # after a MemoryError the heap is not to be trusted: start afresh
                return

    def label(self, message: tuple[Any, ...]) -> str:
        """The operation a message asks for, as errors name it."""
        kind = message[0]
        if kind == "call":
            return self.hooks[message[1]]
        if kind == "step":
            return f"its processing step's {message[1]}"
        return "pynomaly_read_batches"

    def handle(self, message: tuple[Any, ...]) -> Any:
        kind = message[0]
        if kind == "call":
            _, index, args = message
            impl = self.impls[index]
            hook = self.hooks[index]
            names = (*impl.argnames, *impl.kwargnames)
            args = self.inbound(names, args, hook)
            if (
                hook == "pynomaly_export_data"
                and "destination" in names
                and args[names.index("destination")] == "-"
            ):  # -o -: the rows go to stdout
                return self.printed(impl.function, args)
            return self.outbound(hook, impl.function(*args))
        if kind == "next":
            iterator = self.iterators.get(message[1])
            if iterator is None:
                raise _gone("pynomaly_read_batches", self.name, "iterator")
            try:
                return ("item", next(iterator))
            except StopIteration:
                del self.iterators[message[1]]
                return ("stop", None)
            except BaseException:
                self.iterators.pop(message[1], None)
                raise
        if kind == "close":
            iterator = self.iterators.pop(message[1], None)
            close = getattr(iterator, "close", None)
            if close is not None:
                close()
            return None
        if kind == "step":
            _, op, step, data = message
            return self.step(op, step, data)
        raise ValueError(f"unknown message {kind!r}")

    def printed(self, function: Any, args: tuple[Any, ...]) -> wire.Printed:
        """Call ``function`` with stdout captured: the host writes it to its own stdout (this
        worker's descriptor 1 is stderr)."""
        import io

        buffer = io.BytesIO()
        text = io.TextIOWrapper(buffer, encoding="utf-8", newline="", write_through=True)
        saved, sys.stdout = sys.stdout, text
        try:
            value = function(*args)
            text.flush()
        finally:
            sys.stdout = saved
        return wire.Printed(buffer.getvalue(), value)

    def step(self, op: str, ref: Any, data: Any) -> Any:
        from pynomaly.plugin.calls import _as_plugin_error
        from pynomaly.plugin.protect import done, readonly, running, sigint_mark

        step = self.kept_object(ref)
        token = running(self.name)
        try:
            out = getattr(step, op)(readonly(data))
        except BaseException as exc:
            error = _as_plugin_error(exc, self.name, f"its processing step's {op}", sigint_mark())
            if error is exc:
                raise
            raise error from exc
        finally:
            done(token)
        if op == "fit":
            return self.keep(wire.IsolatedStep, out)
        return out

    def inbound(
        self, argnames: tuple[str, ...], args: tuple[Any, ...], hook: str
    ) -> tuple[Any, ...]:
        """Arguments as the plugin knows them: its own state and handles instead of refs."""
        out = list(args)
        for i, name in enumerate(argnames[: len(out)]):
            if name == "state":
                out[i] = self.kept_object(out[i])
            elif isinstance(getattr(out[i], "handle", None), wire.HandleRef):
                import attrs

                ref = out[i].handle
                if ref.worker != self.pid or ref.key not in self.handles:
                    raise _gone(hook, self.name, "connection")
                out[i] = attrs.evolve(out[i], handle=self.handles[ref.key])
        return tuple(out)

    def kept_object(self, value: Any) -> Any:
        if isinstance(value, wire.StateRef):
            if value.token not in self.kept:
                raise _Missing(value.token)
            self.kept.move_to_end(value.token)
            return self.kept[value.token][0]
        if isinstance(value, wire.Opaque):
            if value.payload is None:
                raise _Missing(value.token)
            obj = value.load()
            self._remember(value.token, obj, value.nbytes)
            return obj
        return value

    def _remember(self, token: str, obj: Any, size: int) -> None:
        self.kept[token] = (obj, size)
        self.kept.move_to_end(token)
        while len(self.kept) > 1 and (
            len(self.kept) > KEPT_OBJECTS or sum(s for _, s in self.kept.values()) > KEPT_BYTES
        ):
            self.kept.popitem(last=False)

    def keep(self, cls: type[wire.Opaque], obj: Any) -> wire.Opaque:
        """``obj`` kept here, its bytes on their way to the host: what the answer carries."""
        opaque = wire.Opaque.wrap(obj)  # pickled now: the next call may change the object
        self._remember(opaque.token, obj, opaque.nbytes)
        self.outbox.put((opaque.token, opaque.payload, list(opaque.buffers)))
        if cls is wire.IsolatedStep:
            return wire.IsolatedStep(opaque.token, None, (), self.name)
        return wire.Opaque(opaque.token, None)

    def send_bytes(self) -> None:
        """The thread that sends kept objects' bytes to the host, one after the other."""
        while True:
            item = self.outbox.get()
            if item is None:
                return
            token, payload, buffers = item
            try:
                wire.send(self.data, ("bytes", token, payload, buffers))
            except OSError:
                return

    def outbound(self, hook: str, value: Any) -> Any:
        """An answer as it can cross to the host: states and steps as bytes the host does not
        unpickle, handles and iterators as references to what stays here."""
        if value is None:
            return None
        if hook == "pynomaly_fit":
            import attrs

            from pynomaly.types import FitResult

            if isinstance(value, FitResult):  # threshold and training scores as they are
                return attrs.evolve(value, state=self.keep(wire.Opaque, value.state))
            return value
        if hook == "pynomaly_create_step":
            return self.keep(wire.IsolatedStep, value)
        if hook == "pynomaly_connect":
            self._next_key += 1
            self.handles[self._next_key] = value
            return wire.HandleRef(self.pid, self._next_key)
        if hook == "pynomaly_read_batches" and hasattr(value, "__next__"):
            self._next_key += 1
            self.iterators[self._next_key] = value
            return wire.IteratorRef(self.pid, self._next_key)
        return value

    def portable(self, exc: BaseException, hook: str) -> tuple[BaseException, str]:
        """``exc`` as the host can raise it, and its traceback as text."""
        from pynomaly import errors
        from pynomaly.plugin.calls import describe

        if isinstance(exc, MemoryError):
            traceback.clear_frames(exc.__traceback__)  # let go of what was allocated
            limit = ""
            if self.memory_limit:
                from pynomaly.plugin.settings import format_bytes

                limit = (
                    f"; it exceeded the memory limit of {format_bytes(self.memory_limit)} "
                    "(--memory-limit / PYNOMALY_MEMORY_LIMIT)"
                )
            text = "".join(traceback.format_exception(exc))
            why = f"MemoryError{': ' + str(exc) if str(exc) else ''}{limit}"
            return errors.PluginError(self.name, hook, why), text
        text = "".join(traceback.format_exception(exc))
        if type(exc).__module__ == "pynomaly.errors":
            portable: BaseException = exc
        elif isinstance(exc, errors.InputError):
            # a plugin's own subclass: the nearest pynomaly class, which the host can load
            base = next(c for c in type(exc).__mro__ if c.__module__ == "pynomaly.errors")
            portable = (
                errors.InvalidParameterError(exc.detector, exc.parameter, exc.problem)
                if isinstance(exc, errors.InvalidParameterError)
                else base(str(exc))
            )
        else:
            portable = errors.PluginError(self.name, hook, describe(exc))
        try:
            pickle.loads(pickle.dumps(portable))
        except Exception:
            portable = errors.PluginError(self.name, hook, describe(exc))
        return portable, text


def _gone(hook: str, name: str, what: str) -> Exception:
    from pynomaly.errors import PluginError

    return PluginError(
        name,
        hook,
        f"the {what} was opened by an earlier worker process of this plugin, which has since "
        "stopped; open it again",
    )


# --- CPU time and peak memory of each call ------------------------------------------------------


def _cpu() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _usage_start() -> float:
    reset_peak()  # so that the peak after the call is the call's
    return _cpu()


def _usage(cpu_before: float) -> tuple[float, int]:
    """(CPU seconds of the call, peak resident bytes during it — or of the worker so far)."""
    return _cpu() - cpu_before, peak_rss()


# --- process set-up -----------------------------------------------------------------------------


def _die_with_host(host: int, main_thread: bool) -> None:
    """End this worker when the host process ends, even if the host was killed."""
    if main_thread and sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: tied to the spawning thread
    if os.getppid() != host:
        os._exit(0)

    def watch() -> None:
        import time

        while True:
            time.sleep(0.5)
            if os.getppid() != host:
                os._exit(0)

    threading.Thread(target=watch, name="pynomaly-worker-watchdog", daemon=True).start()


def _limit_memory(size: int | None) -> None:
    if size:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (size, size))


def main(argv: list[str] | None = None) -> None:
    import faulthandler
    import signal

    args = sys.argv[1:] if argv is None else argv
    sock = socket.socket(fileno=int(args[0]))
    data = socket.socket(fileno=int(args[1]))
    wire.IN_WORKER = True
    os.dup2(2, 1)  # what the plugin (or C code) prints goes to stderr, never to the host's stdout
    # the host decides about Ctrl-C (this process is in a session of its own anyway)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    faulthandler.enable()
    init = wire.receive(sock)[1]
    sys.path[:] = init["sys_path"]
    _die_with_host(init["host"], init["main_thread"])
    worker = Worker(sock, data, init)
    try:
        _limit_memory(worker.memory_limit)
        obj = worker.load(init["recipe"])
    except BaseException as exc:
        from pynomaly.plugin.calls import describe, raised_at

        traceback.clear_frames(exc.__traceback__)
        text = "".join(traceback.format_exception(exc))
        wire.send(sock, ("failed", f"import failed: {describe(exc)}{raised_at(exc)}", text))
        return
    try:
        infos = worker.register(obj)
    except BaseException as exc:
        from pynomaly.errors import PynomalyError
        from pynomaly.plugin.calls import describe

        reason = str(exc) if isinstance(exc, PynomalyError) else describe(exc)
        wire.send(sock, ("failed", reason, "".join(traceback.format_exception(exc))))
        return
    doc = getattr(obj, "__doc__", None)
    version = getattr(obj, "__version__", None)
    wire.send(
        sock,
        (
            "ready",
            {
                "impls": infos,
                "doc": doc if isinstance(doc, str) else None,
                "version": str(version) if version is not None else None,
                "pid": os.getpid(),
            },
        ),
    )
    sender = threading.Thread(target=worker.send_bytes, name="pynomaly-worker-bytes", daemon=True)
    sender.start()
    worker.serve()
    worker.outbox.put(None)
    sender.join(timeout=60)  # the last state's bytes, if the host still reads them


if __name__ == "__main__":
    main()
    # leave without running the plugin's atexit handlers or waiting for its threads
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
