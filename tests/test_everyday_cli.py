"""Everyday use of the command line: progress on a terminal and in pipes, stdin/stdout in a
real shell pipeline, exit code 3, optional notifications, shell completion, and the library's
progress callback."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import pynomaly
from pynomaly.cli.main import cli
from pynomaly.progress import ProgressEvent


@pytest.fixture
def data_csv(tmp_path) -> Path:
    """300 rows: normal ones and a far outlier at row 7."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.standard_normal((300, 3)), columns=["a", "b", "c"])
    frame.iloc[7] = [15.0, -15.0, 15.0]
    path = tmp_path / "data.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.fixture
def invoke():
    runner = CliRunner()
    return lambda *args, **kw: runner.invoke(cli, list(args), catch_exceptions=False, **kw)


def _on_a_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[str, str, int]:
    """Run ``python -m pynomaly ARGS`` with stderr on a pseudo-terminal; stdout is a pipe."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pynomaly", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
        cwd=cwd,
        env={**env, "TERM": "xterm", "COLUMNS": "120"},
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal's other end closed
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    stdout = proc.stdout.read().decode() if proc.stdout else ""
    proc.wait()
    return stdout, b"".join(chunks).decode(errors="replace"), proc.returncode


def test_progress_on_a_terminal_goes_to_stderr(data_csv, cli_env):
    stdout, terminal, code = _on_a_terminal(
        ["detect", data_csv.name, "-d", "pyod:hbos", "--top", "2"], data_csv.parent, cli_env
    )
    assert code == 0, terminal
    for phase in ("loading pyod:hbos", "reading data.csv", "fitting pyod:hbos", "explaining"):
        assert phase in terminal  # each phase drawn by rich on the terminal
    assert "\x1b[" in terminal  # with terminal control codes
    assert "loading" not in stdout and "\x1b[" not in stdout  # results only on stdout
    summary = stdout.strip().splitlines()[-1]
    assert summary.startswith("300 rows, 30 anomalies")
    assert " (load " in summary and ", read " in summary and ", fit " in summary


def test_plain_progress_when_not_a_terminal(data_csv, cli_env):
    quiet = subprocess.run(
        [sys.executable, "-m", "pynomaly", "detect", data_csv.name, "--json"],
        capture_output=True, text=True, cwd=data_csv.parent, env=cli_env, check=False,
    )
    assert quiet.returncode == 0 and quiet.stderr == ""  # no progress unless asked
    proc = subprocess.run(
        [sys.executable, "-m", "pynomaly", "detect", data_csv.name, "--json", "--progress"],
        capture_output=True, text=True, cwd=data_csv.parent, env=cli_env, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert all(line.startswith("pynomaly: ") for line in lines)
    assert "pynomaly: read: reading data.csv" in lines
    assert "pynomaly: fit: fitting sklearn:iforest (300 rows)" in lines
    ends = [line.split(":")[1].strip() for line in lines if ": done," in line]
    assert ends == ["load", "read", "prepare", "fit", "explain"]
    assert "first use: importing sklearn.ensemble" in proc.stderr  # shown as such
    timings = json.loads(proc.stdout)["summary"]["timings"]
    assert {"load", "read", "prepare", "fit", "first_use"} <= set(timings)


def test_library_progress_callback_and_timings(data_csv):
    events: list[ProgressEvent] = []
    result = pynomaly.detect(str(data_csv), "sklearn:iforest", progress=events.append)
    phases = [(e.phase, e.status) for e in events if e.status in ("start", "end")]
    assert phases == [
        (p, s) for p in ("load", "read", "prepare", "fit") for s in ("start", "end")
    ]
    fit_end = next(e for e in events if (e.phase, e.status) == ("fit", "end"))
    assert (fit_end.rows, fit_end.detail) == (300, "sklearn:iforest")
    assert set(result.timings) >= {"load", "read", "prepare", "fit"}
    assert sum(result.timings.values()) <= result.duration + 1e-6

    model = pynomaly.fit(str(data_csv), "sklearn:iforest")
    events.clear()
    batches = list(
        model.score_source(str(data_csv), batch_size=100, progress=events.append, total_rows=300)
    )
    advances = [e for e in events if e.status == "advance"]
    assert [(e.rows, e.batches, e.total) for e in advances] == [
        (100, 1, 300), (200, 2, 300), (300, 3, 300)
    ]
    assert len(batches) == 3 and "read" in batches[0].timings


def test_verbosity_and_log_level(invoke, data_csv, monkeypatch):
    monkeypatch.chdir(data_csv.parent)
    loud = invoke("-v", "detect", "data.csv", "--json", "-d", "sklearn:lof")
    assert loud.exit_code == 0
    monkeypatch.setenv("PYNOMALY_LOG_LEVEL", "DEBUG")
    debug = invoke("detect", "data.csv", "--top", "1")
    assert "pynomaly: DEBUG: fit: 300 rows in" in debug.stderr
    assert "DEBUG" not in debug.stdout
    quiet = invoke("detect", "data.csv", "--top", "1", "-q", "-o", "out.csv")
    assert "DEBUG" not in quiet.stderr and "Wrote" not in quiet.stdout
    monkeypatch.setenv("PYNOMALY_LOG_LEVEL", "LOUD")
    assert invoke("detect", "data.csv").exit_code == 2


def test_a_real_shell_pipeline(data_csv, cli_env):
    py = sys.executable
    script = (
        f"set -o pipefail; cat {data_csv} | {py} -m pynomaly detect - -o - "
        f"| {py} -c \"import sys, csv; rows = list(csv.DictReader(sys.stdin)); "
        "print(len(rows), sum(int(r['is_anomaly']) for r in rows), rows[7]['is_anomaly'])\""
    )
    proc = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, env=cli_env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["300", "30", "1"]  # every row; the outlier is flagged
    jsonl = subprocess.run(
        ["bash", "-c", f"{py} -m pynomaly detect - -o - --format jsonl < {data_csv} | head -2"],
        capture_output=True, text=True, env=cli_env, check=False,
    )
    first = json.loads(jsonl.stdout.splitlines()[0])
    assert set(first) == {"index", "anomaly_score", "is_anomaly"} and first["index"] == 0


def test_stdin_formats_and_all_rows(invoke, data_csv, tmp_path):
    frame = pd.read_csv(data_csv)
    frame.to_parquet(tmp_path / "d.parquet")
    by_csv = invoke("detect", "-", "--json", "--top", "all", input=data_csv.read_bytes())
    doc = json.loads(by_csv.stdout)
    assert doc["summary"]["source"] == "<stdin>" and len(doc["top"]) == 300
    assert doc["top"][0]["index"] == 7 and "contributions" not in doc["top"][0]
    parquet = invoke("detect", "-", "--nl", "--top", "2",
                     input=(tmp_path / "d.parquet").read_bytes())
    lines = parquet.stdout.splitlines()
    assert [json.loads(line)["index"] for line in lines] == [7, doc["top"][1]["index"]]
    assert "contributions" in json.loads(lines[0])
    assert parquet.stderr.startswith("300 rows, 30 anomalies")  # the summary, on stderr
    jsonl = frame.to_json(orient="records", lines=True)
    forced = invoke("detect", "-", "--input-format", "csv", "--json", input=jsonl)
    assert forced.exit_code == 2 and "<stdin>" in forced.output
    sniffed = invoke("detect", "-", "--json", "--top", "all", input=jsonl)
    scores = [r["anomaly_score"] for r in json.loads(sniffed.stdout)["top"]]
    assert scores == [r["anomaly_score"] for r in doc["top"]]
    both = invoke("detect", "-", "-o", "-", "--json", input=data_csv.read_bytes())
    assert both.exit_code == 2 and "both print to stdout" in both.output


def test_score_reads_stdin_in_batches(invoke, data_csv, tmp_path):
    model = tmp_path / "m.pkl"
    assert invoke("fit", str(data_csv), "--save", str(model)).exit_code == 0
    piped = invoke("score", str(model), "-", "--batch-size", "100", "-o", "-",
                   "--format", "jsonl", input=data_csv.read_bytes())
    whole = invoke("score", str(model), str(data_csv), "-o", "-", "--format", "jsonl")
    assert piped.exit_code == 0, piped.output
    assert piped.stdout == whole.stdout and len(piped.stdout.splitlines()) == 300
    assert piped.stderr.startswith("300 rows, ") and " on <stdin> " in piped.stderr


def test_fail_on_anomaly_exits_3(invoke, data_csv, monkeypatch):
    monkeypatch.chdir(data_csv.parent)
    flagged = invoke("detect", "data.csv", "--fail-on-anomaly", "-o", "s.csv")
    assert flagged.exit_code == 3
    assert len(pd.read_csv(data_csv.parent / "s.csv")) == 300  # outputs written first
    fixed = invoke("detect", "data.csv", "--fail-on-anomaly", "--threshold-score", "1e9")
    assert fixed.exit_code == 0  # no row above the threshold: no anomaly


def test_notify_optional_makes_a_failed_notification_a_warning(invoke, data_csv):
    url = "http://127.0.0.1:9/hook"  # the discard port: nothing listens
    args = ("detect", str(data_csv), "--notify", url, "--notify-timeout", "0.5", "--top", "1")
    required = invoke(*args)
    assert required.exit_code == 1 and "Error: notification by plugin webhook" in required.stderr
    optional = invoke(*args, "--notify-optional")
    assert optional.exit_code == 0
    assert "Warning: notification by plugin webhook failed" in optional.stderr
    assert invoke(*args, "--notify-optional", "--fail-on-anomaly").exit_code == 3


def _complete(shell: str, words: str, env: dict[str, str], cwd: Path) -> list[str]:
    parts = words.split(" ")
    proc = subprocess.run(
        [sys.executable, "-m", "pynomaly"],
        capture_output=True, text=True, cwd=cwd, check=False,
        env={**env, "_PYNOMALY_COMPLETE": f"{shell}_complete", "COMP_WORDS": words,
             "COMP_CWORD": str(len(parts) - 1)},
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_completion_scripts_and_completers(invoke, cli_env, tmp_path):
    for shell, marker in (("bash", "complete -o nosort -F"), ("zsh", "#compdef pynomaly"),
                          ("fish", "complete --no-files --command pynomaly")):
        script = invoke("completion", shell)
        assert script.exit_code == 0 and marker in script.stdout
        assert "_PYNOMALY_COMPLETE" in script.stdout
    detectors = _complete("bash", "pynomaly detect x.csv -d sklearn:i", cli_env, tmp_path)
    assert detectors == ["plain,sklearn:iforest"]
    steps = _complete("bash", "pynomaly detect x.csv --step imp", cli_env, tmp_path)
    assert steps == ["plain,impute"]
    sources = _complete("bash", "pynomaly detect sam", cli_env, tmp_path)
    assert sources == ["file,sam", "plain,sample:wbc"]
    plugins = _complete("bash", "pynomaly -p no:sk", cli_env, tmp_path)
    assert plugins == ["plain,no:sklearn_adapter"]
    commands = _complete("bash", "pynomaly con", cli_env, tmp_path)
    assert commands == ["plain,config"]


def test_bash_completes_words_with_colons(invoke, cli_env, tmp_path):
    """In bash, COMP_WORDBREAKS splits sklearn:i into three words; the script completes the
    whole word and gives back only what follows the colon."""
    script = tmp_path / "pynomaly.bash"
    script.write_text(invoke("completion", "bash").stdout)
    line = "pynomaly detect sample:wbc -d sklearn:if"
    test = (
        f"source {script}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; "
        "COMP_WORDS=(pynomaly detect sample : wbc -d sklearn : if); COMP_CWORD=8; "
        "_pynomaly_completion pynomaly; printf '%s\\n' \"${COMPREPLY[@]}\""
    )
    env = {**cli_env, "PATH": f"{Path(sys.executable).parent}:{cli_env['PATH']}"}
    proc = subprocess.run(["bash", "-c", test], capture_output=True, text=True, env=env,
                          check=False)
    assert proc.stdout.splitlines() == ["iforest"], proc.stderr


def test_step_typo_says_did_you_mean(invoke):
    result = invoke("detect", "sample:wbc", "--step", "imput")
    assert result.exit_code == 2
    assert "unknown processing step 'imput'; did you mean 'impute'?" in result.output


def test_numba_compilation_within_a_phase_is_reported_as_first_use():
    numba = pytest.importorskip("numba")
    from pynomaly.progress import FIRST_USE, Tracker

    events = []
    tracker = Tracker(events.append)
    for phase in ("fit", "score"):  # the listener is installed in each phase
        with tracker.phase(phase):
            numba.njit(lambda x: x + 1)(1)  # a new function: compiled here
    compiled = [e for e in events if e.status == "first_use_end"]
    assert [e.phase for e in compiled] == ["fit", "score"]
    assert all(e.detail == "compiling numba code" for e in compiled)
    assert tracker.timings[FIRST_USE] > 0
