"""Explanations: per-row contributions and feature importance, right for every detector.

The planted-anomaly test takes real inlier rows (scikit-learn's breast-cancer set, benign
cases), robustly standardized, puts one known feature of each of 20 rows 6–10 robust standard
deviations above the median and checks that this feature has the largest contribution for at
least 90 % of them, for every available detector that can be explained. The features are the
10 (of 30) whose largest benign value is within 5 robust SDs of the median, so a planted value
lies beyond every training value: inside a long tail, or beyond a short dense one, it would not
be an anomaly to every detector (an isolation forest scores a value beyond the training range
like the range's end; HBOS like its sparsest bin). Each batch holds 40 clean rows and one
planted row per feature: two rows planted in the same feature would be each other's
neighbours to the detectors that score a row within its batch.
"""

from __future__ import annotations

import contextlib
import json
import pickle
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import pynomaly
from pynomaly import hookimpl
from pynomaly.cli.main import cli
from pynomaly.detection import explain as explaining
from pynomaly.errors import ExplainError, PluginError
from pynomaly.plugin.manager import PluginManager
from pynomaly.plugin.settings import Settings
from pynomaly.services import detectors as detector_service
from pynomaly.services.outputs import format_output

pytestmark = [
    pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning"),
    pytest.mark.filterwarnings("ignore:The number of histogram bins:UserWarning"),
]

FEATURES = [0, 1, 3, 5, 7, 8, 12, 21, 24, 27]
TRAIN, CLEAN, BATCHES = 200, 40, 2

UNIVARIATE = {"pyod:mad"}  # fits one feature: its one contribution is the row's whole score
SLOW = {"pyod:loci", "pyod:lscp", "pyod:rod"}


def isolated() -> PluginManager:
    """Built-ins and the two adapters; no local directory, no environment."""
    allow = frozenset({"sklearn_adapter", "pyod_adapter"})
    return PluginManager(settings=Settings(autoload=False, allow=allow, plugins_dir=None))


def detector_cases() -> list[object]:
    pm = isolated()
    try:
        infos = [d for d in detector_service.detectors(pm) if d.available and not d.cannot_explain]
    finally:
        pm.shutdown()
    return [
        pytest.param(d.id, id=d.id, marks=[pytest.mark.slow] if d.id in SLOW else [])
        for d in infos
    ]


CASES = detector_cases()


@pytest.fixture(scope="module")
def pm() -> PluginManager:
    manager = isolated()
    yield manager
    manager.shutdown()


@pytest.fixture(scope="module")
def planted_rows() -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Training rows and the batches: CLEAN clean rows, then one planted row per feature."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    benign = data.data[data.target == 1][:, FEATURES]
    names = [str(data.feature_names[i]) for i in FEATURES]
    low, median, high = np.percentile(benign, [25, 50, 75], axis=0)
    robust = (benign - median) / ((high - low) / 1.349)  # robust z-scores
    assert robust.max() < 5.0  # the planted values lie beyond every benign value
    rng = np.random.default_rng(0)
    rows = robust[rng.permutation(len(robust))]
    train = pd.DataFrame(rows[:TRAIN], columns=names)
    batches, start, k = [], TRAIN, len(FEATURES)
    for _ in range(BATCHES):
        batch = rows[start : start + CLEAN + k].copy()
        batch[CLEAN + np.arange(k), np.arange(k)] = rng.uniform(6.0, 10.0, k)
        batches.append(pd.DataFrame(batch, columns=names))
        start += CLEAN + k
    return train, batches


def test_every_detector_is_explained_or_says_why_not(pm: PluginManager) -> None:
    infos = [d for d in detector_service.detectors(pm) if d.available]
    covered = {case.values[0] for case in CASES}
    unexplained = {d.id: d.cannot_explain for d in infos if d.cannot_explain}
    assert covered | set(unexplained) == {d.id for d in infos}
    assert set(unexplained) == {"pyod:sod"}
    assert all(len(reason) > 40 for reason in unexplained.values())
    assert covered >= UNIVARIATE


@pytest.mark.parametrize("detector", CASES)
def test_the_planted_feature_contributes_most(
    detector: str, pm: PluginManager, planted_rows: tuple[pd.DataFrame, list[pd.DataFrame]]
) -> None:
    train, batches = planted_rows
    k = len(FEATURES)
    if detector in UNIVARIATE:  # one feature: planted rows are explained by it alone
        model = pynomaly.fit(train.iloc[:, :1], detector, manager=pm)
        new = batches[0].iloc[:, :1]
        got = pynomaly.contributions(model, new, manager=pm)
        scores = model.score(new, manager=pm)
        reference = model.score(
            pd.DataFrame(model.reference[None, :], columns=new.columns), manager=pm
        )
        np.testing.assert_allclose(got.iloc[:, 0], scores - reference, rtol=1e-9, atol=1e-12)
        assert (got.iloc[CLEAN, 0] > got.iloc[:CLEAN, 0]).all()
        return
    model = pynomaly.fit(train, detector, manager=pm)
    first, above = [], []
    for batch in batches:
        got = pynomaly.contributions(model, batch, manager=pm)
        assert got.shape == batch.shape and list(got.index) == list(batch.index)
        assert list(got.columns) == list(batch.columns) and np.isfinite(got.to_numpy()).all()
        planted = got.to_numpy()[CLEAN:]
        top = planted.max(axis=1)
        first += list(planted[np.arange(k), np.arange(k)] >= top - 1e-9 * np.abs(top))
        scores = model.score(batch, manager=pm)
        above += [np.mean(scores[CLEAN + i] > scores[:CLEAN]) for i in range(k)]
    assert np.mean(above) > 0.6  # an anomaly to the detector: there is something to explain
    assert np.mean(first) >= 0.9, f"{detector}: planted feature first in {np.mean(first):.0%}"


# ---------------------------------------------------------------------------------------------
# What a contribution is, per method
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    data = pd.DataFrame(rng.standard_normal((300, 4)), columns=list("abcd"))
    data.loc[7, "c"] = 9.0  # an anomaly in c
    data.loc[11, "a"] = -9.0  # and one in a
    return data


def shifted(model: pynomaly.Model, row: pd.Series, feature: str) -> pd.DataFrame:
    """``row`` with ``feature`` set to the model's reference value."""
    changed = row.to_frame().T.copy()
    changed[feature] = model.reference[list(model.feature_names).index(feature)]
    return changed


def test_ablation_scores_each_changed_row_against_the_model_alone(pm, frame) -> None:
    model = pynomaly.fit(frame, "sklearn:iforest", manager=pm)
    got = pynomaly.contributions(model, frame.loc[[7, 11, 20]], manager=pm)
    assert got.attrs["method"] == "ablation"
    row = frame.loc[7]
    base = model.score(row.to_frame().T, manager=pm)[0]
    for feature in frame.columns:
        alone = base - model.score(shifted(model, row, feature), manager=pm)[0]
        assert got.loc[7, feature] == pytest.approx(alone, rel=1e-12, abs=1e-12)
    assert got.loc[7].idxmax() == "c" and got.loc[11].idxmax() == "a"
    # a row's contributions depend on that row and the model only
    again = pynomaly.contributions(model, frame.loc[[7]], manager=pm)
    np.testing.assert_allclose(again.loc[7], got.loc[7], rtol=1e-12)


def test_the_reference_is_the_training_median_kept_in_the_model(pm, frame) -> None:
    model = pynomaly.fit(frame, "pyod:knn", manager=pm)
    np.testing.assert_allclose(model.reference, frame.median().to_numpy(), rtol=1e-12)
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.reference, model.reference)
    big = np.random.default_rng(2).standard_normal((50_000, 3))
    reference = explaining.reference(big)  # an evenly spaced sample of 2048 rows at most
    np.testing.assert_array_equal(reference, np.median(big[:: -(-50_000 // 2048)], axis=0))
    assert np.abs(reference - np.median(big, axis=0)).max() < 0.1


@pytest.mark.parametrize("rows", [2, 3, 2047, 2048, 4097, 9999])
def test_the_reference_is_numpys_median_bit_for_bit(rows: int) -> None:
    # reference() partitions each column itself: odd and even sample sizes, ties, both layouts
    rng = np.random.default_rng(rows)
    X = np.column_stack([rng.standard_normal(rows), rng.integers(0, 3, rows), np.full(rows, 7.0)])
    expected = np.median(X[:: -(-rows // 2048)], axis=0)
    np.testing.assert_array_equal(explaining.reference(X), expected)
    np.testing.assert_array_equal(explaining.reference(np.asfortranarray(X)), expected)


def test_a_model_saved_without_a_reference_uses_the_datas_median(pm, frame) -> None:
    model = pynomaly.fit(frame.iloc[:150], "sklearn:iforest", manager=pm)
    state = model.__getstate__()
    del state["reference"]  # as pickled by pynomaly 1.0
    old = pynomaly.Model.__new__(pynomaly.Model)
    old.__setstate__(state)
    assert old.reference is None
    new = frame.iloc[150:]
    got = pynomaly.contributions(old, new, manager=pm)
    model.reference = new.median().to_numpy()
    np.testing.assert_allclose(got, pynomaly.contributions(model, new, manager=pm))


@pytest.mark.parametrize("detector", ["pyod:ecod", "pyod:hbos", "pyod:pca", "sklearn:elliptic"])
def test_native_contributions_add_up_to_the_score_above_the_reference(
    detector, pm, frame
) -> None:
    model = pynomaly.fit(frame.iloc[:250], detector, manager=pm)
    new = frame.iloc[250:]
    with counting(pm) as recorder:
        got = pynomaly.contributions(model, new, manager=pm)
    assert recorder.rows == []  # the detector's own terms: nothing is scored again
    assert got.attrs["method"] == "additive"
    reference = pd.DataFrame(model.reference[None, :], columns=new.columns)
    expected = model.score(new, manager=pm) - model.score(reference, manager=pm)[0]
    np.testing.assert_allclose(got.sum(axis=1), expected, rtol=1e-9, atol=1e-9)


class ScoreCounter:
    """Counts the rows of each pynomaly_score call (through its before-score event)."""

    def __init__(self) -> None:
        self.rows: list[int] = []

    @hookimpl
    def pynomaly_before_score(self, detector_id: str, n_samples: int) -> None:
        self.rows.append(n_samples)


@contextlib.contextmanager
def counting(pm: PluginManager) -> Iterator[ScoreCounter]:
    """A :class:`ScoreCounter` registered for the ``with`` block."""
    recorder = ScoreCounter()
    pm.register(recorder, "score_counter")
    try:
        yield recorder
    finally:
        pm.unload("score_counter")


def test_batch_relative_detectors_are_explained_within_their_batch(pm, frame) -> None:
    """COF scores a row against the other rows of its batch: each feature is set to the
    reference in every row of the batch, scored once per feature; a changed row is never
    scored with copies of itself."""
    model = pynomaly.fit(frame, "pyod:cof", manager=pm)
    result = model.detect(frame, manager=pm)
    with counting(pm) as recorder:
        top = result.contributions(3)
    assert top.attrs["method"] == "batch"
    assert recorder.rows == [len(frame)] * (1 + frame.shape[1])
    assert list(top.index) == list(result.top(3).index)
    scores = model.score(frame, manager=pm)
    for feature in frame.columns:
        changed = frame.copy()
        changed[feature] = model.reference[list(frame.columns).index(feature)]
        drop = scores - model.score(changed, manager=pm)
        np.testing.assert_allclose(top[feature], drop[result._top_positions(3)], rtol=1e-9)
    assert top.loc[7].idxmax() == "c" and top.loc[11].idxmax() == "a"
    # a row's contributions do not depend on how many rows are shown
    np.testing.assert_allclose(result.contributions(10).iloc[:3], top, rtol=1e-12)


def test_only_the_rows_shown_are_explained(pm, frame) -> None:
    big = pd.concat([frame] * 10, ignore_index=True)
    result = pynomaly.detect(big, "sklearn:iforest", manager=pm)
    with counting(pm) as recorder:
        got = result.contributions(5)
    assert got.shape == (5, 4)
    assert recorder.rows == [5, 5 * 4]  # the rows, then each with one feature changed


def test_importance_is_the_mean_absolute_contribution(pm, frame) -> None:
    for detector in ("sklearn:iforest", "pyod:ecod"):
        model = pynomaly.fit(frame, detector, manager=pm)
        importance = pynomaly.explain(model, frame, manager=pm)
        expected = pynomaly.contributions(model, frame, manager=pm).abs().mean()
        pd.testing.assert_series_equal(importance, expected, check_names=False)
        assert importance.name == "importance"


def test_a_detector_that_cannot_be_explained_says_why(pm, frame) -> None:
    model = pynomaly.fit(frame.iloc[:120], "pyod:sod", manager=pm)
    with pytest.raises(ExplainError, match=r"pyod:sod cannot be explained: a feature held"):
        pynomaly.contributions(model, frame.iloc[:120], manager=pm)
    with pytest.raises(ExplainError):
        pynomaly.explain(model, frame.iloc[:120], manager=pm)
    result = model.detect(frame.iloc[:120], manager=pm)
    text = format_output(pm, result, "table", {"top": 3})  # the rows, and why no contributions
    assert "(contributions unavailable: ExplainError: pyod:sod cannot be explained" in text


def test_pynomaly_detectors_shows_why_a_detector_cannot_be_explained() -> None:
    out = CliRunner().invoke(cli, ["detectors"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    sod = next(i for i, line in enumerate(lines) if line.startswith("pyod:sod "))
    assert "cannot be explained: a feature held at one value" in lines[sod + 2]
    ecod = next(i for i, line in enumerate(lines) if line.startswith("pyod:ecod "))
    assert lines[ecod + 2].strip() == "contributions: its own per-feature terms of the score"
    knn = next(i for i, line in enumerate(lines) if line.startswith("pyod:knn "))
    assert lines[knn + 2].startswith("pyod:")  # nothing to say: the next detector
    listed = json.loads(CliRunner().invoke(cli, ["detectors", "--json"]).output)
    info = {d["id"]: d for d in listed}
    assert info["pyod:hbos"]["additive_contributions"] and not info["pyod:hbos"]["cannot_explain"]
    assert info["pyod:sod"]["cannot_explain"]


def test_json_output_has_the_top_rows_contributions(tmp_path, frame) -> None:
    path = tmp_path / "data.csv"
    frame.to_csv(path, index_label="id")
    args = ["detect", str(path), "-d", "pyod:ecod", "--index-col", "id", "--json", "--top", "3"]
    out = CliRunner().invoke(cli, args)
    assert out.exit_code == 0, out.output
    top = json.loads(out.output)["top"]
    model = pynomaly.fit(frame, "pyod:ecod")
    for record in top:
        row = frame.loc[[record["index"]]]
        expected = pynomaly.contributions(model, row).iloc[0]
        best = expected[expected > 0].sort_values(ascending=False).head(3)
        assert list(record["contributions"]) == list(best.index)
        np.testing.assert_allclose(list(record["contributions"].values()), best.to_numpy())
    # ECOD sums tail terms: row 295, far out in a, b and d, outscores row 7 (c = 9)
    assert top[0]["index"] == 295 and list(top[0]["contributions"]) == ["d", "a", "b"]


# ---------------------------------------------------------------------------------------------
# The explain hook's answers are checked
# ---------------------------------------------------------------------------------------------


class Answers:
    """An explain hook for sklearn:iforest answering whatever the test sets."""

    def __init__(self) -> None:
        self.answer: object = None
        self.calls: list[tuple[int, int]] = []

    @hookimpl(tryfirst=True)
    def pynomaly_explain(self, detector_id: str, state: object, X: np.ndarray) -> object:
        self.calls.append(X.shape)
        return self.answer(X) if callable(self.answer) else self.answer


def test_explain_hook_answers_of_either_shape(pm, frame) -> None:
    model = pynomaly.fit(frame, "sklearn:iforest", manager=pm)
    plugin = Answers()
    pm.register(plugin, "answers")
    try:
        plugin.answer = lambda X: np.abs(X)  # per-row contributions
        got = pynomaly.contributions(model, frame.iloc[:5], manager=pm)
        assert got.attrs["method"] == "native"
        assert plugin.calls == [(5, 4), (1, 4)]  # the rows, then the reference row
        expected = np.abs(frame.iloc[:5].to_numpy()) - np.abs(model.reference)
        np.testing.assert_allclose(got.to_numpy(), expected)
        plugin.answer = lambda X: np.arange(X.shape[1], dtype=float)  # importances, as in 1.0
        plugin.calls.clear()
        importance = pynomaly.explain(model, frame, manager=pm)
        np.testing.assert_array_equal(importance.to_numpy(), np.arange(4.0))
        assert plugin.calls == [frame.shape]  # asked once, of the rows alone
        got = pynomaly.contributions(model, frame.iloc[:5], manager=pm)  # then measured
        assert got.attrs["method"] == "ablation"
        plugin.answer = lambda X: np.zeros((len(X), 3))
        with pytest.raises(PluginError, match=r"returned shape \(5, 3\) for 5 rows of 4"):
            pynomaly.contributions(model, frame.iloc[:5], manager=pm)
        plugin.answer = lambda X: np.full(X.shape, np.nan)
        with pytest.raises(PluginError, match="non-finite"):
            pynomaly.explain(model, frame, manager=pm)
    finally:
        pm.unregister(name="answers")


def test_an_ensemble_is_explained_as_its_members_allow(pm, frame) -> None:
    """The combiners combine each row's member scores with training statistics: an ensemble
    of batch-independent members is measured row by row, one with a batch-relative member
    within its batch, one with an unexplainable member not at all."""
    small = frame.iloc[:120]
    cases = (("pyod:iforest,pyod:knn,pyod:ecod", "ablation"), ("pyod:knn,pyod:cof", "batch"))
    for members, method in cases:
        model = pynomaly.fit(small, "ensemble:mean", manager=pm, members=members)
        got = pynomaly.contributions(model, small, manager=pm)  # a batch-relative member: one batch
        assert got.attrs["method"] == method
        assert got.loc[7].idxmax() == "c" and got.loc[11].idxmax() == "a"
    model = pynomaly.fit(small, "ensemble:max", manager=pm, members="pyod:knn,pyod:sod")
    why = r"ensemble:max cannot be explained: its member pyod:sod cannot be explained: a feature"
    with pytest.raises(ExplainError, match=why):
        pynomaly.contributions(model, small, manager=pm)


def test_contributions_cross_the_isolation_boundary(frame) -> None:
    """An isolated adapter's explain hook answers rows × features from its worker: the same
    contributions as in-process, native (ECOD), measured (IForest) and of an ensemble."""
    both = ["sklearn_adapter", "pyod_adapter"]
    inproc = PluginManager(autoload=False, allow=both, plugins_dir="")
    isolated = PluginManager(autoload=False, allow=both, plugins_dir="", isolation="process")
    try:
        assert isolated.isolated("pyod_adapter")
        rows = frame.iloc[:5]
        for detector, method in (("pyod:ecod", "additive"), ("sklearn:iforest", "ablation"),
                                 ("ensemble:mean", "ablation")):
            ours = pynomaly.fit(frame, detector, random_state=0, manager=isolated)
            theirs = pynomaly.fit(frame, detector, random_state=0, manager=inproc)
            got = pynomaly.contributions(ours, rows, manager=isolated)
            assert got.attrs["method"] == method
            pd.testing.assert_frame_equal(got, pynomaly.contributions(theirs, rows, manager=inproc))
    finally:
        isolated.shutdown()
        inproc.shutdown()
