"""Data classes exchanged between pynomaly and its plugins.

Everything here is an ``attrs`` class that a hookimpl returns or receives. The module imports
neither numpy nor pandas, so plugin modules can import it at no cost.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from pynomaly.detection.results import DetectionResult
    from pynomaly.detection.stream import StreamedResult


class PluginType(str, enum.Enum):
    """What a plugin provides; one plugin may provide several."""

    ALGORITHM = "algorithm"
    DATA_SOURCE = "data_source"
    OUTPUT = "output"
    PROCESSING = "processing"


def _plugin_types(value: Iterable[PluginType | str]) -> frozenset[PluginType]:
    return frozenset(PluginType(v) for v in value)


def _strings(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _values(value: Iterable[Any]) -> tuple[Any, ...]:
    return tuple(value)


@attrs.frozen
class PluginMetadata:
    """What a plugin says about itself (ADR-025's PluginMetadata).

    ``pynomaly_compat`` is a PEP 440 specifier (``">=1.0,<2"``) of the pynomaly versions the
    plugin works with; ``config_schema`` is a JSON Schema its configuration is validated against
    before :func:`~pynomaly.hookspecs.pynomaly_initialize` is called.
    """

    name: str
    version: str
    plugin_types: frozenset[PluginType] = attrs.field(converter=_plugin_types)
    author: str = ""
    description: str = ""
    dependencies: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    pynomaly_compat: str = ""
    config_schema: Mapping[str, Any] = attrs.field(factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (plugin types as sorted strings)."""
        d = attrs.asdict(self, recurse=False)
        d["plugin_types"] = sorted(t.value for t in self.plugin_types)
        d["dependencies"] = list(self.dependencies)
        d["config_schema"] = dict(self.config_schema)
        return d


@attrs.frozen
class ParamSpec:
    """One hyperparameter of a detector: its type and search space.

    ``kind`` is ``"int"``, ``"float"``, ``"categorical"`` or ``"bool"``. Numeric kinds have
    ``low``/``high`` (inclusive) and ``log`` (sample on a log scale); categorical ones have
    ``choices``. The space is what a tuner samples from; values outside it may still be valid,
    which is for ``pynomaly_validate_parameters`` to decide.
    """

    kind: str = attrs.field(validator=attrs.validators.in_(("int", "float", "categorical", "bool")))
    default: Any = None
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = attrs.field(default=(), converter=_values)
    description: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"type": self.kind, "default": self.default}
        if self.kind in ("int", "float"):
            d.update(range=[self.low, self.high], scale="log" if self.log else "linear")
        if self.kind == "categorical":
            d["values"] = list(self.choices)
        if self.description:
            d["description"] = self.description
        return d


@attrs.frozen
class DetectorInfo:
    """A detector a plugin offers, returned by ``pynomaly_detectors``.

    ``id`` is ``"<namespace>:<name>"`` (``"pyod:ecod"``). A detector whose requirements are
    missing is still listed, with ``available=False`` and the ``reason``. ``plugin`` is filled in
    by the plugin manager with the name of the plugin that returned it.

    ``batch_independent`` declares that a row's score depends only on the fitted state and the
    row, never on the other rows scored with it: such a detector may be scored in chunks, in
    parallel or streamed with the same scores. Leave it ``False`` when unsure. Explanations
    need it too: the contributions of a batch-independent detector are measured on the rows
    shown alone, those of any other by rescoring the whole batch once per feature.

    ``threaded_scoring`` (with ``batch_independent``) declares that ``pynomaly_score`` may run
    in several threads at once on one fitted state, and spends its time in code that releases
    the GIL (numpy, Cython, numba ``nogil``): ``jobs`` then scores chunks of a batch in threads
    of the calling process, which need no worker process started and no copy of the state.
    Otherwise ``jobs`` uses worker processes where they pay, as measured on the first rows (a
    library that already keeps the cores busy, or scores a row in microseconds, gets none: see
    :mod:`pynomaly.detection.parallel`). The conformance kit checks that threads scoring
    parts of a batch at once give the scores of one call; whether threads are faster, only a
    benchmark of the detector can tell (two threads should score a large batch in well under
    the time of one).

    ``additive_contributions`` declares that the plugin's ``pynomaly_explain`` returns per-row
    contributions (rows × features) that add up to each row's score, as a detector's own
    per-feature terms do (ECOD's tail probabilities, HBOS's histogram terms); the conformance
    kit checks it. ``cannot_explain`` says why the detector's scores cannot be explained
    feature by feature (``""``: they can): explanations of it fail with that reason, and
    ``pynomaly detectors`` shows it.

    ``members_param`` makes the detector a *combiner* (an ensemble): the name of its parameter
    that lists member detectors (``"members"``: ``"pyod:iforest,pyod:knn"`` or a list of ids or
    ``[id, params]`` pairs). pynomaly validates, fits and scores the members itself, through their
    own plugins, and hands the combiner's :func:`~pynomaly.hookspecs.pynomaly_fit` and
    :func:`~pynomaly.hookspecs.pynomaly_score` the matrix of member scores (rows × members, in
    the order given) as ``X``. The combiner never needs the plugin manager.

    ``properties`` describe the detector to ``detector="auto"`` and to readers (see
    docs/quality.md): ``family`` (``"isolation"``, ``"proximity"``, ``"density"``,
    ``"distribution"``, ``"linear"``, ``"ensemble"`` ...), ``cost`` (time in rows:
    ``"linear"``, ``"nlogn"``, ``"quadratic"``, ``"cubic"``), ``auto`` (``True``: ``auto`` may
    choose it; ``auto_rank`` orders the candidates of a family, lower first) and anything else a
    plugin wants to say. Values must be JSON-ready.
    """

    id: str
    description: str = ""
    params: Mapping[str, ParamSpec] = attrs.field(factory=dict)
    available: bool = True
    reason: str = ""
    plugin: str = ""
    batch_independent: bool = False
    threaded_scoring: bool = False
    additive_contributions: bool = False
    cannot_explain: str = ""
    members_param: str = ""
    properties: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[-1]

    def hyperparameter_space(self) -> dict[str, dict[str, Any]]:
        """ADR-025's hyperparameter space: ``{param: {"type", "range"|"values", ...}}``."""
        return {name: spec.to_dict() for name, spec in self.params.items()}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "plugin": self.plugin,
            "description": self.description,
            "available": self.available,
            "reason": self.reason,
            "batch_independent": self.batch_independent,
            "threaded_scoring": self.threaded_scoring,
            "additive_contributions": self.additive_contributions,
            "cannot_explain": self.cannot_explain,
            "members_param": self.members_param,
            "properties": dict(self.properties),
            "hyperparameters": self.hyperparameter_space(),
        }


@attrs.frozen
class FitResult:
    """What ``pynomaly_fit`` returns.

    ``state`` is whatever the plugin needs to score new data later (usually the fitted library
    estimator); it must be picklable. ``training_scores`` are the scores of the training rows as
    the wrapped library computes them (higher = more anomalous), one per row.

    ``threshold`` is optional: the value of ``numpy.percentile(training_scores, 100 * (1 -
    contamination))`` for the ``contamination`` the plugin was given, when the library already
    computed exactly that (PyOD's ``threshold_``). pynomaly then uses it as the label threshold
    of the ``contamination`` rule instead of computing the same percentile again; any other rule
    ignores it. Leave it ``None`` unless it is that very number.
    """

    state: Any
    training_scores: Any
    threshold: float | None = None


@attrs.frozen
class SourceInfo:
    """A data source a plugin offers, returned by ``pynomaly_data_sources``.

    ``uris`` are complete sources it offers, such as bundled samples (``sample:wbc``): shell
    completion offers them.
    """

    name: str
    description: str = ""
    schemes: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    extensions: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    plugin: str = ""
    uris: tuple[str, ...] = attrs.field(default=(), converter=_strings)


@attrs.frozen
class OutputInfo:
    """An output format a plugin offers, returned by ``pynomaly_outputs``."""

    name: str
    description: str = ""
    extensions: tuple[str, ...] = attrs.field(default=(), converter=_strings)
    plugin: str = ""


@attrs.frozen
class Connection:
    """An open data source: the URI (for display: any password masked as ``***``), the
    plugin that accepted it and that plugin's handle (which keeps what it needs to connect)."""

    uri: str
    plugin: str
    handle: Any = attrs.field(repr=False)
    options: Mapping[str, Any] = attrs.field(factory=dict, repr=False)


@attrs.frozen
class StepInfo:
    """A processing step a plugin offers, returned by ``pynomaly_processing_steps``.

    ``options`` describes what :func:`~pynomaly.hookspecs.pynomaly_create_step` accepts, e.g.
    ``{"strategy": ParamSpec("categorical", "median", choices=("mean", "median"))}``.
    """

    name: str
    description: str = ""
    options: Mapping[str, ParamSpec] = attrs.field(factory=dict)
    plugin: str = ""


@runtime_checkable
class ProcessingStep(Protocol):
    """A fitted-on-training-data transformation, like a scikit-learn transformer.

    ``fit`` learns from the training frame (medians, scales, categories) and returns the step;
    ``transform`` applies what was learnt to any frame and returns a new one. Neither may
    modify its argument. A step is stored in the fitted model, so it must be picklable.
    """

    def fit(self, data: pd.DataFrame) -> ProcessingStep: ...

    def transform(self, data: pd.DataFrame) -> pd.DataFrame: ...


@runtime_checkable
class OutputWriter(Protocol):
    """A destination being written batch by batch, from ``pynomaly_open_output``.

    ``write`` is called once per batch of scored rows, in input order, with that batch's
    :class:`~pynomaly.DetectionResult`; then either ``close`` once, with the whole run's result
    (a :class:`~pynomaly.StreamedResult`: ``summary()``, ``top(n)`` …, or the
    :class:`~pynomaly.DetectionResult` of every row when all were written in one batch), which
    puts the output in place, or ``abort`` when the run failed, which must leave the destination
    as it was.
    """

    def write(self, result: DetectionResult) -> None: ...

    def close(self, result: DetectionResult | StreamedResult) -> None: ...

    def abort(self) -> None: ...
