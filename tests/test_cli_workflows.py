"""The fit → save → score workflow, data inspection commands and detection options through
the ``pynomaly`` command."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pynomaly.cli.main import cli
from pynomaly.services import data as data_service


@pytest.fixture
def invoke():
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def data_csv(breast_cancer, tmp_path):
    path = tmp_path / "data.csv"
    breast_cancer.to_csv(path, index=False)
    return path


def test_fit_save_then_score_in_batches_equals_detect(invoke, data_csv, tmp_path):
    model = tmp_path / "model.pkl"
    # IsolationForest scores each row on its own (PyOD's ECOD, by contrast, re-estimates its
    # distributions with each scored batch, so its scores depend on the batch size)
    fitted = invoke("fit", str(data_csv), "--save", str(model), "--json")
    assert fitted.exit_code == 0, fitted.output
    assert json.loads(fitted.output)["detector"] == "sklearn:iforest"
    out = tmp_path / "scores.csv"
    scored = invoke("score", str(model), str(data_csv), "--batch-size", "100", "-o", str(out))
    assert scored.exit_code == 0, scored.output
    detected = invoke("detect", str(data_csv), "-o", str(tmp_path / "d.csv"))
    assert detected.exit_code == 0
    a, b = pd.read_csv(out, index_col=0), pd.read_csv(tmp_path / "d.csv", index_col=0)
    np.testing.assert_allclose(a["anomaly_score"], b["anomaly_score"])
    assert (a.index == b.index).all() and len(a) == 569
    again = invoke("fit", str(data_csv), "--save", str(model))
    assert again.exit_code == 2 and "already exists" in again.output


def test_detect_can_save_the_model(invoke, tmp_path):
    model = tmp_path / "m.pkl"
    assert invoke("detect", "sample:wbc", "--save", str(model), "--json").exit_code == 0
    assert model.stat().st_size > 0


def test_score_rejects_a_file_that_is_not_a_model(invoke, data_csv):
    result = invoke("score", str(data_csv), "sample:wbc")
    assert result.exit_code == 2
    assert "not a pynomaly model file" in result.output


def test_label_column_reports_ranking_metrics(invoke, tmp_path):
    from pynomaly.detection.api import load_data

    path = tmp_path / "wbc.csv"
    from pynomaly.plugin.manager import PluginManager

    pm = PluginManager(autoload=False)
    labelled = data_service.read_data(pm, data_service.connect(pm, "sample:wbc"), {"labels": True})
    labelled.to_csv(path)
    assert load_data(path).shape == (378, 32)  # row index column, 30 features, label
    result = invoke(
        "detect",
        str(path),
        "-d",
        "pyod:ecod",
        "--label-column",
        "is_malignant",
        "--drop",
        "row",
        "--json",
    )
    if result.exit_code != 0 and "unknown processing step 'drop'" in result.output:
        pytest.skip("the built-in steps plugin is not there yet")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["summary"]
    assert 0.8 < summary["roc_auc"] <= 1 and 0 < summary["average_precision"] <= 1


def test_threshold_flags(invoke):
    doc = json.loads(invoke("detect", "sample:wbc", "--threshold-score", "0.6", "--json").output)
    assert doc["summary"]["threshold"] == 0.6
    doc = json.loads(
        invoke("detect", "sample:wbc", "--threshold-percentile", "99", "--json").output
    )
    assert doc["summary"]["anomalies"] == 4


def test_sources_and_schema(invoke, data_csv):
    sources = {s["name"]: s for s in json.loads(invoke("sources", "--json").output)}
    assert sources["csv"]["plugin"] == "files" and ".csv" in sources["csv"]["extensions"]
    assert sources["sample"]["schemes"] == ["sample"]
    schema = json.loads(invoke("schema", str(data_csv), "--json").output)
    assert schema["mean radius"] == "float64" and len(schema) == 30
    missing = invoke("schema", "nope.csv")
    assert missing.exit_code == 2 and "nope.csv: no such file" in missing.output


def test_json_lines_output(invoke, tmp_path):
    out = tmp_path / "s.jsonl"
    assert invoke("detect", "sample:wbc", "-o", str(out)).exit_code == 0
    rows = pd.read_json(out, lines=True)
    assert len(rows) == 378 and {"anomaly_score", "is_anomaly"} <= set(rows.columns)


def test_a_model_with_a_step_from_a_local_plugin_is_saved_and_scored(invoke, tmp_path, monkeypatch):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "clip.py").write_text(
        "from pynomaly import hookimpl\n\n"
        "class Clip:\n"
        "    def fit(self, data):\n"
        "        self.high = data.quantile(0.99)\n"
        "        return self\n\n"
        "    def transform(self, data):\n"
        "        return data.clip(upper=self.high, axis=1)\n\n"
        "@hookimpl\n"
        "def pynomaly_create_step(name, options):\n"
        "    return Clip() if name == 'clip' else None\n"
    )
    monkeypatch.chdir(tmp_path)
    # ./plugins is not loaded unless named: the step is unknown
    assert invoke("fit", "sample:wbc", "--step", "clip", "--save", "m.pkl").exit_code == 2
    named = ("--plugins-dir", "plugins")
    assert invoke(*named, "fit", "sample:wbc", "--step", "clip", "--save", "m.pkl").exit_code == 0
    scored = invoke(*named, "score", "m.pkl", "sample:wbc", "--json")
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.output)["summary"]["rows"] == 378


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-P", "contamination=0.3"], "--param contamination: not a detector parameter; use -c"),
        (["--threshold-score", "nan"], "threshold_score' must be a finite number"),
        (["--random-state", "-1"], "random_state' must be an int in [0, 2**32)"),
        (["--top", "-3"], "--top"),
        (["--report", "nodir/r.html"], "nodir/r.html: directory nodir does not exist"),
        (["--notify", "ftp://x"], "--notify ftp://x: expected an http:// or https:// URL"),
    ],
)
def test_more_bad_arguments(invoke, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    result = invoke("detect", "sample:wbc", "-o", "out.csv", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert not (tmp_path / "out.csv").exists()


def test_batches_keep_text_columns_text(tmp_path):
    """A code column that looks numeric in some chunks ("01", "02") but not in others ("X")
    is read as text in every batch, so the fitted encoder recognises its values."""
    import pynomaly

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400), "y": rng.normal(size=400)})
    frame["code"] = ["01", "02"] * 150 + ["X", "01"] * 50
    path = tmp_path / "codes.csv"
    frame.to_csv(path, index=False)
    model = pynomaly.fit(path, "sklearn:iforest", random_state=0, steps=["encode"])
    whole = model.score(path)
    batched = np.concatenate([r.scores for r in model.score_source(str(path), batch_size=100)])
    np.testing.assert_allclose(batched, whole)


def test_a_short_last_batch_joins_the_one_before(tmp_path, breast_cancer):
    """COF scores rows against their batch and needs more rows than neighbours: a 10-row tail
    (200 rows in batches of 190) is scored together with the batch before it."""
    import pynomaly

    path = tmp_path / "d.csv"
    breast_cancer.iloc[:200, :5].to_csv(path, index=False)
    model = pynomaly.fit(path, "pyod:cof")
    sizes = [len(r.scores) for r in model.score_source(str(path), batch_size=190)]
    assert sizes == [200]
    sizes = [len(r.scores) for r in model.score_source(str(path), batch_size=55)]
    assert sizes == [55, 55, 55, 35]  # a tail of a tenth of a batch or more stays on its own
