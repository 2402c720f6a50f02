"""Ensembles: each combination on member scores worked out by hand, then through real members
(fit, score, save/load, explain, listing) and the least-privilege design. The conformance kit
runs on every ensemble in tests/test_conformance.py (test_builtin_plugin_conforms)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from click.testing import CliRunner

import pynomaly
from pynomaly.builtin import ensemble
from pynomaly.builtin.combine import Combiner, combine
from pynomaly.cli.main import cli
from pynomaly.errors import InputError
from pynomaly.services.composite import CompositeState

# two members' training scores: medians 0, MADs 1 and 10 → robust scales 1.4826 and 14.826
A = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
B = 10 * np.array([2.0, -1.0, 0.0, 1.0, -2.0])
S = np.column_stack([A, B])
Z = np.column_stack([A, B / 10]) / 1.4826  # the standardized scores


def fitted(kind: str, X: np.ndarray = S, **params: int) -> tuple[Combiner, np.ndarray]:
    result = ensemble.pynomaly_fit(f"ensemble:{kind}", X, params, 0.1, 0)
    assert result is not None
    return result.state, result.training_scores


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("mean", np.array([0.0, -1.0, 0.0, 1.0, 0.0]) / 1.4826),
        ("max", np.array([2.0, -1.0, 0.0, 1.0, 2.0]) / 1.4826),
        ("aom", np.array([0.0, -1.0, 0.0, 1.0, 0.0]) / 1.4826),  # 2 buckets of 1: the mean
        ("moa", np.array([2.0, -1.0, 0.0, 1.0, 2.0]) / 1.4826),  # 2 buckets of 1: the max
        ("rank", np.array([0.5, 0.3, 0.5, 0.7, 0.5])),  # mid-ranks (2i + 1) / 10, averaged
    ],
)
def test_combination_of_hand_computed_member_scores(kind: str, expected: np.ndarray) -> None:
    _, training = fitted(kind)
    np.testing.assert_allclose(training, expected, atol=1e-12)


def test_buckets_of_four_members() -> None:
    X = np.column_stack([A, B, -A, B / 10])  # z: a, b, -a, b (all on scale 1.4826)
    za, zb = A / 1.4826, B / 10 / 1.4826
    _, aom = fitted("aom", X, n_buckets=2)  # buckets {a, b} and {-a, b}
    expected = (np.maximum(za, zb) + np.maximum(-za, zb)) / 2
    np.testing.assert_allclose(aom, expected, atol=1e-12)
    _, moa = fitted("moa", X, n_buckets=2)
    np.testing.assert_allclose(moa, np.maximum((za + zb) / 2, (-za + zb) / 2), atol=1e-12)
    _, clamped = fitted("aom", X[:, :2], n_buckets=4)  # more buckets than members: one each
    np.testing.assert_allclose(clamped, Z.mean(axis=1), atol=1e-12)


def test_new_rows_are_standardized_with_the_training_statistics() -> None:
    state, _ = fitted("mean")
    new = np.array([[3.0, 30.0], [0.0, 0.0]])
    np.testing.assert_allclose(combine(state, new), [3 / 1.4826, 0.0], atol=1e-12)
    rank_state, _ = fitted("rank")
    np.testing.assert_allclose(combine(rank_state, new), [1.0, 0.5])  # above every training


def test_a_constant_member_falls_back_to_a_unit_scale() -> None:
    X = np.column_stack([A, np.ones(5)])
    state, training = fitted("mean", X)
    assert state.scale[1] == 1.0
    np.testing.assert_allclose(training, (A / 1.4826 + 0) / 2)


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    from sklearn.datasets import load_breast_cancer
    from sklearn.preprocessing import MinMaxScaler

    X = load_breast_cancer().data[:300, :8]
    return MinMaxScaler().fit_transform(X)


def test_real_members_are_fitted_and_combined(data: np.ndarray) -> None:
    members = ["pyod:iforest", "pyod:knn"]
    res = pynomaly.detect(data, "ensemble:mean", members=",".join(members), random_state=0)
    own = np.column_stack(
        [pynomaly.detect(data, m, random_state=0).scores for m in members]
    )
    median = np.median(own, axis=0)
    scale = 1.4826 * np.median(np.abs(own - median), axis=0)
    np.testing.assert_allclose(res.scores, ((own - median) / scale).mean(axis=1), rtol=1e-10)
    assert res.model.params["members"] == [["pyod:iforest", {}], ["pyod:knn", {}]]
    assert isinstance(res.model.state, CompositeState)


def test_an_ensemble_model_saves_loads_scores_and_explains(data: np.ndarray, tmp_path) -> None:
    model = pynomaly.fit(
        data[:200], "ensemble:rank",
        members=["pyod:ecod", ["pyod:knn", {"n_neighbors": 7}]], random_state=0,
    )
    assert model.params["members"][1] == ["pyod:knn", {"n_neighbors": 7}]
    model.save(tmp_path / "e.model")
    loaded = pynomaly.load(tmp_path / "e.model")
    np.testing.assert_allclose(loaded.score(data[200:]), model.score(data[200:]))
    importance = pynomaly.explain(loaded, data[200:])
    assert importance.shape == (8,) and (importance >= 0).all()


@pytest.mark.parametrize(
    ("members", "message"),
    [
        ("pyod:iforest", "at least 2 member detectors"),
        ("pyod:iforest,nope:x", "has a bad member: unknown detector 'nope:x'"),
        ("pyod:iforest,ensemble:mean", "cannot name the ensemble itself"),
        (["pyod:iforest", ["pyod:knn", {"n_neighbors": -1}]], "n_neighbors"),
        (7, "must list member detectors"),
    ],
)
def test_bad_members_are_one_line_errors(data: np.ndarray, members: object, message: str) -> None:
    with pytest.raises(InputError, match=message):
        pynomaly.detect(data, "ensemble:mean", members=members)


def test_ensembles_are_listed_with_their_members_parameter() -> None:
    out = CliRunner().invoke(cli, ["detectors", "--json"])
    import json

    listed = {d["id"]: d for d in json.loads(out.output)}
    for kind in ("mean", "max", "aom", "moa", "rank"):
        info = listed[f"ensemble:{kind}"]
        assert info["members_param"] == "members" and info["plugin"] == "ensemble"
        assert info["hyperparameters"]["members"]["default"] == "pyod:iforest,pyod:knn,pyod:ecod"


def test_no_hook_of_the_ensemble_plugin_receives_the_manager() -> None:
    for name, function in inspect.getmembers(ensemble, inspect.isfunction):
        if name.startswith("pynomaly_"):
            params = inspect.signature(function).parameters
            assert not any("manager" in p or p == "pm" for p in params), name
