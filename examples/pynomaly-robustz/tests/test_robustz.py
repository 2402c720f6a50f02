"""Tests of pynomaly-robustz, written with pynomaly's plugin test kit."""

import numpy as np
import pynomaly
import pytest
from pynomaly.errors import ConfigurationError, InvalidParameterError
from pynomaly.testing import check_plugin

# >>> example: what the tests of the Markdown output at the end import
# isort: split
from pynomaly.errors import InputError
from pynomaly.services import outputs

# <<< example

PLUGIN = "robustz"
DETECTOR = "robustz:mad"


def robust_z(train, X):
    """|robust z| of every cell of X, computed here independently of the plugin."""
    train, X = np.asarray(train, dtype=float), np.asarray(X, dtype=float)
    median = np.median(train, axis=0)
    scale = 1.4826 * np.median(np.abs(train - median), axis=0)
    mean_ad = 1.2533 * np.abs(train - median).mean(axis=0)
    scale = np.maximum(np.where(scale > 0, scale, mean_ad), 1e-9)
    return np.abs(X - median) / scale


def test_plugin_passes_the_conformance_checks():
    check_plugin(PLUGIN).raise_for_failures()


@pytest.mark.parametrize("aggregate", ["max", "mean"])
def test_scores_are_the_max_or_mean_robust_z(pynomaly_pm, pynomaly_dataset, aggregate):
    pm = pynomaly_pm(PLUGIN)
    X, _ = pynomaly_dataset("breast_cancer")
    result = pynomaly.detect(X, DETECTOR, manager=pm, aggregate=aggregate)
    z = robust_z(X, X)
    expected = z.max(axis=1) if aggregate == "max" else z.mean(axis=1)
    np.testing.assert_allclose(result.scores, expected, rtol=1e-12)


def test_new_rows_are_scored_against_the_training_data(pynomaly_pm, pynomaly_dataset):
    pm = pynomaly_pm(PLUGIN)
    X, _ = pynomaly_dataset("breast_cancer")
    train, new = X.iloc[:300], X.iloc[300:]
    model = pynomaly.fit(train, DETECTOR, manager=pm)
    np.testing.assert_allclose(model.score(new, manager=pm), robust_z(train, new).max(axis=1))


def test_planted_anomalies_rank_first(pynomaly_pm, pynomaly_dataset):
    pm = pynomaly_pm(PLUGIN)
    X, y = pynomaly_dataset("planted")
    result = pynomaly.detect(X, DETECTOR, manager=pm)
    anomalous = y.to_numpy() == 1
    assert result.scores[anomalous].min() > np.median(result.scores[~anomalous])


def test_a_constant_feature_does_not_break_the_scores(pynomaly_pm, pynomaly_dataset):
    pm = pynomaly_pm(PLUGIN)
    X, _ = pynomaly_dataset("wine")
    X = X.assign(constant=1.0)
    result = pynomaly.detect(X, DETECTOR, manager=pm)
    assert np.isfinite(result.scores).all()


def test_explain_points_at_the_deviating_feature(pynomaly_pm, pynomaly_dataset):
    pm = pynomaly_pm(PLUGIN)
    X, _ = pynomaly_dataset("wine")
    model = pynomaly.fit(X, DETECTOR, manager=pm)
    odd = X.iloc[:5].copy()
    odd[X.columns[3]] += 50 * X[X.columns[3]].std()
    importance = pynomaly.explain(model, odd, manager=pm)
    assert importance.idxmax() == X.columns[3]
    np.testing.assert_allclose(importance.to_numpy(), robust_z(X, odd).mean(axis=0))


def test_explain_is_answered_by_the_plugin(pynomaly_pm, pynomaly_recorder, pynomaly_dataset):
    pm = pynomaly_pm(PLUGIN)
    X, _ = pynomaly_dataset("wine")
    model = pynomaly.fit(X, DETECTOR, manager=pm)
    recorder = pynomaly_recorder(pm)
    pynomaly.explain(model, X, manager=pm)
    recorder.assert_called("pynomaly_explain", plugin=PLUGIN, times=1)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"aggregate": "median"}, "'aggregate' must be 'max' or 'mean'"),
        ({"eps": 0}, "'eps' must be a positive number"),
        ({"eps": True}, "'eps' must be a positive number"),
        ({"n_neighbors": 5}, "'n_neighbors' is unknown"),
    ],
)
def test_bad_parameters_are_rejected(pynomaly_pm, params, message):
    pm = pynomaly_pm(PLUGIN)
    with pytest.raises(InvalidParameterError, match=message):
        pynomaly.validate_parameters(DETECTOR, params, manager=pm)


def test_parameters_are_completed_with_their_defaults(pynomaly_pm):
    pm = pynomaly_pm(PLUGIN)
    checked = pynomaly.validate_parameters(DETECTOR, {"aggregate": "mean"}, manager=pm)
    assert checked == {"aggregate": "mean", "eps": 1e-9}


def test_unknown_settings_are_rejected(pynomaly_pm):
    pm = pynomaly_pm(PLUGIN, config={PLUGIN: {"colour": "red"}})
    with pytest.raises(ConfigurationError, match="'colour' was unexpected"):
        pm.load(PLUGIN)
    pm = pynomaly_pm(PLUGIN)
    pm.load(PLUGIN)
    with pytest.raises(ConfigurationError, match="'colour' was unexpected"):
        pm.configure(PLUGIN, {"colour": "red"})


def test_health_check_reports_numpy(pynomaly_pm):
    pm = pynomaly_pm(PLUGIN)
    health = pm.health_check_all()[PLUGIN]
    assert health == {"status": "healthy", "numpy": np.__version__}


# >>> example: tests of the Markdown output and its setting
def test_markdown_on_the_console_and_in_a_file(pynomaly_pm, pynomaly_dataset, tmp_path):
    pm = pynomaly_pm(PLUGIN)
    X, _ = pynomaly_dataset("wine")
    result = pynomaly.detect(X, DETECTOR, manager=pm)
    text = outputs.format_output(pm, result, "markdown", {"top": 3})
    assert text.startswith(f"**{result.n_anomalies} anomalies in {len(X)} rows")
    assert len([line for line in text.splitlines() if line.startswith("| ")]) == 2 + 3

    destination = tmp_path / "scores.md"
    outputs.export_data(pm, result, str(destination), "markdown")
    rows = destination.read_text().splitlines()[2:]
    assert len(rows) == len(X)
    scores = [float(row.split("|")[2]) for row in rows]
    np.testing.assert_allclose(scores, result.scores, rtol=1e-5)  # 6 significant digits
    with pytest.raises(InputError, match="already exists"):
        outputs.export_data(pm, result, str(destination), "markdown")
    pm.configure(PLUGIN, {"digits": 17})  # every digit: the file holds the exact scores
    outputs.export_data(pm, result, str(destination), "markdown", {"overwrite": True})
    rows = destination.read_text().splitlines()[2:]
    assert [float(row.split("|")[2]) for row in rows] == result.scores.tolist()
    assert [p.name for p in tmp_path.iterdir()] == ["scores.md"]  # no temporary file left


def test_the_digits_setting_is_checked_against_its_schema(pynomaly_pm):
    pm = pynomaly_pm(PLUGIN, config={PLUGIN: {"digits": 0}})
    with pytest.raises(ConfigurationError, match="'digits': 0 is less than the minimum of 1"):
        pm.load(PLUGIN)
    pm = pynomaly_pm(PLUGIN)
    pm.load(PLUGIN)
    with pytest.raises(ConfigurationError, match="'digits': 18 is greater than the maximum"):
        pm.configure(PLUGIN, {"digits": 18})
# <<< example
