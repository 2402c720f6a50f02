"""Shared machinery of the conformance checks: results, failures, and the suite base that
calls one plugin's hooks and holds the data the checks share. See
:mod:`pynomaly.testing.conformance` for the checks themselves."""

from __future__ import annotations

import shutil
import tempfile
import unittest
import weakref
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from pynomaly.detection.results import DetectionResult
    from pynomaly.plugin.manager import PluginManager

CheckFunction = Callable[[], str]

# sizes: small enough for the slow PyOD detectors (LOCI is cubic in rows, ROD in features)
N_TRAIN, N_TEST, N_FEATURES = 120, 50, 10
CONTAMINATION, SEED = 0.1, 0
OUTLIER_DISTANCE = 10.0
RTOL, ATOL = 1e-9, 1e-12


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


class ConformanceError(AssertionError):
    """A plugin failed conformance checks; the message lists every failure, one per line:
    ``check — target: expected X, got Y; how to fix``."""

    def __init__(self, message: str, results: Iterable[CheckResult] = ()) -> None:
        super().__init__(message)
        self.results = list(results)


class CheckSkipped(unittest.SkipTest):
    """The check does not apply to this plugin (pytest and unittest report it as skipped)."""


@attrs.define
class CheckResult:
    """The outcome of one check on one target (a detector id, URI, format, or ``""``)."""

    check: str
    target: str
    passed: bool
    message: str = ""
    skipped: bool = False
    duration: float = 0.0

    def line(self, plugin: str = "") -> str:
        return f"{self.check} — {self.target or plugin}: {self.message}"


@attrs.define
class CheckReport:
    """Every check run on one plugin. ``passed`` is true when no check failed (skipped checks
    do not fail)."""

    plugin: str
    results: list[CheckResult] = attrs.field(factory=list)

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    @property
    def skipped(self) -> list[CheckResult]:
        return [r for r in self.results if r.skipped]

    def raise_for_failures(self) -> None:
        """Raise :class:`ConformanceError` listing every failed check, if any failed."""
        failures = self.failures
        if failures:
            lines = "\n".join("  " + r.line(self.plugin) for r in failures)
            raise ConformanceError(
                f"plugin {self.plugin!r} failed {len(failures)} of {len(self.results)} "
                f"conformance checks:\n{lines}",
                failures,
            )

    def summary(self) -> str:
        ok = sum(r.passed and not r.skipped for r in self.results)
        return (
            f"plugin {self.plugin!r}: {ok} passed, {len(self.failures)} failed, "
            f"{len(self.skipped)} skipped"
        )

    def __str__(self) -> str:
        lines = [self.summary()]
        for r in self.results:
            status = "SKIP" if r.skipped else ("ok  " if r.passed else "FAIL")
            lines.append(f"  {status} {r.line(self.plugin)}")
        return "\n".join(lines)


for _cls in (ConformanceError, CheckSkipped, CheckResult, CheckReport):
    _cls.__module__ = "pynomaly.testing"  # where users import them from


# ---------------------------------------------------------------------------------------------
# Failures and helpers
# ---------------------------------------------------------------------------------------------


class _Problem(Exception):
    """What a check found wrong: expected, got, and how to fix it."""

    def __init__(self, expected: str, got: str, fix: str) -> None:
        super().__init__(f"expected {expected}, got {got}; {fix}")


def _expect(ok: bool, expected: str, got: str | Callable[[], str], fix: str) -> None:
    if not ok:
        raise _Problem(expected, got() if callable(got) else got, fix)


def _skip(reason: str) -> CheckSkipped:
    return CheckSkipped(reason)


def _describe(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:300] + " …"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _bind(plugin: str, check: str, target: str, fn: Callable[[], str | None]) -> CheckFunction:
    """Wrap a check body: problems become :class:`ConformanceError` with the full line."""

    def run() -> str:
        __tracebackhide__ = True
        label = f"{check} — {target or plugin}"
        try:
            return fn() or ""
        except _Problem as problem:
            raise ConformanceError(f"{label}: {problem}") from problem.__cause__
        except (CheckSkipped, ConformanceError):
            raise
        except Exception as exc:  # an error the check did not anticipate
            raise ConformanceError(
                f"{label}: expected the check to run, got {_describe(exc)}; see the traceback"
            ) from exc

    run.__name__ = run.__qualname__ = f"check_{check}"
    run.__doc__ = f"pynomaly conformance check {check!r} of plugin {plugin!r} on {target!r}"
    return run


class _Memo:
    """Compute once, remember the value or the exception."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[bool, Any]] = {}

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        if key not in self._values:
            try:
                self._values[key] = (True, compute())
            except Exception as exc:
                self._values[key] = (False, exc)
        ok, value = self._values[key]
        if ok:
            return value
        raise value


def _array(values: Any) -> np.ndarray:
    import numpy as np

    return np.asarray(values, dtype=np.float64)


def _close(a: Any, b: Any) -> bool:
    import numpy as np

    a, b = _array(a), _array(b)
    return a.shape == b.shape and bool(np.allclose(a, b, rtol=RTOL, atol=ATOL, equal_nan=True))


def _max_diff(a: Any, b: Any) -> str:
    import numpy as np

    a, b = _array(a), _array(b)
    if a.shape != b.shape:
        return f"shapes {a.shape} and {b.shape}"
    diff = np.abs(a - b)
    differ = int(np.count_nonzero(diff > ATOL + RTOL * np.abs(b)))
    return f"{differ} of {a.size} differ (max {np.nanmax(diff):.3g})"


# ---------------------------------------------------------------------------------------------
# The suite: one plugin, one manager
# ---------------------------------------------------------------------------------------------


class SuiteBase:
    """The checks of one plugin on one manager, sharing data, fits and a temporary folder.

    It calls the plugin's hooks alone (as the manager does) and holds the data every check
    family uses; the check families are mixins (:mod:`pynomaly.testing._algorithm`,
    :mod:`pynomaly.testing._io`), combined in :mod:`pynomaly.testing.conformance`."""

    def __init__(
        self, name: str, manager: PluginManager | None, detectors: Iterable[str] | None
    ) -> None:
        from pynomaly.plugin.manager import PluginManager

        self.name = name
        self.owns_manager = manager is None
        self.pm = manager if manager is not None else PluginManager(allow=[name])
        self.detector_filter = None if detectors is None else list(detectors)
        self.memo = _Memo()
        self._tmp: Path | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self.checked_detectors: list[str] = []
        self.sample_uris: list[tuple[str, str, pd.DataFrame | None]] = []

    # --- resources --------------------------------------------------------------------------

    def tmp(self) -> Path:
        if self._tmp is None:
            self._tmp = Path(tempfile.mkdtemp(prefix="pynomaly-check-"))
            self._finalizer = weakref.finalize(self, shutil.rmtree, self._tmp, True)
        return self._tmp

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()
        if self.owns_manager:
            self.pm.shutdown()

    # --- calling this plugin alone ------------------------------------------------------------

    def plugin_object(self) -> Any:
        return self.pm.get_plugin(self.name)

    def implements(self, hook: str) -> bool:
        obj = self.plugin_object()
        if obj is None:
            return False
        return any(c.name == hook for c in self.pm.get_hookcallers(obj) or [])

    def implemented(self) -> set[str]:
        obj = self.plugin_object()
        return (
            {c.name for c in self.pm.get_hookcallers(obj) or []} if obj else set()
        )

    def hook(self, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` for this plugin alone, as the manager calls lifecycle hooks
        (:meth:`~pynomaly.PluginManager.call_plugin`); the plugin's exceptions propagate raw."""
        from pynomaly.errors import PluginError

        if not self.pm.has_plugin(self.name):
            raise _Problem(
                f"plugin {self.name!r} registered", "it is not registered", "load it first"
            )
        try:
            answer = self.pm.call_plugin(self.name, hook, **kwargs)
        except PluginError as exc:
            if exc.__cause__ is not None:
                raise exc.__cause__ from None
            raise
        frame = self.pm.monitor.last()  # listing and event hooks log a plugin's error: raise it
        for failed in frame.failures() if frame is not None else []:
            if failed.error is not None:
                raise failed.error
        return answer

    def expect_none(self, hook: str, expected: str, fix: str, **kwargs: Any) -> None:
        """``hook`` answers ``None`` for something that is not this plugin's own (an owner hook
        called on every plugin); raising instead keeps the others from their turn."""
        try:
            answer = self.hook(hook, **kwargs)
        except Exception as exc:
            raise _Problem(expected, _describe(exc), fix) from exc
        _expect(answer is None, expected, repr(answer)[:80], fix)

    # --- data ---------------------------------------------------------------------------------

    def breast_cancer(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        def load() -> tuple[pd.DataFrame, pd.DataFrame]:
            from pynomaly.testing.datasets import load_dataset

            X, _ = load_dataset("breast_cancer")
            X = X.iloc[:, :N_FEATURES]
            return X.iloc[:N_TRAIN].reset_index(drop=True), X.iloc[
                N_TRAIN : N_TRAIN + N_TEST
            ].reset_index(drop=True)

        result: tuple[pd.DataFrame, pd.DataFrame] = self.memo.get("breast_cancer", load)
        return result

    def planted(self, key: str) -> tuple[np.ndarray, int | None]:
        """``train`` (100 normal rows + 1 outlier), ``clean`` (100 normal rows) or ``batch``
        (40 new normal rows + 1 outlier): values and the outlier's row (or None)."""

        def make() -> tuple[np.ndarray, int | None]:
            import numpy as np

            from pynomaly.testing.datasets import planted

            n, outliers, seed = {"train": (100, 1, 1), "clean": (100, 0, 2), "batch": (40, 1, 3)}[
                key
            ]
            X, y = planted(n, outliers, 4, distance=OUTLIER_DISTANCE, random_state=seed)
            row = int(np.flatnonzero(y.to_numpy())[0]) if outliers else None
            return np.ascontiguousarray(X.to_numpy(dtype=np.float64)), row

        result: tuple[np.ndarray, int | None] = self.memo.get("planted-" + key, make)
        return result

    def detection_result(self) -> DetectionResult:
        """A small DetectionResult (20 rows, 3 features, 2 anomalies) for output checks."""

        def make() -> DetectionResult:
            import numpy as np

            from pynomaly.detection.results import DetectionResult, Model, labels_for, threshold_for
            from pynomaly.testing.datasets import planted

            X, _ = planted(18, 2, 3, random_state=0)
            scores = np.abs(X.to_numpy()).max(axis=1)
            threshold = threshold_for(scores, CONTAMINATION)
            model = Model(
                detector="conformance:maxabs",
                plugin="pynomaly.testing",
                params={},
                contamination=CONTAMINATION,
                random_state=SEED,
                state=None,
                threshold=threshold,
                feature_names=tuple(X.columns),
                training_scores=scores,
            )
            return DetectionResult(
                scores=scores,
                labels=labels_for(scores, threshold),
                threshold=threshold,
                index=X.index,
                detector=model.detector,
                model=model,
                source="<conformance>",
                data=X,
            )

        return make()  # fresh each time: a plugin under test might change it


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _raiser(exc: BaseException) -> Callable[[], str]:
    def run() -> str:
        raise exc

    return run
