"""Record the hook calls a :class:`~pynomaly.PluginManager` makes, for assertions in tests.

Modelled on pytest's ``pytester.HookRecorder``: it installs itself with pluggy's
``add_hookcall_monitoring`` and records every hook call in call order, one :class:`HookCall`
per plugin that took part: for an owner (firstresult) hook the plugin that answered it (or
raised), for any other hook every plugin whose implementation ran.

>>> rec = HookRecorder(pm)                                     # doctest: +SKIP
>>> pynomaly.detect(df, "good:maxz", manager=pm)               # doctest: +SKIP
>>> rec.assert_called("pynomaly_fit", plugin="goodplugin", times=1)  # doctest: +SKIP
>>> rec.getcall("pynomaly_fit").kwargs["X"].shape              # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:  # pragma: no cover
    import pluggy

    from pynomaly.plugin.manager import PluginManager

HOOK_PREFIX = "pynomaly_"


def pluggy_manager(manager: PluginManager) -> pluggy.PluginManager:
    """The pluggy manager of a pynomaly :class:`~pynomaly.PluginManager`: the manager itself
    (it subclasses pluggy's); kept for code written for pynomaly 1.0."""
    return manager


def hook_name(name: str) -> str:
    """``"fit"`` → ``"pynomaly_fit"``; full hook names are returned unchanged."""
    return name if name.startswith(HOOK_PREFIX) else HOOK_PREFIX + name


@attrs.define(eq=False)
class HookCall:
    """One hook call on one plugin: its arguments and its answer (or the error it raised).

    Arguments are also readable as attributes: ``call.detector_id`` is
    ``call.kwargs["detector_id"]``.
    """

    plugin: str
    hook: str
    kwargs: Mapping[str, Any] = attrs.field(repr=False)
    result: Any = attrs.field(default=None, repr=False)
    error: BaseException | None = None
    finished: bool = attrs.field(default=False, repr=False)

    def __getattr__(self, name: str) -> Any:  # only called when normal lookup fails
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            kwargs = object.__getattribute__(self, "kwargs")
        except AttributeError:  # not initialized yet (copying, unpickling)
            raise AttributeError(name) from None
        try:
            return kwargs[name]
        except KeyError:
            raise AttributeError(
                f"{self.hook} has no argument {name!r} (it has: {', '.join(kwargs)})"
            ) from None

    def __str__(self) -> str:
        status = f" raised {type(self.error).__name__}" if self.error is not None else ""
        return f"{self.hook} @ {self.plugin}{status}"


class HookRecorder:
    """Records every hook call of a plugin manager, in order, until :meth:`finish_recording`.

    Calls that reach no plugin (the manager asking a plugin for a hook it does not implement)
    are not recorded. Detach recorders in the reverse order of attaching them (pluggy's
    monitoring is a stack); the ``pynomaly_recorder`` fixture does so at teardown. Also usable
    as a context manager, which stops recording on exit.
    """

    def __init__(self, manager: PluginManager) -> None:
        self.manager = manager
        self.calls: list[HookCall] = []
        self._local = threading.local()
        self._lock = threading.Lock()
        self._undo: Any = manager.add_hookcall_monitoring(self._before, self._after)

    # --- monitoring callbacks -------------------------------------------------------------

    def _stack(self) -> list[int]:
        stack: list[int] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def _before(
        self, hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]
    ) -> None:
        with self._lock:  # where this call's records go: before those of calls it makes
            self._stack().append(len(self.calls))

    def _after(
        self,
        outcome: pluggy.Result[Any],
        hook_name: str,
        impls: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, Any],
    ) -> None:
        position = self._stack().pop()
        # the manager's own monitor, installed first, has just closed this call's frame
        frame = self.manager.monitor.last()
        if frame is None or frame.hook != hook_name:  # pragma: no cover - defensive
            return
        first = bool(getattr(self.manager.hook, hook_name).spec.opts.get("firstresult"))
        calls = [
            HookCall(
                inv.plugin, hook_name, dict(kwargs), inv.result, inv.error, finished=True
            )
            for inv in frame.invocations
            if not first or inv.error is not None or inv.result is not None
        ]
        with self._lock:
            self.calls[position:position] = calls

    # --- queries ----------------------------------------------------------------------------

    def getcalls(self, *names: str | Iterable[str], plugin: str | None = None) -> list[HookCall]:
        """Recorded calls of the given hooks (all hooks if none given), optionally of one
        plugin. Names may be full (``pynomaly_fit``) or short (``fit``), or one space-separated
        string like pytester's (``"fit score"``)."""
        wanted: set[str] = set()
        for item in names:
            parts = item.split() if isinstance(item, str) else list(item)
            wanted.update(hook_name(p) for p in parts)
        return [
            c
            for c in list(self.calls)
            if (not wanted or c.hook in wanted) and (plugin is None or c.plugin == plugin)
        ]

    def getcall(self, name: str, *, plugin: str | None = None) -> HookCall:
        """The one recorded call of hook ``name``; AssertionError unless there is exactly one."""
        found = self.getcalls(name, plugin=plugin)
        if len(found) != 1:
            where = f" on plugin {plugin!r}" if plugin else ""
            raise AssertionError(
                f"expected exactly one call of {hook_name(name)}{where}, got {len(found)}; "
                f"calls recorded: {self._listing()}"
            )
        return found[0]

    def hooks(self) -> list[str]:
        """The hook names of the recorded calls, in call order (repeats included)."""
        return [c.hook for c in list(self.calls)]

    def plugins(self, name: str) -> list[str]:
        """The plugins that answered hook ``name``, in call order."""
        return [c.plugin for c in self.getcalls(name)]

    def assert_called(
        self, name: str, plugin: str | None = None, times: int | None = None
    ) -> list[HookCall]:
        """Assert hook ``name`` was called (on ``plugin``; exactly ``times`` times); returns
        the matching calls."""
        found = self.getcalls(name, plugin=plugin)
        where = f" on plugin {plugin!r}" if plugin else ""
        if times is None and not found:
            raise AssertionError(
                f"{hook_name(name)} was not called{where}; calls recorded: {self._listing()}"
            )
        if times is not None and len(found) != times:
            raise AssertionError(
                f"expected {hook_name(name)} called {times} time(s){where}, got {len(found)}; "
                f"calls recorded: {self._listing()}"
            )
        return found

    def assert_not_called(self, name: str, plugin: str | None = None) -> None:
        found = self.getcalls(name, plugin=plugin)
        if found:
            where = f" on plugin {plugin!r}" if plugin else ""
            raise AssertionError(
                f"expected no call of {hook_name(name)}{where}, got {len(found)}: "
                + ", ".join(map(str, found))
            )

    def clear(self) -> None:
        """Forget the calls recorded so far (recording goes on)."""
        with self._lock:
            self.calls.clear()

    def finish_recording(self) -> None:
        """Stop recording (idempotent); the recorded calls stay available."""
        if self._undo is not None:
            self._undo()
            self._undo = None

    @property
    def recording(self) -> bool:
        return self._undo is not None

    def __enter__(self) -> HookRecorder:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.finish_recording()

    def __repr__(self) -> str:
        state = "recording" if self.recording else "finished"
        return f"<HookRecorder {state}, {len(self.calls)} calls>"

    def _listing(self) -> str:
        calls = list(self.calls)
        if not calls:
            return "none"
        shown = ", ".join(map(str, calls[:40]))
        return shown + (f", … ({len(calls) - 40} more)" if len(calls) > 40 else "")
