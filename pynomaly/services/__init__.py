"""What pynomaly does with its plugins' answers, one module per plugin kind.

The :class:`~pynomaly.PluginManager` keeps the registry and calls hooks; these modules sit above
it and turn hook calls into detection: :mod:`~pynomaly.services.detectors` (detector index,
parameters, fit and score framed by their events, explanations), :mod:`~pynomaly.services.data`
(connections, reading, writing), :mod:`~pynomaly.services.processing` (preprocess, validate,
steps, postprocess) and :mod:`~pynomaly.services.outputs` (formats, exports, notifications).
Every function takes the manager first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.manager import PluginManager


def listed(pm: PluginManager, hook: str) -> list[Any]:
    """The items every plugin lists in a collecting hook (sources, steps, outputs), each
    with the name of the plugin that listed it."""
    import attrs

    return [
        attrs.evolve(info, plugin=plugin) for plugin, infos in pm.collect(hook) for info in infos
    ]
