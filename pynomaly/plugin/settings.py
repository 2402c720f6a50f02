"""Which plugins may load, read from arguments first and the environment second.

Everything here is decided before any plugin module is imported, so a disabled plugin's code
never runs. The local plugins directory is opt-in: its ``*.py`` files run as soon as they are
discovered, so only a directory named with ``--plugins-dir`` / ``PYNOMALY_PLUGINS_DIR`` /
``plugins_dir=`` is loaded, never ``./plugins`` of whatever directory a command runs in (a
cloned repository or a downloaded archive would otherwise run its code on the first
``pynomaly`` command or ``pynomaly.detect`` call).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

from pynomaly.errors import InputError

ENV_DISABLE_AUTOLOAD = "PYNOMALY_DISABLE_PLUGIN_AUTOLOAD"
ENV_ALLOW = "PYNOMALY_PLUGINS"
ENV_DISABLE = "PYNOMALY_DISABLE_PLUGINS"
ENV_STRICT = "PYNOMALY_STRICT_PLUGINS"
ENV_PLUGINS_DIR = "PYNOMALY_PLUGINS_DIR"
ENV_TRACE = "PYNOMALY_TRACE"
ENV_ISOLATION = "PYNOMALY_ISOLATION"
ENV_TIMEOUT = "PYNOMALY_TIMEOUT"
ENV_MEMORY_LIMIT = "PYNOMALY_MEMORY_LIMIT"

#: isolation policies: which plugins run in a worker process of their own
ISOLATION_MODES = ("none", "process", "third-party")


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _names(value: str | None) -> frozenset[str]:
    return frozenset(n.strip() for n in (value or "").split(",") if n.strip())


@attrs.frozen
class Isolation:
    """Which plugins run in a worker process of their own, and the limits of each worker.

    ``mode`` is ``"none"`` (every plugin in-process, the default), ``"process"`` (every plugin
    but the built-ins), ``"third-party"`` (every plugin but the built-ins and the two adapters
    shipped with pynomaly, ``sklearn_adapter`` and ``pyod_adapter``) or ``"names"`` (those in
    ``names``). ``timeout`` (seconds per hook call) and ``memory_limit`` (bytes of address
    space, ``RLIMIT_AS``) apply to each worker.
    """

    mode: str = "none"
    names: frozenset[str] = frozenset()
    timeout: float | None = None
    memory_limit: int | None = None

    def isolates(self, name: str, kind: str, first_party: bool) -> bool:
        """Whether the plugin ``name`` (a candidate of ``kind``: builtin, entrypoint, local,
        manual) runs in a worker process."""
        if self.mode == "names":
            return name in self.names
        if self.mode == "process":
            return kind != "builtin"
        if self.mode == "third-party":
            return kind != "builtin" and not first_party
        return False

    @property
    def enabled(self) -> bool:
        """Whether any plugin may run in a worker process."""
        return self.mode != "none"


def parse_isolation(value: str, what: str = ENV_ISOLATION) -> tuple[str, frozenset[str]]:
    """``(mode, names)`` from ``none``, ``process``, ``third-party`` or ``process:a,b``."""
    text = value.strip().lower()
    if text in ("", "none", "off", "0", "false", "no"):
        return "none", frozenset()
    if text in ("process", "third-party"):
        return text, frozenset()
    head, colon, rest = value.strip().partition(":")
    if colon and head.strip().lower() == "process":
        names = _names(rest)
        if names:
            return "names", names
    raise InputError(
        f"{what} {value!r}: expected none, process, third-party or process:NAME,NAME"
    )


def parse_timeout(value: str | float, what: str = ENV_TIMEOUT) -> float | None:
    """Seconds (> 0) from a number or its text; ``None`` for an empty value or ``0``."""
    if isinstance(value, str) and not value.strip():
        return None
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what} {value!r}: expected a number of seconds") from None
    if seconds != seconds or seconds < 0 or seconds == float("inf"):
        raise InputError(f"{what} {value!r}: expected a positive number of seconds")
    return seconds or None


_UNITS = {
    "": 1, "b": 1,
    "k": 2**10, "kib": 2**10, "kb": 10**3,
    "m": 2**20, "mib": 2**20, "mb": 10**6,
    "g": 2**30, "gib": 2**30, "gb": 10**9,
    "t": 2**40, "tib": 2**40, "tb": 10**12,
}  # fmt: skip


def parse_memory(value: str | int, what: str = ENV_MEMORY_LIMIT) -> int | None:
    """Bytes from ``2GiB``, ``512MiB``, ``2G`` (powers of 1024), ``2GB`` (of 1000) or a plain
    number of bytes; ``None`` for an empty value or ``0``."""
    if isinstance(value, int) and not isinstance(value, bool):
        number, unit = float(value), ""
    else:
        import re

        match = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([a-zA-Z]*)\s*", str(value))
        if str(value).strip() == "":
            return None
        if match is None or match.group(2).lower() not in _UNITS:
            raise InputError(
                f"{what} {value!r}: expected a size such as 2GiB, 512MiB or a number of bytes"
            )
        number, unit = float(match.group(1)), match.group(2).lower()
    size = int(number * _UNITS[unit])
    if size < 0:
        raise InputError(f"{what} {value!r}: expected a positive size")
    return size or None


def format_bytes(size: int) -> str:
    """``2 GiB``, ``512 MiB``, ``1.5 GiB``: a memory size as the docs write it."""
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if size >= factor:
            return f"{size / factor:.4g} {unit}"
    return f"{size} B"


@attrs.frozen
class Settings:
    """How a :class:`~pynomaly.PluginManager` selects and treats plugins.

    * ``autoload``: discover plugins from entry points and the plugins directory.
    * ``allow``: if set, only these entry-point/local plugins load (even without autoload),
      like pytest's ``PYTEST_PLUGINS``.
    * ``disable``: plugins (built-in ones included) that never load.
    * ``strict``: a plugin that fails to load raises instead of being skipped.
    * ``plugins_dir``: a directory whose ``*.py`` files are loaded as plugins; ``None`` (the
      default): none. Only a directory named explicitly is ever loaded.
    * ``config``: plugin name → configuration passed to its ``pynomaly_initialize``.
    * ``isolation``: which plugins run in a worker process, with what limits (:class:`Isolation`).
    * ``config_origins``: plugin name → the file its configuration came from, named in errors.
    """

    autoload: bool = True
    allow: frozenset[str] | None = None
    disable: frozenset[str] = frozenset()
    strict: bool = False
    plugins_dir: Path | None = None
    trace: bool = False
    config: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
    isolation: Isolation = Isolation()
    config_origins: Mapping[str, str] = attrs.field(factory=dict)

    @classmethod
    def from_env(
        cls,
        *,
        autoload: bool | None = None,
        allow: Iterable[str] | None = None,
        disable: Iterable[str] = (),
        strict: bool | None = None,
        plugins_dir: str | os.PathLike[str] | None = None,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        isolation: str | None = None,
        timeout: float | str | None = None,
        memory_limit: int | str | None = None,
        config_origins: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from explicit arguments, falling back to ``PYNOMALY_*`` variables.

        ``plugins_dir`` not given: ``PYNOMALY_PLUGINS_DIR`` if set, else no plugins directory;
        an empty string means none either way.

        Raises :class:`~pynomaly.errors.InputError` for an isolation, timeout or memory limit
        that cannot be understood, and for a timeout or memory limit without isolation (an
        in-process plugin cannot be stopped or limited safely).
        """
        env_allow = _names(os.environ.get(ENV_ALLOW))
        if plugins_dir is None:
            plugins_dir = os.environ.get(ENV_PLUGINS_DIR, "")  # 1.0 defaulted to ./plugins
        return cls(
            autoload=not _flag(ENV_DISABLE_AUTOLOAD) if autoload is None else autoload,
            allow=frozenset(allow) if allow is not None else (env_allow or None),
            disable=frozenset(disable) | _names(os.environ.get(ENV_DISABLE)),
            strict=_flag(ENV_STRICT) if strict is None else strict,
            plugins_dir=Path(plugins_dir) if str(plugins_dir) else None,
            trace=_flag(ENV_TRACE),
            config=dict(config or {}),
            isolation=_isolation(isolation, timeout, memory_limit),
            config_origins=dict(config_origins or {}),
        )

    def selects(self, name: str) -> tuple[bool, str]:
        """Whether a third-party plugin called ``name`` may load, and if not, why."""
        if name in self.disable:
            return False, "disabled by -p no:NAME / disable= / " + ENV_DISABLE
        if self.allow is not None:
            if name in self.allow:
                return True, ""
            return False, f"not in the allow-list {ENV_ALLOW}={','.join(sorted(self.allow))}"
        if not self.autoload:
            return False, f"autoload disabled by {ENV_DISABLE_AUTOLOAD}"
        return True, ""


def _isolation(
    isolation: str | None, timeout: float | str | None, memory_limit: int | str | None
) -> Isolation:
    env = os.environ
    mode, names = (
        parse_isolation(isolation, "isolation")
        if isolation is not None
        else parse_isolation(env.get(ENV_ISOLATION, ""))
    )
    seconds = (
        parse_timeout(timeout, "timeout")
        if timeout is not None
        else parse_timeout(env.get(ENV_TIMEOUT, ""))
    )
    size = (
        parse_memory(memory_limit, "memory limit")
        if memory_limit is not None
        else parse_memory(env.get(ENV_MEMORY_LIMIT, ""))
    )
    if mode == "none" and (seconds is not None or size is not None):
        what = "a timeout" if seconds is not None else "a memory limit"
        raise InputError(
            f"{what} applies to isolated plugins only (an in-process plugin cannot be stopped "
            f"or limited safely): choose them with --isolation, {ENV_ISOLATION}, [plugins] "
            "isolation or PluginManager(isolation=...)"
        )
    return Isolation(mode, names, seconds, size)
