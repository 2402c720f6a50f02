"""Data sources: which plugin opens a path or URI, and reading and writing through it.

Hooks that take a ``connection`` are offered only to the plugin that opened it (see
:mod:`pynomaly.plugin.calls`), which must answer.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pynomaly.errors import InputError, PluginError, SourceNotFoundError
from pynomaly.redact import mask_uri
from pynomaly.services import listed
from pynomaly.types import Connection, SourceInfo

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from pynomaly.plugin.manager import PluginManager


def data_sources(pm: PluginManager) -> list[SourceInfo]:
    """Every data source of every loaded plugin, with the plugin's name filled in."""
    return listed(pm, "pynomaly_data_sources")


def connect(pm: PluginManager, uri: str, options: Mapping[str, Any] | None = None) -> Connection:
    """Open ``uri`` with the first data-source plugin that accepts it."""
    options = dict(options or {})
    plugin, handle = pm.answer("pynomaly_connect", uri=uri, options=options)
    # a connection, its errors and results never carry a password
    shown = "<stdin>" if uri == "-" else mask_uri(uri)
    if plugin is None:
        sources = data_sources(pm)
        kinds = sorted(
            {f"{s}:" for src in sources for s in src.schemes}
            | {e for src in sources for e in src.extensions}
        )
        raise SourceNotFoundError(
            f"{shown}: no data source plugin reads this (known: {', '.join(kinds)})"
        )
    return Connection(uri=shown, plugin=plugin, handle=handle, options=options)


def read_data(
    pm: PluginManager, connection: Connection, query: Mapping[str, Any] | None = None
) -> pd.DataFrame:
    """The whole data of ``connection`` as one DataFrame."""
    return _owned(pm, connection, "pynomaly_read_data", query=dict(query or {}))


def read_batches(
    pm: PluginManager,
    connection: Connection,
    batch_size: int,
    query: Mapping[str, Any] | None = None,
) -> Iterator[pd.DataFrame]:
    """Batches of ``batch_size`` rows, or the whole data as one batch if the owner plugin
    cannot read in batches."""
    if batch_size < 1:
        raise InputError(f"batch size must be at least 1, got {batch_size}")
    batches = pm.call(
        "pynomaly_read_batches",
        connection=connection,
        query=dict(query or {}),
        batch_size=batch_size,
    )
    if batches is None:
        return iter([read_data(pm, connection, query)])
    return iter(batches)


def write_data(
    pm: PluginManager,
    connection: Connection,
    data: pd.DataFrame,
    destination: str,
    options: Mapping[str, Any] | None = None,
) -> bool:
    """Write ``data`` to ``destination`` through ``connection``'s plugin."""
    return bool(
        _owned(
            pm,
            connection,
            "pynomaly_write_data",
            data=data,
            destination=destination,
            options=dict(options or {}),
        )
    )


def get_schema(pm: PluginManager, connection: Connection) -> dict[str, str]:
    """Column names and types of ``connection``'s data."""
    return dict(_owned(pm, connection, "pynomaly_get_schema"))


def test_connection(pm: PluginManager, connection: Connection) -> bool:
    """Whether ``connection``'s data can be reached (its plugin raises a DataError if not)."""
    return bool(_owned(pm, connection, "pynomaly_test_connection"))


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a test for pytest


def _owned(pm: PluginManager, connection: Connection, hook: str, **kwargs: Any) -> Any:
    result = pm.call(hook, connection=connection, **kwargs)
    if result is None:
        raise PluginError(
            connection.plugin, hook, f"returned None for its own connection {connection.uri}"
        )
    return result
