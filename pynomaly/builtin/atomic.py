"""Atomic file writes: a temporary file in the target directory, then a rename.

The temporary file is ``.NAME.HOST-PID.RANDOM.tmp`` beside the destination ``NAME`` (``HOST``
is a short hash of the host name, ``PID`` the writing process). It is flushed to disk before the
rename and the directory after it, so that after a crash or power loss the destination holds
either its old content or the whole new one — never a prefix. A process killed while writing
(``kill -9``, out of memory) leaves its temporary file behind; the next write to the same
destination removes it when it is provably stale: written by a process of this host that is no
longer running, or last modified more than :data:`STALE_AFTER` seconds ago (a file of another
host sharing the directory over NFS, whose processes cannot be checked). Only files of exactly
this pattern, regular files owned by the current user, are ever removed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from pynomaly.errors import InputError

#: Age (seconds) after which a temporary file of any process is taken as abandoned: far longer
#: than any write pynomaly makes.
STALE_AFTER = 24 * 3600.0


class AtomicFile:
    """A new temporary file beside ``destination`` that becomes ``destination`` in one step.

    Write to :attr:`path` (in as many calls as needed: a streamed output appends batch by
    batch), then :meth:`commit`; :meth:`discard` (or any exception inside a ``with`` block)
    removes the temporary file and leaves ``destination`` untouched. Without ``overwrite`` an
    existing destination is an :class:`InputError`, checked when the file is opened and again,
    atomically (a hard link fails if the name exists), when it is committed::

        with pynomaly.AtomicFile("scores.csv", overwrite=False) as out:
            for chunk in chunks:
                append(out.path, chunk)
    """

    def __init__(self, destination: str | os.PathLike[str], *, overwrite: bool) -> None:
        dest = Path(destination)
        if dest.is_dir():
            raise InputError(f"{dest}: is a directory, expected a file name")
        if not dest.parent.is_dir():
            raise InputError(f"{dest}: directory {dest.parent} does not exist")
        if dest.exists() and not overwrite:
            raise InputError(
                f"{dest}: already exists (use --overwrite / overwrite=True to replace it)"
            )
        remove_stale_temporaries(dest)
        self.destination = dest
        self.overwrite = overwrite
        self.path = _new_temporary(dest)  # what to write to
        self._done = False

    def commit(self) -> None:
        """Move the temporary file to the destination (never over an existing file unless
        ``overwrite``); the temporary file is gone afterwards either way."""
        if self._done:
            return
        self._done = True
        try:
            _fsync_file(self.path)  # the data is on disk before the name points at it
            if self.overwrite:
                os.replace(self.path, self.destination)
            else:
                try:
                    os.link(self.path, self.destination)  # fails if it appeared: never clobber
                except FileExistsError:
                    raise InputError(
                        f"{self.destination}: already exists (use --overwrite to replace it)"
                    ) from None
                except OSError:  # file systems without hard links
                    os.replace(self.path, self.destination)
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        _fsync_directory(self.destination.parent)  # the rename itself is on disk

    def discard(self) -> None:
        """Remove the temporary file; the destination is left as it was."""
        self._done = True
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> AtomicFile:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.discard()


def atomic_write(
    destination: str | os.PathLike[str], write: Callable[[Path], object], *, overwrite: bool
) -> None:
    """Call ``write(tmp_path)``, then move the result to ``destination`` in one step.

    On any failure the temporary file is removed and ``destination`` is untouched. Without
    ``overwrite`` an existing destination is an :class:`InputError`, checked atomically (a
    hard link fails if the name exists) where the file system allows it. The new file and
    its directory are flushed to disk (``fsync``) around the rename; stale temporary files of
    interrupted writes to the same destination are removed first. To write in several steps,
    use :class:`AtomicFile`.
    """
    with AtomicFile(destination, overwrite=overwrite) as out:
        write(out.path)


def remove_stale_temporaries(destination: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporary files that interrupted writes to ``destination`` left behind,
    and return them (see the module documentation for when a file counts as stale)."""
    dest = Path(destination)
    pattern = re.compile(
        rf"\.{re.escape(dest.name)}\.(?:(?P<host>[0-9a-f]{{8}})-(?P<pid>\d+)\.)?[0-9a-f]{{12}}\.tmp"
    )
    removed: list[Path] = []
    try:
        candidates = list(dest.parent.glob(f".{_glob_escape(dest.name)}.*.tmp"))
    except OSError:
        return removed
    now, uid = time.time(), _euid()
    for path in candidates:
        match = pattern.fullmatch(path.name)
        if match is None:
            continue
        try:
            info = path.lstat()
        except OSError:
            continue
        if not _is_regular(info.st_mode) or (uid is not None and info.st_uid != uid):
            continue  # never follow a link, never touch another user's file
        old = now - info.st_mtime > STALE_AFTER
        dead = match["host"] == _host() and not _alive(int(match["pid"]))
        if (old or dead) and int(match["pid"] or -1) != os.getpid():
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed


def _new_temporary(dest: Path) -> Path:
    """A new empty file beside ``dest``, created with mode 0666 minus the umask (what a plain
    ``open()`` gives; ``mkstemp`` would make the result 0600)."""
    while True:
        tmp = dest.parent / f".{dest.name}.{_host()}-{os.getpid()}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_directory(directory: Path) -> None:
    """Flush a directory's entries; a no-op where directories cannot be opened (Windows)."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:  # some file systems refuse fsync on directories; the rename still holds
        pass
    finally:
        os.close(fd)


@functools.cache
def _host() -> str:
    """8 hex digits identifying this host (a hash: the name itself stays out of file names)."""
    import hashlib
    import socket

    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def _alive(pid: int) -> bool:
    """Whether a process ``pid`` runs on this host (``True`` when that cannot be told)."""
    if pid <= 0 or os.name == "nt":  # on Windows os.kill(pid, 0) would terminate it
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):  # another user's process, or no signals (Windows)
        return True
    return True


def _euid() -> int | None:
    return os.geteuid() if hasattr(os, "geteuid") else None


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _glob_escape(name: str) -> str:
    import glob

    return glob.escape(name)
