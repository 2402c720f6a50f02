"""The HTML page of ``pynomaly compare --report``: one self-contained file (inline CSS, plots as
base64 PNGs), rendered from the jinja2 template ``templates/compare.html.j2`` with autoescaping
on. This module computes plain values (text, numbers formatted as text, images); the template
escapes everything that came from the data."""

from __future__ import annotations

import datetime as dt
import functools
from typing import TYPE_CHECKING, Any, NamedTuple

from pynomaly._version import __version__
from pynomaly.builtin.report_page import ANOMALY, INK, NORMAL, Plot, _figure, _plot, _style
from pynomaly.quality import metrics

if TYPE_CHECKING:  # pragma: no cover
    import jinja2

    from pynomaly.quality.compare import Comparison


class Row(NamedTuple):
    rank: str
    detector: str
    values: list[str]
    anomalies: str
    seconds: str
    memory: str
    chosen: str
    error: str


class ConsensusRow(NamedTuple):
    name: str
    consensus: str
    flagged: str


@functools.cache
def _template() -> jinja2.Template:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pynomaly.quality", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template("compare.html.j2")


def _num(value: float, digits: int = 3) -> str:
    import math

    return "–" if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def render(comparison: Comparison, *, title: str = "Detector comparison", top: int = 10) -> str:
    """The comparison as an HTML document (a string)."""
    agreement = comparison.mean_agreement()
    rows = []
    for i, run in enumerate(comparison.ranked(), start=1):
        if comparison.labelled:
            values = [_num(run.roc_auc), _num(run.average_precision), _num(run.f1)]
        else:
            values = [_num(agreement.get(run.detector, float("nan")))]
        rows.append(
            Row(
                str(i) if run.ok else "–",
                run.detector,
                values,
                str(run.anomalies) if run.ok else "–",
                _num(run.seconds, 2),
                metrics.human_bytes(run.peak_bytes) if run.ok else "–",
                f"chose {run.chosen}" if run.chosen else "",
                run.error,
            )
        )
    consensus = []
    if comparison.consensus is not None and not comparison.labelled:
        for name, row in comparison.consensus.head(top).iterrows():
            flagged = f"{row['flagged_by']} of {row['of']}"
            consensus.append(ConsensusRow(str(name), _num(row["consensus"]), flagged))
    if comparison.labelled:
        heading, plot = "ROC AUC by detector", _auc_plot(comparison)
        note = "Ranked by ROC AUC against the label column; F1 of each detector's labels."
    else:
        heading, plot = "Agreement between detectors", _agreement_plot(comparison)
        note = "No label column: ranked by mean Spearman rank correlation with the others."
    return _template().render(
        title=title,
        source=comparison.source,
        rows=comparison.rows,
        features=comparison.features,
        generated=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip(),
        version=__version__,
        labelled=comparison.labelled,
        detectors=rows,
        note=note,
        plot_heading=heading,
        plot=plot,
        consensus=consensus,
        index_name=str(getattr(comparison.index, "name", None) or "row"),
    )


def _auc_plot(comparison: Comparison) -> Plot:
    runs = [r for r in comparison.ranked() if r.ok]
    if not runs:
        return Plot(None, "no detector finished")

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        _style(ax)
        names = [r.detector for r in runs][::-1]
        values = [r.roc_auc for r in runs][::-1]
        colors = [ANOMALY if r.chosen else NORMAL for r in runs][::-1]
        ax.barh(names, values, color=colors)
        ax.axvline(0.5, color=INK, linestyle="--", linewidth=1)
        ax.set_xlim(0, 1)
        ax.set_xlabel("ROC AUC (dashed: random)")

    try:
        png = _plot(draw, height=max(2.5, 0.35 * len(runs) + 1))
    except ImportError as exc:
        return Plot(None, f"plots need matplotlib ({exc})")
    return Plot(_figure(png, "ROC AUC of each detector", "Higher is better; 0.5 is random."))


def _agreement_plot(comparison: Comparison) -> Plot:
    runs = comparison.ok
    if comparison.agreement is None or len(runs) < 2:
        return Plot(None, "agreement needs at least two detectors that finished")
    rho = comparison.agreement

    def draw(fig: Any) -> None:
        ax = fig.add_subplot()
        image = ax.imshow(rho, vmin=-1, vmax=1, cmap="RdBu_r")
        names = [r.detector for r in runs]
        ax.set_xticks(range(len(names)), names, rotation=60, ha="right", fontsize=9)
        ax.set_yticks(range(len(names)), names, fontsize=9)
        for i in range(len(names)):
            for j in range(len(names)):
                ax.text(j, i, f"{rho[i, j]:.2f}", ha="center", va="center", fontsize=7)
        fig.colorbar(image, ax=ax, label="Spearman rank correlation")

    side = max(4.0, 0.55 * len(runs) + 2)
    try:
        png = _plot(draw, width=side + 1.5, height=side)
    except ImportError as exc:
        return Plot(None, f"plots need matplotlib ({exc})")
    return Plot(
        _figure(png, "Spearman correlation between detectors' scores",
                "1: the same ranking of rows; 0: unrelated rankings.")
    )
