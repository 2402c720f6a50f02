"""Generate a new plugin package: ``pynomaly plugin new NAME --type TYPE``.

:func:`create_plugin` writes a pip-installable package ``pynomaly-NAME/`` whose module
``pynomaly_NAME`` holds a working minimal plugin of the chosen type, registered through the
``pynomaly.plugins`` entry point, with a README and tests that use :mod:`pynomaly.testing`.

The files are rendered from the template tree ``templates/`` of this package (package data):

* ``templates/TYPE/`` holds the files of one plugin type, ``templates/_shared/`` the files of
  every type; a type's file replaces the shared file of the same path (and may extend it:
  ``{% extends "_shared/README.md.j2" %}``);
* a path's ``{{name}}`` is the plugin name (``pynomaly_{{name}}/__init__.py.j2``);
* a ``.j2`` file is a jinja2 template, written without its suffix; any other file is copied
  as it is.

The templates see ``name``, ``type``, ``type_label`` and ``description``. Only the standard
library is imported at module level, and jinja2 when rendering, so that ``pynomaly --help``
stays fast.
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

TEMPLATES = Path(__file__).with_name("templates")
SHARED = "_shared"
NAME_IN_PATH = "{{name}}"

# how the README names each type, and the one-line description of the generated plugin
_TYPE_LABELS = {
    "algorithm": "detector (algorithm)",
    "data_source": "data source",
    "output": "output",
    "processing": "processing",
}
_DESCRIPTIONS = {
    "algorithm": "a robust z-score detector (median / MAD)",
    "data_source": "reads ARFF files, the format of many outlier-detection benchmarks",
    "output": "detection results as Markdown tables",
    "processing": "a step that clips glitches to bounds learnt from the training data",
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
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # Python, TOML and Markdown: nothing to escape
    )
    context = {
        "name": name,
        "type": plugin_type,
        "type_label": _TYPE_LABELS[plugin_type],
        "description": _DESCRIPTIONS[plugin_type],
    }
    files = {}
    for relative, template in _template_files(plugin_type).items():
        path = relative.replace(NAME_IN_PATH, name)
        if path.endswith(".j2"):
            files[path.removesuffix(".j2")] = env.get_template(template).render(context)
        else:
            files[path] = (TEMPLATES / template).read_text(encoding="utf-8")
    return dict(sorted(files.items()))


def _template_files(plugin_type: str) -> dict[str, str]:
    """``{path in the package: template path}``: the shared files, replaced by the type's."""
    files: dict[str, str] = {}
    for kind in (SHARED, plugin_type):
        for path in (TEMPLATES / kind).rglob("*"):
            relative = path.relative_to(TEMPLATES / kind).as_posix()
            if path.is_file() and not any(p.startswith(".") for p in relative.split("/")):
                files[relative] = f"{kind}/{relative}"  # editors' hidden files left out
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
