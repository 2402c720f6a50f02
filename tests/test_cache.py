"""The model cache: a hit skips the detector's fit, anything that changes the fit misses, the
cache stays under its cap (least recently used first) and a damaged entry is refitted."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import pynomaly
from pynomaly import hookimpl
from pynomaly.cli.main import cli
from pynomaly.detection.cache import ModelCache, matrix_digest, parse_size
from pynomaly.errors import ConfigurationError
from pynomaly.plugin.manager import PluginManager
from pynomaly.testing import HookRecorder
from pynomaly.types import DetectorInfo, FitResult, PluginMetadata


class CountingMean:
    """A detector plugin that counts its fits, at a version of our choosing."""

    def __init__(self, version: str = "1.0") -> None:
        self.version = version
        self.fits = 0

    @hookimpl
    def pynomaly_plugin_metadata(self) -> PluginMetadata:
        return PluginMetadata(name="counting", version=self.version, plugin_types=["algorithm"])

    @hookimpl
    def pynomaly_detectors(self) -> list[DetectorInfo]:
        return [DetectorInfo("counting:mean", "distance to the mean", batch_independent=True)]

    @hookimpl
    def pynomaly_fit(self, detector_id, X, params, contamination, random_state):
        if detector_id != "counting:mean":
            return None
        self.fits += 1
        mean = X.mean(axis=0)
        return FitResult(mean, np.linalg.norm(X - mean, axis=1))

    @hookimpl
    def pynomaly_score(self, detector_id, state, X):
        if detector_id != "counting:mean":
            return None
        return np.linalg.norm(X - state, axis=1)


def counting_manager(tmp_path: Path, version: str = "1.0") -> tuple[PluginManager, CountingMean]:
    pm = PluginManager(autoload=False, plugins_dir=str(tmp_path / "none"))
    plugin = CountingMean(version)
    pm.register(plugin, "counting")
    return pm, plugin


@pytest.fixture
def data() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    return pd.DataFrame(rng.standard_normal((300, 4)), columns=list("abcd"))


def test_a_hit_skips_the_fit_hook_and_gives_the_same_result(manager, data, tmp_path):
    models = ModelCache(tmp_path / "cache")
    first = pynomaly.detect(data, "sklearn:iforest", manager=manager, cache=models)
    with HookRecorder(manager) as recorder:
        again = pynomaly.detect(data, "sklearn:iforest", manager=manager, cache=models)
    recorder.assert_not_called("pynomaly_fit")
    recorder.assert_not_called("pynomaly_before_fit")
    assert (models.hits, models.misses) == (1, 1)
    np.testing.assert_array_equal(again.scores, first.scores)
    assert again.threshold == first.threshold
    new = np.random.default_rng(1).standard_normal((20, 4)) * 3
    frame = pd.DataFrame(new, columns=list("abcd"))
    np.testing.assert_array_equal(again.model.score(frame), first.model.score(frame))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"data": "one value"}, id="data"),
        pytest.param({"n_estimators": 50}, id="parameter"),
        pytest.param({"random_state": 1}, id="seed"),
        pytest.param({"contamination": 0.05}, id="contamination"),
        pytest.param({"threshold_percentile": 95.0}, id="threshold-rule"),
        pytest.param({"steps": ["scale"]}, id="steps"),
        pytest.param({"detector": "sklearn:lof"}, id="detector"),
        pytest.param({"columns": "renamed"}, id="feature-names"),
    ],
)
def test_any_change_to_the_fit_misses(manager, data, tmp_path, change):
    models = ModelCache(tmp_path / "cache")
    arguments = {"detector": "sklearn:iforest", "random_state": 0}
    pynomaly.fit(data, manager=manager, cache=models, **arguments)
    changed = data.copy()
    if change.pop("data", None):
        changed.iloc[17, 2] += 1e-9
    if change.pop("columns", None):
        changed.columns = list("wxyz")
    with HookRecorder(manager) as recorder:
        pynomaly.fit(changed, manager=manager, cache=models, **{**arguments, **change})
    recorder.assert_called("pynomaly_fit", times=1)
    assert (models.hits, models.misses) == (0, 2)
    assert models.info().entries == 2


def test_another_plugin_version_misses(data, tmp_path):
    models = ModelCache(tmp_path / "cache")
    pm, plugin = counting_manager(tmp_path)
    pynomaly.detect(data, "counting:mean", manager=pm, cache=models)
    pynomaly.detect(data, "counting:mean", manager=pm, cache=models)
    assert plugin.fits == 1
    upgraded, newer = counting_manager(tmp_path, version="1.1")
    pynomaly.detect(data, "counting:mean", manager=upgraded, cache=models)
    assert newer.fits == 1
    assert models.info().entries == 2


def test_a_fresh_seed_is_never_cached(data, tmp_path):
    models = ModelCache(tmp_path / "cache")
    pm, plugin = counting_manager(tmp_path)
    for _ in range(2):
        pynomaly.detect(data, "counting:mean", manager=pm, cache=models, random_state=None)
    assert plugin.fits == 2
    assert models.info().entries == 0


def test_the_least_recently_used_entries_go_first(data, tmp_path):
    pm, plugin = counting_manager(tmp_path)
    models = ModelCache(tmp_path / "cache")
    keys = []
    for seed in (1, 2):
        pynomaly.fit(data, "counting:mean", manager=pm, cache=models, random_state=seed)
    entries = models.entries()
    assert len(entries) == 2
    size = max(s for _, s, _ in entries)
    keys = {p.name: p for p, _, _ in entries}
    # the seed-1 model was used long ago, the seed-2 one less long ago
    first, second = sorted(keys.values(), key=lambda p: p.stat().st_mtime)
    os.utime(first, (1_000, 1_000))
    os.utime(second, (2_000, 2_000))
    models.max_bytes = 2 * size + size // 2  # room for two entries, not three
    pynomaly.fit(data, "counting:mean", manager=pm, cache=models, random_state=1)  # a hit
    assert plugin.fits == 2
    pynomaly.fit(data, "counting:mean", manager=pm, cache=models, random_state=3)  # evicts
    left = {p for p, _, _ in models.entries()}
    assert first in left and second not in left and len(left) == 2
    assert models.info().bytes <= models.max_bytes


def test_an_entry_larger_than_the_cap_is_not_kept(data, tmp_path):
    pm, _ = counting_manager(tmp_path)
    models = ModelCache(tmp_path / "cache", max_bytes=100)
    pynomaly.fit(data, "counting:mean", manager=pm, cache=models)
    assert models.info().entries == 0


def test_entries_are_model_files_and_a_damaged_one_is_refitted(data, tmp_path):
    pm, plugin = counting_manager(tmp_path)
    models = ModelCache(tmp_path / "cache")
    model = pynomaly.fit(data, "counting:mean", manager=pm, cache=models)
    (entry,) = (p for p, _, _ in models.entries())
    assert [p.name for p in entry.parent.iterdir()] == [entry.name]  # no temporaries left
    loaded = pynomaly.load(entry, manager=pm)  # the model-file envelope, digest checked
    np.testing.assert_array_equal(loaded.score(data, manager=pm), model.score(data, manager=pm))
    blob = bytearray(entry.read_bytes())
    blob[-5] ^= 0xFF
    entry.write_bytes(bytes(blob))
    again = pynomaly.fit(data, "counting:mean", manager=pm, cache=models)
    assert plugin.fits == 2
    np.testing.assert_array_equal(again.training_scores, model.training_scores)
    assert pynomaly.load(entry, manager=pm).threshold == model.threshold  # rewritten whole


def test_the_steps_of_a_hit_are_those_fitted_in_the_call(tmp_path):
    pm, plugin = counting_manager(tmp_path)
    models = ModelCache(tmp_path / "cache")
    gappy = pd.DataFrame({"a": [1.0, np.nan, 3.0, 4.0, 10.0], "b": [1.0, 2.0, 2.0, 3.0, 4.0]})
    first = pynomaly.fit(gappy, "counting:mean", manager=pm, cache=models, steps=["impute"])
    second = pynomaly.fit(gappy, "counting:mean", manager=pm, cache=models, steps=["impute"])
    assert plugin.fits == 1
    assert len(second.steps) == 1 and second.steps[0] is not first.steps[0]
    np.testing.assert_array_equal(second.score(gappy, manager=pm), first.score(gappy, manager=pm))


def test_matrix_digest_tells_values_and_layout_apart():
    X = np.arange(12, dtype=np.float64).reshape(4, 3)
    assert matrix_digest(X) == matrix_digest(X.copy())
    assert matrix_digest(X) != matrix_digest(X.reshape(3, 4))
    assert matrix_digest(X) != matrix_digest(np.asfortranarray(X))  # a miss, never wrong
    assert matrix_digest(X[:, :2]) == matrix_digest(np.ascontiguousarray(X[:, :2]))


def test_sizes():
    assert parse_size("1073741824") == 1 << 30
    assert parse_size("500MB") == 500_000_000
    assert parse_size("2 GiB") == 2 << 30
    with pytest.raises(ConfigurationError, match="PYNOMALY_CACHE_SIZE='lots'"):
        parse_size("lots")


def test_the_command_line_cache_and_its_configuration_key(tmp_path, monkeypatch, data):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYNOMALY_CACHE_DIR", str(tmp_path / "models"))
    monkeypatch.setenv("PYNOMALY_USER_CONFIG", "")
    data.to_csv("data.csv", index=False)
    runner = CliRunner()

    def invoke(*args: str):
        result = runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result

    invoke("detect", "data.csv", "-o", "plain.csv")
    assert not (tmp_path / "models").exists()  # off by default
    invoke("detect", "data.csv", "--cache", "-o", "a.csv")
    invoke("detect", "data.csv", "--cache", "-o", "b.csv", "--json")
    info = json.loads(invoke("cache", "info", "--json").output)
    assert info["entries"] == 1 and info["directory"] == str(tmp_path / "models")
    a, b, plain = (pd.read_csv(n) for n in ("a.csv", "b.csv", "plain.csv"))
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a, plain)
    Path("pynomaly.toml").write_text("[detect]\ncache = true\nrandom_state = 5\n")
    invoke("fit", "data.csv", "--save", "m.model")
    assert json.loads(invoke("cache", "info", "--json").output)["entries"] == 2
    invoke("fit", "data.csv", "--save", "n.model", "--no-cache", "--seed", "6")
    assert json.loads(invoke("cache", "info", "--json").output)["entries"] == 2
    assert "Deleted 2 cached models" in invoke("cache", "clear").output
    assert json.loads(invoke("cache", "info", "--json").output)["entries"] == 0
