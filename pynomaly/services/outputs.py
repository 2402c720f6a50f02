"""Outputs: the formats plugins offer, rendering, exporting and notifications."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pynomaly.errors import InputError
from pynomaly.services import listed
from pynomaly.types import OutputInfo

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.detection.results import DetectionResult
    from pynomaly.plugin.manager import PluginManager


def outputs(pm: PluginManager) -> list[OutputInfo]:
    """Every output format of every loaded plugin, with the plugin's name filled in."""
    return listed(pm, "pynomaly_outputs")


def format_for(pm: PluginManager, destination: str) -> str | None:
    """The format whose declared extension ``destination`` ends with, from any plugin's
    :func:`~pynomaly.hookspecs.pynomaly_outputs` (the longest matching extension wins)."""
    name = destination.lower()
    matches = [
        (len(ext), o.name) for o in outputs(pm) for ext in o.extensions if name.endswith(ext)
    ]
    return max(matches)[1] if matches else None


def format_output(
    pm: PluginManager,
    result: DetectionResult,
    fmt: str,
    options: Mapping[str, Any] | None = None,
) -> str:
    """``result`` rendered as text by the plugin that knows ``fmt``."""
    text = pm.call("pynomaly_format_output", result=result, fmt=fmt, options=dict(options or {}))
    if text is None:
        raise InputError(f"unknown output format {fmt!r} ({_format_names(pm)})")
    return str(text)


def export_data(
    pm: PluginManager,
    result: DetectionResult,
    destination: str,
    fmt: str,
    options: Mapping[str, Any] | None = None,
) -> None:
    """Write ``result`` to ``destination`` through the plugin that knows ``fmt``."""
    done = pm.call(
        "pynomaly_export_data",
        result=result,
        destination=destination,
        fmt=fmt,
        options=dict(options or {}),
    )
    if not done:
        raise InputError(f"{destination}: unknown output format {fmt!r} ({_format_names(pm)})")


def send_notification(
    pm: PluginManager,
    message: str,
    result: DetectionResult | None = None,
    options: Mapping[str, Any] | None = None,
) -> list[tuple[str, str]]:
    """Notify through every plugin; returns ``(plugin, error)`` for those that failed."""
    pm.call(
        "pynomaly_send_notification", message=message, result=result, options=dict(options or {})
    )
    return pm.failures()


def _format_names(pm: PluginManager) -> str:
    names = sorted({o.name for o in outputs(pm)})
    return "known: " + ", ".join(names) if names else "no output plugins loaded"
