"""Built-in output plugin ``report``: a detection result as one self-contained HTML file.

``export_data(result, "report.html", "html", options)`` writes (atomically, never over an
existing file unless ``options["overwrite"]``) a page with no external reference: the summary,
what ``--prepare auto`` did to the data (when it was asked for), the score histogram with the
threshold, the top anomalies with the features that drive their scores, the per-feature
importance, the rows mapped to two dimensions with the anomalies highlighted and, when the
result has ground truth, the ROC curve. Plots
are PNG images drawn with matplotlib's Agg renderer and inlined as base64 ``data:`` URIs.

The page is the jinja2 template ``templates/report.html.j2`` (package data), rendered with
autoescaping on by :mod:`pynomaly.builtin.report_page`, which computes plain values (text,
numbers formatted as text, base64 images) and never builds markup, so everything from the data
is escaped by the template. That module is imported only when a report is written: this one is
imported whenever plugins load.

Options: ``top`` (rows in the table, 20), ``features`` (contributing features per row, 3),
``sample`` (rows used to measure feature importance and drawn in the embedding, 2000),
``embedding`` (``pca``, ``tsne`` or ``none``; ``pca``), ``title`` (page title),
``overwrite``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pynomaly._version import __version__
from pynomaly.errors import InputError
from pynomaly.markers import hookimpl
from pynomaly.types import OutputInfo, PluginMetadata, PluginType


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="report",
        version=__version__,
        plugin_types=[PluginType.OUTPUT],
        author="pynomaly",
        description="self-contained HTML report: summary, plots, top anomalies",
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_outputs() -> list[OutputInfo]:
    return [
        OutputInfo(
            "html",
            "self-contained HTML report: summary, score histogram, top anomalies, "
            "feature importance, ROC curve",
            (".html", ".htm"),
        )
    ]


@hookimpl
def pynomaly_export_data(
    result: Any, destination: str, fmt: str, options: Mapping[str, Any]
) -> bool | None:
    if fmt != "html":
        return None
    from pynomaly.builtin.outputs import write_file

    if not options.get("overwrite") and Path(destination).exists():  # before the work
        raise InputError(f"{destination}: already exists (use --overwrite to replace it)")
    from pynomaly.builtin.report_page import render  # jinja2, matplotlib: only when used

    page = render(result, options)  # before touching the file system: a failure leaves nothing
    write_file(str(destination), lambda tmp: tmp.write_text(page, encoding="utf-8"), options)
    return True
