"""Saving and loading fitted models (pickle, written atomically).

A model file is a pickle: load only files you trust, as with any pickle (scikit-learn and
PyOD models are saved the same way).
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from pynomaly.builtin.atomic import atomic_write
from pynomaly.detection.results import Model
from pynomaly.errors import InputError

MAGIC = "pynomaly-model"


def save_model(model: Model, path: str | os.PathLike[str], *, overwrite: bool = False) -> None:
    """Write ``model`` to ``path`` atomically; an existing file is kept unless ``overwrite``."""
    payload = {"format": MAGIC, "version": 1, "model": model}
    atomic_write(path, lambda tmp: tmp.write_bytes(pickle.dumps(payload)), overwrite=overwrite)


def load_model(path: str | os.PathLike[str]) -> Model:
    """Read a model written by :func:`save_model` (a one-line :class:`InputError` otherwise)."""
    where = Path(path)
    try:
        data = where.read_bytes()
    except OSError as exc:
        raise InputError(f"{where}: cannot read model: {exc.strerror}") from None
    try:
        payload = pickle.loads(data)
    except Exception as exc:  # unpickling can raise almost anything on a foreign file
        raise InputError(f"{where}: not a pynomaly model file ({type(exc).__name__})") from None
    if not (isinstance(payload, dict) and payload.get("format") == MAGIC):
        raise InputError(f"{where}: not a pynomaly model file")
    model = payload["model"]
    if not isinstance(model, Model):
        raise InputError(f"{where}: not a pynomaly model file")
    return model
