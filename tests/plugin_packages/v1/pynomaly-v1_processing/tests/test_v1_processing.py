"""Tests of the plugin ``v1_processing``, using pynomaly's test kit."""

import numpy as np
import pandas as pd
import pytest
from pynomaly.errors import ConfigurationError, DataError
from pynomaly.testing import check_plugin

import pynomaly_v1_processing as plugin


def test_plugin_passes_the_conformance_checks():
    check_plugin("v1_processing").raise_for_failures()


def test_sparse_gaps_are_filled_with_the_median(pynomaly_pm):
    pm = pynomaly_pm("v1_processing")
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, None, 3.0, 4.0, 5.0]})
    before = frame.copy()
    out = pm.preprocess(frame, "<test>")
    assert out["b"].tolist() == [1.0, 3.5, 3.0, 4.0, 5.0]
    pd.testing.assert_frame_equal(frame, before)  # the input is untouched
    pm.validate(out, "<test>")


def test_mostly_missing_column_is_rejected_by_name(pynomaly_pm):
    pm = pynomaly_pm("v1_processing")
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0, 5.0], "b": [1.0, None, None, None, 5.0]})
    with pytest.raises(DataError, match=r"column 'b' is 60% missing"):
        pm.validate(pm.preprocess(frame, "<test>"), "<test>")
    pm.configure("v1_processing", {"max_missing": 0.8})
    assert plugin.pynomaly_preprocess(frame, "<test>")["b"].notna().all()


def test_extreme_values_are_clipped_on_a_copy(pynomaly_pm, pynomaly_dataset):
    pm = pynomaly_pm("v1_processing")
    X, _ = pynomaly_dataset("wine")
    glitch = X.copy()
    glitch.iloc[0, 0] = 1e30
    before = glitch.copy()
    out = pm.preprocess(glitch, "<test>")
    pd.testing.assert_frame_equal(glitch, before)  # the input is untouched
    assert out.iloc[0, 0] < 1e30
    assert np.isfinite(out.to_numpy()).all()
    assert pm.preprocess(X, "<test>").equals(X)  # ordinary data is left alone


def test_data_with_gaps_becomes_usable(pynomaly_pm, pynomaly_dataset):
    pm = pynomaly_pm("v1_processing")
    X, _ = pynomaly_dataset("wine")
    X.iloc[::4, 2] = np.nan  # a quarter of a column missing
    cleaned = pm.preprocess(X, "<test>")
    pm.validate(cleaned, "<test>")  # every plugin's validation, the built-in one too
    assert cleaned.notna().all().all()


def test_configuration_is_validated(pynomaly_pm):
    pm = pynomaly_pm("v1_processing", config={"v1_processing": {"max_missing": 2}})
    with pytest.raises(ConfigurationError, match="max_missing"):
        pm.load("v1_processing")
