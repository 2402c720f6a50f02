"""The scikit-learn adapter against real scikit-learn: scores equal the library's own.

Every test goes through a manager that loads only this plugin (besides the built-ins), so a
broken sibling plugin cannot interfere.
"""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.covariance import EllipticEnvelope
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import IsolationForest
from sklearn.kernel_approximation import Nystroem
from sklearn.linear_model import SGDOneClassSVM
from sklearn.neighbors import LocalOutlierFactor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import OneClassSVM

import pynomaly
import pynomaly_sklearn.plugin as plugin
from pynomaly.errors import ConfigurationError, DataError, InvalidParameterError
from pynomaly.services import detectors as detector_service
from pynomaly.types import ParamSpec
from pynomaly_sklearn.catalog import CATALOG

IDS = list(CATALOG)
SEED = 0
CONTAMINATION = 0.1
REPO_ROOT = Path(plugin.__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def pm() -> Iterator[pynomaly.PluginManager]:
    manager = pynomaly.PluginManager(allow=["sklearn_adapter"], plugins_dir="")
    assert "sklearn_adapter" in manager.loaded() or manager.load("sklearn_adapter")
    yield manager
    manager.shutdown()


@pytest.fixture(scope="module")
def wbc() -> np.ndarray:
    X, _ = load_breast_cancer(return_X_y=True)
    return X


# The library's own models, built in the test exactly as a user of scikit-learn would. For LOF
# the training scores come from novelty=False (the plain library); new rows need novelty=True.
def _reference(detector: str, params: dict[str, Any], *, novelty: bool = False) -> Any:
    if detector == "sklearn:iforest":
        return IsolationForest(contamination=CONTAMINATION, random_state=SEED, **params)
    if detector == "sklearn:lof":
        return LocalOutlierFactor(contamination=CONTAMINATION, novelty=novelty, **params)
    if detector == "sklearn:ocsvm":
        return make_pipeline(StandardScaler(), OneClassSVM(**params))
    if detector == "sklearn:elliptic":
        return EllipticEnvelope(contamination=CONTAMINATION, random_state=SEED, **params)
    if detector == "sklearn:sgd_ocsvm":
        sgd = SGDOneClassSVM(random_state=SEED, **params)
        return make_pipeline(StandardScaler(), Nystroem(random_state=SEED), sgd)
    raise AssertionError(detector)


def _reference_training_scores(detector: str, params: dict[str, Any], X: np.ndarray) -> np.ndarray:
    est = _reference(detector, params).fit(X)
    if detector == "sklearn:lof":
        return -est.negative_outlier_factor_
    return -est.score_samples(X)


# one non-default parameter each, to show parameters reach the estimator
CASES = [
    ("sklearn:iforest", {"n_estimators": 60}),
    ("sklearn:lof", {"n_neighbors": 15}),
    ("sklearn:ocsvm", {"nu": 0.2}),
    ("sklearn:elliptic", {"support_fraction": 0.9}),
    ("sklearn:sgd_ocsvm", {"nu": 0.2}),
]


def test_cases_cover_every_detector() -> None:
    assert sorted(d for d, _ in CASES) == sorted(IDS)


@pytest.mark.parametrize(("detector", "params"), CASES)
def test_detect_scores_are_the_librarys_own(
    pm: pynomaly.PluginManager, wbc: np.ndarray, detector: str, params: dict[str, Any]
) -> None:
    res = pynomaly.detect(
        wbc, detector=detector, contamination=CONTAMINATION, random_state=SEED, manager=pm,
        **params,
    )
    expected = _reference_training_scores(detector, params, wbc)
    np.testing.assert_allclose(res.scores, expected, rtol=1e-10)

    # labels: the contamination share above the (1 - contamination) percentile
    assert res.threshold == pytest.approx(np.percentile(res.scores, 100 * (1 - CONTAMINATION)))
    np.testing.assert_array_equal(res.labels, (res.scores > res.threshold).astype(np.int8))
    assert abs(res.labels.mean() - CONTAMINATION) <= 1.5 / len(wbc)


@pytest.mark.parametrize(("detector", "params"), CASES)
def test_scoring_new_rows_matches_the_library(
    pm: pynomaly.PluginManager, wbc: np.ndarray, detector: str, params: dict[str, Any]
) -> None:
    X_train, X_test = wbc[:400], wbc[400:]
    model = pynomaly.fit(
        X_train, detector=detector, contamination=CONTAMINATION, random_state=SEED, manager=pm,
        **params,
    )
    expected = -_reference(detector, params, novelty=True).fit(X_train).score_samples(X_test)
    scores = model.score(X_test, manager=pm)
    assert scores.shape == (len(X_test),)
    np.testing.assert_allclose(scores, expected, rtol=1e-10)


def test_lof_training_scores_do_not_depend_on_novelty(wbc: np.ndarray) -> None:
    # why the adapter may fit LOF with novelty=True and still report the plain library's scores
    plain = LocalOutlierFactor().fit(wbc).negative_outlier_factor_
    novelty = LocalOutlierFactor(novelty=True).fit(wbc).negative_outlier_factor_
    np.testing.assert_array_equal(plain, novelty)


@pytest.mark.parametrize("detector", IDS)
def test_higher_score_is_more_anomalous(pm: pynomaly.PluginManager, detector: str) -> None:
    X = np.random.default_rng(1).standard_normal((200, 5))
    X[17] = 50.0
    res = pynomaly.detect(X, detector=detector, random_state=SEED, manager=pm)
    assert int(np.argmax(res.scores)) == 17
    assert res.labels[17] == 1
    model = pynomaly.fit(X[np.arange(200) != 17], detector=detector, random_state=SEED, manager=pm)
    new = model.score(np.vstack([np.zeros(5), np.full(5, 50.0)]), manager=pm)
    assert new[1] > new[0]


# --------------------------------------------------------------------------------------------
# Hyperparameter spaces
# --------------------------------------------------------------------------------------------


def _sample(spec: ParamSpec, rng: np.random.Generator, i: int) -> Any:
    """One value from a space; categorical choices are cycled so that all of them are tried."""
    if spec.kind == "categorical":
        return spec.choices[i % len(spec.choices)]
    if spec.kind == "bool":
        return bool(rng.random() < 0.5)
    assert spec.low is not None and spec.high is not None
    low, high = (math.log(spec.low), math.log(spec.high)) if spec.log else (spec.low, spec.high)
    value = rng.uniform(low, high)
    value = math.exp(value) if spec.log else value
    value = min(max(value, spec.low), spec.high)
    return round(value) if spec.kind == "int" else float(value)


def _bound(spec: ParamSpec, end: str) -> Any:
    if spec.kind in ("int", "float"):
        value = spec.low if end == "low" else spec.high
        return int(value) if spec.kind == "int" else float(value)  # type: ignore[arg-type]
    if spec.kind == "bool":
        return end == "high"
    return spec.choices[0 if end == "low" else -1]


def _estimators(detector: str) -> list[Any]:
    entry = CATALOG[detector]
    classes = [plugin._class(entry.module, entry.estimator)]
    if entry.feature_map is not None:
        classes.append(plugin._class(*entry.feature_map))
    return [cls() for cls in classes]


@pytest.mark.parametrize("detector", IDS)
def test_space_defaults_are_sklearns(pm: pynomaly.PluginManager, detector: str) -> None:
    info = detector_service.resolve(pm, detector)
    defaults: dict[str, Any] = {}
    for est in reversed(_estimators(detector)):
        defaults.update(est.get_params())
    assert info.params, detector
    for name, spec in info.params.items():
        assert name not in ("contamination", "random_state", "novelty")
        assert spec.default == defaults[name], name
        if spec.kind in ("int", "float"):
            assert spec.low is not None and spec.high is not None and spec.low < spec.high
        if spec.kind == "categorical":
            assert spec.default in spec.choices


@pytest.mark.filterwarnings("ignore:n_components > n_samples")  # n_components=500, 150 rows
@pytest.mark.parametrize("detector", IDS)
def test_every_value_of_a_space_is_accepted(pm: pynomaly.PluginManager, detector: str) -> None:
    info = detector_service.resolve(pm, detector)
    rng = np.random.default_rng(SEED)
    configs = [{n: _sample(s, rng, i) for n, s in info.params.items()} for i in range(4)]
    configs += [{n: _bound(s, end) for n, s in info.params.items()} for end in ("low", "high")]
    X = np.random.default_rng(2).standard_normal((150, 4))
    for params in configs:
        assert pynomaly.validate_parameters(detector, params, manager=pm) == params
        model = pynomaly.fit(X, detector=detector, random_state=SEED, manager=pm, **params)
        scores = model.score(X[:10], manager=pm)
        assert scores.shape == (10,) and np.isfinite(scores).all(), params


# --------------------------------------------------------------------------------------------
# Parameter validation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detector", "params", "bad"),
    [
        ("sklearn:iforest", {"n_estimatorz": 100}, "n_estimatorz"),
        ("sklearn:iforest", {"n_estimators": -5}, "n_estimators"),
        ("sklearn:iforest", {"max_samples": "all"}, "max_samples"),
        ("sklearn:iforest", {"contamination": 0.2}, "contamination"),
        ("sklearn:iforest", {"random_state": 3}, "random_state"),
        ("sklearn:ocsvm", {"nu": 2}, "nu"),
        ("sklearn:ocsvm", {"kernel": "nope"}, "kernel"),
        ("sklearn:ocsvm", {"kernel": "precomputed"}, "kernel"),
        ("sklearn:lof", {"novelty": False}, "novelty"),
        ("sklearn:lof", {"algorithm": "kd_tree", "metric": "cosine"}, "metric"),
        ("sklearn:lof", {"algorithm": "ball_tree", "p": 0.5}, "p"),
        ("sklearn:elliptic", {"support_fraction": 1.5}, "support_fraction"),
        ("sklearn:sgd_ocsvm", {"n_components": 0}, "n_components"),
        ("sklearn:sgd_ocsvm", {"learning_rate": "fast"}, "learning_rate"),
    ],
)
def test_bad_parameters_are_named(
    pm: pynomaly.PluginManager, detector: str, params: dict[str, Any], bad: str
) -> None:
    with pytest.raises(InvalidParameterError) as info:
        pynomaly.validate_parameters(detector, params, manager=pm)
    assert info.value.parameter == bad
    assert info.value.detector == detector
    assert repr(bad) in str(info.value)
    assert "\n" not in info.value.problem
    if bad not in ("contamination", "random_state"):  # those are detect()'s own keywords
        with pytest.raises(InvalidParameterError):  # detect checks before fitting
            pynomaly.detect(np.ones((5, 2)), detector=detector, manager=pm, **params)


def test_unknown_parameter_lists_the_valid_ones(pm: pynomaly.PluginManager) -> None:
    with pytest.raises(InvalidParameterError, match="not a parameter of IsolationForest") as info:
        pynomaly.validate_parameters("sklearn:iforest", {"trees": 5}, manager=pm)
    valid = info.value.problem.split("valid: ", 1)[1].split(", ")
    assert "n_estimators" in valid and "max_samples" in valid
    assert not {"contamination", "random_state"} & set(valid)


def test_parameters_are_normalized(pm: pynomaly.PluginManager) -> None:
    checked = pynomaly.validate_parameters(
        "sklearn:iforest", {"n_estimators": 120.0, "max_features": np.float64(0.5)}, manager=pm
    )
    assert checked == {"n_estimators": 120, "max_features": 0.5}
    assert type(checked["n_estimators"]) is int and type(checked["max_features"]) is float


def test_other_detectors_are_not_ours() -> None:
    X = np.ones((4, 2))
    assert plugin.pynomaly_validate_parameters(detector_id="pyod:ecod", params={}) is None
    assert plugin.pynomaly_fit("pyod:ecod", X, {}, 0.1, None) is None
    assert plugin.pynomaly_score("pyod:ecod", object(), X) is None


# --------------------------------------------------------------------------------------------
# Reproducibility, inputs, state
# --------------------------------------------------------------------------------------------


def test_iforest_random_state(pm: pynomaly.PluginManager, wbc: np.ndarray) -> None:
    def scores(seed: int) -> np.ndarray:
        res = pynomaly.detect(wbc, detector="sklearn:iforest", random_state=seed, manager=pm)
        return res.scores

    np.testing.assert_array_equal(scores(3), scores(3))
    assert not np.array_equal(scores(3), scores(4))


@pytest.mark.parametrize("detector", IDS)
def test_input_is_not_modified_and_may_be_read_only(detector: str) -> None:
    X = np.random.default_rng(3).standard_normal((80, 3))
    X.flags.writeable = False
    before = X.copy()
    fitted = plugin.pynomaly_fit(detector, X, {}, 0.1, SEED)
    assert fitted is not None
    scores = plugin.pynomaly_score(detector, fitted.state, X)
    assert scores is not None and scores.dtype == np.float64 and scores.shape == (80,)
    np.testing.assert_array_equal(X, before)
    # the state pickles and scores the same after a round trip
    restored = pickle.loads(pickle.dumps(fitted.state))
    np.testing.assert_array_equal(plugin.pynomaly_score(detector, restored, X), scores)


# --------------------------------------------------------------------------------------------
# Plugin: metadata, configuration, health, light listing
# --------------------------------------------------------------------------------------------


def test_metadata(pm: pynomaly.PluginManager) -> None:
    meta = pm.record("sklearn_adapter").metadata
    assert meta is not None
    assert meta.name == "sklearn_adapter"
    assert meta.version == pynomaly.__version__
    assert [t.value for t in meta.plugin_types] == ["algorithm"]
    assert meta.dependencies == ("scikit-learn>=1.3",)


@pytest.fixture
def configured(pm: pynomaly.PluginManager) -> Iterator[Callable[[dict[str, Any]], None]]:
    yield lambda config: pm.configure("sklearn_adapter", config)
    pm.configure("sklearn_adapter", {})  # the configuration is process-wide: reset it


def test_configured_n_jobs(
    pm: pynomaly.PluginManager, configured: Callable[[dict[str, Any]], None]
) -> None:
    X = np.random.default_rng(4).standard_normal((50, 3))
    configured({"n_jobs": 2})
    for detector in ("sklearn:iforest", "sklearn:lof"):
        assert pynomaly.fit(X, detector=detector, manager=pm).state.n_jobs == 2
    user = pynomaly.fit(X, detector="sklearn:iforest", manager=pm, n_jobs=1)
    assert user.state.n_jobs == 1  # the user's own value wins
    ocsvm = pynomaly.fit(X, detector="sklearn:ocsvm", manager=pm)  # takes no n_jobs
    assert "n_jobs" not in ocsvm.state[-1].get_params()
    configured({})
    assert pynomaly.fit(X, detector="sklearn:iforest", manager=pm).state.n_jobs is None


@pytest.mark.parametrize("config", [{"n_jobs": "4"}, {"n_jobs": 0}, {"workers": 2}])
def test_bad_configuration_is_rejected(
    pm: pynomaly.PluginManager,
    configured: Callable[[dict[str, Any]], None],
    config: dict[str, Any],
) -> None:
    with pytest.raises(ConfigurationError):
        configured(config)


def test_health_check(pm: pynomaly.PluginManager) -> None:
    import sklearn

    health = pm.health_check("sklearn_adapter")
    assert health["status"] == "healthy"
    assert health["scikit-learn"] == sklearn.__version__
    assert health["detectors"] == IDS


def test_detectors_are_listed_with_spaces(pm: pynomaly.PluginManager) -> None:
    infos = {d.id: d for d in detector_service.detectors(pm) if d.plugin == "sklearn_adapter"}
    assert sorted(infos) == sorted(IDS)
    assert all(d.available and d.description for d in infos.values())
    space = infos["sklearn:ocsvm"].hyperparameter_space()
    assert space["gamma"] == {
        "type": "float", "default": "scale", "range": [1e-3, 1.0], "scale": "log",
        "description": "kernel coefficient",
    }


def test_entry_point_names_this_module() -> None:
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="pynomaly.plugins") if e.name == "sklearn_adapter"]
    assert ep.value == "pynomaly_sklearn.plugin"


def test_listing_detectors_imports_no_heavy_library(tmp_path: Path) -> None:
    code = (
        "import sys, pynomaly\nfrom pynomaly.services.detectors import detectors\n"
        "pm = pynomaly.PluginManager(disable=['pyod_adapter'])\n"
        "ids = [d.id for d in detectors(pm)]\n"
        "assert 'sklearn:iforest' in ids, (ids, pm.records())\n"
        "print([m for m in ('pyod', 'sklearn', 'numba', 'numpy', 'pandas') if m in sys.modules])\n"
    )
    # the checkout on the path, so the adapter imports whatever the editable install maps
    path = [str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(path)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("detector", ["sklearn:lof", "sklearn:elliptic", "pyod:hbos"])
def test_checked_data_is_not_scanned_for_nan_again(
    detector: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pynomaly's validation scans the data for NaN and infinity once; the adapters tell
    scikit-learn (whose check_array PyOD uses too) not to scan it again in fit and score.
    Counted with a pass-through wrapper of scikit-learn's own check, which scans unless
    scikit-learn's configuration says ``assume_finite``."""
    import sklearn
    import sklearn.utils.validation as validation

    real = validation._assert_all_finite
    scanned: list[int] = []

    def counting(X: Any, *args: Any, **kwargs: Any) -> Any:
        if not sklearn.get_config()["assume_finite"]:
            scanned.append(np.size(X))
        return real(X, *args, **kwargs)

    monkeypatch.setattr(validation, "_assert_all_finite", counting)
    X = np.random.default_rng(SEED).standard_normal((300, 4))
    model = pynomaly.fit(X, detector, random_state=SEED)
    model.score(X[:50])
    assert X.size not in scanned and X[:50].size not in scanned
    # outside pynomaly the check runs as before, and pynomaly still rejects NaN itself
    validation.check_array(X)
    assert X.size in scanned
    X[0, 0] = np.nan
    with pytest.raises(DataError, match="NaN"):
        pynomaly.fit(X, detector, random_state=SEED)
