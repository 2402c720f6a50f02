"""Built-in data source plugin ``files``: CSV (optionally gzipped) and Parquet files.

pandas and pyarrow are imported inside the hooks, so listing plugins stays fast.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pynomaly._version import __version__
from pynomaly.errors import DataError
from pynomaly.markers import hookimpl
from pynomaly.types import Connection, PluginMetadata, PluginType, SourceInfo

CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv")
PARQUET_SUFFIXES = (".parquet", ".pq")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # two letters at least: C:\ is a path


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="files",
        version=__version__,
        plugin_types=[PluginType.DATA_SOURCE],
        author="pynomaly",
        description="CSV and Parquet files",
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_data_sources() -> list[SourceInfo]:
    return [
        SourceInfo("csv", "comma-separated text, optionally gzipped", extensions=CSV_SUFFIXES),
        SourceInfo(
            "parquet", "Apache Parquet file or directory of files", extensions=PARQUET_SUFFIXES
        ),
    ]


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(CSV_SUFFIXES):
        return "csv"
    if name.endswith(PARQUET_SUFFIXES) or (path.is_dir() and any(path.glob("*.parquet"))):
        return "parquet"
    return None


@hookimpl
def pynomaly_connect(uri: str, options: Mapping[str, Any]) -> Path | None:
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    elif _SCHEME.match(uri):
        return None
    path = Path(uri)
    if not path.exists():
        if _kind(path) is not None or not path.suffix:
            raise DataError(f"{uri}: no such file or directory")
        return None
    if _kind(path) is None:
        if path.is_dir():
            raise DataError(f"{uri}: is a directory without Parquet files")
        return None
    return path


@hookimpl
def pynomaly_read_data(connection: Connection, query: Mapping[str, Any]) -> Any:
    import pandas as pd

    path: Path = connection.handle
    opts = {**connection.options, **query}
    try:
        if _kind(path) == "csv":
            sep = opts.get("delimiter", "\t" if path.name.lower().endswith(".tsv") else ",")
            # index_col=False: a first row longer than the header is an error, not an index;
            # pandas only warns about it (and drops data), so the warning becomes the error.
            with warnings.catch_warnings():
                warnings.simplefilter("error", pd.errors.ParserWarning)
                return pd.read_csv(path, sep=sep, index_col=opts.get("index_col", False))
        return pd.read_parquet(path, columns=opts.get("columns"))
    except pd.errors.ParserWarning:
        raise DataError(f"{path}: ragged rows: a row has more fields than the header") from None
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: cannot read as {_kind(path)}: {first}") from None
    except Exception as exc:  # pyarrow's errors do not share a base with the ones above
        raise DataError(
            f"{path}: cannot read as {_kind(path)}: {type(exc).__name__}: {exc}"
        ) from None


@hookimpl
def pynomaly_get_schema(connection: Connection) -> dict[str, str]:
    path: Path = connection.handle
    if _kind(path) == "parquet":
        import pyarrow.parquet as pq

        schema = pq.read_schema(path) if path.is_file() else pq.ParquetDataset(path).schema
        return {f.name: str(f.type) for f in schema}
    frame = pynomaly_read_data(connection, {})
    return {str(c): str(t) for c, t in frame.dtypes.items()}


@hookimpl
def pynomaly_test_connection(connection: Connection) -> bool:
    path: Path = connection.handle
    if path.is_file():
        with path.open("rb") as fh:
            fh.read(1)
    return True


@hookimpl
def pynomaly_write_data(
    connection: Connection, data: Any, destination: str, options: Mapping[str, Any]
) -> bool:
    from pynomaly.builtin.atomic import atomic_write

    kind = _kind(Path(destination))
    if kind is None:
        raise DataError(
            f"{destination}: unknown file type (use {', '.join(CSV_SUFFIXES + PARQUET_SUFFIXES)})"
        )

    def write(tmp: Path) -> None:
        if kind == "csv":
            data.to_csv(tmp, compression="gzip" if destination.endswith(".gz") else None)
        else:
            data.to_parquet(tmp)

    atomic_write(destination, write, overwrite=bool(options.get("overwrite")))
    return True
