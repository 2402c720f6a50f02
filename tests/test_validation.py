"""The built-in ``validation`` plugin: one-line errors that name the source, the column, the
row and the processing step that fixes the data; good data passes untouched."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import pynomaly
from pynomaly.errors import DataError
from pynomaly.services import processing as processing_service
from tests.test_plugin_manager import MeanDistance


@pytest.fixture
def pm(isolated_pm):
    isolated_pm.register(MeanDistance(), "toy")
    return isolated_pm


def rejected(pm, data, **kwargs) -> str:
    with pytest.raises(DataError) as info:
        pynomaly.detect(data, "toy:dist", manager=pm, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    return message


NUMBERS = {"a": [1.0, 2.0, 3.0, 4.0], "b": [4.0, 3.0, 2.0, 1.0]}


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame(index=range(4)), "<DataFrame>: no columns"),
        (pd.DataFrame({"a": [], "b": []}), "<DataFrame>: no rows (only a header?)"),
        (
            pd.DataFrame([[1.0, 2.0], [3.0, 5.0]], columns=["a", "a"]),
            "<DataFrame>: duplicate column names ['a']; rename them",
        ),
        (
            pd.DataFrame({**NUMBERS, "c": ["x", "y", None, "abc"]}, index=[10, 11, 12, 13]),
            "<DataFrame>: column 'c' is not numeric (dtype str); row 10 holds 'x'; "
            "encode it (--encode onehot) or drop it (--drop c)",
        ),
        (
            pd.DataFrame({**NUMBERS, "c": [1.5, 2, "abc", None]}),
            "<DataFrame>: column 'c' is not numeric (dtype object); row 2 holds 'abc'; "
            "encode it (--encode onehot) or drop it (--drop c)",
        ),
        (
            pd.DataFrame({**NUMBERS, "c": pd.Categorical(["lo", "hi", "lo", "lo"])}),
            "<DataFrame>: column 'c' is not numeric (dtype category); row 0 holds 'lo'; "
            "encode it (--encode onehot) or drop it (--drop c)",
        ),
        (
            pd.DataFrame({**NUMBERS, "c": ["1", "2", "3", "4"]}),
            "<DataFrame>: column 'c' is not numeric (dtype str) although its values are "
            "numbers; convert it (pandas.to_numeric) or drop it (--drop c)",
        ),
        (
            pd.DataFrame({**NUMBERS, "t": pd.date_range("2024-01-01", periods=4)}),
            "<DataFrame>: column 't' holds dates (dtype datetime64[us]); turn them into "
            "numbers (--datetime expand) or drop it (--drop t)",
        ),
        (
            pd.DataFrame({**NUMBERS, "t": ["2024-01-01", "2024-01-02", "x", "2024-01-04"]}),
            "<DataFrame>: column 't' is not numeric (dtype str); row 0 holds '2024-01-01'; it "
            "looks like a date: expand it (--step datetime:columns=t) or drop it (--drop t)",
        ),
        (
            pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [4.0, np.nan, 2.0, np.nan]}),
            "<DataFrame>: column 'b' has a missing or infinite value at row 1 "
            "(NaN; 2 such values in this column); impute missing values (--impute median) "
            "or drop such rows",
        ),
        (
            pd.DataFrame({"a": [1.0, 2.0, -np.inf, 4.0], "b": [4.0, 3.0, 2.0, 1.0]}),
            "<DataFrame>: column 'a' has a missing or infinite value at row 2 (-inf); "
            "replace infinite values or drop such rows",
        ),
        (
            pd.DataFrame({"n": pd.array([1, 2, None, 4], dtype="Int64"), "b": NUMBERS["b"]}),
            "<DataFrame>: column 'n' has a missing or infinite value at row 2 (NaN); "
            "impute missing values (--impute median) or drop such rows",
        ),
    ],
    ids=[
        "no-columns",
        "no-rows",
        "duplicates",
        "text",
        "mixed",
        "category",
        "numbers-as-text",
        "dates",
        "dates-as-text",
        "nan",
        "inf",
        "nullable-na",
    ],
)
def test_bad_frames_are_rejected_with_one_line(pm, frame, message):
    assert rejected(pm, frame) == message


def test_every_bad_column_is_listed_with_its_first_bad_row(pm):
    frame = pd.DataFrame(np.ones((50, 3)), columns=["x", "y", "z"])
    frame.iloc[30, 0] = np.nan
    frame.iloc[7, 2] = np.inf
    frame.iloc[40, 2] = np.nan
    frame.index = frame.index + 100  # an Int64 index: labels shown plainly, not np.int64(..)
    with pytest.raises(DataError) as info:
        pynomaly.detect(frame, "toy:dist", manager=pm)
    assert str(info.value).splitlines() == [
        "<DataFrame>: 2 columns cannot be used as they are; fix each as suggested, or let "
        "pynomaly prepare the data (--prepare auto, prepare='auto'):",
        "  - column 'x' has a missing or infinite value at row 130 (NaN); impute missing "
        "values (--impute median) or drop such rows",
        "  - column 'z' has a missing or infinite value at row 107 (inf; 2 such values in this "
        "column); replace infinite values or drop such rows",
    ]
    array = np.array([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    assert rejected(pm, array).startswith(
        "<array>: column 'x1' has a missing or infinite value at row 1 (NaN); "
    )


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        (
            "a,b,c\n1,2,red\n3,4,blue\n5,6,red\n",
            "d.csv: column 'c' is not numeric (dtype str); row 0 holds 'red'; "
            "encode it (--encode onehot) or drop it (--drop c)",
        ),
        (
            "a,b\n1,2\n3,\n5,6\n",
            "d.csv: column 'b' has a missing or infinite value at row 1 (NaN); "
            "impute missing values (--impute median) or drop such rows",
        ),
        (
            "a,b\n1,2\n3,inf\n5,6\n",
            "d.csv: column 'b' has a missing or infinite value at row 1 (inf); "
            "replace infinite values or drop such rows",
        ),
        (
            "when,b\n2024-01-01 10:00,2\n2024-01-02 11:30,4\n",
            "d.csv: column 'when' is not numeric (dtype str); row 0 holds '2024-01-01 10:00'; "
            "it looks like a date: expand it (--datetime expand) or drop it (--drop when)",
        ),
        ("a,b\n", "d.csv: no rows (only a header?)"),
    ],
    ids=["text", "nan", "inf", "dates", "header-only"],
)
def test_bad_csv_files_are_rejected_naming_the_file(pm, tmp_path, contents, message):
    path = tmp_path / "d.csv"
    path.write_text(contents)
    assert rejected(pm, path).endswith(message)
    assert str(path) in rejected(pm, path)


def test_the_suggested_step_fixes_the_data(pm, tmp_path, breast_cancer):
    frame = breast_cancer.iloc[:100].copy()
    frame.iloc[3, 4] = np.nan
    assert "--impute median" in rejected(pm, frame)
    pynomaly.detect(frame, "toy:dist", steps=[("impute", {"strategy": "median"})], manager=pm)

    frame = breast_cancer.iloc[:100].assign(
        kind=np.where(breast_cancer["mean area"] < 600, "s", "l")[:100]
    )
    assert "--encode onehot" in rejected(pm, frame)
    res = pynomaly.detect(frame, "toy:dist", steps=[("encode", {"method": "onehot"})], manager=pm)
    assert res.model.feature_names[-2:] == ("kind=l", "kind=s")
    pynomaly.detect(frame, "toy:dist", steps=[("drop", {"columns": "kind"})], manager=pm)

    frame = breast_cancer.iloc[:100].assign(t=pd.date_range("2024-01-01", periods=100, freq="h"))
    assert "--datetime expand" in rejected(pm, frame)
    pynomaly.detect(frame, "toy:dist", steps=["datetime"], manager=pm)

    path = tmp_path / "dates.csv"  # in a CSV file, the dates are ISO 8601 text
    frame.to_csv(path, index=False)
    assert "--datetime expand" in rejected(pm, path)
    pynomaly.detect(path, "toy:dist", steps=[("datetime", {"mode": "expand"})], manager=pm)

    frame = frame.assign(t=frame["t"].dt.strftime("%d/%m/%Y %H:%M"))  # not ISO: name it
    assert "--step datetime:columns=t" in rejected(pm, frame)
    pynomaly.detect(frame, "toy:dist", steps=[("datetime", {"columns": "t"})], manager=pm)


def test_problems_made_by_steps_are_reported_after_them(pm):
    frame = pd.DataFrame(
        {"a": [1.0, 2.0, 3.0], "t": pd.to_datetime(["2024-01-01", None, "2024-03-01"])}
    )
    with pytest.raises(DataError) as info:  # year, day and hour are constant: left out
        pynomaly.detect(frame, "toy:dist", steps=["datetime"], manager=pm)
    lines = str(info.value).splitlines()
    assert lines[0].startswith("<DataFrame>: 2 columns cannot be used as they are")
    assert [line.split("'")[1] for line in lines[1:]] == ["t_month", "t_dayofweek"]
    assert all("missing or infinite value at row 1 (NaN)" in line for line in lines[1:])
    pynomaly.detect(frame, "toy:dist", steps=["datetime", "impute"], manager=pm)


def test_a_messy_frame_gets_every_problem_and_fix_in_one_message(pm):
    """Not one error per run: each unusable column once, in column order, with its fix, and
    --prepare auto, which fixes them all."""
    frame = pd.DataFrame(
        {
            "id": ["a1", "a2", "a3", "a4"],
            "amount": [1.0, np.nan, 3.0, 4.0],
            "ok": [1.0, 2.0, 3.0, 5.0],
            "day": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-05"],
            "rate": [0.1, np.inf, 0.2, 0.3],
            "note": [np.nan] * 4,
        }
    )
    with pytest.raises(DataError) as info:
        pynomaly.detect(frame, "toy:dist", manager=pm)
    lines = str(info.value).splitlines()
    assert "5 columns cannot be used" in lines[0] and "--prepare auto" in lines[0]
    assert [line.split("'")[1] for line in lines[1:]] == ["id", "amount", "day", "rate", "note"]
    for line, fix in zip(
        lines[1:],
        ["--encode onehot", "--impute median", "--datetime expand", "replace infinite",
         "has no value at all; drop it (--drop note)"],
        strict=True,
    ):  # fmt: skip
        assert fix in line, line


def test_good_data_passes(pm, breast_cancer):
    res = pynomaly.detect(breast_cancer, "toy:dist", manager=pm)
    assert len(res.scores) == len(breast_cancer)
    mixed = pd.DataFrame(
        {
            "f64": [0.5, 1.5, 2.5, 9.0],
            "f32": np.array([1, 2, 3, 4], dtype=np.float32),
            "i64": [1, 2, 3, 4],
            "flag": [True, False, True, True],
            "n": pd.array([1, 2, 3, 4], dtype="Int64"),
            "flat": 7.0,  # a constant column is fine
        }
    )
    model = pynomaly.fit(mixed, "toy:dist", manager=pm)
    assert model.feature_names == ("f64", "f32", "i64", "flag", "n", "flat")
    huge = pd.DataFrame({"a": [1e308, 1e308], "b": [1e308, 1e308]})
    processing_service.validate(
        pm, huge, "huge"
    )  # the cheap sum overflows, yet every value is finite
    huge = pd.DataFrame({"a": [1e308, 1e308, 1e308], "b": [1.0, 2.0, np.nan]})
    with pytest.raises(DataError, match="column 'b' .* at row 2 \\(NaN\\)"):
        processing_service.validate(pm, huge, "huge")  # an overflow, and a NaN found too
    cancel = pd.DataFrame({"a": [1.0, np.inf], "b": [-np.inf, 1.0]})
    with pytest.raises(DataError, match=r"2 columns .*\n.*'a'.*\(inf\).*\n.*'b'.*\(-inf\)"):
        processing_service.validate(pm, cancel, "cancel")  # inf - inf: one NaN sum, two columns


def test_constant_batches_score_fine(pm, breast_cancer):
    """A batch scored later may be one row, or repeated rows: every column constant is fine
    there, so the validation hook (which cannot tell fitting from scoring) allows it."""
    model = pynomaly.fit(breast_cancer, "toy:dist", manager=pm)
    one = breast_cancer.iloc[[7]]
    assert model.score(one, manager=pm).shape == (1,)
    twice = breast_cancer.iloc[[7, 7]]
    scores = model.score(twice, manager=pm)
    assert scores[0] == scores[1]


def test_training_data_where_every_column_is_constant_is_rejected(pm):
    frame = pd.DataFrame({"a": [1.0] * 20, "b": [2.0] * 20})
    assert "every column is constant" in rejected(pm, frame)


def test_validation_can_be_called_directly(pm):
    processing_service.validate(pm, pd.DataFrame(NUMBERS), "direct")  # no exception
    with pytest.raises(DataError, match="^direct: no columns$"):
        processing_service.validate(pm, pd.DataFrame(index=[0]), "direct")


def test_text_columns_are_those_neither_numeric_boolean_nor_dates():
    # numpy dtypes are told by kind, anything else by pandas' checks: both must agree
    from pynomaly.detection.prepare import text_columns

    frame = pd.DataFrame(
        {
            "f": [1.5, 2.5],
            "i": np.array([1, 2], dtype=np.uint8),
            "b": [True, False],
            "c": np.array([1 + 1j, 2], dtype=np.complex128),
            "when": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "tz": pd.to_datetime(["2024-01-01", "2024-01-02"]).tz_localize("UTC"),
            "n": pd.array([1, None], dtype="Int64"),
            "nb": pd.array([True, None], dtype="boolean"),
            "s": ["a", "b"],
            "o": pd.Series(["a", 1], dtype=object),
            "cat": pd.Categorical(["a", "b"]),
            "gap": pd.to_timedelta([1, 2], unit="s"),
        }
    )
    assert text_columns(frame) == ("s", "o", "cat", "gap")
    assert text_columns(frame[["f", "i", "b", "when"]]) == ()


def test_an_arrays_column_names_are_its_own():
    # the x0..xN index is built once per width: naming one frame's columns names no other's
    from pynomaly.detection.prepare import read

    a, _ = read(None, np.zeros((2, 3)), None)
    a.columns.name = "mine"
    b, _ = read(None, np.ones((2, 3)), None)
    assert list(b.columns) == ["x0", "x1", "x2"] and b.columns.name is None


@pytest.mark.parametrize(
    "names",
    [
        ["a", "b", "a"],
        [float("nan"), float("nan")],  # two NaN objects: different for a set, not for pandas
        [1, 1.0],
        [("a", 1), ("a", 1)],
        [None, None],
        ["a", "b", 1, np.nan],
    ],
    ids=repr,
)
def test_duplicate_names_are_told_as_pandas_tells_them(pm, names):
    frame = pd.DataFrame(np.zeros((2, len(names))), columns=pd.Index(names, dtype=object))
    if frame.columns.is_unique:
        processing_service.validate(pm, frame, "names")
    else:
        with pytest.raises(DataError, match="duplicate column names"):
            processing_service.validate(pm, frame, "names")
