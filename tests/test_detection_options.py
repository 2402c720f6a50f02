"""Detection options of the core: processing steps kept in the model, a label column with
ranking metrics, threshold rules, batch scoring of a source and per-row contributions."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, roc_auc_score

import pynomaly
from pynomaly import hookimpl
from pynomaly.detection.results import ranking_metrics
from pynomaly.errors import DataError, InputError
from pynomaly.services import processing as processing_service
from pynomaly.types import StepInfo
from tests.test_plugin_manager import MeanDistance


class Standardize:
    """A processing step: learns means and stds on fit, applies them on transform."""

    def fit(self, data):
        self.mean, self.std = data.mean(), data.std()
        return self

    def transform(self, data):
        return (data - self.mean) / self.std


class StepPlugin:
    @hookimpl
    def pynomaly_processing_steps(self):
        return [StepInfo("standardize", "z-scores with the training mean and std")]

    @hookimpl
    def pynomaly_create_step(self, name, options):
        return Standardize() if name == "standardize" else None


@pytest.fixture
def pm(isolated_pm):
    isolated_pm.register(MeanDistance(), "toy")
    isolated_pm.register(StepPlugin(), "standardize_steps")
    return isolated_pm


def test_steps_are_fitted_on_training_data_and_kept_in_the_model(pm, planted):
    train, new = planted.iloc[:150] * 10 + 5, planted.iloc[150:] * 10 + 5
    model = pynomaly.fit(train, "toy:dist", steps=["standardize"], manager=pm)
    expected = np.linalg.norm(((new - train.mean()) / train.std()).to_numpy(), axis=1)
    np.testing.assert_allclose(model.score(new, manager=pm), expected)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(clone.score(new, manager=pm), expected)
    assert "standardize" in [i.name for i in processing_service.processing_steps(pm)]
    with pytest.raises(InputError, match="unknown processing step 'nope' \\(known: .*standardize"):
        pynomaly.fit(train, "toy:dist", steps=["nope"], manager=pm)


def test_label_column_is_excluded_and_scored(pm, planted):
    data = planted.assign(y=(planted.index == "spike").astype(int))
    res = pynomaly.detect(data, "toy:dist", label_column="y", manager=pm)
    assert res.model.feature_names == ("a", "b", "c", "d")
    assert res.metrics["roc_auc"] == 1.0 and res.summary()["average_precision"] == 1.0
    with pytest.raises(DataError, match="label column 'label' not found"):
        pynomaly.detect(data, "toy:dist", label_column="label", manager=pm)
    with pytest.raises(DataError, match="must hold 0/1"):
        pynomaly.detect(data.assign(y=2), "toy:dist", label_column="y", manager=pm)


@pytest.mark.parametrize("seed", range(5))
def test_ranking_metrics_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    y = (rng.random(300) < 0.1).astype(int)
    scores = np.round(rng.normal(size=300) + y, 1)  # rounded: many ties
    got = ranking_metrics(y, scores)
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, scores))
    assert got["average_precision"] == pytest.approx(average_precision_score(y, scores))


def test_threshold_rules(pm, planted):
    by_pct = pynomaly.detect(planted, "toy:dist", threshold_percentile=99, manager=pm)
    assert by_pct.threshold == pytest.approx(np.percentile(by_pct.scores, 99))
    by_score = pynomaly.detect(planted, "toy:dist", threshold_score=5.0, manager=pm)
    assert by_score.threshold == 5.0
    assert by_score.n_anomalies == int((by_score.scores > 5.0).sum()) == 1
    with pytest.raises(InputError, match="not both"):
        pynomaly.detect(planted, "toy:dist", threshold_percentile=9, threshold_score=1, manager=pm)


def test_score_source_in_batches_equals_scoring_at_once(pm, planted, tmp_path):
    path = tmp_path / "new.csv"
    planted.reset_index(drop=True).to_csv(path, index=False)
    model = pynomaly.fit(planted, "toy:dist", manager=pm)
    batches = list(model.score_source(str(path), batch_size=64, manager=pm))
    scores = np.concatenate([b.scores for b in batches])
    np.testing.assert_allclose(scores, model.score(planted, manager=pm))


def test_contributions_point_at_the_feature_that_makes_the_row_odd(pm, planted):
    data = planted.copy()
    data.loc["spike"] = [0.0, 0.0, 15.0, 0.0]
    res = pynomaly.detect(data, "toy:dist", manager=pm)
    contributions = res.contributions(3)
    assert contributions.index[0] == "spike"
    assert contributions.loc["spike"].idxmax() == "c"


def test_columns_are_matched_by_name_when_scoring(pm, planted):
    model = pynomaly.fit(planted, "toy:dist", manager=pm)
    shuffled = planted[["d", "c", "b", "a"]]
    np.testing.assert_allclose(model.score(shuffled, manager=pm), model.score(planted, manager=pm))
    with pytest.raises(DataError, match=r"missing: \['d'\]; unexpected: \['e'\]"):
        model.score(planted.rename(columns={"d": "e"}), manager=pm)


class Shift:
    """A global preprocess plugin: adds 100 to column a of every batch."""

    @hookimpl
    def pynomaly_preprocess(self, data, source):
        return data.assign(a=data["a"] + 100)


def test_contributions_do_not_preprocess_twice(pm, planted):
    pm.register(Shift(), "shift")
    res = pynomaly.detect(planted, "toy:dist", manager=pm)
    contributions = res.contributions(5)
    top = res.top(5)
    # removing a feature can at most remove the whole score: with a second +100 it would not
    assert (contributions.to_numpy() <= top["anomaly_score"].to_numpy()[:, None] + 1e-9).all()
    assert res.data["a"].mean() > 50  # the result keeps the preprocessed data


def test_a_result_holds_no_manager_and_pickles_without_its_scorer(pm, planted):
    """Least privilege: output and postprocess plugins receive a result that can score its
    own model's rows, never the plugin manager."""
    import pickle

    res = pynomaly.detect(planted, "toy:dist", manager=pm)
    assert not any(value is pm for value in vars_of(res))
    clone = pickle.loads(pickle.dumps(res))
    assert clone._scorer is None
    np.testing.assert_array_equal(clone.scores, res.scores)
    assert clone.summary() == res.summary()


def vars_of(obj):
    import attrs

    return [getattr(obj, f.name) for f in attrs.fields(type(obj))]
