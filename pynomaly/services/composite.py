"""Detectors made of other detectors: validating, fitting and scoring an ensemble's members.

A detector whose :class:`~pynomaly.types.DetectorInfo` names a ``members_param`` is a
*combiner*. Its plugin never sees the plugin manager (no hook is handed it): the services fit
and score the members through their own plugins — each framed by its own events, so every
wrapper and monitor sees them — and hand the combiner's ``pynomaly_fit`` / ``pynomaly_score``
the matrix of member scores (rows × members) as ``X``. The fitted state kept in the model is a
:class:`CompositeState`: the members' fitted states and the combiner's own.

Members are fitted and scored in parallel threads, as many as there are members and cores
(the libraries' numeric code releases the GIL for most of the work).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from pynomaly.errors import InputError, InvalidParameterError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

    from pynomaly.plugin.manager import PluginManager
    from pynomaly.types import DetectorInfo, FitResult

T = TypeVar("T")
R = TypeVar("R")


@attrs.frozen
class Member:
    """One fitted member of a combiner: its detector, plugin, parameters and fitted state."""

    detector: str
    plugin: str
    params: Mapping[str, Any]
    state: Any = attrs.field(repr=False)


@attrs.frozen
class CompositeState:
    """The fitted state of a combiner: its members' (in order) and the combiner's own."""

    members: tuple[Member, ...]
    combiner: Any = attrs.field(repr=False)


def member_specs(detector_id: str, name: str, value: Any) -> list[tuple[str, dict[str, Any]]]:
    """``(id, params)`` of each member named by ``value``: ``"a,b,c"``, a list of ids, of
    ``[id, params]`` pairs or of ``{"detector": id, "params": {...}}`` mappings."""
    items: Sequence[Any]
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, (list, tuple)):
        items = value
    else:
        raise InvalidParameterError(
            detector_id, name, f"must list member detectors ('a:x,b:y'), got {value!r}"
        )
    specs: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        if isinstance(item, str):
            specs.append((item, {}))
        elif isinstance(item, Mapping) and isinstance(item.get("detector"), str):
            specs.append((item["detector"], dict(item.get("params") or {})))
        elif (
            isinstance(item, (list, tuple))
            and len(item) == 2
            and isinstance(item[0], str)
            and isinstance(item[1], Mapping)
        ):
            specs.append((item[0], dict(item[1])))
        else:
            raise InvalidParameterError(
                detector_id, name, f"has a member that is not an id or [id, params]: {item!r}"
            )
    if len(specs) < 2:
        raise InvalidParameterError(
            detector_id, name, f"must name at least 2 member detectors, got {len(specs)}"
        )
    return specs


def validate(
    pm: PluginManager, info: DetectorInfo, params: Mapping[str, Any]
) -> dict[str, Any]:
    """``params`` with the members resolved to full ids and their parameters checked by their
    own plugins: ``members`` becomes a list of ``[id, params]`` pairs."""
    from pynomaly.services import detectors

    name = info.members_param
    value = params.get(name)
    if value is None:
        spec = info.params.get(name)
        value = spec.default if spec is not None else None
    if value is None:
        raise InvalidParameterError(info.id, name, "is required: name the member detectors")
    members = []
    for member_id, member_params in member_specs(info.id, name, value):
        try:
            member = detectors.resolve(pm, member_id)
        except InputError as exc:
            raise InvalidParameterError(info.id, name, f"has a bad member: {exc}") from None
        if member.id == info.id:
            raise InvalidParameterError(info.id, name, "cannot name the ensemble itself")
        members.append([member.id, detectors.validate_parameters(pm, member.id, member_params)])
    return {**params, name: members}


def fit(
    pm: PluginManager,
    info: DetectorInfo,
    X: np.ndarray,
    params: Mapping[str, Any],
    contamination: float,
    random_state: int | None,
    fit_member: Callable[[str, Mapping[str, Any]], FitResult],
) -> FitResult:
    """Fit every member on ``X`` (in parallel), then the combiner on their training scores."""
    import numpy as np

    from pynomaly.detection.prepare import checked_scores
    from pynomaly.services import detectors
    from pynomaly.types import FitResult

    # checked again: the members of params that did not go through validate_parameters (a
    # direct services.fit, as the test kit makes) get their defaults and full ids here
    params = validate(pm, info, params)
    specs = [(m[0], m[1]) for m in params[info.members_param]]
    fitted = parallel(lambda spec: fit_member(spec[0], spec[1]), specs)
    columns, members = [], []
    for (member_id, member_params), result in zip(specs, fitted, strict=True):
        member = detectors.resolve(pm, member_id)
        columns.append(
            checked_scores(result.training_scores, X, member.plugin, hook="pynomaly_fit")
        )
        members.append(Member(member.id, member.plugin, member_params, result.state))
    S = np.column_stack(columns)
    combined = pm.call(
        "pynomaly_fit",
        detector_id=info.id,
        X=S,
        params=params,
        contamination=contamination,
        random_state=random_state,
    )
    if not isinstance(combined, FitResult):
        return combined  # the caller reports what the combiner's plugin returned
    return FitResult(CompositeState(tuple(members), combined.state), combined.training_scores)


def score(
    pm: PluginManager,
    info: DetectorInfo,
    state: CompositeState,
    X: np.ndarray,
    score_member: Callable[[Member], np.ndarray],
) -> Any:
    """Score ``X`` with every member (in parallel), then combine through the combiner."""
    import numpy as np

    from pynomaly.detection.prepare import checked_scores

    if not isinstance(state, CompositeState):
        raise InputError(f"{info.id}: the fitted state is not an ensemble's; refit the model")
    scored = parallel(score_member, list(state.members))
    S = np.column_stack(
        [checked_scores(s, X, m.plugin) for s, m in zip(scored, state.members, strict=True)]
    )
    return pm.call("pynomaly_score", detector_id=info.id, state=state.combiner, X=S)


def parallel(function: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """``[function(item) ...]`` in threads, as many as items and cores; the first error is
    raised (after the others finished)."""
    workers = min(len(items), os.cpu_count() or 1)
    if workers <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pynomaly-member") as pool:
        futures = [pool.submit(function, item) for item in items]
        return [future.result() for future in futures]
