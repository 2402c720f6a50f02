"""Built-in data source plugin ``files``: CSV, Parquet, JSON Lines and Excel files.

- CSV: ``.csv``, ``.tsv`` and their ``.gz`` versions; options ``delimiter``, ``encoding``
  (default UTF-8, a byte-order mark is skipped), ``index_col``, ``text_columns`` (read as
  text whatever they look like; scoring batch by batch passes the model's text columns).
- Parquet: a ``.parquet``/``.pq`` file, or a directory of Parquet files read as one dataset.
- JSON Lines: ``.jsonl``/``.ndjson`` (optionally ``.gz``), one JSON object per row.
- Excel: ``.xlsx`` (needs openpyxl: ``pip install 'pynomaly[excel]'``); option ``sheet``.
- Standard input: the source ``-``, CSV, JSON Lines or Parquet, told from its first bytes
  (``PAR1``: Parquet; ``{``: JSON Lines; else CSV) unless option ``input_format`` says.
  ``input_format`` also reads a file whose name does not tell its format.

CSV, Parquet and JSON Lines are also read in batches (``pynomaly_read_batches``) so that
scoring a large file never holds it all in memory. pandas and pyarrow are imported inside the
hooks, so listing plugins stays fast.
"""

from __future__ import annotations

import io
import re
import sys
import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pynomaly._version import __version__
from pynomaly.errors import DataError
from pynomaly.markers import hookimpl
from pynomaly.types import Connection, PluginMetadata, PluginType, SourceInfo

SUFFIXES = {
    "csv": (".csv", ".csv.gz", ".tsv", ".tsv.gz"),
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz"),
    "excel": (".xlsx", ".xlsm"),
}
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")  # two letters at least: C:\ is a path


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="files",
        version=__version__,
        plugin_types=[PluginType.DATA_SOURCE],
        author="pynomaly",
        description="CSV, Parquet, JSON Lines and Excel files",
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_data_sources() -> list[SourceInfo]:
    return [
        SourceInfo("csv", "delimited text, optionally gzipped", extensions=SUFFIXES["csv"]),
        SourceInfo(
            "parquet", "Apache Parquet file or directory of files", extensions=SUFFIXES["parquet"]
        ),
        SourceInfo("jsonl", "JSON Lines, one object per row", extensions=SUFFIXES["jsonl"]),
        SourceInfo("excel", "Excel workbook (needs openpyxl)", extensions=SUFFIXES["excel"]),
    ]


def kind_of(path: Path | Stdin, fmt: str | None = None) -> str | None:
    """The file kind of ``path``: ``fmt`` if given, else from its name (a directory of
    Parquet files is parquet); standard input's from its first bytes."""
    if isinstance(path, Stdin):
        return path.kind
    if fmt is not None:
        return fmt
    name = path.name.lower()
    for kind, suffixes in SUFFIXES.items():
        if name.endswith(suffixes):
            return kind
    if path.is_dir() and any(path.glob("*.parquet")):
        return "parquet"
    return None


STDIN = "-"
STDIN_NAME = "<stdin>"
_READABLE = ("csv", "jsonl", "parquet")


class Stdin:
    """Standard input as a data source: its format (given, or told from its first bytes)
    and a binary stream that still holds those bytes."""

    def __init__(self, fmt: str | None) -> None:
        import io

        raw = sys.stdin.buffer
        head = raw.read(4096)  # enough to tell; given back to the readers below
        self.stream: Any = io.BufferedReader(_Prefixed(head, raw))
        self.kind = fmt or _sniff(head)

    @property
    def name(self) -> str:
        return STDIN_NAME


def _sniff(head: bytes) -> str:
    if not head.strip():
        raise DataError(f"{STDIN_NAME}: no data on standard input")
    if head.startswith(b"\x1f\x8b"):
        raise DataError(f"{STDIN_NAME}: gzip-compressed data: pipe it through gunzip first")
    if head.startswith(b"PAR1"):
        return "parquet"
    return "jsonl" if head.lstrip().startswith(b"{") else "csv"


class _Prefixed(io.RawIOBase):
    """A raw stream that reads ``head`` first, then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: Any) -> None:
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read1(len(buffer)) if hasattr(self._stream, "read1") else (
            self._stream.read(len(buffer)))
        buffer[: len(data)] = data
        return len(data)


@hookimpl
def pynomaly_connect(uri: str, options: Mapping[str, Any]) -> Path | Stdin | None:
    fmt = options.get("input_format")
    if fmt is not None and fmt not in _READABLE:
        raise DataError(f"input_format {fmt!r}: expected one of {', '.join(_READABLE)}")
    if uri == STDIN:
        return Stdin(fmt)
    if uri.startswith("file://"):
        uri = uri[len("file://") :]
    elif _SCHEME.match(uri):
        return None
    path = Path(uri)
    if not path.exists():
        if kind_of(path) is not None or not path.suffix or fmt is not None:
            raise DataError(f"{uri}: no such file or directory")
        return None
    if kind_of(path, fmt) is None:
        if path.is_dir():
            raise DataError(f"{uri}: is a directory without Parquet files")
        return None
    return path


@hookimpl
def pynomaly_read_data(connection: Connection, query: Mapping[str, Any]) -> Any:
    path: Path | Stdin = connection.handle
    opts = {**connection.options, **query}
    kind = kind_of(path, opts.get("input_format"))
    source = path.stream if isinstance(path, Stdin) else path
    with _reading(path, kind):
        if kind == "csv":
            return _read_csv(path, opts)  # read_csv applies index_col itself
        import pandas as pd

        if kind == "jsonl":
            frame = pd.read_json(source, lines=True)
        elif kind == "excel":
            frame = _read_excel(path, opts)
        elif isinstance(path, Stdin):  # Parquet needs to seek: read it whole
            import io

            frame = pd.read_parquet(io.BytesIO(path.stream.read()), columns=opts.get("columns"))
        else:
            frame = pd.read_parquet(path, columns=opts.get("columns"))
        return _indexed(frame, opts, path)


def _indexed(frame: Any, opts: Mapping[str, Any], path: Path | Stdin) -> Any:
    """``frame`` indexed by the ``index_col`` option's column, if given."""
    column = opts.get("index_col")
    if column is None or column is False:
        return frame
    if column not in frame.columns:
        shown = ", ".join(map(str, frame.columns[:10]))
        raise DataError(f"{path}: index column {column!r} not found (columns: {shown})")
    return frame.set_index(column)


@hookimpl
def pynomaly_read_batches(
    connection: Connection, query: Mapping[str, Any], batch_size: int
) -> Iterator[Any] | None:
    path: Path | Stdin = connection.handle
    opts = {**connection.options, **query}
    kind = kind_of(path, opts.get("input_format"))
    if kind == "excel" or (kind == "parquet" and isinstance(path, Stdin)):
        return None  # openpyxl reads whole workbooks anyway; Parquet on a pipe cannot seek
    return _batches(path, kind, opts, batch_size)


def _batches(
    path: Path | Stdin, kind: str | None, opts: Mapping[str, Any], size: int
) -> Iterator[Any]:
    import pandas as pd

    with _reading(path, kind):
        if kind == "parquet":
            assert isinstance(path, Path)
            import pyarrow.dataset as ds

            start = 0
            for batch in ds.dataset(path, format="parquet").to_batches(batch_size=size):
                frame = _indexed(batch.to_pandas(), opts, path)
                if isinstance(frame.index, pd.RangeIndex):  # a stored index is kept as it is
                    frame.index = pd.RangeIndex(start, start + len(frame))
                start += len(frame)
                yield frame
            return
        reader = (
            _read_csv(path, opts, chunksize=size)
            if kind == "csv"
            else pd.read_json(
                path.stream if isinstance(path, Stdin) else path, lines=True, chunksize=size
            )
        )
        with reader:
            for frame in reader:
                yield frame if kind == "csv" else _indexed(frame, opts, path)


@contextmanager
def _reading(path: Path | Stdin, kind: str | None) -> Iterator[None]:
    """Turn the many ways a file can be unreadable into one-line :class:`DataError`s."""
    try:
        yield
    except DataError:
        raise
    except Exception as exc:
        raise _unreadable(path, kind, exc) from None


def _unreadable(path: Path | Stdin, kind: str | None, exc: Exception) -> DataError:
    import gzip
    import zlib

    import pandas as pd

    where = f"{path}: cannot read as {kind}"
    if isinstance(exc, pd.errors.EmptyDataError):
        return DataError(f"{path}: file is empty")
    if isinstance(exc, pd.errors.ParserWarning):
        return DataError(f"{path}: ragged rows: a row has more fields than the header")
    if isinstance(exc, UnicodeDecodeError):
        return DataError(f"{where}: not {exc.encoding} text (pass --encoding, e.g. latin-1)")
    if isinstance(exc, (gzip.BadGzipFile, EOFError, zlib.error)):
        return DataError(f"{where}: corrupt or truncated compressed data")
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return DataError(f"{where}: {first}")


def _read_csv(path: Path | Stdin, opts: Mapping[str, Any], **kwargs: Any) -> Any:
    import pandas as pd

    tab = path.name.lower().endswith((".tsv", ".tsv.gz"))
    source = path.stream if isinstance(path, Stdin) else path
    # index_col=False: a first row longer than the header is an error, not an index;
    # pandas only warns about it (and drops data), so the warning becomes the error.
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        return pd.read_csv(
            source,
            sep=opts.get("delimiter") or ("\t" if tab else ","),
            encoding=opts.get("encoding") or "utf-8-sig",  # utf-8-sig skips a BOM
            index_col=opts.get("index_col", False),
            # columns known to be text (a model's training input) are never re-typed per chunk
            dtype=dict.fromkeys(opts.get("text_columns") or (), "str") or None,
            **kwargs,
        )


def _read_excel(path: Path | Stdin, opts: Mapping[str, Any]) -> Any:
    import importlib.util

    import pandas as pd

    if importlib.util.find_spec("openpyxl") is None:
        raise DataError(f"{path}: reading Excel needs openpyxl: pip install 'pynomaly[excel]'")
    return pd.read_excel(path, sheet_name=opts.get("sheet", 0), engine="openpyxl")


@hookimpl
def pynomaly_get_schema(connection: Connection) -> dict[str, str]:
    path: Path | Stdin = connection.handle
    if isinstance(path, Path) and kind_of(path, connection.options.get("input_format")) == (
        "parquet"
    ):
        import pyarrow.dataset as ds

        return {f.name: str(f.type) for f in ds.dataset(path, format="parquet").schema}
    frame = pynomaly_read_data(connection, {})
    return {str(c): str(t) for c, t in frame.dtypes.items()}


@hookimpl
def pynomaly_test_connection(connection: Connection) -> bool:
    path: Path | Stdin = connection.handle
    if isinstance(path, Stdin):
        return True
    try:
        if path.is_file():
            with path.open("rb") as fh:
                fh.read(1)
    except OSError as exc:
        raise DataError(f"{path}: cannot open: {exc.strerror}") from None
    return True


def estimate_rows(source: str, sample: int = 1 << 20) -> int | None:
    """About how many rows the file ``source`` holds, cheaply, for an ETA: exact for Parquet
    (its metadata), estimated from the first ``sample`` bytes for uncompressed CSV and JSON
    Lines; ``None`` for anything else (compressed files, databases, standard input)."""
    path = Path(source[len("file://") :] if source.startswith("file://") else source)
    kind = kind_of(path) if source != STDIN and not _SCHEME.match(source) else None
    if kind is None or not path.is_file() or path.name.lower().endswith(".gz"):
        return None
    try:
        if kind == "parquet":
            import pyarrow.parquet as pq

            return int(pq.ParquetFile(path).metadata.num_rows)
        if kind not in ("csv", "jsonl"):
            return None
        size = path.stat().st_size
        with path.open("rb") as fh:
            head = fh.read(sample)
    except Exception:  # an estimate is never worth an error
        return None
    lines = head.count(b"\n")
    if not lines:
        return None
    if len(head) >= size:
        rows = lines if head.endswith(b"\n") else lines + 1
    else:
        rows = round(lines * size / len(head))
    return max(0, rows - (1 if kind == "csv" else 0))  # the CSV header


@hookimpl
def pynomaly_write_data(
    connection: Connection, data: Any, destination: str, options: Mapping[str, Any]
) -> bool:
    from pynomaly.builtin.atomic import atomic_write

    kind = kind_of(Path(destination))
    if kind not in ("csv", "parquet", "jsonl"):
        known = SUFFIXES["csv"] + SUFFIXES["parquet"] + SUFFIXES["jsonl"]
        raise DataError(f"{destination}: unknown file type (use {', '.join(known)})")

    def write(tmp: Path) -> None:
        gz = "gzip" if destination.endswith(".gz") else None
        if kind == "csv":
            data.to_csv(tmp, compression=gz)
        elif kind == "jsonl":
            data.to_json(tmp, orient="records", lines=True, compression=gz)
        else:
            data.to_parquet(tmp)

    atomic_write(destination, write, overwrite=bool(options.get("overwrite")))
    return True
