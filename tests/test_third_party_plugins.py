"""Third-party plugin packages, pip-installed into a virtual environment: a good one is found
through its entry point and used; a broken one and an incompatible one are reported and
skipped while everything else keeps working."""

from __future__ import annotations

import json

from tests.conftest import run_cli


def _plugins(python, *args, env=None, cwd=None):
    proc = run_cli(*args, "plugins", "list", "--json", python=python, env=env, cwd=cwd)
    assert proc.returncode == 0, proc.stderr
    return {row["name"]: row for row in json.loads(proc.stdout)}


def test_entry_point_plugins_are_discovered_with_their_status(plugin_venv, cli_env, tmp_path):
    rows = _plugins(plugin_venv, env=cli_env, cwd=tmp_path)
    good = rows["goodplugin"]
    assert (good["status"], good["version"], good["types"]) == ("loaded", "0.3.0", ["algorithm"])
    assert good["origin"] == "pynomaly-goodplugin 0.3.0"
    broken = rows["brokenplugin"]
    assert broken["status"] == "failed"
    assert broken["reason"].startswith(
        "import failed: RuntimeError: brokenplugin cannot start: its backend is missing (at "
    )
    assert broken["reason"].endswith("pynomaly_brokenplugin/__init__.py:3)")  # file and line
    old = rows["oldplugin"]
    assert old["status"] == "failed"
    assert "requires pynomaly<1.0, this is pynomaly 1.0.0" in old["reason"]
    assert rows["sklearn_adapter"]["status"] == "loaded"


def test_detection_works_with_the_plugin_and_despite_the_broken_ones(
    plugin_venv, cli_env, tmp_path
):
    proc = run_cli(
        "detect",
        "sample:wbc",
        "-d",
        "good:maxz",
        "--json",
        python=plugin_venv,
        env=cli_env,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["detector"] == "good:maxz"
    assert "plugin brokenplugin skipped" in proc.stderr  # reported, not fatal
    default = run_cli("detect", "sample:wbc", python=plugin_venv, env=cli_env, cwd=tmp_path)
    assert default.returncode == 0, default.stderr


def test_strict_mode_fails_on_the_broken_plugin(plugin_venv, cli_env, tmp_path):
    proc = run_cli("--strict", "plugins", "list", python=plugin_venv, env=cli_env, cwd=tmp_path)
    assert proc.returncode == 1
    assert "plugin 'brokenplugin' could not be loaded" in proc.stderr
    env = {**cli_env, "PYNOMALY_STRICT_PLUGINS": "1"}
    assert run_cli("plugins", "list", python=plugin_venv, env=env, cwd=tmp_path).returncode == 1


def test_disable_and_allow_list(plugin_venv, cli_env, tmp_path):
    rows = _plugins(
        plugin_venv, "-p", "no:brokenplugin", "-p", "no:oldplugin", env=cli_env, cwd=tmp_path
    )
    assert rows["brokenplugin"]["status"] == "disabled"
    assert rows["oldplugin"]["status"] == "disabled"
    env = {**cli_env, "PYNOMALY_DISABLE_PLUGIN_AUTOLOAD": "1", "PYNOMALY_PLUGINS": "goodplugin"}
    rows = _plugins(plugin_venv, env=env, cwd=tmp_path)
    assert rows["goodplugin"]["status"] == "loaded"
    assert rows["sklearn_adapter"]["status"] == "disabled"
    assert rows["files"]["status"] == "loaded"  # built-ins are not affected by autoload


def test_plugin_configuration_is_validated(plugin_venv, cli_env, tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"plugins": {"goodplugin": {"ddof": -1}}}))
    rows = _plugins(plugin_venv, "--config", str(config), env=cli_env, cwd=tmp_path)
    assert rows["goodplugin"]["status"] == "failed"
    assert rows["goodplugin"]["reason"] == (  # the file, the table, the key and the rule
        f"{config}: [plugins.goodplugin] ddof: -1 is less than the minimum of 0 "
        "(schema rule minimum: 0)"
    )
    assert rows["sklearn_adapter"]["status"] == "loaded"
