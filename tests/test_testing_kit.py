"""The testing kit: the hook recorder, the datasets, the pytest fixtures (in inner pytest
sessions) and ``pytest --pynomaly-check=NAME``."""

from __future__ import annotations

import pickle
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import pynomaly
from pynomaly import hookimpl
from pynomaly.errors import PluginError
from pynomaly.testing import DATASETS, HookCall, HookRecorder, load_dataset, planted
from pynomaly.types import DetectorInfo, FitResult, PluginMetadata

pytest_plugins = ["pytester"]

GOOD_PLUGIN = (
    Path(__file__).parent / "plugin_packages" / "good" / "pynomaly_goodplugin" / "__init__.py"
)


class Probe:
    """A max-|z| detector that also listens to the fit events; ``fail=True`` breaks its fit."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail

    @hookimpl
    def pynomaly_plugin_metadata(self) -> PluginMetadata:
        return PluginMetadata("probe", "1.0", ["algorithm"], description="probe")

    @hookimpl
    def pynomaly_detectors(self) -> list[DetectorInfo]:
        return [DetectorInfo("probe:maxz", "largest |z|")]

    @hookimpl
    def pynomaly_validate_parameters(self, detector_id: str, params: Any) -> Any:
        return dict(params) if detector_id == "probe:maxz" else None

    @hookimpl
    def pynomaly_before_fit(self, detector_id: str, n_samples: int, n_features: int) -> None:
        pass

    @hookimpl
    def pynomaly_fit(
        self, detector_id: str, X: np.ndarray, params: Any, contamination: float, random_state: Any
    ) -> FitResult | None:
        if detector_id != "probe:maxz":
            return None
        if self.fail:
            raise RuntimeError("probe is broken")
        state = (X.mean(axis=0), X.std(axis=0) + 1e-12)
        return FitResult(state, self._scores(state, X))

    @hookimpl
    def pynomaly_after_fit(self, detector_id: str, n_samples: int, duration: float) -> None:
        pass

    @hookimpl
    def pynomaly_score(self, detector_id: str, state: Any, X: np.ndarray) -> Any:
        return self._scores(state, X) if detector_id == "probe:maxz" else None

    @staticmethod
    def _scores(state: Any, X: np.ndarray) -> np.ndarray:
        return np.abs((X - state[0]) / state[1]).max(axis=1)


# ---------------------------------------------------------------------------------------------
# HookRecorder
# ---------------------------------------------------------------------------------------------


def test_recorder_records_hooks_in_order_with_plugin_names(
    pynomaly_pm: Any, pynomaly_recorder: Any
) -> None:
    pm = pynomaly_pm(register={"probe": Probe()}, load=True)
    rec = pynomaly_recorder(pm)
    X, _ = planted(60, 1, 3)

    result = pynomaly.detect(X, "probe:maxz", manager=pm)

    hooks = rec.hooks()
    order = [
        "pynomaly_validate_parameters",
        "pynomaly_validate",
        "pynomaly_before_fit",
        "pynomaly_fit",
        "pynomaly_after_fit",
    ]
    assert [h for h in hooks if h in order] == order  # each once, in this order
    fit = rec.getcall("pynomaly_fit")
    assert (fit.plugin, fit.hook) == ("probe", "pynomaly_fit")
    assert fit.detector_id == "probe:maxz"  # arguments read as attributes
    assert fit.kwargs["X"].shape == (61, 3) and fit.contamination == 0.1
    assert isinstance(fit.result, FitResult) and fit.error is None
    np.testing.assert_array_equal(fit.result.training_scores, result.scores)
    assert rec.getcall("validate").plugin == "validation"  # short names work too
    rec.assert_called("pynomaly_validate", plugin="validation", times=1)
    rec.assert_called("fit", plugin="probe", times=1)
    rec.assert_not_called("pynomaly_score")
    rec.assert_not_called("pynomaly_initialize")  # everything was loaded before recording
    assert all(c.plugin and "," not in c.plugin for c in rec.calls)  # one plugin per call
    assert rec.plugins("fit") == ["probe"]
    assert str(fit) == "pynomaly_fit @ probe"


def test_recorder_assertions_explain_what_was_called(
    pynomaly_pm: Any, pynomaly_recorder: Any
) -> None:
    pm = pynomaly_pm(register={"probe": Probe()}, load=True)
    rec = pynomaly_recorder(pm)
    X, _ = planted(30, 1, 2)
    model = pynomaly.fit(X, "probe:maxz", manager=pm)
    model.score(X, manager=pm)
    model.score(X, manager=pm)

    with pytest.raises(
        AssertionError,
        match=r"exactly one call of pynomaly_score, got 2; "
        r"calls recorded: .*pynomaly_fit @ probe",
    ):
        rec.getcall("score")
    with pytest.raises(AssertionError, match="expected pynomaly_score called 3 time"):
        rec.assert_called("score", times=3)
    with pytest.raises(AssertionError, match="pynomaly_explain was not called"):
        rec.assert_called("explain")
    with pytest.raises(AssertionError, match="expected no call of pynomaly_fit.*got 1"):
        rec.assert_not_called("fit")
    with pytest.raises(AttributeError, match="has no argument 'nope'.*detector_id, state, X"):
        _ = rec.getcalls("score")[0].nope
    assert len(rec.getcalls("fit score")) == 3  # pytester's space-separated names
    assert len(rec.getcalls("score", plugin="probe")) == 2
    assert rec.getcalls("score", plugin="other") == []


def test_recorder_records_errors_clear_and_finish(pynomaly_pm: Any) -> None:
    pm = pynomaly_pm(register={"probe": Probe(fail=True)}, load=True)
    X, _ = planted(30, 1, 2)
    with HookRecorder(pm) as rec:
        with pytest.raises(PluginError, match="probe is broken"):
            pynomaly.fit(X, "probe:maxz", manager=pm)
        call = rec.getcall("fit")
        assert isinstance(call, HookCall)
        assert isinstance(call.error, RuntimeError) and call.result is None
        assert rec.recording
        rec.clear()
        assert rec.calls == [] and rec.hooks() == []
        pynomaly.validate_parameters("probe:maxz", {}, manager=pm)
        assert rec.hooks() == ["pynomaly_validate_parameters"]  # still recording after clear()
    assert not rec.recording
    pynomaly.validate_parameters("probe:maxz", {}, manager=pm)
    assert len(rec.calls) == 1  # nothing recorded after finish_recording()
    rec.finish_recording()  # idempotent
    assert "finished" in repr(rec)
    pm.stats()  # the manager's own monitor still works


def test_recorder_and_manager_monitor_coexist(pynomaly_pm: Any) -> None:
    pm = pynomaly_pm(register={"probe": Probe()}, load=True)
    X, _ = planted(30, 1, 2)
    first, second = HookRecorder(pm), HookRecorder(pm)
    pynomaly.detect(X, "probe:maxz", manager=pm)
    assert first.hooks() == second.hooks()
    second.finish_recording()
    first.finish_recording()
    stats = {(s.plugin, s.hook): s.calls for s in pm.stats()}
    assert stats[("probe", "pynomaly_fit")] == 1


# ---------------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "shape", "anomalies"),
    [("breast_cancer", (376, 30), 19), ("wine", (129, 13), 10), ("planted", (200, 4), 10)],
)
def test_datasets(name: str, shape: tuple[int, int], anomalies: int) -> None:
    X, y = load_dataset(name)
    assert name in DATASETS
    assert X.shape == shape and len(y) == shape[0]
    assert int(y.sum()) == anomalies and set(y.unique()) == {0, 1}
    assert (X.dtypes == np.float64).all() and isinstance(X.index, pd.RangeIndex)
    assert X.index.equals(y.index)
    X2, _ = load_dataset(name)
    pd.testing.assert_frame_equal(X, X2)  # reproducible
    X2.iloc[0, 0] = -1.0
    assert load_dataset(name)[0].iloc[0, 0] == X.iloc[0, 0]  # fresh copies


def test_breast_cancer_anomalies_are_malignant() -> None:
    from sklearn.datasets import load_breast_cancer

    X, y = load_dataset("breast_cancer")
    bunch = load_breast_cancer(as_frame=True)
    malignant = bunch.data[bunch.target == 0]
    merged = X[y == 1].merge(malignant, how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert round(float(y.mean()), 3) == 0.051


def test_planted_outliers_are_far() -> None:
    X, y = planted(50, 3, 5, distance=8.0, random_state=4)
    outliers = X[y == 1].to_numpy()
    assert np.all(np.abs(outliers) == 8.0)
    assert np.abs(X[y == 0].to_numpy()).max() < 6
    with pytest.raises(ValueError, match="unknown dataset 'iris'; choose one of breast_cancer"):
        load_dataset("iris")


# ---------------------------------------------------------------------------------------------
# Fixtures, used from an inner pytest session
# ---------------------------------------------------------------------------------------------

INNER_TESTS = """
import pickle

import numpy as np
import pynomaly
from pynomaly import hookimpl
from pynomaly.plugin.records import PluginStatus
from pynomaly.types import DetectorInfo, FitResult, PluginMetadata

EVENTS = []


class Plug:
    @hookimpl
    def pynomaly_plugin_metadata(self):
        return PluginMetadata("plug", "1.0", ["algorithm"], description="max |x|",
                              config_schema={"type": "object",
                                             "properties": {"scale": {"type": "number"}}})

    @hookimpl
    def pynomaly_initialize(self, config):
        EVENTS.append(("initialize", dict(config)))

    @hookimpl
    def pynomaly_cleanup(self):
        EVENTS.append(("cleanup", None))

    @hookimpl
    def pynomaly_detectors(self):
        return [DetectorInfo("plug:maxabs", "largest |x|")]

    @hookimpl
    def pynomaly_fit(self, detector_id, X, params, contamination, random_state):
        if detector_id == "plug:maxabs":
            return FitResult(None, np.abs(X).max(axis=1))

    @hookimpl
    def pynomaly_score(self, detector_id, state, X):
        if detector_id == "plug:maxabs":
            return np.abs(X).max(axis=1)


def test_fixtures_together(pynomaly_pm, pynomaly_recorder, pynomaly_dataset):
    X, y = pynomaly_dataset("breast_cancer")
    assert X.shape == (376, 30) and int(y.sum()) == 19
    pm = pynomaly_pm(register={"plug": Plug()}, config={"plug": {"scale": 2}})
    assert pm.record("sklearn_adapter").status is PluginStatus.DISABLED  # isolated
    rec = pynomaly_recorder(pm)
    result = pynomaly.detect(X, "plug:maxabs", manager=pm)
    assert result.n_anomalies > 0
    rec.assert_called("pynomaly_fit", plugin="plug", times=1)
    assert rec.getcall("pynomaly_fit").kwargs["X"].shape == (376, 30)
    assert ("initialize", {"scale": 2}) in EVENTS


def test_cleanup_ran_at_teardown():
    assert EVENTS[-1] == ("cleanup", None)  # the previous test's manager was shut down


def test_named_entry_point_plugin_only(pynomaly_pm, pynomaly_dataset):
    pm = pynomaly_pm("sklearn_adapter")
    assert {d.plugin for d in pynomaly.detectors(manager=pm)} == {"sklearn_adapter", "ensemble"}
    assert pm.record("pyod_adapter").status is PluginStatus.DISABLED
    X, _ = pynomaly_dataset("planted")
    model = pynomaly.fit(X, "sklearn:iforest", random_state=0, manager=pm)
    restored = pickle.loads(pickle.dumps(model))
    assert np.array_equal(restored.score(X, manager=pm), model.score(X, manager=pm))


def test_datasets_fixture(pynomaly_dataset):
    for name in ("wine", "planted"):
        X, y = pynomaly_dataset(name)
        assert len(X) == len(y) and y.isin([0, 1]).all()
"""


def test_fixtures_in_an_inner_session(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_inner=INNER_TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=4)


def test_help_lists_the_option(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--pynomaly-check=NAME*"])
    assert result.ret == 0


# ---------------------------------------------------------------------------------------------
# pytest --pynomaly-check=NAME
# ---------------------------------------------------------------------------------------------

BAD_PLUGIN = '''
"""A local plugin whose scores are inverted (lower = more anomalous)."""
import numpy as np
from pynomaly import hookimpl
from pynomaly.types import DetectorInfo, FitResult, PluginMetadata


@hookimpl
def pynomaly_plugin_metadata():
    return PluginMetadata("badplugin", "0.1.0", ["algorithm"], description="inverted",
                          pynomaly_compat=">=1.0,<2")


@hookimpl
def pynomaly_detectors():
    return [DetectorInfo("bad:inv", "negated largest |z|")]


@hookimpl
def pynomaly_fit(detector_id, X, params, contamination, random_state):
    if detector_id == "bad:inv":
        state = (X.mean(axis=0), X.std(axis=0) + 1e-12)
        return FitResult(state, pynomaly_score(detector_id, state, X))


@hookimpl
def pynomaly_score(detector_id, state, X):
    if detector_id == "bad:inv":
        return -np.abs((X - state[0]) / state[1]).max(axis=1)
'''


def test_check_option_runs_a_builtin_plugin_in_an_empty_directory(
    pytester: pytest.Pytester,
) -> None:
    result = pytester.runpytest_subprocess("--pynomaly-check=samples", "-p", "no:cacheprovider")
    outcomes = result.parseoutcomes()
    assert result.ret == pytest.ExitCode.OK
    assert outcomes.get("failed", 0) == 0 and outcomes["passed"] >= 10
    result.stdout.fnmatch_lines(["*pynomaly conformance checks: samples*"])


def test_check_option_items_are_named_and_selectable(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "--pynomaly-check=sklearn_adapter",
        "-k",
        "sklearn:iforest",
        "-v",
        "-p",
        "no:cacheprovider",
    )
    assert result.ret == pytest.ExitCode.OK
    # the twelve detector checks of one detector (batch_independent and threaded_scoring: it
    # declares them)
    result.assert_outcomes(passed=12)
    result.stdout.fnmatch_lines(
        [
            "*pynomaly-check[[]sklearn_adapter::param_space::sklearn:iforest[]] PASSED*",
            "*pynomaly-check[[]sklearn_adapter::higher_is_anomalous::sklearn:iforest[]] PASSED*",
            "*pynomaly-check[[]sklearn_adapter::batch_independent::sklearn:iforest[]] PASSED*",
            "*pynomaly-check[[]sklearn_adapter::threaded_scoring::sklearn:iforest[]] PASSED*",
            "*pynomaly-check[[]sklearn_adapter::pickle::sklearn:iforest[]] PASSED*",
        ]
    )


def test_check_option_fails_a_bad_local_plugin(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    plugins = pytester.mkdir("plugins")
    (plugins / "badplugin.py").write_text(BAD_PLUGIN)
    # the third-party test package's module, as a local plugin file
    (plugins / "goodplugin.py").write_text(GOOD_PLUGIN.read_text())
    pytester.makepyfile(test_regular="def test_regular():\n    assert True\n")
    monkeypatch.setenv("PYNOMALY_PLUGINS_DIR", str(plugins))
    result = pytester.runpytest_subprocess(
        "--pynomaly-check=badplugin", "--pynomaly-check=goodplugin", "-p", "no:cacheprovider", "-rA"
    )
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(passed=17 + 19 + 1, failed=1, skipped=1)  # bad, good, regular
    result.stdout.fnmatch_lines(
        [
            "PASSED pynomaly-check[[]goodplugin::scores_finite::good:maxz[]]",
            "PASSED pynomaly-check[[]goodplugin::lifecycle[]]",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*_ pynomaly-check[[]badplugin::higher_is_anomalous::bad:inv[]] _*",
            "higher_is_anomalous — bad:inv: expected the planted outlier (row 67 of 101, 10 "
            "standard deviations out in every feature) to be labelled an anomaly (training "
            "score above the 90th percentile), got "
            "rank 101 of 101*scores must be higher = more anomalous: negate*",
            "FAILED pynomaly-check[[]badplugin::higher_is_anomalous::bad:inv[]]*",
        ]
    )
    assert "test_regular.py ." in result.stdout.str()


def test_check_option_with_an_unknown_plugin_fails(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--pynomaly-check=no_such_plugin", "-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*loads — no_such_plugin: expected a plugin named 'no_such_plugin'*known plugins: *"]
    )


def test_without_the_option_nothing_is_added(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider")
    assert result.ret == pytest.ExitCode.NO_TESTS_COLLECTED


def test_collect_only_lists_the_checks(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--pynomaly-check=validation", "--collect-only", "-q")
    result.stdout.fnmatch_lines(
        [
            "pynomaly-check[[]validation::hookimpls[]]",
            "pynomaly-check[[]validation::validate_nan[]]",
            "pynomaly-check[[]validation::lifecycle[]]",
        ]
    )


def test_plugin_module_is_import_light() -> None:
    code = (
        "import sys, pynomaly.testing.plugin, pynomaly.testing; "
        "print(sorted(m for m in ('numpy', 'pandas', 'sklearn', 'pyod', 'jsonschema', "
        "'pynomaly.plugin.manager', 'pynomaly.testing.conformance') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def test_check_report_pickles_and_prints() -> None:
    from pynomaly.testing import CheckReport, CheckResult

    report = CheckReport("x", [CheckResult("metadata", "", False, "expected a, got b; fix")])
    again = pickle.loads(pickle.dumps(report))
    assert again == report and not again.passed
    assert "FAIL metadata — x: expected a, got b; fix" in str(report)
    assert textwrap.dedent(report.summary()) == "plugin 'x': 0 passed, 1 failed, 0 skipped"
