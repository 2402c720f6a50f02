"""The built-in ``steps`` plugin: impute, scale, encode, drop, datetime, drop_constant.

Real data (scikit-learn's breast-cancer table with missing values, a category and a date
column added), statistics checked against hand computations and scikit-learn's own
transformers, steps fitted on training rows only and applied unchanged to new rows.
"""

from __future__ import annotations

import logging
import pickle

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

import pynomaly
import pynomaly_pyod.plugin as pyod_plugin
import pynomaly_sklearn.plugin as sklearn_plugin
from pynomaly.builtin import steps as steps_module
from pynomaly.cli.main import cli
from pynomaly.errors import DataError, InputError
from pynomaly.services import processing as processing_service
from pynomaly.types import ProcessingStep

NAMES = ["impute", "scale", "encode", "drop", "datetime", "drop_constant"]
COLORS = np.array(["red", "green", "blue"])


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    """Breast cancer (569 × 30) plus NaNs, a ``color`` text column and a ``ts`` date column."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).data.copy()
    rng = np.random.default_rng(7)
    rows = rng.choice(len(frame), size=60, replace=False)
    cols = rng.integers(0, 30, size=60)
    for r, c in zip(rows, cols, strict=True):
        frame.iat[r, c] = np.nan
    frame["color"] = COLORS[rng.integers(0, 3, len(frame))]
    frame.loc[frame.index[5], "color"] = None
    frame["ts"] = pd.date_range("2023-12-30 22:00", periods=len(frame), freq="13h")
    return frame


@pytest.fixture
def train(table) -> pd.DataFrame:
    return table.iloc[:400].copy()


@pytest.fixture
def new(table) -> pd.DataFrame:
    frame = table.iloc[400:].copy()
    frame.iloc[0, frame.columns.get_loc("color")] = "purple"  # never seen in training
    return frame


@pytest.fixture
def numeric(train, new) -> tuple[pd.DataFrame, pd.DataFrame]:
    return train.drop(columns=["color", "ts"]), new.drop(columns=["color", "ts"])


@pytest.fixture
def pm(isolated_pm):
    """The built-in plugins and the two adapters, nothing from the environment."""
    isolated_pm.register(pyod_plugin, name="pyod_adapter")
    isolated_pm.register(sklearn_plugin, name="sklearn_adapter")
    return isolated_pm


def make(pm, name, **options) -> ProcessingStep:
    return processing_service.create_step(pm, name, options)


def fitted(pm, name, data, **options):
    step = make(pm, name, **options)
    assert step.fit(data) is step
    return step


# --------------------------------------------------------------------------------------------
# Listing and options
# --------------------------------------------------------------------------------------------


def test_processing_steps_are_listed_with_their_options(pm):
    infos = {i.name: i for i in processing_service.processing_steps(pm)}
    assert list(infos) == NAMES
    assert {i.plugin for i in infos.values()} == {"steps"}
    assert infos["impute"].options["strategy"].choices == (
        "mean",
        "median",
        "most_frequent",
        "constant",
    )
    assert set(infos["impute"].options) == {"strategy", "fill_value", "columns"}
    assert infos["scale"].options["method"].choices == ("standard", "robust", "minmax")
    assert infos["encode"].options["method"].choices == ("onehot", "ordinal")
    assert infos["datetime"].options["mode"].choices == ("expand", "drop")
    assert set(infos["drop"].options) == {"columns"}
    assert infos["drop_constant"].options == {}
    for info in infos.values():
        assert info.description
        for spec in info.options.values():
            spec.to_dict()  # serializable for `pynomaly steps`-style listings


def test_steps_are_fresh_processing_steps(pm):
    one, two = make(pm, "scale"), make(pm, "scale")
    assert one is not two
    assert isinstance(one, ProcessingStep)
    assert repr(one) == "Scale(method='standard', unfitted)"
    assert isinstance(
        processing_service.create_step(pm, "drop-constant"), steps_module.DropConstant
    )
    with pytest.raises(pynomaly.errors.PynomalyError, match="transform called before fit"):
        one.transform(pd.DataFrame({"a": [1.0]}))


@pytest.mark.parametrize(
    ("name", "options", "message"),
    [
        (
            "impute",
            {"strategy": "avg"},
            "step impute: option 'strategy' must be one of mean, median, most_frequent, "
            "constant; got 'avg'",
        ),
        (
            "impute",
            {"fill_value": [1]},
            "step impute: option 'fill_value' must be a number or a text; got [1]",
        ),
        (
            "impute",
            {"fill_value": float("nan")},
            "step impute: option 'fill_value' must not be NaN",
        ),
        (
            "scale",
            {"method": 3},
            "step scale: option 'method' must be one of standard, robust, minmax; got 3",
        ),
        (
            "scale",
            {"center": True},
            "step scale: unknown option 'center' (options: method, columns)",
        ),
        (
            "encode",
            {"method": "dummy"},
            "step encode: option 'method' must be one of onehot, ordinal; got 'dummy'",
        ),
        (
            "encode",
            {"columns": 5},
            "step encode: option 'columns' must be a list of column names or a "
            "comma-separated string; got 5",
        ),
        ("drop", {}, "step drop: option 'columns' is required (the columns to remove)"),
        (
            "drop",
            {"columns": "a,,b"},
            "step drop: option 'columns' must name columns, without empty names; got 'a,,b'",
        ),
        (
            "datetime",
            {"mode": "explode"},
            "step datetime: option 'mode' must be one of expand, drop; got 'explode'",
        ),
        (
            "drop_constant",
            {"threshold": 0.1},
            "step drop_constant: unknown option 'threshold' (options: none)",
        ),
    ],
)
def test_bad_options_give_one_line_input_errors(pm, planted, name, options, message):
    with pytest.raises(InputError) as info:
        processing_service.create_step(pm, name, options)
    assert str(info.value) == message
    with pytest.raises(InputError, match="^step "):  # the same through the library call
        pynomaly.fit(planted, "sklearn:iforest", steps=[(name, options)], manager=pm)


def test_option_values_are_normalized(pm):
    assert make(pm, "impute", strategy=" Most-Frequent ").options["strategy"] == "most_frequent"
    assert make(pm, "drop", columns=" a , b,a").options["columns"] == ("a", "b")
    assert make(pm, "scale", method=None).options["method"] == "standard"  # None: default


# --------------------------------------------------------------------------------------------
# impute
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent", "constant"])
def test_impute_fills_with_training_statistics(pm, numeric, strategy):
    train, new = numeric
    step = fitted(pm, "impute", train, strategy=strategy, fill_value=-1)
    out = step.transform(new)
    assert not out.isna().any().any()
    if strategy == "mean":
        expected = train.mean()
    elif strategy == "median":
        expected = train.median()
    elif strategy == "most_frequent":
        expected = train.mode().iloc[0]  # pandas sorts the modes: the smallest of ties
    else:
        expected = pd.Series(-1.0, index=train.columns)
    pd.testing.assert_frame_equal(out, new.fillna(expected))
    # the statistics are the training data's, not the new data's
    if strategy in ("mean", "median"):
        assert not np.allclose(expected, getattr(new, strategy)())


def test_impute_text_and_category_columns(pm, train, new):
    frame = train.assign(kind=pd.Categorical(train["color"]))
    step = fitted(pm, "impute", frame, strategy="most_frequent", columns="color,kind")
    top = train["color"].value_counts().idxmax()
    out = step.transform(frame)
    assert out.loc[train.index[5], "color"] == top == out.loc[train.index[5], "kind"]
    assert out["mean radius"].isna().sum() == train["mean radius"].isna().sum()  # not asked

    out = fitted(pm, "impute", train, strategy="constant").transform(train)
    assert out.loc[train.index[5], "color"] == "missing"
    assert not out.drop(columns="ts").isna().any().any()
    rows, cols = np.nonzero(train.isna().to_numpy())
    assert {out.iat[r, c] for r, c in zip(rows, cols, strict=True)} == {0.0, "missing"}

    with pytest.raises(
        InputError,
        match="step impute: column 'color' is not numeric .*strategy median needs numbers",
    ):
        fitted(pm, "impute", train, strategy="median", columns=["color"])


def test_impute_column_without_values_warns_and_never_leaves_nan(pm, numeric, caplog):
    train, new = numeric
    train = train.assign(empty=np.nan)
    with caplog.at_level(logging.WARNING, logger="pynomaly.processing"):
        step = fitted(pm, "impute", train, strategy="median")
    assert "column empty has no value in the training data; filled with 0.0" in caplog.text
    assert (step.transform(train)["empty"] == 0.0).all()
    step = fitted(pm, "impute", train, strategy="mean", fill_value="7.5")
    assert (step.transform(new.assign(empty=np.nan))["empty"] == 7.5).all()


def test_impute_keeps_the_column_order_of_learnt_and_empty_columns(pm):
    frame = pd.DataFrame({"e": [np.nan, np.nan, np.nan], "x": [1.0, np.nan, 3.0], "y": np.nan})
    out = fitted(pm, "impute", frame, strategy="mean", fill_value=-5).transform(frame)
    assert out.to_numpy().tolist() == [[-5.0, 1.0, -5.0], [-5.0, 2.0, -5.0], [-5.0, 3.0, -5.0]]


def test_impute_needs_a_finite_number_for_numeric_columns(pm, numeric):
    train, _ = numeric
    for value in ("abc", "nan", float("inf")):
        with pytest.raises(InputError, match="'fill_value' must be a finite number"):
            fitted(pm, "impute", train, strategy="constant", fill_value=value)
    duplicated = pd.DataFrame([[1.0, 2.0]], columns=["a", "a"])
    with pytest.raises(DataError, match="step impute: duplicate column names a"):
        fitted(pm, "impute", duplicated)


def test_impute_nullable_integers_and_infinities(pm):
    frame = pd.DataFrame(
        {"n": pd.array([1, None, 3, 3], dtype="Int64"), "x": [1.0, np.inf, 3.0, np.nan]}
    )
    out = fitted(pm, "impute", frame, strategy="mean").transform(frame)
    assert out["n"].tolist() == [1.0, 7 / 3, 3.0, 3.0]
    assert out["x"].tolist() == [1.0, np.inf, 3.0, 2.0]  # mean of the finite values; inf kept


# --------------------------------------------------------------------------------------------
# scale
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "scaler"),
    [("standard", StandardScaler), ("robust", RobustScaler), ("minmax", MinMaxScaler)],
)
def test_scale_matches_scikit_learn_fitted_on_training_rows(pm, numeric, method, scaler):
    train, new = numeric
    train, new = train.fillna(0.0), new.fillna(0.0)
    out = fitted(pm, "scale", train, method=method).transform(new)
    expected = scaler().fit(train.to_numpy()).transform(new.to_numpy())
    np.testing.assert_allclose(out.to_numpy(), expected, rtol=1e-12, atol=1e-12)
    assert list(out.columns) == list(new.columns)
    assert list(out.index) == list(new.index)


def test_scale_keeps_nan_skips_other_columns_and_never_divides_by_zero(pm, train, new):
    frame = train.assign(flat=4.0, flag=train["mean radius"] > 14)
    for method in ("standard", "robust", "minmax"):
        out = fitted(pm, "scale", frame, method=method).transform(frame)
        assert (out["flat"] == 0.0).all()
        assert out["flag"].dtype == bool  # booleans are left alone
        pd.testing.assert_series_equal(out["color"], frame["color"])
        pd.testing.assert_series_equal(out["ts"], frame["ts"])
        pd.testing.assert_frame_equal(out.isna(), frame.isna())
        numbers = out.drop(columns=["color", "ts", "flag"]).to_numpy()
        assert np.isfinite(numbers[~np.isnan(numbers)]).all()
    step = fitted(pm, "scale", frame, method="standard", columns=["mean area"])
    out = step.transform(new.assign(flat=4.0, flag=False))
    mean, std = train["mean area"].mean(), train["mean area"].std(ddof=0)
    np.testing.assert_allclose(out["mean area"], (new["mean area"] - mean) / std)
    pd.testing.assert_series_equal(out["mean radius"], new["mean radius"])
    with pytest.raises(InputError, match="step scale: column 'color' is not numeric"):
        fitted(pm, "scale", frame, columns="color")


# --------------------------------------------------------------------------------------------
# encode
# --------------------------------------------------------------------------------------------


def test_onehot_learns_categories_in_training_and_zeros_unseen_ones(pm, train, new):
    step = fitted(pm, "encode", train, method="onehot")
    out = step.transform(new)
    names = ["color=blue", "color=green", "color=red"]
    at = list(train.columns).index("color")
    assert list(out.columns) == [*train.columns[:at], *names, "ts"]
    assert (out[names].dtypes == np.float64).all()
    for name in names:
        expected = (new["color"] == name.split("=")[1]).astype(np.float64)
        np.testing.assert_array_equal(out[name], expected)
    assert out.loc[new.index[0], names].tolist() == [0.0, 0.0, 0.0]  # 'purple': unseen
    missing = step.transform(train).loc[train.index[5], names]
    assert missing.tolist() == [0.0, 0.0, 0.0]  # a missing value too


def test_ordinal_codes_and_restricted_columns(pm, train, new):
    frame = train.assign(size=np.where(train["mean radius"] > 14, "big", "small"))
    step = fitted(pm, "encode", frame, method="ordinal", columns=["size"])
    out = step.transform(new.assign(size=np.where(new["mean radius"] > 14, "big", "huge")))
    assert set(out["size"]) == {0.0, -1.0}  # big = 0, small = 1, huge unseen = -1
    pd.testing.assert_series_equal(out["color"], new["color"])  # not asked for
    out = fitted(pm, "encode", train, method="ordinal").transform(new)
    codes = {"blue": 0.0, "green": 1.0, "red": 2.0, "purple": -1.0}
    assert out["color"].tolist() == new["color"].map(codes).tolist()
    with pytest.raises(DataError, match="step encode: column 'color' .* is missing"):
        step = fitted(pm, "encode", train)
        step.transform(new.drop(columns="color"))


def test_encode_category_dtype_and_name_clashes(pm, train):
    frame = train.assign(color=pd.Categorical(train["color"], categories=[*COLORS, "never"]))
    out = fitted(pm, "encode", frame).transform(frame)
    assert [c for c in out.columns if c.startswith("color=")] == [
        "color=blue",
        "color=green",
        "color=red",
    ]  # the values seen in training, not the declared categories
    clash = train.assign(**{"color=red": 1.0})
    with pytest.raises(DataError, match="one-hot column name 'color=red' is already taken"):
        fitted(pm, "encode", clash)


# --------------------------------------------------------------------------------------------
# drop, datetime, drop_constant
# --------------------------------------------------------------------------------------------


def test_drop_removes_columns_and_names_missing_ones(pm, train, new):
    for columns in (["color", "ts"], "color, ts"):
        out = fitted(pm, "drop", train, columns=columns).transform(new)
        pd.testing.assert_frame_equal(out, new.drop(columns=["color", "ts"]))
    step = fitted(pm, "drop", train, columns="color")
    pd.testing.assert_frame_equal(
        step.transform(new.drop(columns="color")), new.drop(columns="color")
    )
    with pytest.raises(InputError, match=r"^step drop: column 'colour' not found \(columns: "):
        fitted(pm, "drop", train, columns="color,colour")
    with pytest.raises(InputError, match="dropping every column"):
        fitted(pm, "drop", train[["color"]], columns="color")
    numbered = pd.DataFrame(np.ones((3, 3)))
    assert list(fitted(pm, "drop", numbered, columns="1").transform(numbered).columns) == [0, 2]


def test_datetime_expand_and_drop(pm, train, new):
    out = fitted(pm, "datetime", train).transform(new)
    parts = ["ts_year", "ts_month", "ts_day", "ts_dayofweek", "ts_hour"]
    assert list(out.columns) == [*new.columns[:-1], *parts]
    ts = new["ts"]
    expected = [ts.dt.year, ts.dt.month, ts.dt.day, ts.dt.day_of_week, ts.dt.hour]
    np.testing.assert_array_equal(out[parts].to_numpy(), np.column_stack(expected))
    assert (out[parts].dtypes == np.float64).all()
    out = fitted(pm, "datetime", train, mode="drop").transform(new)
    pd.testing.assert_frame_equal(out, new.drop(columns="ts"))


def test_datetime_parses_named_text_columns(pm, train, new):
    text = train.assign(when=train["ts"].dt.strftime("%Y-%m-%d %H:%M")).drop(columns="ts")
    step = fitted(pm, "datetime", text, columns="when")
    out = step.transform(new.assign(when=new["ts"].astype(str)).drop(columns="ts"))
    np.testing.assert_array_equal(out["when_hour"], new["ts"].dt.hour)
    np.testing.assert_array_equal(out["when_year"], new["ts"].dt.year)
    bad = text.copy()
    bad.loc[bad.index[3], "when"] = "next tuesday"
    with pytest.raises(DataError, match="column 'when' row 3 holds 'next tuesday', which is not"):
        fitted(pm, "datetime", bad, columns="when")
    with pytest.raises(InputError, match="column 'mean area' holds float64 values, not dates"):
        fitted(pm, "datetime", train, columns="mean area")
    missing = new.assign(ts=pd.NaT)
    out = fitted(pm, "datetime", train).transform(missing)
    assert out["ts_year"].isna().all()  # a missing date: NaN features, for impute to fill


def test_datetime_expand_never_emits_constant_parts(pm, caplog):
    """Date-only values have hour 0 throughout, one year's dates one year: such parts are
    left out at fit (missing dates aside) and stay out for later rows, whatever they hold."""
    days = pd.DataFrame(
        {
            "x": [1.0, 2.0, 3.0, 4.0],
            "day": ["2024-05-01", "2024-05-03", None, "2024-06-10"],  # CSV text, date-only
            "at": pd.to_datetime(["2023-01-01 10:00", "2024-01-01 11:00", None, None]),
        }
    )
    with caplog.at_level(logging.INFO, logger="pynomaly.processing"):
        step = fitted(pm, "datetime", days)
    assert "leaving out day_year, day_hour" in caplog.text
    expected = ["x", "day_month", "day_day", "day_dayofweek", "at_year", "at_dayofweek", "at_hour"]
    out = step.transform(days)
    assert list(out.columns) == expected
    assert all(out[c].nunique() > 1 for c in expected)
    later = pd.DataFrame(
        {"x": [0.0], "day": ["2025-01-01T13:00:00"], "at": pd.to_datetime(["2030-07-04"])}
    )
    assert list(step.transform(later).columns) == expected
    one = pd.DataFrame({"x": [1.0, 2.0], "d": pd.to_datetime(["2024-01-01", "2024-01-01"])})
    with caplog.at_level(logging.WARNING, logger="pynomaly.processing"):
        assert list(fitted(pm, "datetime", one).transform(one).columns) == ["x"]
    assert "column 'd' has no two different dates" in caplog.text
    single = one.head(1)  # one row proves nothing: every part
    assert fitted(pm, "datetime", single).transform(single).shape == (1, 6)


def test_datetime_expand_on_the_command_line_has_no_hour_for_days(tmp_path):
    path = tmp_path / "days.csv"
    frame = pd.DataFrame(
        {"v": np.arange(60.0), "day": pd.date_range("2024-01-01", periods=60).astype(str)}
    )
    frame.to_csv(path, index=False)
    model = tmp_path / "m.model"
    args = ["fit", str(path), "--datetime", "expand", "--save", str(model)]
    run = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert run.exit_code == 0, run.output
    assert pynomaly.load(model).feature_names == ("v", "day_month", "day_day", "day_dayofweek")


def test_iso_date_text_goes_to_datetime_not_to_encode(pm, train, new):
    """Dates read from CSV files are ISO 8601 text: datetime takes them unasked, encode
    leaves them alone; other date text has to be named."""
    as_text = train.assign(ts=train["ts"].astype(str))
    assert as_text["ts"].iloc[0] == "2023-12-30 22:00:00"
    step = fitted(pm, "datetime", as_text)
    assert step.columns_ == ["ts"]
    out = step.transform(new.assign(ts=new["ts"].astype(str)))
    np.testing.assert_array_equal(out["ts_hour"], new["ts"].dt.hour)
    assert fitted(pm, "encode", as_text).categories_.keys() == {"color"}
    offsets = pd.DataFrame({"t": ["2024-05-01T13:45:00+02:00", "2024-05-02T08:00:00-05:00"]})
    assert fitted(pm, "datetime", offsets).transform(offsets)["t_hour"].tolist() == [11.0, 13.0]
    for other in (
        train["ts"].dt.strftime("%d/%m/%Y"),  # not ISO
        train["color"],  # not dates at all
        train["ts"].astype(str).where(train.index != 9, "soon"),  # not all dates
    ):
        frame = train.assign(ts=other)
        assert fitted(pm, "datetime", frame).columns_ == []
        assert "ts" in fitted(pm, "encode", frame).categories_


def test_drop_constant_warns_and_drops_the_same_columns_later(pm, numeric, caplog):
    train, new = numeric
    frame = train.assign(flat=1.5, gone=np.nan, label="x")
    with caplog.at_level(logging.WARNING, logger="pynomaly.processing"):
        step = fitted(pm, "drop_constant", frame)
    assert "step drop_constant: dropping 3 constant columns: flat, gone, label" in caplog.text
    out = step.transform(new.assign(flat=2.0, gone=3.0, label="y"))  # differ later: still gone
    pd.testing.assert_frame_equal(out, new)
    assert fitted(pm, "drop_constant", train).transform(new) is not new
    with pytest.raises(DataError, match="every column is constant in the training data"):
        fitted(pm, "drop_constant", pd.DataFrame({"a": [1, 1, 1], "b": ["z", "z", "z"]}))


# --------------------------------------------------------------------------------------------
# The same outputs as the pandas implementation the scikit-learn one replaced
# --------------------------------------------------------------------------------------------

KINDS = ["c", "b", "a", "z"]  # the declared categories of ``kind``, in their order


@pytest.fixture
def messy() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Training rows and new rows with every kind of column the steps treat: NaN and
    infinities, nullable integers, booleans, a constant and an empty column, text with None,
    numbers and text mixed in an object column, categories (``z`` declared but unseen), dates
    with NaT, ISO date text with a UTC offset; values unseen in training in the new rows."""
    train = pd.DataFrame(
        {
            "x": [1.5, np.nan, 3.0, -2.0, np.inf, 2.0, np.nan, 10.0],
            "n": pd.array([1, 2, None, 2, 5, 2, 1, None], dtype="Int64"),
            "flag": [True, False, True, True, False, True, False, True],
            "flat": 7.0,
            "empty": np.nan,
            "color": ["red", "blue", None, "red", "green", "blue", "red", "blue"],
            "code": np.array(["A", 1, "B", None, 1, "A", 2, "A"], dtype=object),
            "kind": pd.Categorical(["b", "a", "b", None, "b", "a", "a", "c"], categories=KINDS),
            "when": pd.to_datetime(
                [
                    "2024-01-31 23:00",
                    "2024-02-29 06:30",
                    None,
                    "2023-12-31 00:00",
                    "2024-03-03 12:00",
                    "2024-03-04 01:00",
                    "2024-07-14 18:45",
                    "2025-01-01 00:00",
                ]
            ),
            "day": [f"2024-05-0{d}" for d in range(1, 9)],
        },
        index=pd.Index(range(10, 18), name="row"),
    )
    train.loc[11, "day"] = "2024-05-02T13:45:00+02:00"
    new = pd.DataFrame(
        {
            "x": [np.nan, -np.inf, 4.0, 100.0],
            "n": pd.array([None, 7, 2, 3], dtype="Int64"),
            "flag": [False, True, True, False],
            "flat": [7.0, 8.0, np.nan, 7.0],
            "empty": [np.nan, 1.0, 2.0, np.nan],
            "color": ["purple", None, "green", "red"],
            "code": np.array([1, "C", None, "B"], dtype=object),
            "kind": pd.Categorical(["a", None, "z", "c"], categories=KINDS),
            "when": pd.to_datetime(
                ["2024-06-01 09:00", None, "2024-12-25 23:59", "2023-01-01 00:00"]
            ),
            "day": ["2024-06-01", None, "2024-06-03T01:00:00Z", "2024-06-04"],
        },
        index=pd.Index(range(20, 24), name="row"),
    )
    return train, new


INF = np.inf
NAN = np.nan
WHEN = pd.to_datetime(
    ["2024-06-01 09:00", "2023-12-31 00:00", "2024-12-25 23:59", "2023-01-01 00:00"]
)
# (step, options) -> the columns of the new rows that differ from the input, and the new
# column order when it changes. Each was the output of the pandas implementation (main at
# b7b92aa) for the ``messy`` frames, fitted on the training rows.
BEFORE_SCIKIT_LEARN = [
    (
        ("impute", {}),  # median; empty has no value in training: fill_value 0
        {
            "x": [2.0, -INF, 4.0, 100.0],
            "n": [2.0, 7.0, 2.0, 3.0],
            "flat": [7.0, 8.0, 7.0, 7.0],
            "empty": [0.0, 1.0, 2.0, 0.0],
        },
    ),
    (
        ("impute", {"strategy": "mean"}),
        {
            "x": [2.9, -INF, 4.0, 100.0],  # the mean of the finite values
            "n": [13 / 6, 7.0, 2.0, 3.0],
            "flat": [7.0, 8.0, 7.0, 7.0],
            "empty": [0.0, 1.0, 2.0, 0.0],
        },
    ),
    (
        ("impute", {"strategy": "most_frequent"}),  # the smallest of ties
        {
            "x": [-2.0, -INF, 4.0, 100.0],
            "n": [2.0, 7.0, 2.0, 3.0],
            "flat": [7.0, 8.0, 7.0, 7.0],
            "empty": [0.0, 1.0, 2.0, 0.0],
            "color": ["purple", "blue", "green", "red"],
            "code": np.array([1, "C", "A", "B"], dtype=object),
            "kind": pd.Categorical(["a", "a", "z", "c"], categories=KINDS),
            "when": WHEN,
            "day": ["2024-06-01", "2024-05-01", "2024-06-03T01:00:00Z", "2024-06-04"],
        },
    ),
    (
        ("impute", {"strategy": "constant"}),  # dates are not filled
        {
            "x": [0.0, -INF, 4.0, 100.0],
            "n": [0.0, 7.0, 2.0, 3.0],
            "flat": [7.0, 8.0, 0.0, 7.0],
            "empty": [0.0, 1.0, 2.0, 0.0],
            "color": ["purple", "missing", "green", "red"],
            "code": np.array([1, "C", "missing", "B"], dtype=object),
            "kind": pd.Categorical(["a", "missing", "z", "c"], categories=[*KINDS, "missing"]),
            "day": ["2024-06-01", "missing", "2024-06-03T01:00:00Z", "2024-06-04"],
        },
    ),
    (
        ("impute", {"strategy": "constant", "fill_value": -1}),
        {
            "x": [-1.0, -INF, 4.0, 100.0],
            "n": [-1.0, 7.0, 2.0, 3.0],
            "flat": [7.0, 8.0, -1.0, 7.0],
            "empty": [-1.0, 1.0, 2.0, -1.0],
            "color": ["purple", "-1", "green", "red"],
            "code": np.array([1, "C", -1, "B"], dtype=object),
            "kind": pd.Categorical(["a", -1, "z", "c"], categories=[*KINDS, -1]),
            "day": ["2024-06-01", "-1", "2024-06-03T01:00:00Z", "2024-06-04"],
        },
    ),
    (
        ("impute", {"strategy": "median", "fill_value": 7.5}),
        {
            "x": [2.0, -INF, 4.0, 100.0],
            "n": [2.0, 7.0, 2.0, 3.0],
            "flat": [7.0, 8.0, 7.0, 7.0],
            "empty": [7.5, 1.0, 2.0, 7.5],
        },
    ),
    (
        ("impute", {"strategy": "most_frequent", "columns": "color,kind,when"}),
        {
            "color": ["purple", "blue", "green", "red"],
            "kind": pd.Categorical(["a", "a", "z", "c"], categories=KINDS),
            "when": WHEN,
        },
    ),
    (
        ("scale", {}),  # empty has no value in training: left as it is
        {
            "x": [NAN, -INF, 0.27994262920760815, 24.71129936005341],
            "n": [NAN, 3.5970073030870457, -0.12403473458920836, 0.6201736729460424],
            "flat": [0.0, 1.0, NAN, 0.0],
        },
    ),
    (
        ("scale", {"method": "robust"}),
        {
            "x": [NAN, -INF, 1.3333333333333333, 65.33333333333333],
            "n": [NAN, 6.666666666666667, 0.0, 1.3333333333333333],
            "flat": [0.0, 1.0, NAN, 0.0],
        },
    ),
    (
        ("scale", {"method": "minmax"}),
        {"x": [NAN, -INF, 0.5, 8.5], "n": [NAN, 1.5, 0.25, 0.5], "flat": [0.0, 1.0, NAN, 0.0]},
    ),
    (
        ("scale", {"columns": "flag,n"}),
        {
            "n": [NAN, 3.5970073030870457, -0.12403473458920836, 0.6201736729460424],
            "flag": [
                -1.2909944487358056,
                0.7745966692414834,
                0.7745966692414834,
                -1.2909944487358056,
            ],
        },
    ),
    (
        ("encode", {}),  # unseen (purple, C, z) and missing values: zeros
        {
            "color=blue": [0.0, 0.0, 0.0, 0.0],
            "color=green": [0.0, 0.0, 1.0, 0.0],
            "color=red": [0.0, 0.0, 0.0, 1.0],
            "code=1": [1.0, 0.0, 0.0, 0.0],
            "code=2": [0.0, 0.0, 0.0, 0.0],
            "code=A": [0.0, 0.0, 0.0, 0.0],
            "code=B": [0.0, 0.0, 0.0, 1.0],
            "kind=a": [1.0, 0.0, 0.0, 0.0],
            "kind=b": [0.0, 0.0, 0.0, 0.0],
            "kind=c": [0.0, 0.0, 0.0, 1.0],
        },
        [
            "x",
            "n",
            "flag",
            "flat",
            "empty",
            "color=blue",
            "color=green",
            "color=red",
            "code=1",
            "code=2",
            "code=A",
            "code=B",
            "kind=a",
            "kind=b",
            "kind=c",
            "when",
            "day",
        ],
    ),
    (
        ("encode", {"method": "ordinal"}),  # unseen and missing values: -1
        {
            "color": [-1.0, -1.0, 1.0, 2.0],
            "code": [0.0, -1.0, -1.0, 3.0],
            "kind": [0.0, -1.0, -1.0, 2.0],
        },
    ),
    (
        ("encode", {"columns": "n,kind"}),
        {
            "n=1": [0.0, 0.0, 0.0, 0.0],
            "n=2": [0.0, 0.0, 1.0, 0.0],
            "n=5": [0.0, 0.0, 0.0, 0.0],
            "kind=a": [1.0, 0.0, 0.0, 0.0],
            "kind=b": [0.0, 0.0, 0.0, 0.0],
            "kind=c": [0.0, 0.0, 0.0, 1.0],
        },
        [
            "x",
            "n=1",
            "n=2",
            "n=5",
            "flag",
            "flat",
            "empty",
            "color",
            "code",
            "kind=a",
            "kind=b",
            "kind=c",
            "when",
            "day",
        ],
    ),
    (
        ("encode", {"method": "ordinal", "columns": "n,flag"}),
        {"n": [-1.0, -1.0, 1.0, -1.0], "flag": [0.0, 1.0, 1.0, 0.0]},
    ),
    (
        ("drop", {"columns": "color,day"}),
        {},
        ["x", "n", "flag", "flat", "empty", "code", "kind", "when"],
    ),
    (
        # the offsets of day are turned to UTC; NaT: NaN features. day's year and month are
        # constant in training (May 2024): left out since the pandas implementation
        ("datetime", {}),
        {
            "when_year": [2024.0, NAN, 2024.0, 2023.0],
            "when_month": [6.0, NAN, 12.0, 1.0],
            "when_day": [1.0, NAN, 25.0, 1.0],
            "when_dayofweek": [5.0, NAN, 2.0, 6.0],
            "when_hour": [9.0, NAN, 23.0, 0.0],
            "day_day": [1.0, NAN, 3.0, 4.0],
            "day_dayofweek": [5.0, NAN, 0.0, 1.0],
            "day_hour": [0.0, NAN, 1.0, 0.0],
        },
        [
            "x",
            "n",
            "flag",
            "flat",
            "empty",
            "color",
            "code",
            "kind",
            "when_year",
            "when_month",
            "when_day",
            "when_dayofweek",
            "when_hour",
            "day_day",
            "day_dayofweek",
            "day_hour",
        ],
    ),
    (
        ("datetime", {"mode": "drop"}),
        {},
        ["x", "n", "flag", "flat", "empty", "color", "code", "kind"],
    ),
    (
        ("drop_constant", {}),  # flat, and empty (NaN throughout)
        {},
        ["x", "n", "flag", "color", "code", "kind", "when", "day"],
    ),
]


@pytest.mark.parametrize(
    "case", BEFORE_SCIKIT_LEARN, ids=lambda c: f"{c[0][0]}-{'-'.join(map(str, c[0][1].values()))}"
)
def test_outputs_equal_the_pandas_implementation(pm, messy, case):
    (name, options), changes, *order = case
    train, new = messy
    step = fitted(pm, name, train, **options)
    columns = order[0] if order else list(new.columns)
    expected = pd.DataFrame(
        {c: changes[c] if c in changes else new[c] for c in columns}, index=new.index
    )
    # scikit-learn's MinMaxScaler (x * scale + min) and SimpleImputer's mean differ from the
    # pandas arithmetic in the last bit at most
    pd.testing.assert_frame_equal(
        step.transform(new), expected, check_exact=False, rtol=1e-15, atol=1e-15
    )


@pytest.mark.parametrize("case", BEFORE_SCIKIT_LEARN, ids=lambda c: c[0][0])
def test_steps_never_modify_messy_input_and_pickle_with_their_state(pm, messy, case):
    (name, options), *_ = case
    train, new = messy
    before, before_new = train.copy(), new.copy()
    step = fitted(pm, name, train, **options)
    out_train, out_new = step.transform(train), step.transform(new)
    pd.testing.assert_frame_equal(train, before)
    pd.testing.assert_frame_equal(new, before_new)
    assert out_train.index.equals(train.index) and out_new.index.equals(new.index)
    clone = pickle.loads(pickle.dumps(step))
    pd.testing.assert_frame_equal(clone.transform(new), out_new)
    pd.testing.assert_frame_equal(clone.transform(train), out_train)
    assert repr(clone) == repr(step)


def test_steps_work_under_a_global_pandas_output_of_scikit_learn(pm, messy):
    """``sklearn.set_config(transform_output="pandas")``, common in notebooks, does not
    change what the steps give."""
    import sklearn

    train, new = messy
    for (name, options), *_ in BEFORE_SCIKIT_LEARN:
        expected = fitted(pm, name, train, **options).transform(new)
        with sklearn.config_context(transform_output="pandas"):
            out = fitted(pm, name, train, **options).transform(new)
        pd.testing.assert_frame_equal(out, expected)


def test_the_warnings_are_the_pandas_implementations(pm, messy, caplog):
    train, _ = messy
    with caplog.at_level(logging.WARNING, logger="pynomaly.processing"):
        fitted(pm, "impute", train, strategy="median", fill_value=7.5)
        fitted(pm, "impute", train.assign(color=None), strategy="most_frequent")
        fitted(pm, "drop_constant", train)
    assert [r.getMessage() for r in caplog.records] == [
        "step impute: column empty has no value in the training data; filled with 7.5",
        "step impute: columns empty, color have no value in the training data; "
        "filled with 'missing', 0.0",
        "step drop_constant: dropping 2 constant columns: flat, empty",
    ]


def test_steps_fitted_on_no_rows_do_not_fail(pm, messy):
    """Validation rejects empty training data after the steps, with its own message."""
    train, new = messy
    for (name, options), *_ in BEFORE_SCIKIT_LEARN:
        step = fitted(pm, name, train.iloc[:0], **options)
        assert len(step.transform(train.iloc[:0])) == 0
    out = fitted(pm, "impute", train.iloc[:0]).transform(new)  # nothing learnt: fill_value
    assert out["x"].tolist() == [0.0, -np.inf, 4.0, 100.0]


def test_category_column_without_a_value_gets_fill_value(pm, messy, caplog):
    """Unlike the pandas implementation, which took the first declared category, silently."""
    train, new = messy
    frame = train.assign(kind=pd.Categorical([None] * len(train), categories=KINDS))
    with caplog.at_level(logging.WARNING, logger="pynomaly.processing"):
        step = fitted(pm, "impute", frame, strategy="most_frequent", columns="kind")
    assert "column kind has no value in the training data; filled with 'missing'" in caplog.text
    assert step.transform(new)["kind"].tolist() == ["a", "missing", "z", "c"]


def test_most_frequent_tie_between_number_and_text(pm):
    """Ties of values that do not compare go to the smaller type name ('int' < 'str') then
    text: scikit-learn's rule since 1.8, which the fallback for older versions follows."""
    frame = pd.DataFrame({"v": np.array(["b", 7, "b", 7, None, "a"], dtype=object)})
    out = fitted(pm, "impute", frame, strategy="most_frequent").transform(frame)
    assert out["v"].tolist() == ["b", 7, "b", 7, 7, "a"]
    assert steps_module._mode(frame["v"]) == 7
    assert steps_module._mode(pd.Series(["b", "a", "b", "a", 3])) == "a"  # comparable: min


def test_encode_mixed_numbers_and_text_by_their_text(pm):
    """scikit-learn's encoders need one type per column: a column mixing numbers and text is
    encoded by the text of its values, so 1 and "1" are one category."""
    frame = pd.DataFrame({"v": np.array([1, "1", "x", 2.5, None], dtype=object)})
    out = fitted(pm, "encode", frame).transform(frame)
    assert list(out.columns) == ["v=1", "v=2.5", "v=x"]
    assert out.to_numpy().tolist() == [
        [1.0, 0.0, 0.0],
        [1.0, 0.0, 0.0],
        [0.0, 0.0, 1.0],
        [0.0, 1.0, 0.0],
        [0.0, 0.0, 0.0],
    ]
    codes = fitted(pm, "encode", frame, method="ordinal").transform(frame)["v"]
    assert codes.tolist() == [0.0, 0.0, 2.0, 1.0, -1.0]


def test_standard_scaling_treats_rounding_noise_as_no_spread(pm):
    """StandardScaler's test for a constant column: a variance within the rounding error of
    the mean (here one unit in the last place of 1e8) gives scale 1, as zero spread does.
    The pandas implementation divided by that spread (giving 0 and 1.41)."""
    ulp = 1.4901161193847656e-08
    frame = pd.DataFrame({"v": [1e8, 1e8 + ulp] * 2, "w": [0.0, 1.0] * 2})
    out = fitted(pm, "scale", frame).transform(frame)
    assert out["v"].tolist() == [0.0, ulp, 0.0, ulp]  # centred, not scaled
    assert out["w"].tolist() == [-1.0, 1.0, -1.0, 1.0]


def test_robust_scaling_without_numeric_columns_changes_nothing(pm, messy):
    """The pandas implementation failed here (no percentiles to unpack)."""
    train, new = messy
    text = ["color", "code", "kind"]
    out = fitted(pm, "scale", train[text], method="robust").transform(new[text])
    pd.testing.assert_frame_equal(out, new[text])


@pytest.mark.parametrize(
    ("values", "constant"),
    [
        ([1.0, 1.0, np.nan], False),  # a missing value counts as a value of its own
        ([np.nan, np.nan, np.nan], True),
        ([np.inf, np.inf, np.inf], True),
        ([1.0, np.inf, 1.0], False),
        ([0.0, -0.0, 0.0], True),
        (["a", "a", None], False),
        (pd.array([3, 3, 3], dtype="Int64"), True),
        (pd.Categorical(["u", "u", "u"], categories=["u", "w"]), True),
        (pd.to_datetime(["2024-01-01", "2024-01-01", None]), False),
    ],
)
def test_drop_constant_decides_like_the_pandas_implementation(pm, values, constant):
    frame = pd.DataFrame({"v": values, "other": [1.0, 2.0, 3.0]})
    step = fitted(pm, "drop_constant", frame)
    assert step.columns_ == (["v"] if constant else [])


# --------------------------------------------------------------------------------------------
# Whole models
# --------------------------------------------------------------------------------------------

ALL_STEPS = [
    ("impute", {"strategy": "median"}),
    ("datetime", {"mode": "expand"}),
    ("encode", {"method": "onehot"}),
    ("scale", {"method": "robust"}),
    "drop_constant",
]


@pytest.mark.parametrize(
    "spec",
    [
        ("impute", {"strategy": "most_frequent"}),
        ("scale", {"method": "minmax"}),
        ("encode", {"method": "ordinal"}),
        ("drop", {"columns": "color"}),
        ("datetime", {}),
        "drop_constant",
    ],
    ids=lambda s: s if isinstance(s, str) else s[0],
)
def test_steps_never_modify_the_callers_frame(pm, train, new, spec):
    name, options = (spec, {}) if isinstance(spec, str) else spec
    frame = train.assign(flat=0.0)
    before, before_new = frame.copy(), new.copy()
    step = fitted(pm, name, frame, **options)
    out = step.transform(frame)
    out.iloc[:, 0] = -99.0  # writing to the result does not reach the input either
    step.transform(new)
    pd.testing.assert_frame_equal(frame, before)
    pd.testing.assert_frame_equal(new, before_new)


def test_chain_end_to_end_equals_the_hand_made_transformation(pm, train, new):
    chain = [
        ("impute", {"strategy": "median"}),
        ("encode", {"method": "onehot"}),
        ("scale", {"method": "robust"}),
    ]
    data = train.drop(columns="ts")
    before = data.copy()
    res = pynomaly.detect(data, detector="pyod:ecod", steps=chain, manager=pm)
    pd.testing.assert_frame_equal(data, before)
    model = res.model
    assert [type(s).__name__ for s in model.steps] == ["Impute", "Encode", "Scale"]
    assert model.feature_names[-3:] == ("color=blue", "color=green", "color=red")

    def by_hand(frame: pd.DataFrame) -> pd.DataFrame:
        numbers = frame.drop(columns="color").fillna(data.drop(columns="color").median())
        for value in ("blue", "green", "red"):
            numbers[f"color={value}"] = (frame["color"] == value).astype(float)
        ref = data.drop(columns="color").fillna(data.drop(columns="color").median())
        for value in ("blue", "green", "red"):
            ref[f"color={value}"] = (data["color"] == value).astype(float)
        q25, q50, q75 = ref.quantile(0.25), ref.median(), ref.quantile(0.75)
        iqr = (q75 - q25).where(q75 > q25, 1.0)
        return (numbers - q50) / iqr

    plain = pynomaly.fit(by_hand(data), detector="pyod:ecod", manager=pm)
    np.testing.assert_allclose(res.scores, plain.training_scores, rtol=1e-10)
    fresh = new.drop(columns="ts")  # first row: the unseen colour 'purple'
    np.testing.assert_allclose(
        model.score(fresh, manager=pm), plain.score(by_hand(fresh), manager=pm), rtol=1e-10
    )
    assert res.data.columns.tolist() == data.columns.tolist()  # shown as given
    # the same through the default manager (entry-point adapters), as a user would call it
    default = pynomaly.detect(data, detector="pyod:ecod", steps=chain)
    np.testing.assert_allclose(default.scores, res.scores, rtol=1e-10)


def test_pickled_model_with_steps_gives_identical_scores(pm, train, new, tmp_path):
    model = pynomaly.fit(
        train.assign(flat=1.0), "sklearn:iforest", steps=ALL_STEPS, random_state=0, manager=pm
    )
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.score(new, manager=pm), model.score(new, manager=pm))
    assert "flat" not in model.feature_names and "ts_hour" in model.feature_names
    # the same model scores a CSV file, where the dates arrive as text
    path = tmp_path / "new.csv"
    new.to_csv(path, index=False)
    np.testing.assert_allclose(
        clone.score(path, manager=pm), model.score(new.reset_index(drop=True), manager=pm)
    )


def test_step_order_is_the_users(pm, numeric):
    train, _ = numeric
    scaled_first = pynomaly.fit(
        train,
        "sklearn:iforest",
        steps=[("scale", {}), ("impute", {"strategy": "constant"})],
        manager=pm,
    )
    imputed_first = pynomaly.fit(
        train,
        "sklearn:iforest",
        steps=[("impute", {"strategy": "constant"}), ("scale", {})],
        manager=pm,
    )
    assert [s.name for s in scaled_first.steps] == ["scale", "impute"]
    a = scaled_first.steps[1].transform(scaled_first.steps[0].transform(train))
    b = imputed_first.steps[1].transform(imputed_first.steps[0].transform(train))
    gap = train["mean radius"].isna()
    assert (a.loc[gap, "mean radius"] == 0.0).all()  # 0 after scaling
    assert not np.allclose(b.loc[gap, "mean radius"], 0.0)  # 0 before scaling


def test_builtin_steps_plugin_can_be_disabled(tmp_path, planted):
    pm = pynomaly.PluginManager(disable=["steps"], autoload=False, plugins_dir=str(tmp_path))
    pm.register(sklearn_plugin, name="sklearn_adapter")
    assert processing_service.processing_steps(pm) == []
    with pytest.raises(InputError, match="unknown processing step 'impute' \\(known: none\\)"):
        pynomaly.fit(planted, "sklearn:iforest", steps=["impute"], manager=pm)


def test_the_specs_the_command_line_builds(pm, train, new):
    """``pynomaly detect --drop COL --datetime expand --impute median --encode onehot
    --drop-constant --scale robust`` turns into these steps, in this order."""
    cli = [
        ("drop", {"columns": ["mean area"]}),
        ("datetime", {"mode": "expand"}),
        ("impute", {"strategy": "median"}),
        ("encode", {"method": "onehot"}),
        ("drop_constant", {}),
        ("scale", {"method": "robust"}),
        ("impute", {"strategy": "constant", "fill_value": 0}),  # --step impute:strategy=...
    ]
    model = pynomaly.fit(train, "sklearn:iforest", steps=cli, random_state=0, manager=pm)
    assert "mean area" not in model.feature_names
    assert "color=red" in model.feature_names and "ts_dayofweek" in model.feature_names
    assert np.isfinite(model.score(new, manager=pm)).all()
