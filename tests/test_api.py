"""The library API on real inputs: DataFrames, arrays, CSV and Parquet files, the bundled
sample, bad input, and the contract of results and models."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

import pynomaly
from pynomaly.errors import DataError, InputError, InvalidParameterError, SourceNotFoundError
from pynomaly.services import data as data_service
from tests.test_plugin_manager import MeanDistance


@pytest.fixture
def pm(isolated_pm):
    isolated_pm.register(MeanDistance(), "toy")
    return isolated_pm


def test_result_contract(pm, planted):
    res = pynomaly.detect(planted, "toy:dist", contamination=0.05, manager=pm)
    assert res.scores.shape == (len(planted),) and res.scores.dtype == np.float64
    assert set(np.unique(res.labels)) <= {0, 1}
    assert res.threshold == pytest.approx(np.percentile(res.scores, 95))
    assert np.array_equal(res.labels, (res.scores > res.threshold).astype(int))
    frame = res.to_frame()
    assert list(frame.columns) == ["anomaly_score", "is_anomaly"]
    assert frame.index.equals(planted.index)
    assert res.top(1).index[0] == "spike"
    assert res.summary()["rows"] == len(planted) and res.summary()["anomalies"] == res.n_anomalies


def test_detect_never_modifies_its_input(pm, planted):
    before = planted.copy()
    pynomaly.detect(planted, "toy:dist", manager=pm)
    pd.testing.assert_frame_equal(planted, before)


def test_numpy_input_and_model_scoring_of_new_rows(pm, planted):
    X = planted.to_numpy()
    model = pynomaly.fit(X[:150], "toy:dist", manager=pm)
    assert model.feature_names == ("x0", "x1", "x2", "x3")
    new = model.score(X[150:], manager=pm)
    assert new.shape == (51,)
    assert np.allclose(new, np.linalg.norm(X[150:] - X[:150].mean(axis=0), axis=1))
    labels = model.predict(X[150:], manager=pm)
    assert labels[-1] == 1  # the spike


def test_model_pickles_and_scores_the_same(pm, planted):
    model = pynomaly.fit(planted, "toy:dist", manager=pm)
    clone = pickle.loads(pickle.dumps(model))
    assert np.array_equal(clone.score(planted, manager=pm), model.score(planted, manager=pm))


def test_explain_gives_one_importance_per_feature(pm, planted):
    model = pynomaly.fit(planted, "toy:dist", manager=pm)
    imp = pynomaly.explain(model, planted, manager=pm)
    assert list(imp.index) == list(planted.columns)
    assert (imp >= 0).all() and imp.sum() > 0


def test_csv_and_parquet_paths(pm, planted, tmp_path):
    frame = planted.reset_index(drop=True)
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    a = pynomaly.detect(tmp_path / "d.csv", "toy:dist", manager=pm)
    b = pynomaly.detect(str(tmp_path / "d.parquet"), "toy:dist", manager=pm)
    np.testing.assert_allclose(a.scores, b.scores)
    assert a.source.endswith("d.csv")


def test_bundled_sample_is_the_wbc_benchmark(pm):
    frame = pynomaly.load_data("sample:wbc", manager=pm)
    assert frame.shape == (378, 30)
    labelled = data_service.read_data(pm, data_service.connect(pm, "sample:wbc"), {"labels": True})
    assert labelled["is_malignant"].sum() == 21


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ("", "file is empty"),
        ("a,b\n", "no rows"),
        ("a,b\n1,x\n2,3\n", "column 'b' is not numeric.*row 0 holds 'x'"),
        ("a,b\n1,2\n3,\n", "column 'b' has a missing or infinite value.*row 1"),
        ("a,b\n1,2,3\n4,5\n", "d.csv: ragged rows"),
        ("a,b\n1,2\n3,4,5\n", "d.csv: cannot read as csv.*Expected 2 fields in line 3"),
        (b"a,b\n\xff\xfe,1\n", "d.csv: cannot read as csv: not utf-8 text"),
    ],
    ids=["empty", "header-only", "text", "nan", "ragged-first", "ragged", "encoding"],
)
def test_bad_files_give_one_line_errors_naming_the_file(pm, tmp_path, contents, message):
    path = tmp_path / "d.csv"
    if isinstance(contents, bytes):
        path.write_bytes(contents)
    else:
        path.write_text(contents)
    with pytest.raises(DataError, match=message) as info:
        pynomaly.detect(path, "toy:dist", manager=pm)
    assert "\n" not in str(info.value)


def test_missing_file_and_unknown_source(pm, tmp_path):
    with pytest.raises(DataError, match=r"nope.csv: no such file"):
        pynomaly.detect(tmp_path / "nope.csv", "toy:dist", manager=pm)
    other = tmp_path / "notes.txt"
    other.write_text("hello")
    with pytest.raises(SourceNotFoundError, match=r"notes.txt: no data source plugin reads this"):
        pynomaly.detect(other, "toy:dist", manager=pm)
    with pytest.raises(DataError, match="no such sample"):
        pynomaly.detect("sample:nope", "toy:dist", manager=pm)


def test_not_parquet_is_reported(pm, tmp_path):
    path = tmp_path / "fake.parquet"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match="fake.parquet: cannot read as parquet"):
        pynomaly.detect(path, "toy:dist", manager=pm)


def test_bad_arguments(pm, planted):
    with pytest.raises(InvalidParameterError, match="contamination.*must be in"):
        pynomaly.detect(planted, "toy:dist", contamination=0.9, manager=pm)
    with pytest.raises(InvalidParameterError, match="random_state"):
        pynomaly.detect(planted, "toy:dist", random_state="seed", manager=pm)
    with pytest.raises(DataError, match="at least 2 rows"):
        pynomaly.detect(planted.iloc[:1], "toy:dist", manager=pm)
    with pytest.raises(DataError, match="2-D"):
        pynomaly.detect(np.arange(5.0), "toy:dist", manager=pm)
    model = pynomaly.fit(planted, "toy:dist", manager=pm)
    with pytest.raises(DataError, match="fitted on 4 features, this data has 3"):
        model.score(planted.iloc[:, :3], manager=pm)


def test_input_errors_are_value_errors():
    """Callers catching ValueError (the scikit-learn habit) catch pynomaly's input errors."""
    assert issubclass(InputError, ValueError)


def test_an_array_is_scored_by_position_by_a_model_fitted_on_named_columns():
    # as scikit-learn does: the array's columns are the model's features, in order, with a
    # warning; another width is still an error
    rng = np.random.default_rng(5)
    frame = pd.DataFrame(rng.standard_normal((200, 3)), columns=["a", "b", "c"])
    model = pynomaly.fit(frame, "sklearn:iforest", random_state=0)
    with pytest.warns(UserWarning, match=r"no column names.*in order \(a, b, c\)"):
        by_position = model.score(frame.to_numpy())
    np.testing.assert_array_equal(by_position, model.score(frame))
    with pytest.raises(pynomaly.errors.DataError, match="fitted on 3 features, this data has 2"):
        model.score(frame.to_numpy()[:, :2])
