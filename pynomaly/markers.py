"""Hook markers: ``hookspec`` marks the specifications, ``hookimpl`` the implementations;
:func:`is_mine`, the first line of an owner hook; :func:`import_module` for heavy imports.

Plugin authors import :data:`pynomaly.hookimpl`; this module stays tiny so that importing it
from a plugin module costs nothing but pluggy.
"""

from __future__ import annotations

import importlib
import sys
import threading
import time
from collections.abc import Callable, Container
from contextvars import ContextVar
from types import ModuleType

import pluggy

PROJECT_NAME = "pynomaly"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)



def is_mine(detector_id: str, owned: str | Container[str]) -> bool:
    """Whether ``detector_id`` is one of yours: in your namespace (``owned="robustz"`` owns
    ``robustz:mad``) or among your ids (``owned=DETECTORS``, a set or mapping of full ids).

    Owner hooks (fit, score, validate_parameters, explain) are called on every plugin and
    only the owner answers; every other plugin returns ``None``. That is one line::

        @hookimpl
        def pynomaly_fit(detector_id, X, params, contamination, random_state):
            if not pynomaly.is_mine(detector_id, "robustz"):
                return None
            ...
    """
    if isinstance(owned, str):
        namespace, colon, _ = detector_id.partition(":")
        return bool(colon) and namespace == owned
    return detector_id in owned


_IMPORT_LOCK = threading.RLock()


def import_module(name: str) -> ModuleType:
    """:func:`importlib.import_module` under one process-wide lock: how plugins should import
    a heavy library inside a hook.

    Hooks run in several threads (services, :mod:`pynomaly.aio`). Two threads importing a
    library with import cycles for the first time at once — scikit-learn is one — can see a
    partially initialized module ("cannot import name 'clone' from partially initialized module
    'sklearn.base'"); importing through this lock cannot.
    """
    observe = first_use.get()
    if observe is None or name in sys.modules:
        with _IMPORT_LOCK:
            return importlib.import_module(name)
    # a first import within a reported phase: a cost worth showing as such
    observe(f"importing {name}", None)
    start = time.perf_counter()
    with _IMPORT_LOCK:
        module = importlib.import_module(name)
    observe(f"importing {name}", time.perf_counter() - start)
    return module


#: Set by :class:`pynomaly.progress.Tracker` while a phase runs: told of first-use costs,
#: ``(what, None)`` before and ``(what, seconds)`` after.
first_use: ContextVar[Callable[[str, float | None], None] | None] = ContextVar(
    "pynomaly_first_use", default=None
)


__all__ = ["PROJECT_NAME", "hookimpl", "hookspec", "import_module", "is_mine"]
