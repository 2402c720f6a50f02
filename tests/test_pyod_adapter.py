"""The ``pyod_adapter`` plugin against real PyOD on the real breast-cancer data (no mocks).

Most tests use a manager holding only the built-ins and this plugin, so that no other plugin
(sklearn_adapter, local plugins) can change what is measured.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

import pynomaly
import pynomaly_pyod.plugin as plugin
from pynomaly.errors import ConfigurationError, DataError, InputError, InvalidParameterError
from pynomaly.services import detectors as detector_service
from pynomaly.testing.datasets import planted
from pynomaly.types import ParamSpec
from pynomaly_pyod.catalog import ENTRIES, RESERVED, Entry

AVAILABLE = [e for e in ENTRIES if not e.unavailable_reason()]
SORTED_NAMES = ["ecod", "copod"]
UNAVAILABLE = [e for e in ENTRIES if e.unavailable_reason()]
# Slow or quadratic-and-worse detectors get fewer rows (and ROD, cubic in features, 5 columns).
SMALL = {"abod", "cof", "loci", "rgraph", "sod", "sos"}


@pytest.fixture(scope="module")
def pm() -> pynomaly.PluginManager:
    manager = pynomaly.PluginManager(autoload=False, plugins_dir="")
    manager.register(plugin, name="pyod_adapter")
    yield manager
    manager.shutdown()


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    X, _ = load_breast_cancer(return_X_y=True)
    return np.ascontiguousarray(X, dtype=np.float64)


@pytest.fixture(scope="module")
def scaled(data: np.ndarray) -> np.ndarray:
    return StandardScaler().fit_transform(data)


def pyod_class(e: Entry) -> type:
    return getattr(importlib.import_module(e.module), e.cls)


def accepts(cls: type, name: str) -> bool:
    return name in inspect.signature(cls.__init__).parameters


# ---------------------------------------------------------------------------------------------
# 1. pynomaly gives exactly PyOD's scores, labels and threshold
# ---------------------------------------------------------------------------------------------

EQUIVALENCE = ["ecod", "copod", "hbos", "iforest", "knn", "lof", "pca", "ocsvm", "mcd", "inne",
               "loda", "gmm", "kde", "cblof"]


@pytest.mark.parametrize("name", EQUIVALENCE)
def test_same_scores_labels_threshold_as_pyod(
    name: str, pm: pynomaly.PluginManager, data: np.ndarray
) -> None:
    e = next(e for e in ENTRIES if e.name == name)
    cls = pyod_class(e)
    seed = {"random_state": 0} if accepts(cls, "random_state") else {}

    ref = cls(contamination=0.1, **seed).fit(data)
    res = pynomaly.detect(data, detector=e.id, contamination=0.1, random_state=0, manager=pm)

    np.testing.assert_allclose(res.scores, ref.decision_scores_, rtol=1e-12, atol=0)
    np.testing.assert_array_equal(res.labels, ref.labels_)
    assert res.threshold == pytest.approx(ref.threshold_, rel=1e-12)

    train, test = data[:400], data[400:]  # another row count for scoring
    ref = cls(contamination=0.1, **seed).fit(train)
    model = pynomaly.fit(train, detector=e.id, contamination=0.1, random_state=0, manager=pm)
    if e.sorted_scoring:  # each new row as PyOD scores it alone (section 8)
        expected = np.concatenate([ref.decision_function(test[i : i + 1]) for i in range(50)])
        np.testing.assert_allclose(model.score(test[:50], manager=pm), expected, rtol=1e-9)
        return
    np.testing.assert_allclose(
        model.score(test, manager=pm), ref.decision_function(test), rtol=1e-12, atol=0
    )


def test_mad_is_univariate(pm: pynomaly.PluginManager, data: np.ndarray) -> None:
    from pyod.models.mad import MAD

    one = data[:, :1]
    res = pynomaly.detect(one, detector="pyod:mad", manager=pm)
    np.testing.assert_allclose(res.scores, MAD().fit(one).decision_scores_, rtol=1e-12)
    with pytest.raises(DataError, match="univariate.*got 30"):
        pynomaly.detect(data, detector="pyod:mad", manager=pm)


def test_cd_needs_two_features(pm: pynomaly.PluginManager, data: np.ndarray) -> None:
    with pytest.raises(DataError, match="at least 2 features"):
        pynomaly.detect(data[:, :1], detector="pyod:cd", manager=pm)


# ---------------------------------------------------------------------------------------------
# 2. Every available detector fits and scores; unavailable ones say why
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("e", AVAILABLE, ids=lambda e: e.name)
def test_every_available_detector_fits_and_scores(
    e: Entry, pm: pynomaly.PluginManager, scaled: np.ndarray
) -> None:
    n_train, n_test = (80, 40) if e.name in SMALL else (150, 60)
    n_features = {"mad": 1, "rod": 5}.get(e.name, scaled.shape[1])
    train = scaled[:n_train, :n_features].copy()
    test = scaled[300 : 300 + n_test, :n_features].copy()
    before = (train.copy(), test.copy())

    model = pynomaly.fit(train, detector=e.id, random_state=0, manager=pm)
    scores = model.score(test, manager=pm)

    assert model.training_scores.shape == (n_train,)
    assert scores.shape == (n_test,)
    assert np.isfinite(model.training_scores).all() and np.isfinite(scores).all()
    # bit for bit, whether PyOD's threshold_ was taken (FitResult.threshold) or computed
    assert model.threshold == np.percentile(model.training_scores, 90.0)
    np.testing.assert_array_equal(train, before[0])  # the adapter never modifies its input
    np.testing.assert_array_equal(test, before[1])


@pytest.mark.parametrize("name", sorted(plugin._THRESHOLD_FROM_FIT))
def test_pyods_threshold_is_handed_on_only_where_it_is_the_contamination_percentile(
    name: str, scaled: np.ndarray
) -> None:
    # pynomaly labels with FitResult.threshold instead of computing the percentile again: it
    # must be numpy.percentile(training_scores, 100 * (1 - contamination)) exactly
    e = next(e for e in ENTRIES if e.name == name)
    if e.unavailable_reason():
        pytest.skip(e.unavailable_reason())
    X = scaled[: 80 if name in SMALL else 150].copy()
    fitted = plugin.pynomaly_fit(e.id, X, {}, 0.05, 0)
    assert fitted.threshold is not None
    assert fitted.threshold == np.percentile(fitted.training_scores, 95.0)


def test_mads_own_threshold_is_not_handed_on(scaled: np.ndarray) -> None:
    assert plugin.pynomaly_fit("pyod:mad", scaled[:100, :1].copy(), {}, 0.1, 0).threshold is None


@pytest.mark.parametrize("e", UNAVAILABLE, ids=lambda e: e.name)
def test_unavailable_detector_gives_the_reason(
    e: Entry, pm: pynomaly.PluginManager, scaled: np.ndarray
) -> None:
    listed = {d.id: d for d in detector_service.detectors(pm)}[e.id]
    assert not listed.available and listed.reason == e.unavailable_reason()
    with pytest.raises(InputError, match=f"{e.id} is unavailable: .*{listed.reason[:20]}"):
        pynomaly.detect(scaled, detector=e.id, manager=pm)
    with pytest.raises(InputError, match="unavailable"):  # the hook itself, called directly
        plugin.pynomaly_fit(e.id, scaled, {}, 0.1, None)


def test_unavailable_reasons_are_specific() -> None:
    reasons = {e.name: e.unavailable_reason() for e in UNAVAILABLE}
    for name in ("xgbod", "devnet"):
        assert reasons[name].startswith("supervised")
    for name in ("hdbscan", "rgraph"):
        assert reasons[name].startswith("unreliable scores: "), reasons[name]
    for name, reason in reasons.items():
        assert "pip install" in reason or reason.startswith(("supervised", "unreliable")), name


# ---------------------------------------------------------------------------------------------
# 3. Hyperparameter spaces: PyOD's defaults, and every sample is accepted
# ---------------------------------------------------------------------------------------------


def sample(spec: ParamSpec, rng: np.random.Generator) -> object:
    if spec.kind == "bool":
        return bool(rng.integers(2))
    if spec.kind == "categorical":
        return spec.choices[int(rng.integers(len(spec.choices)))]
    assert spec.low is not None and spec.high is not None
    if spec.log:
        value = math.exp(rng.uniform(math.log(spec.low), math.log(spec.high)))
    else:
        value = rng.uniform(spec.low, spec.high)
    return int(min(spec.high, max(spec.low, round(value)))) if spec.kind == "int" else value


@pytest.mark.parametrize("e", ENTRIES, ids=lambda e: e.name)
def test_space_is_well_formed(e: Entry) -> None:
    for name, spec in e.space().items():
        assert name not in RESERVED
        if spec.kind in ("int", "float"):
            assert spec.low is not None and spec.high is not None and spec.low < spec.high
            assert not spec.log or spec.low > 0
            if isinstance(spec.default, (int, float)):
                assert spec.low <= spec.default <= spec.high, name
        if spec.kind == "categorical":
            assert spec.default in spec.choices, name


@pytest.mark.parametrize("e", AVAILABLE, ids=lambda e: e.name)
def test_space_defaults_are_pyods(e: Entry) -> None:
    """PyOD's defaults, except those the adapter replaces, each with its reason."""
    signature = inspect.signature(pyod_class(e).__init__).parameters
    for name, spec in e.space().items():
        default = e.defaults.get(name, signature[name].default)
        assert spec.default == default and type(spec.default) is type(default), name
    assert all(signature[n].default != v for n, v in e.defaults.items())
    assert bool(e.defaults) == bool(e.defaults_reason)


def test_kpca_default_scores_are_meaningful_and_pyods_with_the_same_parameters() -> None:
    """PyOD's own default (every component kept) scores the training rows with rounding noise;
    the adapter's n_components=5 gives the scores PyOD gives with n_components=5."""
    from pyod.models.kpca import KPCA

    X, y = planted(100, 1, 4, distance=10, random_state=1)
    X = X.to_numpy(dtype=np.float64)
    noise = KPCA().fit(X).decision_scores_
    assert np.ptp(noise) < 1e-9  # the reason for the adapter's default
    res = pynomaly.detect(X, "pyod:kpca", random_state=0)
    expected = KPCA(n_components=5, random_state=0).fit(X).decision_scores_
    np.testing.assert_allclose(res.scores, expected, rtol=1e-9, atol=1e-12)
    assert np.ptp(res.scores) > 0.1 and res.labels[int(np.flatnonzero(y.to_numpy())[0])] == 1


@pytest.mark.parametrize("e", AVAILABLE, ids=lambda e: e.name)
def test_space_samples_are_accepted(e: Entry, pm: pynomaly.PluginManager) -> None:
    from pyod.models.lof import LOF

    cls = pyod_class(e)
    rng = np.random.default_rng(sum(map(ord, e.name)))
    for _ in range(3):  # 3 joint draws: every parameter gets 3 values, combined
        params = {name: sample(spec, rng) for name, spec in e.space().items()}
        checked = detector_service.validate_parameters(pm, e.id, params)
        assert checked == params
        extra = {"detector_list": [LOF(), LOF(n_neighbors=10)]} if e.name == "lscp" else {}
        cls(contamination=0.1, **checked, **extra)


# ---------------------------------------------------------------------------------------------
# 4. Bad parameters name the parameter and the problem
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("detector", "params", "parameter", "problem"),
    [
        ("pyod:knn", {"n_neigbors": 5}, "n_neigbors", "not a parameter of KNN; valid: .*n_neigh"),
        ("pyod:knn", {"n_neighbors": 0}, "n_neighbors", "must be >= 1, got 0"),
        ("pyod:knn", {"n_neighbors": "five"}, "n_neighbors", "must be an integer"),
        ("pyod:knn", {"n_neighbors": 2.5}, "n_neighbors", "must be an integer"),
        ("pyod:knn", {"method": "max"}, "method", "one of 'largest', 'mean', 'median'"),
        ("pyod:hbos", {"n_bins": 2}, "n_bins", "must be >= 3"),
        ("pyod:hbos", {"alpha": 1.0}, "alpha", r"in \(0.0, 1.0\)"),
        ("pyod:iforest", {"max_samples": 1.5}, "max_samples", r"\(0.0, 1.0\] as a fraction"),
        ("pyod:iforest", {"bootstrap": "yes"}, "bootstrap", "True or False"),
        ("pyod:ocsvm", {"gamma": -1.0}, "gamma", "> 0.0"),
        ("pyod:gmm", {"reg_covar": float("nan")}, "reg_covar", "finite"),
        ("pyod:iforest", {"n_jobs": 0}, "n_jobs", "non-zero"),
        ("pyod:ecod", {"contamination": 0.2}, "contamination", "set by pynomaly"),
        ("pyod:iforest", {"random_state": 1}, "random_state", "set by pynomaly"),
        # within the per-parameter rule, rejected by PyOD's constructor (ref_set < n_neighbors)
        ("pyod:sod", {"ref_set": 30}, "ref_set", "rejected by PyOD's SOD"),
        ("pyod:lscp", {"detector_list": ["lof"]}, "detector_list", "at least 2 PyOD detectors"),
    ],
)
def test_bad_parameters(
    pm: pynomaly.PluginManager, detector: str, params: dict, parameter: str, problem: str
) -> None:
    with pytest.raises(InvalidParameterError, match=problem) as info:
        detector_service.validate_parameters(pm, detector, params)
    assert info.value.parameter == parameter
    assert info.value.detector == detector


def test_bad_parameter_stops_detect(pm: pynomaly.PluginManager, data: np.ndarray) -> None:
    with pytest.raises(InvalidParameterError, match="n_neighbors"):
        pynomaly.detect(data, detector="pyod:knn", n_neighbors=-3, manager=pm)


def test_parameters_are_normalized_for_pyod(pm: pynomaly.PluginManager, scaled: np.ndarray) -> None:
    # SOD insists on a Python int and a Python float; numpy scalars and 30.0 are fine here
    checked = detector_service.validate_parameters(pm,
        "pyod:sod", {"n_neighbors": np.int64(30), "ref_set": 5.0, "alpha": np.float32(0.5)}
    )
    assert checked == {"n_neighbors": 30, "ref_set": 5, "alpha": 0.5}
    assert [type(v) for v in checked.values()] == [int, int, float]
    model = pynomaly.fit(scaled[:80], detector="pyod:sod", manager=pm, **checked)
    assert model.state.n_neighbors == 30


@pytest.mark.filterwarnings("ignore:The number of histogram bins:UserWarning")  # pool of 2
def test_lscp_detector_list_is_not_fitted_in_place(
    pm: pynomaly.PluginManager, scaled: np.ndarray
) -> None:
    from pyod.models.lof import LOF

    pool = [LOF(n_neighbors=5), LOF(n_neighbors=15)]
    model = pynomaly.fit(scaled[:120], detector="pyod:lscp", detector_list=pool, manager=pm)
    assert model.state.detector_list[0] is not pool[0]
    assert not hasattr(pool[0], "decision_scores_")


def test_batch_relative_detector_needs_enough_rows(
    pm: pynomaly.PluginManager, scaled: np.ndarray
) -> None:
    model = pynomaly.fit(scaled[:100], detector="pyod:cof", manager=pm)
    with pytest.raises(InputError, match="within their batch.*n_neighbors=20 .*got 10"):
        model.score(scaled[200:210], manager=pm)


# ---------------------------------------------------------------------------------------------
# 5. random_state
# ---------------------------------------------------------------------------------------------


def test_random_state_reproducible(pm: pynomaly.PluginManager, data: np.ndarray) -> None:
    def scores(seed: int) -> np.ndarray:
        return pynomaly.detect(data, detector="pyod:iforest", random_state=seed, manager=pm).scores

    np.testing.assert_array_equal(scores(7), scores(7))
    assert not np.array_equal(scores(7), scores(8))


# ---------------------------------------------------------------------------------------------
# 6. Listing detectors imports no heavy library
# ---------------------------------------------------------------------------------------------


def test_listing_detectors_does_not_import_pyod() -> None:
    code = (
        "import sys, pynomaly; from pynomaly.services.detectors import detectors; "
        "pm = pynomaly.PluginManager(); ds = detectors(pm); "
        "assert any(d.id == 'pyod:ecod' for d in ds), 'pyod_adapter not loaded'; "
        "print([m for m in ('pyod', 'sklearn', 'numba') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------------
# 7. Health, short ids, explain, configuration, pickling
# ---------------------------------------------------------------------------------------------


def test_health_check(pm: pynomaly.PluginManager) -> None:
    import importlib.metadata

    health = pm.health_check("pyod_adapter")
    assert health["status"] == "healthy"
    assert health["pyod"] == importlib.metadata.version("pyod")
    assert health["available_detectors"] == len(AVAILABLE)


def test_metadata(pm: pynomaly.PluginManager) -> None:
    meta = pm.record("pyod_adapter").metadata
    assert meta is not None and meta.name == "pyod_adapter"
    assert meta.dependencies == ("pyod>=2",) and meta.config_schema["properties"]["n_jobs"]


def test_short_id_and_entry_point() -> None:
    manager = pynomaly.PluginManager(plugins_dir="")  # discovers pyod_adapter by entry point
    assert detector_service.resolve(manager, "ecod").id == "pyod:ecod"
    assert "pyod_adapter" in manager.loaded()
    ids = {d.id for d in detector_service.detectors(manager) if d.plugin == "pyod_adapter"}
    assert ids == {e.id for e in ENTRIES}
    manager.shutdown()


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # PyOD overflows on ±1e300, as it should
@pytest.mark.parametrize("name", SORTED_NAMES)
def test_ecdf_terms_are_pyods_dimensional_outlier_scores(
    name: str, pm: pynomaly.PluginManager
) -> None:
    """ECOD's and COPOD's contributions are PyOD's ``O`` (what ``explain_outlier`` plots) of
    each row scored alone, and add up to the score."""
    rng = np.random.default_rng(7)
    train = awkward_columns(rng, 300)
    new = awkward_columns(rng, 40) * rng.choice([1.0, 1.5], size=(40, 7))
    new[:5] = train[:5]
    ref = pyod_class(next(e for e in ENTRIES if e.name == name))().fit(train)
    model = pynomaly.fit(train, detector=f"pyod:{name}", manager=pm)
    terms = plugin.pynomaly_explain(f"pyod:{name}", model.state, new)
    for i in range(len(new)):
        ref.decision_function(new[i : i + 1])  # sets ref.O for that row alone
        np.testing.assert_allclose(terms[i], ref.O[-1], rtol=1e-9, atol=0)
    np.testing.assert_allclose(terms.sum(axis=1), model.score(new, manager=pm), rtol=1e-12)


@pytest.mark.parametrize(
    ("name", "params"),
    [("hbos", {}), ("hbos", {"n_bins": "auto"}), ("pca", {}), ("pca", {"weighted": False}),
     ("mcd", {})],
)
def test_additive_terms_add_up_to_pyods_scores(
    name: str, params: dict, pm: pynomaly.PluginManager, scaled: np.ndarray
) -> None:
    e = next(e for e in ENTRIES if e.name == name)
    seed = {"random_state": 0} if accepts(pyod_class(e), "random_state") else {}
    ref = pyod_class(e)(**params, **seed).fit(scaled[:400])
    model = pynomaly.fit(scaled[:400], detector=e.id, random_state=0, manager=pm, **params)
    terms = plugin.pynomaly_explain(e.id, model.state, scaled[400:])
    assert terms.shape == scaled[400:].shape and np.isfinite(terms).all()
    np.testing.assert_allclose(terms.sum(axis=1), ref.decision_function(scaled[400:]), rtol=1e-9)
    if name != "hbos":  # distances' shares (PCA) and squared whitened terms (MCD)
        assert (terms >= 0).all()


def test_hbos_terms_compile_nothing_new(pm: pynomaly.PluginManager, breast_cancer) -> None:
    """The native contributions call HBOS's numba function with the array type the fit
    compiled (a DataFrame's read-only Fortran-ordered matrix), not another one."""
    from pyod.models import hbos

    model = pynomaly.fit(breast_cancer, detector="pyod:hbos", manager=pm)
    compiled = list(hbos._calculate_outlier_scores.signatures)
    result = model.detect(breast_cancer, manager=pm)
    result.contributions(5)
    pynomaly.contributions(model, breast_cancer.iloc[:1], manager=pm)
    pynomaly.explain(model, breast_cancer.iloc[::7], manager=pm)
    assert hbos._calculate_outlier_scores.signatures == compiled


def test_pyod_iforest_is_measured(pm: pynomaly.PluginManager, scaled: np.ndarray) -> None:
    """PyOD's ``feature_importances_`` are the trees' impurity decreases against the random
    targets isolation trees are grown on: the same whatever rows are asked about. pynomaly
    measures its contributions instead, as for scikit-learn's isolation forest."""
    model = pynomaly.fit(scaled, detector="pyod:iforest", random_state=0, manager=pm)
    assert plugin.pynomaly_explain("pyod:iforest", model.state, scaled) is None
    importance = pynomaly.explain(model, scaled[:50], manager=pm)
    assert importance.shape == (scaled.shape[1],) and (importance >= 0).all()
    assert not np.allclose(importance, pynomaly.explain(model, scaled[50:100], manager=pm))


def test_explanations_are_declared(pm: pynomaly.PluginManager) -> None:
    listed = {d.id: d for d in detector_service.detectors(pm)}
    additive = {i for i, d in listed.items() if d.additive_contributions}
    assert additive == {"pyod:ecod", "pyod:copod", "pyod:hbos", "pyod:pca", "pyod:mcd"}
    unexplained = {i for i, d in listed.items() if d.cannot_explain}
    assert unexplained == {"pyod:sod"}


def test_n_jobs_configuration(pm: pynomaly.PluginManager, scaled: np.ndarray) -> None:
    try:
        pm.configure("pyod_adapter", {"n_jobs": 2})
        assert pynomaly.fit(scaled, detector="pyod:iforest", manager=pm).state.n_jobs == 2
        assert pynomaly.fit(scaled, detector="pyod:knn", manager=pm).state.n_jobs == 2
        user = pynomaly.fit(scaled, detector="pyod:iforest", n_jobs=1, manager=pm)
        assert user.state.n_jobs == 1  # the user's parameter wins
        assert pynomaly.fit(scaled, detector="pyod:hbos", manager=pm).state is not None
    finally:
        pm.configure("pyod_adapter", {})
    assert pynomaly.fit(scaled, detector="pyod:iforest", manager=pm).state.n_jobs == 1
    for bad in ({"n_jobs": 0}, {"n_jobs": "2"}, {"threads": 2}):
        with pytest.raises(ConfigurationError):
            pm.configure("pyod_adapter", bad)


@pytest.mark.parametrize("name", ["iforest", "hbos", "lscp", "ecod", "copod"])
def test_fitted_models_pickle(name: str, pm: pynomaly.PluginManager, scaled: np.ndarray) -> None:
    model = pynomaly.fit(scaled[:150], detector=f"pyod:{name}", random_state=0, manager=pm)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(
        again.score(scaled[300:360], manager=pm), model.score(scaled[300:360], manager=pm)
    )


def test_numba_functions_compile_once_per_machine(tmp_path) -> None:
    """PyOD's @njit functions are compiled in the first process and loaded in the next."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path)
    code = (  # ECOD's fit runs one small numba function (HBOS's takes seconds to compile)
        "import numpy as np, pynomaly; from pyod.utils import stat_models; "
        "pynomaly.detect(np.random.default_rng(0).standard_normal((200, 4)), 'pyod:ecod'); "
        "s = stat_models.ecdf_terminate_equals_inplace.stats; "
        "print(sum(s.cache_hits.values()), sum(s.cache_misses.values()))"
    )

    def run() -> list[int]:
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
            timeout=300,
        )
        return [int(n) for n in out.stdout.split()]

    hits, misses = run()
    assert hits == 0 and misses > 0  # compiled, and written to the cache
    assert list((tmp_path / "pynomaly" / "numba").rglob("stat_models.ecdf_terminate*.nbi"))
    hits, misses = run()
    assert hits > 0 and misses == 0  # loaded, not compiled


def test_hooks_ignore_other_detectors(scaled: np.ndarray) -> None:
    assert plugin.pynomaly_validate_parameters("sklearn:iforest", {}) is None
    assert plugin.pynomaly_fit("sklearn:iforest", scaled, {}, 0.1, 0) is None
    assert plugin.pynomaly_score("other:x", object(), scaled) is None
    assert plugin.pynomaly_explain("other:x", object(), scaled) is None


# ---------------------------------------------------------------------------------------------
# 8. ECOD and COPOD score each new row as PyOD scores it alone, whatever its batch
# ---------------------------------------------------------------------------------------------

SORTED = SORTED_NAMES


def awkward_columns(rng: np.random.Generator, n: int) -> np.ndarray:
    """Ties, a constant column, symmetric ones (whose skewness is zero when a row at their
    centre joins them), skewed ones."""
    half = n // 2
    return np.column_stack(
        [
            rng.integers(0, 3, n),
            np.full(n, 0.1),
            np.r_[np.zeros(half), np.ones(n - half)],
            rng.exponential(size=n),
            -rng.exponential(size=n),
            np.r_[np.arange(-half, 0), np.arange(n - half)] % 40 - 20,
            rng.standard_normal(n),
        ]
    ).astype(np.float64)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # PyOD overflows on ±1e300, as it should
@pytest.mark.parametrize("name", SORTED)
def test_sorted_scoring_equals_pyod_row_by_row(name: str, pm: pynomaly.PluginManager) -> None:
    rng = np.random.default_rng(7)
    train = awkward_columns(rng, 300)
    new = awkward_columns(rng, 80) * rng.choice([1.0, 1.5], size=(80, 7))
    new[:10] = train[:10]  # values equal to training values (ties)
    new[10] = [1, 0.1, 0.5, 0, 0, -0.5, 0]  # the centre of the symmetric columns
    new[11] = [1, 0.1 + 1e-17, 0.5, 1e-300, -1e300, -20, np.nextafter(0.0, 1.0)]
    ref = pyod_class(next(e for e in ENTRIES if e.name == name))().fit(train)

    model = pynomaly.fit(train, detector=f"pyod:{name}", manager=pm)
    np.testing.assert_allclose(model.training_scores, ref.decision_scores_, rtol=1e-9, atol=0)
    expected = np.concatenate([ref.decision_function(new[i : i + 1]) for i in range(len(new))])
    np.testing.assert_allclose(model.score(new, manager=pm), expected, rtol=1e-9, atol=0)


@pytest.mark.parametrize("name", SORTED)
def test_sorted_scoring_is_batch_independent(
    name: str, pm: pynomaly.PluginManager, scaled: np.ndarray
) -> None:
    rng = np.random.default_rng(3)
    model = pynomaly.fit(scaled[:300], detector=f"pyod:{name}", manager=pm)
    new = rng.standard_normal((1000, scaled.shape[1]))
    new[:300] = scaled[269:]  # real rows too
    whole = model.score(new, manager=pm)
    for size in (1, 7):
        rows = new[:140] if size == 1 else new
        parts = [model.score(rows[i : i + size], manager=pm) for i in range(0, len(rows), size)]
        np.testing.assert_allclose(np.concatenate(parts), whole[: len(rows)], rtol=1e-9, atol=0)
    # PyOD's own scores of these rows depend on the batch: what the adapter does differently
    ref = pyod_class(next(e for e in ENTRIES if e.name == name))().fit(scaled[:300])
    assert not np.allclose(ref.decision_function(new)[:7], ref.decision_function(new[:7]))


@pytest.mark.parametrize("name", SORTED)
def test_sorted_scoring_state_is_small_and_pyod_free(
    name: str, pm: pynomaly.PluginManager, tmp_path
) -> None:
    from pynomaly_pyod.ecdf import EcdfState

    X = np.random.default_rng(0).standard_normal((20_000, 20))
    model = pynomaly.fit(X, detector=f"pyod:{name}", manager=pm)
    assert isinstance(model.state, EcdfState)
    path = tmp_path / "model"
    model.save(path)
    assert path.stat().st_size <= 1.2 * X.nbytes
    # scoring a saved model imports no PyOD (its import alone takes longer than scoring)
    code = (
        "import sys, numpy as np, pynomaly; "
        f"m = pynomaly.load({str(path)!r}); "
        "s = m.score(np.zeros((3, 20))); "
        "print(s.shape, [k for k in ('pyod', 'numba') if k in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "(3,) []"


def test_sorted_state_sorts_its_copy_in_place() -> None:
    """The state's first use (scoring, explaining, saving) sorts the copy of the training
    data it holds in place and computes its moments column by column: no other array of the
    training data's size, only a few of one column's (each fresh array's first touch costs
    system time: 1.8 s for five on 1M × 20), and the training data is left as it was."""
    import tracemalloc

    from pynomaly_pyod import ecdf

    X = np.random.default_rng(3).standard_normal((20_000, 40))
    before = X.copy()
    state = ecdf.fit_state("ecod", X)
    tracemalloc.start()
    try:
        columns = state.sorted_columns
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 0.25 * X.nbytes
    np.testing.assert_array_equal(columns, np.sort(X.T, axis=1))
    np.testing.assert_array_equal(X, before)
    np.testing.assert_allclose(state.mean, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(state.sum_d3, ((X - X.mean(axis=0)) ** 3).sum(axis=0), rtol=1e-9)


def test_models_with_pyod_state_score_batch_independently(scaled: np.ndarray) -> None:
    """Models saved before the sorted state kept PyOD's estimator: they score the same way."""
    from pyod.models.ecod import ECOD

    old = ECOD().fit(scaled[:300])
    new = scaled[300:]
    expected = plugin.pynomaly_fit("pyod:ecod", scaled[:300], {}, 0.1, None)
    assert expected is not None
    fast = plugin.pynomaly_score("pyod:ecod", expected.state, new)
    np.testing.assert_array_equal(plugin.pynomaly_score("pyod:ecod", old, new), fast)
    np.testing.assert_array_equal(plugin.pynomaly_score("pyod:ecod", old, new[:1]), fast[:1])


def test_batch_independence_is_declared(pm: pynomaly.PluginManager) -> None:
    listed = {d.id: d for d in detector_service.detectors(pm)}
    for name in ("ecod", "copod", "iforest", "knn", "lscp"):
        assert listed[f"pyod:{name}"].batch_independent, name
    for name in ("cof", "lmdd", "loci", "sod", "sos", "cd", "rod", "rgraph"):
        info = listed[f"pyod:{name}"]
        assert not info.batch_independent and "other rows of its batch" in info.description


def test_qmcd_scores_new_rows_clipped_to_the_training_range(pm: pynomaly.PluginManager) -> None:
    from pyod.models.qmcd import QMCD

    rng = np.random.default_rng(0)
    train, new = rng.normal(size=(100, 4)), rng.normal(size=(40, 4))
    new[7] = 10.0  # far outside the training range in every feature
    inside = np.all((new >= train.min(axis=0)) & (new <= train.max(axis=0)), axis=1)
    ref = QMCD().fit(train)
    model = pynomaly.fit(train, detector="pyod:qmcd", manager=pm)
    np.testing.assert_allclose(model.training_scores, ref.decision_scores_, rtol=1e-12)
    scores = model.score(new, manager=pm)
    np.testing.assert_allclose(scores[inside], ref.decision_function(new)[inside], rtol=1e-12)
    assert np.argmax(ref.decision_function(new)) != 7  # PyOD's own orientation is inverted here
    assert scores[7] > np.percentile(scores, 90)


@pytest.mark.parametrize("name", SORTED_NAMES)
def test_sorted_scoring_state_is_not_changed_by_changing_the_callers_array(
    name: str, pm: pynomaly.PluginManager, scaled: np.ndarray
) -> None:
    # the state sorts its copy of the training data on first use: the copy (written into
    # PyOD's work array) must be of the data as fitted, and share nothing with the caller's
    X, new = scaled[:300].copy(), scaled[300:340].copy()
    expected = pynomaly.fit(X.copy(), f"pyod:{name}", manager=pm).score(new, manager=pm)
    result = pynomaly.detect(X, f"pyod:{name}", manager=pm)
    model = pynomaly.fit(X, f"pyod:{name}", manager=pm)
    training = result.scores.copy()
    X *= -3.0  # the caller reuses its array
    X[0] = 1e6
    for fitted in (result.model, model):
        np.testing.assert_array_equal(fitted.score(new, manager=pm), expected)
        assert not np.shares_memory(fitted.state._training, result.scores)
    np.testing.assert_array_equal(result.scores, training)
