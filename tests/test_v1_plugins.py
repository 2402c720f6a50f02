"""Plugins written against the 1.0 docs keep working unchanged.

``tests/plugin_packages/v1`` holds one package of each plugin type exactly as pynomaly 1.0.0's
``pynomaly plugin new`` generated them (frozen, never edited). They are pip-installed into a
virtual environment that sees this checkout, used from the command line, and their own test
suites — written against the 1.0 API — must pass.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.childenv import child_venv, pip_install

V1 = Path(__file__).parent / "plugin_packages" / "v1"
TYPES = ("algorithm", "data_source", "output", "processing")


@pytest.fixture(scope="module")
def v1(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python of a venv with the four 1.0 packages installed, the folder of their copies)."""
    where = tmp_path_factory.mktemp("v1")
    copies = [shutil.copytree(V1 / f"pynomaly-v1_{t}", where / f"pynomaly-v1_{t}") for t in TYPES]
    python = child_venv(where / "venv")
    pip_install(python, *copies)
    return python, where


def _run(python: Path, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNOMALY_")}
    return subprocess.run(
        [str(python), *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env
    )


def test_all_four_load(v1):
    python, where = v1
    proc = _run(python, "-m", "pynomaly", "plugins", "list", "--json", cwd=where)
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    for t in TYPES:
        assert (rows[f"v1_{t}"]["status"], rows[f"v1_{t}"]["types"]) == ("loaded", [t])


@pytest.mark.parametrize("plugin_type", TYPES)
def test_their_own_tests_pass(v1, plugin_type):
    python, where = v1
    proc = _run(python, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                cwd=where / f"pynomaly-v1_{plugin_type}")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout


def test_used_together_from_the_command_line(v1, tmp_path):
    """The 1.0 detector on data read by the 1.0 source, cleaned by the 1.0 preprocessor and
    written by the 1.0 output format."""
    python, where = v1
    arff = where / "pynomaly-v1_data_source" / "pynomaly_v1_data_source" / "sample.arff"
    out = tmp_path / "scores.md"
    proc = _run(
        python, "-m", "pynomaly", "detect", arff, "-d", "v1_algorithm:mad", "-o", out, "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert summary["detector"] == "v1_algorithm:mad" and summary["rows"] > 0
    assert out.read_text().lstrip().startswith("|")  # a markdown table


def test_the_preprocessor_cleans_what_detection_reads(v1, tmp_path):
    python, _ = v1
    frame = pd.DataFrame({"a": [1.0, 2.0, float("nan"), 3.0] * 10, "b": [0.5] * 39 + [1e30]})
    csv = tmp_path / "glitchy.csv"
    frame.to_csv(csv, index=False)
    proc = _run(python, "-m", "pynomaly", "detect", csv, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # NaN filled and 1e30 clipped by v1_processing
    assert json.loads(proc.stdout)["summary"]["rows"] == 40
