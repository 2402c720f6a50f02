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

import errno
import io
import json
import math
from collections.abc import Mapping
from pathlib import Path
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
# Files
# --------------------------------------------------------------------------------------------


def _write_json(result: Any, tmp: Path) -> None:
    with tmp.open("w", encoding="utf-8") as fh:
        _json_rows(result, fh)


def _json_rows(result: Any, fh: Any) -> None:
    fh.write('{"summary": ')
    fh.write(json.dumps(result.summary(), default=str))
    fh.write(', "rows": [')
    for i, record in enumerate(_row_records(result)):
        fh.write(("\n" if i == 0 else ",\n") + json.dumps(record, default=str))
    fh.write("\n]}\n")


def _write_jsonl(result: Any, tmp: Path) -> None:
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        _jsonl_rows(result, fh)


def _jsonl_rows(result: Any, fh: Any) -> None:
    for record in _row_records(result):
        fh.write(json.dumps(record, default=str))
        fh.write("\n")


def _to_stdout(result: Any, fmt: str) -> None:
    """Every row to standard output, as it is written (a pipe's reader starts at once)."""
    import sys

    out = sys.stdout
    if fmt == "csv":
        result.to_frame().to_csv(out)
    elif fmt == "jsonl":
        _jsonl_rows(result, out)
    elif fmt == "json":
        _json_rows(result, out)
    else:  # parquet: bytes
        out.flush()
        result.to_frame().to_parquet(out.buffer)
    out.flush()


def write_file(destination: str, write: Any, options: Mapping[str, Any]) -> None:
    """``atomic_write`` with unwritable destinations reported as :class:`InputError`."""
    from pynomaly.builtin.atomic import atomic_write

    try:
        atomic_write(destination, write, overwrite=bool(options.get("overwrite")))
    except OSError as exc:
        if exc.errno in _INPUT_ERRNOS:
            raise InputError(f"{destination}: cannot write: {exc.strerror or exc}") from exc
        raise


@hookimpl
def pynomaly_export_data(
    result: Any, destination: str, fmt: str, options: Mapping[str, Any]
) -> bool | None:
    if fmt not in FILE_FORMATS:
        return None
    if destination == "-":
        _to_stdout(result, fmt)
        return True

    def write(tmp: Path) -> None:
        if fmt == "csv":
            result.to_frame().to_csv(
                tmp, compression="gzip" if str(destination).endswith(".gz") else None
            )
        elif fmt == "parquet":
            result.to_frame().to_parquet(tmp)
        elif fmt == "jsonl":
            _write_jsonl(result, tmp)
        else:
            _write_json(result, tmp)

    write_file(str(destination), write, options)
    return True


@hookimpl
def pynomaly_send_notification(message: str, result: Any, options: Mapping[str, Any]) -> None:
    log.info("%s%s", message, f" ({summary_line(result)})" if result is not None else "")
