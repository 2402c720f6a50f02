"""Saving and loading fitted models: ``model.save(path)`` and ``pynomaly.load(path)``.

A model file is a versioned envelope, written atomically::

    PYNOMALY-MODEL 2\\n
    {"pynomaly": "1.1.0", "detector": "pyod:ecod", "plugin": "pyod_adapter",
     "plugin_version": "1.1.0", "libraries": {"pyod": "3.6.7", ...},
     "payload": {"format": "pickle", "bytes": 12345, "sha256": "..."}}\\n
    <payload>

The header is read — and the payload's length and digest checked — before anything is
unpickled, so a truncated or corrupted file is refused with a one-line error; loading warns
when the pynomaly, plugin or library versions differ from those recorded. The payload is a
pickle: load only files you trust, as with any pickle (scikit-learn and PyOD models are saved
the same way).
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynomaly._version import __version__
from pynomaly.builtin.atomic import atomic_write
from pynomaly.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.detection.results import Model
    from pynomaly.plugin.manager import PluginManager

MAGIC = b"PYNOMALY-MODEL"
FORMAT_VERSION = 2
_LEGACY = "pynomaly-model"  # pynomaly 1.0: a pickled {"format": _LEGACY, "model": ...}


class VersionMismatchWarning(UserWarning):
    """A model file was written with other pynomaly, plugin or library versions."""


def save_model(
    model: Model,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    manager: PluginManager | None = None,
) -> None:
    """Write ``model`` to ``path`` atomically; an existing file is kept unless ``overwrite``."""
    payload = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    header = {
        "pynomaly": __version__,
        "detector": model.detector,
        **_versions(model.plugin, manager),
        "payload": {
            "format": "pickle",
            "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        },
    }
    head = MAGIC + b" %d\n" % FORMAT_VERSION + json.dumps(header).encode() + b"\n"
    atomic_write(path, lambda tmp: tmp.write_bytes(head + payload), overwrite=overwrite)


def load_model(path: str | os.PathLike[str], *, manager: PluginManager | None = None) -> Model:
    """Read a model written by :func:`save_model` (or by pynomaly 1.0); a one-line
    :class:`InputError` for anything else, a :class:`VersionMismatchWarning` when the versions
    recorded differ from the ones installed."""
    where = Path(path)
    try:
        data = where.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: cannot read model: {exc.strerror}") from None
    if data.startswith(MAGIC):
        header, payload = _envelope(where, data)
        _warn_on_versions(where, header, manager)
    else:
        header, payload = {}, data  # pynomaly 1.0 wrote a bare pickle
        if data.startswith(b"\x80"):
            warnings.warn(
                f"{where}: saved by pynomaly 1.0, which recorded no versions; if scoring fails, "
                "fit the model again with this pynomaly",
                VersionMismatchWarning,
                stacklevel=2,
            )
    try:
        obj = pickle.loads(payload)
    except Exception as exc:  # unpickling can raise almost anything on a foreign file
        raise InputError(f"{where}: not a pynomaly model file ({type(exc).__name__})") from None
    if not header and isinstance(obj, dict) and obj.get("format") == _LEGACY:
        obj = obj.get("model")
    from pynomaly.detection.results import Model

    if not isinstance(obj, Model):
        raise InputError(f"{where}: not a pynomaly model file")
    return obj


def _envelope(where: Path, data: bytes) -> tuple[dict[str, Any], bytes]:
    """The header and the checked payload of a version-2 file."""
    first, _, rest = data.partition(b"\n")
    second, _, payload = rest.partition(b"\n")
    try:
        version = int(first[len(MAGIC) :].strip())
        header = json.loads(second)
        expected = header["payload"]
        size, digest = int(expected["bytes"]), str(expected["sha256"])
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{where}: damaged model file (unreadable header)") from None
    if version != FORMAT_VERSION:
        raise InputError(
            f"{where}: model file format {version}; this pynomaly {__version__} reads format "
            f"{FORMAT_VERSION} (upgrade pynomaly)"
        )
    if len(payload) != size:
        raise InputError(f"{where}: truncated model file ({len(payload)} of {size} bytes)")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise InputError(f"{where}: damaged model file (its SHA-256 digest does not match)")
    return header, payload


def _versions(plugin: str, manager: PluginManager | None) -> dict[str, Any]:
    """The plugin's version and the versions of the libraries it depends on."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import InvalidRequirement, Requirement

    from pynomaly.detection.prepare import default_manager

    pm = manager or default_manager()
    try:
        meta = pm.record(plugin).metadata
    except InputError:
        meta = None
    libraries: dict[str, str] = {}
    for spec in ("numpy", *(meta.dependencies if meta else ())):
        try:
            name = Requirement(spec).name
            libraries[name] = version(name)
        except (InvalidRequirement, PackageNotFoundError):
            continue
    return {
        "plugin": plugin,
        "plugin_version": meta.version if meta else None,
        "libraries": libraries,
    }


def _warn_on_versions(
    where: Path, header: dict[str, Any], manager: PluginManager | None
) -> None:
    now = {"pynomaly": __version__, **_versions(str(header.get("plugin")), manager)}
    then = {"pynomaly": header.get("pynomaly"), "plugin_version": header.get("plugin_version")}
    differ = []
    if then["pynomaly"] != now["pynomaly"]:
        differ.append(f"pynomaly {then['pynomaly']} (now {now['pynomaly']})")
    if then["plugin_version"] != now["plugin_version"]:
        installed = now["plugin_version"] or "not installed"
        differ.append(f"plugin {header.get('plugin')} {then['plugin_version']} (now {installed})")
    for name, recorded in (header.get("libraries") or {}).items():
        installed = now["libraries"].get(name)
        if installed != recorded:
            differ.append(f"{name} {recorded} (now {installed or 'not installed'})")
    if differ:
        warnings.warn(
            f"{where}: saved with {', '.join(differ)}; scores may differ",
            VersionMismatchWarning,
            stacklevel=3,
        )
