"""Atomic file writes: a temporary file in the target directory, then a rename."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from pynomaly.errors import InputError


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
    hard link fails if the name exists) where the file system allows it. To write in several
    steps, use :class:`AtomicFile`.
    """
    with AtomicFile(destination, overwrite=overwrite) as out:
        write(out.path)


def _new_temporary(dest: Path) -> Path:
    """A new empty file beside ``dest``, created with mode 0666 minus the umask (what a plain
    ``open()`` gives; ``mkstemp`` would make the result 0600)."""
    while True:
        tmp = dest.parent / f".{dest.name}.{secrets.token_hex(6)}.tmp"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return tmp
