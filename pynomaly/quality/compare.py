"""``pynomaly compare``: many detectors on one dataset.

Every detector is fitted on the same rows (``pynomaly.detect``, same steps, seed and threshold
rule) and timed, with the peak memory it allocated (after a warm-up run on a few rows, so that
library imports are nobody's time). With ground truth (``label_column``) each is
scored by ROC AUC, average precision and F1 of its labels at the threshold, and ranked by ROC
AUC. Without, the detectors are compared with each other: the Spearman rank correlation of
every pair's scores, and the consensus — each row's mean rank over the detectors — with its top
rows and how many detectors label each an anomaly.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from pynomaly.errors import InputError, PynomalyError
from pynomaly.quality import metrics

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from pynomaly.plugin.manager import PluginManager


@attrs.define
class DetectorRun:
    """One detector on the dataset: its metrics, or the error that stopped it."""

    detector: str
    seconds: float = float("nan")
    peak_bytes: int = 0
    anomalies: int = 0
    threshold: float = float("nan")
    roc_auc: float = float("nan")
    average_precision: float = float("nan")
    f1: float = float("nan")
    rank: float = float("nan")
    chosen: str = ""  # what "auto" chose
    error: str = ""
    scores: np.ndarray | None = attrs.field(default=None, repr=False)
    labels: np.ndarray | None = attrs.field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return not self.error

    def to_dict(self) -> dict[str, Any]:
        d = attrs.asdict(self, filter=lambda a, _: a.name not in ("scores", "labels"))
        out: dict[str, Any] = metrics.jsonable(d)
        return out


@attrs.define
class Comparison:
    """What :func:`compare` found: one :class:`DetectorRun` per detector, and without ground
    truth the agreement between them."""

    source: str
    rows: int
    features: int
    runs: list[DetectorRun]
    labelled: bool
    index: Any = attrs.field(repr=False)  # the rows' index
    agreement: np.ndarray | None = attrs.field(default=None, repr=False)  # Spearman, ok runs
    consensus: pd.DataFrame | None = attrs.field(default=None, repr=False)

    @property
    def ok(self) -> list[DetectorRun]:
        return [r for r in self.runs if r.ok]

    def ranked(self) -> list[DetectorRun]:
        """The runs best first: by ROC AUC with ground truth, else by agreement with the
        others; failed runs last."""
        if self.labelled:
            return sorted(self.runs, key=lambda r: (not r.ok, r.rank, r.detector))
        mean_rho = self.mean_agreement()
        return sorted(self.runs, key=lambda r: (not r.ok, -mean_rho.get(r.detector, 0.0)))

    def mean_agreement(self) -> dict[str, float]:
        """Each detector's mean Spearman correlation with the other detectors."""
        ok = self.ok
        if self.agreement is None or len(ok) < 2:
            return {}
        rho = self.agreement
        n = len(ok)
        return {r.detector: float((rho[i].sum() - 1.0) / (n - 1)) for i, r in enumerate(ok)}

    def to_dict(self, top: int = 10) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "rows": self.rows,
            "features": self.features,
            "labelled": self.labelled,
            "detectors": [r.to_dict() for r in self.ranked()],
        }
        if self.agreement is not None:
            names = [r.detector for r in self.ok]
            out["agreement"] = {
                "method": "spearman",
                "detectors": names,
                "matrix": np.round(self.agreement, 4).tolist(),
                "mean": self.mean_agreement(),
            }
        if self.consensus is not None:
            head = self.consensus.head(top)
            out["consensus_top"] = [
                {"index": metrics.jsonable(i), **metrics.jsonable(row)}
                for i, row in zip(head.index, head.to_dict("records"), strict=True)
            ]
        doc: dict[str, Any] = metrics.jsonable(out)
        return doc


def all_detectors(pm: PluginManager) -> list[str]:
    """Every available detector but the ensembles (which combine the others)."""
    from pynomaly.services import detectors

    return [d.id for d in detectors.detectors(pm) if d.available and not d.members_param]


def detector_list(pm: PluginManager, spec: str | Sequence[str] | None) -> list[str]:
    """``"a,b,c"``, a list, ``"all"`` or ``None`` (a default set) → detector ids."""
    if spec is None:
        spec = DEFAULT_COMPARE
    if isinstance(spec, str):
        if spec.strip().lower() == "all":
            return all_detectors(pm)
        spec = [s.strip() for s in spec.split(",") if s.strip()]
    names = list(dict.fromkeys(spec))
    if not names:
        raise InputError("--detectors: name at least one detector (or all)")
    return names


#: detectors compared when none are named: fast, of different families, and auto
DEFAULT_COMPARE = (
    "sklearn:iforest", "pyod:ecod", "pyod:copod", "pyod:knn", "pyod:lof", "pyod:hbos",
    "pyod:pca", "pyod:ocsvm", "pyod:cblof", "auto",
)


def compare(
    data: Any,
    detectors: str | Sequence[str] | None = None,
    *,
    label_column: str | None = None,
    contamination: float | str = 0.1,
    threshold: str | None = None,
    random_state: int | None = 0,
    steps: Sequence[Any] = (),
    source_options: Mapping[str, Any] | None = None,
    top: int = 10,
    manager: PluginManager | None = None,
) -> Comparison:
    """Run ``detectors`` (``"a,b"``, a list, ``"all"``; default :data:`DEFAULT_COMPARE`) on
    ``data`` and compare them (see the module docstring). The data is read once; a detector
    that fails is reported with its error and the others go on."""
    from pynomaly.detection import api
    from pynomaly.detection.prepare import default_manager, read

    pm = manager or default_manager()
    names = detector_list(pm, detectors)
    frame, source = read(pm, data, source_options)
    if isinstance(data, (str, os.PathLike)):
        source = os.fspath(data)
    if label_column is not None and label_column not in frame.columns:
        raise InputError(f"{source}: label column {label_column!r} not found")
    _warm_up(pm, frame, names, label_column, steps, random_state)
    runs: list[DetectorRun] = []
    y: np.ndarray | None = None
    for name in names:
        run = DetectorRun(name)

        def detect(name: str = name) -> Any:
            return api.detect(
                frame,
                name,
                contamination=contamination,
                threshold=threshold,
                random_state=random_state,
                steps=steps,
                label_column=label_column,
                manager=pm,
            )

        try:
            result, run.seconds, run.peak_bytes = metrics.measured(detect)
        except InputError as exc:
            if name not in ("auto",) and "unknown detector" in str(exc):
                raise  # a typo in --detectors: stop, as detect would
            run.error = str(exc)
        except PynomalyError as exc:
            run.error = str(exc)
        else:
            run.scores, run.labels = result.scores, result.labels
            run.anomalies, run.threshold = result.n_anomalies, result.threshold
            if name == "auto":
                run.chosen = result.detector
            if result.y_true is not None:
                y = result.y_true.to_numpy()
                run.roc_auc = result.metrics.get("roc_auc", float("nan"))
                run.average_precision = result.metrics.get("average_precision", float("nan"))
                run.f1 = metrics.f1(y, result.labels)
        runs.append(run)
    features = frame.shape[1] - (label_column is not None)
    comparison = Comparison(
        source, len(frame), features, runs, y is not None, frame.index
    )
    if comparison.labelled:
        order = metrics.ranks([r.roc_auc if r.ok else np.nan for r in runs])
        for run, rank in zip(runs, order, strict=True):
            run.rank = float(rank)
    ok = comparison.ok
    if ok:
        scores = [r.scores for r in ok if r.scores is not None]
        comparison.agreement = metrics.spearman(scores)
        comparison.consensus = _consensus(frame.index, ok)
    return comparison


def _warm_up(
    pm: PluginManager,
    frame: Any,
    names: Sequence[str],
    label_column: str | None,
    steps: Sequence[Any],
    random_state: int | None,
) -> None:
    """Run each detector once on a few rows, untimed: importing a library and compiling its
    numba functions is paid once per process, by whichever detector comes first, and memory
    tracing slows imports several times over."""
    from pynomaly.detection import api

    head = frame.head(min(len(frame), 64))
    for name in names:
        with contextlib.suppress(PynomalyError):  # reported by the measured run
            api.detect(head, name, random_state=random_state, steps=steps,
                       label_column=label_column, manager=pm)


def _consensus(index: Any, runs: list[DetectorRun]) -> pd.DataFrame:
    """Rows by their mean rank over the detectors (1 = the most anomalous by every one)."""
    import pandas as pd

    ranked = np.column_stack([metrics.rank_scores(r.scores) for r in runs])  # type: ignore[arg-type]
    flagged = np.column_stack([r.labels for r in runs]).sum(axis=1)  # type: ignore[misc]
    frame = pd.DataFrame(
        {"consensus": ranked.mean(axis=1), "flagged_by": flagged.astype(int)}, index=index
    )
    frame["of"] = len(runs)
    return frame.sort_values("consensus", ascending=False, kind="stable")
