"""Built-in output plugin ``outputs``: console table and JSON text, CSV/JSON/JSON Lines/Parquet
files, and notifications to the log.

Text formats (``pynomaly_format_output``):

* ``table``: the top anomalies as a plain-text (no ANSI codes) rich table, with the features
  that drive each row's score, then a one-line summary. Options: ``top`` (rows, 10),
  ``features`` (contributing features per row, 3; 0 for none), ``width`` (characters, 100).
* ``json``: ``{"summary": {...}, "top": [{"index", "anomaly_score", "is_anomaly",
  "contributions"?}, ...]}``. Options: ``top``, ``features``.
* ``jsonl``: the ``top`` records of ``json``, one compact object per line, no summary.

File formats (``pynomaly_export_data``), one record per input row in input order, written
atomically (temporary file, then rename) and never over an existing file unless
``options["overwrite"]``; the destination ``-`` is standard output:

* ``csv`` (``.csv``, ``.csv.gz``): index, ``anomaly_score``, ``is_anomaly``.
* ``json`` (``.json``): ``{"summary": {...}, "rows": [{"index", "anomaly_score",
  "is_anomaly"}, ...]}``.
* ``jsonl`` (``.jsonl``, ``.ndjson``): one ``{"index", "anomaly_score", "is_anomaly"}``
  object per line.
* ``parquet`` (``.parquet``): like csv.
"""

from __future__ import annotations

import contextlib
import errno
import io
import json
import math
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from pynomaly._log import get_logger
from pynomaly._version import __version__
from pynomaly.errors import InputError
from pynomaly.markers import hookimpl
from pynomaly.types import OutputInfo, PluginMetadata, PluginType

log = get_logger("pynomaly.notify")

# formats this plugin writes, by file-name suffix (longest suffixes are matched as given)
FILE_FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".csv.gz"),
    "json": (".json",),
    "jsonl": (".jsonl", ".ndjson"),
    "parquet": (".parquet",),
}
# every format a destination's extension implies, including those of other built-in plugins
EXTENSIONS: dict[str, tuple[str, ...]] = {**FILE_FORMATS, "html": (".html", ".htm")}

# errors that mean "this destination cannot be written": the caller's input, not a crash
_INPUT_ERRNOS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT, errno.ENOTDIR, errno.EISDIR}


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="outputs",
        version=__version__,
        plugin_types=[PluginType.OUTPUT],
        author="pynomaly",
        description="console table, JSON, CSV, JSON Lines and Parquet results; log notifications",
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_outputs() -> list[OutputInfo]:
    return [
        OutputInfo("table", "top anomalies with their main contributing features (console)"),
        OutputInfo("json", "summary and every row's score and label as JSON", (".json",)),
        OutputInfo(
            "jsonl",
            "one JSON object per row: index, anomaly_score, is_anomaly",
            (".jsonl", ".ndjson"),
        ),
        OutputInfo(
            "csv", "one row per input row: index, anomaly_score, is_anomaly", (".csv", ".csv.gz")
        ),
        OutputInfo("parquet", "like csv, as Parquet", (".parquet",)),
    ]


# --------------------------------------------------------------------------------------------
# Shared helpers (also used by the report and webhook plugins)
# --------------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A JSON-ready version of an index value or number (numpy scalars, tuples, timestamps)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    if hasattr(value, "isoformat"):  # datetime, pandas Timestamp
        return value.isoformat()
    item = getattr(value, "item", None)
    if callable(item):
        try:
            return plain(item())
        except (TypeError, ValueError):
            pass
    return str(value)


def summary_line(result: Any) -> str:
    """One line: rows, anomalies, threshold, detector, source, time, ROC AUC / AP if known."""
    s = result.summary()
    rule = getattr(result.model, "threshold_rule", None)
    if rule is None or rule.kind == "contamination":
        how = f"contamination {s['contamination']:g}"
    else:
        how = f"{rule.kind} {rule.value:g}"  # the threshold did not come from contamination
    line = (
        f"{s['rows']} rows, {s['anomalies']} anomalies ({how}, "
        f"threshold {s['threshold']:.6g}) — {s['detector']} on {s['source']} "
        f"in {s['seconds']:.2f} s{_split(s.get('timings') or {})}"
    )
    metrics = [
        f"{label} {result.metrics[key]:.3f}"
        for key, label in (("roc_auc", "ROC AUC"), ("average_precision", "AP"))
        if key in result.metrics
    ]
    return line + (" — " + ", ".join(metrics) if metrics else "")


def _split(timings: Mapping[str, float]) -> str:
    """`` (read 0.05, fit 1.20, write 0.01 s; first use 4.8 s)``: the time of each phase."""
    phases = [f"{name} {seconds:.2f}" for name, seconds in timings.items() if name != "first_use"]
    if not phases:
        return ""
    first = timings.get("first_use", 0.0)
    extra = f"; first use {first:.2f} s" if first >= 0.01 else ""
    return f" ({', '.join(phases)} s{extra})"


def top_contributors(
    result: Any, n: int, features: int
) -> tuple[list[list[tuple[str, float]]], str | None]:
    """For the ``n`` top rows, in the order of ``result.top(n)``, their ``features`` most
    contributing features (positive contributions only, largest first); and why there are
    none, if so. By position, so that a duplicated index cannot mix rows up."""
    if features <= 0 or n <= 0:
        return [], None
    if result.data is None:
        return [], "no input data in this result"
    try:
        contributions = result.contributions(n)
    except Exception as exc:  # an explanation must never break the output itself
        log.debug("contributions failed", exc_info=True)
        return [], f"contributions unavailable: {type(exc).__name__}: {exc}"
    out: list[list[tuple[str, float]]] = []
    for _, row in contributions.iterrows():
        best = row[row > 0].sort_values(ascending=False, kind="stable").head(features)
        out.append([(str(name), float(value)) for name, value in best.items()])
    return out, None


def top_records(result: Any, n: int, features: int = 0) -> list[dict[str, Any]]:
    """The ``n`` highest-scoring rows as JSON-ready dicts; with ``features`` > 0 each has a
    ``contributions`` mapping (feature → score contribution) when the data allows it."""
    rows = result.top(n)[["anomaly_score", "is_anomaly"]]
    contributors, _ = top_contributors(result, n, features)
    records = []
    for position, (idx, score, label) in enumerate(
        zip(rows.index, rows["anomaly_score"].tolist(), rows["is_anomaly"].tolist(), strict=True)
    ):
        record: dict[str, Any] = {
            "index": plain(idx),
            "anomaly_score": float(score),
            "is_anomaly": int(label),
        }
        if contributors:
            record["contributions"] = dict(contributors[position])
        records.append(record)
    return records


def _json_document(result: Any, top: int, features: int = 0) -> dict[str, Any]:
    return {"summary": result.summary(), "top": top_records(result, top, features)}


def _row_records(result: Any) -> Any:
    """Every row as ``{"index", "anomaly_score", "is_anomaly"}``, in input order (a generator)."""
    for idx, score, label in zip(
        result.index.tolist(), result.scores.tolist(), result.labels.tolist(), strict=True
    ):
        yield {"index": plain(idx), "anomaly_score": float(score), "is_anomaly": int(label)}


# --------------------------------------------------------------------------------------------
# Text
# --------------------------------------------------------------------------------------------


def _table(result: Any, top: int, features: int, width: int) -> str:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text  # cells as Text: "[" in a column name is not markup

    frame = result.top(top)
    contributors, why_not = top_contributors(result, top, features)
    truth = None
    if result.y_true is not None and result.index.is_unique:
        truth = result.y_true.reindex(frame.index)
    rows: list[list[str]] = []
    for rank, (idx, score, label) in enumerate(
        zip(frame.index, frame["anomaly_score"], frame["is_anomaly"], strict=True), start=1
    ):
        cells = [str(rank), str(idx), f"{score:.6g}", "yes" if label else "no"]
        if truth is not None:
            value = truth.get(idx)
            cells.append("?" if value is None or value != value else str(int(value)))
        rows.append(cells)
    headers = ["#", str(frame.index.name or "row"), "anomaly_score", "anomaly"]
    if truth is not None:
        headers.append("label")
    below: list[str] = []  # contributions listed under the table when it is too narrow
    if contributors:
        texts = [
            [f"{name} ({value:+.3g})" for name, value in contributors[position]]
            for position in range(len(frame))
        ]
        # one line per row when it fits beside the other columns, else one feature per line
        others = sum(
            max(len(c) for c in [h, *col]) + 3 for h, *col in zip(headers, *rows, strict=True)
        )
        longest = max((len(", ".join(t)) for t in texts), default=0)
        room = width - others - 3
        if room >= 24:
            sep = ", " if longest <= room else "\n"
            headers.append("top contributing features")
            for cells, parts in zip(rows, texts, strict=True):
                cells.append(sep.join(parts) or "-")
        else:
            for cells, parts in zip(rows, texts, strict=True):
                head = f"  {cells[1]}: "
                for k, part in enumerate(parts or ["-"]):
                    below.append((head if k == 0 else " " * len(head)) + part)
    table = Table(
        title=Text(f"Top {len(frame)} anomalies"), title_justify="left", box=box.SIMPLE_HEAD
    )
    for n, header in enumerate(headers):
        if header == "top contributing features" and n == len(headers) - 1:
            table.add_column(Text(header), overflow="fold", ratio=1)
        elif header in ("anomaly", "label"):
            table.add_column(Text(header), justify="center", no_wrap=True)
        elif n == 2:  # the score: never folded
            table.add_column(
                Text(header), justify="right", min_width=max(len(r[2]) for r in rows or [[""] * 3])
            )
        else:
            table.add_column(Text(header), justify="right", overflow="fold")
    for cells in rows:
        table.add_row(*(Text(c) for c in cells))
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, color_system=None, force_terminal=False, highlight=False
    )
    console.print(table)
    if below:
        console.print(Text("Top contributing features:"))
        for line in below:
            console.print(Text(line), overflow="fold")
        console.print()
    if why_not and result.data is not None:
        console.print(f"({why_not})", soft_wrap=True, markup=False)
    console.print(summary_line(result), soft_wrap=True, markup=False)  # one line
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


@hookimpl
def pynomaly_format_output(result: Any, fmt: str, options: Mapping[str, Any]) -> str | None:
    top = int(options.get("top", 10))
    features = int(options.get("features", 3))
    if fmt == "json":
        return json.dumps(_json_document(result, top, features), indent=2, default=str)
    if fmt == "jsonl":
        return "".join(
            json.dumps(record, default=str) + "\n"
            for record in top_records(result, top, features)
        )
    if fmt != "table":
        return None
    return _table(result, top, features, int(options.get("width", 100)))


# --------------------------------------------------------------------------------------------
# Files, written batch by batch
# --------------------------------------------------------------------------------------------


def _json_rows(result: Any, fh: Any) -> None:
    fh.write('{"summary": ')
    fh.write(json.dumps(result.summary(), default=str))
    fh.write(', "rows": [')
    _write_records(fh, _row_records(result), first=True)
    fh.write("\n]}\n")


def _to_stdout(result: Any, fmt: str) -> None:
    """Every row to standard output, as it is written (a pipe's reader starts at once)."""
    import sys

    out = sys.stdout
    if fmt == "csv":
        result.to_frame().to_csv(out)
    elif fmt == "jsonl":
        _write_records(out, _row_records(result), first=None)
    elif fmt == "json":
        _json_rows(result, out)
    else:  # parquet: bytes
        out.flush()
        result.to_frame().to_parquet(out.buffer)
    out.flush()


@contextmanager
def _writing(destination: str) -> Iterator[None]:
    """Unwritable destinations (permissions, read-only file system …) as :class:`InputError`."""
    try:
        yield
    except OSError as exc:
        if exc.errno in _INPUT_ERRNOS:
            raise InputError(f"{destination}: cannot write: {exc.strerror or exc}") from exc
        raise


def write_file(destination: str, write: Any, options: Mapping[str, Any]) -> None:
    """``atomic_write`` with unwritable destinations reported as :class:`InputError`."""
    from pynomaly.builtin.atomic import atomic_write

    with _writing(destination):
        atomic_write(destination, write, overwrite=bool(options.get("overwrite")))


class _FileWriter:
    """A file written batch by batch into a temporary file that :meth:`close` moves into place
    (:class:`~pynomaly.AtomicFile`); :meth:`abort` removes it. Subclasses write the batches."""

    def __init__(self, destination: str, options: Mapping[str, Any]) -> None:
        from pynomaly.builtin.atomic import AtomicFile

        self.destination = destination
        with _writing(destination):
            self._file = AtomicFile(destination, overwrite=bool(options.get("overwrite")))

    def write(self, result: Any) -> None:
        try:
            with _writing(self.destination):
                self._write(result)
        except BaseException:
            self.abort()
            raise

    def close(self, result: Any) -> None:
        try:
            with _writing(self.destination):
                self._finish(result)
                self._file.commit()
        except BaseException:
            self.abort()
            raise

    def abort(self) -> None:
        try:
            self._release()
        finally:
            self._file.discard()

    def _write(self, result: Any) -> None:
        raise NotImplementedError

    def _finish(self, result: Any) -> None:
        self._release()

    def _release(self) -> None:
        """Close what is open, quietly (also after a failure)."""


class _CsvWriter(_FileWriter):
    """The index, ``anomaly_score`` and ``is_anomaly`` as pandas' ``to_csv`` writes them (the
    same fields, quoting and line ends; a score's digits are the shortest that read back as
    the same float64), formatted by pyarrow; an index pyarrow cannot format exactly as pandas
    (dates, floats, several levels …) is written by pandas."""

    def __init__(self, destination: str, options: Mapping[str, Any]) -> None:
        super().__init__(destination, options)
        self._fh: Any = self._file.path.open("wb")
        if destination.lower().endswith(".gz"):
            import gzip

            # level 6 (zlib's default): pandas' 9 takes twice the time for a few % of size
            self._fh = gzip.GzipFile(filename="", fileobj=self._fh, mode="wb", compresslevel=6)
        self._header = True

    def _write(self, result: Any) -> None:
        chunk = _csv_bytes(result.index, result.scores, result.labels, header=self._header)
        if chunk is None:  # an index only pandas formats as pandas does
            chunk = result.to_frame().to_csv(header=self._header).encode("utf-8")
        self._fh.write(chunk)
        self._header = False

    def _finish(self, result: Any) -> None:
        fh, self._fh = self._fh, None
        if fh is not None:
            raw = getattr(fh, "fileobj", None)
            fh.close()
            if raw is not None:
                raw.close()

    def _release(self) -> None:
        with contextlib.suppress(Exception):
            self._finish(None)


def _quote_triggers() -> str:
    """The characters that make Python's csv writer (which pandas uses) quote a field, with
    pandas' dialect: the delimiter, the quote character and those of the line terminator."""
    import csv

    found = ""
    for char in ',"\r\n':
        out = io.StringIO()
        csv.writer(out, lineterminator=os.linesep).writerow([f"a{char}b", "x"])
        if out.getvalue().startswith('"'):
            found += char
    return found


def _csv_bytes(index: Any, scores: Any, labels: Any, *, header: bool) -> bytes | None:
    """CSV text of one batch (with the header line first if ``header``), or ``None`` when the
    index is not one whose text pyarrow makes exactly as pandas does (one level of integers
    or strings)."""
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()

    def literal(value: str) -> Any:
        return pa.scalar(value, text)

    if isinstance(index, pd.MultiIndex):
        return None
    if pd.api.types.is_integer_dtype(index.dtype) and not pd.api.types.is_bool_dtype(index.dtype):
        keys = pc.fill_null(pc.cast(pa.array(index), text), literal(""))
    elif pd.api.types.infer_dtype(index, skipna=True) in ("string", "empty"):
        keys = _csv_fields(pc.cast(pa.array(index, from_pandas=True), text))
    else:
        return None
    numbers = pc.cast(pa.array(np.asarray(scores, dtype=np.float64)), text)
    # pyarrow writes 3.0 as "3": pandas' "3.0" keeps the column a float column when read back
    whole = pc.invert(pc.match_substring_regex(numbers, "[.eEn]"))
    numbers = pc.if_else(whole, pc.binary_join_element_wise(numbers, literal(".0"), literal("")),
                         numbers)
    flags = pc.cast(pa.array(np.asarray(labels)), text)
    lines = pc.binary_join_element_wise(
        pc.binary_join_element_wise(keys, numbers, flags, literal(",")),
        literal(os.linesep),
        literal(""),
    )
    head = b""
    if header:
        import csv

        out = io.StringIO()
        name = "" if index.name is None else index.name
        csv.writer(out, lineterminator=os.linesep).writerow([name, "anomaly_score", "is_anomaly"])
        head = out.getvalue().encode("utf-8")
    return head + _string_data(lines)


def _csv_fields(values: Any) -> Any:
    """Strings as CSV fields: quoted (quotes doubled) where pandas would quote them; a missing
    value as an empty field."""
    import re

    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.large_string()
    quote = pa.scalar('"', text)
    needs = pc.match_substring_regex(values, f"[{re.escape(_QUOTE_TRIGGERS)}]")
    quoted = pc.binary_join_element_wise(
        quote, pc.replace_substring(values, '"', '""'), quote, pa.scalar("", text)
    )
    return pc.fill_null(pc.if_else(needs, quoted, values), pa.scalar("", text))


def _string_data(strings: Any) -> bytes:
    """The characters of a pyarrow large-string array, one after the other."""
    import numpy as np

    if len(strings) == 0:
        return b""
    offsets = np.frombuffer(strings.buffers()[1], dtype=np.int64)
    start, stop = offsets[strings.offset], offsets[strings.offset + len(strings)]
    return bytes(memoryview(strings.buffers()[2])[start:stop])


_QUOTE_TRIGGERS = _quote_triggers()


class _JsonLinesWriter(_FileWriter):
    """One ``{"index", "anomaly_score", "is_anomaly"}`` object per line."""

    def __init__(self, destination: str, options: Mapping[str, Any]) -> None:
        super().__init__(destination, options)
        self._fh: Any = self._file.path.open("w", encoding="utf-8", newline="\n")

    def _write(self, result: Any) -> None:
        _write_records(self._fh, _row_records(result), first=None)

    def _release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class _JsonWriter(_FileWriter):
    """``{"summary": {...}, "rows": [...]}``: the rows are spooled to a temporary file as they
    come, and the document is put together when the summary is known."""

    def __init__(self, destination: str, options: Mapping[str, Any]) -> None:
        import tempfile

        super().__init__(destination, options)
        self._rows: Any = tempfile.TemporaryFile(  # noqa: SIM115 - closed in _release
            "w+", encoding="utf-8", dir=self._file.path.parent
        )
        self._first: bool | None = True

    def _write(self, result: Any) -> None:
        self._first = _write_records(self._rows, _row_records(result), first=self._first)

    def _finish(self, result: Any) -> None:
        import shutil

        with self._file.path.open("w", encoding="utf-8") as fh:
            fh.write('{"summary": ')
            fh.write(json.dumps(result.summary(), default=str))
            fh.write(', "rows": [')
            self._rows.seek(0)
            shutil.copyfileobj(self._rows, fh)
            fh.write("\n]}\n")
        self._release()

    def _release(self) -> None:
        if self._rows is not None:
            self._rows.close()
            self._rows = None


def _write_records(fh: Any, records: Any, *, first: bool | None) -> bool | None:
    """Write JSON records: one per line (``first`` is ``None``), or as the items of a JSON
    list, separated by commas (``first``: whether none was written yet). Returns ``first``
    for the next call."""
    for record in records:
        if first is None:
            fh.write(json.dumps(record, default=str))
            fh.write("\n")
        else:
            fh.write(("\n" if first else ",\n") + json.dumps(record, default=str))
            first = False
    return first


class _ParquetWriter(_FileWriter):
    """The rows of :meth:`DetectionResult.to_frame` as ``DataFrame.to_parquet`` stores them,
    written by pyarrow one row group per batch. A range index (0, 1, 2 … from file sources) is
    stored, as pandas stores it, as its start and stop only: the stop is known at the end, so
    the file's pandas metadata is completed then; a batch that does not continue the range
    turns the index into a stored column (the rows written so far are copied once)."""

    def __init__(self, destination: str, options: Mapping[str, Any]) -> None:
        super().__init__(destination, options)
        self._options = options
        self._writer: Any = None
        self._range: list[int] | None = None  # [start, stop] of a range index written so far
        self._name: Any = None

    def _write(self, result: Any) -> None:
        import pandas as pd
        import pyarrow as pa

        frame = result.to_frame()
        index = frame.index
        ranged = isinstance(index, pd.RangeIndex) and index.step == 1
        if self._writer is None:
            self._range = [index.start, index.start] if ranged else None
            self._name = index.name
            table = pa.Table.from_pandas(frame, preserve_index=not ranged)
            self._open(table.schema, store_schema=not ranged)
        elif self._range is not None and not (
            ranged and index.start == self._range[1] and index.name == self._name
        ):
            self._store_index()
        if self._range is not None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self._range[1] += len(frame)
        else:
            table = pa.Table.from_pandas(frame, preserve_index=True)
        self._writer.write_table(table.cast(self._writer.schema))

    def _open(self, schema: Any, *, store_schema: bool) -> None:
        import pyarrow.parquet as pq

        # without the stored Arrow schema, the pandas metadata completed in _finish is the one
        # readers use (the stored schema would keep the first batch's range)
        self._writer = pq.ParquetWriter(self._file.path, schema, store_schema=store_schema)

    def _pandas_metadata(self) -> dict[str, Any]:
        return dict(json.loads(self._writer.schema.metadata[b"pandas"]))

    def _finish(self, result: Any) -> None:
        if self._writer is None:
            return
        if self._range is not None:
            meta = self._pandas_metadata()
            start, stop = self._range
            meta["index_columns"] = [
                {"kind": "range", "name": self._name, "start": start, "stop": stop, "step": 1}
            ]
            self._writer.add_key_value_metadata({"pandas": json.dumps(meta)})
        self._writer.close()
        self._writer = None

    def _release(self) -> None:
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
            self._writer = None

    def _store_index(self) -> None:
        """Rewrite the rows written so far with their range index as a column, and go on
        storing the index as a column."""
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        from pynomaly.builtin.atomic import AtomicFile

        assert self._range is not None
        start = self._range[0]
        self._writer.close()
        old, self._file = self._file, AtomicFile(
            self.destination, overwrite=bool(self._options.get("overwrite"))
        )
        self._writer, self._range = None, None
        try:
            written = pq.ParquetFile(old.path)
            for batch in written.iter_batches():
                frame = batch.to_pandas()
                frame.index = pd.RangeIndex(start, start + len(frame), name=self._name)
                start += len(frame)
                table = pa.Table.from_pandas(frame.set_axis(frame.index.astype("int64")))
                if self._writer is None:
                    self._open(table.schema, store_schema=True)
                self._writer.write_table(table)
        finally:
            old.discard()


_WRITERS: dict[str, type[_FileWriter]] = {
    "csv": _CsvWriter,
    "json": _JsonWriter,
    "jsonl": _JsonLinesWriter,
    "parquet": _ParquetWriter,
}


@hookimpl
def pynomaly_open_output(
    destination: str, fmt: str, options: Mapping[str, Any]
) -> _FileWriter | None:
    writer = _WRITERS.get(fmt)
    if writer is None or destination == "-":  # standard output: written whole by export_data
        return None
    return writer(str(destination), options)


@hookimpl
def pynomaly_export_data(
    result: Any, destination: str, fmt: str, options: Mapping[str, Any]
) -> bool | None:
    if destination == "-" and fmt in _WRITERS:
        _to_stdout(result, fmt)
        return True
    writer = pynomaly_open_output(destination, fmt, options)
    if writer is None:
        return None
    writer.write(result)
    writer.close(result)
    return True


@hookimpl
def pynomaly_send_notification(message: str, result: Any, options: Mapping[str, Any]) -> None:
    log.info("%s%s", message, f" ({summary_line(result)})" if result is not None else "")
