"""The configuration manager: detection defaults and plugin settings from files and the
environment, merged in a documented order, each value remembering where it came from.

Layers, lowest to highest (a higher layer's value replaces a lower one's; the command line's
options, applied by the CLI, win over all of them):

1. built-in defaults;
2. the user file: ``config.toml`` in the platform's configuration directory
   (``~/.config/pynomaly/config.toml`` on Linux; ``PYNOMALY_USER_CONFIG`` names another file,
   empty for none);
3. the project file in the working directory: ``pynomaly.toml``, else the ``[tool.pynomaly]``
   table of ``pyproject.toml``;
4. a file named by ``--config FILE`` or ``PYNOMALY_CONFIG`` (TOML, or JSON by extension);
5. ``PYNOMALY_*`` environment variables.

Layout (in ``pyproject.toml`` the same tables under ``[tool.pynomaly]``)::

    [detect]
    detector = "pyod:ecod"
    contamination = 0.05
    random_state = 0            # or "random" for a fresh seed each run
    steps = ["impute:strategy=median", {name = "scale", method = "robust"}]
    format = "json"             # console format (or of -o -)
    batch_size = 100000
    jobs = 2
    cache = true                # reuse fitted models (see pynomaly.detection.cache)
    engine = "dask"             # --engine; scheduler = "tcp://host:8786", fit_rows = 100000

    [plugins]
    disable = ["sql"]           # disable lists of every layer add up
    plugins_dir = "plugins"     # relative to the file's directory; not from a project file
    isolation = "third-party"   # plugins in worker processes (docs/plugins.md, "Safety")
    timeout = 60                # seconds per hook call of an isolated plugin
    memory_limit = "2GiB"       # address space of each isolated plugin's worker

    [plugins.webhook]           # one plugin's settings, checked against its JSON Schema
    timeout = 10

Reading costs nothing when no file exists: :mod:`tomllib` is imported only to parse one.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynomaly.errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.manager import PluginManager

ENV_CONFIG = "PYNOMALY_CONFIG"
ENV_USER_CONFIG = "PYNOMALY_USER_CONFIG"
PROJECT_FILE = "pynomaly.toml"
PYPROJECT_FILE = "pyproject.toml"
USER_FILE = "config.toml"

DEFAULT = "default"
COMMAND_LINE = "command line"

# --------------------------------------------------------------------------------------------
# Keys and their rules
# --------------------------------------------------------------------------------------------


class _Rule(Exception):
    """A value broke a key's rule; the message is the rule."""


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise _Rule("must be a non-empty string")
    return value


def _contamination(value: Any) -> float:
    if not _is_number(value) or not 0.0 < value <= 0.5:
        raise _Rule("must be a number in (0, 0.5]")
    return float(value)


def _percentile(value: Any) -> float:
    if not _is_number(value) or not 0.0 <= value <= 100.0:
        raise _Rule("must be a number in [0, 100]")
    return float(value)


def _number(value: Any) -> float:
    if not _is_number(value):
        raise _Rule("must be a number")
    return float(value)


def seed(value: Any) -> int | None:
    """A seed: an int in ``[0, 2**32)``, or ``"random"``/``"none"`` for ``None`` (a fresh
    seed each run)."""
    if isinstance(value, str):
        if value.strip().lower() in ("random", "none"):
            return None
        try:
            value = int(value)
        except ValueError:
            raise _Rule('must be an int in [0, 2**32) or "random"') from None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise _Rule('must be an int in [0, 2**32) or "random"')
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _Rule("must be an integer >= 1")
    return value


def _jobs(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value == 0 or value < -1:
        raise _Rule("must be an integer >= 1, or -1 for every core")
    return value


def _engine(value: Any) -> str:
    if value not in ("local", "dask"):
        raise _Rule('must be "local" or "dask"')
    return str(value)


def _fit_rows(value: Any) -> int | str:
    if value == "all":
        return value
    if isinstance(value, bool) or not isinstance(value, int) or value < 2:
        raise _Rule('must be an integer >= 2 or "all"')
    return value


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Rule("must be true or false")
    return value


def _names(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise _Rule('must be a list of plugin names, e.g. ["sql", "report"]')
    return list(value)


def _isolation(value: Any) -> str:
    from pynomaly.plugin.settings import parse_isolation

    rule = 'must be "none", "process", "third-party" or "process:NAME,NAME"'
    if not isinstance(value, str):
        raise _Rule(rule)
    try:
        parse_isolation(value)
    except Exception:
        raise _Rule(rule) from None
    return value


def _seconds(value: Any) -> float:
    if not _is_number(value) or not 0 <= value < float("inf"):
        raise _Rule("must be a number of seconds (0: none)")
    return float(value)


def _size(value: Any) -> int:
    from pynomaly.plugin.settings import parse_memory

    rule = 'must be a size such as "2GiB" or "512MiB", or a number of bytes (0: none)'
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise _Rule(rule)
    try:
        return parse_memory(value) or 0
    except Exception:
        raise _Rule(rule) from None


def _steps(value: Any) -> list[Any]:
    """Step specs: ``"NAME"``, ``"NAME:KEY=VALUE;KEY=VALUE"`` or ``{name = ..., KEY = ...}``."""
    if not isinstance(value, list):
        raise _Rule('must be a list of steps, e.g. ["impute:strategy=median", "scale"]')
    for step in value:
        if isinstance(step, str) and step.partition(":")[0]:
            continue
        if isinstance(step, dict) and isinstance(step.get("name"), str) and step["name"]:
            continue
        raise _Rule(f'each step is "NAME[:KEY=VALUE;...]" or a table with a name, got {step!r}')
    return list(value)


class _Frozen:
    """A small immutable record compared by its fields.

    Not attrs: every command reads the configuration, and a listing served from the plugin
    metadata cache (:mod:`pynomaly.plugin.metacache`) imports nothing else that needs attrs,
    whose import and class creation cost more than the whole cached listing.
    """

    __slots__: tuple[str, ...] = ()

    def _fields(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Key(_Frozen):
    """One setting: its rule, the environment variable that sets it, how to read that
    (``parse_env`` ``None``: the variable's text as it is)."""

    __slots__ = ("check", "env", "parse_env", "help")  # noqa: RUF023 - field order
    check: Callable[[Any], Any]
    env: str | None
    parse_env: Callable[[str], Any] | None
    help: str

    def __init__(
        self,
        check: Callable[[Any], Any],
        env: str | None = None,
        parse_env: Callable[[str], Any] | None = None,
        help: str = "",
    ) -> None:
        self._set(check=check, env=env, parse_env=parse_env, help=help)


def _env_number(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # the key's rule says what is wrong with it


def _env_flag(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "on")


def _env_names(text: str) -> list[str]:
    return [n.strip() for n in text.split(",") if n.strip()]


#: ``[detect]``: defaults of detect, fit and score (the CLI passes ``jobs`` and any other key
#: to a command that has an option of that name).
DETECT_KEYS: dict[str, Key] = {
    "detector": Key(_string, "PYNOMALY_DETECTOR", help="detector id"),
    "contamination": Key(_contamination, "PYNOMALY_CONTAMINATION", _env_number),
    "threshold_percentile": Key(_percentile, "PYNOMALY_THRESHOLD_PERCENTILE", _env_number),
    "threshold_score": Key(_number, "PYNOMALY_THRESHOLD_SCORE", _env_number),
    "steps": Key(_steps, "PYNOMALY_STEPS", str.split, "processing steps"),
    "random_state": Key(seed, "PYNOMALY_RANDOM_STATE", help='seed, or "random"'),
    "format": Key(_string, "PYNOMALY_FORMAT", help="console format, and that of -o -"),
    "batch_size": Key(_positive_int, "PYNOMALY_BATCH_SIZE", _env_number),
    "jobs": Key(_jobs, "PYNOMALY_JOBS", _env_number),
    "cache": Key(_bool, "PYNOMALY_CACHE", _env_flag, "reuse fitted models (detect, fit)"),
    "engine": Key(_engine, "PYNOMALY_ENGINE", help='"local" or "dask"'),
    "scheduler": Key(_string, "PYNOMALY_SCHEDULER", help="Dask scheduler address"),
    "fit_rows": Key(_fit_rows, "PYNOMALY_FIT_ROWS", _env_number, 'rows fitted on, or "all"'),
}

#: ``[plugins]``: which plugins load and how (``[plugins.NAME]`` tables are plugin settings).
PLUGINS_KEYS: dict[str, Key] = {
    "enable": Key(_names, "PYNOMALY_PLUGINS", _env_names, "load only these (allow-list)"),
    "disable": Key(_names, "PYNOMALY_DISABLE_PLUGINS", _env_names, "never load these"),
    "plugins_dir": Key(str, "PYNOMALY_PLUGINS_DIR", help="local plugins directory"),
    "strict": Key(_bool, "PYNOMALY_STRICT_PLUGINS", _env_flag, "fail on a broken plugin"),
    "autoload": Key(
        _bool, "PYNOMALY_DISABLE_PLUGIN_AUTOLOAD", lambda t: not _env_flag(t), "entry points"
    ),
    "isolation": Key(_isolation, "PYNOMALY_ISOLATION", help="plugins run in worker processes"),
    "timeout": Key(_seconds, "PYNOMALY_TIMEOUT", _env_number, "seconds per isolated hook call"),
    "memory_limit": Key(_size, "PYNOMALY_MEMORY_LIMIT", help="address space of each worker"),
}

DEFAULTS: dict[str, Any] = {
    "detect.detector": "sklearn:iforest",
    "detect.contamination": 0.1,
    "detect.random_state": 0,
    "detect.batch_size": 50_000,
    "plugins.plugins_dir": "",  # none: a local plugins directory is opt-in
    "plugins.strict": False,
    "plugins.autoload": True,
}

_SECTIONS = {"detect": DETECT_KEYS, "plugins": PLUGINS_KEYS}
_SECRET_WORDS = ("password", "passwd", "secret", "token", "apikey", "api_key", "credential")


# --------------------------------------------------------------------------------------------
# The merged configuration
# --------------------------------------------------------------------------------------------


class Value(_Frozen):
    """A setting's value and where it came from (``"default"``, a file, an environment
    variable or ``"command line"``)."""

    __slots__ = ("value", "origin")  # noqa: RUF023 - field order
    value: Any
    origin: str

    def __init__(self, value: Any, origin: str) -> None:
        self._set(value=value, origin=origin)


class Source(_Frozen):
    """A configuration file pynomaly looks at: its role (``"user"``, ``"project"``,
    ``"--config"``), its path, and for ``pyproject.toml`` the table read."""

    __slots__ = ("role", "path", "table")  # noqa: RUF023 - field order
    role: str
    path: Path
    table: str

    def __init__(self, role: str, path: Path, table: str = "") -> None:
        self._set(role=role, path=path, table=table)

    @property
    def label(self) -> str:
        return f"{self.path} [{self.table}]" if self.table else str(self.path)


class Configuration(_Frozen):
    """The merged configuration: ``values`` maps dotted keys (``detect.contamination``,
    ``plugins.disable``, ``plugins.webhook.timeout``) to :class:`Value`; ``files`` are the
    files that were read, lowest first."""

    __slots__ = ("values", "files")  # noqa: RUF023 - field order
    values: Mapping[str, Value]
    files: tuple[Source, ...]

    def __init__(self, values: Mapping[str, Value], files: tuple[Source, ...] = ()) -> None:
        self._set(values=values, files=files)

    def __hash__(self) -> int:
        return hash(self.files)  # values is a dict

    def get(self, key: str, default: Any = None) -> Any:
        """The value of a dotted key, or ``default``."""
        found = self.values.get(key)
        return default if found is None else found.value

    def origin(self, key: str) -> str | None:
        found = self.values.get(key)
        return None if found is None else found.origin

    def section(self, name: str) -> dict[str, Any]:
        """The keys directly in table ``name`` (``"detect"``), without the prefix."""
        prefix = name + "."
        return {
            k[len(prefix) :]: v.value
            for k, v in self.values.items()
            if k.startswith(prefix) and "." not in k[len(prefix) :]
        }

    @property
    def detect(self) -> dict[str, Any]:
        """The ``[detect]`` table, defaults included."""
        return self.section("detect")

    def plugin_configs(self) -> dict[str, dict[str, Any]]:
        """``[plugins.NAME]`` tables: plugin name → its settings."""
        out: dict[str, dict[str, Any]] = {}
        for key, value in self.values.items():
            parts = key.split(".", 2)
            if parts[0] == "plugins" and len(parts) == 3:
                out.setdefault(parts[1], {})[parts[2]] = value.value
        return out

    def plugin_origin(self, name: str) -> str:
        """Where plugin ``name``'s settings came from (the highest layer that set one)."""
        origins = [v.origin for k, v in self.values.items() if k.startswith(f"plugins.{name}.")]
        return origins[-1] if origins else DEFAULT

    def detect_arguments(self) -> dict[str, Any]:
        """Keyword arguments of :func:`pynomaly.detect` / :func:`pynomaly.fit` from the
        ``[detect]`` table: ``pynomaly.detect(df, **config.detect_arguments())``."""
        d = self.detect
        args = {
            "detector": d["detector"],
            "contamination": d["contamination"],
            "random_state": d["random_state"],
            "steps": step_specs(d.get("steps", [])),
        }
        for key in ("threshold_percentile", "threshold_score", "cache", "jobs"):
            if key in d:
                args[key] = d[key]
        return args

    def manager_arguments(self) -> dict[str, Any]:
        """Keyword arguments of :class:`~pynomaly.PluginManager` from the ``[plugins]``
        table and the ``[plugins.NAME]`` tables."""
        p = self.section("plugins")
        return {
            "disable": list(p.get("disable", [])),
            "allow": p.get("enable"),
            "autoload": p["autoload"],
            "strict": p["strict"],
            "plugins_dir": p["plugins_dir"],
            "config": (tables := self.plugin_configs()),
            "config_origins": {name: self.plugin_origin(name) for name in tables},
            # None: the manager reads PYNOMALY_ISOLATION ... itself, to the same effect
            "isolation": p.get("isolation"),
            "timeout": p.get("timeout"),
            "memory_limit": p.get("memory_limit"),
        }

    def plugin_manager(self) -> PluginManager:
        """A plugin manager with these settings; each ``[plugins.NAME]`` table is checked
        against plugin NAME's JSON Schema when it loads."""
        from pynomaly.plugin.manager import PluginManager

        return PluginManager(**self.manager_arguments())

    def with_values(self, values: Mapping[str, Any], origin: str = COMMAND_LINE) -> Configuration:
        """A copy with ``values`` (dotted keys) set, from ``origin``; list values of
        ``plugins.disable`` add to the ones already there."""
        merged = dict(self.values)
        for key, value in values.items():
            _put(merged, key, value, origin)
        return Configuration(merged, self.files)

    def to_dict(self, *, masked: bool = True) -> dict[str, dict[str, Any]]:
        """``{key: {"value": ..., "origin": ...}}``, credentials masked unless ``masked=False``."""
        return {
            key: {"value": mask_value(key, v.value) if masked else v.value, "origin": v.origin}
            for key, v in sorted(self.values.items(), key=lambda kv: _order(kv[0]))
        }


def _order(key: str) -> tuple[int, int, str]:
    section, _, rest = key.partition(".")
    keys = _SECTIONS.get(section, {})
    names = list(keys)
    return (list(_SECTIONS).index(section) if section in _SECTIONS else 9,
            names.index(rest) if rest in names else len(names) + ("." in rest), rest)


def mask_value(key: str, value: Any) -> Any:
    """``value`` with credentials masked: ``***`` for keys that name a secret, and passwords
    in URLs (:func:`pynomaly.redact.mask_uri`)."""
    from pynomaly.redact import mask_uri

    leaf = key.rsplit(".", 1)[-1].lower().replace("-", "_")
    if any(word in leaf for word in _SECRET_WORDS):
        return "***"
    if isinstance(value, str):
        return mask_uri(value)
    if isinstance(value, list):
        return [mask_value(key, v) for v in value]
    if isinstance(value, dict):
        return {k: mask_value(f"{key}.{k}", v) for k, v in value.items()}
    return value


def _put(values: dict[str, Value], key: str, value: Any, origin: str) -> None:
    if key == "plugins.disable" and key in values:  # -p no:NAME always added up
        old = values[key]
        value = list(dict.fromkeys([*old.value, *value]))
        origin = origin if not old.value else f"{old.origin} + {origin}"
    values[key] = Value(value, origin)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def user_file() -> Path | None:
    """The user-level file: ``PYNOMALY_USER_CONFIG`` if set (empty: none), else
    ``config.toml`` in the platform's configuration directory for pynomaly."""
    env = os.environ.get(ENV_USER_CONFIG)
    if env is not None:
        return Path(env).expanduser() if env.strip() else None
    import platformdirs

    return platformdirs.user_config_path("pynomaly", appauthor=False) / USER_FILE


def project_file(directory: Path | None = None) -> Source | None:
    """``pynomaly.toml`` in ``directory`` (the working directory), else ``pyproject.toml``
    when it has a ``[tool.pynomaly]`` table; ``None`` if neither."""
    where = directory or Path.cwd()
    own = where / PROJECT_FILE
    if own.is_file():
        return Source("project", own)
    pyproject = where / PYPROJECT_FILE
    try:
        text = pyproject.read_text(encoding="utf-8")
    except OSError:
        return None
    # a cheap look before parsing: most pyproject files have no [tool.pynomaly] table
    if "tool.pynomaly" not in text and "[tool]" not in text:
        return None
    data = _parse_toml(text, pyproject)
    if isinstance(data.get("tool"), dict) and "pynomaly" in data["tool"]:
        return Source("project", pyproject, "tool.pynomaly")
    return None


def candidate_files(explicit: str | os.PathLike[str] | None = None) -> list[tuple[str, Path]]:
    """Every file pynomaly looks at, lowest layer first, whether it exists or not."""
    out: list[tuple[str, Path]] = []
    user = user_file()
    if user is not None:
        out.append(("user", user))
    found = project_file()
    if found is not None:
        out.append(("project", found.path))
    else:
        out.append(("project", Path.cwd() / PROJECT_FILE))
    explicit = explicit or os.environ.get(ENV_CONFIG) or None
    if explicit:
        out.append(("--config", Path(explicit)))
    return out


def load(
    config_file: str | os.PathLike[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
) -> Configuration:
    """The merged configuration (see the module docstring for the order).

    ``config_file`` is the ``--config`` file (default: ``PYNOMALY_CONFIG``). Raises
    :class:`~pynomaly.errors.ConfigurationError` naming the file, the key and the rule broken.
    """
    env = os.environ if environ is None else environ
    values: dict[str, Value] = {key: Value(value, DEFAULT) for key, value in DEFAULTS.items()}
    files: list[Source] = []
    user = user_file() if environ is None else _user_from(env)
    if user is not None and user.is_file():
        files.append(Source("user", user))
    project = project_file()
    if project is not None:
        files.append(project)
    explicit = config_file or env.get(ENV_CONFIG) or None
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            flag = "--config" if config_file else ENV_CONFIG
            raise ConfigurationError(f"{flag} {path}: no such file")
        files.append(Source("--config", path))
    for source in files:
        for key, value in _read(source):
            _put(values, key, value, source.label)
    for key, value, variable in _from_env(env):
        _put(values, key, value, f"environment {variable}")
    return Configuration(values, tuple(files))


def _user_from(env: Mapping[str, str]) -> Path | None:
    text = env.get(ENV_USER_CONFIG)
    if text is not None:
        return Path(text).expanduser() if text.strip() else None
    return user_file()


def _parse_toml(text: str, path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from None


def _document(source: Source) -> dict[str, Any]:
    path = source.path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigurationError(f"{path}: not UTF-8 text") from None
    if source.role == "--config" and path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigurationError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigurationError(f"{path}: expected a JSON object")
        if "detect" not in data and "plugins" not in data:
            # pynomaly 1.0's --config: {"NAME": {...}} meant plugin settings
            data = {"plugins": data}
        return data
    data = _parse_toml(text, path)
    if source.table:
        data = data["tool"]["pynomaly"]
        if not isinstance(data, dict):
            raise ConfigurationError(f"{path}: [tool.pynomaly] must be a table")
    return data


def _read(source: Source) -> Iterator[tuple[str, Any]]:
    """``(dotted key, checked value)`` of one file; relative plugin directories are made
    relative to the file's directory."""
    data = _document(source)
    where = source.label
    prefix = f"{source.table}." if source.table else ""
    for section, table in data.items():
        if section not in _SECTIONS:
            raise ConfigurationError(
                f"{where}: unknown table [{prefix}{section}]{_hint(section, _SECTIONS)} "
                f"(known: {', '.join(f'[{prefix}{s}]' for s in _SECTIONS)})"
            )
        if not isinstance(table, dict):
            raise ConfigurationError(f"{where}: {prefix}{section} must be a table")
        keys = _SECTIONS[section]
        for key, value in table.items():
            if section == "plugins" and isinstance(value, dict):
                for name, setting in value.items():
                    yield f"plugins.{key}.{name}", setting
                continue
            if key not in keys:
                extra = " (a plugin's settings go in a [plugins.NAME] table)" if (
                    section == "plugins") else ""
                raise ConfigurationError(
                    f"{where}: [{prefix}{section}] unknown key {key!r}{_hint(key, keys)} "
                    f"(known: {', '.join(keys)}){extra}"
                )
            try:
                checked = keys[key].check(value)
            except _Rule as rule:
                raise ConfigurationError(
                    f"{where}: [{prefix}{section}] {key}: {rule} (got {value!r})"
                ) from None
            if key == "plugins_dir" and source.role == "project":
                # a project file is whatever the working directory holds (a cloned repository,
                # an unpacked archive): naming its own plugins would run its code on the
                # first command there, which is what the opt-in plugins directory prevents
                raise ConfigurationError(
                    f"{where}: [{prefix}plugins] plugins_dir is not read from the working "
                    "directory's file (its plugins would run as code on any command here); "
                    "name the directory with --plugins-dir, PYNOMALY_PLUGINS_DIR, the user "
                    "file or --config FILE"
                )
            if key == "plugins_dir" and checked and not Path(checked).is_absolute():
                checked = str(source.path.parent / checked)
            yield f"{section}.{key}", checked


def _hint(word: str, known: Mapping[str, Any]) -> str:
    import difflib

    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _from_env(env: Mapping[str, str]) -> Iterator[tuple[str, Any, str]]:
    for section, keys in _SECTIONS.items():
        for key, spec in keys.items():
            if spec.env is None or spec.env not in env:
                continue
            text = env[spec.env]
            if key != "plugins_dir" and not text.strip():
                continue  # an empty variable is unset (PYNOMALY_PLUGINS_DIR= means "none")
            raw = spec.parse_env(text) if spec.parse_env else text
            try:
                yield f"{section}.{key}", spec.check(raw), spec.env
            except _Rule as rule:
                raise ConfigurationError(f"{spec.env}={text!r}: {rule}") from None


# --------------------------------------------------------------------------------------------
# Helpers for callers
# --------------------------------------------------------------------------------------------


def step_specs(steps: Sequence[Any]) -> list[tuple[str, dict[str, Any]]]:
    """``[detect] steps`` as ``(name, options)`` pairs for ``pynomaly.fit(steps=...)``.

    A string is ``NAME`` or ``NAME:KEY=VALUE;KEY=VALUE`` (values parsed as JSON, else kept as
    text), as the CLI's ``--step``; a table is ``{name = NAME, KEY = VALUE, ...}``.
    """
    out: list[tuple[str, dict[str, Any]]] = []
    for step in steps:
        if isinstance(step, dict):
            options = {k: v for k, v in step.items() if k != "name"}
            out.append((step["name"], options))
            continue
        name, _, rest = step.partition(":")
        options = {}
        for item in filter(None, rest.split(";")):
            key, sep, raw = item.partition("=")
            if not sep or not key:
                raise ConfigurationError(f"step {step!r}: expected NAME:KEY=VALUE;KEY=VALUE")
            try:
                options[key.strip()] = json.loads(raw)
            except json.JSONDecodeError:
                options[key.strip()] = raw
        out.append((name, options))
    return out


def check_plugin_tables(pm: PluginManager, config: Configuration) -> list[str]:
    """Warnings about ``[plugins.NAME]`` tables for which no plugin NAME exists (with the
    closest name); each is also logged. A table is checked against its plugin's JSON Schema
    when the plugin loads: an invalid one makes the plugin fail, the reason naming the file,
    the key and the schema rule (as any plugin failure, fatal in strict mode)."""
    from pynomaly._log import get_logger

    tables = config.plugin_configs()
    if not tables:
        return []
    records = {r.name for r in pm.discover()}
    warnings = []
    for name in tables:
        if name not in records:
            warning = (
                f"{config.plugin_origin(name)}: [plugins.{name}]: no plugin named {name!r}"
                f"{_hint(name, dict.fromkeys(records))}; its settings are not used"
            )
            get_logger("pynomaly.config").warning("%s", warning)
            warnings.append(warning)
    return warnings


__all__ = [
    "DETECT_KEYS",
    "PLUGINS_KEYS",
    "Configuration",
    "Key",
    "Source",
    "Value",
    "candidate_files",
    "check_plugin_tables",
    "load",
    "mask_value",
    "project_file",
    "seed",
    "step_specs",
    "user_file",
]
