"""What the manager knows about each plugin it has seen, whether it loaded or not."""

from __future__ import annotations

import enum

import attrs

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
