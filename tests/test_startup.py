"""Start-up is a feature: listing plugins and detectors, and ``--help``, import none of the
detector libraries (nor numpy and pandas), because plugins import them inside functions."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

HEAVY = ("sklearn", "pyod", "numba", "numpy", "pandas", "scipy", "matplotlib", "torch")


def _imported_modules(*args: str, env: dict[str, str]) -> set[str]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "pynomaly", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return set(re.findall(r"\|\s+([\w.]+)\s*$", proc.stderr, flags=re.MULTILINE))


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("plugins", "list"),
        ("detectors",),
        ("plugins", "list", "--json", "--stats"),
        ("config", "show"),
        ("completion", "bash"),
    ],
)
def test_listing_imports_no_heavy_library(args, cli_env, tmp_path):
    modules = _imported_modules(*args, env=cli_env)
    assert "pynomaly.cli.main" in modules  # the measurement works
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], f"`pynomaly {' '.join(args)}` imported {heavy[:10]}"


def test_import_pynomaly_is_light():
    code = "import sys, pynomaly; print(sorted(m for m in sys.modules if m.split('.')[0] in %r))"
    proc = subprocess.run(
        [sys.executable, "-c", code % (HEAVY,)], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "[]"


def test_completing_a_detector_id_imports_no_heavy_library(cli_env):
    env = {
        **cli_env,
        "_PYNOMALY_COMPLETE": "bash_complete",
        "COMP_WORDS": "pynomaly detect data.csv -d pyod:",
        "COMP_CWORD": "4",
    }
    modules = _imported_modules(env=env)
    assert "pynomaly.services.detectors" in modules  # it did complete
    heavy = sorted(m for m in modules if m.split(".")[0] in HEAVY)
    assert heavy == [], f"completion imported {heavy[:10]}"
