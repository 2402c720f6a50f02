"""A cache of fitted detectors, so that detecting again on unchanged data skips the fit.

``pynomaly.detect(data, cache=True)``, ``pynomaly.fit(..., cache=True)``, ``pynomaly detect
--cache`` or ``cache = true`` in the ``[detect]`` table of the configuration. The key is a
SHA-256 digest of everything a fit depends on:

* the prepared training data: the float64 matrix the detector is fitted on (its bytes, shape
  and memory layout) and its feature names — so after the processing steps, which run (and
  are fitted) before the cache is looked up;
* the detector id, its validated parameters, ``contamination``, the threshold rule and the
  seed;
* the processing steps' specifications (names and options, ``prepare="auto"``) and the label
  column;
* the versions of pynomaly, of the detector's plugin and of the libraries it declares (numpy,
  scikit-learn, PyOD ...).

Any change to one of them is a miss. ``random_state=None`` (a fresh seed each call) is never
cached: it asks for a new fit.

A hit skips the detector's fit entirely (no ``pynomaly_fit`` call, nor its before/after
events); the model is assembled from the cached fitted state and training scores and the
steps fitted in this call. Entries are model files (:mod:`pynomaly.detection.persistence`):
written atomically, with the payload's length and digest checked — and, where model files are
signed, signed and checked with the same key — before anything in them is unpickled. An
entry that fails those checks is deleted and counts as a miss.

Entries live in ``models/`` of pynomaly's user cache directory
(``platformdirs.user_cache_dir("pynomaly")``: ``~/.cache/pynomaly`` on Linux), or in the
directory ``PYNOMALY_CACHE_DIR`` names. The cache holds at most ``PYNOMALY_CACHE_SIZE`` bytes
(:data:`DEFAULT_MAX_BYTES`, 1 GiB, by default; ``500MB``, ``2GiB`` and plain byte counts are
understood); after each write the least recently used entries are deleted until it fits (a
hit refreshes an entry's modification time). An entry larger than the whole cap is not kept.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from pynomaly._log import get_logger
from pynomaly._version import __version__
from pynomaly.errors import ConfigurationError, InputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from pynomaly.detection.results import Model, ThresholdRule
    from pynomaly.plugin.manager import PluginManager

ENV_DIR = "PYNOMALY_CACHE_DIR"
ENV_SIZE = "PYNOMALY_CACHE_SIZE"
DEFAULT_MAX_BYTES = 1 << 30
SUFFIX = ".model"
# bumped when what goes into a key changes, so that old entries are never read as new ones
KEY_VERSION = 1

log = get_logger("pynomaly.cache")

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def parse_size(text: str) -> int:
    """A byte count from ``"1073741824"``, ``"500MB"``, ``"2 GiB"`` (case-insensitive)."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise ConfigurationError(
            f"{ENV_SIZE}={text!r}: expected a size such as 1073741824, 500MB or 2GiB"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def default_directory() -> Path:
    """``PYNOMALY_CACHE_DIR``, else ``models`` in pynomaly's user cache directory."""
    env = os.environ.get(ENV_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return platformdirs.user_cache_path("pynomaly", appauthor=False) / "models"


def default_max_bytes() -> int:
    """``PYNOMALY_CACHE_SIZE``, else :data:`DEFAULT_MAX_BYTES`."""
    env = os.environ.get(ENV_SIZE, "").strip()
    return parse_size(env) if env else DEFAULT_MAX_BYTES


@attrs.frozen
class CacheInfo:
    """What the cache holds: its directory, entries, bytes used and cap."""

    directory: Path
    entries: int
    bytes: int
    max_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "entries": self.entries,
            "bytes": self.bytes,
            "max_bytes": self.max_bytes,
        }


@attrs.define
class ModelCache:
    """Fitted models on disk, keyed by :meth:`key`, least recently used evicted first.

    ``directory`` and ``max_bytes`` default to ``PYNOMALY_CACHE_DIR`` /
    ``PYNOMALY_CACHE_SIZE`` (see the module docstring). ``hits`` and ``misses`` count this
    object's lookups.
    """

    directory: Path = attrs.field(factory=default_directory, converter=Path)
    max_bytes: int = attrs.field(factory=default_max_bytes)
    hits: int = attrs.field(default=0, init=False)
    misses: int = attrs.field(default=0, init=False)

    @max_bytes.validator
    def _check(self, attribute: Any, value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InputError(f"cache max_bytes must be a number of bytes >= 0, got {value!r}")

    # --- keys -------------------------------------------------------------------------------

    def key(
        self,
        pm: PluginManager,
        *,
        X: np.ndarray,
        feature_names: Sequence[str],
        detector: str,
        plugin: str,
        params: Mapping[str, Any],
        contamination: float,
        rule: ThresholdRule,
        random_state: int | None,
        steps: Sequence[Any] = (),
        prepare: str | None = None,
        label_column: str | None = None,
    ) -> str:
        """The hex digest naming the fit these arguments describe."""
        described = {
            "key": KEY_VERSION,
            "pynomaly": __version__,
            **_versions(pm, plugin),
            "detector": detector,
            "params": params,
            "contamination": contamination,
            "rule": [rule.kind, rule.value],
            "random_state": random_state,
            "steps": [_step_spec(s) for s in steps],
            "prepare": prepare,
            "label_column": label_column,
            "features": list(feature_names),
            "matrix": matrix_digest(X),
        }
        text = json.dumps(described, sort_keys=True, default=repr)
        return hashlib.sha256(text.encode()).hexdigest()

    # --- entries ----------------------------------------------------------------------------

    def path(self, key: str) -> Path:
        return self.directory / f"{key}{SUFFIX}"

    def get(self, key: str, pm: PluginManager | None = None) -> Model | None:
        """The cached model for ``key``, or ``None`` (missing, or refused and deleted)."""
        from pynomaly.detection.persistence import load_model

        where = self.path(key)
        if not where.is_file():
            self.misses += 1
            return None
        try:
            with warnings.catch_warnings():
                # the versions are part of the key: a difference cannot be a stale entry
                warnings.simplefilter("ignore")
                model = load_model(where, manager=pm)
        except (InputError, OSError) as exc:  # damaged, foreign, or evicted meanwhile
            log.warning("model cache: %s refused (%s); fitting again", where.name, exc)
            with contextlib.suppress(OSError):
                where.unlink()
            self.misses += 1
            return None
        with contextlib.suppress(OSError):
            os.utime(where)  # recently used: evicted last
        self.hits += 1
        log.info("model cache hit: %s", where.name)
        return model

    def put(self, key: str, model: Model, pm: PluginManager | None = None) -> bool:
        """Store ``model`` under ``key`` (atomically), then evict down to the cap; whether it
        was kept. A cache that cannot be written is a warning, never an error."""
        from pynomaly.detection.persistence import save_model

        where = self.path(key)
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            save_model(model, where, overwrite=True, manager=pm)
        except (InputError, OSError) as exc:
            log.warning("model cache: cannot write %s: %s", where, exc)
            return False
        self.evict(keep=where)
        return where.exists()

    def entries(self) -> list[tuple[Path, int, float]]:
        """``(path, bytes, last used)`` of every entry, least recently used first."""
        found = []
        with contextlib.suppress(FileNotFoundError):
            for entry in os.scandir(self.directory):
                if not entry.name.endswith(SUFFIX) or entry.name.startswith("."):
                    continue  # atomic_write's temporaries are hidden files
                try:
                    stat = entry.stat()
                except FileNotFoundError:  # evicted by another process meanwhile
                    continue
                found.append((Path(entry.path), stat.st_size, stat.st_mtime))
        return sorted(found, key=lambda e: (e[2], e[0].name))

    def evict(self, keep: Path | None = None) -> int:
        """Delete least recently used entries until the cache fits its cap (``keep`` last,
        and only if it alone exceeds the cap); returns how many were deleted."""
        found = self.entries()
        total = sum(size for _, size, _ in found)
        removed = 0
        order = [e for e in found if e[0] != keep] + [e for e in found if e[0] == keep]
        for path, size, _ in order:
            if total <= self.max_bytes:
                break
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
            total -= size
        return removed

    def clear(self) -> int:
        """Delete every entry; returns how many."""
        removed = 0
        for path, _, _ in self.entries():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
        return removed

    def info(self) -> CacheInfo:
        found = self.entries()
        return CacheInfo(
            self.directory, len(found), sum(size for _, size, _ in found), self.max_bytes
        )


def matrix_digest(X: np.ndarray) -> str:
    """SHA-256 of a matrix's values, shape, dtype and layout, without copying a contiguous
    matrix (a copy to one canonical layout costs several times the hashing: the same data read
    the same way has the same layout; another layout is a miss, never a wrong hit)."""
    import numpy as np

    if X.flags.c_contiguous:
        layout, data = "C", X
    elif X.flags.f_contiguous:
        layout, data = "F", X.T  # the transpose of an F-ordered matrix is C-contiguous
    else:
        layout, data = "C", np.ascontiguousarray(X)
    digest = hashlib.sha256(f"{X.dtype.str}{X.shape}{layout}".encode())
    digest.update(memoryview(data).cast("B"))  # type: ignore[arg-type]
    return digest.hexdigest()


def _versions(pm: PluginManager, plugin: str) -> dict[str, Any]:
    """The plugin's version and those of the libraries it declares (and numpy's)."""
    try:
        meta = pm.record(plugin).metadata
    except InputError:
        meta = None
    return {
        "plugin": plugin,
        "plugin_version": meta.version if meta else None,
        "libraries": dict(_library_versions(("numpy", *(meta.dependencies if meta else ())))),
    }


@functools.lru_cache(maxsize=64)
def _library_versions(specs: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    # importlib.metadata scans the environment on every call (~0.1 s each with many
    # packages): once per process is enough, installed versions do not change under it
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import InvalidRequirement, Requirement

    found = []
    for spec in specs:
        try:
            name = Requirement(spec).name
            found.append((name, version(name)))
        except (InvalidRequirement, PackageNotFoundError):
            continue
    return tuple(found)


def _step_spec(spec: Any) -> Any:
    if isinstance(spec, str):
        return [spec, {}]
    name, options = spec
    return [name, dict(options)]


def resolve(cache: bool | ModelCache | None) -> ModelCache | None:
    """``cache=`` of the API as a cache or ``None``: ``True`` is the default cache."""
    if cache is None or cache is False:
        return None
    if cache is True:
        return ModelCache()
    if isinstance(cache, ModelCache):
        return cache
    raise InputError(f"cache must be True, False or a ModelCache, got {cache!r}")


__all__ = [
    "DEFAULT_MAX_BYTES",
    "CacheInfo",
    "ModelCache",
    "default_directory",
    "default_max_bytes",
    "matrix_digest",
    "parse_size",
    "resolve",
]
