"""``detector="auto"``: what it chooses from the profile, that it never reads the labels, and that
third-party detectors take part by declaring properties."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pynomaly
from pynomaly import hookimpl
from pynomaly.detection import auto
from pynomaly.errors import InputError
from pynomaly.plugin.manager import PluginManager
from pynomaly.types import DetectorInfo, FitResult, PluginMetadata


@pytest.fixture(scope="module")
def labelled() -> pd.DataFrame:
    from sklearn.datasets import load_wine

    X, y = load_wine(return_X_y=True, as_frame=True)
    keep = (y != 0) | (np.arange(len(y)) % 10 == 0)  # class 0, thinned, as the anomalies
    frame = X[keep].reset_index(drop=True)
    frame["y"] = (y[keep] == 0).astype(int).to_numpy()
    return frame


def test_auto_never_reads_the_labels(labelled: pd.DataFrame) -> None:
    shuffled = labelled.copy()
    shuffled["y"] = np.random.default_rng(0).permutation(shuffled["y"].to_numpy())
    one = pynomaly.detect(labelled, "auto", label_column="y", random_state=0)
    two = pynomaly.detect(shuffled, "auto", label_column="y", random_state=0)
    assert one.detector == two.detector == "ensemble:mean"
    assert one.model.params == two.model.params
    assert one.explanation == two.explanation
    np.testing.assert_array_equal(one.scores, two.scores)
    assert one.metrics["roc_auc"] != two.metrics["roc_auc"]  # the labels did differ
    without = pynomaly.detect(labelled.drop(columns="y"), "auto", random_state=0)
    np.testing.assert_array_equal(one.scores, without.scores)


def test_the_choice_is_explained(labelled: pd.DataFrame, tmp_path) -> None:
    res = pynomaly.detect(
        labelled, "auto", label_column="y", contamination="auto", random_state=0
    )
    from pynomaly.builtin.report_page import render

    page = render(res)
    assert "How the detector and threshold were chosen" in page
    assert "<li>detector auto: ensemble:mean" in page and "<li>threshold auto:" in page
    text = res.explanation
    assert text.startswith("detector auto: ensemble:mean of pyod:iforest, pyod:knn(n_neighbors=10)")
    assert "13 features (13 continuous)" in text and "duplicate rows" in text
    assert res.summary()["explanation"] == text
    assert text.splitlines()[1].startswith("threshold auto: ")
    members = [m[0] for m in res.model.params["members"]]
    assert members == ["pyod:iforest", "pyod:knn", "pyod:knn"]
    with pytest.raises(InputError, match="chooses its detector's parameters itself"):
        pynomaly.detect(labelled, "auto", n_neighbors=3)


def test_profile_of_mixed_features() -> None:
    rng = np.random.default_rng(0)
    X = np.column_stack(
        [
            rng.integers(0, 2, 200),  # binary
            rng.integers(0, 5, 200),  # discrete
            rng.lognormal(size=200) * 1000,  # continuous, skewed, large
            rng.exponential(size=200),  # continuous, skewed
            np.zeros(200),  # constant
        ]
    ).astype(float)
    frame = pd.DataFrame(X).assign(extra=[np.nan] * 20 + [1.0] * 180)
    prof = auto.profile(X, frame)
    assert (prof.binary, prof.discrete, prof.constant) == (1, 1, 1)
    assert prof.skew > 1 and prof.scale_ratio > 100  # the median |skew| of the 4 varying
    assert prof.missing == pytest.approx(20 / (200 * 6))


def test_duplicates_and_binary_features_change_the_choice() -> None:
    pm = PluginManager(plugins_dir="")
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 3))
    duplicated = np.repeat(base, 4, axis=0)  # 75% of the rows repeat an earlier one
    choice = auto.choose(pm, duplicated)
    assert [m[0] for m in choice.params["members"]] == ["pyod:iforest", "pyod:ecod"]
    assert "proximity skipped: 75% of the rows are duplicates" in choice.explanation
    binary = np.repeat(rng.integers(0, 2, (50, 6)).astype(float), 4, axis=0)
    choice = auto.choose(pm, binary)
    assert choice.detector == "pyod:iforest" and choice.params == {}
    assert "distribution skipped: 6 of 6 features are binary" in choice.explanation


class Declared:
    """A third-party isolation detector that declares itself to auto, ahead of IForest."""

    @hookimpl
    def pynomaly_plugin_metadata(self) -> PluginMetadata:
        return PluginMetadata("declared", "1.0", ["algorithm"], pynomaly_compat=">=1")

    @hookimpl
    def pynomaly_detectors(self) -> list[DetectorInfo]:
        props = {"family": "isolation", "auto": True, "auto_rank": 0}
        return [DetectorInfo("third:far", "distance to the mean", properties=props)]

    @hookimpl
    def pynomaly_fit(self, detector_id: str, X: np.ndarray) -> FitResult | None:
        if detector_id != "third:far":
            return None
        mean = X.mean(axis=0)
        return FitResult(mean, np.linalg.norm(X - mean, axis=1))

    @hookimpl
    def pynomaly_score(self, detector_id: str, state: np.ndarray, X: np.ndarray) -> object:
        return np.linalg.norm(X - state, axis=1) if detector_id == "third:far" else None


def test_a_third_party_detector_takes_part_by_declaring_properties(planted) -> None:
    pm = PluginManager(plugins_dir="")
    pm.register(Declared(), "declared")
    try:
        res = pynomaly.detect(planted, "auto", random_state=0, manager=pm)
    finally:
        pm.shutdown()
    assert res.model.params["members"][0] == ["third:far", {}]
    assert res.scores.argmax() == list(planted.index).index("spike")
