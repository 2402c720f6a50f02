"""Built-in output plugin ``outputs``: console table and JSON text, CSV/JSON/Parquet files,
and notifications to the log.

Files hold the input rows' index, ``anomaly_score`` and ``is_anomaly`` and are written
atomically.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pynomaly._version import __version__
from pynomaly.markers import hookimpl
from pynomaly.types import OutputInfo, PluginMetadata, PluginType

log = logging.getLogger("pynomaly.notify")

FILE_FORMATS = {"csv": (".csv", ".csv.gz"), "json": (".json",), "parquet": (".parquet",)}


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="outputs",
        version=__version__,
        plugin_types=[PluginType.OUTPUT],
        author="pynomaly",
        description="console table, JSON, CSV and Parquet results; log notifications",
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_outputs() -> list[OutputInfo]:
    return [
        OutputInfo("table", "top anomalies as a console table"),
        OutputInfo("json", "summary and top anomalies as JSON (text or file)", (".json",)),
        OutputInfo(
            "csv", "one row per input row: index, anomaly_score, is_anomaly", (".csv", ".csv.gz")
        ),
        OutputInfo("parquet", "like csv, as Parquet", (".parquet",)),
    ]


def format_for(destination: str) -> str | None:
    """The file format implied by a destination's extension, if any."""
    name = destination.lower()
    for fmt, suffixes in FILE_FORMATS.items():
        if name.endswith(suffixes):
            return fmt
    return None


def _summary_line(result: Any) -> str:
    s = result.summary()
    return (
        f"{s['rows']} rows, {s['anomalies']} anomalies (contamination {s['contamination']:g}, "
        f"threshold {s['threshold']:.6g}) — {s['detector']} on {s['source']} "
        f"in {s['seconds']:.2f} s"
    )


def _json_document(result: Any, top: int) -> dict[str, Any]:
    rows = result.top(top)[["anomaly_score", "is_anomaly"]]
    return {
        "summary": result.summary(),
        "top": [
            {
                "index": _plain(idx),
                "anomaly_score": float(r.anomaly_score),
                "is_anomaly": int(r.is_anomaly),
            }
            for idx, r in zip(rows.index, rows.itertuples(index=False), strict=True)
        ],
    }


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


@hookimpl
def pynomaly_format_output(result: Any, fmt: str, options: Mapping[str, Any]) -> str | None:
    top = int(options.get("top", 10))
    if fmt == "json":
        return json.dumps(_json_document(result, top), indent=2, default=str)
    if fmt != "table":
        return None
    from rich.console import Console
    from rich.table import Table

    frame = result.top(top)
    table = Table(title=f"Top {len(frame)} anomalies", title_justify="left")
    table.add_column(str(frame.index.name or "row"), justify="right")
    table.add_column("anomaly_score", justify="right")
    table.add_column("is_anomaly", justify="center")
    features = [c for c in frame.columns if c not in ("anomaly_score", "is_anomaly")]
    shown = features[: int(options.get("features", 3))]
    for name in shown:
        table.add_column(str(name), justify="right", overflow="ellipsis", max_width=14)
    for idx, row in frame.iterrows():
        cells = [str(idx), f"{row['anomaly_score']:.6g}", "yes" if row["is_anomaly"] else "no"]
        table.add_row(*cells, *(f"{row[n]:.4g}" for n in shown))
    buffer = io.StringIO()
    console = Console(file=buffer, width=int(options.get("width", 100)), color_system=None)
    console.print(table)
    console.print(_summary_line(result), soft_wrap=True)  # one line, however long
    return buffer.getvalue()


@hookimpl
def pynomaly_export_data(
    result: Any, destination: str, fmt: str, options: Mapping[str, Any]
) -> bool | None:
    if fmt not in FILE_FORMATS:
        return None
    from pynomaly.builtin.atomic import atomic_write

    frame = result.to_frame()

    def write(tmp: Path) -> None:
        if fmt == "csv":
            frame.to_csv(tmp, compression="gzip" if destination.endswith(".gz") else None)
        elif fmt == "parquet":
            frame.to_parquet(tmp)
        else:
            tmp.write_text(json.dumps(_json_document(result, len(frame)), default=str))

    atomic_write(destination, write, overwrite=bool(options.get("overwrite")))
    return True


@hookimpl
def pynomaly_send_notification(message: str, result: Any, options: Mapping[str, Any]) -> None:
    log.info("%s%s", message, f" ({_summary_line(result)})" if result is not None else "")
