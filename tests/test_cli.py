"""The ``pynomaly`` command: the README's jobs end to end, and every kind of bad input giving
a one-line error with exit code 2 (1 for failures), never a traceback unless --debug."""

from __future__ import annotations

import json
import shutil
import subprocess

import pandas as pd
import pytest
from click.testing import CliRunner

from pynomaly.cli.main import cli
from tests.conftest import run_cli


@pytest.fixture
def invoke():
    runner = CliRunner()

    def run(*args: str):
        return runner.invoke(cli, list(args), catch_exceptions=False)

    return run


def test_console_script_detects_the_bundled_sample(cli_env, tmp_path):
    exe = shutil.which("pynomaly")
    assert exe, "the pynomaly console script is not installed"
    proc = subprocess.run(
        [exe, "detect", "sample:wbc"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=cli_env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "Top 10 anomalies" in proc.stdout
    assert "378 rows, 38 anomalies" in proc.stdout
    assert "sklearn:iforest on sample:wbc" in proc.stdout
    assert proc.stderr == ""


def test_detect_csv_with_pyod_writes_scores(invoke, breast_cancer, tmp_path):
    data = tmp_path / "data.csv"
    breast_cancer.to_csv(data, index=False)
    out = tmp_path / "scores.csv"
    result = invoke(
        "detect",
        str(data),
        "--detector",
        "pyod:ecod",
        "--contamination",
        "0.05",
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out, index_col=0)
    assert list(scores.columns) == ["anomaly_score", "is_anomaly"]
    assert len(scores) == len(breast_cancer)
    assert scores["is_anomaly"].sum() == pytest.approx(0.05 * len(breast_cancer), abs=1)
    assert f"Wrote {len(breast_cancer)} rows to {out}" in result.output


def test_existing_output_is_kept_without_overwrite(invoke, tmp_path):
    out = tmp_path / "scores.csv"
    out.write_text("precious\n")
    result = invoke("detect", "sample:wbc", "-o", str(out))
    assert result.exit_code == 2
    assert "already exists (use --overwrite" in result.output
    assert out.read_text() == "precious\n"
    result = invoke("detect", "sample:wbc", "-o", str(out), "--overwrite")
    assert result.exit_code == 0
    assert len(pd.read_csv(out)) == 378
    assert [p.name for p in tmp_path.iterdir()] == ["scores.csv"]  # no temporary files left


def test_json_output_is_machine_readable(invoke):
    result = invoke("detect", "sample:wbc", "-d", "pyod:ecod", "--json", "--top", "3")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["summary"]["rows"] == 378 and doc["summary"]["detector"] == "pyod:ecod"
    assert len(doc["top"]) == 3
    assert doc["top"][0]["anomaly_score"] >= doc["top"][1]["anomaly_score"]


def test_parameters_are_passed_to_the_detector(invoke):
    a = json.loads(invoke("detect", "sample:wbc", "-P", "n_estimators=50", "--json").output)
    b = json.loads(invoke("detect", "sample:wbc", "-P", "n_estimators=50", "--json").output)
    c = json.loads(invoke("detect", "sample:wbc", "--json").output)
    assert a["top"] == b["top"]  # seeded: reproducible
    assert a["summary"]["threshold"] != c["summary"]["threshold"]


def test_detectors_lists_both_adapters_with_parameters(invoke):
    result = invoke("detectors", "--json")
    assert result.exit_code == 0
    detectors = {d["id"]: d for d in json.loads(result.output)}
    assert {"sklearn:iforest", "sklearn:lof", "pyod:ecod", "pyod:knn"} <= set(detectors)
    assert detectors["sklearn:iforest"]["plugin"] == "sklearn_adapter"
    assert "n_estimators" in detectors["sklearn:iforest"]["hyperparameters"]
    text = invoke("detectors").output
    assert "sklearn:ocsvm" in text and "parameters:" in text
    assert detectors["pyod:ecod"]["batch_independent"] and not detectors["pyod:cof"][
        "batch_independent"
    ]
    lines = text.splitlines()
    after = {line.split()[0]: lines[i + 1] for i, line in enumerate(lines[:-1]) if line[0] != " "}
    assert after["pyod:ecod"].endswith("parameters: -; each row scored independently of its batch")
    assert after["pyod:cof"].endswith("; a row's score may depend on its batch")


def test_plugins_list_and_check(invoke):
    result = invoke("plugins", "list", "--json")
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert rows["sklearn_adapter"]["status"] == "loaded"
    assert rows["pyod_adapter"]["types"] == ["algorithm"]
    assert rows["files"]["origin"] == "builtin"
    stats = json.loads(invoke("plugins", "list", "--json", "--stats").output)["stats"]
    assert {"plugin", "hook", "calls", "errors", "seconds"} <= set(stats[0])
    check = invoke("plugins", "check")
    assert check.exit_code == 0
    assert "sklearn_adapter" in check.output and "unhealthy" not in check.output


def test_disabling_a_plugin_from_the_command_line(invoke):
    listing = json.loads(invoke("-p", "no:pyod_adapter", "plugins", "list", "--json").output)
    assert {r["name"]: r["status"] for r in listing}["pyod_adapter"] == "disabled"
    result = invoke("-p", "no:pyod_adapter", "detect", "sample:wbc", "-d", "pyod:ecod")
    assert result.exit_code == 2
    assert "unknown detector 'pyod:ecod'" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["detect", "sample:wbc", "-d", "nosuch:thing"], "unknown detector 'nosuch:thing'"),
        (
            ["detect", "sample:wbc", "-d", "iforest"],
            "ambiguous: use one of pyod:iforest, sklearn:iforest",
        ),
        (["detect", "sample:wbc", "-P", "n_estimators=-3"], "parameter 'n_estimators'"),
        (["detect", "sample:wbc", "-P", "no_such_param=1"], "parameter 'no_such_param'"),
        (["detect", "sample:wbc", "-P", "oops"], "expected NAME=VALUE"),
        (["detect", "sample:wbc", "-c", "0.7"], "contamination"),
        (["detect", "missing.csv"], "missing.csv: no such file"),
        (["detect", "sample:wbc", "-o", "out.xyz"], "unknown file type"),
        (["--config", "nope.json", "detect", "sample:wbc"], "--config nope.json"),
    ],
    ids=[
        "unknown-detector",
        "ambiguous",
        "bad-value",
        "bad-name",
        "param-syntax",
        "contamination",
        "missing-file",
        "output-type",
        "config-file",
    ],
)
def test_bad_input_exits_2_with_one_line(invoke, args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_empty_file_through_the_real_command(tmp_path, cli_env):
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    proc = run_cli("detect", str(empty), cwd=tmp_path, env=cli_env)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"Error: {empty}: file is empty"
    assert proc.stdout == ""
    debug = run_cli("--debug", "detect", str(empty), cwd=tmp_path, env=cli_env)
    assert debug.returncode == 2 and "Traceback" in debug.stderr


def test_help_has_examples(invoke):
    top = invoke("--help").output
    assert "pynomaly detect sample:wbc" in top and "PYNOMALY_DISABLE_PLUGIN_AUTOLOAD" in top
    assert "pynomaly detect data.csv -d pyod:ecod" in invoke("detect", "--help").output


def test_p_module_registers_an_importable_plugin(tmp_path, cli_env):
    (tmp_path / "myobserver.py").write_text(
        "from pynomaly import hookimpl\n\n"
        "@hookimpl\n"
        "def pynomaly_after_fit(detector_id, n_samples, duration):\n"
        "    print(f'observed {detector_id} on {n_samples} rows')\n"
    )
    env = {**cli_env, "PYTHONPATH": str(tmp_path)}
    proc = run_cli("-p", "myobserver", "detect", "sample:wbc", "--json", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    # what a plugin prints goes to stderr: --json output stays machine-readable
    assert "observed sklearn:iforest on 378 rows" in proc.stderr
    assert json.loads(proc.stdout)["summary"]["detector"] == "sklearn:iforest"
    bad = run_cli("-p", "no_such_module_xyz", "plugins", "list", cwd=tmp_path, env=env)
    assert bad.returncode == 2
    assert "-p no_such_module_xyz: cannot import" in bad.stderr


def test_trace_prints_hook_calls(tmp_path, cli_env):
    env = {**cli_env, "PYNOMALY_TRACE": "1"}
    proc = run_cli("detect", "sample:wbc", "-d", "pyod:ecod", cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "pynomaly_fit" in proc.stderr and "pynomaly_read_data" in proc.stderr


def test_a_plugin_that_fails_to_import_shows_where(tmp_path, cli_env):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "boomer.py").write_text(
        'def helper():\n    raise RuntimeError("boom")\n\n\nhelper()\n'
    )
    proc = run_cli("--plugins-dir", str(plugins), "plugins", "list", "--json", env=cli_env)
    row = next(r for r in json.loads(proc.stdout) if r["name"] == "boomer")
    assert row["reason"] == f"import failed: RuntimeError: boom (at {plugins / 'boomer.py'}:2)"
    assert "Traceback" not in proc.stderr
    debug = run_cli("--debug", "--plugins-dir", str(plugins), "plugins", "list", env=cli_env)
    assert debug.returncode == 0
    assert f'File "{plugins / "boomer.py"}", line 5, in <module>' in debug.stderr
    assert debug.stderr.rstrip().endswith("RuntimeError: boom")
