"""Shared fixtures: real data, an isolated plugin manager, and a virtual environment with the
third-party test plugins of ``tests/plugin_packages`` pip-installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import pynomaly
from pynomaly.detection import api
from pynomaly.plugin.manager import PluginManager
from tests.childenv import child_venv, pip_install

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_PACKAGES = Path(__file__).parent / "plugin_packages"

# the plugin packages' own tests run inside the venvs they are installed in, not here
collect_ignore = ["plugin_packages"]


def pytest_configure(config: pytest.Config) -> None:
    # PyOD's numba functions are cached on disk (pynomaly_pyod.jitcache): in a directory of
    # this session, shared with its subprocesses, never in the user's cache directory
    if "NUMBA_CACHE_DIR" not in os.environ:
        os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="pynomaly-numba-")
        config.add_cleanup(lambda: shutil.rmtree(os.environ.pop("NUMBA_CACHE_DIR"), True))
    # the model cache (--cache) too: never the user's cache directory
    if "PYNOMALY_CACHE_DIR" not in os.environ:
        os.environ["PYNOMALY_CACHE_DIR"] = tempfile.mkdtemp(prefix="pynomaly-models-")
        config.add_cleanup(lambda: shutil.rmtree(os.environ.pop("PYNOMALY_CACHE_DIR"), True))


@pytest.fixture(scope="session")
def breast_cancer() -> pd.DataFrame:
    """scikit-learn's bundled breast-cancer features (569 × 30), as a DataFrame."""
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer(as_frame=True).data


@pytest.fixture
def planted() -> pd.DataFrame:
    """200 standard-normal rows in 4 columns and, at index 'spike', one obvious outlier."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.standard_normal((200, 4)), columns=list("abcd"))
    frame.loc["spike"] = [12.0, -12.0, 12.0, -12.0]
    return frame


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> PluginManager:
    """Every installed plugin but no plugins directory, shared by a module's tests."""
    return PluginManager(plugins_dir=str(tmp_path_factory.mktemp("no-plugins") / "none"))


@pytest.fixture(scope="module")
def labelled_wbc(manager: PluginManager):
    """sample:wbc with its ground truth: 378 rows, 30 features, ROC AUC / AP in metrics."""
    return pynomaly.detect(
        "sample:wbc",
        "sklearn:iforest",
        random_state=0,
        label_column="is_malignant",
        source_options={"labels": True},
        manager=manager,
    )


@pytest.fixture
def isolated_pm(tmp_path: Path) -> PluginManager:
    """A manager with only the built-in plugins: no entry points, no plugins directory."""
    return PluginManager(autoload=False, plugins_dir=str(tmp_path / "none"))


@pytest.fixture(scope="session", autouse=True)
def signing_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model-signing key of the whole run, in a temporary directory: no test (nor a CLI
    it starts) ever creates or reads a key in the real user's data directory."""
    sandbox = tmp_path_factory.mktemp("user-data")
    key = sandbox / "pynomaly" / "model-signing.key"  # also where platformdirs would put it
    # set for the whole run (module-scoped fixtures run before the per-test environment is
    # made) and for subprocesses given a copy of os.environ
    os.environ["XDG_DATA_HOME"] = str(sandbox)
    os.environ["PYNOMALY_KEY_FILE"] = str(key)
    return key


@pytest.fixture(autouse=True)
def _fresh_default_manager(monkeypatch: pytest.MonkeyPatch, signing_key_file: Path):
    """Each test gets a new default manager, built from a clean plugin environment."""
    from pynomaly import audit

    for var in list(os.environ):
        if var.startswith("PYNOMALY_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("PYNOMALY_KEY_FILE", str(signing_key_file))
    audit.configure(None)
    monkeypatch.setenv("PYNOMALY_USER_CONFIG", "")  # the user's own config.toml stays out
    api.set_default_manager(None)
    yield
    api.set_default_manager(None)
    audit.configure(None)


def _run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)


@pytest.fixture(scope="session")
def plugin_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv seeing the test environment, with the three test plugins pip-installed.

    pip must resolve the plugins' ``pynomaly>=1.0`` dependency to the checkout, never to the
    unrelated ``pynomaly`` distribution on the package index: :func:`child_venv` asserts it.
    """
    where = tmp_path_factory.mktemp("plugin-venv")
    python = child_venv(where / "venv")
    # build from copies: building writes into the source tree
    packages = [
        shutil.copytree(PLUGIN_PACKAGES / name, where / name)
        for name in ("good", "broken", "incompatible")
    ]
    pip_install(python, *packages)
    return python


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running the CLI in a subprocess: no PYNOMALY_* settings leak in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNOMALY_")}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYNOMALY_KEY_FILE"] = os.environ["PYNOMALY_KEY_FILE"]  # the run's, never the user's
    env["PYNOMALY_USER_CONFIG"] = ""  # the user's own config.toml stays out
    return env


def run_cli(
    *args: str,
    python: str | Path = sys.executable,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m pynomaly ARGS`` and return the finished process."""
    return _run([str(python), "-m", "pynomaly", *args], cwd=cwd, env=env)
