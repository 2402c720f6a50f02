"""Which plugins may load, read from arguments first and the environment second.

Everything here is decided before any plugin module is imported, so a disabled plugin's code
never runs.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs

ENV_DISABLE_AUTOLOAD = "PYNOMALY_DISABLE_PLUGIN_AUTOLOAD"
ENV_ALLOW = "PYNOMALY_PLUGINS"
ENV_DISABLE = "PYNOMALY_DISABLE_PLUGINS"
ENV_STRICT = "PYNOMALY_STRICT_PLUGINS"
ENV_PLUGINS_DIR = "PYNOMALY_PLUGINS_DIR"
ENV_TRACE = "PYNOMALY_TRACE"
DEFAULT_PLUGINS_DIR = "plugins"


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _names(value: str | None) -> frozenset[str]:
    return frozenset(n.strip() for n in (value or "").split(",") if n.strip())


@attrs.frozen
class Settings:
    """How a :class:`~pynomaly.PluginManager` selects and treats plugins.

    * ``autoload``: discover plugins from entry points and the plugins directory.
    * ``allow``: if set, only these entry-point/local plugins load (even without autoload),
      like pytest's ``PYTEST_PLUGINS``.
    * ``disable``: plugins (built-in ones included) that never load.
    * ``strict``: a plugin that fails to load raises instead of being skipped.
    * ``plugins_dir``: a directory whose ``*.py`` files are loaded as plugins (``None``: none).
    * ``config``: plugin name → configuration passed to its ``pynomaly_initialize``.
    * ``config_origins``: plugin name → the file its configuration came from, named in errors.
    """

    autoload: bool = True
    allow: frozenset[str] | None = None
    disable: frozenset[str] = frozenset()
    strict: bool = False
    plugins_dir: Path | None = Path(DEFAULT_PLUGINS_DIR)
    trace: bool = False
    config: Mapping[str, Mapping[str, Any]] = attrs.field(factory=dict)
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
        config_origins: Mapping[str, str] | None = None,
    ) -> Settings:
        """Settings from explicit arguments, falling back to ``PYNOMALY_*`` variables."""
        env_allow = _names(os.environ.get(ENV_ALLOW))
        if plugins_dir is None:
            env_dir = os.environ.get(ENV_PLUGINS_DIR)
            plugins_dir = DEFAULT_PLUGINS_DIR if env_dir is None else env_dir
        return cls(
            autoload=not _flag(ENV_DISABLE_AUTOLOAD) if autoload is None else autoload,
            allow=frozenset(allow) if allow is not None else (env_allow or None),
            disable=frozenset(disable) | _names(os.environ.get(ENV_DISABLE)),
            strict=_flag(ENV_STRICT) if strict is None else strict,
            plugins_dir=Path(plugins_dir) if str(plugins_dir) else None,
            trace=_flag(ENV_TRACE),
            config=dict(config or {}),
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
