"""``prepare="auto"`` / ``--prepare auto`` on a messy CSV file, the label-like-column warning,
and the hint for non-finite scores caused by a constant column."""

from __future__ import annotations

import json
import logging

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import pynomaly
from pynomaly.cli.main import cli
from pynomaly.errors import DataError, InputError, PluginError

N = 240


def messy_frame(seed: int = 1, n: int = N) -> pd.DataFrame:
    """Orders as a messy export gives them: an order number and a row counter (ids), text
    categories with gaps, dates with a time and date-only, missing amounts, a constant and an
    empty column, and one planted anomaly at row 7."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "order_id": [f"ORD-{seed}-{i:05d}" for i in range(n)],
            "row": np.arange(n),
            "amount": rng.normal(50.0, 5.0, n).round(2),
            "items": rng.integers(1, 4, n),
            "shop": rng.choice(["north", "south", "east"], n),
            "city": rng.choice([f"city{i}" for i in range(40)], n),
            "ordered": pd.date_range("2024-01-01", periods=n, freq="7h").strftime(
                "%Y-%m-%d %H:%M"
            ),
            "shipped": pd.date_range("2024-01-02", periods=n, freq="D").strftime("%Y-%m-%d"),
            "currency": "EUR",
            "note": np.nan,
        }
    )
    frame.loc[::11, "amount"] = np.nan
    frame.loc[::13, "shop"] = None
    frame.loc[7, ["amount", "items"]] = [900.0, 40]
    return frame


@pytest.fixture(scope="module")
def messy_csv(tmp_path_factory) -> tuple:
    where = tmp_path_factory.mktemp("messy")
    train, new = where / "orders.csv", where / "new.csv"
    messy_frame().to_csv(train, index=False)
    fresh = messy_frame(seed=2, n=40)
    fresh.loc[0, "shop"] = "west"  # unseen in training
    fresh.loc[1, "currency"] = "USD"  # a dropped column may hold anything later
    fresh.to_csv(new, index=False)
    return train, new


@pytest.fixture(scope="module")
def auto_result(messy_csv, manager):
    return pynomaly.detect(messy_csv[0], random_state=0, prepare="auto", manager=manager)


PLANNED = [
    ("drop", {"columns": ["order_id", "row", "currency", "note"]}),
    ("datetime", {"mode": "expand", "columns": ["ordered", "shipped"]}),
    ("impute", {"strategy": "median"}),
    ("scale", {"method": "robust"}),
    ("encode", {"method": "onehot", "columns": ["shop"]}),
    ("encode", {"method": "ordinal", "columns": ["city"]}),
]


def test_auto_reports_each_action_on_each_column(auto_result):
    prep = auto_result.preparation
    assert prep is auto_result.model.preparation
    assert [(a.step, dict(a.options)) for a in prep.actions] == [
        (name, options) for name, options in PLANNED
    ]
    drop, dates, impute, scale, onehot, ordinal = prep.actions
    assert dict(drop.columns) == {
        "order_id": "id: every value distinct",
        "row": "id: every value distinct, named like an id",
        "currency": "constant: always 'EUR'",
        "note": "empty: no value",
    }
    # date-only values have no hour; 240 days from January 2024: one year
    assert dict(dates.columns) == {
        "ordered": "ordered_month, ordered_day, ordered_dayofweek, ordered_hour",
        "shipped": "shipped_month, shipped_day, shipped_dayofweek",
    }
    assert dict(impute.columns) == {"amount": f"{len(range(0, N, 11))} missing"}
    assert list(scale.columns) == ["amount", "items", "ordered", "shipped"]
    assert dict(onehot.columns) == {"shop": "3 categories"}
    assert dict(ordinal.columns) == {"city": "40 categories"}
    assert prep.kinds == {
        "order_id": "id", "row": "id", "amount": "number", "items": "number",
        "shop": "category", "city": "category", "ordered": "date", "shipped": "date",
        "currency": "constant", "note": "empty",
    }  # fmt: skip
    assert prep.features == auto_result.model.feature_names
    text = str(prep)
    for action in prep.actions:
        assert action.describe() in text
    assert f"→ {len(prep.features)} features from 10 columns" in text


def test_auto_detects_and_equals_the_same_explicit_steps(auto_result, messy_csv, manager):
    """The plan is ordinary steps: fitting them by hand gives the same model and scores."""
    assert auto_result.labels[7] == 1
    assert int(np.argmax(auto_result.scores)) == 7  # the planted order
    names = auto_result.model.feature_names
    assert "order_id" not in names and "shipped_hour" not in names and "shop=north" in names
    explicit = pynomaly.detect(messy_csv[0], random_state=0, steps=PLANNED, manager=manager)
    assert explicit.model.feature_names == names
    np.testing.assert_array_equal(explicit.scores, auto_result.scores)


def test_new_rows_get_the_same_preparation(auto_result, messy_csv, manager, tmp_path):
    new = messy_csv[1]
    model = auto_result.model
    scores = model.score(new, manager=manager)
    assert scores.shape == (40,) and np.isfinite(scores).all()
    frame = pd.read_csv(new).drop(columns=["order_id", "note"])  # dropped ones may be absent
    np.testing.assert_array_equal(model.score(frame, manager=manager), scores)
    batches = list(model.score_source(new, batch_size=20, manager=manager))
    np.testing.assert_array_equal(np.concatenate([b.scores for b in batches]), scores)
    model.save(tmp_path / "m.model")
    loaded = pynomaly.load(tmp_path / "m.model", manager=manager)
    assert loaded.preparation == model.preparation
    np.testing.assert_array_equal(loaded.score(new, manager=manager), scores)


def test_explicit_steps_run_first_and_a_chosen_scaling_is_kept(messy_csv, manager):
    res = pynomaly.detect(
        messy_csv[0],
        random_state=0,
        steps=[("drop", {"columns": "city"}), ("scale", {"method": "minmax"})],
        prepare="auto",
        manager=manager,
    )
    steps = [a.step for a in res.preparation.actions]
    assert "scale" not in steps and "city" not in res.preparation.kinds
    assert [getattr(s, "name", None) for s in res.model.steps][:2] == ["drop", "scale"]


def test_auto_on_clean_numbers_only_scales(breast_cancer, manager):
    res = pynomaly.detect(breast_cancer, random_state=0, prepare="auto", manager=manager)
    assert [a.step for a in res.preparation.actions] == ["scale"]
    assert res.model.feature_names == tuple(breast_cancer.columns)


def test_auto_refuses_data_with_no_usable_column(manager):
    frame = pd.DataFrame({"id": [f"x{i}" for i in range(20)], "k": 1.0})
    with pytest.raises(DataError, match="prepare auto: no column is usable .id: id: every value"):
        pynomaly.detect(frame, prepare="auto", manager=manager)


@pytest.mark.parametrize("bad", ["yes", "AUTO!", 1])
def test_prepare_takes_auto_or_none(bad, manager):
    with pytest.raises(InputError, match="must be 'auto' or None"):
        pynomaly.fit(pd.DataFrame({"a": [1.0, 2.0, 3.0]}), prepare=bad, manager=manager)


# --------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------


def invoke(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_lists_every_problem_then_prepare_auto_fixes_them(messy_csv, tmp_path):
    train, new = messy_csv
    plain = invoke("detect", str(train))
    assert plain.exit_code == 2
    lines = plain.stderr.strip().splitlines()
    assert "Error: " in lines[0] and "--prepare auto" in lines[0]
    named = [line.split("'")[1] for line in lines[1:]]
    assert named == ["order_id", "amount", "shop", "city", "ordered", "shipped", "currency",
                     "note"]  # fmt: skip

    report = tmp_path / "r.html"
    run = invoke("detect", str(train), "--prepare", "auto", "--report", str(report))
    assert run.exit_code == 0, run.output
    assert run.stderr.startswith("Prepared the data automatically (--prepare auto):")
    for step in (
        "drop: order_id",
        "datetime expand: ordered",
        "impute median: amount",
        "scale robust: amount",
        "encode onehot: shop",
        "encode ordinal: city",
    ):
        assert step in run.stderr, step
    assert "Top 10 anomalies" in run.stdout and "Prepared" not in run.stdout
    html = report.read_text(encoding="utf-8")
    assert 'id="preparation"' in html and "id: every value distinct" in html

    as_json = invoke("detect", str(train), "--prepare", "auto", "--json", "--top", "1")
    assert as_json.exit_code == 0
    summary = json.loads(as_json.stdout)["summary"]
    steps = [a["step"] for a in summary["preparation"]["actions"]]
    assert steps == [name for name, _ in PLANNED]
    assert summary["preparation"]["columns"]["order_id"] == "id"

    model = tmp_path / "m.model"
    fitted = invoke("fit", str(train), "--prepare", "auto", "--save", str(model), "--json")
    assert fitted.exit_code == 0
    assert json.loads(fitted.stdout)["preparation"]["features"][0] == "amount"
    scored = invoke("score", str(model), str(new), "--json")
    assert scored.exit_code == 0, scored.output
    assert json.loads(scored.stdout)["summary"]["rows"] == 40

    assert invoke("detect", str(train), "--prepare", "bogus").exit_code == 2


# --------------------------------------------------------------------------------------------
# Label-like columns, constant columns
# --------------------------------------------------------------------------------------------


def test_a_label_like_feature_is_warned_about(manager, caplog):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.standard_normal((100, 3)), columns=list("abc"))
    frame["Target"] = (rng.random(100) < 0.1).astype(int)
    with caplog.at_level(logging.WARNING, logger="pynomaly.data"):
        pynomaly.detect(frame, random_state=0, manager=manager)
    (record,) = [r for r in caplog.records if r.name == "pynomaly.data"]
    message = record.getMessage()
    assert "column 'Target' looks like ground truth (values 0, 1)" in message
    assert "--label-column Target (label_column='Target')" in message

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pynomaly.data"):
        res = pynomaly.detect(frame, label_column="Target", random_state=0, manager=manager)
        pynomaly.detect(frame.assign(Target=rng.random(100)), manager=manager)  # not integers
        pynomaly.detect(frame.rename(columns={"Target": "count"}), manager=manager)
    assert not [r for r in caplog.records if r.name == "pynomaly.data"]
    assert "roc_auc" in res.metrics


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # PyOD's division by zero
def test_non_finite_scores_from_a_constant_column_say_drop_constant(manager):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.standard_normal((200, 3)), columns=list("abc")).assign(k=5.0)
    with pytest.raises(PluginError) as info:  # PCA standardizes: 0 / 0
        pynomaly.detect(frame, "pyod:pca", manager=manager)
    message = str(info.value)
    assert "non-finite scores" in message
    assert "constant columns ('k')" in message and "--drop-constant" in message
    res = pynomaly.detect(frame, "pyod:pca", steps=["drop_constant"], manager=manager)
    assert res.model.feature_names == ("a", "b", "c")
