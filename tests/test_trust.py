"""Safe by default: what runs (plugins), what may be overwritten (inputs never), what a command
tells the shell (exit codes) and what it records (the audit log)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

import pynomaly
from pynomaly.cli.common import EXIT_CODES
from pynomaly.cli.main import cli
from tests.conftest import ROOT, run_cli

MARKER_PLUGIN = """\
from pathlib import Path
Path({marker!r}).write_text("ran")

from pynomaly import hookimpl

@hookimpl
def pynomaly_plugin_metadata():
    from pynomaly import PluginMetadata
    return PluginMetadata(name="{name}", version="0.1", plugin_types=["output"])
"""


@pytest.fixture
def invoke():
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


def _plugin_dir(where: Path, marker: Path, name: str = "marker") -> Path:
    plugins = where / "plugins"
    plugins.mkdir()
    (plugins / f"{name}.py").write_text(MARKER_PLUGIN.format(marker=str(marker), name=name))
    return plugins


# --------------------------------------------------------------------------------------------
# The local plugins directory runs only when named
# --------------------------------------------------------------------------------------------


def test_plugins_of_the_current_directory_never_run_unless_named(tmp_path, cli_env):
    marker = tmp_path / "marker"
    plugins = _plugin_dir(tmp_path, marker)
    code = (
        "import pynomaly\n"
        "pynomaly.detect('sample:wbc', 'sklearn:elliptic')\n"
        "print(sorted(r.name for r in pynomaly.PluginManager().discover()))\n"
    )
    library = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=cli_env, capture_output=True, text=True
    )
    assert library.returncode == 0, library.stderr
    listed = run_cli("plugins", "list", "--json", cwd=tmp_path, env=cli_env)
    assert listed.returncode == 0, listed.stderr
    assert "marker" not in library.stdout + listed.stdout
    assert not marker.exists()

    named = run_cli("--plugins-dir", str(plugins), "plugins", "list", "--json", env=cli_env)
    assert {"name": "marker", "status": "loaded"}.items() <= _row(named.stdout, "marker").items()
    assert marker.read_text() == "ran"
    marker.unlink()
    from_env = run_cli(
        "plugins", "list", "--json", env={**cli_env, "PYNOMALY_PLUGINS_DIR": str(plugins)}
    )
    assert _row(from_env.stdout, "marker")["status"] == "loaded" and marker.exists()


def _row(listing: str, name: str) -> dict:
    return next(row for row in json.loads(listing) if row["name"] == name)


def test_library_managers_load_a_plugins_directory_only_when_given(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    plugins = _plugin_dir(tmp_path, marker)
    monkeypatch.chdir(tmp_path)
    assert "marker" not in {r.name for r in pynomaly.PluginManager().discover()}
    assert not marker.exists()
    pm = pynomaly.PluginManager(plugins_dir=str(plugins))
    assert pm.record("marker").status.value == "discovered" and marker.exists()


# --------------------------------------------------------------------------------------------
# No output replaces an input
# --------------------------------------------------------------------------------------------


@pytest.fixture
def data_csv(tmp_path):
    path = tmp_path / "data.csv"
    pynomaly.load_data("sample:wbc").iloc[:120, :5].to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    "flag", ["-o", "--report", "--save", "-o link", "-o hardlink", "--report link"]
)
def test_outputs_never_replace_the_input_even_with_overwrite(invoke, data_csv, flag):
    flag, _, how = flag.partition(" ")
    target = data_csv
    if how == "link":
        target = data_csv.with_name("link.csv")
        target.symlink_to(data_csv)
    elif how == "hardlink":
        target = data_csv.with_name("hard.csv")
        os.link(data_csv, target)
    before = data_csv.read_bytes()
    result = invoke("detect", data_csv, flag, target, "--overwrite", "--format", "csv")
    assert result.exit_code == 2, result.output
    assert "refusing to replace an input, even with --overwrite" in result.output
    assert data_csv.read_bytes() == before and target.exists()
    assert sorted(p.name for p in data_csv.parent.iterdir()) == sorted(
        {"data.csv", target.name}
    )  # nothing written, no temporary file


def test_score_never_replaces_its_model_and_outputs_are_distinct(invoke, data_csv, tmp_path):
    model = tmp_path / "m.model"
    assert invoke("fit", data_csv, "-d", "sklearn:elliptic", "--save", model).exit_code == 0
    before = model.read_bytes()
    replaced = invoke("score", model, data_csv, "--report", model, "--overwrite")
    assert replaced.exit_code == 2 and "is the model" in replaced.output
    assert model.read_bytes() == before
    out = tmp_path / "out.csv"
    twice = invoke("detect", data_csv, "-o", out, "--report", out)
    assert twice.exit_code == 2 and "--report" in twice.output and not out.exists()


def test_the_sqlite_table_read_is_never_replaced(invoke, data_csv, tmp_path):
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    assert invoke("detect", data_csv, "-o", url, "--output-table", "orders").exit_code == 0
    same = invoke(
        "detect", url, "--table", "orders", "-o", url, "--output-table", "orders", "--overwrite"
    )
    assert same.exit_code == 2 and "is the table read" in same.output
    other = invoke("detect", url, "--table", "orders", "-o", url, "--output-table", "scores")
    assert other.exit_code == 0, other.output  # the documented use: another table
    assert len(pynomaly.load_data(url, options={"table": "orders"})) == 120


# --------------------------------------------------------------------------------------------
# Exit codes: one table for every command
# --------------------------------------------------------------------------------------------


def _leaves(
    group: click.Group, path: tuple[str, ...] = ()
) -> list[tuple[tuple[str, ...], click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            found += _leaves(command, (*path, name))
        else:
            found.append(((*path, name), command))
    return found


def _arguments(command: click.Command) -> list[str]:
    """Enough arguments to get past click's parsing: every required one gets a value."""
    args: list[str] = []
    for param in command.params:
        value = param.type.choices[0] if isinstance(param.type, click.Choice) else "x"
        if isinstance(param, click.Argument) and param.required:
            args += [str(value)] * (1 if param.nargs == 1 else max(param.nargs, 1))
        elif isinstance(param, click.Option) and param.required:
            args += [param.opts[0], str(value)]
    return args


COMMANDS = _leaves(cli)


def test_commands_are_all_covered():
    names = {" ".join(path) for path, _ in COMMANDS}
    assert {"detect", "fit", "score", "plugins list", "plugin new", "detectors"} <= names


@pytest.mark.parametrize(("path", "command"), COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_every_command_exits_2_on_usage_errors_and_130_on_ctrl_c(monkeypatch, path, command):
    runner = CliRunner()
    if not command.context_settings.get("ignore_unknown_options"):  # install: pip's options
        usage = runner.invoke(cli, [*path, "--no-such-option"])
        assert usage.exit_code == 2 and "No such option" in usage.output

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "callback", interrupted)  # even without handles_errors
    result = runner.invoke(cli, [*path, *_arguments(command)])
    assert result.exit_code == 130, result.output
    assert "Interrupted." in result.output


def test_failures_exit_1_and_bad_input_exits_2(invoke, tmp_path):
    assert invoke("detect", tmp_path / "missing.csv").exit_code == 2
    assert invoke("-p", "no:validation", "plugins", "list").exit_code == 2
    broken = tmp_path / "plugins"
    broken.mkdir()
    (broken / "boom.py").write_text("raise RuntimeError('boom')\n")
    assert invoke("--strict", "--plugins-dir", broken, "plugins", "list").exit_code == 1


def test_the_exit_code_table_is_the_same_in_help_readme_and_security_doc():
    rows = [f"{code} {meaning}" for code, meaning in EXIT_CODES]
    assert [code for code, _ in EXIT_CODES] == [0, 1, 2, 3, 130]
    help_text = " ".join(CliRunner().invoke(cli, ["--help"]).output.split())
    for row in rows:
        assert row in help_text
    for doc in ("README.md", "docs/security.md"):
        text = (ROOT / doc).read_text()
        for code, meaning in EXIT_CODES:
            assert f"| {code} | {meaning} |" in text, (doc, code)


# --------------------------------------------------------------------------------------------
# The audit log
# --------------------------------------------------------------------------------------------


def test_audit_log_records_plugin_and_model_events_without_data(invoke, data_csv, tmp_path):
    log = tmp_path / "audit.jsonl"
    broken = tmp_path / "plugins"
    broken.mkdir()
    (broken / "boom.py").write_text("raise RuntimeError('boom postgresql://a:s3cret@db/x')\n")
    model = tmp_path / "m.model"
    common = ("--audit-log", log, "--plugins-dir", broken, "-p", "no:webhook")
    assert (
        invoke(*common, "fit", data_csv, "-d", "sklearn:elliptic", "--save", model).exit_code == 0
    )
    assert invoke(*common, "score", model, data_csv).exit_code == 0
    foreign = tmp_path / "foreign.pkl"
    foreign.write_bytes(b"\x80\x05N.")
    assert invoke(*common, "score", foreign, data_csv).exit_code == 2
    assert os.stat(log).st_mode & 0o777 == 0o600
    records = [json.loads(line) for line in log.read_text().splitlines()]
    events = {(r["event"], r.get("plugin")) for r in records}
    assert {
        ("plugins.discover", None),
        ("plugin.import", "files"),
        ("plugin.load", "sklearn_adapter"),
        ("plugin.disable", "webhook"),
        ("plugin.fail", "boom"),
    } <= events
    save = next(r for r in records if r["event"] == "model.save")
    load = next(r for r in records if r["event"] == "model.load")
    assert save["path"] == load["path"] == str(model) and save["sha256"] == load["sha256"]
    assert (load["trusted"], load["signed"]) == (False, "by this user's key")
    refused = next(r for r in records if r["event"] == "model.refuse")
    assert refused["path"] == str(foreign) and "unsigned pickle" in refused["reason"]
    text = log.read_text()
    assert "s3cret" not in text and "mean radius" not in text  # no credential, no data
    assert all({"time", "pid", "event"} <= r.keys() for r in records)


def test_audit_records_of_concurrent_processes_stay_whole_lines(tmp_path):
    log = tmp_path / "audit.jsonl"
    code = (
        "import sys; from pynomaly import audit\n"
        "for i in range(300): audit.record('test.event', writer=sys.argv[1], i=i, pad='x' * 500)\n"
    )
    env = {**os.environ, "PYNOMALY_AUDIT_LOG": str(log)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(n)], env=env) for n in range(4)]
    assert [p.wait() for p in procs] == [0] * 4
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 1200
    assert {(r["writer"], r["i"]) for r in records} == {
        (str(n), i) for n in range(4) for i in range(300)
    }


def test_an_audit_log_that_cannot_be_written_is_an_error(invoke, tmp_path):
    result = invoke("--audit-log", tmp_path / "no" / "such" / "dir.jsonl", "plugins", "list")
    assert result.exit_code == 2 and "audit log" in result.output and "cannot open" in result.output


def test_the_working_directory_config_file_cannot_name_a_plugins_directory(
    invoke, tmp_path, monkeypatch
):
    marker = tmp_path / "marker"
    _plugin_dir(tmp_path, marker)
    (tmp_path / "pynomaly.toml").write_text('[plugins]\nplugins_dir = "plugins"\n')
    monkeypatch.chdir(tmp_path)
    result = invoke("plugins", "list")
    assert result.exit_code == 2
    assert "plugins_dir is not read from the working directory's file" in result.output
    with pytest.raises(pynomaly.errors.ConfigurationError):
        pynomaly.configuration.load()
    assert not marker.exists()
    (tmp_path / "pynomaly.toml").unlink()
    listed = invoke("--plugins-dir", "plugins", "plugins", "list")
    assert listed.exit_code == 0 and "marker" in listed.output and marker.exists()


def test_the_dask_engine_never_writes_its_partitions_over_the_input(invoke, data_csv):
    pytest.importorskip("dask")
    folder = data_csv.parent
    before = data_csv.read_bytes()
    for command in (("detect", folder), ("score", "model.pkl", folder)):
        result = invoke(*command, "--engine", "dask", "-o", folder, "--overwrite")
        assert result.exit_code == 2, result.output
        assert "refusing to replace an input" in result.output
    assert data_csv.read_bytes() == before and [p.name for p in folder.iterdir()] == ["data.csv"]
