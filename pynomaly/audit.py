"""The audit log: one JSON object per line for each security-relevant event.

Off unless a path is set, with ``PYNOMALY_AUDIT_LOG=PATH``, ``pynomaly --audit-log PATH`` or
:func:`configure`. Each record is written with a single ``write`` on a descriptor opened with
``O_APPEND``, so the records of concurrent processes never interleave within a line, and the
file is created with mode 0600. A record holds what happened and to what (plugin names,
origins, file paths, digests, whether a model was trusted) — never data values — and every
string in it passes through :func:`pynomaly.redact.mask_text`, so credentials that reach an
error message never reach the log.

Events written by pynomaly: ``plugins.discover`` (the selection settings), ``plugin.import``,
``plugin.load``, ``plugin.fail``, ``plugin.disable``, ``key.create``, ``model.save``,
``model.load``, ``model.refuse``. Other parts (process isolation, for one) add their own with
:func:`record`.
"""

from __future__ import annotations

import json
import os
import threading
from typing import Any

from pynomaly.errors import InputError

ENV_AUDIT_LOG = "PYNOMALY_AUDIT_LOG"

_lock = threading.Lock()
_configured: str | None = None  # set by configure(); else the environment decides


def configure(path: str | os.PathLike[str] | None) -> None:
    """Write audit records to ``path`` from now on (``None``: back to ``PYNOMALY_AUDIT_LOG``;
    an empty string: no audit log even if the variable is set)."""
    global _configured
    _configured = None if path is None else os.fspath(path)


def destination() -> str | None:
    """Where records go now, or ``None`` when the audit log is off."""
    path = _configured if _configured is not None else os.environ.get(ENV_AUDIT_LOG)
    return path or None


def record(event: str, **fields: Any) -> None:
    """Append one record ``{"time", "pid", "event", **fields}`` to the audit log, if on.

    ``fields`` must be JSON-ready scalars, lists or mappings of them. An audit log that cannot
    be written is an :class:`~pynomaly.errors.InputError` naming it: asked-for auditing is
    never silently skipped.
    """
    path = destination()
    if path is None:
        return
    import time

    from pynomaly.redact import mask_text

    entry = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "pid": os.getpid(),
        "event": event,
        **fields,
    }
    line = mask_text(json.dumps(entry, default=str, sort_keys=False)) + "\n"
    data = line.encode("utf-8")
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    with _lock:
        try:
            fd = os.open(path, flags, 0o600)
        except OSError as exc:
            raise InputError(
                f"audit log {path} ({ENV_AUDIT_LOG} / --audit-log): cannot open: {exc.strerror}"
            ) from None
        try:
            written = os.write(fd, data)  # one write: O_APPEND places it whole at the end
        except OSError as exc:
            raise InputError(f"audit log {path}: cannot write: {exc.strerror}") from None
        finally:
            os.close(fd)
    if written != len(data):  # pragma: no cover - a full disk
        raise InputError(f"audit log {path}: short write ({written} of {len(data)} bytes)")
