"""Detectors: the index of every plugin's detectors, their parameters, fit, score, explain."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import attrs

from pynomaly._log import get_logger
from pynomaly.errors import (
    AmbiguousDetectorError,
    InputError,
    PluginError,
    UnknownDetectorError,
)
from pynomaly.plugin.records import PluginStatus
from pynomaly.types import DetectorInfo, FitResult

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from pynomaly.plugin.manager import PluginManager

log = get_logger("pynomaly.plugins")


def detectors(pm: PluginManager) -> list[DetectorInfo]:
    """Every detector of every loaded plugin, available or not, sorted by id (cached until
    plugins change). Of two plugins offering the same id, the first to answer keeps it."""
    index = _index(pm)
    return list(index.values())


def _index(pm: PluginManager) -> dict[str, DetectorInfo]:
    index: dict[str, DetectorInfo] | None = pm.cache.get("detectors")
    if index is None:
        found: dict[str, DetectorInfo] = {}
        for plugin, infos in pm.collect("pynomaly_detectors"):
            for info in infos:
                if info.id in found:
                    log.warning(
                        "detector %s of plugin %s ignored: plugin %s already provides it",
                        info.id,
                        plugin,
                        found[info.id].plugin,
                    )
                    continue
                found[info.id] = attrs.evolve(info, plugin=plugin)
        index = pm.cache["detectors"] = dict(sorted(found.items()))
    return index


def resolve(pm: PluginManager, detector_id: str) -> DetectorInfo:
    """The detector for a full (``pyod:ecod``) or unambiguous short (``ecod``) id."""
    index = _index(pm)
    info = index.get(detector_id)
    if info is None:
        matches = [d for d in index.values() if d.short_id == detector_id]
        if len(matches) > 1:
            ids = ", ".join(d.id for d in matches)
            raise AmbiguousDetectorError(f"detector {detector_id!r} is ambiguous: use one of {ids}")
        if not matches:
            raise UnknownDetectorError(_unknown(pm, detector_id, list(index)))
        info = matches[0]
    if not info.available:
        raise InputError(f"detector {info.id} is unavailable: {info.reason}")
    return info


def _unknown(pm: PluginManager, detector_id: str, known: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(detector_id, known, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    failed = [r for r in pm.records() if r.status is PluginStatus.FAILED]
    if failed:  # the detector may belong to a plugin that did not load
        hint += "; plugins that failed to load: " + "; ".join(
            f"{r.name} ({r.reason})" for r in failed
        )
    return f"unknown detector {detector_id!r}{hint} (`pynomaly detectors` lists them)"


def validate_parameters(
    pm: PluginManager, detector_id: str, params: Mapping[str, Any]
) -> dict[str, Any]:
    """The owner plugin's checked (and possibly normalized) parameters."""
    info = resolve(pm, detector_id)
    result = pm.call("pynomaly_validate_parameters", detector_id=info.id, params=dict(params))
    checked = dict(params) if result is None else dict(result)
    if info.members_param:  # an ensemble: its members are checked by their own plugins
        from pynomaly.services import composite

        checked = composite.validate(pm, info, checked)
    return checked


@contextmanager
def observed(
    pm: PluginManager, phase: str, detector_id: str, n_samples: int, **before: Any
) -> Iterator[None]:
    """Frame one fit or score with its events: ``pynomaly_before_<phase>``, then
    ``pynomaly_after_<phase>`` with the duration, or ``pynomaly_on_<phase>_error``."""
    pm.call(f"pynomaly_before_{phase}", detector_id=detector_id, n_samples=n_samples, **before)
    start = time.perf_counter()
    try:
        yield
    except BaseException as exc:
        pm.call(f"pynomaly_on_{phase}_error", detector_id=detector_id, error=exc)
        raise
    duration = time.perf_counter() - start
    pm.call(f"pynomaly_after_{phase}", detector_id=detector_id, n_samples=n_samples,
            duration=duration)


def fit(
    pm: PluginManager,
    detector_id: str,
    X: np.ndarray,
    params: Mapping[str, Any],
    contamination: float,
    random_state: int | None,
) -> FitResult:
    """Fit through ``pynomaly_fit`` (the owner answers), framed by the fit events.

    An ensemble (a detector with a ``members_param``) is fitted member by member first, each
    through its own plugin and events, and its own ``pynomaly_fit`` gets their training scores
    (see :mod:`pynomaly.services.composite`); ``params`` are then the ones
    :func:`validate_parameters` returned.
    """
    info = resolve(pm, detector_id)
    n, m = X.shape
    with observed(pm, "fit", info.id, n, n_features=m):
        if info.members_param:
            from pynomaly.services import composite

            result = composite.fit(
                pm, info, X, params, contamination, random_state,
                lambda member, member_params: fit(
                    pm, member, X, member_params, contamination, random_state
                ),
            )
        else:
            result = pm.call(
                "pynomaly_fit",
                detector_id=info.id,
                X=X,
                params=params,
                contamination=contamination,
                random_state=random_state,
            )
        if not isinstance(result, FitResult):
            got = "None for its own detector" if result is None else type(result).__name__
            raise PluginError(info.plugin, "pynomaly_fit", f"returned {got}, not a FitResult")
    return result


def score(pm: PluginManager, detector_id: str, state: Any, X: np.ndarray) -> np.ndarray:
    """Score one batch through ``pynomaly_score`` (the owner answers), framed by the score
    events."""
    info = resolve(pm, detector_id)
    state = plain_state(pm, info.plugin, state)
    with observed(pm, "score", info.id, X.shape[0]):
        if info.members_param:
            from pynomaly.services import composite

            scores = composite.score(
                pm, info, state, X, lambda member: score(pm, member.detector, member.state, X)
            )
        else:
            scores = pm.call("pynomaly_score", detector_id=info.id, state=state, X=X)
        if scores is None:
            raise PluginError(info.plugin, "pynomaly_score", "returned None for its own detector")
    return scores


def explained(pm: PluginManager, detector_id: str, state: Any) -> DetectorInfo:
    """The detector's description as explanations need it. A combiner (an ensemble) declares
    neither: its rows' scores are as batch-independent as its members' (the combiners combine
    each row's member scores with training statistics), and it cannot be explained when one
    of its members cannot."""
    info = resolve(pm, detector_id)
    if not info.members_param:
        return info
    from pynomaly.services.composite import CompositeState

    if not isinstance(state, CompositeState):
        return info
    members = [resolve(pm, member.detector) for member in state.members]
    unexplained = next((m for m in members if m.cannot_explain), None)
    return attrs.evolve(
        info,
        batch_independent=all(m.batch_independent for m in members),
        cannot_explain=(
            f"its member {unexplained.id} cannot be explained: {unexplained.cannot_explain}"
            if unexplained is not None
            else ""
        ),
    )


def own_explanation(
    pm: PluginManager, detector_id: str, state: Any, X: np.ndarray
) -> np.ndarray | None:
    """The owner plugin's answer to ``pynomaly_explain`` as a float64 array: per-row
    contributions shaped like ``X``, or one importance per feature; ``None`` when no plugin
    explains the detector. A wrong shape or a non-finite value is a :class:`PluginError`."""
    info = resolve(pm, detector_id)
    state = plain_state(pm, info.plugin, state)
    result = pm.call("pynomaly_explain", detector_id=info.id, state=state, X=X)
    if result is None:
        return None
    import numpy as np

    values = np.asarray(result, dtype=np.float64)
    n, m = X.shape
    if values.shape not in ((n, m), (m,)):
        raise PluginError(
            info.plugin,
            "pynomaly_explain",
            f"returned shape {values.shape} for {n} rows of {m} features: expected ({n}, {m}) "
            f"(per-row contributions) or ({m},) (one importance per feature)",
        )
    if not np.isfinite(values).all():
        raise PluginError(info.plugin, "pynomaly_explain", "returned non-finite values")
    return values


def explain(pm: PluginManager, detector_id: str, state: Any, X: np.ndarray) -> np.ndarray:
    """Per-feature importances of the rows ``X``: the plugin's own per-feature answer, else
    the mean absolute per-row contribution (the plugin's own, else measured as
    :mod:`pynomaly.detection.explain` does, with the median of ``X`` as the reference)."""
    import numpy as np

    from pynomaly.detection.explain import measured

    info = explained(pm, detector_id, state)
    own = own_explanation(pm, info.id, state, X)
    if own is not None and own.ndim == 1:
        return own
    if own is None:
        own, _ = measured(
            info, lambda Z: score(pm, info.id, state, Z), X, np.median(X, axis=0)
        )
    return np.abs(own).mean(axis=0)


def plain_state(pm: PluginManager, plugin: str, state: Any) -> Any:
    """A fitted state as its plugin gets it: a state fitted by the plugin in a worker process
    (isolation) is kept as pickled bytes, unpickled here when the plugin now runs in-process."""
    if getattr(state, "__pynomaly_opaque__", False) and not pm.isolated(plugin):
        return state.load()
    return state
