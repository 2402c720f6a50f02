"""What happened in each hook call, through pluggy's hook-call monitoring.

:class:`HookMonitor` installs itself with :meth:`pluggy.PluginManager.add_hookcall_monitoring`
and opens a :class:`CallFrame` for every hook call on the calling thread. While the call runs,
each plugin's implementation records an :class:`Invocation` in it (see
:mod:`pynomaly.plugin.calls`): which plugin answered, which raised, how long each took. From the
frames come the per-plugin statistics (:class:`HookStats`: an owner hook's call counts for the
plugin that answered it, any other hook's for every plugin that ran) and the name of the plugin
in every error.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pluggy

_UNSET: Any = object()


# Invocation and CallFrame are plain slotted classes, not attrs classes: one is made per hook
# call, and creating attrs classes at import costs start-up time every command pays.


class Invocation:
    """One plugin's implementation run within a hook call: its answer or its error."""

    __slots__ = ("error", "plugin", "result", "seconds")

    def __init__(self, plugin: str) -> None:
        self.plugin = plugin
        self.result: Any = None
        self.error: BaseException | None = None
        self.seconds = 0.0

    def __repr__(self) -> str:
        return f"Invocation({self.plugin!r}, error={self.error!r}, seconds={self.seconds:.6f})"


class CallFrame:
    """One hook call: its arguments and what each plugin's implementation did.

    ``only`` restricts a lifecycle call to one plugin; ``chained`` carries the output of the
    previous plugin of a chained hook (preprocess, postprocess).
    """

    __slots__ = ("chained", "hook", "invocations", "kwargs", "only")

    def __init__(self, hook: str, kwargs: Mapping[str, Any], only: str | None = None) -> None:
        self.hook = hook
        self.kwargs = kwargs
        self.only = only
        self.chained: Any = _UNSET
        self.invocations: list[Invocation] = []

    def __repr__(self) -> str:
        return f"CallFrame({self.hook!r}, only={self.only!r}, invocations={self.invocations!r})"

    @property
    def answered_by(self) -> str | None:
        """The plugin whose answer (the last non-``None`` one) is the call's result."""
        for inv in reversed(self.invocations):
            if inv.error is None and inv.result is not None:
                return inv.plugin
        return None

    def answers(self) -> list[tuple[str, Any]]:
        """``(plugin, answer)`` of every plugin that answered, in call order."""
        return [
            (i.plugin, i.result)
            for i in self.invocations
            if i.error is None and i.result is not None
        ]

    def failures(self) -> list[Invocation]:
        return [i for i in self.invocations if i.error is not None]


@attrs.define
class HookStats:
    """Calls, errors and cumulative seconds of one hook of one plugin; for a plugin running
    in a worker process (isolation), also the CPU seconds its worker spent on the hook and
    the largest peak resident memory of a call, in bytes (``None`` in-process)."""

    plugin: str
    hook: str
    calls: int = 0
    errors: int = 0
    seconds: float = 0.0
    cpu_seconds: float | None = None
    peak_memory: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class HookMonitor:
    """Opens a :class:`CallFrame` per hook call and accumulates :class:`HookStats`."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._stats: dict[tuple[str, str], HookStats] = {}
        self._local = threading.local()  # frames per thread: hooks run in several
        self._lock = threading.Lock()
        self._hook = pm.hook
        self.undo = pm.add_hookcall_monitoring(self._before, self._after)

    # --- frames ----------------------------------------------------------------------------------

    def _stack(self) -> list[CallFrame]:
        stack: list[CallFrame] | None = getattr(self._local, "stack", None)
        if stack is None:
            stack = self._local.stack = []
        return stack

    def current(self) -> CallFrame | None:
        """The innermost hook call running on this thread."""
        stack = self._stack()
        return stack[-1] if stack else None

    def last(self) -> CallFrame | None:
        """The hook call that finished last on this thread."""
        frame: CallFrame | None = getattr(self._local, "last", None)
        return frame

    def nothing_ran(self, hook: str) -> None:
        """Record a call of ``hook`` that no plugin implements (so not dispatched) as the last
        one on this thread: no answer, no failure."""
        self._local.only = None
        self._local.last = CallFrame(hook, {})

    def release(self) -> None:
        """Drop the answers the last hook call on this thread keeps (who answered and who
        raised stay): once its caller has them, the monitor must not keep them alive until the
        next hook call — a detection result, its model and the model's copy of the data."""
        frame: CallFrame | None = getattr(self._local, "last", None)
        if frame is not None:
            for inv in frame.invocations:
                inv.result = None

    def only(self, plugin: str | None) -> None:
        """Restrict the next hook call on this thread to ``plugin`` (lifecycle hooks)."""
        self._local.only = plugin

    def _before(
        self, hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]
    ) -> None:
        only = getattr(self._local, "only", None)
        self._local.only = None  # hooks called from within this one are not restricted
        self._stack().append(CallFrame(hook_name, kwargs, only))

    def _after(
        self,
        outcome: pluggy.Result[Any],
        hook_name: str,
        impls: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, Any],
    ) -> None:
        frame = self._stack().pop()
        frame.kwargs = {}  # the arguments (the caller's data) are not needed after the call
        self._local.last = frame
        if not frame.invocations:
            return
        spec = getattr(self._hook, hook_name).spec
        first = spec is not None and spec.opts.get("firstresult", False)
        counted = [
            i for i in frame.invocations if not first or i.error is not None or i.result is not None
        ]
        with self._lock:
            for inv in counted:
                stats = self._stats.get((inv.plugin, hook_name))
                if stats is None:
                    stats = self._stats[inv.plugin, hook_name] = HookStats(inv.plugin, hook_name)
                stats.calls += 1
                stats.errors += inv.error is not None
                stats.seconds += inv.seconds

    # --- statistics -------------------------------------------------------------------------------

    def add_usage(self, plugin: str, hook: str, cpu_seconds: float, peak_memory: int) -> None:
        """Count what an isolated plugin's worker spent on one call of ``hook``."""
        with self._lock:
            stats = self._stats.get((plugin, hook))
            if stats is None:
                stats = self._stats[plugin, hook] = HookStats(plugin, hook)
            stats.cpu_seconds = (stats.cpu_seconds or 0.0) + cpu_seconds
            stats.peak_memory = max(stats.peak_memory or 0, peak_memory)

    def stats(self) -> list[HookStats]:
        with self._lock:
            return sorted(
                (attrs.evolve(s) for s in self._stats.values()), key=lambda s: (s.plugin, s.hook)
            )
