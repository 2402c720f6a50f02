"""Built-in data source plugin ``samples``: small real datasets shipped with pynomaly.

``sample:wbc`` is the Wisconsin breast cancer data as used in outlier-detection benchmarks:
357 benign cases and 21 malignant ones (the anomalies), 30 features. The label column
``is_malignant`` is left out unless the query asks for ``{"labels": True}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from typing import Any

from pynomaly._version import __version__
from pynomaly.errors import DataError
from pynomaly.markers import hookimpl
from pynomaly.types import Connection, PluginMetadata, PluginType, SourceInfo

SAMPLES = {"wbc": ("wbc.csv.gz", "is_malignant")}


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="samples",
        version=__version__,
        plugin_types=[PluginType.DATA_SOURCE],
        author="pynomaly",
        description="bundled sample datasets (sample:wbc)",
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_data_sources() -> list[SourceInfo]:
    return [
        SourceInfo(
            "sample",
            f"bundled datasets: {', '.join(SAMPLES)}",
            schemes=("sample",),
            uris=tuple(f"sample:{name}" for name in SAMPLES),
        )
    ]


@hookimpl
def pynomaly_connect(uri: str, options: Mapping[str, Any]) -> str | None:
    if not uri.startswith("sample:"):
        return None
    name = uri[len("sample:") :]
    if name not in SAMPLES:
        raise DataError(
            f"{uri}: no such sample (available: {', '.join('sample:' + s for s in SAMPLES)})"
        )
    return name


@hookimpl
def pynomaly_read_data(connection: Connection, query: Mapping[str, Any]) -> Any:
    import pandas as pd

    file_name, label = SAMPLES[connection.handle]
    with resources.as_file(resources.files("pynomaly.samples") / file_name) as path:
        frame = pd.read_csv(path, index_col=0)
    return frame if {**connection.options, **query}.get("labels") else frame.drop(columns=label)


@hookimpl
def pynomaly_get_schema(connection: Connection) -> dict[str, str]:
    frame = pynomaly_read_data(connection, {})
    return {str(c): str(t) for c, t in frame.dtypes.items()}


@hookimpl
def pynomaly_test_connection(connection: Connection) -> bool:
    return (resources.files("pynomaly.samples") / SAMPLES[connection.handle][0]).is_file()
