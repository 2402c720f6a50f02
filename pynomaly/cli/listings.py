"""What the listing commands show, as JSON-like rows: computed from a plugin manager (which
discovers and imports the plugins), or read from the plugin-metadata cache
(:mod:`pynomaly.plugin.metacache`), which stores exactly these rows.

The rows are the same whichever way they come: ``Context.cached_listing`` passes computed
rows through JSON before printing them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.manager import PluginManager

Rows = list[dict[str, Any]]


def plugin_rows(pm: PluginManager) -> Rows:
    """Every plugin's record (discovered, imported, initialized), with its traceback."""
    return [{**r.to_dict(), "traceback": r.traceback} for r in pm.load_all()]


def detector_rows(pm: PluginManager) -> Rows:
    """Every detector as ``{"data": its to_dict(), "params": its parameter names}``."""
    from pynomaly.services.detectors import detectors

    return [{"data": d.to_dict(), "params": list(d.params)} for d in detectors(pm)]


def source_rows(pm: PluginManager) -> Rows:
    """Every data source: name, plugin, description, URI schemes, file extensions."""
    from pynomaly.services.data import data_sources

    return [
        {
            "name": i.name,
            "plugin": i.plugin,
            "description": i.description,
            "schemes": list(i.schemes),
            "extensions": list(i.extensions),
        }
        for i in data_sources(pm)
    ]


def step_rows(pm: PluginManager) -> Rows:
    """Every processing step: name, plugin, description, options (as ``ParamSpec.to_dict``)."""
    from pynomaly.services.processing import processing_steps

    return [
        {
            "name": i.name,
            "plugin": i.plugin,
            "description": i.description,
            "options": {k: v.to_dict() for k, v in i.options.items()},
        }
        for i in processing_steps(pm)
    ]
