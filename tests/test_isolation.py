"""Safe by default: a plugin that raises, exits, crashes, hangs, exhausts memory, prints or
mutates its input gives a clear error naming it, in-process and under process isolation; the
next call works, other plugins are unaffected, the caller's data and outputs are intact.

The misbehaving plugin is ``tests/plugin_packages/faulty`` (``pynomaly-faultyplugin``):
registered by hand from its source directory for the library tests, pip-installed into a nested
venv (entry point) for the command-line ones.
"""

from __future__ import annotations

import io
import json
import logging
import os
import pickle
import signal
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pynomaly
from pynomaly.errors import InputError, PluginError, PluginLoadError
from pynomaly.plugin import protect, wire
from pynomaly.plugin.manager import PluginManager
from pynomaly.plugin.records import PluginStatus
from pynomaly.plugin.settings import Isolation, Settings
from pynomaly.services.outputs import format_output
from tests.childenv import child_venv, pip_install
from tests.conftest import PLUGIN_PACKAGES, run_cli

FAULTY_DIR = PLUGIN_PACKAGES / "faulty"
PLUGIN = "faultyplugin"
LIMITS = {"timeout": 5, "memory_limit": "1GiB"}


@pytest.fixture(scope="module")
def faulty():
    """The faulty plugin's module, importable here and in workers (they get sys.path)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.syspath_prepend(str(FAULTY_DIR))
        import pynomaly_faultyplugin

        yield pynomaly_faultyplugin


def make_manager(faulty, isolated: bool, **limits) -> PluginManager:
    """Built-ins, the scikit-learn adapter and the faulty plugin (in a worker if isolated)."""
    options = {"isolation": f"process:{PLUGIN}", **LIMITS, **limits} if isolated else {}
    pm = PluginManager(autoload=False, allow=["sklearn_adapter"], plugins_dir="", **options)
    pm.register(faulty, PLUGIN)
    assert pm.isolated(PLUGIN) is isolated
    return pm


@pytest.fixture(scope="module")
def managers(faulty):
    """One manager per mode, shared by the module's tests (a worker starts once)."""
    pms = {"in-process": make_manager(faulty, False), "isolated": make_manager(faulty, True)}
    yield pms
    for pm in pms.values():
        pm.shutdown()


@pytest.fixture
def data() -> np.ndarray:
    return np.random.default_rng(0).standard_normal((200, 4))


def expected_scores(X: np.ndarray) -> np.ndarray:
    return np.abs((X - X.mean(axis=0)) / (X.std(axis=0) + 1e-12)).max(axis=1)


def still_works(pm: PluginManager, X: np.ndarray) -> None:
    """The next call of the faulty plugin succeeds, and so does another plugin's."""
    np.testing.assert_allclose(pynomaly.detect(X, "faulty:ok", manager=pm).scores,
                               expected_scores(X))
    assert len(pynomaly.detect(X, "sklearn:iforest", random_state=0, manager=pm).scores) == 200


# ---------------------------------------------------------------------------------------------
# Faults in fit and score, in-process and isolated
# ---------------------------------------------------------------------------------------------

BOTH = ["in-process", "isolated"]
CAUSES = {
    "raise": "RuntimeError: faulty plugin raised on purpose",
    "exit": "called sys.exit(0): a plugin must raise an exception, not exit",
    "interrupt": "raised KeyboardInterrupt: a plugin must raise an exception, not interrupt",
    "mutate": "ValueError: assignment destination is read-only",
    "nan": "returned 1 non-finite scores",
    "short": "returned 199 scores for 200 rows",
    "kill": "its worker process exited with code 3; a new one starts for the next call",
    "segfault": "its worker process crashed (SIGSEGV); a new one starts for the next call",
    "hang": "timed out after 5 s (--timeout / PYNOMALY_TIMEOUT); its worker process was stopped",
    "alloc": "MemoryError; it exceeded the memory limit of 1 GiB (--memory-limit",
}
IN_PROCESS_FAULTS = ["raise", "exit", "interrupt", "mutate", "nan", "short"]
ISOLATED_ONLY = ["kill", "segfault", "hang", "alloc"]  # would take the test process down


@pytest.mark.parametrize(
    "mode, fault",
    [(m, f) for m in BOTH for f in IN_PROCESS_FAULTS] + [("isolated", f) for f in ISOLATED_ONLY],
)
def test_a_fault_in_fit_is_an_error_naming_the_plugin(managers, data, mode, fault):
    pm = managers[mode]
    before = data.copy()
    with pytest.raises(PluginError) as info:
        pynomaly.detect(data, f"faulty:{fault}", manager=pm)
    assert (info.value.plugin, info.value.hook) == (PLUGIN, "pynomaly_fit")
    assert str(info.value).startswith(f"plugin '{PLUGIN}' failed in pynomaly_fit: ")
    assert CAUSES[fault] in str(info.value)
    assert "\n" not in str(info.value)
    np.testing.assert_array_equal(data, before)  # the caller's data is intact
    still_works(pm, data)


def test_a_wrong_answer_type_is_an_error_naming_the_plugin(managers, data):
    for pm in managers.values():
        with pytest.raises(PluginError, match="failed in pynomaly_fit: returned dict, not a "):
            pynomaly.detect(data, "faulty:wrongtype", manager=pm)
        model = pynomaly.fit(data, "faulty:wrongtype", phase="score", manager=pm)
        with pytest.raises(PluginError, match="pynomaly_score: returned str, not an array"):
            model.score(data, manager=pm)


@pytest.mark.parametrize(
    "mode, fault", [(m, f) for m in BOTH for f in ("raise", "exit")] + [("isolated", "segfault")]
)
def test_a_fault_in_score_leaves_the_model_usable(managers, data, mode, fault):
    pm = managers[mode]
    model = pynomaly.fit(data, f"faulty:{fault}", phase="score", manager=pm)
    with pytest.raises(PluginError, match=f"'{PLUGIN}' failed in pynomaly_score: .*") as info:
        model.score(data, manager=pm)
    assert CAUSES[fault] in str(info.value)
    good = pynomaly.fit(data, "faulty:ok", manager=pm)
    np.testing.assert_allclose(good.score(data, manager=pm), expected_scores(data))


def test_isolated_answers_hold_only_types_the_host_loads(managers, data):
    pm = managers["isolated"]
    with pytest.raises(PluginError, match="answered with an object of class pynomaly_faultyplug"):
        pynomaly.detect(data, "faulty:owntype", manager=pm)
    with pytest.raises(PluginError, match="answered with what cannot be sent to the host: "):
        pynomaly.detect(data, "faulty:unsendable", manager=pm)
    still_works(pm, data)
    assert len(pynomaly.detect(data, "faulty:owntype", manager=managers["in-process"]).scores)


@pytest.mark.parametrize("isolated", [False, True], ids=BOTH)
def test_print_goes_to_stderr(faulty, data, capfd, isolated):
    pm = make_manager(faulty, isolated)  # made here: a worker's stderr is this test's
    try:
        result = pynomaly.detect(data, "faulty:print", manager=pm)
    finally:
        pm.shutdown()
    out, err = capfd.readouterr()
    assert len(result.scores) == 200
    assert faulty.PRINTED not in out
    assert faulty.PRINTED in err


# ---------------------------------------------------------------------------------------------
# Every hook kind, and the caller's data
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def with_hook_fault(faulty, monkeypatch):
    """A fresh manager whose faulty plugin misbehaves in the given hooks (the environment
    is read by the plugin, and inherited by its worker)."""
    made = []

    def make(spec: str, isolated: bool) -> PluginManager:
        monkeypatch.setenv("FAULTY_HOOKS", spec)
        pm = make_manager(faulty, isolated)
        made.append(pm)
        return pm

    yield make
    for pm in made:
        pm.shutdown()


@pytest.mark.parametrize("isolated", [False, True], ids=BOTH)
def test_faults_in_each_kind_of_hook(with_hook_fault, data, isolated, caplog):
    caplog.set_level(logging.WARNING, logger="pynomaly.plugins")
    crash = "segfault" if isolated else "exit"
    # chain: the call fails, naming the plugin and hook
    pm = with_hook_fault(f"pynomaly_preprocess={crash}", isolated)
    with pytest.raises(PluginError, match=f"'{PLUGIN}' failed in pynomaly_preprocess: "):
        pynomaly.detect(data, "sklearn:iforest", manager=pm)
    # collecting and event hooks: logged and skipped, the detection goes on
    pm = with_hook_fault(f"pynomaly_detectors={crash},pynomaly_before_fit={crash}", isolated)
    result = pynomaly.detect(data, "sklearn:iforest", random_state=0, manager=pm)
    assert len(result.scores) == 200
    assert f"plugin {PLUGIN} failed in pynomaly_detectors (skipped)" in caplog.text
    assert f"plugin {PLUGIN} failed in pynomaly_before_fit (skipped)" in caplog.text
    with pytest.raises(InputError, match="unknown detector 'faulty:ok'"):
        pynomaly.detect(data, "faulty:ok", manager=pm)
    # check, lifecycle and owner hooks
    spec = f"pynomaly_validate=raise,pynomaly_health_check={crash},pynomaly_format_output={crash}"
    pm = with_hook_fault(spec, isolated)
    with pytest.raises(PluginError, match=f"'{PLUGIN}' failed in pynomaly_validate: Runtime"):
        pynomaly.detect(data, "sklearn:iforest", manager=pm)
    health = pm.health_check(PLUGIN)
    assert health["status"] == "unhealthy"
    assert health["reason"].startswith(f"plugin '{PLUGIN}' failed in pynomaly_health_check: ")
    with pytest.raises(PluginError, match=f"'{PLUGIN}' failed in pynomaly_format_output: "):
        format_output(pm, result, "faulty", {})
    assert format_output(pm, result, "json", {}).startswith("{")  # the built-in still answers
    # lifecycle: initialize failing means the plugin does not load
    with pytest.raises(PluginLoadError, match="called sys.exit"):
        with_hook_fault("pynomaly_initialize=exit", isolated)


def test_in_process_plugins_cannot_change_the_callers_data(with_hook_fault, managers):
    frame = pd.DataFrame(np.random.default_rng(1).standard_normal((50, 3)), columns=list("abc"))
    before = frame.copy()
    pm = with_hook_fault("pynomaly_preprocess=mutate", False)
    result = pynomaly.detect(frame, "sklearn:iforest", random_state=0, manager=pm)
    pd.testing.assert_frame_equal(frame, before)
    assert "added_by_faulty" not in result.data.columns
    pm = with_hook_fault("pynomaly_postprocess=mutate", False)
    with pytest.raises(PluginError, match="pynomaly_postprocess: ValueError: .*read-only"):
        pynomaly.detect(frame, "sklearn:iforest", manager=pm)
    pd.testing.assert_frame_equal(frame, before)


def test_readonly_views_and_copies_cost_no_copy_of_arrays():
    X = np.arange(12.0).reshape(4, 3)
    view = protect.readonly(X)
    assert np.shares_memory(view, X) and not view.flags.writeable and X.flags.writeable
    frame = pd.DataFrame(X, columns=list("abc"))
    copy = protect.readonly(frame)
    copy.iloc[0, 0] = 99.0
    copy["d"] = 1.0
    assert frame.iloc[0, 0] == 0.0 and list(frame.columns) == ["a", "b", "c"]
    params = {"n": 1}
    protect.readonly(params)["n"] = 2
    assert params == {"n": 1}


# ---------------------------------------------------------------------------------------------
# Isolation: the adapters, states, connections, batches and steps across the boundary
# ---------------------------------------------------------------------------------------------


def test_isolated_adapters_give_the_libraries_scores_and_report_usage():
    both = ["sklearn_adapter", "pyod_adapter"]
    inproc = PluginManager(autoload=False, allow=both, plugins_dir="")
    isolated = PluginManager(autoload=False, allow=both, plugins_dir="", isolation="process")
    try:
        assert isolated.isolated("sklearn_adapter") and not isolated.isolated("files")
        for detector in ("sklearn:iforest", "pyod:ecod"):
            ours = pynomaly.detect("sample:wbc", detector, random_state=0, manager=isolated)
            theirs = pynomaly.detect("sample:wbc", detector, random_state=0, manager=inproc)
            np.testing.assert_array_equal(ours.scores, theirs.scores)
            assert isinstance(ours.model.state, wire.Opaque)
            rows = ours.data.iloc[:20]
            np.testing.assert_array_equal(
                ours.model.score(rows, manager=isolated), theirs.model.score(rows, manager=inproc)
            )
        workers = {w.plugin: w for w in isolated.workers()}
        assert set(workers) == set(both)
        for w in workers.values():
            assert w.cpu_seconds > 0 and w.peak_memory > 10 * 2**20 and w.pid is not None
            assert (w.crashes, w.timeouts, w.restarts) == (0, 0, 0)
        fit = {s.hook: s for s in isolated.stats() if s.plugin == "pyod_adapter"}["pynomaly_fit"]
        assert fit.calls == 1 and fit.cpu_seconds > 0 and fit.peak_memory > 0
    finally:
        isolated.shutdown()
        inproc.shutdown()


def test_a_model_fitted_isolated_outlives_its_worker_and_pickles(managers, data, faulty):
    pm = managers["isolated"]
    model = pynomaly.fit(data, "faulty:ok", manager=pm)
    assert isinstance(model.state, wire.Opaque)
    restored = pickle.loads(pickle.dumps(model))
    with pytest.raises(PluginError, match="exited with code 3"):
        pynomaly.detect(data, "faulty:kill", manager=pm)  # the worker holding the state is gone
    np.testing.assert_allclose(restored.score(data, manager=pm), expected_scores(data))
    # and in-process, the plugin gets its state unpickled
    np.testing.assert_allclose(restored.score(data, manager=managers["in-process"]),
                               expected_scores(data))


def test_connections_batches_and_steps_run_in_the_worker(managers):
    pm = managers["isolated"]
    frame = pynomaly.load_data("faulty:x", manager=pm)
    assert frame.shape == (4, 2)
    model = pynomaly.fit("faulty:x", "faulty:ok", steps=["faulty"], manager=pm)
    assert isinstance(model.steps[0], wire.IsolatedStep)
    batches = list(model.score_source("faulty:x", batch_size=4, manager=pm))
    assert sum(len(b.scores) for b in batches) == 20
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_allclose(again.score(frame, manager=pm), model.score(frame, manager=pm))


def test_a_crash_while_reading_batches_names_the_plugin(with_hook_fault):
    pm = with_hook_fault("pynomaly_read_batches=kill", True)
    model = pynomaly.fit("faulty:x", "faulty:ok", manager=pm)
    with pytest.raises(PluginError, match="failed in pynomaly_read_batches: its worker process "
                                          "exited with code 3"):
        list(model.score_source("faulty:x", batch_size=4, manager=pm))
    assert len(model.score("faulty:x", manager=pm)) == 4


def test_an_isolated_plugin_is_not_sent_other_plugins_fits(managers, data):
    pm = managers["isolated"]
    pynomaly.fit(data, "faulty:ok", manager=pm)  # the detector index is known
    [before] = pm.workers()
    pynomaly.fit(data, "sklearn:iforest", manager=pm)
    [after] = pm.workers()
    # the training data reach it for preprocess and validate, and before_fit: not for the fit
    assert after.calls - before.calls == 3


def test_isolation_settings():
    policy = Isolation("third-party")
    assert not policy.isolates("files", "builtin", True)
    assert not policy.isolates("sklearn_adapter", "entrypoint", True)
    assert policy.isolates("goodplugin", "entrypoint", False)
    assert policy.isolates("mine", "local", False) and policy.isolates("obj", "manual", False)
    assert Isolation("process").isolates("sklearn_adapter", "entrypoint", True)
    assert not Isolation("process").isolates("files", "builtin", True)
    assert Isolation("names", frozenset({"files"})).isolates("files", "builtin", True)
    settings = Settings.from_env(isolation="process:a, b", timeout="2.5", memory_limit="512MiB")
    assert settings.isolation == Isolation("names", frozenset({"a", "b"}), 2.5, 512 * 2**20)
    with pytest.raises(InputError, match="'sometimes': expected none, process, third-party"):
        Settings.from_env(isolation="sometimes")
    with pytest.raises(InputError, match="a timeout applies to isolated plugins only"):
        Settings.from_env(timeout=3)
    with pytest.raises(InputError, match="memory limit '2 lots': expected a size such as 2GiB"):
        Settings.from_env(isolation="process", memory_limit="2 lots")


def test_unpicklable_hand_registered_plugin_cannot_be_isolated():
    class Local:  # defined in a function: a worker cannot unpickle it
        pass

    pm = PluginManager(autoload=False, plugins_dir="", isolation="process")
    with pytest.raises(PluginLoadError, match="cannot be isolated: a worker process gets the "):
        pm.register(Local(), "local")


def test_hook_wrappers_cannot_be_isolated(tmp_path, monkeypatch):
    (tmp_path / "wrapping.py").write_text(
        "from pynomaly import hookimpl\n\n"
        "@hookimpl(wrapper=True)\n"
        "def pynomaly_fit(detector_id):\n"
        "    return (yield)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    import wrapping

    pm = PluginManager(autoload=False, plugins_dir="", isolation="process")
    with pytest.raises(PluginLoadError, match="its pynomaly_fit is a hook wrapper"):
        pm.register(wrapping, "wrapping")
    assert pm.record("wrapping").status is PluginStatus.FAILED


# ---------------------------------------------------------------------------------------------
# The command line: exit codes, one-line errors, stdout, output files, crashes, Ctrl-C
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def faulty_venv(tmp_path_factory) -> Path:
    """A venv seeing the test environment, with the faulty plugin pip-installed."""
    where = tmp_path_factory.mktemp("faulty-venv")
    python = child_venv(where / "venv")
    import shutil

    pip_install(python, shutil.copytree(FAULTY_DIR, where / "faulty"))
    return python


def cli(python, tmp_path, *args, env=None, **extra):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PYNOMALY_", "FAULTY_"))}
    return run_cli(*args, python=python, cwd=tmp_path, env={**base, **(env or {}), **extra})


def test_cli_plugin_exit_is_an_error_not_a_silent_success(faulty_venv, tmp_path):
    out = tmp_path / "out.csv"
    proc = cli(faulty_venv, tmp_path, "detect", "sample:wbc", "-d", "faulty:exit", "-o", str(out))
    assert proc.returncode == 1
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"Error: plugin '{PLUGIN}' failed in pynomaly_fit: called sys.exit(0): a plugin must "
        "raise an exception, not exit"
    ]
    assert not out.exists()


def test_cli_crash_in_process_names_the_plugin(faulty_venv, tmp_path):
    """What only isolation contains: in-process, a segfault ends the command (139 in a shell)
    with a report naming the plugin; os._exit(3) ends it with 3."""
    proc = cli(faulty_venv, tmp_path, "detect", "sample:wbc", "-d", "faulty:segfault")
    assert proc.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in proc.stderr
    assert f"in pynomaly plugin '{PLUGIN}', hook pynomaly_fit" in proc.stderr
    assert cli(faulty_venv, tmp_path, "detect", "sample:wbc", "-d", "faulty:kill").returncode == 3


@pytest.mark.parametrize("policy", ["third-party", f"process:{PLUGIN}"])
def test_cli_isolated_crash_is_one_line_and_exit_1(faulty_venv, tmp_path, policy):
    out = tmp_path / "out.csv"
    args = ("--isolation", policy, "detect", "sample:wbc", "-d", "faulty:segfault", "-o", str(out))
    proc = cli(faulty_venv, tmp_path, *args)
    assert proc.returncode == 1
    error = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert error == [
        f"Error: plugin '{PLUGIN}' failed in pynomaly_fit: its worker process crashed (SIGSEGV); "
        "a new one starts for the next call"
    ]
    assert "Fatal Python error: Segmentation fault" in proc.stderr  # the worker's own report
    assert not out.exists()


def test_isolation_events_reach_the_audit_log(faulty_venv, tmp_path):
    log = tmp_path / "audit.jsonl"
    args = ("--isolation", f"process:{PLUGIN}", "--timeout", "2", "--audit-log", str(log))
    assert cli(faulty_venv, tmp_path, *args, "detect", "sample:wbc", "-d", "faulty:segfault",
               "-o", str(tmp_path / "a.csv")).returncode == 1
    assert cli(faulty_venv, tmp_path, *args, "detect", "sample:wbc", "-d", "faulty:hang",
               "-o", str(tmp_path / "b.csv")).returncode == 1
    records = [json.loads(line) for line in log.read_text().splitlines()]
    isolation = [r for r in records if r["event"].startswith("isolation.")]
    assert {r["event"] for r in isolation} >= {"isolation.crash", "isolation.timeout"}
    assert all(r["plugin"] == PLUGIN for r in isolation)


def test_cli_output_plugin_crashing_mid_write_leaves_no_file(faulty_venv, tmp_path):
    out = tmp_path / "scores.faulty"
    proc = cli(
        faulty_venv, tmp_path, "--isolation", "third-party", "detect", "sample:wbc", "-o",
        str(out), env={"FAULTY_HOOKS": "pynomaly_export_data=kill"},
    )
    assert proc.returncode == 1
    assert "failed in pynomaly_export_data: its worker process exited with code 3" in proc.stderr
    assert not out.exists()


@pytest.mark.parametrize("isolation", [[], ["--isolation", "third-party"]], ids=BOTH)
def test_cli_json_stays_json_when_a_plugin_prints(faulty_venv, tmp_path, isolation):
    proc = cli(faulty_venv, tmp_path, *isolation, "detect", "sample:wbc", "-d", "faulty:print",
               "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["detector"] == "faulty:print"
    assert "FAULTY PLUGIN WAS HERE" in proc.stderr


def test_cli_third_party_plugins_load_isolated_as_in_process(plugin_venv, tmp_path):
    """The test packages of test_third_party_plugins, isolated: the same statuses and reasons
    (the broken one's import error names its file and line), and the good one detects."""
    listed = cli(plugin_venv, tmp_path, "--isolation", "third-party", "plugins", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert (rows["goodplugin"]["status"], rows["goodplugin"]["version"]) == ("loaded", "0.3.0")
    broken = rows["brokenplugin"]
    assert broken["status"] == "failed"
    assert broken["reason"].startswith(
        "import failed: RuntimeError: brokenplugin cannot start: its backend is missing (at "
    )
    assert broken["reason"].endswith("pynomaly_brokenplugin/__init__.py:3)")
    assert "requires pynomaly<1.0, this is pynomaly 1.0.0" in rows["oldplugin"]["reason"]
    proc = cli(plugin_venv, tmp_path, "--isolation", "third-party", "detect", "sample:wbc", "-d",
               "good:maxz", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["detector"] == "good:maxz"


@pytest.mark.parametrize("isolation", [[], ["--isolation", f"process:outputs,{PLUGIN}"]], ids=BOTH)
def test_cli_rows_to_stdout_stay_clean_when_a_plugin_prints(faulty_venv, tmp_path, isolation):
    """-o -: the output plugin writes the rows to stdout (from its worker too); what another
    plugin prints meanwhile goes to stderr."""
    proc = cli(faulty_venv, tmp_path, *isolation, "detect", "sample:wbc", "-d", "faulty:print",
               "-o", "-")
    assert proc.returncode == 0, proc.stderr
    rows = pd.read_csv(io.StringIO(proc.stdout))
    assert list(rows.columns[-2:]) == ["anomaly_score", "is_anomaly"] and len(rows) == 378
    assert "FAULTY PLUGIN WAS HERE" in proc.stderr


def test_cli_stats_show_worker_cpu_and_memory(faulty_venv, tmp_path):
    proc = cli(faulty_venv, tmp_path, "--isolation", "third-party", "--memory-limit", "1GiB",
               "plugins", "list", "--json", "--stats")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    [worker] = doc["workers"]  # only the third-party plugin: not the adapters, not built-ins
    assert worker["plugin"] == PLUGIN and worker["calls"] >= 1 and worker["peak_memory"] > 0
    hooks = {(s["plugin"], s["hook"]): s for s in doc["stats"]}
    assert hooks[PLUGIN, "pynomaly_initialize"]["cpu_seconds"] is not None
    assert hooks["sklearn_adapter", "pynomaly_initialize"]["cpu_seconds"] is None
    text = cli(faulty_venv, tmp_path, "--isolation", "third-party", "plugins", "list", "--stats")
    assert "isolated plugin" in text.stdout and "peak MiB" in text.stdout


def test_cli_bad_isolation_options_exit_2(faulty_venv, tmp_path):
    for args, message in [
        (("--isolation", "sometimes"), "--isolation 'sometimes': expected none, process"),
        (("--isolation", "process", "--timeout", "soon"), "--timeout 'soon': expected a number"),
        (("--timeout", "3"), "a timeout applies to isolated plugins only"),
        (("--isolation", "process", "--memory-limit", "lots"), "--memory-limit 'lots': expected"),
    ]:
        proc = cli(faulty_venv, tmp_path, *args, "detectors")
        assert proc.returncode == 2
        [line] = proc.stderr.splitlines()
        assert line.startswith("Error: ") and message in line


@pytest.mark.parametrize("isolation", [[], ["--isolation", "third-party"]], ids=BOTH)
def test_ctrl_c_still_interrupts_with_exit_130(faulty_venv, tmp_path, isolation):
    """A real SIGINT while a plugin hangs: the command stops with 130, and under isolation
    the worker goes too; a plugin raising KeyboardInterrupt itself is an error (exit 1)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYNOMALY_", "FAULTY_"))}
    env["FAULTY_HOOKS"] = "pynomaly_before_fit=print"  # a line on stderr right before fit hangs
    proc = subprocess.Popen(
        [str(faulty_venv), "-m", "pynomaly", *isolation, "detect", "sample:wbc", "-d",
         "faulty:hang"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a suite started in the background (nohup, `cmd &` in a script) ignores SIGINT, and
        # children inherit that: give this one the default, as a terminal would
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stderr is not None
    seen = []
    for line in proc.stderr:  # wait until the plugin is about to hang
        seen.append(line)
        if "FAULTY PLUGIN WAS HERE" in line:
            break
    import time

    time.sleep(0.5)  # into the hang (no assertion on time: only on what happens next)
    proc.send_signal(signal.SIGINT)
    rest = proc.communicate(timeout=60)[1]
    assert proc.returncode == 130, "".join(seen) + rest
    assert "Interrupted." in rest
    children = subprocess.run(["pgrep", "-f", "pynomaly.plugin.worker"], capture_output=True,
                              text=True).stdout.split()
    assert all(not _child_of(int(pid), proc.pid) for pid in children)
    raised = cli(faulty_venv, tmp_path, *isolation, "detect", "sample:wbc", "-d",
                 "faulty:interrupt")
    assert raised.returncode == 1
    assert "failed in pynomaly_fit: raised KeyboardInterrupt" in raised.stderr


def _child_of(pid: int, parent: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return int(stat.rsplit(")", 1)[1].split()[1]) == parent


# ---------------------------------------------------------------------------------------------
# Load: a plugin failing one call in ten, under isolation
# ---------------------------------------------------------------------------------------------


def _rss() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def run_flaky_api(faulty, n_calls: int) -> None:
    pm = make_manager(faulty, True, timeout=3)
    X = np.random.default_rng(2).standard_normal((500, 6))
    expected = expected_scores(X)
    warm = 20
    start_rss = 0
    try:
        for call in range(n_calls):
            if call == warm:
                start_rss = _rss()
            if call % 10 == 9:
                with pytest.raises(PluginError, match=f"^plugin '{PLUGIN}' failed in pynomaly_fit"):
                    pynomaly.detect(X, "faulty:flaky", call=call, manager=pm)
            else:
                result = pynomaly.detect(X, "faulty:flaky", call=call, manager=pm)
                np.testing.assert_allclose(result.scores, expected)
        end_rss = _rss()
        flaky = faulty.FLAKY
        faults = [flaky[(c // 10) % len(flaky)] for c in range(n_calls) if c % 10 == 9]
        [worker] = pm.workers()
        assert worker.errors == sum(f in ("raise", "exit") for f in faults)  # it survived these
        assert worker.crashes == sum(f in ("kill", "segfault") for f in faults)
        assert worker.timeouts == faults.count("hang")
    finally:
        pm.shutdown()
    assert end_rss <= start_rss * 1.10, (start_rss, end_rss)


def test_flaky_plugin_api_load(faulty):
    """40 detects: every good one correct, every bad one a clear error, memory flat."""
    run_flaky_api(faulty, 40)


def run_flaky_cli(python: Path, tmp_path: Path, calls: range) -> None:
    for call in calls:
        out = tmp_path / f"out{call}.csv"
        args = ("--isolation", "third-party", "--timeout", "3", "detect", "sample:wbc", "-d")
        proc = cli(python, tmp_path, *args, "faulty:flaky", "-P", f"call={call}", "-o", str(out))
        if call % 10 == 9:
            assert proc.returncode == 1
            assert proc.stderr.splitlines()[-1].startswith(
                f"Error: plugin '{PLUGIN}' failed in pynomaly_fit: "
            )
            assert not out.exists()
        else:
            assert proc.returncode == 0, proc.stderr
            assert len(pd.read_csv(out)) == 378


def test_flaky_plugin_cli_load(faulty_venv, tmp_path):
    """Five runs, the fifth one failing (each run starts its own worker)."""
    run_flaky_cli(faulty_venv, tmp_path, range(5, 10))


def _selected_slow(config) -> bool:
    expr = config.getoption("markexpr") or ""
    return "slow" in expr and "not slow" not in expr


@pytest.mark.slow
@pytest.mark.timeout(3600)
def test_flaky_plugin_full_load(faulty, faulty_venv, tmp_path, request):
    """The full load test: 1,000 API detects and 200 CLI runs (minutes; run with
    ``pytest -m slow tests/test_isolation.py``)."""
    if not _selected_slow(request.config):
        pytest.skip("the full load test runs with -m slow")
    run_flaky_api(faulty, 1000)
    run_flaky_cli(faulty_venv, tmp_path, range(200))


def test_an_isolated_fit_hands_on_its_threshold():
    # FitResult crosses whole: the state stays in the worker, the threshold PyOD computed comes
    X = np.random.default_rng(0).standard_normal((500, 4))
    fits = {}
    for isolation in (None, "process:pyod_adapter"):
        pm = PluginManager(isolation=isolation)
        fits[isolation] = pm.call("pynomaly_fit", detector_id="pyod:hbos", X=X, params={},
                                  contamination=0.1, random_state=0)
        pm.shutdown()
    assert fits[None].threshold is not None
    assert fits["process:pyod_adapter"].threshold == fits[None].threshold


def test_isolating_a_name_no_plugin_has_is_a_warning_with_the_name_meant(caplog):
    pm = PluginManager(isolation="process:pyod")
    with caplog.at_level(logging.WARNING, logger="pynomaly"):
        pm.load_all()
    assert "no plugin is called pyod, so it isolates nothing" in caplog.text
    assert "did you mean pyod_adapter?" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pynomaly"):
        PluginManager(isolation="process:pyod_adapter").load_all()
    assert "isolates nothing" not in caplog.text
