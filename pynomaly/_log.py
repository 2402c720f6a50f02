"""Loggers that import :mod:`logging` on first use.

``logging`` costs ~5 ms to import, a twentieth of ``pynomaly plugins list``; the plugin host and
the built-in plugins only log when something goes wrong, so they pay for it only then.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import logging


class _LazyLogger:
    __slots__ = ("_name",)

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attribute: str) -> Any:
        import logging

        return getattr(logging.getLogger(self._name), attribute)


def get_logger(name: str) -> logging.Logger:
    """A stand-in for ``logging.getLogger(name)`` that imports logging when first used."""
    return _LazyLogger(name)  # type: ignore[return-value]
