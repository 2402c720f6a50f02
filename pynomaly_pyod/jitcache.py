"""An on-disk cache for PyOD's numba-compiled functions, so that they compile once per machine.

PyOD decorates its numba functions with a bare ``@njit`` (HBOS's scoring loop, ECOD's ECDF
ties, LOCI, SOS, LMDD, ROD, ABOD, QMCD): numba compiles them again in every process, which
costs a ``pynomaly detect -d pyod:hbos`` far more than the detection itself. ``NUMBA_CACHE_DIR``
alone changes nothing: it only says *where* functions declared ``cache=True`` are cached. What
``cache=True`` does, :meth:`numba.core.dispatcher.Dispatcher.enable_caching`, can be done after
the import instead, before the first call: :func:`enable` does it for every dispatcher of the
imported ``pyod`` modules, with their cache under pynomaly's user cache directory
(``platformdirs.user_cache_dir("pynomaly")``, else ``$XDG_CACHE_HOME/pynomaly`` or
``~/.cache/pynomaly``; ``numba`` inside it), unless ``NUMBA_CACHE_DIR`` names another. numba
keys each cached function by its source file's content, signature and CPU, and compiles as
before where it cannot write a cache. This module imports only the standard library.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path
from typing import Any

_lock = threading.Lock()
_seen: set[str] = set()
# len(sys.modules) at the last scan: scanning every module costs about 1 ms, paid per fit and
# per score; a new PyOD module always makes sys.modules longer (modules are rarely removed)
_scanned_at = -1


def cache_dir() -> Path:
    """Where PyOD's compiled functions are kept (``NUMBA_CACHE_DIR`` takes precedence)."""
    try:
        from platformdirs import user_cache_dir
    except ImportError:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pynomaly"
    else:
        base = Path(user_cache_dir("pynomaly"))
    return base / "numba"


def enable() -> int:
    """Enable on-disk caching of the numba functions of every imported ``pyod`` module not
    seen before; returns how many functions it enabled. Call it after importing a PyOD
    module, before its functions run: a function already compiled in this process is left
    alone (numba writes the cache when it compiles)."""
    global _scanned_at
    if "numba" not in sys.modules:  # no PyOD module that uses numba has been imported
        return 0
    if len(sys.modules) == _scanned_at:  # nothing imported since the last scan
        return 0
    from numba.core import config as numba_config
    from numba.core.dispatcher import Dispatcher

    config: Any = numba_config  # its settings are set from the environment at import

    enabled: set[int] = set()
    with _lock:
        _scanned_at = len(sys.modules)
        modules = [
            (name, module)
            for name, module in list(sys.modules.items())
            if (name == "pyod" or name.startswith("pyod.")) and name not in _seen
        ]
        if not modules:
            return 0
        own = not config.CACHE_DIR
        if own:  # the locator reads it when the cache is created: only ours are redirected
            config.CACHE_DIR = str(cache_dir())
        try:
            for name, module in modules:
                _seen.add(name)
                for value in list(vars(module).values()):
                    if (
                        isinstance(value, Dispatcher)
                        and not value.overloads
                        and id(value) not in enabled
                    ):
                        try:
                            value.enable_caching()
                        except (OSError, RuntimeError):  # no writable place: compile as before
                            continue
                        enabled.add(id(value))
        finally:
            if own:
                config.CACHE_DIR = ""
    return len(enabled)
