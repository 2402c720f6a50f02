"""A plugin manager described for another process and built again there.

Scoring workers (``jobs``, :mod:`pynomaly.detection.parallel`) and Dask workers
(:mod:`pynomaly.detection.partitioned`) need a manager like the caller's: the same settings
and plugin configuration, the plugins registered by hand (importable modules by name, other
objects pickled), and the plugins that did not load in the caller disabled, so that a worker
neither retries a broken plugin nor loads one the caller left out. Kept free of pandas: a
scoring worker imports it at start-up.
"""

from __future__ import annotations

import importlib
import pickle
import types
from typing import TYPE_CHECKING

import attrs

from pynomaly._log import get_logger
from pynomaly.plugin.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.manager import PluginManager

log = get_logger("pynomaly.replica")


@attrs.frozen
class ManagerSpec:
    """What another process needs to build a manager like the caller's."""

    settings: Settings
    #: (plugin name, importable module) of the plugins registered by hand as modules
    modules: tuple[tuple[str, str], ...] = ()
    #: (plugin name, pickle) of the other plugins registered by hand
    objects: tuple[tuple[str, bytes], ...] = attrs.field(default=(), repr=False)
    #: plugins registered by hand that cannot travel (neither importable nor picklable)
    left_out: frozenset[str] = frozenset()

    def build(self) -> PluginManager:
        """The manager, with every plugin loaded."""
        from pynomaly.plugin.manager import PluginManager

        pm = PluginManager(settings=self.settings)
        for name, module in self.modules:
            pm.register(importlib.import_module(module), name=name)
        for name, blob in self.objects:
            pm.register(pickle.loads(blob), name=name)
        pm.load_all()
        return pm


def describe(pm: PluginManager) -> ManagerSpec:
    """``pm`` described for another process (its plugins are loaded first)."""
    from pynomaly.plugin.records import PluginStatus

    pm.load_all()
    modules: list[tuple[str, str]] = []
    objects: list[tuple[str, bytes]] = []
    left_out: set[str] = set()
    unloaded: set[str] = set()
    for record in pm.records():
        if record.status is not PluginStatus.LOADED:
            unloaded.add(record.name)
            continue
        if record.origin != "registered":
            continue
        plugin = record.plugin
        if isinstance(plugin, types.ModuleType) and _importable(plugin):
            modules.append((record.name, plugin.__name__))
            continue
        try:
            objects.append((record.name, pickle.dumps(plugin)))
        except Exception:  # a plugin object that cannot travel stays in this process
            log.debug("plugin %s cannot be sent to another process", record.name)
            left_out.add(record.name)
    settings = pm.settings
    plugins_dir = settings.plugins_dir
    if plugins_dir is not None and not plugins_dir.is_absolute():
        plugins_dir = plugins_dir.absolute()  # workers may run in another directory
    configs = {name: pm.config_of(name) for name in pm.loaded()}
    settings = attrs.evolve(
        settings,
        plugins_dir=plugins_dir,
        config={**settings.config, **configs},
        disable=settings.disable | unloaded,
    )
    return ManagerSpec(settings, tuple(modules), tuple(objects), frozenset(left_out))


def _importable(module: types.ModuleType) -> bool:
    spec = getattr(module, "__spec__", None)
    return spec is not None and spec.origin is not None and module.__name__ != "__main__"
