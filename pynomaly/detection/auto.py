"""``detector="auto"``: profile the data, then choose a detector or an ensemble of detectors.

The choice is made from the **features only** — the rows' values after the processing steps,
the label column set aside before this module sees anything — so it can never peek at labels.

1. **Profile** (:class:`Profile`): rows, features, feature types (binary, discrete, continuous,
   constant), skew (median absolute skewness of the features), duplicate rows, missing values in
   the input, and scale (how far apart the features' spreads are).
2. **Candidates**: the available detectors whose ``DetectorInfo.properties`` say ``auto: True``,
   by ``family``; within a family the lowest ``auto_rank`` wins. A third-party plugin takes part
   by declaring these properties. ``auto_params`` (a list of parameter sets) makes one member per
   set; ``neighbors_param`` names a neighbourhood size, which auto keeps below half the rows.
3. **Rule** (its evidence is in docs/quality.md): an ``ensemble:mean`` (robustly standardized
   scores, see :mod:`pynomaly.builtin.ensemble`) of the best *isolation* detector (IForest) and
   the best *proximity* detector (kNN at k = 10 and at k = 20 with the mean distance). When the
   profile says proximity would be slow or misled, the *distribution* detector (ECOD, linear
   time) takes its place:

   * more than :data:`MAX_PROXIMITY_ROWS` rows (neighbour search grows faster than linearly);
   * more than :data:`MAX_DUPLICATE_SHARE` of the rows are duplicates (a row with k identical
     copies is at distance 0 from its neighbours, however odd it is).

   Distribution detectors are skipped when most features are binary (no tails to measure). One
   member left gives that detector alone; none gives :data:`FALLBACK`.

Known limits: the rule was designed on the built-in benchmark suite (33 tasks from
scikit-learn's bundled data), which also measures it, so its figures there are optimistic; the
profile sees the data only as numbers (a one-hot column is just binary); no rule that ignores
labels knows which kind of anomaly a user is after; and kNN costs more than IForest on many rows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from pynomaly.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from pynomaly.plugin.manager import PluginManager
    from pynomaly.types import DetectorInfo

PRIMARY = ("isolation", "proximity")  # the families auto combines
SUBSTITUTE = "distribution"  # takes proximity's place when proximity is skipped
COMBINATION = "ensemble:mean"
FALLBACK = "sklearn:iforest"
MAX_PROXIMITY_ROWS = 100_000
MAX_DUPLICATE_SHARE = 0.5
MAX_BINARY_SHARE = 0.5


@attrs.frozen
class Profile:
    """What ``auto`` knows about the data (never the labels)."""

    rows: int
    features: int
    binary: int  # features with exactly two distinct values
    discrete: int  # features with 3–10 distinct integer values
    constant: int
    skew: float  # median |skewness| of the non-constant features
    duplicates: float  # share of rows that repeat an earlier row
    missing: float  # share of missing cells in the input, before the processing steps
    scale_ratio: float  # largest / smallest non-zero spread (IQR, else std) of the features

    def describe(self) -> str:
        kinds = []
        if self.binary:
            kinds.append(f"{self.binary} binary")
        if self.discrete:
            kinds.append(f"{self.discrete} discrete")
        continuous = self.features - self.binary - self.discrete - self.constant
        if continuous:
            kinds.append(f"{continuous} continuous")
        if self.constant:
            kinds.append(f"{self.constant} constant")
        return (
            f"{self.rows} rows × {self.features} features ({', '.join(kinds)}); median |skew| "
            f"{self.skew:.2f}; {100 * self.duplicates:.1f}% duplicate rows; "
            f"{100 * self.missing:.1f}% missing cells; spreads differ up to "
            f"{self.scale_ratio:.3g}×"
        )

    def to_dict(self) -> dict[str, Any]:
        return attrs.asdict(self)


@attrs.frozen
class Choice:
    """What ``auto`` chose: a detector id, its parameters and why."""

    detector: str
    params: dict[str, Any]
    explanation: str
    profile: Profile


def profile(X: np.ndarray, frame: pd.DataFrame | None = None) -> Profile:
    """Profile the feature matrix ``X`` (and the input ``frame``, for missing values)."""
    n, m = X.shape
    binary = discrete = constant = 0
    spreads = []
    sample = X if n <= 20_000 else X[np.random.default_rng(0).choice(n, 20_000, replace=False)]
    for j in range(m):
        column = sample[:, j]
        distinct = np.unique(column)
        if distinct.size <= 1:
            constant += 1
            continue
        if distinct.size == 2:
            binary += 1
        elif distinct.size <= 10 and np.all(distinct == np.round(distinct)):
            discrete += 1
        q1, q3 = np.percentile(column, [25.0, 75.0])
        spread = q3 - q1 if q3 > q1 else column.std()
        if spread > 0:
            spreads.append(spread)
    skew = 0.0
    varying = sample[:, sample.std(axis=0) > 0]
    if varying.size:
        from scipy.stats import skew as skewness

        skew = float(np.median(np.abs(skewness(varying, axis=0))))
    duplicates = 0.0
    if n:
        unique_rows = np.unique(sample, axis=0).shape[0]
        duplicates = 1.0 - unique_rows / sample.shape[0]
    missing = 0.0
    if frame is not None and frame.size:
        missing = float(frame.isna().to_numpy().mean())
    ratio = float(max(spreads) / min(spreads)) if spreads else 1.0
    return Profile(n, m, binary, discrete, constant, skew, duplicates, missing, ratio)


def candidates(pm: PluginManager) -> dict[str, list[DetectorInfo]]:
    """The available detectors that declare ``properties["auto"]``, by family, best first."""
    from pynomaly.services import detectors

    found: dict[str, list[DetectorInfo]] = {}
    for info in detectors.detectors(pm):
        props = info.properties
        if info.available and props.get("auto") and props.get("family"):
            found.setdefault(str(props["family"]), []).append(info)
    for infos in found.values():
        infos.sort(key=lambda d: (float(d.properties.get("auto_rank", 100)), d.id))
    return found


def choose(pm: PluginManager, X: np.ndarray, frame: pd.DataFrame | None = None) -> Choice:
    """The detector (or ensemble) for ``X``, by the rule of the module docstring."""
    from pynomaly.services import detectors

    prof = profile(X, frame)
    pool = candidates(pm)
    members: list[list[Any]] = []
    reasons: list[str] = []
    families = list(PRIMARY)
    for family in PRIMARY:
        skip = _skip(family, prof) or ("" if pool.get(family) else "no detector declares auto")
        if skip:
            reasons.append(f"{family} skipped: {skip}")
            families.remove(family)
    if len(families) < len(PRIMARY):
        skip = _skip(SUBSTITUTE, prof) or ("" if pool.get(SUBSTITUTE) else "none available")
        if skip:
            reasons.append(f"{SUBSTITUTE} skipped: {skip}")
        else:
            families.append(SUBSTITUTE)
    for family in families:
        members += _members(pool[family][0], prof)
    if len(members) >= 2:
        try:
            detectors.resolve(pm, COMBINATION)
        except InputError:
            members = members[:1]
            reasons.append(f"{COMBINATION} is unavailable (ensemble plugin disabled)")
    if len(members) >= 2:
        detector, params = COMBINATION, {"members": members}
        what = f"{COMBINATION} of " + ", ".join(_name(m) for m in members)
    elif members:
        detector, params, what = members[0][0], dict(members[0][1]), _name(members[0])
    else:
        detector, params, what = FALLBACK, {}, f"{FALLBACK} (fallback)"
    why = "; ".join(reasons) if reasons else "isolation and proximity detectors combined"
    text = f"detector auto: {what} — {why}. Profile: {prof.describe()}"
    return Choice(detector, params, text, prof)


def _members(info: DetectorInfo, prof: Profile) -> list[list[Any]]:
    """One ``[id, params]`` member per parameter set the detector declares for auto."""
    sets = info.properties.get("auto_params") or [{}]
    k_name = info.properties.get("neighbors_param")
    out = []
    for params in sets:
        params = dict(params)
        if k_name and isinstance(params.get(k_name), int):
            params[k_name] = max(1, min(params[k_name], (prof.rows - 1) // 2))
        out.append([info.id, params])
    return out


def _name(member: list[Any]) -> str:
    detector, params = member
    if not params:
        return str(detector)
    return f"{detector}({', '.join(f'{k}={v}' for k, v in params.items())})"


def _skip(family: str, prof: Profile) -> str:
    if family == "proximity":
        if prof.rows > MAX_PROXIMITY_ROWS:
            return f"{prof.rows} rows > {MAX_PROXIMITY_ROWS} (neighbour search would be slow)"
        if prof.duplicates > MAX_DUPLICATE_SHARE:
            return (
                f"{100 * prof.duplicates:.0f}% of the rows are duplicates (distances of 0 to "
                "the neighbours)"
            )
    if family == SUBSTITUTE and prof.features and (
        prof.binary / prof.features > MAX_BINARY_SHARE
    ):
        return f"{prof.binary} of {prof.features} features are binary (no tails)"
    return ""
