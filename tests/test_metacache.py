"""The plugin-metadata cache: a listing served from it shows exactly what discovery shows,
imports no plugin module, and changes at once when a plugin is installed, uninstalled or
edited."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.childenv import child_venv, pip_install
from tests.conftest import PLUGIN_PACKAGES, run_cli

# what a listing served from the cache must not import: plugin modules, attrs, the entry-point
# scan, and the heavy libraries (tests/test_startup.py checks those for every listing)
NOT_ON_A_HIT = (
    "pynomaly_sklearn",
    "pynomaly_pyod",
    "pynomaly_goodplugin",
    "pynomaly_brokenplugin",
    "pynomaly_oldplugin",
    "pynomaly.builtin",
    "pynomaly.plugin.manager",
    "pynomaly.types",
    "attrs",
    "attr",
    "importlib.metadata",
    "numpy",
    "pandas",
    "sklearn",
    "pyod",
    "numba",
)

LISTINGS = [
    ("plugins", "list"),
    ("detectors", "--all"),
    ("sources",),
    ("steps", "--json"),
]


def _env(cli_env: dict[str, str], cache: Path, **more: str) -> dict[str, str]:
    return {**cli_env, "PYNOMALY_CACHE_DIR": str(cache), **more}


def _cli(python, args, env, cwd, importtime=False):
    cmd = [str(python), *(["-X", "importtime"] if importtime else []), "-m", "pynomaly", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _split_importtime(stderr: str) -> tuple[str, set[str]]:
    """stderr without ``-X importtime``'s lines, and the modules those lines name."""
    modules = set(re.findall(r"^import time:.*\|\s+([\w.]+)\s*$", stderr, flags=re.MULTILINE))
    rest = "".join(
        line for line in stderr.splitlines(keepends=True) if not line.startswith("import time:")
    )
    return rest, modules


def _not_allowed(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in NOT_ON_A_HIT))


@pytest.mark.parametrize("broken_installed", [False, True], ids=["installed", "broken-too"])
def test_a_cached_listing_shows_what_discovery_shows(
    broken_installed, plugin_venv, cli_env, tmp_path
):
    python = plugin_venv if broken_installed else Path(sys.executable)
    cache = tmp_path / "cache"
    tmp_path = tmp_path / "work"  # the working directory
    tmp_path.mkdir()
    for args in LISTINGS:
        discovered = _cli(
            python, args, _env(cli_env, cache, PYNOMALY_NO_PLUGIN_CACHE="1"), tmp_path
        )
        assert not cache.exists()  # the opt-out neither reads nor writes
        stored = _cli(python, args, _env(cli_env, cache), tmp_path)  # a miss: computed, stored
        hit = _cli(python, args, _env(cli_env, cache), tmp_path, importtime=True)
        hit_stderr, modules = _split_importtime(hit.stderr)
        assert "pynomaly.plugin.metacache" in modules  # the measurement works
        assert _not_allowed(modules) == [], f"{args}: a cached listing imported them"
        assert stored.stdout == discovered.stdout == hit.stdout, args
        assert stored.stderr == discovered.stderr == hit_stderr, args
        shutil.rmtree(cache)
        if broken_installed and args == ("plugins", "list"):
            # a plugin that failed is still reported from the cache, with its reason,
            # and its warning is printed again
            assert re.search(
                r"^brokenplugin .* failed +import failed: RuntimeError",
                hit.stdout,
                flags=re.MULTILINE,
            )
            assert "plugin brokenplugin skipped: import failed" in hit_stderr


def _names(python, env, cwd) -> set[str]:
    proc = _cli(python, ("plugins", "list", "--json"), env, cwd)
    return {row["name"] for row in json.loads(proc.stdout)}


def _is_hit(python, env, cwd) -> bool:
    proc = _cli(python, ("plugins", "list"), env, cwd, importtime=True)
    return "pynomaly.plugin.manager" not in _split_importtime(proc.stderr)[1]


@pytest.mark.slow
def test_installing_and_uninstalling_a_plugin_shows_at_once(tmp_path, cli_env):
    python = child_venv(tmp_path / "venv")
    env = _env(cli_env, tmp_path / "cache")
    assert "goodplugin" not in _names(python, env, tmp_path)
    assert _is_hit(python, env, tmp_path)  # stored, then served from the cache

    pip_install(python, shutil.copytree(PLUGIN_PACKAGES / "good", tmp_path / "good"))
    assert "goodplugin" in _names(python, env, tmp_path)
    assert _is_hit(python, env, tmp_path)

    proc = subprocess.run(
        [str(python), "-m", "pip", "uninstall", "-y", "-q", "pynomaly-goodplugin"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "goodplugin" not in _names(python, env, tmp_path)


PLUGIN = """
from pynomaly import hookimpl


@hookimpl
def pynomaly_plugin_metadata():
    return {{"name": "localone", "version": "{version}", "plugin_types": {{"output"}},
             "description": "a local plugin"}}
"""


def test_the_plugins_directory_is_part_of_the_key(tmp_path, cli_env):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    env = _env(cli_env, tmp_path / "cache", PYNOMALY_PLUGINS_DIR=str(plugins))
    python = sys.executable

    def versions() -> dict[str, str]:
        proc = _cli(python, ("plugins", "list", "--json"), env, tmp_path)
        return {row["name"]: row["version"] for row in json.loads(proc.stdout)}

    assert "localone" not in versions()
    (plugins / "localone.py").write_text(PLUGIN.format(version="1.0"))
    assert versions()["localone"] == "1.0"  # a new file
    (plugins / "localone.py").write_text(PLUGIN.format(version="2.0"))
    assert versions()["localone"] == "2.0"  # an edited file
    assert _is_hit(python, env, tmp_path)
    (plugins / "localone.py").unlink()
    assert "localone" not in versions()
    # disabling a plugin is a setting: part of the key too
    assert "sql" not in {
        row["name"]
        for row in json.loads(
            _cli(python, ("-p", "no:sql", "plugins", "list", "--json"), env, tmp_path).stdout
        )
        if row["status"] != "disabled"
    }


def test_a_corrupt_or_foreign_cache_is_a_miss_never_an_error(tmp_path, cli_env):
    env = _env(cli_env, tmp_path / "cache")
    python = sys.executable
    first = _cli(python, ("detectors",), env, tmp_path).stdout
    (entry,) = (tmp_path / "cache" / "plugins").glob("plugins-*.json")
    for damage in (b"{not json", b"", b'{"format": 1}', b"\xff\xfe", b"[1, 2]"):
        entry.write_bytes(damage)
        proc = run_cli("detectors", env=env, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert (proc.stdout, proc.stderr) == (first, "")
    # a stored section that a command cannot read is a miss as well
    data = json.loads(entry.read_text())
    data["sections"]["detectors"] = {"payload": None}
    entry.write_text(json.dumps(data))
    assert _cli(python, ("detectors",), env, tmp_path).stdout == first
