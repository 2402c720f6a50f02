"""What the manager knows about each plugin it has seen, whether it loaded or not."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Mapping
from typing import Any

import attrs

from pynomaly import hookspecs
from pynomaly.errors import PynomalyError
from pynomaly.types import PluginMetadata


class PluginStatus(str, enum.Enum):
    """Where a plugin is in its lifecycle."""

    DISCOVERED = "discovered"  # registered, metadata accepted, not initialized yet
    LOADED = "loaded"  # initialized; its hooks are called
    DISABLED = "disabled"  # excluded by settings; its module was never imported
    FAILED = "failed"  # import, metadata, compatibility or initialize failed (see reason)
    UNLOADED = "unloaded"  # cleaned up and unregistered


@attrs.define
class PluginRecord:
    """One plugin as the manager sees it; ``reason`` explains a disabled or failed status."""

    name: str
    origin: str
    status: PluginStatus
    reason: str = ""
    metadata: PluginMetadata | None = None
    plugin: object | None = attrs.field(default=None, repr=False, eq=False)
    traceback: str = attrs.field(default="", repr=False, eq=False)  # of a failure, for --debug

    def to_dict(self) -> dict[str, object]:
        meta = self.metadata
        return {
            "name": self.name,
            "version": meta.version if meta else None,
            "types": sorted(t.value for t in meta.plugin_types) if meta else [],
            "status": self.status.value,
            "reason": self.reason,
            "origin": self.origin,
            "description": meta.description if meta else "",
        }


def metadata_from(
    answer: Any, name: str, plugin: object, dist_version: str | None, implemented: set[str]
) -> PluginMetadata:
    """A plugin's metadata from its ``pynomaly_plugin_metadata`` answer (a PluginMetadata or
    a mapping of its fields); without one, derived: version from the distribution, types from
    the hooks implemented, description from the docstring."""
    if answer is None:
        return PluginMetadata(
            name=name,
            version=dist_version or str(getattr(plugin, "__version__", "0")),
            plugin_types={t for h, t in hookspecs.PLUGIN_TYPES.items() if h in implemented},
            description=(inspect.getdoc(plugin) or "").split("\n", 1)[0],
        )
    if isinstance(answer, Mapping):
        answer = PluginMetadata(**answer)
    if not isinstance(answer, PluginMetadata):
        raise PynomalyError(
            f"pynomaly_plugin_metadata returned {type(answer).__name__}, not PluginMetadata"
        )
    return answer


def checked_health(answer: Mapping[str, Any] | None) -> dict[str, Any]:
    """A ``pynomaly_health_check`` answer as ``{"status": "healthy" | "unhealthy", ...}``
    (no answer: healthy; any other status: unhealthy, saying why)."""
    if answer is None:
        return {"status": "healthy"}
    result = dict(answer)
    if result.get("status") not in ("healthy", "unhealthy"):
        return {
            "status": "unhealthy",
            "reason": f"health_check returned status {result.get('status')!r}; "
            "expected 'healthy' or 'unhealthy'",
        }
    return result
