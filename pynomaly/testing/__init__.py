"""Testing kit for pynomaly plugins: conformance checks, a hook recorder, datasets, and a pytest
plugin (entry point ``pynomaly``) with the ``pynomaly_pm``, ``pynomaly_recorder`` and
``pynomaly_dataset`` fixtures and the ``--pynomaly-check=NAME`` option.

>>> from pynomaly.testing import check_plugin                   # doctest: +SKIP
>>> check_plugin("goodplugin").raise_for_failures()             # doctest: +SKIP

One test per check, in a plugin's own test suite::

    from pynomaly.testing import iter_checks

    @pytest.mark.parametrize(("check", "target", "run"), list(iter_checks("myplugin")))
    def test_conformance(check, target, run):
        run()  # AssertionError on failure, unittest.SkipTest when it does not apply

or, without writing a test, ``pytest --pynomaly-check=myplugin``.

Importing this package is cheap (it is imported by the pytest plugin in every pytest session):
the names below load their modules on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynomaly._lazy import lazy_exports

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.testing.conformance import (
        CheckReport,
        CheckResult,
        CheckSkipped,
        ConformanceError,
        check_plugin,
        iter_checks,
        run_check,
    )
    from pynomaly.testing.datasets import DATASETS, load_dataset, planted
    from pynomaly.testing.recorder import HookCall, HookRecorder

_LAZY = {
    "CheckReport": "pynomaly.testing.conformance",
    "CheckResult": "pynomaly.testing.conformance",
    "CheckSkipped": "pynomaly.testing.conformance",
    "ConformanceError": "pynomaly.testing.conformance",
    "check_plugin": "pynomaly.testing.conformance",
    "iter_checks": "pynomaly.testing.conformance",
    "run_check": "pynomaly.testing.conformance",
    "DATASETS": "pynomaly.testing.datasets",
    "load_dataset": "pynomaly.testing.datasets",
    "planted": "pynomaly.testing.datasets",
    "HookCall": "pynomaly.testing.recorder",
    "HookRecorder": "pynomaly.testing.recorder",
}

__all__ = [
    "DATASETS",
    "CheckReport",
    "CheckResult",
    "CheckSkipped",
    "ConformanceError",
    "HookCall",
    "HookRecorder",
    "check_plugin",
    "iter_checks",
    "load_dataset",
    "planted",
    "run_check",
]


__getattr__, __dir__ = lazy_exports("pynomaly.testing", _LAZY, globals(), __all__)
