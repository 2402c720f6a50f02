"""Atomic file writes: a temporary file in the target directory, then a rename."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from pynomaly.errors import InputError


def atomic_write(
    destination: str | os.PathLike[str], write: Callable[[Path], object], *, overwrite: bool
) -> None:
    """Call ``write(tmp_path)``, then move the result to ``destination`` in one step.

    On any failure the temporary file is removed and ``destination`` is untouched. Without
    ``overwrite`` an existing destination is an :class:`InputError`, checked atomically (a
    hard link fails if the name exists) where the file system allows it.
    """
    dest = Path(destination)
    if dest.is_dir():
        raise InputError(f"{dest}: is a directory, expected a file name")
    if not dest.parent.is_dir():
        raise InputError(f"{dest}: directory {dest.parent} does not exist")
    if dest.exists() and not overwrite:
        raise InputError(f"{dest}: already exists (use --overwrite / overwrite=True to replace it)")
    tmp = _new_temporary(dest)
    try:
        write(tmp)
        if overwrite:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # fails if dest appeared meanwhile: never clobber
            except FileExistsError:
                raise InputError(
                    f"{dest}: already exists (use --overwrite to replace it)"
                ) from None
            except OSError:  # file systems without hard links
                os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


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
