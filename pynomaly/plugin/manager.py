"""The plugin manager: a typed facade over :class:`pluggy.PluginManager`.

Callers never touch ``pm.hook``. Every hook is called on one plugin at a time, so that

* a failing plugin is named in the error (``PluginError(plugin, hook, ...)``),
* a plugin that breaks while listing or observing is reported and skipped, never fatal,
* hook statistics are exact per plugin (see :mod:`pynomaly.plugin.monitor`).
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from pynomaly import hookspecs
from pynomaly._log import get_logger
from pynomaly._version import __version__
from pynomaly.errors import (
    AmbiguousDetectorError,
    InputError,
    PluginError,
    PluginLoadError,
    PynomalyError,
    SourceNotFoundError,
    UnknownDetectorError,
)
from pynomaly.markers import PROJECT_NAME
from pynomaly.plugin import discovery
from pynomaly.plugin.compat import is_compatible
from pynomaly.plugin.config import validate_config
from pynomaly.plugin.monitor import HookMonitor, HookStats
from pynomaly.plugin.records import PluginRecord, PluginStatus
from pynomaly.plugin.settings import Settings
from pynomaly.redact import mask_uri
from pynomaly.types import (
    Connection,
    DetectorInfo,
    FitResult,
    OutputInfo,
    PluginMetadata,
    PluginType,
    ProcessingStep,
    SourceInfo,
    StepInfo,
)

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import pandas as pd

    from pynomaly.detection.results import DetectionResult

log = get_logger("pynomaly.plugins")

# Which plugin type a hook belongs to: infers the types of a plugin without metadata, and
# the testing kit checks declared types against it.
HOOK_TYPES: dict[str, PluginType] = {
    "pynomaly_detectors": PluginType.ALGORITHM,
    "pynomaly_fit": PluginType.ALGORITHM,
    "pynomaly_score": PluginType.ALGORITHM,
    "pynomaly_explain": PluginType.ALGORITHM,
    "pynomaly_data_sources": PluginType.DATA_SOURCE,
    "pynomaly_connect": PluginType.DATA_SOURCE,
    "pynomaly_read_data": PluginType.DATA_SOURCE,
    "pynomaly_outputs": PluginType.OUTPUT,
    "pynomaly_format_output": PluginType.OUTPUT,
    "pynomaly_export_data": PluginType.OUTPUT,
    "pynomaly_send_notification": PluginType.OUTPUT,
    "pynomaly_preprocess": PluginType.PROCESSING,
    "pynomaly_postprocess": PluginType.PROCESSING,
    "pynomaly_validate": PluginType.PROCESSING,
    "pynomaly_create_step": PluginType.PROCESSING,
}


_F = TypeVar("_F", bound=Callable[..., Any])


def _locked(method: _F) -> _F:
    """Serialize a method that changes which plugins are registered or loaded: services and
    :mod:`pynomaly.aio` use one manager from several threads."""

    @functools.wraps(method)
    def wrapper(self: PluginManager, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _resolve(value: Any) -> Any:
    """Run a coroutine returned by an ``async def`` hookimpl to completion."""
    if not inspect.isawaitable(value):
        return value
    import asyncio  # only async plugins pay for importing asyncio

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_await(value))
    value.close() if inspect.iscoroutine(value) else None
    raise RuntimeError(
        "an async plugin hook was called from a running event loop: use pynomaly.aio instead"
    )


async def _await(value: Any) -> Any:
    return await value


class PluginManager:
    """Discovers, loads and calls pynomaly plugins.

    >>> pm = PluginManager(disable=["samples"])      # doctest: +SKIP
    >>> [r.name for r in pm.discover()]               # doctest: +SKIP

    Arguments not given are read from ``PYNOMALY_*`` environment variables (see
    :class:`~pynomaly.plugin.settings.Settings`). Nothing is imported until :meth:`discover`
    (or any method that needs plugins) runs.
    """

    def __init__(
        self,
        *,
        disable: Iterable[str] = (),
        allow: Iterable[str] | None = None,
        autoload: bool | None = None,
        strict: bool | None = None,
        plugins_dir: str | None = None,
        config: Mapping[str, Mapping[str, Any]] | None = None,
        settings: Settings | None = None,
    ) -> None:
        self.settings = settings or Settings.from_env(
            disable=disable,
            allow=allow,
            autoload=autoload,
            strict=strict,
            plugins_dir=plugins_dir,
            config=config,
        )
        self._pm = pluggy.PluginManager(PROJECT_NAME)
        self._pm.add_hookspecs(hookspecs)
        self._monitor = HookMonitor(self._pm)
        if self.settings.trace:
            self._pm.trace.root.setwriter(sys.stderr.write)
            self._pm.enable_tracing()
        self._records: dict[str, PluginRecord] = {}
        self._candidates: dict[str, discovery.Candidate] = {}
        self._configs: dict[str, Mapping[str, Any]] = {}
        self._callers: dict[tuple[str, str], tuple[Callable[..., Any], bool]] = {}
        self._detectors: dict[str, DetectorInfo] | None = None
        self._discovered = False
        self._lock = threading.RLock()

    # ----------------------------------------------------------------------------------------
    # Discovery and lifecycle
    # ----------------------------------------------------------------------------------------

    @_locked
    def discover(self) -> list[PluginRecord]:
        """Find, import and register every selected plugin; idempotent.

        Built-ins come first, then entry points (group ``pynomaly.plugins``), then the local
        plugins directory. A plugin that fails is recorded as ``failed`` with its reason
        (raised as :class:`PluginLoadError` in strict mode); disabled plugins are never imported.
        """
        if not self._discovered:
            self._discovered = True
            s = self.settings
            for cand in discovery.builtin_candidates():
                if cand.name in s.disable:
                    self._set(cand, PluginStatus.DISABLED, "disabled by -p no:NAME / disable=")
                else:
                    self._import(cand)
            for cand in [
                *discovery.entry_point_candidates(),
                *discovery.local_candidates(s.plugins_dir),
            ]:
                selected, why = s.selects(cand.name)
                if cand.name in self._records:
                    self._fail(cand, f"name already used by {self._records[cand.name].origin}")
                elif selected:
                    self._import(cand)
                else:
                    self._set(cand, PluginStatus.DISABLED, why)
        return self.records()

    @_locked
    def load_all(self) -> list[PluginRecord]:
        """Discover, then initialize every discovered plugin with its configured config."""
        self.discover()
        for rec in list(self._records.values()):
            if rec.status is PluginStatus.DISCOVERED:
                self._initialize(rec, self.settings.config.get(rec.name, {}))
        return self.records()

    @_locked
    def load(self, name: str, config: Mapping[str, Any] | None = None) -> PluginRecord:
        """Initialize the discovered plugin ``name`` with ``config`` (validated first).

        Loading a loaded plugin again with no config is a no-op. Raises
        :class:`PluginLoadError` if the plugin is disabled or failed, and
        :class:`~pynomaly.errors.ConfigurationError` if ``config`` does not fit its schema.
        """
        self.discover()
        rec = self.record(name)
        if rec.status is PluginStatus.UNLOADED:
            self._import(self._candidates[name])
            rec = self.record(name)
        if rec.status is PluginStatus.LOADED:
            if config is not None:
                self.configure(name, config)
            return rec
        if rec.status is not PluginStatus.DISCOVERED:
            raise PluginLoadError(name, rec.reason or rec.status.value)
        cfg = config if config is not None else self.settings.config.get(name, {})
        assert rec.metadata is not None
        validate_config(name, rec.metadata.config_schema, cfg)
        self._initialize(rec, cfg)
        if rec.status is not PluginStatus.LOADED:
            raise PluginLoadError(name, rec.reason)
        return rec

    @_locked
    def register(
        self, plugin: object, name: str | None = None, *, config: Mapping[str, Any] | None = None
    ) -> str:
        """Register and load a plugin object (module or instance) by hand; returns its name.

        Registering the same object twice is harmless. A class instead of an instance is a
        :class:`TypeError`. Failures raise :class:`PluginLoadError`: explicit registration is
        never silently skipped.
        """
        self.discover()
        if isinstance(plugin, type):
            raise TypeError(
                f"register() needs a plugin module or instance, got the class {plugin.__name__}; "
                f"pass {plugin.__name__}() instead"
            )
        if self._pm.is_registered(plugin):
            return self._pm.get_name(plugin) or ""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__.lower()
        taken = self._records.get(name)
        if taken is not None and taken.status in (PluginStatus.DISCOVERED, PluginStatus.LOADED):
            raise ValueError(f"a plugin named {name!r} is already registered; pass another name")
        cand = discovery.Candidate(name, "registered", "manual", lambda: plugin)
        self._import(cand, raise_errors=True)
        self.load(name, config)
        return name

    @_locked
    def unload(self, name: str) -> None:
        """Run the plugin's cleanup hook and unregister it; its hooks are no longer called."""
        rec = self.record(name)
        if rec.status is PluginStatus.LOADED:
            self._cleanup(rec)
        if rec.plugin is not None and self._pm.is_registered(rec.plugin):
            self._pm.unregister(rec.plugin)
            self._changed()
        rec.status, rec.reason = PluginStatus.UNLOADED, "unloaded"

    @_locked
    def reload(self, name: str) -> PluginRecord:
        """Unload ``name``, import its module afresh and load it with the same configuration."""
        rec = self.record(name)
        config = self._configs.get(name)
        cand = self._candidates[name]
        self.unload(name)
        if cand.kind in ("entrypoint", "local") and inspect.ismodule(rec.plugin):
            if cand.kind == "entrypoint":
                importlib.reload(rec.plugin)
            rec.plugin = None  # a local file is executed again by its loader
        return self.load(name, config)

    @_locked
    def configure(self, name: str, config: Mapping[str, Any]) -> None:
        """Validate ``config`` and pass it to the loaded plugin's ``pynomaly_configure``."""
        rec = self._loaded_record(name)
        assert rec.metadata is not None
        validate_config(name, rec.metadata.config_schema, config)
        self._call(name, "pynomaly_configure", config=config)
        self._configs[name] = config

    def health_check_all(self) -> dict[str, dict[str, Any]]:
        """``pynomaly_health_check`` of every loaded plugin; failed plugins are unhealthy."""
        self.load_all()
        report: dict[str, dict[str, Any]] = {}
        for rec in self._records.values():
            if rec.status is PluginStatus.FAILED:
                report[rec.name] = {"status": "unhealthy", "reason": rec.reason}
            elif rec.status is PluginStatus.LOADED:
                report[rec.name] = self.health_check(rec.name)
        return report

    def health_check(self, name: str) -> dict[str, Any]:
        """One plugin's health: ``{"status": "healthy" | "unhealthy", ...}``."""
        self._loaded_record(name)
        try:
            result = self._call(name, "pynomaly_health_check")
        except PynomalyError as exc:
            return {"status": "unhealthy", "reason": str(exc)}
        if result is None:
            return {"status": "healthy"}
        result = dict(result)
        if result.get("status") not in ("healthy", "unhealthy"):
            return {
                "status": "unhealthy",
                "reason": f"health_check returned status {result.get('status')!r}; "
                "expected 'healthy' or 'unhealthy'",
            }
        return result

    @_locked
    def shutdown(self) -> None:
        """Clean up every loaded plugin (errors are logged, never raised)."""
        for rec in self._records.values():
            if rec.status is PluginStatus.LOADED:
                self._cleanup(rec)
                rec.status = PluginStatus.DISCOVERED

    # ----------------------------------------------------------------------------------------
    # Introspection
    # ----------------------------------------------------------------------------------------

    def records(self) -> list[PluginRecord]:
        """Every plugin seen so far, whatever its status."""
        return list(self._records.values())

    def record(self, name: str) -> PluginRecord:
        self.discover()
        try:
            return self._records[name]
        except KeyError:
            known = ", ".join(sorted(self._records)) or "none"
            raise InputError(f"no plugin named {name!r} (known plugins: {known})") from None

    def available(self, plugin_type: PluginType | str | None = None) -> list[PluginMetadata]:
        """Metadata of the plugins that can be used (discovered or loaded), by type."""
        self.discover()
        wanted = PluginType(plugin_type) if plugin_type is not None else None
        return [
            r.metadata
            for r in self._records.values()
            if r.metadata is not None
            and r.status in (PluginStatus.DISCOVERED, PluginStatus.LOADED)
            and (wanted is None or wanted in r.metadata.plugin_types)
        ]

    def loaded(self) -> list[str]:
        """Names of the loaded plugins, in load order."""
        return [r.name for r in self._records.values() if r.status is PluginStatus.LOADED]

    def config_of(self, name: str) -> Mapping[str, Any]:
        """The configuration the loaded plugin ``name`` was last initialized or configured with."""
        self._loaded_record(name)
        return dict(self._configs.get(name, {}))

    @property
    def pluggy_manager(self) -> pluggy.PluginManager:
        """The underlying :class:`pluggy.PluginManager`, for tools that observe hook calls
        (the testing kit's recorder). Hooks called through it bypass pynomaly's per-plugin
        isolation and error reporting: applications use this facade's methods instead."""
        return self._pm

    def stats(self) -> list[HookStats]:
        """Hook calls, errors and cumulative time, per plugin and hook."""
        return self._monitor.stats()

    # ----------------------------------------------------------------------------------------
    # Algorithm hooks
    # ----------------------------------------------------------------------------------------

    @_locked
    def detectors(self) -> list[DetectorInfo]:
        """Every detector of every loaded plugin, available or not, sorted by id."""
        if self._detectors is None:
            found: dict[str, DetectorInfo] = {}
            for plugin, infos in self._collect("pynomaly_detectors"):
                for info in infos:
                    if info.id in found:
                        log.warning(
                            "detector %s of plugin %s ignored: plugin %s already provides it",
                            info.id,
                            plugin,
                            found[info.id].plugin,
                        )
                        continue
                    found[info.id] = _with_plugin(info, plugin)
            self._detectors = dict(sorted(found.items()))
        return list(self._detectors.values())

    def resolve_detector(self, detector_id: str) -> DetectorInfo:
        """The detector for a full (``pyod:ecod``) or unambiguous short (``ecod``) id."""
        self.detectors()
        assert self._detectors is not None
        info = self._detectors.get(detector_id)
        if info is None:
            matches = [d for d in self._detectors.values() if d.short_id == detector_id]
            if len(matches) > 1:
                ids = ", ".join(d.id for d in matches)
                raise AmbiguousDetectorError(
                    f"detector {detector_id!r} is ambiguous: use one of {ids}"
                )
            if not matches:
                import difflib

                close = difflib.get_close_matches(detector_id, list(self._detectors), n=3)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                raise UnknownDetectorError(
                    f"unknown detector {detector_id!r}{hint} (`pynomaly detectors` lists them)"
                )
            info = matches[0]
        if not info.available:
            raise InputError(f"detector {info.id} is unavailable: {info.reason}")
        return info

    def validate_parameters(self, detector_id: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """The owner plugin's checked (and possibly normalized) parameters."""
        info = self.resolve_detector(detector_id)
        result = self._call(
            info.plugin, "pynomaly_validate_parameters", detector_id=info.id, params=dict(params)
        )
        return dict(params) if result is None else dict(result)

    def fit(
        self,
        detector_id: str,
        X: np.ndarray,
        params: Mapping[str, Any],
        contamination: float,
        random_state: int | None,
    ) -> FitResult:
        """Fit through the owner plugin, framed by the fit events."""
        info = self.resolve_detector(detector_id)
        n, m = X.shape
        self._broadcast("pynomaly_before_fit", detector_id=info.id, n_samples=n, n_features=m)
        start = time.perf_counter()
        try:
            result = self._call(
                info.plugin,
                "pynomaly_fit",
                detector_id=info.id,
                X=X,
                params=params,
                contamination=contamination,
                random_state=random_state,
            )
            if not isinstance(result, FitResult):
                raise PluginError(
                    info.plugin, "pynomaly_fit", f"returned {type(result).__name__}, not FitResult"
                )
        except BaseException as exc:
            self._broadcast("pynomaly_on_fit_error", detector_id=info.id, error=exc)
            raise
        self._broadcast(
            "pynomaly_after_fit",
            detector_id=info.id,
            n_samples=n,
            duration=time.perf_counter() - start,
        )
        return result

    def score(self, detector_id: str, state: Any, X: np.ndarray) -> np.ndarray:
        """Score one batch through the owner plugin, framed by the score events."""
        info = self.resolve_detector(detector_id)
        n = X.shape[0]
        self._broadcast("pynomaly_before_score", detector_id=info.id, n_samples=n)
        start = time.perf_counter()
        try:
            scores = self._call(
                info.plugin, "pynomaly_score", detector_id=info.id, state=state, X=X
            )
            if scores is None:
                raise PluginError(
                    info.plugin, "pynomaly_score", "returned None for its own detector"
                )
        except BaseException as exc:
            self._broadcast("pynomaly_on_score_error", detector_id=info.id, error=exc)
            raise
        self._broadcast(
            "pynomaly_after_score",
            detector_id=info.id,
            n_samples=n,
            duration=time.perf_counter() - start,
        )
        return scores

    def explain(self, detector_id: str, state: Any, X: np.ndarray) -> np.ndarray:
        """Per-feature importances from the first plugin that answers, else by ablation."""
        info = self.resolve_detector(detector_id)
        _, result = self._first("pynomaly_explain", detector_id=info.id, state=state, X=X)
        if result is None:  # no plugin explains this detector: measure it from the outside
            from pynomaly.detection.explain import ablation_importance

            result = ablation_importance(lambda Z: self.score(info.id, state, Z), X)
        return result

    # ----------------------------------------------------------------------------------------
    # Data source hooks
    # ----------------------------------------------------------------------------------------

    def data_sources(self) -> list[SourceInfo]:
        return [
            _with_plugin(info, plugin)
            for plugin, infos in self._collect("pynomaly_data_sources")
            for info in infos
        ]

    def connect(self, uri: str, options: Mapping[str, Any] | None = None) -> Connection:
        """Open ``uri`` with the first data-source plugin that accepts it."""
        options = dict(options or {})
        plugin, handle = self._first("pynomaly_connect", uri=uri, options=options)
        shown = mask_uri(uri)  # a connection, its errors and results never carry a password
        if plugin is None:
            kinds = sorted(
                {f"{s}:" for src in self.data_sources() for s in src.schemes}
                | {e for src in self.data_sources() for e in src.extensions}
            )
            raise SourceNotFoundError(
                f"{shown}: no data source plugin reads this (known: {', '.join(kinds)})"
            )
        return Connection(uri=shown, plugin=plugin, handle=handle, options=options)

    def read_data(
        self, connection: Connection, query: Mapping[str, Any] | None = None
    ) -> pd.DataFrame:
        return self._owned(connection, "pynomaly_read_data", query=dict(query or {}))

    def read_batches(
        self, connection: Connection, batch_size: int, query: Mapping[str, Any] | None = None
    ) -> Iterator[pd.DataFrame]:
        """Batches of ``batch_size`` rows, or the whole data as one batch if the owner plugin
        cannot read in batches."""
        if batch_size < 1:
            raise InputError(f"batch size must be at least 1, got {batch_size}")
        batches = self._call(
            connection.plugin,
            "pynomaly_read_batches",
            connection=connection,
            query=dict(query or {}),
            batch_size=batch_size,
        )
        if batches is None:
            return iter([self.read_data(connection, query)])
        return iter(batches)

    def write_data(
        self,
        connection: Connection,
        data: pd.DataFrame,
        destination: str,
        options: Mapping[str, Any] | None = None,
    ) -> bool:
        return bool(
            self._owned(
                connection,
                "pynomaly_write_data",
                data=data,
                destination=destination,
                options=dict(options or {}),
            )
        )

    def get_schema(self, connection: Connection) -> dict[str, str]:
        return dict(self._owned(connection, "pynomaly_get_schema"))

    def test_connection(self, connection: Connection) -> bool:
        return bool(self._owned(connection, "pynomaly_test_connection"))

    # ----------------------------------------------------------------------------------------
    # Processing hooks
    # ----------------------------------------------------------------------------------------

    def preprocess(self, data: pd.DataFrame, source: str) -> pd.DataFrame:
        for plugin in self._implementers("pynomaly_preprocess"):
            out = self._call(plugin, "pynomaly_preprocess", data=data, source=source)
            data = data if out is None else out
        return data

    def validate(self, data: pd.DataFrame, source: str) -> None:
        for plugin in self._implementers("pynomaly_validate"):
            self._call(plugin, "pynomaly_validate", data=data, source=source)

    def processing_steps(self) -> list[StepInfo]:
        return [
            _with_plugin(info, plugin)
            for plugin, infos in self._collect("pynomaly_processing_steps")
            for info in infos
        ]

    def create_step(self, name: str, options: Mapping[str, Any] | None = None) -> ProcessingStep:
        """An unfitted processing step from the first plugin that knows ``name``."""
        plugin, step = self._first("pynomaly_create_step", name=name, options=dict(options or {}))
        if step is None:
            known = ", ".join(sorted({i.name for i in self.processing_steps()})) or "none"
            raise InputError(f"unknown processing step {name!r} (known: {known})")
        if not isinstance(step, ProcessingStep):
            raise PluginError(
                plugin or "?", "pynomaly_create_step", "returned an object without fit/transform"
            )
        return step

    def postprocess(self, result: DetectionResult) -> DetectionResult:
        for plugin in self._implementers("pynomaly_postprocess"):
            out = self._call(plugin, "pynomaly_postprocess", result=result)
            result = result if out is None else out
        return result

    # ----------------------------------------------------------------------------------------
    # Output hooks
    # ----------------------------------------------------------------------------------------

    def outputs(self) -> list[OutputInfo]:
        return [
            _with_plugin(info, plugin)
            for plugin, infos in self._collect("pynomaly_outputs")
            for info in infos
        ]

    def format_output(
        self, result: DetectionResult, fmt: str, options: Mapping[str, Any] | None = None
    ) -> str:
        _, text = self._first(
            "pynomaly_format_output", result=result, fmt=fmt, options=dict(options or {})
        )
        if text is None:
            raise InputError(f"unknown output format {fmt!r} ({self._format_names()})")
        return str(text)

    def export_data(
        self,
        result: DetectionResult,
        destination: str,
        fmt: str,
        options: Mapping[str, Any] | None = None,
    ) -> None:
        _, done = self._first(
            "pynomaly_export_data",
            result=result,
            destination=destination,
            fmt=fmt,
            options=dict(options or {}),
        )
        if not done:
            raise InputError(
                f"{destination}: unknown output format {fmt!r} ({self._format_names()})"
            )

    def send_notification(
        self,
        message: str,
        result: DetectionResult | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> list[tuple[str, str]]:
        """Send to every output plugin; returns ``(plugin, error)`` for those that failed."""
        return self._broadcast(
            "pynomaly_send_notification",
            message=message,
            result=result,
            options=dict(options or {}),
        )

    # ----------------------------------------------------------------------------------------
    # Internals
    # ----------------------------------------------------------------------------------------

    def _set(self, cand: discovery.Candidate, status: PluginStatus, reason: str = "") -> None:
        self._candidates[cand.name] = cand
        rec = self._records.get(cand.name)
        if rec is not None and rec.origin == cand.origin:  # reloading: callers keep the record
            rec.status, rec.reason, rec.metadata, rec.plugin = status, reason, None, None
        else:
            self._records[cand.name] = PluginRecord(cand.name, cand.origin, status, reason)

    def _fail(self, cand: discovery.Candidate, reason: str, *, raise_errors: bool = False) -> None:
        fatal = raise_errors or self.settings.strict
        if not fatal:
            log.warning("plugin %s skipped: %s", cand.name, reason)
        rec = self._records.get(cand.name)
        if rec is not None and rec.origin == cand.origin:
            rec.status, rec.reason = PluginStatus.FAILED, reason
            if rec.plugin is not None and self._pm.is_registered(rec.plugin):
                self._pm.unregister(rec.plugin)
                self._changed()
        else:  # the name is taken by another plugin: keep this one visible under its origin
            key = f"{cand.name} ({cand.origin})"
            self._records[key] = PluginRecord(key, cand.origin, PluginStatus.FAILED, reason)
        if fatal:
            raise PluginLoadError(cand.name, reason)

    def _import(self, cand: discovery.Candidate, *, raise_errors: bool = False) -> None:
        """Import, register and read the metadata of one candidate (status DISCOVERED)."""
        self._set(cand, PluginStatus.FAILED, "importing")
        try:
            obj = cand.load()
        except Exception as exc:
            self._fail(
                cand, f"import failed: {type(exc).__name__}: {exc}", raise_errors=raise_errors
            )
            return
        if isinstance(obj, type):
            self._fail(
                cand,
                f"entry point gives the class {obj.__name__}; it must give a module or an instance",
                raise_errors=raise_errors,
            )
            return
        rec = self._records[cand.name]
        try:
            self._register(rec, obj)
            rec.metadata = self._metadata(rec, cand)
            _check_compat(rec.metadata)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, PynomalyError) else f"{type(exc).__name__}: {exc}"
            self._fail(cand, reason, raise_errors=raise_errors)
            return
        rec.status, rec.reason = PluginStatus.DISCOVERED, ""

    def _register(self, rec: PluginRecord, obj: object) -> None:
        rec.plugin = obj
        try:
            self._pm.register(obj, name=rec.name)
        except pluggy.PluginValidationError as exc:
            raise PynomalyError("invalid hookimpl: " + " ".join(str(exc).split())) from None
        finally:
            self._changed()
        for caller in self._pm.get_hookcallers(obj) or []:
            if caller.spec is None and caller.name.startswith("pynomaly_"):
                raise PynomalyError(
                    f"{caller.name} is not a pynomaly hook (misspelt? see pynomaly.hookspecs)"
                )

    def _metadata(self, rec: PluginRecord, cand: discovery.Candidate) -> PluginMetadata:
        meta = self._call(rec.name, "pynomaly_plugin_metadata")
        if meta is None:
            implemented = {c.name for c in self._pm.get_hookcallers(rec.plugin) or []}
            return PluginMetadata(
                name=rec.name,
                version=cand.dist_version or str(getattr(rec.plugin, "__version__", "0")),
                plugin_types={t for h, t in HOOK_TYPES.items() if h in implemented},
                description=(inspect.getdoc(rec.plugin) or "").split("\n", 1)[0],
            )
        if isinstance(meta, Mapping):
            meta = PluginMetadata(**meta)
        if not isinstance(meta, PluginMetadata):
            raise PynomalyError(
                f"pynomaly_plugin_metadata returned {type(meta).__name__}, not PluginMetadata"
            )
        return meta

    def _initialize(self, rec: PluginRecord, config: Mapping[str, Any]) -> None:
        assert rec.metadata is not None
        try:
            validate_config(rec.name, rec.metadata.config_schema, config)
        except InputError as exc:
            self._fail(self._candidates[rec.name], str(exc))
            return
        try:
            self._call(rec.name, "pynomaly_initialize", config=config)
        except Exception as exc:
            self._fail(self._candidates[rec.name], f"initialize failed: {exc}")
            return
        self._configs[rec.name] = config
        rec.status, rec.reason = PluginStatus.LOADED, ""
        self._changed()

    def _cleanup(self, rec: PluginRecord) -> None:
        try:
            self._call(rec.name, "pynomaly_cleanup")
        except Exception as exc:  # cleanup must go on with the other plugins
            log.warning("plugin %s: cleanup failed: %s", rec.name, exc)

    def _loaded_record(self, name: str) -> PluginRecord:
        rec = self.record(name)
        if rec.status is not PluginStatus.LOADED:
            why = f": {rec.reason}" if rec.reason else ""
            raise InputError(f"plugin {name!r} is not loaded ({rec.status.value}{why})")
        return rec

    def _changed(self) -> None:
        self._callers.clear()
        self._detectors = None

    @_locked
    def _ready(self) -> None:
        if not self._discovered or any(
            r.status is PluginStatus.DISCOVERED for r in self._records.values()
        ):
            self.load_all()

    def _caller(self, plugin: str, hook: str) -> tuple[Callable[..., Any], bool]:
        """A hook caller restricted to ``plugin``, and whether the hook is firstresult."""
        key = (plugin, hook)
        cached = self._callers.get(key)
        if cached is None:
            obj = self._pm.get_plugin(plugin)
            others = {p for p in self._pm.get_plugins() if p is not obj}
            caller = self._pm.subset_hook_caller(hook, others)
            firstresult = bool(caller.spec and caller.spec.opts.get("firstresult"))
            cached = self._callers[key] = (caller, firstresult)
        return cached

    def _call(self, plugin: str, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` on ``plugin`` alone and return its answer (``None`` for none).

        Errors that are not about the caller's input become :class:`PluginError`.
        """
        caller, firstresult = self._caller(plugin, hook)
        try:
            out = caller(**kwargs)
            if not firstresult:  # pluggy returns the list of answers: here at most one
                out = out[0] if out else None
            return _resolve(out)
        except (InputError, PluginError):
            raise
        except Exception as exc:
            raise PluginError(plugin, hook, f"{type(exc).__name__}: {exc}") from exc

    def _implementers(self, hook: str) -> list[str]:
        """Loaded plugins implementing ``hook``, in pluggy's call order (tryfirst first)."""
        self._ready()
        loaded = {r.name for r in self._records.values() if r.status is PluginStatus.LOADED}
        impls = getattr(self._pm.hook, hook).get_hookimpls()
        return [i.plugin_name for i in reversed(impls) if i.plugin_name in loaded]

    def _first(self, hook: str, **kwargs: Any) -> tuple[str | None, Any]:
        """firstresult semantics, one plugin at a time: (plugin, result) of the first answer."""
        for plugin in self._implementers(hook):
            result = self._call(plugin, hook, **kwargs)
            if result is not None:
                return plugin, result
        return None, None

    def _collect(self, hook: str) -> list[tuple[str, list[Any]]]:
        """Each plugin's answer to a listing hook; a plugin that raises is logged and skipped."""
        answers = []
        for plugin in self._implementers(hook):
            try:
                answers.append((plugin, list(self._call(plugin, hook) or [])))
            except PynomalyError as exc:
                log.warning("%s", exc)
        return answers

    def _broadcast(self, hook: str, **kwargs: Any) -> list[tuple[str, str]]:
        """Call an event hook on every plugin; failures are logged and returned, not raised."""
        failures = []
        for plugin in self._implementers(hook):
            try:
                self._call(plugin, hook, **kwargs)
            except Exception as exc:
                log.warning("%s", exc)
                failures.append((plugin, str(exc)))
        return failures

    def _owned(self, connection: Connection, hook: str, **kwargs: Any) -> Any:
        result = self._call(connection.plugin, hook, connection=connection, **kwargs)
        if result is None:
            raise PluginError(
                connection.plugin, hook, f"returned None for its own connection {connection.uri}"
            )
        return result

    def _format_names(self) -> str:
        names = sorted({o.name for o in self.outputs()})
        return "known: " + ", ".join(names) if names else "no output plugins loaded"


def _with_plugin(info: Any, plugin: str) -> Any:
    import attrs

    return attrs.evolve(info, plugin=plugin)


def _check_compat(meta: PluginMetadata) -> None:
    if meta.pynomaly_compat and not is_compatible(__version__, meta.pynomaly_compat):
        raise PynomalyError(
            f"incompatible: requires pynomaly{meta.pynomaly_compat}, this is pynomaly {__version__}"
        )
