"""The ``pynomaly`` pytest plugin (entry point ``pytest11``): fixtures for testing pynomaly
plugins and ``--pynomaly-check=NAME`` to run a plugin's conformance checks as tests.

Fixtures (all factories):

* ``pynomaly_pm("goodplugin", register=[obj], config={...})``: an isolated
  :class:`~pynomaly.PluginManager` — the built-in plugins, only the named entry-point plugins,
  the registered objects; no autoload, no plugins directory, no ``PYNOMALY_*`` settings. Shut
  down at teardown.
* ``pynomaly_recorder(pm)``: a :class:`~pynomaly.testing.HookRecorder` on that manager,
  detached at teardown.
* ``pynomaly_dataset("breast_cancer" | "wine" | "planted")``: ``(X, y)`` with ``y`` 1 for
  anomalies (see :mod:`pynomaly.testing.datasets`).

``pytest --pynomaly-check=NAME`` (repeatable) adds one test per check and target, named like
``pynomaly-check[goodplugin::scores_finite::good:maxz]`` and marked ``pynomaly_check``; they
run even when no test paths are given. Select some with ``-k``, e.g. ``-k "good:maxz"``.

This module is loaded by every pytest session of every project in the environment, so it
imports nothing beyond pytest and the standard library at module level.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from _pytest._code.code import TerminalRepr

    from pynomaly.plugin.manager import PluginManager
    from pynomaly.testing.recorder import HookRecorder

ITEM_PREFIX = "pynomaly-check"
MARKER = "pynomaly_check"
_MANAGERS = pytest.StashKey[list[Any]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pynomaly", "pynomaly plugin conformance")
    group.addoption(
        "--pynomaly-check",
        action="append",
        default=[],
        metavar="NAME",
        dest="pynomaly_check",
        help="run the conformance checks of pynomaly plugin NAME as tests (repeatable; the "
        "plugin is found among entry points, or in the directory PYNOMALY_PLUGINS_DIR names)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: a pynomaly plugin conformance check (from --pynomaly-check)"
    )
    config.stash[_MANAGERS] = []


def pytest_unconfigure(config: pytest.Config) -> None:
    managers: list[Any] = config.stash.get(_MANAGERS, [])
    for manager in reversed(managers):
        manager.shutdown()


def pytest_report_header(config: pytest.Config) -> str | None:
    names = config.getoption("pynomaly_check", None)
    return f"pynomaly conformance checks: {', '.join(names)}" if names else None


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(collector: pytest.Collector) -> Generator[None, Any, Any]:
    """Hang the conformance checks off the session's own collection, so that they are
    collected, counted, selected (-k, -m) and run like any test, even without test paths."""
    report: Any = yield
    names = collector.config.getoption("pynomaly_check", None)
    if names and isinstance(collector, pytest.Session) and report.passed:
        for name in dict.fromkeys(names):
            report.result.extend(_check_items(collector, name))
    return report


def _check_items(session: pytest.Session, name: str) -> Iterator[PynomalyCheckItem]:
    from pynomaly.plugin.manager import PluginManager
    from pynomaly.testing.conformance import iter_checks

    manager = PluginManager(allow=[name])
    session.config.stash[_MANAGERS].append(manager)
    path = session.path / ITEM_PREFIX  # not a file: groups the items in the progress output
    for check, target, fn in iter_checks(name, manager=manager):
        label = f"{ITEM_PREFIX}[{name}::{check}" + (f"::{target}]" if target else "]")
        yield PynomalyCheckItem.from_parent(
            session,
            name=label,
            nodeid=label,
            path=path,
            check=check,
            target=target,
            plugin=name,
            function=fn,
        )


class PynomalyCheckItem(pytest.Item):
    """One conformance check of one plugin on one target (detector, URI, format or none)."""

    def __init__(
        self,
        *,
        check: str,
        target: str,
        plugin: str,
        function: Callable[[], str],
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.check, self.target, self.plugin = check, target, plugin
        self.function = function
        self.add_marker(MARKER)
        self.message = ""

    def runtest(self) -> None:
        from pynomaly.testing.conformance import CheckSkipped

        try:
            self.message = self.function()
        except CheckSkipped as exc:  # reported at the item, not at this line
            raise pytest.skip.Exception(str(exc), _use_item_location=True) from None

    def repr_failure(
        self,
        excinfo: pytest.ExceptionInfo[BaseException],
        style: Any = None,
    ) -> str | TerminalRepr:
        from pynomaly.testing.conformance import ConformanceError

        error = excinfo.value
        if isinstance(error, ConformanceError):  # check — target: expected, got; how to fix
            return str(error) + _cause_traceback(error)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, 0, self.name  # a line is needed to report skips at the item


def _cause_traceback(error: BaseException) -> str:
    """The traceback of the exception at the root of ``error`` (a plugin's own error, usually),
    without pluggy's frames."""
    import os
    import traceback

    root = error.__cause__
    while root is not None and root.__cause__ is not None:
        root = root.__cause__
    if root is None or root.__traceback__ is None:
        return ""
    hidden = (f"{os.sep}pluggy{os.sep}", f"{os.sep}_pytest{os.sep}")
    frames = [
        f
        for f in traceback.extract_tb(root.__traceback__)
        if not any(h in f.filename for h in hidden)
    ]
    lines = traceback.format_list(frames) + traceback.format_exception_only(type(root), root)
    return "\n\nCaused by (most recent call last):\n" + "".join(lines).rstrip()


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def pynomaly_pm() -> Iterator[Callable[..., PluginManager]]:
    """Factory of isolated plugin managers, shut down at teardown.

    ``pynomaly_pm(*entry_point_names, register=[obj, ...] or {name: obj}, config={name: {...}},
    disable=[...], strict=False, load=False)``: the built-in plugins (minus ``disable``), the
    named entry-point plugins, and the registered modules/instances. No autoload, no plugins
    directory, no ``PYNOMALY_*`` environment settings. ``load=True`` initializes every plugin
    at once (otherwise on first use, as usual).
    """
    managers: list[PluginManager] = []

    def make(
        *names: str,
        register: Iterable[object] | Mapping[str, object] = (),
        config: Mapping[str, Mapping[str, Any]] | None = None,
        disable: Iterable[str] = (),
        strict: bool = False,
        load: bool = False,
    ) -> PluginManager:
        from pynomaly.plugin.manager import PluginManager
        from pynomaly.plugin.settings import Settings

        settings = Settings(
            autoload=False,
            allow=frozenset(names),
            disable=frozenset(disable),
            strict=strict,
            plugins_dir=None,
            config=dict(config or {}),
        )
        pm = PluginManager(settings=settings)
        managers.append(pm)
        pairs = (
            list(register.items())
            if isinstance(register, Mapping)
            else [(None, obj) for obj in register]
        )
        for plugin_name, obj in pairs:
            pm.register(obj, plugin_name)
        if load:
            pm.load_all()
        return pm

    yield make
    for pm in reversed(managers):
        pm.shutdown()


@pytest.fixture
def pynomaly_recorder() -> Iterator[Callable[[PluginManager], HookRecorder]]:
    """Factory: ``rec = pynomaly_recorder(pm)`` records ``pm``'s hook calls until teardown."""
    recorders: list[HookRecorder] = []

    def make(manager: PluginManager) -> HookRecorder:
        from pynomaly.testing.recorder import HookRecorder

        recorder = HookRecorder(manager)
        recorders.append(recorder)
        return recorder

    yield make
    for recorder in reversed(recorders):
        recorder.finish_recording()


@pytest.fixture
def pynomaly_dataset() -> Callable[[str], tuple[pd.DataFrame, pd.Series]]:
    """Factory: ``X, y = pynomaly_dataset("breast_cancer")`` (``"wine"``, ``"planted"``);
    ``y`` is 1 for anomalies. Fresh copies on every call."""

    def load(name: str = "breast_cancer") -> tuple[pd.DataFrame, pd.Series]:
        from pynomaly.testing.datasets import load_dataset

        return load_dataset(name)

    return load
