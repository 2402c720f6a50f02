"""Conformance checks for pynomaly plugins, in the spirit of scikit-learn's ``check_estimator``.

:func:`check_plugin` runs every check that fits a plugin's types on that plugin and returns a
:class:`CheckReport`; :func:`iter_checks` yields the checks one by one, so that a test runner
can make each its own test (the ``pynomaly`` pytest plugin does, for ``--pynomaly-check``).

Every check calls the plugin through a :class:`~pynomaly.PluginManager`, with small real data
(a breast-cancer subsample) and generated data with a planted outlier. A failure says which
check, on which detector/URI/format, what was expected, what came back and how to fix it::

    scores_finite — good:maxz: expected finite scores, got 3 NaN/inf among 120 training
    scores; never divide by a zero spread (add a small epsilon) …

Check callables return a message when they pass, raise :class:`ConformanceError` (an
``AssertionError``) when they fail and :class:`CheckSkipped` (a ``unittest.SkipTest``, which
pytest reports as skipped) when the check does not apply.

The checks, by plugin type:

* every plugin: ``hookimpls``, ``loads``, ``metadata``, ``compat``, ``config_schema``,
  ``health_check`` and, last, ``lifecycle`` (unload, load, use again).
* algorithm: ``detector_list`` and, per available detector, ``param_space``, ``param_values``,
  ``one_score_per_row``, ``scores_finite``, ``higher_is_anomalous``, ``reproducible``,
  ``input_unchanged``, ``score_new_data``, ``batch_independent`` (for detectors that declare
  it: rows scored alone and in batches of 7 score as in one batch), ``threaded_scoring`` (for
  detectors that declare it: threads scoring parts of a batch at once score as one call),
  ``explain``, ``pickle``.
* data source: ``data_sources``; per sample URI ``connect``, ``read_data``, ``get_schema``,
  ``test_connection``; ``unknown_uri``; per missing URI ``missing_source``.
* output: ``outputs``, ``unknown_format``; per format ``format_output`` and ``export_data``;
  ``send_notification``.
* processing: ``validate_accepts_good``, ``validate_rejects_empty``, ``validate_rejects_nan``,
  ``preprocess_pure``, ``postprocess``.

Sample URIs of a data-source plugin: a temporary file for every extension the kit can write
(CSV, gzipped CSV, TSV, Parquet), plus the URIs the plugin object lists in an attribute
``PYNOMALY_SAMPLE_URIS`` (``["sample:wbc"]`` is known for the built-in ``samples``).
"""

from __future__ import annotations

import difflib
import inspect
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pynomaly import hookspecs
from pynomaly._version import __version__
from pynomaly.errors import ConfigurationError, InputError, PynomalyError
from pynomaly.hookspecs import PLUGIN_TYPES
from pynomaly.markers import PROJECT_NAME
from pynomaly.plugin.records import PluginStatus
from pynomaly.services import data as data_service
from pynomaly.services import detectors as detector_service
from pynomaly.testing._algorithm import AlgorithmChecks
from pynomaly.testing._core import (
    CONTAMINATION,
    SEED,
    CheckFunction,
    CheckReport,
    CheckResult,
    CheckSkipped,
    ConformanceError,
    _bind,
    _describe,
    _expect,
    _Problem,
    _raiser,
    _skip,
)
from pynomaly.testing._io import DataSourceChecks, OutputChecks, ProcessingChecks
from pynomaly.testing.recorder import HookRecorder
from pynomaly.types import Connection, PluginType

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.manager import PluginManager

__all__ = [
    "CheckReport",
    "CheckResult",
    "CheckSkipped",
    "ConformanceError",
    "check_plugin",
    "iter_checks",
    "run_check",
]


# ---------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------


def iter_checks(
    name: str,
    *,
    manager: PluginManager | None = None,
    detectors: Iterable[str] | None = None,
) -> Iterator[tuple[str, str, CheckFunction]]:
    """Yield ``(check_name, target, check)`` for every check that fits plugin ``name``.

    Loading the plugin and listing its detectors happen while iterating; data is fitted only
    when a check runs (checks of one detector share their fits). Run the checks in the order
    given: ``lifecycle``, which unloads and reloads the plugin, comes last.

    Without ``manager`` a new one is made with the built-in plugins and ``name`` allowed
    (entry points, and the local plugins directory if ``PYNOMALY_PLUGINS_DIR`` names one).
    """
    suite = _Suite(name, manager, detectors)
    yield from suite.checks()


def check_plugin(
    name: str,
    *,
    manager: PluginManager | None = None,
    detectors: Iterable[str] | None = None,
) -> CheckReport:
    """Run every conformance check that fits plugin ``name``; see the module docstring.

    ``detectors`` limits the detectors checked (default: every available detector of the
    plugin). Call :meth:`CheckReport.raise_for_failures` to turn failures into an
    ``AssertionError`` listing each of them.
    """
    suite = _Suite(name, manager, detectors)
    report = CheckReport(name)
    try:
        for check, target, fn in suite.checks():
            report.results.append(run_check(check, target, fn))
    finally:
        suite.close()
    return report


def run_check(check: str, target: str, fn: CheckFunction) -> CheckResult:
    """Run one check callable and turn its outcome into a :class:`CheckResult`."""
    start = time.perf_counter()
    try:
        message = fn()
    except CheckSkipped as exc:
        return CheckResult(check, target, True, str(exc), True, time.perf_counter() - start)
    except ConformanceError as exc:
        text = str(exc)
        prefix = f"{check} — "
        if text.startswith(prefix) and ": " in text:  # keep only "expected …, got …; fix"
            text = text.split(": ", 1)[1]
        return CheckResult(check, target, False, text, False, time.perf_counter() - start)
    return CheckResult(check, target, True, message or "", False, time.perf_counter() - start)


# ---------------------------------------------------------------------------------------------
# Internals
# ---------------------------------------------------------------------------------------------


class _Suite(AlgorithmChecks, DataSourceChecks, OutputChecks, ProcessingChecks):
    """Every check of one plugin: the plan, and the checks that apply to every plugin."""

    def checks(self) -> Iterator[tuple[str, str, CheckFunction]]:
        def item(
            check: str, target: str, fn: Callable[[], str | None]
        ) -> tuple[str, str, CheckFunction]:
            return check, target, _bind(self.name, check, target, fn)

        try:
            record = self.pm.record(self.name)
        except InputError as exc:
            known = str(exc).split("known plugins: ", 1)[-1].rstrip(")")
            problem = _Problem(
                f"a plugin named {self.name!r} that the manager can load (entry point, local "
                "plugins directory or registered)",
                f"none (known plugins: {known})",
                "check the name (`pynomaly plugins list`), install its distribution, or set "
                "PYNOMALY_PLUGINS_DIR to the directory holding its file",
            )
            yield item("loads", "", _raiser(problem))
            return
        load_error = ""
        if record.status is not PluginStatus.LOADED:
            try:
                self.pm.load(self.name)
            except PynomalyError as exc:
                load_error = str(exc)
            record = self.pm.record(self.name)
        yield item("hookimpls", "", lambda: self.check_hookimpls(record.reason or load_error))
        yield item("loads", "", lambda: self.check_loads(record.reason or load_error))
        if record.status is not PluginStatus.LOADED:
            return
        yield item("metadata", "", self.check_metadata)
        yield item("compat", "", self.check_compat)
        yield item("config_schema", "", self.check_config_schema)
        yield item("health_check", "", self.check_health)
        types = set(record.metadata.plugin_types) if record.metadata else set()
        types |= {t for h in self.implemented() if (t := _plugin_type(h)) is not None}
        if PluginType.ALGORITHM in types:
            yield from (item(*c) for c in self.algorithm_checks())
        if PluginType.DATA_SOURCE in types:
            yield from (item(*c) for c in self.data_source_checks())
        if PluginType.OUTPUT in types:
            yield from (item(*c) for c in self.output_checks())
        if PluginType.PROCESSING in types:
            yield from (item(*c) for c in self.processing_checks())
        yield item("lifecycle", "", lambda: self.check_lifecycle(types))

    # =========================================================================================
    # Every plugin
    # =========================================================================================

    def check_hookimpls(self, reason: str) -> str:
        _expect(
            not reason.startswith("invalid hookimpl") and "is not a pynomaly hook" not in reason,
            "hookimpls whose names and arguments match pynomaly.hookspecs",
            f"registration refused: {reason}",
            "name each function after a hook in pynomaly/hookspecs.py and use only that hook's "
            "argument names (a subset is fine)",
        )
        obj = self.plugin_object()
        if obj is None:
            raise _skip(f"the plugin object is not registered ({reason or 'not loaded'})")
        specs = [n for n in dir(hookspecs) if n.startswith("pynomaly_")]
        problems = []
        for attr in dir(obj):
            if not attr.startswith("pynomaly_"):
                continue
            value = getattr(obj, attr, None)
            if not inspect.isroutine(value) or hasattr(value, PROJECT_NAME + "_impl"):
                continue
            if attr in specs:
                problems.append(f"{attr} is not decorated with @pynomaly.hookimpl")
            else:
                close = difflib.get_close_matches(attr, specs, n=1, cutoff=0.85)
                if close:
                    problems.append(f"{attr} is not a hook (did you mean {close[0]}?)")
        _expect(
            not problems,
            "every pynomaly_* function to be a marked hookimpl",
            "; ".join(problems),
            "decorate hook functions with @pynomaly.hookimpl (pluggy ignores unmarked ones) "
            "and spell them as in pynomaly/hookspecs.py",
        )
        return f"{len(self.implemented())} hookimpls registered"

    def check_loads(self, reason: str) -> str:
        record = self.pm.record(self.name)
        _expect(
            record.status is PluginStatus.LOADED,
            f"plugin {self.name!r} to load",
            f"status {record.status.value}: {reason or record.reason}",
            "fix the reason above (import error, metadata, compatibility, configuration or "
            "pynomaly_initialize)",
        )
        return f"loaded from {record.origin}"

    def check_metadata(self) -> str:
        from packaging.requirements import InvalidRequirement, Requirement
        from packaging.version import InvalidVersion, Version

        meta = self.pm.record(self.name).metadata
        fix = "return a complete PluginMetadata(...) from pynomaly_plugin_metadata"
        _expect(
            self.implements("pynomaly_plugin_metadata"),
            "a pynomaly_plugin_metadata hookimpl",
            "none (metadata was guessed from the distribution and the hooks)",
            fix,
        )
        assert meta is not None
        _expect(bool(meta.name.strip()), "a non-empty name", repr(meta.name), fix)
        try:
            Version(meta.version)
        except InvalidVersion:
            raise _Problem("a PEP 440 version (e.g. '1.2.0')", repr(meta.version), fix) from None
        _expect(
            bool(meta.plugin_types),
            "non-empty plugin_types",
            "none",
            fix + " with plugin_types=[PluginType.ALGORITHM, ...]",
        )
        _expect(bool(meta.description.strip()), "a description", "an empty one", fix)
        missing = sorted(
            {
                f"{t.value} (it implements {h})"
                for h in sorted(self.implemented())
                if (t := _plugin_type(h)) is not None and t not in meta.plugin_types
            }
        )
        _expect(
            not missing,
            "plugin_types covering the hooks implemented",
            "missing " + ", ".join(missing),
            "add those types to PluginMetadata.plugin_types",
        )
        for dep in meta.dependencies:
            try:
                Requirement(dep)
            except InvalidRequirement:
                raise _Problem(
                    "PEP 508 requirement strings in dependencies (e.g. 'scikit-learn>=1.3')",
                    repr(dep),
                    fix,
                ) from None
        return (
            f"{meta.name} {meta.version}: {', '.join(sorted(t.value for t in meta.plugin_types))}"
        )

    def check_compat(self) -> str:
        from packaging.specifiers import InvalidSpecifier, SpecifierSet

        meta = self.pm.record(self.name).metadata
        assert meta is not None
        fix = (
            "set PluginMetadata(pynomaly_compat='>=1.0,<2'), a PEP 440 specifier of the pynomaly "
            "versions the plugin works with"
        )
        _expect(bool(meta.pynomaly_compat.strip()), "a pynomaly_compat specifier", "none", fix)
        try:
            spec = SpecifierSet(meta.pynomaly_compat)
        except InvalidSpecifier:
            raise _Problem("a valid PEP 440 specifier", repr(meta.pynomaly_compat), fix) from None
        _expect(
            spec.contains(__version__, prereleases=True),
            f"a specifier that includes the running pynomaly {__version__}",
            repr(meta.pynomaly_compat),
            fix,
        )
        return f"pynomaly{meta.pynomaly_compat} includes {__version__}"

    def check_config_schema(self) -> str:
        import jsonschema

        from pynomaly.plugin.config import validate_config

        meta = self.pm.record(self.name).metadata
        assert meta is not None
        schema = dict(meta.config_schema)
        if not schema:
            raise _skip("declares no config_schema: its configuration is not validated")
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            raise _Problem(
                "config_schema to be valid JSON Schema",
                f"{exc.message} (at {'/'.join(map(str, exc.absolute_path)) or 'the top'})",
                "fix the schema; jsonschema's check_schema explains the problem",
            ) from None
        bad: list[tuple[str, dict[str, Any]]] = []
        if schema.get("additionalProperties") is False:
            bad.append(("an unknown key", {"__no_such_key__": 1}))
        for key, prop in (schema.get("properties") or {}).items():
            wrong = _wrong_type(prop) if isinstance(prop, Mapping) else None
            if wrong is not None:
                bad.append((f"a wrong type for {key!r}", {key: wrong[0]}))
        if not bad:
            raise _skip(
                "config_schema accepts any configuration (no additionalProperties: false and "
                "no typed properties), so there is no bad configuration to try"
            )
        for what, config in bad:
            try:
                validate_config(self.name, schema, config)
            except ConfigurationError:
                continue
            raise _Problem(
                f"config_schema to reject {what} ({config!r})",
                "it was accepted",
                "declare the properties' types and set additionalProperties: false",
            )
        return f"valid JSON Schema; rejected {len(bad)} bad configuration(s)"

    def check_health(self) -> str:
        if not self.implements("pynomaly_health_check"):
            return "no pynomaly_health_check: reported healthy by default"
        fix = "return {'status': 'healthy'} or {'status': 'unhealthy', 'reason': '...'}"
        try:
            health = self.hook("pynomaly_health_check")
        except Exception as exc:
            raise _Problem(
                "pynomaly_health_check to report, not raise", _describe(exc), fix
            ) from exc
        _expect(isinstance(health, Mapping), "a mapping", type(health).__name__, fix)
        status = health.get("status")
        _expect(
            status in ("healthy", "unhealthy"),
            "status 'healthy' or 'unhealthy'",
            repr(status),
            fix,
        )
        if status == "unhealthy":
            _expect(
                bool(str(health.get("reason", "")).strip()),
                "a 'reason' with status 'unhealthy'",
                "none",
                fix,
            )
            return f"unhealthy: {health['reason']}"
        return "healthy"

    def check_lifecycle(self, types: set[PluginType]) -> str:
        record = self.pm.record(self.name)
        config = self.pm.config_of(self.name)
        with HookRecorder(self.pm) as rec:
            self.pm.unload(self.name)
            _expect(
                self.pm.record(self.name).status is PluginStatus.UNLOADED
                and self.plugin_object() is None,
                "unload() to unregister the plugin",
                f"status {self.pm.record(self.name).status.value}",
                "report this to pynomaly",
            )
            try:
                self.pm.load(self.name, config)
            except PynomalyError as exc:
                raise _Problem(
                    "the plugin to load again after pynomaly_cleanup",
                    _describe(exc),
                    "make pynomaly_initialize work after pynomaly_cleanup (reset module state "
                    "in cleanup, re-create it in initialize)",
                ) from exc
        failed = [c for c in rec.getcalls("cleanup", "initialize") if c.error is not None]
        _expect(
            not failed,
            "pynomaly_cleanup and pynomaly_initialize to succeed",
            ", ".join(f"{c.hook} raised {_describe(c.error)}" for c in failed if c.error),
            "release and re-acquire resources without raising",
        )
        status = self.pm.record(self.name).status
        _expect(
            status is PluginStatus.LOADED,
            "the plugin loaded again",
            f"status {status.value}: {self.pm.record(self.name).reason}",
            "make pynomaly_initialize work after pynomaly_cleanup",
        )
        done = [f"unloaded ({record.origin}) and loaded again"]
        if PluginType.ALGORITHM in types and self.checked_detectors:
            detector = self.checked_detectors[0]
            try:
                X = self.fit_width(detector, self.breast_cancer()[0].to_numpy("float64", copy=True))
                detector_service.fit(self.pm, detector, X, {}, CONTAMINATION, SEED)
            except Exception as exc:
                raise _Problem(
                    f"{detector} to fit after unload and load",
                    _describe(exc),
                    "re-create in pynomaly_initialize whatever pynomaly_cleanup released",
                ) from exc
            done.append(f"fitted {detector}")
        if PluginType.DATA_SOURCE in types and self.sample_uris:
            uri = self.sample_uris[0][1]
            try:  # a new connection: the plugin may have dropped its handles in cleanup
                handle = self.hook("pynomaly_connect", uri=uri, options={})
                connection = Connection(uri=uri, plugin=self.name, handle=handle)
                data_service.read_data(self.pm, connection)
            except Exception as exc:
                raise _Problem(
                    f"{uri} to read after unload and load",
                    _describe(exc),
                    "re-create in pynomaly_initialize whatever pynomaly_cleanup released",
                ) from exc
            done.append(f"read {uri}")
        if PluginType.OUTPUT in types and self.implements("pynomaly_outputs"):
            try:
                outputs = list(self.hook("pynomaly_outputs") or [])
                if outputs and self.implements("pynomaly_format_output"):
                    self.hook(
                        "pynomaly_format_output",
                        result=self.detection_result(),
                        fmt=outputs[0].name,
                        options={},
                    )
            except Exception as exc:
                raise _Problem(
                    "the outputs to work after unload and load",
                    _describe(exc),
                    "re-create in pynomaly_initialize whatever pynomaly_cleanup released",
                ) from exc
            done.append("listed and rendered outputs")
        return "; ".join(done)


def _wrong_type(prop: Mapping[str, Any]) -> tuple[Any] | None:
    """A value of a JSON type the property does not allow, or None if it allows any."""
    declared = prop.get("type")
    if declared is None:
        return None
    allowed = {declared} if isinstance(declared, str) else set(declared)
    if "number" in allowed:
        allowed.add("integer")
    candidates: list[tuple[str, Any]] = [
        ("string", "pynomaly-check-wrong-type"),
        ("object", {"pynomaly": 1}),
        ("array", [1]),
        ("boolean", True),
        ("number", 0.5),
    ]
    for json_type, value in candidates:
        if json_type not in allowed:
            return (value,)
    return None


def _plugin_type(hook: str) -> PluginType | None:
    """The plugin type a hook belongs to (:data:`pynomaly.hookspecs.PLUGIN_TYPES`)."""
    value = PLUGIN_TYPES.get(hook)
    return None if value is None else PluginType(value)
