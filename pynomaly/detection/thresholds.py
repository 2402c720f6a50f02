"""Label thresholds from the training scores, with or without a known contamination.

A threshold rule turns the training scores into one score threshold; rows scoring above it are
anomalies. The rules (``threshold=`` in the API, ``--threshold`` on the command line):

=====================  ================================================================
``contamination``      the ``1 - contamination`` quantile (PyOD's rule; the default)
``percentile:P``       the P-th percentile of the training scores (0–100)
``fixed:S``            the fixed score S (``score:S`` is the same)
``mad[:K]``            median + K · 1.4826 · MAD (K = 3): a robust z-score of K
``iqr[:K]``            Q3 + K · IQR (K = 1.5): Tukey's fence
``zscore[:K]``         mean + K · standard deviation (K = 3)
``auto``               the middle of the mad, iqr and zscore thresholds (see :func:`auto`)
``NS:NAME``            a plugin's method through ``pynomaly_threshold`` (``pythresh:karch``)
=====================  ================================================================

``mad``, ``iqr`` and ``zscore`` need no contamination: they look for scores that stand out from
the bulk of the training scores. They are computed on the scores as the detector gives them;
a detector whose scores are heavily skewed (distances, densities) flags more rows with ``zscore``
than with ``mad``, which is why ``auto`` does not trust one of them alone.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import numpy as np

from pynomaly.errors import InputError, PynomalyError

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.detection.results import ThresholdRule
    from pynomaly.plugin.manager import PluginManager

#: the multiplier K of each spread rule when none is given
DEFAULT_FACTORS: dict[str, float] = {"mad": 3.0, "iqr": 1.5, "zscore": 3.0}

#: MAD of a normal distribution = 0.6745 σ; this factor makes the MAD estimate σ
MAD_TO_SIGMA = 1.4826

SPREAD_RULES = tuple(DEFAULT_FACTORS)

SYNTAX = (
    "contamination, percentile:P, fixed:S, mad[:K], iqr[:K], zscore[:K], auto, or a plugin's "
    "NS:NAME (pythresh:karch)"
)

_PLUGIN_METHOD = re.compile(r"^[A-Za-z_][\w.-]*:[A-Za-z_][\w.-]*$")


def parse(spec: Any, contamination: float | None) -> ThresholdRule:
    """The :class:`~pynomaly.detection.results.ThresholdRule` a ``threshold=`` value names.

    :param spec: a rule (returned as is), or a string of :data:`SYNTAX`.
    :param contamination: the contamination of a ``"contamination"`` rule (``None`` when the
        contamination is unknown, ``contamination="auto"``).
    :raises InputError: for anything else, in one line naming the value.
    """
    from pynomaly.detection.results import ThresholdRule

    if isinstance(spec, ThresholdRule):
        return spec
    if not isinstance(spec, str):
        raise InputError(f"threshold {spec!r}: expected {SYNTAX}")
    text = spec.strip()
    name, _, arg = text.partition(":")
    name = name.lower()

    def number() -> float:
        try:
            value = float(arg)
        except ValueError:
            value = float("nan")
        if not np.isfinite(value):
            raise InputError(f"threshold {spec!r}: expected a finite number after '{name}:'")
        return value

    if name == "contamination" and not arg:
        if contamination is None:
            raise InputError(
                "threshold 'contamination' needs a contamination in (0, 0.5], "
                "not contamination='auto'"
            )
        return ThresholdRule("contamination", float(contamination))
    if name == "auto" and not arg:
        return ThresholdRule("auto", 0.0)
    if name == "percentile" and arg:
        value = number()
        if not 0.0 <= value <= 100.0:
            raise InputError(f"threshold {spec!r}: the percentile must be in [0, 100]")
        return ThresholdRule("percentile", value)
    if name in ("fixed", "score") and arg:
        return ThresholdRule("score", number())
    if name in SPREAD_RULES:
        value = number() if arg else DEFAULT_FACTORS[name]
        if value <= 0:
            raise InputError(f"threshold {spec!r}: the multiplier must be > 0")
        return ThresholdRule(name, value)
    if _PLUGIN_METHOD.match(text) and name not in ("percentile", "fixed", "score"):
        return ThresholdRule(text, 0.0)
    raise InputError(f"threshold {spec!r}: expected {SYNTAX}")


def spread_threshold(kind: str, factor: float, scores: np.ndarray) -> float:
    """The threshold of a spread rule (``mad``, ``iqr``, ``zscore``) on ``scores``."""
    s = np.asarray(scores, dtype=np.float64)
    if kind == "mad":
        median = float(np.median(s))
        return median + factor * MAD_TO_SIGMA * float(np.median(np.abs(s - median)))
    if kind == "iqr":
        q1, q3 = np.percentile(s, [25.0, 75.0])
        return float(q3 + factor * (q3 - q1))
    if kind == "zscore":
        return float(s.mean() + factor * s.std())
    raise ValueError(f"not a spread rule: {kind!r}")


def auto(scores: np.ndarray) -> tuple[ThresholdRule, float, str]:
    """The ``auto`` rule: the middle (median) of the ``mad``, ``iqr`` and ``zscore`` thresholds.

    Each of the three fails in its own way: MAD and IQR collapse when most scores tie (a spread
    of 0 puts the threshold at the median or the third quartile), the z-score is inflated by the
    very outliers it looks for and by skewed scores. Their median is wrong only when two of them
    are. The rule flags at most half of the training rows (every one of the three thresholds is
    at least the median score, up to rounding) and may flag none: scores with no tail give no
    anomalies.

    :returns: the rule it amounts to (a fixed score), the threshold, and a sentence saying which
        rule gave it and what the others would have flagged.
    """
    from pynomaly.detection.results import ThresholdRule

    s = np.asarray(scores, dtype=np.float64)
    found = {k: spread_threshold(k, DEFAULT_FACTORS[k], s) for k in SPREAD_RULES}
    ordered = sorted(found, key=lambda k: found[k])
    chosen = ordered[1]
    threshold = found[chosen]
    shares = ", ".join(
        f"{k} {DEFAULT_FACTORS[k]:g} flags {100.0 * float(np.mean(s > found[k])):.1f}%"
        for k in SPREAD_RULES
    )
    reason = (
        f"threshold auto: {chosen} {DEFAULT_FACTORS[chosen]:g} is the middle of the three "
        f"spread rules ({shares} of the training rows)"
    )
    return ThresholdRule(chosen, DEFAULT_FACTORS[chosen]), threshold, reason


def resolve(
    pm: PluginManager, rule: ThresholdRule, scores: np.ndarray
) -> tuple[ThresholdRule, float, str]:
    """The rule to keep in the model, its threshold on the training ``scores`` and, for
    ``auto``, why it chose what it did (else ``""``). Plugin methods are asked through
    ``pynomaly_threshold``."""
    if rule.kind == "auto":
        return auto(scores)
    if rule.is_plugin_method:
        return rule, plugin_threshold(pm, rule.kind, scores), ""
    return rule, rule.threshold(scores), ""


def plugin_threshold(pm: PluginManager, method: str, scores: np.ndarray) -> float:
    """A plugin's threshold for ``method`` (``"pythresh:karch"``) on the training scores."""
    result = pm.call("pynomaly_threshold", method=method, scores=np.asarray(scores))
    if result is None:
        raise InputError(
            f"threshold {method!r}: no plugin offers this method (built in: {SYNTAX}; "
            "pythresh:NAME needs the pythresh plugin and `pip install pythresh`)"
        )
    try:
        value = float(result)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value):
        raise PynomalyError(f"threshold {method!r}: the plugin returned {result!r}, not a score")
    return value
