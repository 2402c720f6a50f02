"""Outputs: the formats plugins offer, rendering, exporting and notifications."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pynomaly.errors import InputError, PluginError
from pynomaly.services import listed
from pynomaly.types import OutputInfo

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.detection.results import DetectionResult
    from pynomaly.plugin.manager import PluginManager
    from pynomaly.types import OutputWriter


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


def open_output(
    pm: PluginManager,
    destination: str,
    fmt: str,
    options: Mapping[str, Any] | None = None,
) -> OutputWriter | None:
    """A writer that appends batches to ``destination`` in format ``fmt``, from the plugin that
    streams ``fmt`` (:func:`~pynomaly.hookspecs.pynomaly_open_output`); ``None`` if no plugin
    does (then write the whole result with :func:`export_data`). An error the writer raises
    later names its plugin, as a hook's error does."""
    plugin, writer = pm.answer(
        "pynomaly_open_output", destination=destination, fmt=fmt, options=dict(options or {})
    )
    return None if writer is None else _NamedWriter(plugin or "?", writer)


class _NamedWriter:
    """A plugin's :class:`~pynomaly.types.OutputWriter` whose failures become
    :class:`PluginError` naming the plugin (an :class:`InputError` passes on)."""

    __slots__ = ("_plugin", "_writer")

    def __init__(self, plugin: str, writer: OutputWriter) -> None:
        self._plugin = plugin
        self._writer = writer

    def write(self, result: DetectionResult) -> None:
        self._guarded("write", self._writer.write, result)

    def close(self, result: Any) -> None:
        self._guarded("close", self._writer.close, result)

    def abort(self) -> None:
        self._guarded("abort", self._writer.abort)

    def _guarded(self, method: str, func: Any, *args: Any) -> None:
        try:
            func(*args)
        except (InputError, PluginError):
            raise
        except Exception as exc:
            from pynomaly.plugin.calls import describe

            hook = f"pynomaly_open_output (its writer's {method})"
            raise PluginError(self._plugin, hook, describe(exc)) from exc


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
