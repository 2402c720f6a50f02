"""How hooks are called: the pluggy way, with wrappers, ordering, owners, async plugins,
attribution of errors and statistics, and what plugins are (not) handed."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pluggy
import pytest

import pynomaly
from pynomaly import hookimpl
from pynomaly.errors import InputError, PluginError
from pynomaly.plugin.manager import PluginManager
from pynomaly.services import data as data_service
from pynomaly.types import Connection, PluginMetadata, SourceInfo
from tests.test_plugin_manager import MeanDistance


def manager(*names: str) -> PluginManager:
    """Built-ins, the named entry-point plugins, nothing else."""
    return PluginManager(autoload=False, allow=list(names), plugins_dir="")


# ---------------------------------------------------------------------------------------------
# Wrappers see every call, whichever plugin answers
# ---------------------------------------------------------------------------------------------


class Timing:
    """What a third-party author writes to time every fit, score and read."""

    def __init__(self) -> None:
        self.calls: Counter[tuple[str, str]] = Counter()
        self.seconds: Counter[str] = Counter()

    @hookimpl(wrapper=True)
    def pynomaly_fit(self, detector_id: str) -> Any:
        start = time.perf_counter()
        result = yield
        self.calls["fit", detector_id] += 1
        self.seconds["fit"] += time.perf_counter() - start
        return result

    @hookimpl(wrapper=True)
    def pynomaly_score(self, detector_id: str) -> Any:
        result = yield
        self.calls["score", detector_id] += 1
        return result

    @hookimpl(hookwrapper=True)  # the old style too
    def pynomaly_read_data(self, connection: Connection) -> Any:
        yield
        self.calls["read_data", connection.plugin] += 1


def test_a_wrapper_wraps_every_call_of_both_adapters_and_the_builtins(tmp_path):
    pm = manager("sklearn_adapter", "pyod_adapter")
    csv = tmp_path / "wbc.csv"
    pynomaly.load_data("sample:wbc", manager=pm).to_csv(csv)
    timing = Timing()
    pm.register(timing, "timing")
    for source in ("sample:wbc", str(csv)):
        for detector in ("sklearn:iforest", "pyod:ecod"):
            model = pynomaly.fit(source, detector, random_state=0, manager=pm)
            model.score(source, manager=pm)
    assert timing.calls == {
        ("fit", "sklearn:iforest"): 2,
        ("fit", "pyod:ecod"): 2,
        ("score", "sklearn:iforest"): 2,
        ("score", "pyod:ecod"): 2,
        ("read_data", "samples"): 4,
        ("read_data", "files"): 4,
    }
    assert timing.seconds["fit"] > 0
    # statistics still go to the plugin that answered, not to the wrapper
    stats = {(s.plugin, s.hook): s for s in pm.stats()}
    assert stats["sklearn_adapter", "pynomaly_fit"].calls == 2
    assert stats["pyod_adapter", "pynomaly_fit"].calls == 2
    assert stats["samples", "pynomaly_read_data"].calls == 4 + 1  # + writing the CSV
    assert ("timing", "pynomaly_fit") not in stats


class Hijack:
    """Answers pynomaly_connect for sample: URIs before the built-in does (tryfirst)."""

    def __init__(self, order: str) -> None:
        self.order = order
        self.asked = 0

    @hookimpl(tryfirst=True)
    def pynomaly_connect(self, uri: str, options: Mapping[str, Any]) -> Any:
        self.asked += 1
        return "hijacked" if self.order == "first" and uri.startswith("sample:") else None

    @hookimpl
    def pynomaly_read_data(self, connection: Connection, query: Mapping[str, Any]) -> Any:
        return pd.DataFrame({"a": [1.0, 2.0, 3.0]})


class Late:
    def __init__(self) -> None:
        self.asked = 0

    @hookimpl(trylast=True)
    def pynomaly_connect(self, uri: str, options: Mapping[str, Any]) -> Any:
        self.asked += 1
        return "late"


def test_tryfirst_and_trylast_are_honoured():
    pm = manager()
    first, late = Hijack("first"), Late()
    pm.register(first, "hijack")
    pm.register(late, "late")
    conn = data_service.connect(pm, "sample:wbc")
    assert (conn.plugin, conn.handle) == ("hijack", "hijacked")
    assert len(data_service.read_data(pm, conn)) == 3  # the connection's owner reads it
    assert late.asked == 0  # the first answer wins: the trylast plugin is never asked
    conn = data_service.connect(pm, "nothing-reads-this:x")
    assert (conn.plugin, conn.handle) == ("late", "late")


def test_connection_hooks_reach_only_the_plugin_that_opened_it():
    """A 1.0 data source never checks whose connection it is handed; it need not."""
    pm = manager()
    hijack = Hijack("never")  # reads any connection it is handed, like a 1.0 plugin
    pm.register(hijack, "greedy")
    frame = pynomaly.load_data("sample:wbc", manager=pm)
    assert frame.shape == (378, 30)  # the samples plugin read it, not the greedy one


# ---------------------------------------------------------------------------------------------
# Errors name the plugin; collecting and event hooks survive a failing plugin
# ---------------------------------------------------------------------------------------------


class Failing(MeanDistance):
    @hookimpl
    def pynomaly_score(self, detector_id, state, X):
        if detector_id == "bad:dist":
            raise ZeroDivisionError("no spread")
        return None

    @hookimpl
    def pynomaly_before_fit(self, detector_id, n_samples, n_features):
        raise RuntimeError("observer broke")


class BrokenLister:
    @hookimpl
    def pynomaly_data_sources(self):
        raise RuntimeError("cannot list")


def test_an_error_names_the_plugin_and_the_hook(planted):
    pm = manager()
    pm.register(Failing("bad"), "bad")
    pm.register(BrokenLister(), "lister")
    model = pynomaly.fit(planted, "bad:dist", manager=pm)  # the broken observer is skipped
    with pytest.raises(PluginError) as err:
        model.score(planted, manager=pm)
    assert (err.value.plugin, err.value.hook) == ("bad", "pynomaly_score")
    assert str(err.value) == "plugin 'bad' failed in pynomaly_score: ZeroDivisionError: no spread"
    stats = {(s.plugin, s.hook): s for s in pm.stats()}
    assert stats["bad", "pynomaly_score"].errors == 1
    assert stats["bad", "pynomaly_before_fit"].errors == 1
    names = {s.name for s in data_service.data_sources(pm)}  # the broken lister is left out
    assert {"csv", "sample"} <= names


class RaisingWrapper:
    @hookimpl(wrapper=True)
    def pynomaly_fit(self):
        yield
        raise RuntimeError("wrapper broke")


def test_an_error_raised_by_a_wrapper_names_the_wrapper(planted):
    pm = manager()
    pm.register(MeanDistance(), "toy")
    pm.register(RaisingWrapper(), "wrapping")
    with pytest.raises(PluginError, match="plugin 'wrapping' failed in pynomaly_fit"):
        pynomaly.fit(planted, "toy:dist", manager=pm)


# ---------------------------------------------------------------------------------------------
# Async hookimpls run on one event loop
# ---------------------------------------------------------------------------------------------


class AsyncSource:
    """Opens a loop-bound future in connect and awaits it in read_data, as a pool would."""

    def __init__(self) -> None:
        self.loops: list[int] = []

    @hookimpl
    def pynomaly_plugin_metadata(self):
        return PluginMetadata("asyncsrc", "1.0", ["data_source"])

    @hookimpl
    def pynomaly_data_sources(self):
        return [SourceInfo("async", "async test source", schemes=("async",))]

    @hookimpl
    async def pynomaly_connect(self, uri: str, options: Mapping[str, Any]) -> Any:
        if not uri.startswith("async:"):
            return None  # an async "not mine" must still let the next plugin answer
        loop = asyncio.get_running_loop()
        self.loops.append(id(loop))
        ready = loop.create_future()  # bound to this loop
        loop.call_later(0.01, ready.set_result, int(uri.split(":")[1]))
        return ready

    @hookimpl
    async def pynomaly_read_data(self, connection: Connection, query: Mapping[str, Any]) -> Any:
        rows = await connection.handle  # "attached to a different loop" unless the same loop
        self.loops.append(id(asyncio.get_running_loop()))
        return pd.DataFrame({"a": np.arange(rows, dtype=float), "b": np.ones(rows)})

    @hookimpl
    async def pynomaly_read_batches(self, connection, query, batch_size):
        rows = await connection.handle
        for start in range(0, rows, batch_size):
            await asyncio.sleep(0)
            stop = min(start + batch_size, rows)
            yield pd.DataFrame(
                {"a": np.arange(start, stop, dtype=float), "b": np.ones(stop - start)},
                index=range(start, stop),
            )


def test_async_hooks_share_one_loop_through_the_sync_api():
    pm = manager()
    source = AsyncSource()
    pm.register(source, "asyncsrc")
    for _ in range(2):
        assert pynomaly.load_data("async:7", manager=pm).shape == (7, 2)
    assert len(set(source.loops)) == 1  # the manager's one long-lived loop
    assert len(pynomaly.load_data("sample:wbc", manager=pm)) == 378  # async None passed on
    pm.shutdown()


def test_async_hooks_run_on_the_callers_loop_through_pynomaly_aio():
    pm = manager()
    source = AsyncSource()
    pm.register(source, "asyncsrc")

    async def main() -> list[int]:
        sizes = [len(await pynomaly.aio.load_data(f"async:{n}", manager=pm)) for n in (5, 6)]
        assert set(source.loops) == {id(asyncio.get_running_loop())}
        return sizes

    assert asyncio.run(main()) == [5, 6]
    pm.shutdown()


def test_an_async_generator_reads_batches(planted):
    pm = manager()
    pm.register(AsyncSource(), "asyncsrc")
    frame = pynomaly.load_data("async:50", manager=pm)
    model = pynomaly.fit(frame, "toy:dist", manager=_with_toy(pm))
    batches = list(model.score_source("async:50", batch_size=20, manager=pm))
    assert [len(b.scores) for b in batches] == [20, 20, 10]
    np.testing.assert_allclose(
        np.concatenate([b.scores for b in batches]), model.score(frame, manager=pm)
    )


def _with_toy(pm: PluginManager) -> PluginManager:
    pm.register(MeanDistance(), "toy")
    return pm


# ---------------------------------------------------------------------------------------------
# Registry rules
# ---------------------------------------------------------------------------------------------


def test_the_validation_builtin_cannot_be_disabled():
    with pytest.raises(InputError, match="plugin 'validation' cannot be disabled"):
        PluginManager(disable=["validation"])
    proc = subprocess.run(
        [sys.executable, "-m", "pynomaly", "-p", "no:validation", "detectors"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip() == (
        "Error: plugin 'validation' cannot be disabled: every input is checked through it "
        "before detection"
    )


def test_disabling_is_pluggys_set_blocked():
    pm = PluginManager(disable=["samples"], plugins_dir="")
    pm.discover()
    assert pm.is_blocked("samples") and not pm.has_plugin("samples")
    assert pm.register(object(), "samples") is None  # as pluggy: a blocked name registers nothing


def test_the_manager_is_a_pluggy_manager():
    pm = manager()
    assert isinstance(pm, pluggy.PluginManager)
    assert pm.pluggy_manager is pm
    pm.ready()
    # no algorithm plugin loaded: only the built-in ensembles, which combine other detectors
    listed = [info.id for infos in pm.hook.pynomaly_detectors() for info in infos]
    assert listed and all(d.startswith("ensemble:") for d in listed)


def test_registering_a_class_is_a_type_error_and_twice_is_harmless():
    pm = manager()
    with pytest.raises(TypeError, match="pass MeanDistance\\(\\) instead"):
        pm.register(MeanDistance, "toy")
    toy = MeanDistance()
    assert pm.register(toy, "toy") == "toy"
    assert pm.register(toy, "other") == "toy"


def test_the_deprecated_facade_still_works_and_says_what_to_use(planted):
    pm = manager()
    pm.register(MeanDistance(), "toy")
    with pytest.warns(DeprecationWarning, match=r"use pynomaly.services.detectors.fit\(pm"):
        fitted = pm.fit("toy:dist", planted.to_numpy(), {}, 0.1, None)
    with pytest.warns(DeprecationWarning, match="PluginManager.detectors"):
        assert "toy:dist" in {d.id for d in pm.detectors()}
    assert len(fitted.training_scores) == len(planted)


# ---------------------------------------------------------------------------------------------
# Least privilege: no hook is handed the manager
# ---------------------------------------------------------------------------------------------


class Spy:
    """Records every argument of every hook it implements."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def _keep(self, *values: Any) -> None:
        self.seen.extend(values)

    @hookimpl
    def pynomaly_initialize(self, config):
        self._keep(config)

    @hookimpl
    def pynomaly_preprocess(self, data, source):
        self._keep(data, source)

    @hookimpl
    def pynomaly_postprocess(self, result):
        self._keep(result)

    @hookimpl
    def pynomaly_format_output(self, result, fmt, options):
        self._keep(result, fmt, options)

    @hookimpl
    def pynomaly_before_fit(self, detector_id, n_samples, n_features):
        self._keep(detector_id)


def test_no_hook_is_handed_the_manager_or_another_plugins_configuration(planted):
    pm = PluginManager(
        autoload=False, plugins_dir="", config={"toy": {"secret": 1}, "spy": {"mine": 2}}
    )
    pm.register(MeanDistance(), "toy")
    spy = Spy()
    pm.register(spy, "spy")
    result = pynomaly.detect(planted, "toy:dist", manager=pm)
    from pynomaly.services import outputs

    outputs.format_output(pm, result, "table")
    configs = [v for v in spy.seen if isinstance(v, dict)]
    assert {"mine": 2} in configs and {"secret": 1} not in configs

    def reachable(value: Any, depth: int = 0) -> list[Any]:
        found = [value]
        if depth < 3 and hasattr(type(value), "__attrs_attrs__"):
            for field in type(value).__attrs_attrs__:
                found += reachable(getattr(value, field.name), depth + 1)
        return found

    assert not any(isinstance(v, PluginManager) for s in spy.seen for v in reachable(s))


def test_the_monitor_keeps_no_result_alive_after_the_call():
    # the last hook call's frame stays until the next call: it must not hold its arguments
    # and answers (a detection result, its model and the model's copy of the data)
    import gc
    import weakref

    X = np.random.default_rng(0).standard_normal((200, 4))
    pynomaly.detect(X, "pyod:ecod")  # first use: imports
    gc.collect()
    gc.disable()  # freed by reference counting, not by a later collection
    try:
        result = pynomaly.detect(X, "pyod:ecod")
        freed = weakref.ref(result.model)
        del result
        assert freed() is None
    finally:
        gc.enable()


def test_a_hook_no_plugin_implements_answers_as_pluggy_would(isolated_pm):
    # such calls skip pluggy's dispatch: same answers, and the last call is that one
    pm = isolated_pm
    assert pm.call("pynomaly_before_score", detector_id="x", n_samples=1) == []
    assert pm.hook.pynomaly_before_score(detector_id="x", n_samples=1) == []
    assert pm.answer("pynomaly_fit", detector_id="none:x", X=np.zeros((2, 1)), params={},
                     contamination=0.1, random_state=0) == (None, None)
    assert pm.collect("pynomaly_detectors")  # the built-ins answer
    assert pm.collect("pynomaly_after_score", detector_id="x", n_samples=1, duration=0.0) == []
    assert pm.failures() == []


def test_a_hook_call_monitor_sees_calls_of_hooks_no_plugin_implements(isolated_pm):
    # pluggy's monitoring (tracing, a third party's monitor) sees every call, as without the
    # shortcut for hooks nobody implements
    isolated_pm.load_all()
    seen = []
    undo = isolated_pm.add_hookcall_monitoring(
        lambda name, impls, kwargs: seen.append(name), lambda *args: None
    )
    isolated_pm.call("pynomaly_before_score", detector_id="x", n_samples=1)
    undo()
    assert seen == ["pynomaly_before_score"]
    assert isolated_pm._watchers == 0  # the monitor is gone: the shortcut applies again
    isolated_pm.call("pynomaly_before_score", detector_id="x", n_samples=1)
    assert seen == ["pynomaly_before_score"]
