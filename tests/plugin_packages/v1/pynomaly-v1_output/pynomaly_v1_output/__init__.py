"""The pynomaly plugin ``v1_output``: results as Markdown tables.

Format ``markdown``: ``format_output`` renders the top anomalies for the console or a report;
``export_data`` writes every row (index, ``anomaly_score``, ``is_anomaly``) to a ``.md`` file,
atomically, and never replaces an existing file unless asked to. Both answer ``None`` for
other formats, so that pynomaly asks the next output plugin.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynomaly import hookimpl
from pynomaly.errors import InputError
from pynomaly.types import OutputInfo, PluginMetadata, PluginType

if TYPE_CHECKING:
    import pandas as pd

__version__ = "0.1.0"

FORMAT = "markdown"
EXTENSIONS = (".md", ".markdown")


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="v1_output",
        version=__version__,
        plugin_types=[PluginType.OUTPUT],
        description="detection results as Markdown tables",
        pynomaly_compat=">=1.0,<2",  # the pynomaly versions this plugin works with
        config_schema={"type": "object", "properties": {}, "additionalProperties": False},
    )


@hookimpl
def pynomaly_outputs() -> list[OutputInfo]:
    return [OutputInfo(FORMAT, "scores as a Markdown table", EXTENSIONS)]


@hookimpl
def pynomaly_format_output(result: Any, fmt: str, options: Mapping[str, Any]) -> str | None:
    if fmt != FORMAT:
        return None  # not ours: pynomaly asks the next output plugin
    summary = result.summary()
    title = (
        f"**{summary['anomalies']} anomalies** in {summary['rows']} rows "
        f"({summary['detector']} on {summary['source']})"
    )
    return f"{title}\n\n{_table(result.top(int(options.get('top', 10))))}"


@hookimpl
def pynomaly_export_data(
    result: Any, destination: str, fmt: str, options: Mapping[str, Any]
) -> bool | None:
    if fmt != FORMAT:
        return None
    _write_atomically(Path(destination), _table(result.to_frame()), bool(options.get("overwrite")))
    return True


def _table(frame: pd.DataFrame) -> str:
    lines = [
        f"| {_cell(frame.index.name or 'index')} | anomaly_score | is_anomaly |",
        "| ---: | ---: | :---: |",
    ]
    for index, score, label in zip(
        frame.index, frame["anomaly_score"], frame["is_anomaly"], strict=True
    ):
        lines.append(f"| {_cell(index)} | {score:.6g} | {int(label)} |")
    return "\n".join(lines) + "\n"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _write_atomically(dest: Path, text: str, overwrite: bool) -> None:
    """A temporary file next to ``dest``, then a rename: never a half-written file."""
    if dest.exists() and not overwrite:
        raise InputError(f"{dest}: already exists (use --overwrite to replace it)")
    if not dest.parent.is_dir():
        raise InputError(f"{dest}: directory {dest.parent} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        if overwrite:
            os.replace(tmp, dest)
        else:
            try:
                os.link(tmp, dest)  # fails if dest appeared meanwhile: never clobber
            except FileExistsError:
                raise InputError(f"{dest}: already exists (use --overwrite)") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
