"""The wire between the host and an isolated plugin's worker process.

Messages are pickled with protocol 5 and sent over a Unix socket pair (a second pair carries
the bytes of fitted states, sent after the answer): the pickle stream first, then each
out-of-band buffer as it is — the memory of a numpy array or of a DataFrame's
blocks is written straight from the array and received straight into the buffer the new array
will use, never pickled row by row nor copied into the pickle stream.

A frame is ``!QI`` (length of the pickle stream, number of buffers), one ``!Q`` length per
buffer, the stream, the buffers.

Objects the plugin keeps in its worker travel as references: a connection's handle
(:class:`HandleRef`), an iterator of batches (:class:`IteratorRef`). A fitted state and a
processing step travel as :class:`Opaque` — pickled bytes the host stores (in a ``Model``,
in a model file) without unpickling them, so that the plugin's classes are never imported
in the host. The host unpickles what a worker returns with :class:`HostUnpickler`, which
refuses classes from anywhere but the standard types, numpy, pandas, pyarrow and pynomaly.
"""

from __future__ import annotations

import io
import pickle
import socket
import struct
import time
from collections.abc import Iterable
from typing import Any

_FRAME = struct.Struct("!QI")
_LENGTH = struct.Struct("!Q")


class WorkerGone(Exception):
    """The other end closed the socket: the worker exited or crashed."""


class Unsendable(Exception):
    """A message cannot be pickled (nothing was written: the stream is still usable)."""


def pack(message: Any) -> tuple[bytes, bytes, list[memoryview]]:
    """``message`` pickled (protocol 5, buffers out of band): frame header, pickle stream,
    buffers. Raises :class:`Unsendable` when it cannot be pickled."""
    buffers: list[pickle.PickleBuffer] = []
    try:
        stream = pickle.dumps(message, protocol=5, buffer_callback=buffers.append)
        raws = [b.raw() for b in buffers]
    except Exception as exc:
        raise Unsendable(f"{type(exc).__name__}: {exc}") from None
    head = _FRAME.pack(len(stream), len(raws)) + b"".join(_LENGTH.pack(r.nbytes) for r in raws)
    return head, stream, raws


def send(sock: socket.socket, message: Any, deadline: float | None = None) -> None:
    """Pickle ``message`` and write it to ``sock`` (before ``deadline``, a
    :func:`time.monotonic` time, if given: else :class:`TimeoutError`).

    The message is pickled completely before anything is written, so a message that cannot
    be pickled raises :class:`Unsendable` and leaves the stream usable.
    """
    head, stream, raws = pack(message)
    small = len(stream) < 1 << 16
    _timed(sock, deadline)
    sock.sendall(head + stream if small else head)
    for part in raws if small else [memoryview(stream), *raws]:
        _timed(sock, deadline)
        sock.sendall(part)


def receive(
    sock: socket.socket,
    deadline: float | None = None,
    unpickler: type[pickle.Unpickler] | None = None,
) -> Any:
    """Read one message from ``sock`` (before ``deadline``, if given: else
    :class:`TimeoutError`); :class:`WorkerGone` at the end of the stream. A message that was
    read but cannot be unpickled raises :class:`pickle.UnpicklingError` (the stream is still
    usable)."""
    n_stream, n_buffers = _FRAME.unpack(_exact(sock, _FRAME.size, deadline))
    lengths = (
        struct.unpack(f"!{n_buffers}Q", _exact(sock, 8 * n_buffers, deadline))
        if n_buffers
        else ()
    )
    stream = _exact(sock, n_stream, deadline)
    buffers = [_exact(sock, n, deadline) for n in lengths]
    try:
        if unpickler is None:
            return pickle.loads(stream, buffers=buffers)
        return unpickler(io.BytesIO(stream), buffers=buffers).load()
    except pickle.UnpicklingError:
        raise
    except Exception as exc:
        raise pickle.UnpicklingError(
            f"answered with what cannot be read: {type(exc).__name__}: {exc}"
        ) from None


def _timed(sock: socket.socket, deadline: float | None) -> None:
    if deadline is None:
        sock.settimeout(None)
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("deadline passed")
    sock.settimeout(left)


def _exact(sock: socket.socket, size: int, deadline: float | None) -> bytearray:
    buf = bytearray(size)
    view = memoryview(buf)
    got = 0
    while got < size:
        _timed(sock, deadline)
        n = sock.recv_into(view[got:], size - got)
        if n == 0:
            raise WorkerGone("end of stream")
        got += n
    return buf


# ---------------------------------------------------------------------------------------------
# What crosses the boundary by reference, or as bytes the host does not unpickle
# ---------------------------------------------------------------------------------------------


class Opaque:
    """An object of an isolated plugin (a fitted state, a processing step), as the pickled
    bytes the host keeps without unpickling.

    ``token`` names it in the worker that made it, which keeps the object itself, so that
    scoring with a state it just fitted sends only the token. The worker answers a fit at
    once and sends the bytes right after, on a channel of their own (``payload`` is ``None``
    until they arrive: :meth:`complete` waits for them). Pickling an ``Opaque`` (inside a
    ``Model``, a model file) keeps the bytes; :meth:`load` unpickles them, for a plugin running
    in-process.
    """

    __slots__ = ("_loaded", "_pending", "buffers", "payload", "token")
    __pynomaly_opaque__ = True

    def __init__(self, token: str, payload: Any, buffers: Iterable[Any] = ()) -> None:
        self.token = token
        self.payload = payload
        self.buffers = tuple(buffers)
        self._loaded: Any = _NOT_LOADED
        self._pending: Any = None  # what delivers the bytes sent after the answer

    @classmethod
    def wrap(cls, value: Any, token: str | None = None) -> Opaque:
        """``value`` pickled (protocol 5; its arrays' memory kept out of band, uncopied)."""
        import secrets

        buffers: list[pickle.PickleBuffer] = []
        payload = pickle.dumps(value, protocol=5, buffer_callback=buffers.append)
        opaque = cls(token or secrets.token_hex(8), payload, buffers)
        opaque._loaded = value
        return opaque

    def complete(self) -> None:
        """Wait until the bytes sent after the answer have arrived (a no-op when they have).
        Raises :class:`~pynomaly.errors.PluginError` when they were lost with the worker."""
        if self.payload is not None:
            return
        if self._pending is None:
            if IN_WORKER:
                return
            from pynomaly.errors import PynomalyError

            raise PynomalyError(f"the bytes of {self!r} never reached this process")
        self.payload, buffers = self._pending.wait()
        self.buffers = tuple(buffers)
        self._pending = None

    def load(self) -> Any:
        """The object, unpickled once (this runs the plugin's code: in-process use only)."""
        if self._loaded is _NOT_LOADED:
            self.complete()
            self._loaded = pickle.loads(self.payload, buffers=self.buffers)
        return self._loaded

    @property
    def nbytes(self) -> int:
        self.complete()
        return sum(memoryview(b).nbytes for b in (self.payload, *self.buffers))

    def __reduce_ex__(self, protocol: Any) -> Any:
        self.complete()
        if self.payload is None:  # in the worker: the bytes go on their own channel
            parts: tuple[Any, ...] = ()
        elif isinstance(protocol, int) and protocol >= 5:  # buffers stay out of band
            parts = tuple(pickle.PickleBuffer(b) for b in (self.payload, *self.buffers))
        else:
            parts = tuple(bytes(memoryview(b)) for b in (self.payload, *self.buffers))
        return (_opaque, (type(self), self.token, parts))

    def __repr__(self) -> str:
        size = "bytes to come" if self.payload is None else f"{self.nbytes} bytes"
        return f"{type(self).__name__}({self.token!r}, {size})"


#: set in an isolated plugin's worker, whose opaque objects are sent without their bytes
IN_WORKER = False

_NOT_LOADED: Any = object()


def _opaque(cls: type[Opaque], token: str, parts: tuple[Any, ...]) -> Opaque:
    return cls(token, parts[0] if parts else None, parts[1:])


class IsolatedStep(Opaque):
    """A processing step made by an isolated plugin: ``fit`` and ``transform`` run in that
    plugin's worker (in-process if no manager isolates the plugin any more)."""

    __slots__ = ("plugin",)

    def __init__(
        self, token: str, payload: Any, buffers: Iterable[Any] = (), plugin: str = ""
    ) -> None:
        super().__init__(token, payload, buffers)
        self.plugin = plugin

    def __reduce_ex__(self, protocol: Any) -> Any:
        _, (cls, token, parts) = super().__reduce_ex__(protocol)
        return (_step, (cls, token, parts, self.plugin))

    def fit(self, data: Any) -> Any:
        from pynomaly.plugin.isolation import run_step

        return run_step(self, "fit", data)

    def transform(self, data: Any) -> Any:
        from pynomaly.plugin.isolation import run_step

        return run_step(self, "transform", data)


def _step(
    cls: type[IsolatedStep], token: str, parts: tuple[Any, ...], plugin: str
) -> IsolatedStep:
    return cls(token, parts[0] if parts else None, parts[1:], plugin)


class StateRef:
    """Stands for an :class:`Opaque` the worker already holds (sent instead of its bytes)."""

    __slots__ = ("token",)

    def __init__(self, token: str) -> None:
        self.token = token

    def __reduce__(self) -> Any:
        return (StateRef, (self.token,))


class _WorkerRef:
    """Something kept in a worker process, named there by ``key``."""

    __slots__ = ("key", "worker")

    def __init__(self, worker: int, key: int) -> None:
        self.worker = worker
        self.key = key

    def __reduce__(self) -> Any:
        return (type(self), (self.worker, self.key))


class HandleRef(_WorkerRef):
    """A connection's handle, kept in the worker (it may be a pool, a client, a file)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<handle {self.key} in worker process {self.worker}>"


class IteratorRef(_WorkerRef):
    """An iterator (``pynomaly_read_batches``) kept in the worker, pulled item by item."""

    __slots__ = ()


class Printed:
    """An answer with what the call wrote to stdout (``pynomaly_export_data`` to ``-``): the
    host writes ``data`` to its own stdout."""

    __slots__ = ("data", "value")

    def __init__(self, data: bytes, value: Any) -> None:
        self.data = data
        self.value = value

    def __reduce__(self) -> Any:
        return (Printed, (self.data, self.value))


class RemoteTraceback(Exception):
    """The traceback of an exception raised in a worker process (the ``__cause__`` of the
    :class:`~pynomaly.errors.PluginError` the host raises, printed with ``--debug``)."""

    def __str__(self) -> str:
        return "\n\n" + str(self.args[0] if self.args else "")


# ---------------------------------------------------------------------------------------------
# What the host unpickles
# ---------------------------------------------------------------------------------------------

#: modules whose classes an isolated plugin's answers may hold
HOST_MODULES = frozenset(
    {
        "builtins", "copyreg", "collections", "datetime", "decimal", "fractions", "uuid",
        "pathlib", "zoneinfo", "_codecs", "numpy", "pandas", "pyarrow", "dateutil", "pytz",
        "pynomaly",
    }
)  # fmt: skip


class RefusedClass(pickle.UnpicklingError):
    """An isolated plugin answered with an object of a class the host does not load."""


class HostUnpickler(pickle.Unpickler):
    """Unpickles a worker's answer, loading classes from :data:`HOST_MODULES` only (and only
    types from ``builtins``): unpickling never imports the plugin's own modules in the host."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".", 1)[0] in HOST_MODULES:
            found = super().find_class(module, name)
            if module != "builtins" or isinstance(found, type):
                return found
        raise RefusedClass(
            f"answered with an object of class {module}.{name}; an isolated plugin answers "
            "with built-in, numpy, pandas, pyarrow or pynomaly types"
        )


__all__ = [
    "HOST_MODULES",
    "HandleRef",
    "HostUnpickler",
    "IsolatedStep",
    "IteratorRef",
    "Opaque",
    "Printed",
    "RefusedClass",
    "RemoteTraceback",
    "StateRef",
    "Unsendable",
    "WorkerGone",
    "receive",
    "send",
]
