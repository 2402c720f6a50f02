"""Per-plugin hook statistics, collected through pluggy's hook-call monitoring.

pynomaly calls every hook on one plugin at a time, so each monitored call belongs to exactly
one plugin and the numbers are exact.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import pluggy


@attrs.define
class HookStats:
    """Calls, errors and cumulative seconds of one hook of one plugin."""

    plugin: str
    hook: str
    calls: int = 0
    errors: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


class HookMonitor:
    """Installs itself on a pluggy manager and accumulates :class:`HookStats`."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._stats: dict[tuple[str, str], HookStats] = {}
        self._local = threading.local()  # start times, per thread: hooks run in several
        self._lock = threading.Lock()
        self.undo = pm.add_hookcall_monitoring(self._before, self._after)

    def _before(
        self, hook_name: str, impls: Sequence[pluggy.HookImpl], kwargs: Mapping[str, Any]
    ) -> None:
        starts = getattr(self._local, "starts", None)
        if starts is None:
            starts = self._local.starts = []
        starts.append(time.perf_counter())

    def _after(
        self,
        outcome: pluggy.Result[Any],
        hook_name: str,
        impls: Sequence[pluggy.HookImpl],
        kwargs: Mapping[str, Any],
    ) -> None:
        elapsed = time.perf_counter() - self._local.starts.pop()
        failed = outcome.exception is not None
        with self._lock:
            self._record(hook_name, impls, elapsed, failed)

    def _record(
        self, hook_name: str, impls: Sequence[pluggy.HookImpl], elapsed: float, failed: bool
    ) -> None:
        for impl in impls:
            key = (impl.plugin_name, hook_name)
            stats = self._stats.get(key)
            if stats is None:
                stats = self._stats[key] = HookStats(impl.plugin_name, hook_name)
            stats.calls += 1
            stats.errors += failed
            stats.seconds += elapsed

    def stats(self) -> list[HookStats]:
        return sorted(self._stats.values(), key=lambda s: (s.plugin, s.hook))
