"""Built-in data source plugin ``files``: CSV, Parquet, JSON Lines and Excel files.

- CSV: ``.csv``, ``.tsv`` and their ``.gz`` versions; options ``delimiter``, ``encoding``
  (default UTF-8, a byte-order mark is skipped), ``index_col``, ``text_columns`` (read as
  text whatever they look like; scoring batch by batch passes the model's text columns),
  ``engine`` (``pandas``, the default; ``pyarrow``, where it reads exactly what pandas reads).
- Parquet: a ``.parquet``/``.pq`` file, or a directory of Parquet files read as one dataset.
- JSON Lines: ``.jsonl``/``.ndjson`` (optionally ``.gz``), one JSON object per row.
- Excel: ``.xlsx`` (needs openpyxl: ``pip install 'pynomaly[excel]'``); option ``sheet``.
- Standard input: the source ``-``, CSV, JSON Lines or Parquet, told from its first bytes
  (``PAR1``: Parquet; ``{``: JSON Lines; else CSV) unless option ``input_format`` says.
  ``input_format`` also reads a file whose name does not tell its format.

CSV, Parquet and JSON Lines are also read in batches (``pynomaly_read_batches``) so that
scoring a large file never holds it all in memory. pandas and pyarrow are imported inside the
hooks, so listing plugins stays fast.

A whole CSV file is read by pandas' ``read_csv`` (its C parser): on numeric files it costs less
CPU than pyarrow's multi-threaded reader plus the checks that make pyarrow's result exactly
pandas' (0.7 against 1.3–1.5 CPU s for 1M × 20 floats; docs/performance.md). ``engine=pyarrow``
reads with pyarrow where that gives exactly what pandas gives (the same columns, dtypes,
values, missing values and index) and with pandas otherwise (see :func:`_arrow_csv` for what
is checked): its threads may win wall-clock on a machine with many idle cores. CSV batches
are read by pandas' chunked reader, which types each chunk on its own (pyarrow's streaming
reader fixes the types from the first block). Parquet goes through pyarrow straight into the
frame, whose float64 columns become the detector's matrix without another copy.
"""

from __future__ import annotations

import functools
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
            arrow = _engine(path, opts) == "pyarrow"
            # a pipe is read by pandas: pyarrow's reader is given files
            frame = _arrow_csv(path, opts) if arrow and isinstance(path, Path) else None
            # read_csv applies index_col itself
            return frame if frame is not None else _read_csv(path, opts)
        import pandas as pd

        if kind == "jsonl":
            frame = pd.read_json(source, lines=True)
        elif kind == "excel":
            frame = _read_excel(path, opts)
        elif isinstance(path, Stdin):  # Parquet needs to seek: read it whole
            frame = pd.read_parquet(io.BytesIO(path.stream.read()), columns=opts.get("columns"))
        else:
            frame = _read_parquet(path, opts.get("columns"))
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
            start = 0
            for batch in _parquet_batches(path, size):
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


def _parquet_batches(path: Path, size: int) -> Iterator[Any]:
    """Record batches of a Parquet file or directory (as one dataset: its files in order, its
    columns in order) read file by file, one row group at a time. The dataset scanner reads
    ahead across files, and its peak memory grew with their number (1M rows in 4 files:
    501 MiB, 2M rows in 8: 634 MiB; this way 277 and 309 MiB)."""
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    dataset = ds.dataset(path, format="parquet")
    names = dataset.schema.names
    for name in dataset.files:
        with pq.ParquetFile(name) as file:
            yield from file.iter_batches(batch_size=size, columns=names)


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


# pandas' default missing-value spellings (read_csv's na_values), given to pyarrow as its own
PANDAS_NA = (
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
    "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
)  # fmt: skip


def _memory_pool() -> Any:
    """The system allocator: pyarrow's default (mimalloc) returns memory to the system so
    eagerly that on some virtual machines reading a file costs as much system time as
    parsing it."""
    import pyarrow as pa

    return pa.system_memory_pool()


def _arrow_csv(path: Path, opts: Mapping[str, Any]) -> Any:
    """The whole CSV file read by pyarrow, or ``None`` when pandas would read it differently
    (then pandas reads it, and raises its own errors).

    pyarrow is told pandas' rules where it has the option (missing-value spellings, empty
    strings as missing, ``True``/``False`` spellings, text columns); what it does not know is
    checked after reading: duplicate column names (pandas renames them) and a range of
    unusual values send the file to pandas — a column pandas types otherwise (text pyarrow
    took for numbers, such as ``0x1F``; integers written ``+5`` that pyarrow took for floats;
    text it took for numbers or dates), booleans with gaps (pandas makes them objects) —
    while unnamed columns get pandas' ``Unnamed: N`` names, columns pyarrow read as dates or
    times are read again as text and empty columns become float NaN, as in pandas.
    """
    import pyarrow as pa
    import pyarrow.csv as pcsv

    tab = path.name.lower().endswith((".tsv", ".tsv.gz"))
    delimiter = opts.get("delimiter") or ("\t" if tab else ",")
    index_col = opts.get("index_col", False)
    encoding = opts.get("encoding") or "utf-8"
    if (
        len(delimiter) != 1  # pandas takes a longer one as a regular expression
        or delimiter in "\"\r\n"
        or not (index_col is None or index_col is False or isinstance(index_col, str))
    ):
        return None
    if encoding.lower().replace("_", "-") in ("utf-8-sig", "utf8-sig"):
        encoding = "utf-8"  # pyarrow skips a byte-order mark itself
    text_columns = list(opts.get("text_columns") or ())

    def read(as_text: list[str]) -> Any:
        return pcsv.read_csv(
            path,
            read_options=pcsv.ReadOptions(encoding=encoding),
            parse_options=pcsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pcsv.ConvertOptions(
                column_types=dict.fromkeys(as_text, pa.string()),
                null_values=list(PANDAS_NA),
                strings_can_be_null=True,
                true_values=["True", "TRUE", "true"],
                false_values=["False", "FALSE", "false"],
            ),
            memory_pool=_memory_pool(),
        )

    try:
        table = read(text_columns)
        dated = [f.name for f in table.schema if _is_temporal(f.type)]
        if dated:  # pandas leaves dates and times as text
            table = read([*text_columns, *dated])
    except (pa.ArrowException, OSError, UnicodeError, ValueError):
        return None  # pandas reads it, or says what is wrong in its own words
    names = _pandas_names(table.column_names)
    if names is None or table.num_rows == 0:
        return None
    table = table.rename_columns(names)
    columns = []
    hex_free = functools.cache(lambda: not _has_hex(path))
    for field, column in zip(table.schema, table.columns, strict=True):
        typed = _as_pandas_types(field, column, text=field.name in text_columns, hex_free=hex_free)
        if typed is None:
            return None
        columns.append(typed)
    table = pa.table(columns, names=names)
    del columns  # the table holds the only references: to_pandas frees each column converted
    frame = table.to_pandas(self_destruct=True)
    del table
    if index_col is not None and index_col is not False:
        if index_col not in frame.columns:
            return None  # pandas' own error
        frame = frame.set_index(index_col)
    return frame


def _engine(path: Path | Stdin, opts: Mapping[str, Any]) -> str:
    """The ``engine`` option: ``pandas`` (the default) or ``pyarrow`` (where exact)."""
    engine = str(opts.get("engine") or "pandas").lower()
    if engine not in ("pyarrow", "pandas"):
        raise DataError(f"{path}: engine {engine!r} is not pyarrow or pandas")
    return engine


def _is_temporal(dtype: Any) -> bool:
    import pyarrow.types as pat

    return bool(pat.is_temporal(dtype))


def _pandas_names(names: list[str]) -> list[str] | None:
    """Column names as pandas gives them (``Unnamed: N`` for an empty one), or ``None`` for
    duplicates, which pandas renames ``a``, ``a.1`` …"""
    named = [name if name else f"Unnamed: {n}" for n, name in enumerate(names)]
    return named if len(set(named)) == len(named) else None


def _as_pandas_types(field: Any, column: Any, *, text: bool, hex_free: Any) -> Any:
    """``column`` as it must be for ``to_pandas`` to give what pandas' reader gives, or
    ``None`` when pyarrow typed it otherwise than pandas would."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.types as pat

    dtype = field.type
    is_text = pat.is_string(dtype) or pat.is_large_string(dtype)
    if text:  # read as text on request (a renamed "Unnamed: N" column may have escaped that)
        return column if is_text else None
    if is_text:
        return column if _pandas_sees_text(column) else None
    if pat.is_null(dtype):  # every value missing: float NaN for pandas
        return column.cast(pa.float64())
    if pat.is_boolean(dtype):
        return column if column.null_count == 0 else None  # pandas: objects with NaN
    if pat.is_int64(dtype):
        return column if hex_free() else None
    if pat.is_float64(dtype):
        # every value whole: pandas says int64 if none was written with a point or an
        # exponent ("+5" is a float to pyarrow), which only the text can tell
        whole = (
            column.null_count == 0
            and pc.all(pc.is_finite(column)).as_py()
            and pc.all(pc.equal(column, pc.floor(column))).as_py()
        )
        return None if whole else column
    return None


def _pandas_sees_text(column: Any) -> bool:
    """Whether pandas' parser, given this column's distinct values, would keep them as text
    (not numbers nor booleans)."""
    import pandas as pd
    import pyarrow.compute as pc

    values = pc.unique(column.drop_null()).to_pylist()
    if not values:
        return True
    quoted = "\n".join('"' + str(v).replace('"', '""') + '"' for v in values)
    probe = pd.read_csv(io.StringIO("x\n" + quoted), dtype=None, keep_default_na=True)
    return not (
        pd.api.types.is_numeric_dtype(probe["x"]) or pd.api.types.is_bool_dtype(probe["x"])
    )


def _has_hex(path: Path) -> bool:
    """Whether an uncompressed file holds ``0x``/``0X`` anywhere (pyarrow reads ``0x1F`` as
    the integer 31, pandas as text); a compressed one is assumed to."""
    import mmap

    if path.name.lower().endswith(".gz"):
        return True
    with path.open("rb") as fh:
        if path.stat().st_size == 0:
            return False
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            return data.find(b"0x") >= 0 or data.find(b"0X") >= 0


def _read_parquet(path: Path, columns: Any) -> Any:
    """A Parquet file or directory as pandas' ``read_parquet`` gives it, converted column by
    column as pyarrow lets go of its buffers (``self_destruct``): the data is held once, not
    twice, on its way into the frame."""
    import pyarrow.parquet as pq

    table = pq.read_table(path, columns=columns, use_pandas_metadata=True)
    return table.to_pandas(self_destruct=True)


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
