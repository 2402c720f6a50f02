"""Hook markers: ``hookspec`` marks the specifications, ``hookimpl`` the implementations.

Plugin authors import :data:`pynomaly.hookimpl`; this module stays tiny so that importing it
from a plugin module costs nothing but pluggy.
"""

from __future__ import annotations

import pluggy

PROJECT_NAME = "pynomaly"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

__all__ = ["PROJECT_NAME", "hookimpl", "hookspec"]
