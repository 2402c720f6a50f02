"""Built-in plugin ``ensemble``: detectors that combine the scores of other detectors.

``ensemble:mean``, ``ensemble:max``, ``ensemble:aom``, ``ensemble:moa`` and ``ensemble:rank``
take their members by id (``-P members=pyod:iforest,pyod:knn,pyod:ecod``; default those three).
Each is a detector like any other: listed, fitted, saved, loaded, scoring new rows, explained
(by pynomaly's ablation fallback).

How it gets the member scores without the plugin manager: its ``DetectorInfo`` declares
``members_param="members"``, so pynomaly's services validate, fit and score the members through
their own plugins (in parallel) and hand this plugin's ``pynomaly_fit`` / ``pynomaly_score`` the
matrix of member scores (rows × members) as ``X`` (see :mod:`pynomaly.services.composite`).
The arithmetic on that matrix is in :mod:`pynomaly.builtin.combine` (imported when used).

Member scores live on different scales (path lengths, distances, log-probabilities), so before
``mean``, ``max``, ``aom`` and ``moa`` combine them each member's scores are standardized with
statistics of its *training* scores, robustly — ``(s - median) / (1.4826 · MAD)``, the MAD
falling back to IQR / 1.349, then to the standard deviation, then to 1 when a spread is 0 — so
that the anomalies themselves (the tail) do not set the scale, and new rows are standardized
exactly like the training rows. ``rank`` needs no scale: each member's score becomes its
empirical CDF among that member's training scores (mid-rank, in [0, 1]), averaged.

* ``mean``: mean of the standardized scores.
* ``max``: maximum of the standardized scores.
* ``aom`` (average of maximum, Aggarwal & Sathe 2015): the members, in the order given, are split
  into ``n_buckets`` contiguous buckets as equal as possible; the maximum within each bucket,
  averaged over the buckets.
* ``moa`` (maximum of average): the mean within each bucket, the maximum over the buckets.
* ``rank``: mean of the members' training-CDF ranks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pynomaly._version import __version__
from pynomaly.errors import InvalidParameterError
from pynomaly.markers import hookimpl, is_mine
from pynomaly.types import DetectorInfo, FitResult, ParamSpec, PluginMetadata, PluginType

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np

NAMESPACE = "ensemble"
MEMBERS = "members"
DEFAULT_MEMBERS = "pyod:iforest,pyod:knn,pyod:ecod"
COMBINATIONS = {
    "mean": "mean of the members' robustly standardized scores",
    "max": "maximum of the members' robustly standardized scores",
    "aom": "average of bucket maxima of the members' robustly standardized scores",
    "moa": "maximum of bucket averages of the members' robustly standardized scores",
    "rank": "mean of the members' ranks among their own training scores",
}
_MEMBER_CHOICES = (
    DEFAULT_MEMBERS,
    "pyod:iforest,pyod:copod",
    "sklearn:iforest,sklearn:lof",
    "pyod:iforest,pyod:knn,pyod:ecod,pyod:copod",
)


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="ensemble",
        version=__version__,
        plugin_types=[PluginType.ALGORITHM],
        author="pynomaly",
        description="ensembles of any detectors: ensemble:mean|max|aom|moa|rank",
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_detectors() -> list[DetectorInfo]:
    members = ParamSpec(
        "categorical",
        DEFAULT_MEMBERS,
        choices=_MEMBER_CHOICES,
        description="member detectors: ids separated by commas, or a list of ids / [id, params]",
    )
    buckets = ParamSpec(
        "int", 2, 1, 4, description="buckets of members (at most the number of members)"
    )
    infos = []
    for name, summary in COMBINATIONS.items():
        params = {MEMBERS: members}
        if name in ("aom", "moa"):
            params["n_buckets"] = buckets
        infos.append(
            DetectorInfo(
                f"{NAMESPACE}:{name}",
                f"Ensemble: {summary}",
                params,
                members_param=MEMBERS,
                properties={"family": "ensemble", "cost": "members"},
            )
        )
    return infos


@hookimpl
def pynomaly_validate_parameters(
    detector_id: str, params: Mapping[str, Any]
) -> dict[str, Any] | None:
    """Checks its own parameters; the members are checked by pynomaly through their plugins."""
    if not is_mine(detector_id, NAMESPACE):
        return None
    kind = _kind(detector_id)
    known = {MEMBERS, "n_buckets"} if kind in ("aom", "moa") else {MEMBERS}
    checked = dict(params)
    for name in params:
        if name not in known:
            raise InvalidParameterError(
                detector_id, name, f"is not a parameter; valid: {', '.join(sorted(known))}"
            )
    if "n_buckets" in checked:
        value = checked["n_buckets"]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidParameterError(
                detector_id, "n_buckets", f"must be an int >= 1, got {value!r}"
            )
    return checked


@hookimpl
def pynomaly_fit(
    detector_id: str,
    X: np.ndarray,
    params: Mapping[str, Any],
    contamination: float,
    random_state: int | None,
) -> FitResult | None:
    """``X`` holds the members' training scores, one column per member."""
    if not is_mine(detector_id, NAMESPACE):
        return None
    import numpy as np

    from pynomaly.builtin.combine import Combiner, combine, robust_scale

    kind = _kind(detector_id)
    buckets = min(int(params.get("n_buckets", 2)), X.shape[1])
    if kind == "rank":
        combiner = Combiner(kind, np.sort(X, axis=0), None, buckets)
    else:
        center, scale = robust_scale(X)
        combiner = Combiner(kind, center, scale, buckets)
    return FitResult(state=combiner, training_scores=combine(combiner, X))


@hookimpl
def pynomaly_score(detector_id: str, state: Any, X: np.ndarray) -> Any:
    if not is_mine(detector_id, NAMESPACE):
        return None
    from pynomaly.builtin.combine import combine

    return combine(state, X)


def _kind(detector_id: str) -> str:
    kind = detector_id.partition(":")[2]
    if kind not in COMBINATIONS:
        raise InvalidParameterError(detector_id, "detector", f"unknown ensemble {kind!r}")
    return kind
