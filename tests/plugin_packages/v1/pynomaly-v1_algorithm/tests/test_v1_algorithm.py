"""Tests of the plugin ``v1_algorithm``, using pynomaly's test kit."""

import pynomaly
import pytest
from pynomaly.errors import InvalidParameterError
from pynomaly.testing import check_plugin

DETECTOR = "v1_algorithm:mad"


def test_plugin_passes_the_conformance_checks():
    check_plugin("v1_algorithm").raise_for_failures()


def test_plugin_is_loaded_with_its_detector(pynomaly_pm):
    pm = pynomaly_pm("v1_algorithm")
    assert DETECTOR in [d.id for d in pm.detectors()]  # loads the plugins on first use
    assert "v1_algorithm" in pm.loaded()


def test_planted_anomalies_score_higher(pynomaly_pm, pynomaly_dataset):
    pm = pynomaly_pm("v1_algorithm")
    X, y = pynomaly_dataset("planted")
    result = pynomaly.detect(X, DETECTOR, manager=pm)
    anomalous = y.to_numpy() == 1
    assert result.scores.shape == (len(X),)
    assert result.scores[anomalous].mean() > result.scores[~anomalous].mean()


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev"])
def test_a_fitted_model_scores_new_rows(pynomaly_pm, pynomaly_dataset, metric):
    pm = pynomaly_pm("v1_algorithm")
    X, _ = pynomaly_dataset("breast_cancer")
    model = pynomaly.fit(X.iloc[:300], DETECTOR, manager=pm, metric=metric)
    scores = model.score(X.iloc[300:], manager=pm)
    assert scores.shape == (len(X) - 300,)
    assert (scores >= 0).all()


def test_bad_parameters_are_rejected(pynomaly_pm):
    pm = pynomaly_pm("v1_algorithm")
    with pytest.raises(InvalidParameterError, match="metric"):
        pynomaly.validate_parameters(DETECTOR, {"metric": "cosine"}, manager=pm)
    with pytest.raises(InvalidParameterError, match="unknown"):
        pynomaly.validate_parameters(DETECTOR, {"n_neighbors": 5}, manager=pm)
    with pytest.raises(InvalidParameterError, match="eps"):
        pynomaly.validate_parameters(DETECTOR, {"eps": 0}, manager=pm)
