"""Generate a new plugin package: ``pynomaly plugin new NAME --type TYPE``.

:func:`create_plugin` writes a pip-installable package ``pynomaly-NAME/`` whose module
``pynomaly_NAME`` holds a working minimal plugin of the chosen type, registered through the
``pynomaly.plugins`` entry point, with a README and tests that use :mod:`pynomaly.testing`.

Only the standard library is imported here, so that ``pynomaly --help`` stays fast.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from pynomaly.errors import InputError

__all__ = ["PLUGIN_TYPES", "Scaffold", "check_name", "create_plugin", "render", "reserved_names"]

PLUGIN_TYPES = ("algorithm", "data_source", "output", "processing")

NAME_PATTERN = re.compile(r"[a-z][a-z0-9_]*\Z")
MAX_NAME_LENGTH = 32

# plugin names that ship with pynomaly besides its built-ins (pynomaly.plugin.discovery): an
# installed plugin with one of these names would be refused ("name already used by ...")
ADAPTER_NAMES = frozenset({"sklearn_adapter", "pyod_adapter"})

_TYPE_LABELS = {
    "algorithm": "detector (algorithm)",
    "data_source": "data source",
    "output": "output",
    "processing": "processing",
}


@dataclass
class Scaffold:
    """What :func:`create_plugin` wrote: the package directory and its files."""

    name: str
    plugin_type: str
    root: Path
    files: list[Path] = field(default_factory=list)


def check_name(name: str) -> None:
    """Raise :class:`InputError` unless ``name`` can name a plugin, a module and a package."""
    if not NAME_PATTERN.match(name):
        raise InputError(
            f"plugin name {name!r}: use lowercase letters, digits and underscores, "
            "starting with a letter (e.g. robustz or my_detector)"
        )
    if len(name) > MAX_NAME_LENGTH:
        raise InputError(f"plugin name {name!r}: at most {MAX_NAME_LENGTH} characters")
    if name in reserved_names():
        raise InputError(f"plugin name {name!r}: taken by a plugin that ships with pynomaly")


def reserved_names() -> frozenset[str]:
    """The names of the plugins that ship with pynomaly (built-ins and adapters)."""
    from pynomaly.plugin.discovery import BUILTIN_PLUGINS

    return frozenset(BUILTIN_PLUGINS) | ADAPTER_NAMES


def _check_type(plugin_type: str) -> None:
    if plugin_type not in PLUGIN_TYPES:
        raise InputError(f"plugin type {plugin_type!r}: expected one of {', '.join(PLUGIN_TYPES)}")


def render(name: str, plugin_type: str = "algorithm") -> dict[str, str]:
    """The files of the package, ``{relative path: text}``, without writing anything."""
    check_name(name)
    _check_type(plugin_type)
    from pynomaly.scaffold import templates

    kind = templates.TYPES[plugin_type]
    fill = {
        "{{usage}}": kind["usage"],
        "{{description}}": kind["description"],
        "{{type_label}}": _TYPE_LABELS[plugin_type],
        "{{type}}": plugin_type,
        "{{package_data}}": kind.get("package_data", ""),
        "{{layout}}": kind.get("layout", ""),
    }

    def subst(text: str) -> str:
        for key, value in fill.items():
            text = text.replace(key, value)
        return text.replace("{{name}}", name)

    files = {
        "pyproject.toml": subst(templates.PYPROJECT),
        "README.md": subst(templates.README),
        f"pynomaly_{name}/__init__.py": subst(kind["module"]),
        f"tests/test_{name}.py": subst(kind["tests"]),
    }
    if "sample" in kind:  # a data file the plugin ships, for its tests and the kit's checks
        files[f"pynomaly_{name}/{templates.SAMPLE_NAMES[plugin_type]}"] = subst(kind["sample"])
    return files


def create_plugin(
    name: str,
    plugin_type: str = "algorithm",
    directory: str | os.PathLike[str] = ".",
    *,
    force: bool = False,
) -> Scaffold:
    """Write the package ``DIRECTORY/pynomaly-NAME/`` and return what was written.

    An existing ``pynomaly-NAME`` is an :class:`InputError` unless ``force``, which overwrites
    the generated files (and leaves any other file of the directory alone).
    """
    files = render(name, plugin_type)
    parent = Path(directory)
    if not parent.is_dir():
        raise InputError(f"--directory {parent}: no such directory")
    root = parent / f"pynomaly-{name}"
    if root.exists() and not root.is_dir():
        raise InputError(f"{root}: exists and is not a directory")
    if root.exists() and not force:
        raise InputError(f"{root}: already exists (use --force to overwrite its files)")
    done = Scaffold(name, plugin_type, root)
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        done.files.append(path)
    return done
