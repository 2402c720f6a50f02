"""pynomaly.AnomalyDetector as a scikit-learn estimator: scikit-learn's own estimator checks,
the wrapped libraries' scores, pynomaly's labels, parameters, Pipeline, GridSearchCV,
cross_val_score, clone, pickle, and the errors a user sees. Real scikit-learn and PyOD only."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_outlier_detector
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import check_estimator

import pynomaly
from pynomaly import AnomalyDetector, anomaly_scorer
from pynomaly.errors import InvalidParameterError, UnknownDetectorError

# --------------------------------------------------------------------------------------------
# scikit-learn's estimator checks

# Checks that fail for a reason that lies in the detector, not in the wrapper. Every other
# check must pass; an entry here that passes fails the test (the list stays exact).
_ALONE = (
    "pyod:ecod scores a new row as PyOD scores a batch of that row alone, ranked among the "
    "training rows plus itself: a training row scored again counts twice in its own empirical "
    "distributions and scores a little lower than its training score (which set offset_ and "
    "fit_predict), so predicting the training rows again flags fewer than contamination of "
    "them, as LocalOutlierFactor(novelty=True).predict does"
)
_NOVELTY = (
    "sklearn:lof scores new rows in LocalOutlierFactor's novelty mode, where a row equal to a "
    "training row counts that row as its neighbour, while the training scores (its "
    "negative_outlier_factor_, which set offset_ and fit_predict) do not: predicting the "
    "training rows again flags fewer than contamination of them, as LocalOutlierFactor("
    "novelty=True).predict does"
)
EXPECTED_FAILED_CHECKS: dict[str, dict[str, str]] = {
    "pyod:ecod (default)": {
        "check_outliers_fit_predict": _ALONE + " (fit_predict != fit(X).predict(X))",
        "check_outliers_train": _ALONE,
    },
    "sklearn:iforest": {},
    "sklearn:lof": {
        "check_outliers_fit_predict": _NOVELTY + " (fit_predict != fit(X).predict(X))",
        "check_outliers_train": _NOVELTY,
    },
}
ESTIMATORS = {
    "pyod:ecod (default)": AnomalyDetector(),
    "sklearn:iforest": AnomalyDetector("sklearn:iforest", random_state=0),
    "sklearn:lof": AnomalyDetector("sklearn:lof", n_neighbors=10),
}
# skipped by scikit-learn itself: array API input is only checked with SCIPY_ARRAY_API=1
MAY_SKIP = {"check_array_api_input"}


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_scikit_learn_estimator_checks(name):
    expected = EXPECTED_FAILED_CHECKS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the checks' own data makes LOF and others warn
        results = check_estimator(
            ESTIMATORS[name], expected_failed_checks=expected, on_fail=None, on_skip=None
        )
    by_status: dict[str, set[str]] = {}
    for result in results:
        by_status.setdefault(result["status"], set()).add(result["check_name"])
    failed = [
        f"{r['check_name']}: {r['exception']!r}"[:500] for r in results if r["status"] == "failed"
    ]
    assert not failed, "\n".join(failed)
    assert by_status.get("xfail", set()) == set(expected), "an expected failure now passes"
    assert by_status.get("skipped", set()) <= MAY_SKIP
    assert len(by_status["passed"]) >= 40  # the checks did run


def test_is_an_outlier_detector_with_documented_parameters():
    est = AnomalyDetector()
    assert is_outlier_detector(est)
    assert est.get_params() == {
        "detector": "pyod:ecod",
        "contamination": 0.1,
        "random_state": 0,
        "steps": (),
    }
    assert pynomaly.AnomalyDetector is AnomalyDetector
    assert {"AnomalyDetector", "anomaly_scorer"} <= set(dir(pynomaly))


# --------------------------------------------------------------------------------------------
# Scores and labels: the wrapped libraries' and pynomaly's


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    """Training rows (300 × 3) and new rows (100 × 3, a few far out)."""
    rng = np.random.default_rng(0)
    train = rng.standard_normal((300, 3))
    new = np.vstack([rng.standard_normal((95, 3)), rng.uniform(4, 6, (5, 3))])
    return train, new


def test_iforest_scores_are_isolation_forests_own(blobs):
    train, new = blobs
    est = AnomalyDetector("sklearn:iforest", random_state=0).fit(train)
    ref = IsolationForest(random_state=0, contamination=0.1).fit(train)
    np.testing.assert_array_equal(est.score_samples(new), ref.score_samples(new))
    np.testing.assert_allclose(est.offset_, ref.offset_, rtol=1e-12)
    np.testing.assert_allclose(est.decision_function(new), ref.decision_function(new))
    np.testing.assert_array_equal(est.predict(new), ref.predict(new))
    np.testing.assert_array_equal(est.fit_predict(train), ref.fit_predict(train))
    assert est.predict(new)[-5:].tolist() == [-1] * 5


def test_lof_scores_and_labels_are_local_outlier_factors_own(blobs):
    train, new = blobs
    est = AnomalyDetector("sklearn:lof", n_neighbors=15)
    # fit_predict: outlier detection mode, on the training rows' own factors
    outliers = LocalOutlierFactor(n_neighbors=15, contamination=0.1).fit_predict(train)
    np.testing.assert_array_equal(est.fit_predict(train), outliers)
    # new rows: novelty mode
    novelty = LocalOutlierFactor(n_neighbors=15, novelty=True, contamination=0.1).fit(train)
    np.testing.assert_array_equal(est.score_samples(new), novelty.score_samples(new))
    np.testing.assert_allclose(est.offset_, novelty.offset_, rtol=1e-12)
    np.testing.assert_array_equal(est.predict(new), novelty.predict(new))


def test_pyod_scores_are_pyods_decision_function_negated(blobs):
    from pyod.models.knn import KNN

    train, new = blobs
    est = AnomalyDetector("pyod:knn", n_neighbors=7).fit(train)
    ref = KNN(n_neighbors=7, contamination=0.1).fit(train)
    np.testing.assert_allclose(est.score_samples(new), -ref.decision_function(new))
    np.testing.assert_allclose(est.threshold_, ref.threshold_)
    np.testing.assert_array_equal(est.predict(new) == -1, ref.predict(new) == 1)


@pytest.mark.parametrize(
    ("detector", "params"),
    [
        ("pyod:ecod", {}),
        ("pyod:iforest", {"n_estimators": 50}),
        ("sklearn:lof", {"n_neighbors": 25}),
        ("sklearn:ocsvm", {"nu": 0.2}),
    ],
)
def test_labels_agree_with_pynomalys(blobs, detector, params):
    train, new = blobs
    est = AnomalyDetector(detector, contamination=0.05, random_state=1, **params)
    training_labels = est.fit_predict(train)
    detected = pynomaly.detect(train, detector, contamination=0.05, random_state=1, **params)
    np.testing.assert_array_equal(training_labels == -1, detected.labels == 1)
    model = pynomaly.fit(train, detector, contamination=0.05, random_state=1, **params)
    np.testing.assert_array_equal(est.predict(new) == -1, model.predict(new) == 1)
    np.testing.assert_allclose(est.score_samples(new), -model.score(new))
    assert est.threshold_ == model.threshold == -est.offset_
    # the model_ is pynomaly's own, in pynomaly's convention
    np.testing.assert_allclose(est.model_.score(new), -est.score_samples(new))


# --------------------------------------------------------------------------------------------
# Parameters: the detector's own are first-class


def test_detector_parameters_are_estimator_parameters():
    est = AnomalyDetector("sklearn:lof", contamination=0.05, n_neighbors=10, metric="manhattan")
    assert est.get_params()["n_neighbors"] == 10
    assert est.get_params(deep=False)["metric"] == "manhattan"
    assert " ".join(repr(est).split()) == (
        "AnomalyDetector(contamination=0.05, detector='sklearn:lof', metric='manhattan', "
        "n_neighbors=10)"
    )
    assert est.set_params(n_neighbors=30, leaf_size=20, contamination=0.1) is est
    assert est.get_params()["n_neighbors"] == 30 and est.get_params()["leaf_size"] == 20
    assert est.contamination == 0.1


def test_clone_is_an_equal_unfitted_copy(blobs):
    est = AnomalyDetector("sklearn:iforest", random_state=3, n_estimators=40).fit(blobs[0])
    copy = clone(est)
    assert copy.get_params() == est.get_params()
    assert not hasattr(copy, "model_")
    copy.set_params(n_estimators=60)
    assert est.get_params()["n_estimators"] == 40  # the copy shares no parameter dict
    np.testing.assert_array_equal(
        clone(est).fit(blobs[0]).score_samples(blobs[1]), est.score_samples(blobs[1])
    )


def test_nested_estimator_parameters():
    from pyod.models.knn import KNN
    from pyod.models.lof import LOF

    est = AnomalyDetector("pyod:lscp", detector_list=[LOF(), KNN()], local_region_size=20)
    est.set_params(local_region_size=25)
    assert est.get_params()["local_region_size"] == 25
    with pytest.raises(ValueError, match="'local_region_size' is not set to an estimator"):
        est.set_params(local_region_size__x=1)


def test_unknown_parameter_is_named_at_fit(blobs):
    est = AnomalyDetector("sklearn:lof").set_params(n_neighbour=5)  # setting never fails
    with pytest.raises(InvalidParameterError, match="'n_neighbour' is not a parameter of") as e:
        est.fit(blobs[0])
    assert isinstance(e.value, ValueError) and e.value.parameter == "n_neighbour"
    with pytest.raises(ValueError, match="parameter 'n_neighbors' must be an int"):
        AnomalyDetector("sklearn:lof", n_neighbors="many").fit(blobs[0])
    with pytest.raises(ValueError, match="contamination"):
        AnomalyDetector(contamination=0.9).fit(blobs[0])
    with pytest.raises(UnknownDetectorError, match="'sklearn:nope'"):
        AnomalyDetector("sklearn:nope").fit(blobs[0])


def test_random_state_accepts_numpy_ints_and_random_states(blobs):
    train, new = blobs
    by_int = AnomalyDetector("sklearn:iforest", random_state=np.int64(5)).fit(train)
    again = AnomalyDetector("sklearn:iforest", random_state=5).fit(train)
    np.testing.assert_array_equal(by_int.score_samples(new), again.score_samples(new))
    seeded = AnomalyDetector("sklearn:iforest", random_state=np.random.RandomState(0))
    first = seeded.fit(train).score_samples(new)
    second = seeded.fit(train).score_samples(new)  # a new seed drawn per fit
    assert not np.array_equal(first, second)


# --------------------------------------------------------------------------------------------
# Input: DataFrames, arrays, widths


def test_dataframe_fit_then_array_predict(breast_cancer):
    est = AnomalyDetector("sklearn:iforest", random_state=0).fit(breast_cancer)
    assert est.n_features_in_ == 30
    assert list(est.feature_names_in_) == list(breast_cancer.columns)
    assert est.model_.feature_names == tuple(breast_cancer.columns)  # pynomaly.explain-ready
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        from_array = est.predict(breast_cancer.to_numpy())
    np.testing.assert_array_equal(from_array, est.predict(breast_cancer))
    # and the other way round: fitted on an array, a DataFrame is taken by position
    by_array = AnomalyDetector("sklearn:iforest", random_state=0).fit(breast_cancer.to_numpy())
    assert not hasattr(by_array, "feature_names_in_")
    with pytest.warns(UserWarning, match="X has feature names"):
        np.testing.assert_array_equal(by_array.predict(breast_cancer), from_array)


def test_width_mismatch_is_one_line_naming_both_widths(breast_cancer):
    est = AnomalyDetector().fit(breast_cancer)
    narrow = breast_cancer.drop(columns=["mean area", "worst symmetry"])
    with pytest.raises(ValueError) as e:
        est.predict(narrow)
    assert str(e.value) == (
        "X has 28 features, but AnomalyDetector is expecting 30 features as input "
        "(missing: ['mean area', 'worst symmetry'])"
    )
    with pytest.raises(ValueError) as e:
        est.score_samples(breast_cancer.to_numpy()[:, :29])
    assert str(e.value) == (
        "X has 29 features, but AnomalyDetector is expecting 30 features as input"
    )
    wide = breast_cancer.assign(extra=1.0)
    with pytest.raises(ValueError, match=r"^X has 31 features.* 30 .*\(new: \['extra'\]\)$"):
        est.decision_function(wide)


def test_reordered_columns_are_refused_by_name(breast_cancer):
    est = AnomalyDetector().fit(breast_cancer)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        est.predict(breast_cancer[breast_cancer.columns[::-1]])


def test_bad_input_gets_scikit_learns_messages(blobs):
    est = AnomalyDetector()
    with pytest.raises(NotFittedError):
        est.predict(blobs[1])
    with pytest.raises(ValueError, match="1 sample"):
        est.fit(blobs[0][:1])
    with pytest.raises(ValueError, match="NaN"):
        est.fit(np.where(blobs[0] > 2, np.nan, blobs[0]))
    with pytest.raises(ValueError, match="could not convert string to float"):
        est.fit(pd.DataFrame({"a": ["x", "y", "z"], "b": [1.0, 2.0, 3.0]}))


def test_processing_steps_take_the_table_as_it_is(breast_cancer):
    frame = breast_cancer.iloc[:, :5].copy()
    frame["kind"] = np.where(frame["mean radius"] > 15, "large", "small")
    frame.iloc[3, 0] = np.nan
    est = AnomalyDetector(
        "sklearn:iforest", random_state=0, steps=["impute", ("encode", {"method": "onehot"})]
    ).fit(frame)
    assert est.model_.feature_names[-2:] == ("kind=large", "kind=small")
    labels = est.predict(frame)
    assert labels.shape == (len(frame),) and set(labels) == {-1, 1}
    with pytest.warns(UserWarning, match="X does not have valid feature names"):
        np.testing.assert_array_equal(est.predict(frame.to_numpy()), labels)
    with pytest.raises(ValueError, match="X has 5 features, but AnomalyDetector is expecting 6"):
        est.predict(frame.drop(columns="kind"))


def test_a_lone_step_name_is_one_step(breast_cancer):
    frame = breast_cancer.iloc[:50, :4].copy()
    frame.iloc[0, 0] = np.nan
    est = AnomalyDetector(steps="impute").fit(frame)
    assert est.model_.steps[0].__class__.__name__.lower().startswith("impute")
    assert np.isfinite(est.score_samples(frame)).all()


def test_a_failed_refit_leaves_the_estimator_unfitted(blobs):
    train, new = blobs
    est = AnomalyDetector().fit(train)
    with pytest.raises(ValueError, match="'contamination' must be in"):
        est.set_params(contamination=0.7).fit(train[:, :1])
    with pytest.raises(NotFittedError):
        est.predict(new)
    assert not hasattr(est, "n_features_in_")


def test_pickles(blobs):
    est = AnomalyDetector("pyod:knn").fit(blobs[0])
    copy = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(copy.decision_function(blobs[1]), est.decision_function(blobs[1]))
    assert copy.get_params() == est.get_params()


# --------------------------------------------------------------------------------------------
# Pipeline, GridSearchCV, cross_val_score and the scorer


@pytest.fixture(scope="module")
def wbc() -> tuple[pd.DataFrame, pd.Series]:
    """sample:wbc's features and ground truth (1 = malignant = anomaly)."""
    frame = pynomaly.load_data("sample:wbc", options={"labels": True})
    return frame.drop(columns="is_malignant"), frame["is_malignant"]


CV = StratifiedKFold(3, shuffle=True, random_state=0)


def test_in_a_pipeline_after_a_scaler(breast_cancer):
    pipe = make_pipeline(StandardScaler(), AnomalyDetector("sklearn:lof", n_neighbors=20))
    labels = pipe.fit(breast_cancer).predict(breast_cancer)
    scaled = StandardScaler().fit_transform(breast_cancer)
    alone = AnomalyDetector("sklearn:lof", n_neighbors=20).fit(scaled)
    np.testing.assert_array_equal(labels, alone.predict(scaled))
    np.testing.assert_allclose(pipe.score_samples(breast_cancer), alone.score_samples(scaled))
    np.testing.assert_array_equal(clone(pipe).fit_predict(breast_cancer), alone.fit_predict(scaled))


def test_grid_search_picks_the_neighbourhood_larger_than_a_cluster_of_anomalies():
    """15 anomalies packed together: with 5 neighbours each looks normal among its own kind,
    with 40 their neighbourhood reaches the normal rows and they stand out."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.standard_normal((300, 2)), 6 + 0.05 * rng.standard_normal((15, 2))])
    y = np.r_[np.zeros(300, dtype=int), np.ones(15, dtype=int)]
    search = GridSearchCV(
        AnomalyDetector("sklearn:lof", contamination=0.05),
        {"n_neighbors": [5, 40]},
        scoring=anomaly_scorer("average_precision"),
        cv=CV,
    ).fit(X, y)
    assert search.best_params_ == {"n_neighbors": 40}
    small, large = search.cv_results_["mean_test_score"]
    assert small < 0.5 < 0.9 < large
    assert search.best_estimator_.get_params()["n_neighbors"] == 40
    assert search.predict(X)[-15:].tolist() == [-1] * 15


def test_grid_search_over_a_pipeline_and_detectors(wbc):
    X, y = wbc
    pipe = make_pipeline(StandardScaler(), AnomalyDetector("sklearn:lof"))
    grid = [
        {"anomalydetector__n_neighbors": [10, 40]},
        {"anomalydetector": [AnomalyDetector("pyod:ecod")]},
    ]
    search = GridSearchCV(pipe, grid, scoring=anomaly_scorer("roc_auc"), cv=CV).fit(X, y)
    assert len(search.cv_results_["params"]) == 3
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.best_score_ > 0.8


def test_cross_val_score_with_several_scorers(wbc):
    X, y = wbc
    est = AnomalyDetector("sklearn:iforest", random_state=0, contamination=0.06)
    auc = cross_val_score(est, X, y, scoring=anomaly_scorer("roc_auc"), cv=CV)
    f1 = cross_val_score(est, X, y, scoring=anomaly_scorer("f1"), cv=CV)
    assert auc.shape == f1.shape == (3,)
    assert (auc > 0.8).all() and (f1 > 0).all() and (f1 <= 1).all()


@pytest.mark.slow
def test_parallel_search_in_worker_processes():
    """n_jobs=2: estimator and scorer are pickled to loky workers, which load the plugins."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.standard_normal((300, 2)), rng.uniform(4, 6, (15, 2))])
    y = np.r_[np.zeros(300, dtype=int), np.ones(15, dtype=int)]
    est = AnomalyDetector("sklearn:lof", n_neighbors=20)
    scores = cross_val_score(est, X, y, scoring=anomaly_scorer("roc_auc"), cv=CV, n_jobs=2)
    np.testing.assert_array_equal(
        scores, cross_val_score(est, X, y, scoring=anomaly_scorer("roc_auc"), cv=CV)
    )
    assert (scores > 0.95).all()


def test_scorer_uses_pynomalys_label_convention(wbc):
    X, y = wbc
    est = AnomalyDetector("sklearn:iforest", random_state=0).fit(X)
    anomaly_scores = est.model_.score(X)
    assert anomaly_scorer("roc_auc")(est, X, y) == pytest.approx(roc_auc_score(y, anomaly_scores))
    assert anomaly_scorer()(est, X, y) == pytest.approx(average_precision_score(y, anomaly_scores))
    assert anomaly_scorer("f1")(est, X, y) == pytest.approx(f1_score(y, est.model_.predict(X)))
    own = anomaly_scorer(f1_score, response="labels", zero_division=0)
    assert own(est, X, y) == anomaly_scorer("f1")(est, X, y)
    pickle.loads(pickle.dumps(own))  # usable by parallel searches


def test_scorer_errors():
    with pytest.raises(ValueError, match="unknown metric 'auc'; known: roc_auc, "):
        anomaly_scorer("auc")
    with pytest.raises(ValueError, match="'roc_auc' is computed on scores, not labels"):
        anomaly_scorer("roc_auc", response="labels")
    with pytest.raises(ValueError, match="give response='scores' or response='labels'"):
        anomaly_scorer(f1_score)
