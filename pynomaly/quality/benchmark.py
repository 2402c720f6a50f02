"""``pynomaly benchmark --suite builtin``: detectors, ``auto`` and PyOD's ADEngine on the
built-in suite of labelled tasks (:mod:`pynomaly.quality.suite`).

Every method is fitted on each task's rows and scored against the task's ground truth, which no
method sees (the protocol of ADBench's unsupervised setting without a train/test split: the
scores of the rows a detector was fitted on). Reported per method: mean ROC AUC, mean average
precision, mean rank (1 = best ROC AUC of the task; ties share the average rank), total time,
and the ratio of its time to IForest's on the same tasks. A method that fails on a task counts
ROC AUC 0.5 (a random ranking) and the worst rank there, and the failure is reported.

PyOD's ADEngine (PyOD ≥ 3, if installed) runs side by side as two anchors on the same matrices:
``adengine:detect`` (``ADEngine.detect``: the one detector its knowledge base plans) and
``adengine:consensus`` (``ADEngine.investigate(...).consensus``: the consensus of the three
detectors it plans).

Thresholds are compared on the scores of ``auto`` (and of IForest): the F1 of each threshold
rule's labels against the ground truth, averaged over the tasks.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from pynomaly.errors import InputError, PynomalyError
from pynomaly.quality import metrics
from pynomaly.quality.suite import QUICK, Task, builtin_suite, task_names

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.manager import PluginManager

ADENGINE = ("adengine:detect", "adengine:consensus")
REFERENCE = "pyod:iforest"  # the time of "IForest alone"

#: single detectors of the default benchmark: every available detector that finishes the suite
#: in minutes (left out: pyod:cd, pyod:rod, pyod:lmdd, pyod:loci, pyod:sod, pyod:cof, pyod:abod,
#: pyod:lscp — minutes to hours on digits' 1,700 × 64 rows — and the univariate pyod:mad);
#: `--detectors all` runs them too.
DEFAULT_DETECTORS = (
    "pyod:iforest", "sklearn:iforest", "pyod:ecod", "pyod:copod", "pyod:hbos", "pyod:knn",
    "pyod:lof", "sklearn:lof", "pyod:cblof", "pyod:pca", "pyod:kpca", "pyod:ocsvm",
    "sklearn:ocsvm", "sklearn:sgd_ocsvm", "pyod:mcd", "sklearn:elliptic", "pyod:gmm", "pyod:kde",
    "pyod:inne", "pyod:loda", "pyod:sampling", "pyod:qmcd", "pyod:sos",
)

#: threshold rules compared by F1 (plugin methods only when their plugin answers)
THRESHOLD_RULES = (
    "contamination", "mad", "iqr", "zscore", "auto",
    "pythresh:karch", "pythresh:dsn", "pythresh:fgd", "pythresh:gesd", "pythresh:mtt",
)


@attrs.define
class Cell:
    """One method on one task."""

    roc_auc: float = float("nan")
    average_precision: float = float("nan")
    seconds: float = float("nan")
    chosen: str = ""
    error: str = ""


@attrs.define
class BenchmarkResult:
    """Every method on every task, and threshold rules compared by F1."""

    seed: int
    tasks: list[Task]
    methods: list[str]
    cells: dict[tuple[str, str], Cell]
    f1: dict[str, dict[str, dict[str, float]]] = attrs.field(factory=dict)  # scores→rule→task
    command: str = ""

    def cell(self, method: str, task: str) -> Cell:
        return self.cells[method, task]

    def auc_matrix(self) -> np.ndarray:
        """ROC AUC, methods × tasks; a failure counts 0.5."""
        return np.array(
            [
                [_or(self.cells[m, t.name].roc_auc, 0.5) for t in self.tasks]
                for m in self.methods
            ]
        )

    def rank_matrix(self) -> np.ndarray:
        """Rank of each method on each task by ROC AUC (1 = best, ties averaged, failures
        last)."""
        raw = np.array(
            [[self.cells[m, t.name].roc_auc for t in self.tasks] for m in self.methods]
        )
        return np.column_stack([metrics.ranks(list(raw[:, j])) for j in range(raw.shape[1])])

    def summary(self) -> list[dict[str, Any]]:
        """One row per method, best mean ROC AUC first."""
        aucs = self.auc_matrix()
        rank = self.rank_matrix()
        reference = self.total_seconds(REFERENCE) if REFERENCE in self.methods else float("nan")
        rows = []
        for i, m in enumerate(self.methods):
            cells = [self.cells[m, t.name] for t in self.tasks]
            seconds = self.total_seconds(m)
            rows.append(
                {
                    "method": m,
                    "mean_roc_auc": float(aucs[i].mean()),
                    "mean_average_precision": float(
                        np.mean([_or(c.average_precision, 0.0) for c in cells])
                    ),
                    "mean_rank": float(rank[i].mean()),
                    "wins": int(np.sum(rank[i] == rank.min(axis=0))),
                    "seconds": seconds,
                    "time_vs_iforest": seconds / reference if reference else float("nan"),
                    "failures": sum(1 for c in cells if c.error),
                }
            )
        return sorted(rows, key=lambda r: -r["mean_roc_auc"])

    def total_seconds(self, method: str) -> float:
        return float(sum(_or(self.cells[method, t.name].seconds, 0.0) for t in self.tasks))

    def f1_summary(self) -> dict[str, dict[str, float]]:
        """Mean F1 of each threshold rule, per detector whose scores were thresholded."""
        return {
            scored: {rule: float(np.mean(list(tasks.values()))) for rule, tasks in rules.items()}
            for scored, rules in self.f1.items()
        }

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = metrics.jsonable(
            {
                "suite": "builtin",
                "seed": self.seed,
                "command": self.command,
                "tasks": [
                    {"name": t.name, "kind": t.kind, "rows": t.shape[0], "features": t.shape[1],
                     "anomalies": t.anomalies}
                    for t in self.tasks
                ],
                "summary": self.summary(),
                "thresholds_f1": self.f1_summary(),
                "cells": [
                    {"method": m, "task": t.name, **attrs.asdict(self.cells[m, t.name])}
                    for m in self.methods
                    for t in self.tasks
                ],
            }
        )
        return doc


def _or(value: float, default: float) -> float:
    return default if value is None or not np.isfinite(value) else float(value)


def adengine_available() -> bool:
    """Whether the installed PyOD has ADEngine (PyOD 3)."""
    import importlib.util

    try:
        return importlib.util.find_spec("pyod.utils.ad_engine") is not None
    except ModuleNotFoundError:
        return False


def run_adengine(method: str, X: np.ndarray, seed: int) -> np.ndarray:
    """The scores of an ADEngine anchor on ``X``: ``detect`` or ``investigate().consensus``."""
    import logging

    from pyod.utils.ad_engine import ADEngine

    logging.getLogger("pyod").setLevel(logging.ERROR)
    engine = ADEngine(random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if method == "adengine:detect":
            return np.asarray(engine.detect(X)["scores_train"], dtype=np.float64)
        state = engine.investigate(X)
    if state.consensus is None:
        raise PynomalyError("ADEngine: every planned detector failed")
    return np.asarray(state.consensus["scores"], dtype=np.float64)


def _scores(pm: PluginManager, method: str, X: np.ndarray, seed: int) -> tuple[np.ndarray, str]:
    """The scores of one method on ``X``, and what ``auto`` chose (else ``""``)."""
    from pynomaly.detection import api

    if method in ADENGINE:
        return run_adengine(method, X, seed), ""
    result = api.detect(X, method, random_state=seed, manager=pm)
    return result.scores, result.detector if method == "auto" else ""


def methods_for(pm: PluginManager, detectors: str | Sequence[str] | None) -> list[str]:
    """The methods to run: the named detectors (``all``: every available one but ensembles;
    default :data:`DEFAULT_DETECTORS` that are available), ``auto`` and the ADEngine anchors
    when PyOD has ADEngine."""
    from pynomaly.quality.compare import all_detectors
    from pynomaly.services import detectors as detector_service

    available = {d.id for d in detector_service.detectors(pm) if d.available}
    if detectors is None:
        names = [d for d in DEFAULT_DETECTORS if d in available]
    elif isinstance(detectors, str) and detectors.strip().lower() == "all":
        names = all_detectors(pm)
    else:
        items = detectors.split(",") if isinstance(detectors, str) else list(detectors)
        names = [s.strip() for s in items if s.strip()]
        for name in names:
            if name not in ("auto", *ADENGINE):
                detector_service.resolve(pm, name)  # a one-line error for a typo
    if REFERENCE in available and REFERENCE not in names:
        names.insert(0, REFERENCE)  # the time reference
    if "auto" not in names:
        names.append("auto")
    if adengine_available():
        names += [a for a in ADENGINE if a not in names]
    return list(dict.fromkeys(names))


def select_tasks(seed: int, names: Iterable[str] | None, quick: bool) -> list[Task]:
    wanted = list(QUICK) if quick and names is None else (list(names) if names else None)
    if wanted is not None:
        unknown = sorted(set(wanted) - set(task_names()))
        if unknown:
            raise InputError(
                f"--tasks: unknown task(s) {', '.join(unknown)}; known: {', '.join(task_names())}"
            )
    return list(builtin_suite(seed, names=wanted))


def benchmark(
    *,
    detectors: str | Sequence[str] | None = None,
    seed: int = 0,
    tasks: Iterable[str] | None = None,
    quick: bool = False,
    thresholds: bool = True,
    manager: PluginManager | None = None,
    progress: Callable[[str, str, Cell], None] | None = None,
) -> BenchmarkResult:
    """Run the built-in suite (all 33 tasks; ``quick``: 4 of them; ``tasks``: by name)."""
    from pynomaly.detection.prepare import default_manager
    from pynomaly.detection.thresholds import parse, resolve

    pm = manager or default_manager()
    methods = methods_for(pm, detectors)
    chosen_tasks = select_tasks(seed, tasks, quick)
    cells: dict[tuple[str, str], Cell] = {}
    f1: dict[str, dict[str, dict[str, float]]] = {}
    if chosen_tasks:  # imports and JIT compilation are not part of any method's time
        warm = chosen_tasks[0]
        for method in methods:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    _scores(pm, method, warm.X[:60], seed)
            except (PynomalyError, ValueError, ArithmeticError):
                pass
    for task in chosen_tasks:
        for method in methods:
            cell = Cell()
            start = time.perf_counter()
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    scores, cell.chosen = _scores(pm, method, task.X, seed)
                cell.seconds = time.perf_counter() - start
                cell.roc_auc = metrics.roc_auc(task.y, scores)
                cell.average_precision = metrics.average_precision(task.y, scores)
            except (PynomalyError, ValueError, ArithmeticError, MemoryError) as exc:
                cell.seconds = time.perf_counter() - start
                cell.error = f"{type(exc).__name__}: {exc}"[:300]
                scores = None
            cells[method, task.name] = cell
            if thresholds and scores is not None and method in ("auto", REFERENCE):
                for rule_name in THRESHOLD_RULES:
                    try:
                        rule = parse(rule_name, 0.1)
                        with warnings.catch_warnings():  # PyThresh warns about clipping
                            warnings.simplefilter("ignore")
                            _, threshold, _ = resolve(pm, rule, scores)
                    except InputError:
                        continue  # a plugin method whose plugin is not there
                    labels = (scores > threshold).astype(np.int8)
                    f1.setdefault(method, {}).setdefault(rule_name, {})[task.name] = (
                        metrics.f1(task.y, labels)
                    )
            if progress is not None:
                progress(method, task.name, cell)
    return BenchmarkResult(seed, chosen_tasks, methods, cells, f1)
