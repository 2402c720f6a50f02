"""The plugin host: registration, isolation of broken plugins, selection, compatibility,
configuration, monitoring, events and async hooks — with small real plugins."""

from __future__ import annotations

import asyncio
import textwrap
from pathlib import Path

import numpy as np
import pytest

import pynomaly
from pynomaly import aio, hookimpl
from pynomaly.errors import (
    AmbiguousDetectorError,
    ConfigurationError,
    InputError,
    PluginError,
    PluginLoadError,
    UnknownDetectorError,
)
from pynomaly.plugin.manager import PluginManager
from pynomaly.plugin.records import PluginStatus
from pynomaly.services import detectors as detector_service
from pynomaly.types import DetectorInfo, FitResult, PluginMetadata


class MeanDistance:
    """A minimal detector plugin: distance to the training mean."""

    def __init__(self, namespace: str = "toy", compat: str = ">=1.0", schema=None) -> None:
        self.namespace = namespace
        self.compat = compat
        self.schema = schema or {}
        self.calls: list[str] = []
        self.config = None

    @hookimpl
    def pynomaly_plugin_metadata(self):
        return PluginMetadata(
            name=self.namespace,
            version="0.1",
            plugin_types=["algorithm"],
            pynomaly_compat=self.compat,
            config_schema=self.schema,
        )

    @hookimpl
    def pynomaly_initialize(self, config):
        self.calls.append("initialize")
        self.config = dict(config)

    @hookimpl
    def pynomaly_configure(self, config):
        self.config = dict(config)

    @hookimpl
    def pynomaly_cleanup(self):
        self.calls.append("cleanup")

    @hookimpl
    def pynomaly_detectors(self):
        return [DetectorInfo(f"{self.namespace}:dist", "distance to the mean")]

    @hookimpl
    def pynomaly_fit(self, detector_id, X, params, contamination, random_state):
        if detector_id != f"{self.namespace}:dist":
            return None
        self.calls.append("fit")
        mean = X.mean(axis=0)
        return FitResult(mean, np.linalg.norm(X - mean, axis=1))

    @hookimpl
    def pynomaly_score(self, detector_id, state, X):
        if detector_id != f"{self.namespace}:dist":
            return None
        return np.linalg.norm(X - state, axis=1)


def test_registering_a_class_is_a_clear_type_error(isolated_pm):
    with pytest.raises(TypeError, match=r"got the class MeanDistance; pass MeanDistance\(\)"):
        isolated_pm.register(MeanDistance)


def test_registering_twice_is_harmless(isolated_pm, planted):
    plugin = MeanDistance()
    assert isolated_pm.register(plugin, "toy") == "toy"
    assert isolated_pm.register(plugin, "toy") == "toy"
    assert own_detectors(isolated_pm) == ["toy:dist"]
    assert plugin.calls == ["initialize"]
    pynomaly.detect(planted, "toy:dist", manager=isolated_pm)
    assert plugin.calls == ["initialize", "fit"]


def test_a_detector_plugin_detects_the_planted_outlier(isolated_pm, planted):
    isolated_pm.register(MeanDistance(), "toy")
    res = pynomaly.detect(planted, "toy:dist", contamination=0.01, manager=isolated_pm)
    assert res.to_frame()["anomaly_score"].idxmax() == "spike"
    assert res.labels[planted.index.get_loc("spike")] == 1


def test_incompatible_plugin_is_refused_with_the_versions_it_wants(isolated_pm):
    with pytest.raises(PluginLoadError, match=r"requires pynomaly<1.0, this is pynomaly 1"):
        isolated_pm.register(MeanDistance(compat="<1.0"), "old")
    assert isolated_pm.record("old").status is PluginStatus.FAILED


def test_invalid_specifier_is_reported(isolated_pm):
    with pytest.raises(PluginLoadError, match="invalid pynomaly_compat specifier"):
        isolated_pm.register(MeanDistance(compat="version one"), "bad")


def test_config_is_validated_against_the_schema_before_initialize(isolated_pm):
    schema = {
        "type": "object",
        "properties": {"k": {"type": "integer"}},
        "additionalProperties": False,
    }
    plugin = MeanDistance(schema=schema)
    with pytest.raises(ConfigurationError, match=r"plugin 'toy'.*key 'k'.*not of type 'integer'"):
        isolated_pm.register(plugin, "toy", config={"k": "three"})
    assert "initialize" not in plugin.calls


def test_unknown_config_key_names_the_key_and_configure_revalidates(isolated_pm):
    schema = {
        "type": "object",
        "properties": {"k": {"type": "integer"}},
        "additionalProperties": False,
    }
    plugin = MeanDistance(schema=schema)
    isolated_pm.register(plugin, "toy", config={"k": 3})
    assert plugin.config == {"k": 3}
    with pytest.raises(ConfigurationError, match="'nope' was unexpected"):
        isolated_pm.configure("toy", {"nope": 1})
    isolated_pm.configure("toy", {"k": 5})
    assert plugin.config == {"k": 5}


def test_invalid_config_schema_fails_the_plugin(isolated_pm):
    with pytest.raises(ConfigurationError, match="plugin 'toy': config_schema is not valid JSON"):
        isolated_pm.register(MeanDistance(schema={"type": "no-such-type"}), "toy", config={"k": 1})


class Misspelt:
    @hookimpl
    def pynomaly_detector(self):  # the hook is pynomaly_detectors
        return []


class WrongArguments:
    @hookimpl
    def pynomaly_fit(self, detector_id, data):  # `data` is not an argument of the hook
        return None


def test_misspelt_hook_fails_the_plugin_with_its_name(isolated_pm):
    with pytest.raises(PluginLoadError, match="pynomaly_detector is not a pynomaly hook"):
        isolated_pm.register(Misspelt(), "typo")


def test_hookimpl_arguments_are_checked_against_the_spec(isolated_pm):
    with pytest.raises(PluginLoadError, match="invalid hookimpl.*data"):
        isolated_pm.register(WrongArguments(), "wrongargs")


class FailsToInitialize(MeanDistance):
    @hookimpl
    def pynomaly_initialize(self, config):
        raise RuntimeError("database unreachable")


def test_initialize_failure_is_reported_and_skipped(isolated_pm, planted):
    with pytest.raises(PluginLoadError, match="initialize failed.*database unreachable"):
        isolated_pm.register(FailsToInitialize(namespace="bad"), "bad")
    isolated_pm.register(MeanDistance(), "toy")
    assert own_detectors(isolated_pm) == ["toy:dist"]
    assert pynomaly.detect(planted, "toy:dist", manager=isolated_pm).n_anomalies > 0


class ExplodingFit(MeanDistance):
    @hookimpl
    def pynomaly_fit(self, detector_id, X, params, contamination, random_state):
        raise ZeroDivisionError("oops")


def test_plugin_errors_name_the_plugin_and_hook_and_are_counted(isolated_pm, planted):
    isolated_pm.register(ExplodingFit(namespace="boom"), "boom")
    with pytest.raises(
        PluginError, match=r"plugin 'boom' failed in pynomaly_fit: ZeroDivisionError: oops"
    ):
        pynomaly.detect(planted, "boom:dist", manager=isolated_pm)
    stats = {(s.plugin, s.hook): s for s in isolated_pm.stats()}
    assert stats[("boom", "pynomaly_fit")].calls == 1
    assert stats[("boom", "pynomaly_fit")].errors == 1


def test_stats_count_calls_per_plugin_and_hook(isolated_pm, planted):
    isolated_pm.register(MeanDistance(), "toy")
    model = pynomaly.fit(planted, "toy:dist", manager=isolated_pm)
    for _ in range(3):
        model.score(planted, manager=isolated_pm)
    stats = {(s.plugin, s.hook): s for s in isolated_pm.stats()}
    assert stats[("toy", "pynomaly_fit")].calls == 1
    assert stats[("toy", "pynomaly_score")].calls == 3
    assert stats[("toy", "pynomaly_score")].errors == 0
    assert stats[("toy", "pynomaly_score")].seconds > 0
    assert stats[("validation", "pynomaly_validate")].calls == 4  # once per batch, not per row


class Observer:
    def __init__(self, fail: bool = False) -> None:
        self.events: list[tuple] = []
        self.fail = fail

    @hookimpl
    def pynomaly_before_fit(self, detector_id, n_samples, n_features):
        self.events.append(("before_fit", detector_id, n_samples, n_features))
        if self.fail:
            raise RuntimeError("observer bug")

    @hookimpl
    def pynomaly_after_fit(self, detector_id, n_samples, duration):
        self.events.append(("after_fit", detector_id, n_samples))

    @hookimpl
    def pynomaly_on_fit_error(self, detector_id, error):
        self.events.append(("on_fit_error", detector_id, type(error).__name__))

    @hookimpl
    def pynomaly_before_score(self, detector_id, n_samples):
        self.events.append(("before_score", detector_id, n_samples))

    @hookimpl
    def pynomaly_after_score(self, detector_id, n_samples, duration):
        self.events.append(("after_score", detector_id, n_samples))


def test_events_frame_fit_and_score_once_per_batch(isolated_pm, planted):
    observer = Observer()
    isolated_pm.register(MeanDistance(), "toy")
    isolated_pm.register(observer, "observer")
    model = pynomaly.fit(planted, "toy:dist", manager=isolated_pm)
    model.score(planted.iloc[:50], manager=isolated_pm)
    assert observer.events == [
        ("before_fit", "toy:dist", 201, 4),
        ("after_fit", "toy:dist", 201),
        ("before_score", "toy:dist", 50),
        ("after_score", "toy:dist", 50),
    ]


def test_error_event_and_a_failing_observer_never_breaks_detection(isolated_pm, planted):
    bad_observer, observer = Observer(fail=True), Observer()
    isolated_pm.register(ExplodingFit(namespace="boom"), "boom")
    isolated_pm.register(MeanDistance(), "toy")
    isolated_pm.register(bad_observer, "bad_observer")
    isolated_pm.register(observer, "observer")
    assert pynomaly.detect(planted, "toy:dist", manager=isolated_pm).n_anomalies > 0
    with pytest.raises(PluginError):
        pynomaly.fit(planted, "boom:dist", manager=isolated_pm)
    assert ("on_fit_error", "boom:dist", "PluginError") in observer.events  # what the caller gets


class BrokenListing:
    @hookimpl
    def pynomaly_detectors(self):
        raise RuntimeError("cannot list")


def test_a_plugin_that_breaks_while_listing_is_skipped(isolated_pm):
    isolated_pm.register(BrokenListing(), "brokenlisting")
    isolated_pm.register(MeanDistance(), "toy")
    assert own_detectors(isolated_pm) == ["toy:dist"]


def test_short_ids_resolve_when_unambiguous(isolated_pm):
    isolated_pm.register(MeanDistance("aa"), "aa")
    assert detector_service.resolve(isolated_pm, "aa:dist").id == "aa:dist"
    assert detector_service.resolve(isolated_pm, "dist").id == "aa:dist"
    isolated_pm.register(MeanDistance("bb"), "bb")
    with pytest.raises(AmbiguousDetectorError, match="use one of aa:dist, bb:dist"):
        detector_service.resolve(isolated_pm, "dist")
    with pytest.raises(UnknownDetectorError, match="did you mean aa:dist"):
        detector_service.resolve(isolated_pm, "aa:dits")


def test_unload_cleans_up_and_removes_the_detectors(isolated_pm):
    plugin = MeanDistance()
    isolated_pm.register(plugin, "toy")
    isolated_pm.unload("toy")
    assert plugin.calls == ["initialize", "cleanup"]
    assert "toy" not in isolated_pm.loaded()
    assert isolated_pm.record("toy").status is PluginStatus.UNLOADED
    with pytest.raises(UnknownDetectorError):
        detector_service.resolve(isolated_pm, "toy:dist")
    isolated_pm.load("toy")
    assert plugin.calls == ["initialize", "cleanup", "initialize"]
    assert detector_service.resolve(isolated_pm, "toy:dist").plugin == "toy"


class Unhealthy:
    @hookimpl
    def pynomaly_health_check(self):
        return {"status": "unhealthy", "reason": "disk full"}


class OddHealth:
    @hookimpl
    def pynomaly_health_check(self):
        return {"state": "fine"}


def test_health_check_all_reports_every_plugin(isolated_pm):
    isolated_pm.register(Unhealthy(), "sick")
    isolated_pm.register(OddHealth(), "odd")
    report = isolated_pm.health_check_all()
    assert report["sick"] == {"status": "unhealthy", "reason": "disk full"}
    assert report["odd"]["status"] == "unhealthy"
    assert "expected 'healthy' or 'unhealthy'" in report["odd"]["reason"]
    assert report["files"] == {"status": "healthy"}


class AsyncSource:
    """A data source whose hooks are coroutines."""

    @hookimpl
    async def pynomaly_connect(self, uri, options):
        await asyncio.sleep(0)
        return uri[len("async:") :] if uri.startswith("async:") else None

    @hookimpl
    async def pynomaly_read_data(self, connection, query):
        import pandas as pd

        await asyncio.sleep(0)
        n = int(connection.handle)
        return pd.DataFrame({"x": np.arange(n, dtype=float), "y": np.arange(n, dtype=float) ** 2})


def test_async_hookimpls_work_from_the_sync_and_the_async_api(isolated_pm):
    isolated_pm.register(AsyncSource(), "asyncsource")
    isolated_pm.register(MeanDistance(), "toy")
    frame = pynomaly.load_data("async:30", manager=isolated_pm)
    assert frame.shape == (30, 2)

    async def main():
        frame = await aio.load_data("async:40", manager=isolated_pm)
        res = await aio.detect(frame, "toy:dist", manager=isolated_pm)
        health = await aio.health_check_all(manager=isolated_pm)
        return frame, res, health

    frame, res, health = asyncio.run(main())
    assert frame.shape == (40, 2) and res.scores.shape == (40,)
    assert health["asyncsource"]["status"] == "healthy"


def _write_plugin(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(exist_ok=True)
    path = directory / f"{name}.py"
    path.write_text(textwrap.dedent(body))
    return path


LOCAL_PLUGIN = """
    import numpy as np
    from pynomaly import hookimpl
    from pynomaly.types import DetectorInfo, FitResult

    VERSION = {version}

    @hookimpl
    def pynomaly_detectors():
        return [DetectorInfo("local:v{version}", "local plugin")]

    @hookimpl
    def pynomaly_fit(detector_id, X, params, contamination, random_state):
        return FitResult(None, np.full(len(X), float(VERSION)))
"""


def test_local_plugins_directory_is_discovered_and_reloadable(tmp_path):
    plugins = tmp_path / "plugins"
    path = _write_plugin(plugins, "myplug", LOCAL_PLUGIN.format(version=1))
    pm = PluginManager(autoload=True, plugins_dir=str(plugins))
    pm.load_all()
    rec = pm.record("myplug")
    assert rec.status is PluginStatus.LOADED and rec.origin == f"local {path}"
    assert [d.id for d in detector_service.detectors(pm) if d.plugin == "myplug"] == ["local:v1"]
    path.write_text(textwrap.dedent(LOCAL_PLUGIN.format(version=2)))
    pm.reload("myplug")
    assert [d.id for d in detector_service.detectors(pm) if d.plugin == "myplug"] == ["local:v2"]


def test_broken_local_plugin_is_reported_and_others_work(tmp_path, planted):
    plugins = tmp_path / "plugins"
    _write_plugin(plugins, "broken", "raise ImportError('needs libfoo')\n")
    _write_plugin(plugins, "fine", LOCAL_PLUGIN.format(version=1))
    pm = PluginManager(autoload=True, plugins_dir=str(plugins))
    pm.load_all()
    assert pm.record("broken").status is PluginStatus.FAILED
    reason = pm.record("broken").reason  # names the file and line that raised
    assert reason.startswith("import failed: ImportError: needs libfoo (at ")
    assert reason.endswith(f"{plugins / 'broken.py'}:1)")
    assert pm.record("fine").status is PluginStatus.LOADED


def test_strict_mode_makes_a_broken_plugin_fatal(tmp_path, monkeypatch):
    plugins = tmp_path / "plugins"
    _write_plugin(plugins, "broken", "raise ImportError('needs libfoo')\n")
    monkeypatch.setenv("PYNOMALY_STRICT_PLUGINS", "1")
    with pytest.raises(PluginLoadError, match="plugin 'broken' could not be loaded.*libfoo"):
        PluginManager(plugins_dir=str(plugins), allow=["broken"]).discover()


def test_disabled_plugins_are_never_imported(tmp_path, monkeypatch):
    plugins = tmp_path / "plugins"
    marker = tmp_path / "imported"
    _write_plugin(plugins, "spy", f"open({str(marker)!r}, 'w').close()\n")
    pm = PluginManager(disable=["spy"], plugins_dir=str(plugins))
    pm.load_all()
    assert pm.record("spy").status is PluginStatus.DISABLED
    assert not marker.exists()
    monkeypatch.setenv("PYNOMALY_DISABLE_PLUGIN_AUTOLOAD", "1")
    pm = PluginManager(plugins_dir=str(plugins))
    pm.load_all()
    assert "autoload disabled" in pm.record("spy").reason
    assert not marker.exists()
    monkeypatch.setenv("PYNOMALY_PLUGINS", "spy")  # an allow-list loads even without autoload
    pm = PluginManager(plugins_dir=str(plugins))
    pm.load_all()
    assert pm.record("spy").status is PluginStatus.LOADED and marker.exists()
    assert "allow-list" in pm.record("sklearn_adapter").reason


def test_builtins_can_be_disabled_too(tmp_path):
    pm = PluginManager(disable=["samples"], autoload=False)
    pm.load_all()
    assert pm.record("samples").status is PluginStatus.DISABLED
    with pytest.raises(InputError, match="no data source plugin reads this"):
        pynomaly.load_data("sample:wbc", manager=pm)


def test_entry_point_plugins_are_discovered_from_installed_metadata(tmp_path, monkeypatch):
    site = tmp_path / "site"
    dist = site / "fakeplug-2.5.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 2.5\n")
    (dist / "entry_points.txt").write_text("[pynomaly.plugins]\nfakeplug = fakeplug_mod\n")
    (site / "fakeplug_mod.py").write_text(textwrap.dedent(LOCAL_PLUGIN.format(version=7)))
    monkeypatch.syspath_prepend(str(site))
    pm = PluginManager(plugins_dir="")
    pm.load_all()
    rec = pm.record("fakeplug")
    assert rec.status is PluginStatus.LOADED
    assert rec.origin == "fakeplug 2.5"
    assert rec.metadata is not None and rec.metadata.version == "2.5"  # from the distribution
    assert {t.value for t in rec.metadata.plugin_types} == {"algorithm"}  # inferred from hooks
    assert detector_service.resolve(pm, "local:v7").plugin == "fakeplug"


def test_available_filters_by_plugin_type(isolated_pm):
    isolated_pm.load_all()
    names = {m.name for m in isolated_pm.available("data_source")}
    assert names == {"files", "samples", "sql"}
    assert {m.name for m in isolated_pm.available("output")} == {
        "outputs", "report", "webhook", "sql"
    }


def test_first_use_from_many_threads_sees_every_plugin(planted):
    """Services and pynomaly.aio share one manager across threads: discovery must not be
    observed half-done (it once made 3 of 4 concurrent first calls miss their detector)."""
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial

    for _ in range(3):
        pm = PluginManager(plugins_dir="")
        ids = ["sklearn:iforest", "pyod:ecod", "pyod:knn", "sklearn:lof"]
        with ThreadPoolExecutor(4) as pool:
            results = list(pool.map(partial(pynomaly.detect, planted, manager=pm), ids))
        assert [r.detector for r in results] == ids


def own_detectors(pm: PluginManager) -> list[str]:
    """The detectors listed, but the built-in ensembles (which are always there)."""
    return [d.id for d in detector_service.detectors(pm) if d.plugin != "ensemble"]
