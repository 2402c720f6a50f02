"""The plugin-metadata cache: what the listing commands show, kept until anything changes.

``pynomaly plugins list``, ``detectors``, ``sources`` and ``steps`` need every plugin's
metadata, which takes importing every plugin module (and attrs, pluggy's registration,
``importlib.metadata``'s entry-point scan). Their answer only changes when the installed
plugins, their files or the settings change, so the first run stores it here and the next ones
print it without importing a single plugin module.

The key, checked on every lookup, is cheap to compute (a few hundred ``stat`` calls, no
parsing):

* the settings: pynomaly's and Python's versions, the interpreter, ``sys.path``, every
  ``PYNOMALY_*`` variable, the manager's arguments from the merged configuration
  (enable/disable lists, ``[plugins.NAME]`` tables, isolation ...) and the log level;
* the installed distributions: the names of the ``*.dist-info`` / ``*.egg-info``
  directories in each ``sys.path`` directory (pip and uv add or remove one on every install,
  upgrade and uninstall) and the modification time and size of each one's
  ``entry_points.txt`` (rewritten by a reinstall); not the directories' own times, which
  change whenever any file is created there (the working directory is on ``sys.path`` under
  ``python -m``);
* the local plugins directory when one is named: its ``*.py`` files' names, times and sizes;
* the files of every module imported while the answer was computed (the plugin modules and
  what they import, so an edited editable install or local plugin is seen), and the files in
  the tracebacks of plugins that failed to import.

Entries are JSON (a cache file can never run code), written atomically, one file per distinct
settings in ``plugins/`` of pynomaly's user cache directory (``PYNOMALY_CACHE_DIR`` if set).
An unreadable, corrupt or foreign entry is a miss, never an error. ``PYNOMALY_NO_PLUGIN_CACHE=1``
turns the cache off. Only listings read it: anything that runs a hook for real (detect, score,
health checks) discovers and imports plugins as always.

This module imports only the standard library: it runs before anything else is imported.
"""

from __future__ import annotations

import json
import os
import stat
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any

ENV_OFF = "PYNOMALY_NO_PLUGIN_CACHE"
ENV_DIR = "PYNOMALY_CACHE_DIR"
#: bumped when what an entry holds changes, so that old entries are misses
FORMAT = 1
#: entries kept (one per distinct settings); the least recently written go first
MAX_ENTRIES = 16

_DIST_SUFFIXES = (".dist-info", ".egg-info")


def enabled() -> bool:
    """Whether the cache may be used (``PYNOMALY_NO_PLUGIN_CACHE`` not set to a true value)."""
    return os.environ.get(ENV_OFF, "").strip().lower() not in ("1", "true", "yes", "on")


def directory() -> str:
    """``plugins`` in ``PYNOMALY_CACHE_DIR``, else in pynomaly's user cache directory."""
    env = os.environ.get(ENV_DIR, "").strip()
    if env:
        return os.path.join(os.path.expanduser(env), "plugins")
    import platformdirs

    return os.path.join(platformdirs.user_cache_dir("pynomaly", appauthor=False), "plugins")


def _stat(path: str) -> list[int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [st.st_mtime_ns, st.st_size]


def installed_state(plugins_dir: str | None = None) -> list[Any]:
    """What pip, uv or an edited plugins directory change: see the module docstring."""
    state: list[Any] = []
    for entry in sys.path:
        path = entry or os.getcwd()
        try:
            st = os.stat(path)
        except OSError:
            state.append([entry])
            continue
        item: list[Any] = [entry]
        if stat.S_ISDIR(st.st_mode):
            try:
                with os.scandir(path) as found:
                    names = sorted(e.name for e in found if e.name.endswith(_DIST_SUFFIXES))
            except OSError:
                names = []
            for name in names:
                item.append([name, _stat(os.path.join(path, name, "entry_points.txt"))])
        else:  # a zip file on sys.path
            item += [st.st_mtime_ns, st.st_size]
        state.append(item)
    if plugins_dir:
        where = os.path.abspath(plugins_dir)
        files: list[Any] = [where, _stat(where)]
        try:
            with os.scandir(where) as found:
                names = sorted(e.name for e in found if e.name.endswith(".py"))
        except OSError:
            names = []
        files += [[name, _stat(os.path.join(where, name))] for name in names]
        state.append(files)
    return state


def _files_state(files: list[str]) -> list[Any]:
    return [_stat(path) for path in files]


class Lookup:
    """One command's view of the cache: :meth:`get` a section, or compute it and :meth:`put`.

    ``settings`` is everything besides the installed files that the answer depends on (see
    :func:`settings_of`); it must be JSON-serializable (other values are written as text).
    """

    def __init__(self, settings: Mapping[str, Any], plugins_dir: str | None = None) -> None:
        self.settings = json.dumps(settings, sort_keys=True, default=str)
        self.installed = installed_state(plugins_dir)
        # a short, stable name per distinct settings (hash() is salted per process)
        import zlib

        digest = zlib.crc32(self.settings.encode()) ^ (zlib.adler32(self.settings.encode()) << 32)
        self.path = os.path.join(directory(), f"plugins-{digest:016x}.json")
        self._entry: dict[str, Any] | None = None
        self._modules: set[str] = set()

    def _read(self) -> dict[str, Any] | None:
        """The entry if it is valid for these settings and this installed state."""
        if self._entry is not None:
            return self._entry
        try:
            with open(self.path, encoding="utf-8") as fh:
                entry = json.load(fh)
            if (
                entry.get("format") != FORMAT
                or entry.get("settings") != self.settings
                or entry.get("installed") != json.loads(json.dumps(self.installed))
            ):
                return None
            files = entry["files"]
            if entry["files_state"] != _files_state(files):
                return None
            if not isinstance(entry.get("sections"), dict):
                return None
        except Exception:  # missing, unreadable, corrupt, foreign: a miss
            return None
        self._entry = entry
        return entry

    def get(self, section: str, *, replay: bool = True) -> Any | None:
        """The cached ``section`` (``"plugins"``, ``"detectors"`` ...), or ``None``. The log
        messages recorded when it was computed are emitted again first (unless ``replay`` is
        false: shell completion prints nothing)."""
        entry = self._read()
        if entry is None or section not in entry["sections"]:
            return None
        found = entry["sections"][section]
        try:
            payload, messages = found["payload"], found["log"]
            if payload is None:
                return None
            if messages and replay:
                import logging

                for name, level, text in messages:
                    logging.getLogger(name).log(level, "%s", text)
        except Exception:
            return None
        return payload

    @contextmanager
    def computing(self) -> Iterator[list[list[Any]]]:
        """Around the real computation of a section: records pynomaly's log messages (still
        shown as they would be) and which modules were imported."""
        import logging

        before = set(sys.modules)
        logger = logging.getLogger("pynomaly")
        handler = _recorder(fallback=not logger.hasHandlers())
        logger.addHandler(handler)
        try:
            yield handler.messages
        finally:
            logger.removeHandler(handler)
            self._modules |= set(sys.modules) - before

    def put(
        self, section: str, payload: Any, messages: list[list[Any]], tracebacks: str = ""
    ) -> Any:
        """Store ``section`` (``payload`` as JSON, non-JSON values as text) and return it as
        it will be read back, so that a computed and a cached answer print the same. Never
        raises: a cache that cannot be written is just not used."""
        stored = json.loads(json.dumps(payload, default=str))
        try:
            entry = self._read() or {
                "format": FORMAT,
                "settings": self.settings,
                "installed": self.installed,
                "files": [],
                "files_state": [],
                "sections": {},
            }
            files = (
                set(entry["files"]) | _module_files(self._modules) | _traceback_files(tracebacks)
            )
            entry["files"] = sorted(files)
            entry["files_state"] = _files_state(entry["files"])
            entry["sections"][section] = {"payload": stored, "log": messages}
            _write(self.path, json.dumps(entry))
            self._entry = entry
        except Exception:  # a read-only or full cache directory: no cache
            pass
        return stored


def _module_files(names: set[str]) -> set[str]:
    """The source files of the modules ``names``, the standard library's left out (it
    changes only with Python, whose version is in the key)."""
    import sysconfig

    paths = sysconfig.get_paths()
    stdlib = tuple(os.path.join(paths[k], "") for k in ("stdlib", "platstdlib"))
    site = tuple(os.path.join(paths[k], "") for k in ("purelib", "platlib"))
    files = set()
    for name in names:
        path = getattr(sys.modules.get(name), "__file__", None)
        if not isinstance(path, str) or not os.path.isabs(path):
            continue
        if path.startswith(stdlib) and not path.startswith(site):
            continue
        files.add(path)
    return files


def _traceback_files(text: str) -> set[str]:
    """Files named in formatted tracebacks: a plugin that failed to import is not in
    ``sys.modules``, but fixing its file must show at once."""
    import re

    return {
        path
        for path in re.findall(r'^\s*File "([^"]+)", line \d+', text, flags=re.MULTILINE)
        if os.path.isabs(path)
    }


def _write(path: str, text: str) -> None:
    """Write atomically (a temporary file renamed over the entry); keep at most
    :data:`MAX_ENTRIES` entries."""
    import tempfile

    folder = os.path.dirname(path)
    os.makedirs(folder, mode=0o700, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".plugins-", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with suppress(OSError):
            os.unlink(tmp)
        raise
    entries = []
    with os.scandir(folder) as found:
        for e in found:
            if e.name.startswith("plugins-") and e.name.endswith(".json"):
                try:
                    entries.append((e.stat().st_mtime_ns, e.path))
                except OSError:
                    continue
    for _, old in sorted(entries)[: max(0, len(entries) - MAX_ENTRIES)]:
        if old != path:
            with suppress(OSError):
                os.unlink(old)


def lookup_for(manager_arguments: Mapping[str, Any], *, quiet: bool, verbose: int) -> Lookup:
    """The lookup of a ``pynomaly`` command whose plugin manager would be made with
    ``manager_arguments`` and whose log level is set by ``-q`` / ``-v``."""
    return Lookup(
        settings_of(manager_arguments, quiet=quiet, verbose=verbose),
        manager_arguments.get("plugins_dir") or None,
    )


def settings_of(manager_arguments: Mapping[str, Any], **more: Any) -> dict[str, Any]:
    """The settings part of the key: the manager's arguments, ``more`` (the CLI's log level),
    every ``PYNOMALY_*`` variable, and what identifies the interpreter and pynomaly."""
    from pynomaly._version import __version__

    return {
        "pynomaly": __version__,
        "python": sys.version,
        "executable": sys.executable,
        "prefix": sys.prefix,
        "path": list(sys.path),
        "environment": {
            k: v
            for k, v in os.environ.items()
            if k.startswith("PYNOMALY_") and k not in (ENV_OFF, ENV_DIR)
        },
        "manager": dict(manager_arguments),
        **more,
    }


def _recorder(fallback: bool) -> Any:
    """A logging handler (made on first use: logging is imported only on a miss) that keeps
    ``[logger, level, message]`` of each record; with ``fallback``, also prints what Python's
    last-resort handler would have printed had this handler not been there."""
    import logging

    from pynomaly.redact import mask_text

    class Recorder(logging.Handler):
        def __init__(self) -> None:
            super().__init__()
            self.messages: list[list[Any]] = []

        def emit(self, record: logging.LogRecord) -> None:
            # stored masked (a message may quote a URL with its password); shown masked anyway
            text = mask_text(record.getMessage())
            self.messages.append([record.name, record.levelno, text])
            last = logging.lastResort
            if fallback and last is not None and record.levelno >= last.level:
                last.handle(record)

    return Recorder()
