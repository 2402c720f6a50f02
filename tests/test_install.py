"""``pynomaly install`` / ``uninstall`` pip-install plugins into pynomaly's own environment
(a nested venv here, offline), and refuse to touch the distribution that shares pynomaly's
name on the package index."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from pynomaly.cli.main import cli
from tests.childenv import child_venv
from tests.conftest import PLUGIN_PACKAGES, run_cli


def _plugins(python, env, cwd) -> dict[str, str]:
    proc = run_cli("plugins", "list", "--json", python=python, env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return {r["name"]: r["status"] for r in json.loads(proc.stdout)}


@pytest.mark.slow
def test_install_then_uninstall_a_plugin_in_a_nested_venv(tmp_path, cli_env):
    python = child_venv(tmp_path / "venv")
    package = shutil.copytree(PLUGIN_PACKAGES / "good", tmp_path / "good")
    assert "goodplugin" not in _plugins(python, cli_env, tmp_path)

    installed = run_cli(
        "install", str(package), "--no-index", "--no-build-isolation", "-q",
        python=python, env=cli_env, cwd=tmp_path,
    )
    assert installed.returncode == 0, installed.stderr
    assert "Installed plugins: goodplugin" in installed.stdout
    assert _plugins(python, cli_env, tmp_path)["goodplugin"] == "loaded"  # at once
    detected = run_cli("detect", "sample:wbc", "-d", "good:maxz", "--json",
                       python=python, env=cli_env, cwd=tmp_path)
    assert json.loads(detected.stdout)["summary"]["detector"] == "good:maxz"

    removed = run_cli("uninstall", "pynomaly-goodplugin", python=python, env=cli_env,
                      cwd=tmp_path)
    assert removed.returncode == 0, removed.stderr
    assert "Removed plugins: goodplugin" in removed.stdout
    assert "goodplugin" not in _plugins(python, cli_env, tmp_path)


@pytest.mark.parametrize(
    "args",
    [
        ("install", "pynomaly"),
        ("install", "pynomaly-goodplugin", "PyNomaly>=0.3"),
        ("install", "pynomaly[excel]"),
        ("uninstall", "pynomaly"),
        ("uninstall", "PyNomaly"),
    ],
)
def test_pynomaly_itself_is_refused_before_pip_runs(args, monkeypatch):
    import pynomaly.cli.install as install

    monkeypatch.setattr(install, "_pip", lambda *a: pytest.fail(f"pip ran: {a}"))
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {args[0]} ")
    assert "unrelated LoOP implementation (imported as PyNomaly)" in result.output
