"""What protects the caller from plugin code running in its own process.

Every hookimpl runs through the shim of :mod:`pynomaly.plugin.calls`, which uses this module so
that, whichever hook it is:

* **no plugin ends the process quietly**: ``SystemExit`` raised by plugin code, and a
  ``KeyboardInterrupt`` that plugin code raised itself, become a
  :class:`~pynomaly.errors.PluginError` naming the plugin and the hook. A real Ctrl-C still
  interrupts: see :func:`is_real_interrupt` for the rule.
* **a crash names the plugin**: the shim's code object is renamed after the plugin and hook it
  runs (:func:`frame_label`), so the traceback :mod:`faulthandler` writes when the process dies
  of a signal (segfault, abort) shows ``in pynomaly plugin 'x', hook pynomaly_fit`` above the
  plugin's own frames, in each thread. The CLI enables :mod:`faulthandler`
  (:func:`enable_crash_reports`).
* **stdout stays the caller's**: what plugin code prints while a hook runs goes to stderr, so
  ``--json`` and ``-o -`` stay machine-readable (:func:`running`) — except in
  ``pynomaly_export_data`` asked for destination ``-``, whose job is to write to stdout.
* **the caller's data stays as it was**: arrays are handed over as read-only views, DataFrames
  and Series as copies that cannot write through to the caller's (pandas copy-on-write),
  a detection result as a copy holding those, mappings as new dicts (:func:`readonly`).

What cannot be protected in-process — a hang, unbounded memory, ``os._exit``, a segfault — is
what process isolation (:mod:`pynomaly.plugin.isolation`) is for.

Nothing here imports numpy or pandas: a value can only be an array if numpy is loaded.
"""

from __future__ import annotations

import contextlib
import contextvars
import signal
import sys
import threading
from collections.abc import Callable, Mapping
from typing import Any, TextIO

#: The plugin whose hook runs in this thread (or asyncio task), ``None`` outside hooks. A
#: context variable rather than a thread-local: a coroutine an ``async def`` hookimpl returns
#: runs on the event loop's thread, in a copy of the calling thread's context.
RUNNING: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "pynomaly_running_plugin", default=None
)


def frame_label(plugin: str, hook: str) -> str:
    """The name the shim's frame carries in tracebacks and in faulthandler's crash report."""
    return f"pynomaly plugin {plugin!r}, hook {hook}"


# ---------------------------------------------------------------------------------------------
# stdout → stderr while plugin code runs
# ---------------------------------------------------------------------------------------------


class _Stdout:
    """Stands in for ``sys.stdout`` while any hook runs: a write from a thread (or task) that
    is running plugin code goes to ``sys.stderr``, any other write to the real stdout.

    Redirecting file descriptor 1 instead would be process-wide: the host's own output,
    written by another thread while a hook runs, would go to stderr too. The price of the
    per-thread rule is that writes by threads a plugin starts itself, and by C code writing to
    descriptor 1, are not redirected; an isolated plugin's worker sends its descriptor 1 to
    stderr for its whole life.
    """

    def __init__(self, real: TextIO) -> None:
        self._real = real

    def _target(self) -> TextIO:
        return sys.stderr if RUNNING.get() is not None else self._real

    def write(self, text: str) -> int:
        return self._target().write(text)

    def writelines(self, lines: Any) -> None:
        self._target().writelines(lines)

    def flush(self) -> None:
        self._target().flush()

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, buffer ...
        return getattr(self._real, name)


_stdout_lock = threading.Lock()
_stdout_users = 0
_stdout_proxy: _Stdout | None = None


def _install_stdout() -> None:
    global _stdout_users, _stdout_proxy
    with _stdout_lock:
        _stdout_users += 1
        real = sys.stdout
        if _stdout_users == 1 and real is not None and not isinstance(real, _Stdout):
            _stdout_proxy = _Stdout(real)
            sys.stdout = _stdout_proxy


def _remove_stdout() -> None:
    global _stdout_users, _stdout_proxy
    with _stdout_lock:
        _stdout_users -= 1
        proxy = _stdout_proxy
        if _stdout_users == 0 and proxy is not None:
            if sys.stdout is proxy:  # unless someone replaced it meanwhile
                sys.stdout = proxy._real
            _stdout_proxy = None


def running(plugin: str | None) -> contextvars.Token[str | None]:
    """Mark this thread as running ``plugin``'s code (stdout goes to stderr) until
    :func:`done` is called with the token returned. ``None``: plugin code that may write to
    stdout — ``pynomaly_export_data`` asked to write the rows there (``-o -``)."""
    _install_stdout()
    return RUNNING.set(plugin)


def done(token: contextvars.Token[str | None]) -> None:
    """End what :func:`running` started."""
    RUNNING.reset(token)
    _remove_stdout()


# ---------------------------------------------------------------------------------------------
# A real Ctrl-C, or a KeyboardInterrupt raised by plugin code
# ---------------------------------------------------------------------------------------------

_sigints = 0  # SIGINTs received since pynomaly's handler was installed


def _count_sigint(signum: int, frame: Any) -> None:
    global _sigints
    _sigints += 1
    raise KeyboardInterrupt  # what Python's own handler, signal.default_int_handler, does


def watch_sigint() -> None:
    """Count SIGINTs, so that :func:`is_real_interrupt` can tell Ctrl-C from plugin code
    raising ``KeyboardInterrupt``.

    Installed only in place of Python's default handler (which it behaves exactly like) and
    only from the main thread, where signal handlers run; a handler the application installed
    itself is left alone.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, _count_sigint)
    except (ValueError, OSError):  # no signals here (embedded interpreters)
        pass


def sigint_mark() -> int:
    """The number of SIGINTs so far: taken when a hook starts, for :func:`is_real_interrupt`."""
    return _sigints


def is_real_interrupt(mark: int) -> bool:
    """Whether a ``KeyboardInterrupt`` seen by a hook that started at ``mark`` is a real
    interrupt, which must reach the caller (the CLI exits 130), rather than plugin code
    raising it.

    The rule: Python raises a signal-driven ``KeyboardInterrupt`` only in the main thread, from
    its SIGINT handler. So in any other thread it was raised by code. In the main thread it is
    real when a SIGINT arrived since the hook started — or when pynomaly's counting handler is
    not the installed one (the application replaced it, e.g. a notebook kernel between cells):
    then pynomaly cannot tell, and an interrupt is never swallowed.
    """
    if threading.current_thread() is not threading.main_thread():
        return False
    if _sigints != mark:
        return True
    try:
        handler = signal.getsignal(signal.SIGINT)
    except (ValueError, OSError):  # pragma: no cover
        return True
    # ignored, or the default action (which kills rather than raises): no signal raised it
    return handler not in (_count_sigint, signal.SIG_IGN, signal.SIG_DFL)


def enable_crash_reports() -> None:
    """What the CLI turns on at start: :mod:`faulthandler` (a segfault prints every thread's
    traceback, which names the plugin running) and the SIGINT count."""
    import faulthandler

    if not faulthandler.is_enabled():
        with contextlib.suppress(ValueError, OSError, AttributeError):  # no real stderr
            faulthandler.enable()
    watch_sigint()


# ---------------------------------------------------------------------------------------------
# The caller's data, read-only or copied
# ---------------------------------------------------------------------------------------------

#: hook arguments that carry the caller's data, protected before every hookimpl sees them
DATA_ARGS = frozenset({"X", "data", "result"})
MAPPING_ARGS = frozenset({"params", "options", "config", "query"})

_copy_on_write: bool | None = None


def _pandas_copies_on_write(pd: Any) -> bool:
    """pandas 3 always copies on write; pandas 2 only with ``mode.copy_on_write``."""
    global _copy_on_write
    if _copy_on_write is None:
        major = int(str(pd.__version__).split(".", 1)[0])
        _copy_on_write = major >= 3
    if _copy_on_write:
        return True
    return bool(pd.options.mode.copy_on_write is True)


def readonly(value: Any) -> Any:
    """``value`` as a plugin may be handed it without being able to change the caller's.

    * a numpy array: a read-only view (no copy; writing to it raises ``ValueError``);
    * a DataFrame or Series: a shallow copy — under pandas' copy-on-write (always, from
      pandas 3), a write to it copies the data first, so the caller's object is untouched;
      with pandas 2 without copy-on-write, a deep copy;
    * a :class:`~pynomaly.DetectionResult`: a copy whose arrays, frames and model are
      protected the same way;
    * a mapping: a new dict (its values are not copied);
    * anything else as it is.
    """
    np = sys.modules.get("numpy")
    if np is not None and isinstance(value, np.ndarray):
        if not value.flags.writeable:
            return value
        view = value.view()
        view.flags.writeable = False
        return view
    pd = sys.modules.get("pandas")
    if pd is not None and isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy(deep=not _pandas_copies_on_write(pd))
    results = sys.modules.get("pynomaly.detection.results")
    if results is not None and isinstance(value, results.DetectionResult):
        return _readonly_result(value, results)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _readonly_result(result: Any, results: Any) -> Any:
    import attrs

    model = result.model
    if isinstance(model, results.Model):
        model = attrs.evolve(
            model,
            params=dict(model.params),
            training_scores=readonly(model.training_scores),
        )
    return attrs.evolve(
        result,
        scores=readonly(result.scores),
        labels=readonly(result.labels),
        data=readonly(result.data) if result.data is not None else None,
        y_true=readonly(result.y_true) if result.y_true is not None else None,
        metrics=dict(result.metrics),
        model=model,
    )


def protector(argnames: tuple[str, ...]) -> Callable[[tuple[Any, ...]], tuple[Any, ...]] | None:
    """A function that protects the data arguments of a hookimpl taking ``argnames``
    (positionally, as pluggy calls it), or ``None`` when it takes none."""
    data = [i for i, name in enumerate(argnames) if name in DATA_ARGS]
    maps = [i for i, name in enumerate(argnames) if name in MAPPING_ARGS]
    if not data and not maps:
        return None

    def protect(args: tuple[Any, ...]) -> tuple[Any, ...]:
        out = list(args)
        for i in data:
            out[i] = readonly(out[i])
        for i in maps:
            if isinstance(out[i], Mapping):
                out[i] = dict(out[i])
        return tuple(out)

    return protect


__all__ = [
    "DATA_ARGS",
    "RUNNING",
    "done",
    "enable_crash_reports",
    "frame_label",
    "is_real_interrupt",
    "protector",
    "readonly",
    "running",
    "sigint_mark",
    "watch_sigint",
]
