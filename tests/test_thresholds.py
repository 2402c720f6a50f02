"""Threshold rules on score vectors worked out by hand, through the API and the CLI."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from click.testing import CliRunner

import pynomaly
from pynomaly.cli.main import cli
from pynomaly.detection import thresholds
from pynomaly.detection.results import ThresholdRule
from pynomaly.errors import InputError

# 1..9 and one far outlier: median 5.5, MAD 2.5, Q1 3.25, Q3 7.75, mean 14.5, std 28.605
SCORES = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 100], dtype=np.float64)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("mad", 5.5 + 3 * 1.4826 * 2.5),
        ("mad:2", 5.5 + 2 * 1.4826 * 2.5),
        ("iqr", 7.75 + 1.5 * 4.5),
        ("iqr:3", 7.75 + 3 * 4.5),
        ("zscore", 14.5 + 3 * math.sqrt(818.25)),
        ("percentile:90", 9.0 + 0.1 * 91),
        ("fixed:7.5", 7.5),
        ("score:7.5", 7.5),
        ("contamination", 9.0 + 0.1 * 91),  # contamination 0.1: the 90th percentile
    ],
)
def test_each_rule_on_known_scores(spec: str, expected: float) -> None:
    rule = thresholds.parse(spec, 0.1)
    assert rule.threshold(SCORES) == pytest.approx(expected, rel=1e-12)


def test_zscore_is_masked_by_the_outlier_it_looks_for_and_auto_is_not() -> None:
    z = thresholds.parse("zscore", None).threshold(SCORES)
    assert not (z < SCORES).any()  # 100 pulls mean and std up: nothing is flagged
    rule, threshold, why = thresholds.auto(SCORES)
    assert rule == ThresholdRule("mad", 3.0)  # the middle of 14.5 (iqr), 16.62 (mad), 100.3
    assert threshold == pytest.approx(5.5 + 3 * 1.4826 * 2.5)
    assert list(np.flatnonzero(threshold < SCORES)) == [9]
    assert "mad 3 is the middle" in why and "zscore 3 flags 0.0%" in why


def test_auto_flags_nothing_on_scores_without_a_tail() -> None:
    flat = np.linspace(0.0, 1.0, 101)
    _, threshold, _ = thresholds.auto(flat)
    assert not (flat > threshold).any()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("percentile:150", "must be in [0, 100]"),
        ("mad:-1", "must be > 0"),
        ("fixed:abc", "expected a finite number"),
        ("bogus", "expected contamination, percentile:P"),
        (3, "expected contamination"),
    ],
)
def test_bad_rules_are_one_line_errors(spec: object, message: str) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        thresholds.parse(spec, 0.1)


def test_api_threshold_and_unknown_contamination(planted) -> None:
    res = pynomaly.detect(planted, "sklearn:iforest", threshold="mad", random_state=0)
    assert res.model.threshold_rule == ThresholdRule("mad", 3.0)
    assert res.threshold == pytest.approx(thresholds.spread_threshold("mad", 3.0, res.scores))
    assert res.labels[list(planted.index).index("spike")] == 1
    auto = pynomaly.detect(planted, "sklearn:iforest", contamination="auto", random_state=0)
    assert auto.model.threshold_rule.kind in thresholds.SPREAD_RULES  # the rule auto chose
    assert "threshold auto:" in auto.explanation and "threshold auto:" in auto.summary()[
        "explanation"
    ]
    assert auto.n_anomalies < 0.1 * len(planted)  # not the default 10%: one outlier planted
    with pytest.raises(InputError, match=r"contamination.*must be in \(0, 0.5\] or 'auto'"):
        pynomaly.detect(planted, "sklearn:iforest", contamination=0.7)
    with pytest.raises(InputError, match="not contamination='auto'"):
        pynomaly.detect(planted, contamination="auto", threshold="contamination")
    with pytest.raises(InputError, match="give one of threshold or threshold_score"):
        pynomaly.detect(planted, threshold="mad", threshold_score=1.0)


def test_new_rows_are_labelled_with_the_threshold_fixed_at_fit_time(planted) -> None:
    model = pynomaly.fit(planted, "sklearn:iforest", threshold="iqr", random_state=0)
    new = planted.iloc[:50]
    np.testing.assert_array_equal(
        model.predict(new), (model.score(new) > model.threshold).astype(np.int8)
    )


def test_pythresh_method_through_its_plugin(planted) -> None:
    pytest.importorskip("pythresh")
    from pythresh.thresholds.karch import KARCH

    res = pynomaly.detect(planted, "sklearn:iforest", threshold="pythresh:karch", random_state=0)
    expected = KARCH().eval(res.scores)
    np.testing.assert_array_equal(res.labels, expected)
    assert res.model.threshold_rule.kind == "pythresh:karch"
    with pytest.raises(InputError, match="unknown PyThresh method"):
        pynomaly.detect(planted, threshold="pythresh:nope")
    with pytest.raises(InputError, match="no plugin offers this method"):
        pynomaly.detect(planted, threshold="elbow:gap")


def test_cli_threshold_and_auto_contamination(tmp_path, planted) -> None:
    path = tmp_path / "data.csv"
    planted.to_csv(path, index=False)
    runner = CliRunner()
    out = runner.invoke(cli, ["detect", str(path), "--threshold", "mad"])
    assert out.exit_code == 0, out.output
    assert "(mad 3, threshold" in out.output
    out = runner.invoke(cli, ["detect", str(path), "-c", "auto"])
    assert out.exit_code == 0, out.output
    assert "Chosen: threshold auto:" in out.output
    out = runner.invoke(cli, ["detect", str(path), "--threshold", "percentile:120"])
    assert out.exit_code == 2 and "Error: threshold 'percentile:120'" in out.output
    out = runner.invoke(cli, ["detect", str(path), "-c", "0.9"])
    assert out.exit_code == 2 and out.output.count("\n") == 1  # still one line
    out = runner.invoke(cli, ["detect", str(path), "--threshold-percentile", "99"])
    assert out.exit_code == 0 and "(percentile 99, threshold" in out.output  # kept working


class _ClaimsAThreshold:
    """A detector plugin that says its library computed the contamination threshold."""

    def __init__(self, claimed: float, dtype: type = np.float64) -> None:
        self.claimed = claimed
        self.dtype = dtype

    @pynomaly.hookimpl
    def pynomaly_detectors(self):
        return [pynomaly.types.DetectorInfo("claims:dist", "distance to the mean")]

    @pynomaly.hookimpl
    def pynomaly_fit(self, detector_id, X, params, contamination, random_state):
        if detector_id != "claims:dist":
            return None
        scores = np.abs(X - X.mean(axis=0)).sum(axis=1).astype(self.dtype)
        return pynomaly.types.FitResult(X.mean(axis=0), scores, threshold=self.claimed)

    @pynomaly.hookimpl
    def pynomaly_score(self, detector_id, state, X):
        return np.abs(X - state).sum(axis=1) if detector_id == "claims:dist" else None


def test_a_plugins_threshold_is_used_only_for_the_contamination_it_was_fitted_with(isolated_pm):
    # FitResult.threshold stands for the 1 - contamination percentile of the training scores
    # at the contamination the plugin was given: any other rule computes its own
    isolated_pm.register(_ClaimsAThreshold(123.0), "claims")
    X = np.random.default_rng(0).standard_normal((50, 3))

    def detect(**kwargs):
        return pynomaly.detect(X, "claims:dist", manager=isolated_pm, **kwargs)

    assert detect(contamination=0.2).threshold == 123.0
    plain = detect(threshold="percentile:80")
    assert plain.threshold == np.percentile(plain.scores, 80.0)
    other = detect(contamination=0.1, threshold=ThresholdRule("contamination", 0.2))
    assert other.threshold == np.percentile(other.scores, 80.0)
    assert detect(contamination=0.1, threshold="mad").threshold != 123.0


def test_a_plugins_threshold_of_other_scores_is_not_used(isolated_pm):
    # scores converted to float64 by pynomaly are not those the library took the percentile of
    isolated_pm.register(_ClaimsAThreshold(123.0, np.float32), "claims")
    X = np.random.default_rng(0).standard_normal((50, 3))
    result = pynomaly.detect(X, "claims:dist", contamination=0.2, manager=isolated_pm)
    assert result.threshold == np.percentile(result.scores, 80.0)
