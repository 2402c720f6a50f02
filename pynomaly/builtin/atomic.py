"""Atomic file writes: a temporary file in the target directory, then a rename."""

from __future__ import annotations

import contextlib
import os
import tempfile
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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(tmp_name)
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
