"""The HTML report's page: the values the template ``templates/report.html.j2`` shows, and
their plots. Imported by the ``report`` plugin only when a report is written (jinja2,
matplotlib and these classes cost start-up time that listing plugins must not pay)."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import io
import json
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from pynomaly._log import get_logger
from pynomaly._version import __version__
from pynomaly.detection.display import explained
from pynomaly.detection.plots import ANOMALY, INK, NORMAL, draw_scores, embedding
from pynomaly.detection.plots import draw_embedding as _draw_embedding
from pynomaly.detection.plots import mpl_text as _mpl_text
from pynomaly.detection.plots import style as _style

if TYPE_CHECKING:
    import jinja2

log = get_logger("pynomaly.builtin.report")

TEMPLATE = "report.html.j2"


# --------------------------------------------------------------------------------------------
# The page
# --------------------------------------------------------------------------------------------


def render(result: Any, options: Mapping[str, Any] | None = None) -> str:
    """The report of ``result`` as an HTML document (a string)."""
    options = options or {}
    top = int(options.get("top", 20))
    features = int(options.get("features", 3))
    sample = int(options.get("sample", 2000))
    method = str(options.get("embedding", "pca")).lower()
    if method not in ("pca", "tsne", "none"):
        from pynomaly.errors import InputError

        raise InputError(f"report option embedding={method!r}: expected pca, tsne or none")
    return _template().render(
        title=str(options.get("title") or "Anomaly report"),
        detector=str(result.detector),
        source=str(result.source),
        generated=dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip(),
        version=__version__,
        summary=_summary(result),
        scores=_scores_plot(result),
        top=_top_table(result, top, features),
        importance=_importance_plot(result, sample),
        embedding=_embedding_plot(result, method, sample),
        preparation=_preparation(result),
        roc=None if result.y_true is None else _roc_plot(result),
        explanation=_explanation(result),
    )


def _explanation(result: Any) -> list[str]:
    """What detector="auto" / threshold="auto" chose and why, one line each."""
    text = str(getattr(result, "explanation", "") or "")
    return [line.strip() for line in text.splitlines() if line.strip()]


@functools.cache
def _template() -> jinja2.Template:
    """The page template, compiled once. jinja2 is imported here, not with this module:
    plugin modules are imported whenever plugins load, by commands that never render."""
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pynomaly.builtin", "templates"),
        autoescape=True,  # every {{ value }} is HTML-escaped; the template marks nothing safe
        undefined=jinja2.StrictUndefined,  # a misspelt name fails instead of rendering empty
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    return env.get_template(TEMPLATE)


# What the template shows: plain text and numbers already formatted as text, never markup.


class Card(NamedTuple):
    label: str
    value: str
    note: str = ""


class Summary(NamedTuple):
    cards: list[Card]
    details: list[tuple[str, str]]  # after the source and the detector


class Figure(NamedTuple):
    data: str  # PNG, base64
    alt: str
    caption: str


class Plot(NamedTuple):
    """A section that shows a figure, or a note saying why there is none."""

    figure: Figure | None
    note: str = ""


class Contribution(NamedTuple):
    name: str
    value: str | None  # the row's value of the feature, when known
    width: str  # bar length, percent of the largest contribution in the table
    delta: str  # score contribution


class TopRow(NamedTuple):
    rank: int
    name: str  # the index value
    score: str
    anomaly: bool
    truth: str | None
    contributions: list[Contribution]


class TopTable(NamedTuple):
    index_name: str
    rows: list[TopRow]
    truth: bool  # a ground-truth column
    contributions: bool  # a contributing-features column
    note: str


def _figure(png: bytes, alt: str, caption: str) -> Figure:
    return Figure(base64.b64encode(png).decode("ascii"), alt, caption)


def _num(value: Any, digits: int = 4) -> str:
    try:
        return f"{float(value):.{digits}g}"
    except (TypeError, ValueError):
        return str(value)


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------


def _summary(result: Any) -> Summary:
    s = result.summary()
    rows, anomalies = int(s["rows"]), int(s["anomalies"])
    share = f"{100.0 * anomalies / rows:.1f}% of rows" if rows else ""
    cards = [
        Card("Rows", f"{rows:,}"),
        Card("Anomalies", f"{anomalies:,}", share),
        Card("Threshold", _num(s["threshold"], 5)),
        Card("Contamination", _num(s["contamination"])),
    ]
    if "roc_auc" in result.metrics:
        cards.append(Card("ROC AUC", f"{result.metrics['roc_auc']:.3f}"))
    if "average_precision" in result.metrics:
        cards.append(Card("Average precision", f"{result.metrics['average_precision']:.3f}"))
    cards.append(Card("Time", f"{float(s['seconds']):.2f} s"))
    model = result.model
    details = [("Parameters", _params(getattr(model, "params", {})))]
    rule = getattr(model, "threshold_rule", None)
    if rule is not None:
        details.append(("Threshold rule", f"{rule.kind} = {rule.value:g}"))
    names = tuple(getattr(model, "feature_names", ()))
    if names:
        shown = ", ".join(names[:12]) + (f", … ({len(names)} in all)" if len(names) > 12 else "")
        details.append(("Features", shown))
    if getattr(model, "random_state", None) is not None:
        details.append(("Random state", str(model.random_state)))
    return Summary(cards, details)


def _params(params: Mapping[str, Any]) -> str:
    if not params:
        return "defaults"
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in params.items())


def _scores_plot(result: Any) -> Plot:
    import numpy as np

    scores = np.asarray(result.scores, dtype=np.float64)
    y = None if result.y_true is None else np.asarray(result.y_true, dtype=np.int64)
    try:
        png = _plot(lambda fig: _histogram(fig, scores, float(result.threshold), y))
    except ImportError as exc:
        return Plot(None, f"plots need matplotlib ({exc})")
    caption = (
        f"{len(scores):,} scores; the dashed line is the threshold ({result.threshold:.5g}): "
        f"rows above it are labelled anomalies."
    )
    if y is not None:
        caption += " Colours show the ground-truth label."
    return Plot(_figure(png, "histogram of anomaly scores with the threshold", caption))


def _top_table(result: Any, top: int, features: int) -> TopTable:
    frame = result.top(top)
    contributions, note, truth, scale = explained(
        result, frame, "Contributions are unavailable", "the result holds no input data",
        wanted=features > 0,
    )
    rows = []
    for rank, (idx, row) in enumerate(frame.iterrows(), start=1):
        label = None
        if truth is not None:
            value = truth.get(idx)
            label = "?" if value is None or value != value else str(int(value))
        contributing = []
        if contributions is not None:
            values = contributions.iloc[rank - 1]  # same order as frame: by position
            contributing = _contributions(values, row, features, scale)
        rows.append(
            TopRow(
                rank,
                str(idx),
                f"{row['anomaly_score']:.5g}",
                bool(row["is_anomaly"]),
                label,
                contributing,
            )
        )
    if contributions is not None:
        from pynomaly.detection.explain import note as method_note

        note = (
            f"Contribution: {method_note(contributions)}. Only features that raise the score "
            "are shown."
        )
    return TopTable(
        str(frame.index.name or "row"), rows, truth is not None, contributions is not None, note
    )


def _contributions(values: Any, row: Any, features: int, scale: float) -> list[Contribution]:
    """The row's ``features`` largest positive contributions, largest first."""
    best = values[values > 0].sort_values(ascending=False, kind="stable").head(features)
    out = []
    for name, delta in best.items():
        width = 100.0 * float(delta) / scale if scale > 0 else 0.0
        raw = row.get(name) if hasattr(row, "get") else None
        value = None if raw is None else _num(raw)
        out.append(Contribution(str(name), value, f"{width:.0f}", f"{float(delta):.3g}"))
    return out


def _importance_plot(result: Any, sample: int) -> Plot:
    if result.data is None:
        return Plot(None, "Feature importance is unavailable: the result holds no input data.")

    data = result.data
    used = data if len(data) <= sample else data.sample(sample, random_state=0)
    try:
        importance = result.importance(sample=sample)
    except Exception as exc:
        log.debug("explain failed", exc_info=True)
        return Plot(None, f"Feature importance is unavailable: {type(exc).__name__}: {exc}")
    shown = importance.sort_values(ascending=False, kind="stable").head(15)
    try:
        png = _plot(lambda fig: _importance(fig, shown), height=0.34 * len(shown) + 1.0)
    except ImportError as exc:
        return Plot(None, f"plots need matplotlib ({exc})")
    caption = (
        f"The {len(shown)} most important of {len(importance)} features, measured on "
        f"{len(used):,} rows{' (a random sample)' if len(used) < len(data) else ''}: the mean "
        "absolute contribution of each feature to their scores."
    )
    return Plot(_figure(png, "bar chart of per-feature importance", caption))


def _embedding_plot(result: Any, method: str, sample: int) -> Plot | None:
    """The rows in 2-D (PCA by default), anomalies highlighted; ``None`` when turned off."""
    if method == "none":
        return None
    if result.data is None:
        return Plot(None, "The embedding is unavailable: the result holds no input data.")
    try:
        coords, labels, names, total = embedding(result, method, max(sample, 2))
    except ImportError as exc:
        return Plot(None, f"plots need matplotlib and scikit-learn ({exc})")
    except Exception as exc:  # the report is still useful without it
        log.debug("embedding failed", exc_info=True)
        return Plot(None, f"The embedding is unavailable: {type(exc).__name__}: {exc}")
    try:
        png = _plot(
            lambda fig: _draw_embedding(fig.add_subplot(), coords, labels, names, total),
            width=7.0,
            height=5.2,
        )
    except ImportError as exc:
        return Plot(None, f"plots need matplotlib ({exc})")
    what = {"pca": "principal component analysis", "tsne": "t-SNE"}[method]
    caption = (
        f"The rows as the detector sees them (processing steps applied, standardized), "
        f"mapped to two dimensions by {what}; anomalies in red."
    )
    if len(coords) < total:
        caption += f" {len(coords):,} of {total:,} rows: every anomaly and a random sample."
    return Plot(_figure(png, f"scatter plot of the rows by {what}, anomalies highlighted", caption))


class PreparationRow(NamedTuple):
    step: str
    columns: str
    reason: str


def _preparation(result: Any) -> list[PreparationRow]:
    """What ``prepare="auto"`` did, one row per step (empty without it)."""
    preparation = getattr(result.model, "preparation", None)
    if preparation is None:
        return []
    rows = []
    for action in preparation.actions:
        head = " ".join(
            [action.step, *(str(v) for k, v in action.options.items() if k != "columns")]
        )
        shown = [f"{c} ({note})" if note else c for c, note in action.columns.items()]
        more = f"; … ({len(shown)} columns)" if len(shown) > 40 else ""
        columns = "; ".join(shown[:40]) + more
        rows.append(PreparationRow(head, columns, action.reason))
    return rows


def _roc_plot(result: Any) -> Plot:
    import numpy as np

    y = np.asarray(result.y_true, dtype=np.int64)
    scores = np.asarray(result.scores, dtype=np.float64)
    if y.min() == y.max():
        return Plot(
            None, "The ROC curve needs both classes in the ground truth; only one is present."
        )
    from sklearn.metrics import precision_recall_curve, roc_auc_score, roc_curve

    fpr, tpr, _ = roc_curve(y, scores)
    curve_precision, curve_recall, _ = precision_recall_curve(y, scores)
    auc = float(roc_auc_score(y, scores))
    labels = np.asarray(result.labels) > 0
    found = int(labels[y == 1].sum())
    point = (float(labels[y == 0].mean()), float(labels[y == 1].mean()))
    precision = found / max(int(labels.sum()), 1)
    try:
        png = _plot(
            lambda fig: _curves(
                fig, y, (fpr, tpr, auc), (curve_recall, curve_precision), point, precision
            ),
            width=10.0,
            height=4.4,
        )
    except ImportError as exc:
        return Plot(None, f"plots need matplotlib ({exc})")
    caption = (
        f"{int(y.sum()):,} labelled anomalies among {len(y):,} rows. The dot marks the "
        f"threshold: {found} of them found ({point[1]:.0%} recall) at {point[0]:.1%} false "
        f"positives, precision {precision:.0%}."
    )
    return Plot(_figure(png, f"ROC curve (AUC {auc:.3f}) and precision-recall curve", caption))


# --------------------------------------------------------------------------------------------
# Plots (matplotlib's object API with the Agg canvas: no pyplot, no global backend change)
# --------------------------------------------------------------------------------------------


def _plot(draw: Callable[[Any], None], width: float = 10.0, height: float = 3.8) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=110, layout="constrained")
    FigureCanvasAgg(fig)
    draw(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _histogram(fig: Any, scores: Any, threshold: float, y: Any) -> None:
    draw_scores(fig.add_subplot(), scores, threshold, y)


def _importance(fig: Any, importance: Any) -> None:
    ax = fig.add_subplot()
    _style(ax)
    ax.grid(axis="y", visible=False)
    ax.grid(axis="x", color="#e3e7ec", linewidth=0.8)
    names = [_mpl_text(str(n)) for n in importance.index][::-1]
    values = importance.to_numpy()[::-1]
    ax.barh(names, values, color=NORMAL, height=0.7)
    ax.set_xlabel("importance (higher = the feature drives the scores more)", color=INK)
    ax.margins(y=0.01)


def _curves(
    fig: Any,
    y: Any,
    roc_curve: tuple[Any, Any, float],
    pr_curve: tuple[Any, Any],
    point: tuple[float, float],
    prec: float,
) -> None:
    """ROC and precision-recall curves (from :mod:`sklearn.metrics`), the threshold marked."""
    fpr, tpr, auc = roc_curve
    recall, precision = pr_curve
    roc, pr = fig.subplots(1, 2)
    for ax in (roc, pr):
        _style(ax)
        ax.grid(axis="x", color="#e3e7ec", linewidth=0.8)
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.02)
        ax.set_box_aspect(1)
    roc.plot([0, 1], [0, 1], color="#9aa5b1", linestyle=":", linewidth=1, label="chance")
    roc.plot(fpr, tpr, color=ANOMALY, linewidth=2, label=f"ROC (AUC {auc:.3f})")
    roc.scatter([point[0]], [point[1]], color=INK, zorder=3, s=30, label="threshold")
    roc.set_xlabel("false positive rate", color=INK)
    roc.set_ylabel("true positive rate (recall)", color=INK)
    roc.set_title("ROC curve", color=INK, fontsize=11)
    roc.legend(frameon=False, fontsize=9, loc="lower right")
    base = int(y.sum()) / len(y)
    pr.axhline(base, color="#9aa5b1", linestyle=":", linewidth=1, label=f"chance ({base:.2f})")
    pr.plot(recall, precision, color=NORMAL, linewidth=2, label="precision-recall")
    pr.scatter([point[1]], [prec], color=INK, zorder=3, s=30, label="threshold")
    pr.set_xlabel("recall", color=INK)
    pr.set_ylabel("precision", color=INK)
    pr.set_title("Precision-recall curve", color=INK, fontsize=11)
    pr.legend(frameon=False, fontsize=9, loc="upper right")
