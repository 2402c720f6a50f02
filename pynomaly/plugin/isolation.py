"""Process isolation: a plugin imported and run in a worker process of its own.

With ``--isolation process`` (every plugin but the built-ins), ``third-party`` (also not the
two adapters shipped with pynomaly) or ``process:NAME,...`` — or ``PYNOMALY_ISOLATION``, or
``PluginManager(isolation=...)`` — the manager never imports such a plugin. It starts a worker
(:mod:`pynomaly.plugin.worker`) that imports it, and registers in its place an
:class:`IsolatedPlugin`: a proxy with one hookimpl per hookimpl of the plugin, same hook names,
same arguments, same ``tryfirst``/``trylast``. pluggy's dispatch, other plugins' wrappers and
pynomaly's shims (:mod:`pynomaly.plugin.calls`) see an ordinary plugin; each call of a proxy
hookimpl is forwarded to the worker and its answer returned.

What crosses the boundary (:mod:`pynomaly.plugin.wire`): arguments and answers are pickled with
protocol 5, arrays and DataFrame blocks as out-of-band buffers written straight from memory.

* **Fitted states** come back to the host as :class:`~pynomaly.plugin.wire.Opaque` bytes,
  never unpickled in the host: the ``Model`` holds them, pickles them, saves them in model
  files, so a model outlives the worker (a crash, a restart, another process). The worker
  answers a fit at once and sends the state's bytes right after, on a second socket, from a
  thread of its own, while the host goes on (a receiving thread takes them): a large state
  (15 MiB for PyOD's ECOD on 100,000 × 20 rows) does not delay the next call. Whoever
  needs the bytes — pickling the model, another worker — waits for them; a worker that dies
  within that moment loses the state ("fit again"). The worker also keeps the state it
  fitted, by token: scoring right after a fit sends the token, not the state; otherwise the
  bytes are sent and the worker keeps them for the next call. A plugin running in-process is
  handed the unpickled state instead.
* **Connections** stay in the worker (a pool, a client): the host holds a reference; a
  worker that restarted has lost them ("open it again"). **Batches** of
  ``pynomaly_read_batches`` are pulled one call at a time. **Processing steps** are
  :class:`~pynomaly.plugin.wire.IsolatedStep` objects whose ``fit`` and ``transform`` run in
  the worker.
* The host unpickles answers with :class:`~pynomaly.plugin.wire.HostUnpickler` (standard
  types, numpy, pandas, pyarrow, pynomaly only): the plugin's modules are never imported in
  the host.
* An isolated plugin is asked only about the detectors, processing steps and output formats
  it lists (the owner hooks' contract): a fit of another plugin's detector does not send the
  training data to every worker.

What a worker cannot do to the host: a plugin that raises, hangs (``timeout``: the worker is
killed), exceeds its memory (``memory_limit``: ``RLIMIT_AS``), calls ``sys.exit`` or
``os._exit`` or crashes gives a :class:`~pynomaly.errors.PluginError` naming the plugin, the
hook and the cause; the next call starts a new worker (re-initialized with the plugin's last
configuration). Per-plugin CPU time and peak memory are measured in the worker for each call
(:class:`WorkerStats`, :meth:`pynomaly.PluginManager.workers`, ``plugins list --stats``).

Isolation contains faults, not malice: the worker runs as the same user, with the same files.
A plugin's hook wrappers cannot run isolated (they wrap other plugins' calls in the host): such a
plugin fails to load under isolation, with that reason.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import pickle
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from pynomaly import hookspecs
from pynomaly._log import get_logger
from pynomaly.errors import PluginError, PynomalyError
from pynomaly.markers import hookimpl
from pynomaly.plugin import wire
from pynomaly.plugin.settings import (
    ENV_ISOLATION,
    ENV_MEMORY_LIMIT,
    ENV_TIMEOUT,
    Isolation,
)

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.discovery import Candidate

log = get_logger("pynomaly.plugins")

#: proxies alive in this process, by plugin name: where an IsolatedStep runs
_LIVE: weakref.WeakValueDictionary[str, IsolatedPlugin] = weakref.WeakValueDictionary()

# owner hooks an isolated plugin is asked only for what it lists: hook → (argument, listing hook)
_OWNED_BY_LISTING = {
    "pynomaly_validate_parameters": ("detector_id", "pynomaly_detectors"),
    "pynomaly_fit": ("detector_id", "pynomaly_detectors"),
    "pynomaly_score": ("detector_id", "pynomaly_detectors"),
    "pynomaly_explain": ("detector_id", "pynomaly_detectors"),
    "pynomaly_create_step": ("name", "pynomaly_processing_steps"),
    "pynomaly_format_output": ("fmt", "pynomaly_outputs"),
    "pynomaly_export_data": ("fmt", "pynomaly_outputs"),
}
_LISTINGS = {
    "pynomaly_detectors": "id",
    "pynomaly_processing_steps": "name",
    "pynomaly_outputs": "name",
}


class StartError(PynomalyError):
    """A worker could not start, or could not import its plugin (the reason says why)."""

    def __init__(self, reason: str, details: str = "") -> None:
        self.reason = reason
        self.details = details
        super().__init__(reason)


@attrs.define
class WorkerStats:
    """The worker process of one isolated plugin: its current pid (``None`` when none runs),
    how often it started and why it stopped, and what its calls cost — CPU seconds (user +
    system, every thread of the worker) and the largest peak resident memory of a call, in
    bytes."""

    plugin: str
    pid: int | None = None
    starts: int = 0
    crashes: int = 0
    timeouts: int = 0
    calls: int = 0
    errors: int = 0
    cpu_seconds: float = 0.0
    peak_memory: int = 0

    @property
    def restarts(self) -> int:
        return max(self.starts - 1, 0)

    def to_dict(self) -> dict[str, Any]:
        return {**attrs.asdict(self), "restarts": self.restarts}


def recipe_for(cand: Candidate) -> tuple[str, Any]:
    """How a worker imports the candidate: ``(kind, target)``."""
    if cand.kind == "builtin":
        return "module", cand.target
    if cand.kind == "entrypoint":
        return "entrypoint", cand.target
    if cand.kind == "local":
        return "file", cand.target
    obj = cand.load()  # registered by hand: the object itself
    if inspect.ismodule(obj) and sys.modules.get(obj.__name__) is obj and obj.__spec__:
        return "module", obj.__name__
    try:
        return "pickle", pickle.dumps(obj, protocol=5)
    except Exception as exc:
        raise StartError(
            f"cannot be isolated: a worker process gets the plugin by pickling it, and "
            f"{type(obj).__name__} cannot be pickled ({exc}); register an importable module "
            "or an instance of an importable class"
        ) from None


def _exit_text(code: int | None) -> str:
    if code is None:
        return "stopped answering"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code == signal.SIGKILL:
            return f"was killed ({name}; out of memory?)"
        return f"crashed ({name})"
    return f"exited with code {code}"


def _audit(event: str, plugin: str, **fields: Any) -> None:
    """The one place isolation events (timeout, crash, restart, start failure) are reported:
    to the audit log when this pynomaly has one (:mod:`pynomaly.audit`), and to the log."""
    from pynomaly import audit

    log.info("isolation: %s of plugin %s %s", event, plugin, fields)
    audit.record(f"isolation.{event}", plugin=plugin, **fields)


class _Pending:
    """The bytes of a fitted state (or step) a worker sends after its answer."""

    __slots__ = ("buffers", "error", "event", "hook", "payload", "plugin", "timeout")

    def __init__(self, plugin: str, hook: str, timeout: float | None) -> None:
        self.plugin, self.hook, self.timeout = plugin, hook, timeout
        self.event = threading.Event()
        self.payload: Any = None
        self.buffers: list[Any] = []
        self.error = ""

    def fill(self, payload: Any, buffers: list[Any]) -> None:
        self.payload, self.buffers = payload, buffers
        self.event.set()

    def fail(self, why: str) -> None:
        if not self.event.is_set():
            self.error = why
            self.event.set()

    def wait(self) -> tuple[Any, list[Any]]:
        if not self.event.wait(self.timeout):
            self.error = f"it did not arrive within {self.timeout:g} s"
        if self.error:
            raise PluginError(
                self.plugin, self.hook, f"its fitted state was lost ({self.error}); fit again"
            )
        return self.payload, self.buffers


class _Process:
    """One running worker process, the host's end of its socket, and the thread receiving
    the bytes of fitted states on the second socket."""

    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        sock: socket.socket,
        data: socket.socket,
        plugin: str,
        timeout: float | None,
    ) -> None:
        self.proc = proc
        self.sock = sock
        self.data = data
        self.plugin = plugin
        self.timeout = timeout
        self.held: set[str] = set()  # tokens of states and steps this process keeps
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()
        self._gone = ""
        self._receiver = threading.Thread(
            target=self._receive_bytes, name=f"pynomaly-isolated-{plugin}", daemon=True
        )
        self._receiver.start()

    def expect(self, token: str, hook: str) -> _Pending:
        """What delivers the bytes of the object ``token`` (which may have arrived already)."""
        return self._meet(token, hook)

    def _meet(self, token: str, hook: str) -> _Pending:
        with self._lock:  # the answer and the bytes meet here, whichever comes first
            pending = self._pending.pop(token, None)
            if pending is None:
                pending = self._pending[token] = _Pending(self.plugin, hook, self.timeout)
            if self._gone:
                pending.fail(self._gone)
            return pending

    def _receive_bytes(self) -> None:
        why = "its worker process stopped before sending it"
        try:
            while True:
                _, token, payload, buffers = wire.receive(self.data, None, wire.HostUnpickler)
                self._meet(token, "pynomaly_fit").fill(payload, buffers)
        except Exception:  # the end of the stream (the worker exited), or a broken one
            pass
        finally:
            with self._lock:
                self._gone = why
                for pending in self._pending.values():
                    pending.fail(why)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def exchange(self, message: Any, deadline: float | None) -> Any:
        wire.send(self.sock, message, deadline)
        return wire.receive(self.sock, deadline, wire.HostUnpickler)

    def reap(self, timeout: float = 5.0) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self) -> None:
        try:
            self.sock.close()
        finally:
            if self.proc.poll() is None:
                with contextlib.suppress(OSError):  # gone meanwhile
                    self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(5)
            self._close_data()

    def close(self) -> None:
        """Ask the worker to leave (end of its stream), then make sure it did; bytes still
        on their way are received first."""
        try:
            self.sock.close()
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.kill()
        self._receiver.join(10)
        self._close_data()

    def _close_data(self) -> None:
        with contextlib.suppress(OSError):
            self.data.shutdown(socket.SHUT_RDWR)  # wakes the receiving thread
        self.data.close()


class _Holder:
    """The process of a proxy, in an object of its own: what the proxy's finalizer stops
    when a manager is dropped without ``shutdown()``."""

    def __init__(self) -> None:
        self.process: _Process | None = None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.kill()


class IsolatedPlugin:
    """Stands in the host for a plugin that runs in a worker process (module docstring).

    Made by :meth:`start`, registered with the manager under the plugin's name; its
    attributes are the forwarding hookimpls.
    """

    __version__: str  # the plugin module's, when it has one (for derived metadata)

    def __init__(
        self,
        name: str,
        recipe: tuple[str, Any],
        limits: Isolation,
        on_usage: Callable[[str, str, float, int], None] | None = None,
    ) -> None:
        self._name = name
        self._recipe = recipe
        self._limits = limits
        self._on_usage = on_usage
        self._lock = threading.RLock()
        self._holder = _Holder()
        self._finalizer = weakref.finalize(self, self._holder.stop)
        self._closed = False
        self._stopped = False  # by stop(): the next start is no restart after a failure
        self._signature: list[tuple[str, tuple[str, ...]]] = []
        self._config: Mapping[str, Any] | None = None  # replayed into a restarted worker
        self._listed: dict[str, frozenset[str]] = {}
        self._stats = WorkerStats(name)

    # --- start, stop ---------------------------------------------------------------------

    @classmethod
    def start(
        cls,
        cand: Candidate,
        limits: Isolation,
        on_usage: Callable[[str, str, float, int], None] | None = None,
    ) -> IsolatedPlugin:
        """Start a worker for the candidate and make the proxy of what it imported.

        Raises :class:`StartError` with the reason when the worker cannot import the plugin
        (the same reasons as in-process: ``import failed: ... (at FILE:LINE)``, invalid
        hookimpls ...) or dies trying.
        """
        proxy = cls(cand.name, recipe_for(cand), limits, on_usage)
        info = proxy._spawn()
        proxy.__doc__ = info.get("doc")
        if info.get("version") is not None:
            proxy.__version__ = info["version"]  # metadata derived as for the module itself
        for index, impl in enumerate(info["impls"]):
            proxy._add_forwarder(index, impl)
        _LIVE[cand.name] = proxy
        return proxy

    def _spawn(self) -> dict[str, Any]:
        parent, child = socket.socketpair()
        parent_data, child_data = socket.socketpair()
        env = dict(os.environ)
        env[ENV_ISOLATION] = "none"  # a manager made inside the worker isolates nothing
        env.pop(ENV_TIMEOUT, None)
        env.pop(ENV_MEMORY_LIMIT, None)
        if self._limits.memory_limit:  # one malloc arena per thread reserves 64 MiB of address
            env.setdefault("MALLOC_ARENA_MAX", "2")
        try:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "pynomaly.plugin.worker",
                    str(child.fileno()),
                    str(child_data.fileno()),
                ],
                pass_fds=(child.fileno(), child_data.fileno()),
                stdin=subprocess.DEVNULL,
                stdout=_stderr_fd(),
                env=env,
                start_new_session=True,  # Ctrl-C reaches the host, which decides
            )
        except OSError as exc:
            parent.close()
            parent_data.close()
            raise StartError(f"cannot start a worker process: {exc}") from None
        finally:
            child.close()
            child_data.close()
        process = _Process(proc, parent, parent_data, self._name, self._limits.timeout)
        deadline = self._deadline()
        init = {
            "name": self._name,
            "recipe": self._recipe,
            "sys_path": list(sys.path),
            "host": os.getpid(),
            "main_thread": threading.current_thread() is threading.main_thread(),
            "memory_limit": self._limits.memory_limit,
        }
        try:
            reply = process.exchange(("init", init), deadline)
        except TimeoutError:
            process.kill()
            raise StartError(
                f"its worker process did not start within {self._limits.timeout:g} s "
                "(--timeout / PYNOMALY_TIMEOUT)"
            ) from None
        except (wire.WorkerGone, OSError):
            code = process.reap()
            process.kill()  # its sockets
            raise StartError(f"import failed: its worker process {_exit_text(code)}") from None
        if reply[0] != "ready":
            process.close()
            raise StartError(reply[1], reply[2] if len(reply) > 2 else "")
        info: dict[str, Any] = reply[1]
        signature = [(i["hook"], tuple(i["argnames"])) for i in info["impls"]]
        if self._signature and signature != self._signature:
            process.kill()
            raise StartError("its hooks changed since it was loaded; reload the plugin")
        self._signature = signature
        self._holder.process = process
        self._stats.starts += 1
        self._stats.pid = process.pid
        return info

    def _deadline(self) -> float | None:
        timeout = self._limits.timeout
        return time.monotonic() + timeout if timeout else None

    def close(self) -> None:
        """Stop the worker; the proxy answers nothing any more."""
        with self._lock:
            self._closed = True
            process, self._holder.process = self._holder.process, None
            if process is not None:
                process.close()
            self._stats.pid = None
            if _LIVE.get(self._name) is self:
                del _LIVE[self._name]

    def stop(self) -> None:
        """Stop the worker (``PluginManager.shutdown``); a later call starts a new one."""
        with self._lock:
            process, self._holder.process = self._holder.process, None
            if process is not None:
                process.close()
            self._stats.pid = None
            self._stopped = True

    @property
    def closed(self) -> bool:
        return self._closed

    def stats(self) -> WorkerStats:
        """A copy of this plugin's worker statistics."""
        with self._lock:
            return attrs.evolve(self._stats)

    def __repr__(self) -> str:
        pid = self._stats.pid
        return f"<isolated plugin {self._name!r} (worker {pid if pid else 'not running'})>"

    # --- forwarding ----------------------------------------------------------------------

    def _add_forwarder(self, index: int, impl: Mapping[str, Any]) -> None:
        hook, argnames = impl["hook"], tuple(impl["argnames"])
        spec = getattr(hookspecs, hook, None)
        if hook not in hookspecs.CALLS or spec is None:
            raise StartError(f"its worker offered an unknown hook {hook!r}")
        allowed = set(inspect.signature(spec).parameters)
        if not set(argnames) <= allowed or len(set(argnames)) != len(argnames):
            raise StartError(f"its worker offered {hook} with arguments {argnames!r}")

        def call(args: tuple[Any, ...]) -> Any:
            return self._call(index, hook, argnames, args)

        # a function with exactly the implementation's argument names, which pluggy reads off
        # its code; the names were checked against the specification above
        params = ", ".join(argnames)
        packed = f"({params}{',' if len(argnames) == 1 else ''})"
        namespace: dict[str, Any] = {"_call": call}
        exec(f"def {hook}({params}):\n    return _call({packed})\n", namespace)
        function = namespace[hook]
        function.__qualname__ = f"{self._name}.{hook}"
        marked = hookimpl(
            specname=hook, tryfirst=bool(impl["tryfirst"]), trylast=bool(impl["trylast"])
        )(function)
        setattr(self, f"{hook}__isolated_{index}", marked)

    def _call(self, index: int, hook: str, argnames: tuple[str, ...], args: tuple[Any, ...]) -> Any:
        if hook == "pynomaly_cleanup" and self._holder.process is None:
            self._config = None  # no worker runs: what it held went with it
            return None
        owned = _OWNED_BY_LISTING.get(hook)
        if owned is not None:
            listed = self._listed.get(owned[1])
            if (
                listed is not None
                and owned[0] in argnames
                and args[argnames.index(owned[0])] not in listed
            ):
                return None  # not one of the plugin's: it would answer None
        value = self._request(
            lambda held: ("call", index, self._outgoing(argnames, args, held)), hook
        )
        if hook in _LISTINGS and isinstance(value, list):
            key = _LISTINGS[hook]
            self._listed[hook] = frozenset(str(getattr(v, key, "")) for v in value)
        elif hook in ("pynomaly_initialize", "pynomaly_configure"):
            self._config = dict(args[argnames.index("config")]) if "config" in argnames else {}
        elif hook == "pynomaly_cleanup":
            self._config = None
        return self._incoming(hook, value, argnames, args)

    def _outgoing(
        self, argnames: tuple[str, ...], args: tuple[Any, ...], held: set[str]
    ) -> tuple[Any, ...]:
        """Arguments as they are sent: a state the worker holds (``held``) as its token, a
        detection result's model state as bytes (the worker need not load another plugin's
        classes)."""
        out = list(args)
        for i, name in enumerate(argnames):
            value = out[i]
            if name == "state" and isinstance(value, wire.Opaque) and value.token in held:
                out[i] = wire.StateRef(value.token)
            elif name == "result":
                out[i] = _sendable_result(value)
        return tuple(out)

    def _incoming(
        self, hook: str, value: Any, argnames: tuple[str, ...], args: tuple[Any, ...]
    ) -> Any:
        if isinstance(value, wire.IteratorRef):
            return self._iterate(value, hook)
        if isinstance(value, wire.Printed):  # -o -: what the plugin wrote to its stdout
            out = sys.stdout
            out.flush()
            binary = getattr(out, "buffer", None)
            if binary is not None:
                binary.write(value.data)
                binary.flush()
            else:
                out.write(value.data.decode("utf-8", "replace"))
            return value.value
        if hook == "pynomaly_postprocess" and value is not None and "result" in argnames:
            return _reattached(value, args[argnames.index("result")])
        return value

    def _iterate(self, ref: wire.IteratorRef, hook: str) -> Iterator[Any]:
        try:
            while True:
                kind, item = self._request(lambda held: ("next", ref.key), hook)
                if kind == "stop":
                    return
                yield item
        finally:
            process = self._holder.process
            if process is not None and process.pid == ref.worker:
                with contextlib.suppress(PynomalyError):
                    self._request(lambda held: ("close", ref.key), hook)

    def step(self, step: wire.IsolatedStep, op: str, data: Any) -> Any:
        """``step.fit(data)`` or ``step.transform(data)`` in the worker."""

        def message(held: set[str]) -> tuple[Any, ...]:
            ref = wire.StateRef(step.token) if step.token in held else step
            return ("step", op, ref, data)

        return self._request(message, f"its processing step's {op}")

    def _request(self, make: Callable[[set[str]], tuple[Any, ...]], hook: str) -> Any:
        """Send ``make(tokens the worker holds)`` to the worker (starting one if needed) and
        return its answer; a failure of any kind is a :class:`PluginError` naming the plugin
        and ``hook``."""
        with self._lock:
            if self._closed:
                raise PluginError(self._name, hook, "the plugin was unloaded")
            process = self._running(hook)
            message = make(process.held)
            reply = self._exchange(process, message, hook)
            if reply[0] == "missing":  # the worker let go of a state: send its bytes
                process.held.discard(reply[1])
                message = make(set())
                reply = self._exchange(process, message, hook)
            kind, *rest = reply
            if kind == "error":
                error, details, fatal = rest[0], rest[1], rest[2]
                if fatal:  # a MemoryError: the worker leaves; the next call starts a new one
                    self._lost(process, "memory", hook)
                if details:
                    raise error from wire.RemoteTraceback(details)
                raise error
            value = rest[0]
            self._note_held(process, message, value, hook)
            return value

    def _exchange(self, process: _Process, message: tuple[Any, ...], hook: str) -> Any:
        try:
            reply = process.exchange(message, self._deadline())
        except TimeoutError:
            self._lost(process, "timeout", hook)
            raise PluginError(
                self._name,
                hook,
                f"timed out after {self._limits.timeout:g} s (--timeout / PYNOMALY_TIMEOUT); "
                "its worker process was stopped and a new one starts for the next call",
            ) from None
        except (wire.WorkerGone, OSError):
            code = process.reap()
            self._lost(process, "crash", hook, code)
            raise PluginError(
                self._name,
                hook,
                f"its worker process {_exit_text(code)}; a new one starts for the next call",
            ) from None
        except pickle.UnpicklingError as exc:  # the worker is fine: only the answer is refused
            raise PluginError(self._name, hook, str(exc)) from None
        except wire.Unsendable as exc:  # nothing was sent: the worker is fine
            raise PluginError(
                self._name, hook, f"cannot send the arguments to its worker process: {exc}"
            ) from None
        except BaseException:  # Ctrl-C: the call is abandoned, and with it the worker
            self._lost(process, "interrupt", hook)
            raise
        cpu, peak = reply[-1]
        self._account(hook, cpu, peak, reply[0] == "error")
        return reply

    def _note_held(
        self, process: _Process, message: tuple[Any, ...], value: Any, hook: str
    ) -> None:
        """Remember which states the worker holds now; attach to each new one what delivers
        its bytes."""
        from pynomaly.types import FitResult

        sent = message[2] if message[0] == "call" else message[2:3] if message[0] == "step" else ()
        for item in sent:
            if isinstance(item, wire.Opaque):
                process.held.add(item.token)
        made = value.state if isinstance(value, FitResult) else value
        if isinstance(made, wire.Opaque):
            process.held.add(made.token)
            if made.payload is None:
                made._pending = process.expect(made.token, hook)

    def _running(self, hook: str) -> _Process:
        process = self._holder.process
        if process is not None and process.alive():
            return process
        if process is not None:  # it died between calls
            self._lost(process, "crash", hook, process.reap())
        try:
            self._spawn()
        except StartError as exc:
            raise PluginError(
                self._name, hook, f"its worker process could not restart: {exc}"
            ) from None
        if not self._stopped:
            _audit("restart", self._name, pid=self._stats.pid, before=hook)
        self._stopped = False
        process = self._holder.process
        assert process is not None
        if self._config is not None:
            self._replay(process, hook)
        return process

    def _replay(self, process: _Process, hook: str) -> None:
        """Initialize a restarted worker's plugin with the last configuration it was given."""
        for index, (name, argnames) in enumerate(self._signature):
            if name != "pynomaly_initialize":
                continue
            args = tuple(self._config if a == "config" else None for a in argnames)
            try:
                reply = process.exchange(("call", index, args), self._deadline())
            except (TimeoutError, wire.WorkerGone, OSError):
                self._lost(process, "crash", "pynomaly_initialize", process.reap(1))
                raise PluginError(
                    self._name, hook, "its worker process restarted but failed to initialize"
                ) from None
            if reply[0] == "error":
                raise PluginError(
                    self._name, hook, f"its worker process restarted but: {reply[1]}"
                )

    def _lost(self, process: _Process, why: str, hook: str, code: int | None = None) -> None:
        """The worker is gone (or must go): stop it; the next call starts another."""
        process.kill()
        if self._holder.process is process:
            self._holder.process = None
        self._stats.pid = None
        if why == "timeout":
            self._stats.timeouts += 1
        elif why in ("crash", "memory"):
            self._stats.crashes += 1
        fields: dict[str, Any] = {"hook": hook, "pid": process.pid}
        if code is not None:
            fields["cause"] = _exit_text(code)
        _audit(why, self._name, **fields)

    def _account(self, hook: str, cpu: float, peak: int, failed: bool) -> None:
        stats = self._stats
        stats.calls += 1
        stats.errors += failed
        stats.cpu_seconds += cpu
        stats.peak_memory = max(stats.peak_memory, peak)
        if self._on_usage is not None:
            self._on_usage(self._name, hook, cpu, peak)


def _stderr_fd() -> int:
    """Where a worker's stdout goes: the host's stderr (descriptor 2), or nowhere."""
    try:
        os.fstat(2)
        return 2
    except OSError:  # pragma: no cover - no stderr at all
        return subprocess.DEVNULL


def _sendable_result(result: Any) -> Any:
    """A detection result as a worker gets it: its model's state as bytes (an in-process
    plugin's object, which the worker need not load)."""
    results = sys.modules.get("pynomaly.detection.results")
    if results is None or not isinstance(result, results.DetectionResult):
        return result
    model = result.model
    if isinstance(model, results.Model) and not isinstance(model.state, wire.Opaque):
        model = attrs.evolve(model, state=wire.Opaque.wrap(model.state))
        return attrs.evolve(result, model=model)
    return result


def _reattached(answer: Any, original: Any) -> Any:
    """A result that came back from a worker, with the host's model and scorer again (a
    postprocess plugin changes scores and labels, not the model)."""
    results = sys.modules.get("pynomaly.detection.results")
    if results is None or not isinstance(answer, results.DetectionResult):
        return answer
    if not isinstance(original, results.DetectionResult):
        return answer
    return attrs.evolve(answer, model=original.model, scorer=original._scorer)


def run_step(step: wire.IsolatedStep, op: str, data: Any) -> Any:
    """``fit`` or ``transform`` of a processing step of an isolated plugin: in the worker of
    a live proxy of that plugin, else in-process (no manager isolates it any more)."""
    proxy = _LIVE.get(step.plugin)
    if proxy is None or proxy.closed:
        return getattr(step.load(), op)(data)
    return proxy.step(step, op, data)


__all__ = ["IsolatedPlugin", "StartError", "WorkerStats", "recipe_for", "run_step"]
