"""``pynomaly compare``, ``benchmark`` and ``tune`` with real detectors on small data, and the
built-in suite's tasks (ADBench's anomaly types) checked against their definitions."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pynomaly.cli.main import cli
from pynomaly.quality import suite


@pytest.fixture(scope="module")
def wine_csv(tmp_path_factory: pytest.TempPathFactory) -> str:
    task = next(suite.builtin_suite(0, names=["wine-1"]))
    frame = pd.DataFrame(task.X, columns=[f"f{i}" for i in range(task.X.shape[1])])
    frame["y"] = task.y
    path = tmp_path_factory.mktemp("cmp") / "wine.csv"
    frame.to_csv(path, index=False)
    return str(path)


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_compare_with_labels_ranks_by_roc_auc(wine_csv: str, tmp_path) -> None:
    report = tmp_path / "compare.html"
    code, out = invoke(
        "compare", wine_csv, "--label-column", "y", "--detectors",
        "pyod:iforest,pyod:knn,pyod:ecod,auto", "--json", "--report", str(report),
    )
    assert code == 0, out
    doc = json.loads(out)
    runs = doc["detectors"]
    assert [r["rank"] for r in runs] == sorted(r["rank"] for r in runs)
    assert {r["detector"] for r in runs} == {"pyod:iforest", "pyod:knn", "pyod:ecod", "auto"}
    for run in runs:
        assert 0.5 < run["roc_auc"] <= 1 and 0 <= run["f1"] <= 1
        # memory the process already had and reuses is not counted: a small run may add none
        assert run["seconds"] > 0 and run["peak_bytes"] >= 0
    assert next(r for r in runs if r["detector"] == "auto")["chosen"] == "ensemble:mean"
    page = report.read_text()
    assert "<img alt=\"ROC AUC of each detector\" src=\"data:image/png;base64," in page
    assert not re.search(r"(src|href)=\"(http|//)", page)  # self-contained


def test_compare_without_labels_shows_agreement_and_consensus(wine_csv: str, tmp_path) -> None:
    data = pd.read_csv(wine_csv).drop(columns="y")
    data.index = [f"<b>row{i}</b>" for i in range(len(data))]  # escaped in the page
    path = tmp_path / "nolabels.csv"
    data.to_csv(path, index_label="name")
    report = tmp_path / "agree.html"
    code, out = invoke(
        "compare", str(path), "--index-col", "name", "--detectors",
        "pyod:iforest,pyod:knn,pyod:copod", "--report", str(report),
    )
    assert code == 0, out
    assert "agreement" in out and "Consensus top 10" in out
    code, out = invoke(
        "compare", str(path), "--index-col", "name", "--detectors",
        "pyod:iforest,pyod:knn,pyod:copod", "--json",
    )
    doc = json.loads(out)
    rho = np.array(doc["agreement"]["matrix"])
    assert rho.shape == (3, 3) and np.allclose(np.diag(rho), 1) and np.allclose(rho, rho.T)
    top = doc["consensus_top"]
    assert len(top) == 10 and top[0]["consensus"] >= top[-1]["consensus"]
    assert all(0 <= row["flagged_by"] <= 3 for row in top)
    page = report.read_text()
    assert "&lt;b&gt;row" in page and "<b>row" not in page


def test_compare_errors_are_one_line(wine_csv: str) -> None:
    code, out = invoke("compare", wine_csv, "--detectors", "pyod:nope")
    assert code == 2 and out.startswith("Error: unknown detector 'pyod:nope'")
    code, out = invoke("compare", wine_csv, "--label-column", "missing")
    assert code == 2 and "label column 'missing' not found" in out


def test_benchmark_on_a_tiny_suite_with_adengine_side_by_side() -> None:
    code, out = invoke(
        "benchmark", "--tasks", "wine-1,iris+global", "--detectors", "pyod:iforest,pyod:ecod",
        "--seed", "3", "--json",
    )
    assert code == 0, out
    doc = json.loads(out)
    methods = {row["method"] for row in doc["summary"]}
    assert {"pyod:iforest", "pyod:ecod", "auto"} <= methods
    assert {"adengine:detect", "adengine:consensus"} <= methods  # PyOD 3 ships ADEngine
    assert [t["name"] for t in doc["tasks"]] == ["wine-1", "iris+global"]
    assert len(doc["cells"]) == 2 * len(methods)
    for row in doc["summary"]:
        assert row["failures"] == 0 and 0.5 < row["mean_roc_auc"] <= 1
        assert 1 <= row["mean_rank"] <= len(methods)
    assert doc["summary"][0]["mean_roc_auc"] >= doc["summary"][-1]["mean_roc_auc"]
    f1 = doc["thresholds_f1"]["auto"]
    assert {"contamination", "mad", "iqr", "zscore", "auto"} <= set(f1)
    code, again = invoke(
        "benchmark", "--tasks", "wine-1,iris+global", "--detectors", "pyod:iforest,pyod:ecod",
        "--seed", "3", "--json",
    )
    cells = {(c["method"], c["task"]): c["roc_auc"] for c in json.loads(again)["cells"]}
    assert cells == {(c["method"], c["task"]): c["roc_auc"] for c in doc["cells"]}  # seeded


def test_benchmark_lists_tasks_and_rejects_unknown_ones() -> None:
    code, out = invoke("benchmark", "--list-tasks")
    assert code == 0 and len(out.split()) == 33 >= 20
    code, out = invoke("benchmark", "--tasks", "nope")
    assert code == 2 and "unknown task(s) nope" in out


def test_tune_with_labels_reports_the_holdout(wine_csv: str) -> None:
    pytest.importorskip("optuna")
    code, out = invoke(
        "tune", wine_csv, "--detector", "pyod:knn", "--label-column", "y", "--trials", "4",
        "--json",
    )
    assert code == 0, out
    doc = json.loads(out)
    assert len(doc["trials"]) == 4 and doc["trials"][0]["params"]["n_neighbors"] == 5
    assert doc["best_value"] >= doc["default_value"]  # trial 0 is the defaults
    assert doc["holdout_rows"] > 0 and 0 <= doc["holdout_best"] <= 1
    assert "tuning rows" in doc["criterion"]


def test_tune_without_labels_uses_agreement(wine_csv: str) -> None:
    pytest.importorskip("optuna")
    code, out = invoke("tune", wine_csv, "--detector", "pyod:lof", "--trials", "2")
    assert code == 0, out
    assert "Spearman agreement with the consensus" in out and "best parameters" in out


# --- the suite's tasks -------------------------------------------------------------------------


def normal_rows(n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(1)
    z = rng.normal(size=(n, 1))
    return np.hstack([z + 5, 2 * z + 0.1 * rng.normal(size=(n, 1)) + 5])  # correlated, > 0


def test_global_anomalies_follow_adbench_bounds() -> None:
    X = normal_rows()
    out = suite.planted_anomalies("global", X, 500, 0)
    low, high = 1.1 * X.min(axis=0), 1.1 * X.max(axis=0)
    assert (out >= low).all() and (out <= high).all()


def test_dependency_anomalies_keep_the_marginals_and_drop_the_dependence() -> None:
    X = normal_rows()
    out = suite.planted_anomalies("dependency", X, 2000, 0)
    assert abs(np.corrcoef(X.T)[0, 1]) > 0.9 and abs(np.corrcoef(out.T)[0, 1]) < 0.1
    np.testing.assert_allclose(out.mean(axis=0), X.mean(axis=0), rtol=0.05)


def test_local_and_clustered_anomalies_scale_the_mixture() -> None:
    from sklearn.mixture import GaussianMixture

    X = normal_rows(150)
    mixture = GaussianMixture(1, random_state=0).fit(X)  # (the suite picks k by BIC)
    local = suite.planted_anomalies("local", X, 3000, 0, mixture)
    clustered = suite.planted_anomalies("clustered", X, 3000, 0, mixture)
    ratio = local.std(axis=0) / X.std(axis=0)
    assert np.all((ratio > 1.8) & (ratio < 2.7))  # covariance × 5: spread × √5 ≈ 2.24
    np.testing.assert_allclose(clustered.mean(axis=0), 5 * X.mean(axis=0), rtol=0.05)


def test_one_vs_rest_task_is_seeded_and_five_percent() -> None:
    one = next(suite.builtin_suite(7, names=["wine-0"]))
    two = next(suite.builtin_suite(7, names=["wine-0"]))
    np.testing.assert_array_equal(one.X, two.X)
    assert one.anomalies == 6 and one.shape == (125, 13)
    assert one.X.min() == 0 and one.X.max() == 1  # min-max scaled


def test_measured_peak_counts_native_memory_allocated_during_the_call() -> None:
    import numpy as np

    from pynomaly.quality.metrics import measured

    def allocate() -> float:
        block = np.ones(64 * 2**20 // 8)  # 64 MiB of fresh pages, touched
        return float(block.sum())

    value, seconds, peak = measured(allocate)
    assert value == 64 * 2**20 // 8 and seconds > 0
    assert 48 * 2**20 <= peak <= 256 * 2**20  # the block (not freed before the last sample)
