"""Saving and loading fitted models: ``model.save(path)`` and ``pynomaly.load(path)``.

A model file is a versioned, signed envelope, written atomically::

    PYNOMALY-MODEL 3\n
    {"pynomaly": "1.1.0", "detector": "pyod:ecod", "plugin": "pyod_adapter",
     "plugin_version": "1.1.0", "libraries": {"pyod": "3.6.7", ...},
     "payload": {"format": "skops", "bytes": 12345, "sha256": "..."}}\n
    {"alg": "hmac-sha256", "key": "<key id>", "mac": "..."}\n
    <payload>

The signature line is the HMAC-SHA256, under the user's own key
(:mod:`pynomaly.detection.signing`), of the two lines before it and the payload. Loading checks,
before anything in the payload is decoded, that

1. the header is readable and the payload has the recorded length and SHA-256 digest — a
   truncated or damaged file is always refused;
2. the signature was made with this user's key — a file that is unsigned (pynomaly 1.0's bare
   pickles, or a file saved by 1.1 pre-releases), signed with another key or altered after
   signing is refused unless the caller trusts it (``pynomaly.load(path, trusted=True)``,
   ``pynomaly score --trust``), and one altered after being signed with this very key is
   always refused.

The payload is a pickle by default. With ``format="skops"`` (``model.save(path,
format="skops")``, ``PYNOMALY_MODEL_FORMAT=skops``; ``pip install "pynomaly[skops]"``) it is
written with `skops <https://skops.readthedocs.io>`_, for a model every type of which pynomaly
knows to be data (scikit-learn and PyOD estimators, numpy, pynomaly's own model, threshold and
processing-step classes, the adapters' fitted states): decoding such a payload constructs only
those types and never runs code from the file — even a trusted file from another machine.
It is not the default because it is not cheap: importing skops imports every scikit-learn
estimator, which made ``pynomaly score`` of an ECOD model take 3.6 times the CPU time (see
docs/security.md). Loading warns when the pynomaly, plugin or library versions differ from
those recorded.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from pynomaly import audit
from pynomaly._version import __version__
from pynomaly.builtin.atomic import atomic_write
from pynomaly.detection import signing
from pynomaly.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.detection.results import Model
    from pynomaly.plugin.manager import PluginManager

MAGIC = b"PYNOMALY-MODEL"
FORMAT_VERSION = 3
_UNSIGNED_VERSION = 2  # 1.1 pre-releases: the same envelope without a signature line
_LEGACY = "pynomaly-model"  # pynomaly 1.0: a pickled {"format": _LEGACY, "model": ...}
TRUST_HINT = (
    "load it only if you trust it: pynomaly score --trust, pynomaly.load(path, trusted=True)"
)


class VersionMismatchWarning(UserWarning):
    """A model file was written with other pynomaly, plugin or library versions."""


@attrs.frozen
class Envelope:
    """A model file's parts, checked for length and digest (not yet for authenticity)."""

    version: int
    header: dict[str, Any]
    signed: bytes  # the bytes the signature covers: the first two lines and the payload
    signature: dict[str, Any] | None
    payload: bytes = attrs.field(repr=False)

    @property
    def format(self) -> str:
        return str(self.header["payload"].get("format", "pickle"))

    @property
    def digest(self) -> str:
        return str(self.header["payload"]["sha256"])


def save_model(
    model: Model,
    path: str | os.PathLike[str],
    *,
    overwrite: bool = False,
    format: str | None = None,
    manager: PluginManager | None = None,
) -> None:
    """Write ``model`` to ``path`` atomically, signed with the user's key (created on first
    use); an existing file is kept unless ``overwrite``.

    :param format: ``"pickle"`` (the default, or ``PYNOMALY_MODEL_FORMAT``) or ``"skops"``: a
        payload whose loading runs no code, for models of the built-in detectors and steps
        (an :class:`InputError` names the types of any other model).
    """
    fmt, payload = _encode(model, _format(format))
    header = {
        "pynomaly": __version__,
        "detector": model.detector,
        **_versions(model.plugin, manager),
        "payload": {
            "format": fmt,
            "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        },
    }
    key = signing.get_or_create_key()
    head = MAGIC + b" %d\n" % FORMAT_VERSION + json.dumps(header).encode() + b"\n"
    signature = {
        "alg": signing.ALGORITHM,
        "key": signing.key_id(key),
        "mac": signing.sign(key, head + payload),
    }
    line = json.dumps(signature).encode() + b"\n"
    atomic_write(path, lambda tmp: tmp.write_bytes(head + line + payload), overwrite=overwrite)
    audit.record(
        "model.save",
        path=str(Path(path).absolute()),
        sha256=header["payload"]["sha256"],
        format=fmt,
        detector=model.detector,
        key_id=signature["key"],
    )


def load_model(
    path: str | os.PathLike[str],
    *,
    trusted: bool = False,
    manager: PluginManager | None = None,
) -> Model:
    """Read a model written by :func:`save_model`.

    :param trusted: also load a file that is not signed with this user's key — saved by
        another user or machine, by pynomaly 1.0, or by a 1.1 pre-release. Such a file may
        run code when loaded if its payload is a pickle: pass ``True`` only for files whose
        origin you trust (PyOD's ``trusted=True`` convention).
    :raises InputError: one line, for anything refused: damaged, truncated, altered, unsigned
        or foreign (unless ``trusted``), or not a model file.
    :warns VersionMismatchWarning: when the versions recorded differ from the installed ones.
    """
    return open_model(path, trusted=trusted, manager=manager).decode()


@attrs.frozen
class OpenedModel:
    """A model file read and accepted by :func:`open_model`, its payload not yet decoded."""

    where: Path
    envelope: Envelope | None  # None: a pynomaly 1.0 file, a bare pickle (``legacy``)
    legacy: bytes = attrs.field(default=b"", repr=False)

    def decode(self) -> Model:
        """The model (a pickle payload may run code: only files accepted as this user's own
        or trusted get here)."""
        if self.envelope is None:
            obj = _unpickle(self.where, self.legacy)
            if isinstance(obj, dict) and obj.get("format") == _LEGACY:
                obj = obj.get("model")
            return _checked_model(self.where, obj)
        return _checked_model(self.where, _decode(self.where, self.envelope))


def open_model(
    path: str | os.PathLike[str],
    *,
    trusted: bool = False,
    manager: PluginManager | None = None,
) -> OpenedModel:
    """:func:`load_model` up to decoding: the file read, checked, authenticated (or refused),
    recorded in the audit log and its versions compared (the same errors and warnings); nothing
    in the payload has run yet. :meth:`OpenedModel.decode` decodes it."""
    where = Path(path)
    try:
        data = where.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: cannot read model: {exc.strerror}") from None
    if not data.startswith(MAGIC):
        _accept_legacy(where, data, trusted)
        return OpenedModel(where, None, data)
    try:
        envelope = _envelope(where, data)
        authentic = _authenticate(where, envelope)
        if authentic is not None and not trusted:
            raise InputError(f"{where}: {authentic}; {TRUST_HINT}")
    except InputError as exc:
        audit.record("model.refuse", path=str(where.absolute()), reason=str(exc))
        raise
    audit.record(
        "model.load",
        path=str(where.absolute()),
        sha256=envelope.digest,
        format=envelope.format,
        signed="by this user's key" if authentic is None else authentic,
        trusted=trusted,
    )
    _warn_on_versions(where, envelope.header, manager)
    return OpenedModel(where, envelope)


def _accept_legacy(where: Path, data: bytes, trusted: bool) -> None:
    """A file without the envelope: pynomaly 1.0 wrote a bare pickle."""
    digest = hashlib.sha256(data).hexdigest()
    if not data.startswith(b"\x80"):  # not even a pickle (protocol 2 or later)
        audit.record("model.refuse", path=str(where.absolute()), reason="not a model file")
        raise InputError(f"{where}: not a pynomaly model file")
    if not trusted:
        reason = "an unsigned pickle (a pynomaly 1.0 model file?), which can run code when loaded"
        audit.record("model.refuse", path=str(where.absolute()), reason=reason, sha256=digest)
        raise InputError(f"{where}: {reason}; {TRUST_HINT}")
    audit.record(
        "model.load",
        path=str(where.absolute()),
        sha256=digest,
        format="pickle",
        signed="no (pynomaly 1.0 file)",
        trusted=True,
    )
    warnings.warn(
        f"{where}: saved by pynomaly 1.0, which recorded no versions; if scoring fails, "
        "fit the model again with this pynomaly",
        VersionMismatchWarning,
        stacklevel=4,
    )


def _checked_model(where: Path, obj: Any) -> Model:
    from pynomaly.detection.results import Model

    if not isinstance(obj, Model):
        raise InputError(f"{where}: not a pynomaly model file")
    return obj


def _envelope(where: Path, data: bytes) -> Envelope:
    """The parts of a version-2 or -3 file, with the payload's length and digest checked."""
    first, _, rest = data.partition(b"\n")
    second, _, rest = rest.partition(b"\n")
    try:
        version = int(first[len(MAGIC) :].strip())
    except ValueError:
        raise InputError(f"{where}: damaged model file (unreadable header)") from None
    if version not in (FORMAT_VERSION, _UNSIGNED_VERSION):
        raise InputError(
            f"{where}: model file format {version}; this pynomaly {__version__} reads format "
            f"{FORMAT_VERSION} (upgrade pynomaly)"
        )
    signature: dict[str, Any] | None = None
    if version == FORMAT_VERSION:
        line, _, payload = rest.partition(b"\n")
        signature = _json_object(where, line, "signature")
    else:
        payload = rest
    header = _json_object(where, second, "header")
    try:
        expected = header["payload"]
        size, digest = int(expected["bytes"]), str(expected["sha256"])
        str(expected.get("format", "pickle"))
    except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
        raise InputError(f"{where}: damaged model file (unreadable header)") from None
    if len(payload) != size:
        raise InputError(f"{where}: truncated model file ({len(payload)} of {size} bytes)")
    if hashlib.sha256(payload).hexdigest() != digest:
        raise InputError(f"{where}: damaged model file (its SHA-256 digest does not match)")
    signed = first + b"\n" + second + b"\n" + payload
    return Envelope(version, header, signed, signature, payload)


def _json_object(where: Path, line: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        value = None
    if not isinstance(value, dict):
        raise InputError(f"{where}: damaged model file (unreadable {what})")
    return value


def _authenticate(where: Path, envelope: Envelope) -> str | None:
    """``None`` when the file is signed with this user's key; else why it is not, for a file
    that may still be loaded when trusted. Raises for a file altered after being signed with
    this user's key (never loadable)."""
    signature = envelope.signature
    if signature is None:
        return "unsigned model file (saved by a pynomaly 1.1 pre-release)"
    key_id, mac = signature.get("key"), signature.get("mac")
    if signature.get("alg") != signing.ALGORITHM or not isinstance(mac, str):
        return f"model file signed with an unknown method {signature.get('alg')!r}"
    key = signing.read_key()
    if key is None:
        return f"model file signed by another key ({key_id}); this user has none yet"
    if key_id != signing.key_id(key):
        return f"model file signed by another user's or machine's key ({key_id})"
    if not signing.verify(key, envelope.signed, mac):
        raise InputError(f"{where}: altered model file (its signature does not match)")
    return None


def _decode(where: Path, envelope: Envelope) -> Any:
    if envelope.format == "skops":
        return _from_skops(where, envelope.payload)
    if envelope.format != "pickle":
        raise InputError(f"{where}: model payload format {envelope.format!r} is unknown")
    return _unpickle(where, envelope.payload)


def _unpickle(where: Path, payload: bytes) -> Any:
    try:
        return pickle.loads(payload)
    except Exception as exc:  # unpickling can raise almost anything on a foreign file
        raise InputError(f"{where}: not a pynomaly model file ({type(exc).__name__})") from None


# --------------------------------------------------------------------------------------------
# Payload formats
# --------------------------------------------------------------------------------------------


ENV_MODEL_FORMAT = "PYNOMALY_MODEL_FORMAT"
FORMATS = ("pickle", "skops")


def _format(requested: str | None) -> str:
    where = "format="
    if requested is None:
        requested, where = os.environ.get(ENV_MODEL_FORMAT) or "pickle", f"{ENV_MODEL_FORMAT}="
    if requested not in FORMATS:
        raise InputError(f"{where}{requested!r}: expected one of {', '.join(FORMATS)}")
    return requested


def _encode(model: Model, fmt: str) -> tuple[str, bytes]:
    """The payload of ``model`` in format ``fmt``."""
    if fmt == "pickle":
        return "pickle", pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    sio = _skops()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = sio.dumps(model)
            refused = sorted(n for n in sio.get_untrusted_types(data=data) if not loadable_type(n))
    except Exception as exc:  # an object skops cannot take apart
        raise InputError(
            f"a {model.detector} model cannot be saved with skops ({type(exc).__name__}: "
            f"{exc}); save it as a pickle"
        ) from None
    if refused:
        raise InputError(
            f"a {model.detector} model holds types a skops model file may not construct "
            f"({', '.join(refused[:5])}); save it as a pickle"
        )
    return "skops", data


def _skops() -> Any:
    try:
        import skops.io as sio
    except ImportError:
        raise InputError(
            'the skops model format needs skops: pip install "pynomaly[skops]"'
        ) from None
    return sio


def _from_skops(where: Path, payload: bytes) -> Any:
    """Decode a skops payload, constructing only the types :func:`loadable_type` allows —
    whatever the file's signature says: nothing in it runs as code."""
    sio = _skops()

    try:
        types = sio.get_untrusted_types(data=payload)
    except Exception as exc:
        raise InputError(f"{where}: damaged model file ({type(exc).__name__})") from None
    refused = sorted(name for name in types if not loadable_type(name))
    if refused:
        shown = ", ".join(refused[:5]) + (" ..." if len(refused) > 5 else "")
        raise InputError(f"{where}: model file holds types pynomaly never loads: {shown}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # skops' own version notes
            return sio.loads(payload, trusted=types)
    except Exception as exc:
        raise InputError(f"{where}: not a pynomaly model file ({type(exc).__name__})") from None


# types skops does not trust by default that a pynomaly model of the built-in detectors and
# steps holds; each is data (arrays, trees, distance metrics), none runs code of the file's
_LOADABLE = frozenset(
    {
        "numpy.dtype",
        "pynomaly.detection.results.Model",
        "pynomaly.detection.results.ThresholdRule",
        "pynomaly.builtin.steps._onehot_name",  # the one-hot encoder's column namer
        "pynomaly_pyod.ecdf.EcdfState",  # ECOD's and COPOD's sorted training columns
        "sklearn.tree._tree.Tree",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neighbors._ball_tree.BallTree",
    }
)
_DISTANCE = "sklearn.metrics._dist_metrics."


def loadable_type(name: str) -> bool:
    """Whether a model file may construct the type (or function) ``name``: pynomaly's own
    model classes, built-in steps and the adapters' fitted states, scikit-learn's trees and
    distance metrics, and PyOD's estimator classes. Everything else is refused."""
    if name in _LOADABLE:
        return True
    module, _, attribute = name.rpartition(".")
    if module == "pynomaly.builtin.steps":
        from pynomaly.builtin.steps import STEPS

        return any(cls.__name__ == attribute for cls in STEPS.values())
    if module == _DISTANCE[:-1]:
        return attribute.isidentifier() and "Distance" in attribute
    if module.startswith("pyod.models.") and attribute.isidentifier():
        return _is_estimator_class(module, attribute)
    return False


def _is_estimator_class(module: str, attribute: str) -> bool:
    """Whether ``module.attribute`` is a scikit-learn estimator class (PyOD's detectors and
    helpers are): importing an installed PyOD module runs no code of the file's."""
    import importlib

    from sklearn.base import BaseEstimator

    try:
        found = getattr(importlib.import_module(module), attribute)
    except Exception:  # no such module or attribute, or a malformed name
        return False
    return isinstance(found, type) and issubclass(found, BaseEstimator)


# --------------------------------------------------------------------------------------------
# Versions
# --------------------------------------------------------------------------------------------


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
    libraries = header.get("libraries")
    for name, recorded in (libraries if isinstance(libraries, dict) else {}).items():
        installed = now["libraries"].get(name)
        if installed != recorded:
            differ.append(f"{name} {recorded} (now {installed or 'not installed'})")
    if differ:
        warnings.warn(
            f"{where}: saved with {', '.join(differ)}; scores may differ",
            VersionMismatchWarning,
            stacklevel=4,
        )
