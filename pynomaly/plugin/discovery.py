"""Finding plugins without importing them: built-ins, entry points and a local directory.

A :class:`Candidate` only knows how to import its plugin; the manager decides whether to. The
local directory is only the one the settings name (opt-in, see
:mod:`pynomaly.plugin.settings`): the current directory is never searched.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from pathlib import Path

import attrs

ENTRY_POINT_GROUP = "pynomaly.plugins"

# Built-in plugins ship inside pynomaly and go through the same hooks as any other plugin.
BUILTIN_PLUGINS: dict[str, str] = {
    "files": "pynomaly.builtin.files",
    "samples": "pynomaly.builtin.samples",
    "steps": "pynomaly.builtin.steps",
    "validation": "pynomaly.builtin.validation",
    "outputs": "pynomaly.builtin.outputs",
    "report": "pynomaly.builtin.report",
    "webhook": "pynomaly.builtin.webhook",
    "sql": "pynomaly.builtin.sql",
    "pythresh": "pynomaly.builtin.pythresh",
    "ensemble": "pynomaly.builtin.ensemble",
}


@attrs.frozen
class Candidate:
    """A plugin that can be imported: its name, where it comes from and how to import it.

    ``target`` says what to import in another process (an isolated plugin's worker): the
    module of a built-in, the entry point's ``module:attr`` value, the local file's path.
    ``first_party`` marks the plugins shipped with pynomaly (built-ins and the adapters).
    """

    name: str
    origin: str
    kind: str  # "builtin" | "entrypoint" | "local" | "manual"
    load: Callable[[], object] = attrs.field(repr=False, eq=False)
    dist_version: str | None = None
    target: str = ""
    first_party: bool = False


def builtin_candidates() -> Iterator[Candidate]:
    for name, module in BUILTIN_PLUGINS.items():
        yield Candidate(
            name, "builtin", "builtin", _importer(module), target=module, first_party=True
        )


def entry_point_candidates() -> Iterator[Candidate]:
    seen: set[str] = set()
    # sorted: the same plugins load in the same order whatever the order of sys.path
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name):
        if ep.name in seen:  # the same distribution found twice on sys.path
            continue
        seen.add(ep.name)
        dist = ep.dist
        origin = f"{dist.name} {dist.version}" if dist is not None else ep.value
        yield Candidate(
            ep.name,
            origin,
            "entrypoint",
            ep.load,
            dist.version if dist is not None else None,
            target=ep.value,
            first_party=dist is not None and dist.name.lower() == "pynomaly",
        )


def local_candidates(directory: Path | None) -> Iterator[Candidate]:
    """The ``*.py`` files (not starting with ``_``) of ``directory``; none when it is
    ``None`` (no directory named) or is not a directory."""
    if directory is None or not directory.is_dir():
        return
    for path in sorted(directory.glob("*.py")):
        if not path.name.startswith("_"):
            yield Candidate(
                path.stem, f"local {path}", "local", _file_importer(path), target=str(path)
            )


def _importer(module: str) -> Callable[[], object]:
    return lambda: importlib.import_module(module)


LOCAL_PACKAGE = "pynomaly_local_plugins"


def _local_package(directory: Path) -> None:
    """Make the plugins directory the package ``pynomaly_local_plugins``, so that objects
    defined in local plugins (processing steps kept in a saved model) can be unpickled."""
    import types

    package = sys.modules.get(LOCAL_PACKAGE)
    if package is None:
        package = types.ModuleType(LOCAL_PACKAGE, "plugins from the local plugins directory")
        package.__path__ = []
        sys.modules[LOCAL_PACKAGE] = package
    if str(directory) not in package.__path__:
        package.__path__.append(str(directory))


def _file_importer(path: Path) -> Callable[[], object]:
    def load() -> object:
        import importlib.util

        _local_package(path.parent)
        module_name = f"{LOCAL_PACKAGE}.{path.stem}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module  # so that pickled models can find their classes
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[module_name]
            raise
        return module

    return load
