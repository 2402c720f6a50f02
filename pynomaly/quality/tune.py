"""``pynomaly tune``: search a detector's hyperparameter space (its ``DetectorInfo.params``)
with optuna (an optional extra: ``pip install 'pynomaly[tune]'``).

**With labels** (``label_column``): the rows' labels are split, stratified and seeded, into a
*tuning* part and a *holdout* part (``holdout``, 30% by default). Every trial fits the detector
on all rows — unsupervised, the labels never reach it — and is scored by ROC AUC (or average
precision) on the tuning part's labels only. The best parameters and the defaults are then
scored on the holdout part, which no trial saw: that is the figure to trust, the tuning score
is optimistic (it is the maximum over the trials).

**Without labels** the only criterion is agreement: the Spearman rank correlation of a trial's
scores with a *consensus* — the mean rank of each row over reference detectors of other
families (IForest, ECOD, KNN; those available, the tuned one left out), computed once. Its
limits: it rewards parameters that make the detector agree with the others, so it cannot find
anomalies the consensus misses, and a detector that is already better than the consensus is
pulled towards it. Use it to avoid degenerate parameters, not to beat the defaults.

Trial 0 is always the default parameters; the sampler is optuna's TPE, seeded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from pynomaly.errors import InputError, PynomalyError
from pynomaly.quality import metrics

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.manager import PluginManager
    from pynomaly.types import ParamSpec

METRICS = ("roc_auc", "average_precision")
REFERENCES = ("pyod:iforest", "pyod:ecod", "pyod:knn")


@attrs.define
class Trial:
    number: int
    params: dict[str, Any]
    value: float
    error: str = ""


@attrs.define
class TuneResult:
    """The search: every trial, the best parameters and how they do on the holdout rows."""

    detector: str
    criterion: str  # "roc_auc on tuning rows", "agreement with consensus" ...
    trials: list[Trial]
    best_params: dict[str, Any]
    best_value: float
    default_value: float
    holdout_best: float = float("nan")
    holdout_default: float = float("nan")
    holdout_rows: int = 0

    def to_dict(self) -> dict[str, Any]:
        doc: dict[str, Any] = metrics.jsonable(attrs.asdict(self))
        return doc


def _suggest(trial: Any, name: str, spec: ParamSpec) -> Any:
    if spec.kind == "int":
        return trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)  # type: ignore[arg-type]
    if spec.kind == "float":
        return trial.suggest_float(name, float(spec.low), float(spec.high), log=spec.log)  # type: ignore[arg-type]
    if spec.kind == "bool":
        return trial.suggest_categorical(name, [True, False])
    choices = [c for c in spec.choices if c is None or isinstance(c, (bool, int, float, str))]
    return trial.suggest_categorical(name, choices)


def _space(info: Any) -> dict[str, ParamSpec]:
    """The tunable part of the space: numeric ranges and plain categorical choices."""
    space = {}
    for name, spec in info.params.items():
        if spec.kind in ("int", "float") and (spec.low is None or spec.high is None):
            continue
        if spec.kind == "categorical" and not spec.choices:
            continue
        space[name] = spec
    return space


def tune(
    data: Any,
    detector: str,
    *,
    label_column: str | None = None,
    trials: int = 50,
    metric: str = "roc_auc",
    holdout: float = 0.3,
    contamination: float = 0.1,
    random_state: int = 0,
    steps: Sequence[Any] = (),
    source_options: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    manager: PluginManager | None = None,
) -> TuneResult:
    """Search ``detector``'s hyperparameters on ``data`` (see the module docstring)."""
    try:
        import optuna
    except ImportError:
        raise InputError(
            "tune needs optuna: pip install optuna (or pip install 'pynomaly[tune]')"
        ) from None
    from pynomaly.detection import api
    from pynomaly.detection.prepare import default_manager, read
    from pynomaly.services import detectors as detector_service

    if metric not in METRICS:
        raise InputError(f"--metric {metric!r}: expected one of {', '.join(METRICS)}")
    if trials < 1:
        raise InputError(f"--trials {trials}: expected at least 1")
    if not 0.0 < holdout < 1.0:
        raise InputError(f"--holdout {holdout}: expected a fraction in (0, 1)")
    pm = manager or default_manager()
    info = detector_service.resolve(pm, detector)
    space = _space(info)
    frame, source = read(pm, data, source_options)
    if label_column is not None and label_column not in frame.columns:
        raise InputError(f"{source}: label column {label_column!r} not found")

    def run(params: Mapping[str, Any]) -> Any:
        return api.detect(
            frame, info.id, contamination=contamination, random_state=random_state, steps=steps,
            label_column=label_column, manager=pm, **params,
        )

    first = run({})
    if label_column is not None:
        from sklearn.model_selection import train_test_split

        assert first.y_true is not None
        y = first.y_true.to_numpy()
        if y.min() == y.max():
            raise InputError(f"{source}: label column {label_column!r} has only one class")
        rows = np.arange(len(y))
        tuning, held = train_test_split(
            rows, test_size=holdout, stratify=y, random_state=random_state
        )
        score_fn = metrics.roc_auc if metric == "roc_auc" else metrics.average_precision

        def objective_of(scores: np.ndarray, part: np.ndarray) -> float:
            return score_fn(y[part], scores[part])

        criterion = f"{metric} on {len(tuning)} tuning rows ({len(held)} held out)"
    else:
        consensus = _consensus(pm, frame, info.id, random_state, steps)
        tuning = held = np.arange(0)

        def objective_of(scores: np.ndarray, part: np.ndarray) -> float:
            return float(metrics.spearman([scores, consensus])[0, 1])

        criterion = "Spearman agreement with the consensus of " + ", ".join(
            r for r in REFERENCES if r != info.id
        )

    records: list[Trial] = []

    def objective(trial: Any) -> float:
        params = {name: _suggest(trial, name, spec) for name, spec in space.items()}
        try:
            value = objective_of(run(params).scores, tuning)
        except PynomalyError as exc:
            records.append(Trial(trial.number, params, float("nan"), str(exc)))
            raise optuna.TrialPruned(str(exc)) from None
        records.append(Trial(trial.number, params, value))
        return value

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=random_state)
    )
    if space:
        study.enqueue_trial({n: s.default for n, s in space.items() if _plain(s.default)})
    study.optimize(objective, n_trials=trials if space else 1, timeout=timeout)
    done = [t for t in records if math.isfinite(t.value)]
    if not done:
        raise PynomalyError(f"tune: every trial of {info.id} failed: {records[0].error}")
    best = max(done, key=lambda t: t.value)
    default_value = objective_of(first.scores, tuning)
    result = TuneResult(
        info.id, criterion, records, best.params, best.value, default_value
    )
    if label_column is not None:
        result.holdout_rows = len(held)
        result.holdout_best = objective_of(run(best.params).scores, held)
        result.holdout_default = objective_of(first.scores, held)
    return result


def _plain(value: Any) -> bool:
    return value is None or isinstance(value, (bool, int, float, str))


def _consensus(
    pm: PluginManager, frame: Any, tuned: str, random_state: int, steps: Sequence[Any]
) -> np.ndarray:
    from pynomaly.detection import api
    from pynomaly.services import detectors as detector_service

    available = {d.id for d in detector_service.detectors(pm) if d.available}
    refs = [r for r in REFERENCES if r in available and r != tuned]
    if not refs:
        raise InputError("tune without labels needs reference detectors (pyod:iforest ...)")
    ranks = [
        metrics.rank_scores(
            api.detect(frame, r, random_state=random_state, steps=steps, manager=pm).scores
        )
        for r in refs
    ]
    consensus: np.ndarray = np.mean(ranks, axis=0)
    return consensus
