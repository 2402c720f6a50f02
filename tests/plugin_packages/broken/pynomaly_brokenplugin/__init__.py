"""A plugin whose import fails, as a plugin with a missing dependency would."""

raise RuntimeError("brokenplugin cannot start: its backend is missing")
