"""How results and models show in a notebook: their ``_repr_html_``.

The HTML is rendered from ``templates/notebook.html.j2`` by jinja2 with autoescaping, from
plain values computed here (text and numbers formatted as text, never markup), so column
names, index values and the source cannot inject markup. It is small and self-contained: a
scoped ``<style>``, no script, no image, no external reference (plots are ``result.plot()``).
jinja2 is imported when something is displayed, never with this module's importers.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from pynomaly._log import get_logger

if TYPE_CHECKING:  # pragma: no cover
    import jinja2

    from pynomaly.detection.results import DetectionResult, Model

log = get_logger("pynomaly.display")

TOP = 5  # rows of the top-anomalies table
FEATURES = 3  # contributing features shown per row
MAX_FEATURE_NAMES = 20


class Contribution(NamedTuple):
    name: str
    delta: str  # "+0.123"
    width: str  # bar length, percent of the largest contribution shown


class Row(NamedTuple):
    rank: int
    name: str
    score: str
    anomaly: bool
    truth: str | None
    contributions: list[Contribution]


def result_html(result: DetectionResult) -> str:
    """The ``_repr_html_`` of a result: summary, top anomalies with their contributions,
    parameters and preparation. Never raises for a missing explanation: it says why."""
    summary = result.summary()
    rows, anomalies = int(summary["rows"]), int(summary["anomalies"])
    facts = [
        ("Detector", str(result.detector)),
        ("Source", str(result.source)),
        ("Rows", f"{rows:,}"),
        ("Anomalies", f"{anomalies:,} ({100.0 * anomalies / rows:.1f}%)" if rows else "0"),
        ("Threshold", f"{result.threshold:.6g}"),
    ]
    facts += [(_METRICS.get(k, k), f"{v:.3f}") for k, v in result.metrics.items()]
    top, note = _top(result)
    return _template().render(
        kind="result",
        facts=facts,
        top=top,
        index_name=str(result.index.name or "row"),
        truth=any(r.truth is not None for r in top),
        note=note,
        parameters=_parameters(result.model),
        preparation=_preparation(result.model),
    )


def model_html(model: Model) -> str:
    """The ``_repr_html_`` of a model: detector, threshold, parameters, features, steps."""
    facts = [
        ("Detector", f"{model.detector} (plugin {model.plugin})"),
        ("Features", str(model.n_features)),
        ("Threshold", f"{model.threshold:.6g}"),
    ]
    return _template().render(
        kind="model",
        facts=facts,
        top=[],
        index_name="row",
        truth=False,
        note="",
        parameters=_parameters(model),
        preparation=_preparation(model),
    )


_METRICS = {"roc_auc": "ROC AUC", "average_precision": "Average precision"}


@functools.cache
def _template() -> jinja2.Template:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("pynomaly.detection", "templates"),
        autoescape=True,  # every {{ value }} is HTML-escaped; nothing is marked safe
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env.get_template("notebook.html.j2")


def _top(result: DetectionResult) -> tuple[list[Row], str]:
    frame = result.top(TOP)
    contributions, note, truth, scale = explained(
        result, frame, "No contributions", "this result holds no input data"
    )
    rows = []
    for rank, (idx, score, label) in enumerate(
        zip(frame.index, frame["anomaly_score"], frame["is_anomaly"], strict=True), start=1
    ):
        items: list[Contribution] = []
        if contributions is not None:
            values = contributions.iloc[rank - 1]
            best = values[values > 0].sort_values(ascending=False, kind="stable").head(FEATURES)
            items = [
                Contribution(
                    str(name),
                    f"+{float(v):.3g}",
                    f"{100.0 * float(v) / scale:.0f}" if scale else "0",
                )
                for name, v in best.items()
            ]
        known = None
        if truth is not None:
            value = truth.get(idx)
            known = "?" if value is None or value != value else str(int(value))
        rows.append(Row(rank, str(idx), f"{score:.5g}", bool(label), known, items))
    return rows, note


def _parameters(model: Model) -> list[tuple[str, str]]:
    out = [("Parameters", _params(model.params))]
    rule = model.threshold_rule
    if rule is not None:
        out.append(("Threshold rule", f"{rule.kind} = {rule.value:g}"))
    if model.random_state is not None:
        out.append(("Random state", str(model.random_state)))
    names = list(model.feature_names)
    shown = ", ".join(names[:MAX_FEATURE_NAMES])
    if len(names) > MAX_FEATURE_NAMES:
        shown += f", … ({len(names)} in all)"
    out.append(("Features", shown or "none"))
    steps = [repr(step) for step in model.steps]
    out.append(("Processing steps", "; ".join(steps) if steps else "none"))
    if model.label_column is not None:
        out.append(("Label column", str(model.label_column)))
    return out


def _params(params: Mapping[str, Any]) -> str:
    if not params:
        return "defaults"
    return ", ".join(f"{k}={json.dumps(v, default=str)}" for k, v in params.items())


def _preparation(model: Model) -> list[str]:
    preparation = model.preparation
    if preparation is None:
        return []
    return [action.describe(limit=8) for action in preparation.actions]


class Explained(NamedTuple):
    """What a page shows beside a result's top rows."""

    contributions: Any  # rows × features, or None
    note: str  # why there are no contributions ("" when there are)
    truth: Any  # the label column's values of these rows, or None
    scale: float  # the largest positive contribution (bar widths), 0.0 without any


def explained(
    result: Any, frame: Any, unavailable: str, no_data: str, *, wanted: bool = True
) -> Explained:
    """The contributions of ``frame`` (``result.top(n)``) and their labels, for the notebook
    display and the HTML report. A page never fails over an explanation: a failure becomes
    ``note``, ``"{unavailable}: {why}"``."""
    contributions = None
    note = ""
    if result.data is None:
        note = f"{unavailable}: {no_data}."
    elif wanted and len(frame):
        try:
            contributions = result.contributions(len(frame))
        except Exception as exc:
            log.debug("contributions failed", exc_info=True)
            note = f"{unavailable}: {type(exc).__name__}: {exc}"
    truth = None
    if result.y_true is not None and result.index.is_unique:
        truth = result.y_true.reindex(frame.index)
    scale = 0.0
    if contributions is not None and contributions.size:
        scale = float(max(contributions.to_numpy().max(), 0.0))
    return Explained(contributions, note, truth, scale)
