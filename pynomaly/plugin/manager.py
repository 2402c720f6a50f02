"""The plugin manager: pluggy's own, with pynomaly's registry and lifecycle around it.

:class:`PluginManager` subclasses :class:`pluggy.PluginManager`, as pytest's
``PytestPluginManager`` does. It keeps the registry — discovery with a record per plugin
(a broken plugin is reported with its reason and skipped), ``set_blocked`` for ``-p no:NAME``,
metadata, the version gate, configuration and the lifecycle hooks around ``register`` — and
calls hooks the pluggy way, ``pm.hook.<name>(...)``. The calling conventions of each hook kind
(:mod:`pynomaly.hookspecs`) are applied per implementation by :mod:`pynomaly.plugin.calls`;
what detection does with the answers lives above, in :mod:`pynomaly.services`.
"""

from __future__ import annotations

import difflib
import functools
import importlib
import inspect
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from pynomaly import audit, hookspecs
from pynomaly._log import get_logger
from pynomaly._version import __version__
from pynomaly.errors import (
    DatabaseBusyError,
    InputError,
    PluginError,
    PluginLoadError,
    PynomalyError,
)
from pynomaly.markers import PROJECT_NAME
from pynomaly.plugin import discovery
from pynomaly.plugin.calls import describe, instrument, raised_at, raised_by
from pynomaly.plugin.compat import check_compat
from pynomaly.plugin.config import validate_config
from pynomaly.plugin.monitor import HookMonitor, HookStats
from pynomaly.plugin.protect import watch_sigint
from pynomaly.plugin.records import PluginRecord, PluginStatus, checked_health, metadata_from
from pynomaly.plugin.settings import Settings
from pynomaly.redact import mask_text
from pynomaly.services.facade import ServiceMethods
from pynomaly.types import PluginMetadata, PluginType

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.plugin.isolation import IsolatedPlugin, WorkerStats
    from pynomaly.plugin.loop import EventLoopThread

log = get_logger("pynomaly.plugins")

#: Built-in plugins the core cannot work without, and why: disabling one is an error.
ESSENTIAL = {"validation": "every input is checked through it before detection"}

_F = TypeVar("_F", bound=Callable[..., Any])
# errors a hook raises that reach the caller as they are: bad input, a plugin's failure already
# named, and a busy database (which a caller may want to retry)
_PASS_ON = (InputError, PluginError, DatabaseBusyError)
_USABLE = (PluginStatus.DISCOVERED, PluginStatus.LOADED)


def _masked_stderr(text: str) -> None:
    sys.stderr.write(mask_text(text))


def _locked(method: _F) -> _F:
    """Serialize a method that changes which plugins are registered or loaded: services and
    :mod:`pynomaly.aio` use one manager from several threads."""

    @functools.wraps(method)
    def wrapper(self: PluginManager, *args: Any, **kwargs: Any) -> Any:
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


class PluginManager(ServiceMethods, pluggy.PluginManager):
    """Discovers, registers, loads and calls pynomaly plugins.

    >>> pm = PluginManager(disable=["samples"])      # doctest: +SKIP
    >>> pm.hook.pynomaly_detectors()                  # doctest: +SKIP

    Arguments not given are read from ``PYNOMALY_*`` environment variables (see
    :class:`~pynomaly.plugin.settings.Settings`). ``isolation`` (``"process"``,
    ``"third-party"``, ``"process:a,b"``) runs plugins in worker processes of their own, each
    call limited to ``timeout`` seconds and each worker to ``memory_limit`` (bytes, or
    ``"2GiB"``): see :mod:`pynomaly.plugin.isolation`. Nothing is imported until :meth:`discover`
    (or any call that needs plugins) runs. ``cache`` holds answers derived from the plugins
    (the detector index ...); it is emptied whenever a plugin is registered or unregistered.
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
        isolation: str | None = None,
        timeout: float | str | None = None,
        memory_limit: int | str | None = None,
        config_origins: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(PROJECT_NAME)
        self.cache: dict[str, Any] = {}
        self.settings = settings or Settings.from_env(
            disable=disable,
            allow=allow,
            autoload=autoload,
            strict=strict,
            plugins_dir=plugins_dir,
            config=config,
            isolation=isolation,
            timeout=timeout,
            memory_limit=memory_limit,
            config_origins=config_origins,
        )
        for name in sorted(ESSENTIAL.keys() & self.settings.disable):
            raise InputError(f"plugin {name!r} cannot be disabled: {ESSENTIAL[name]}")
        self.add_hookspecs(hookspecs)
        for name in self.settings.disable:
            self.set_blocked(name)
        self._watchers = 0  # hook-call monitors other than self.monitor
        self.monitor = HookMonitor(self)
        self._loop: EventLoopThread | None = None
        if self.settings.trace:
            # pluggy's trace prints every hook argument: URLs with passwords, webhook URLs,
            # headers with tokens. Everything it writes goes through the masker first.
            self.trace.root.setwriter(_masked_stderr)
            self.enable_tracing()
        self._records: dict[str, PluginRecord] = {}
        self._candidates: dict[str, discovery.Candidate] = {}
        self._configs: dict[str, Mapping[str, Any]] = {}
        self._discovered = False
        self._ready = False  # discovered, and no plugin waits to be initialized
        self._isolated: dict[str, IsolatedPlugin] = {}  # plugins running in worker processes
        self._lock = threading.RLock()
        watch_sigint()  # so that plugin code raising KeyboardInterrupt is told from Ctrl-C

    # ----------------------------------------------------------------------------------------
    # Registry and lifecycle
    # ----------------------------------------------------------------------------------------

    @_locked
    def discover(self) -> list[PluginRecord]:
        """Find, import and register every selected plugin; idempotent.

        Built-ins come first, then entry points (group ``pynomaly.plugins``), then the local
        plugins directory. A plugin that fails is recorded as ``failed`` with its reason
        (raised as :class:`PluginLoadError` in strict mode); blocked ones are never imported.
        """
        if not self._discovered:
            # first, so that an audit log that cannot be written fails before any plugin runs
            audit.record(
                "plugins.discover",
                autoload=self.settings.autoload,
                allow=sorted(self.settings.allow) if self.settings.allow is not None else None,
                disable=sorted(self.settings.disable),
                plugins_dir=str(self.settings.plugins_dir) if self.settings.plugins_dir else None,
            )
            self._discovered = True
            for cand in [
                *discovery.builtin_candidates(),
                *discovery.entry_point_candidates(),
                *discovery.local_candidates(self.settings.plugins_dir),
            ]:
                if self.is_blocked(cand.name):
                    self._disable(cand, "disabled by -p no:NAME / disable=")
                elif cand.name in self._records:
                    self._fail(cand, f"name already used by {self._records[cand.name].origin}")
                elif cand.kind == "builtin":
                    self._import(cand)
                else:
                    selected, why = self.settings.selects(cand.name)
                    if selected:
                        self._import(cand)
                    else:
                        self._disable(cand, why)
            self._check_isolated_names()
        return self.records()

    def _check_isolated_names(self) -> None:
        """Warn of ``process:NAMES`` naming no plugin: a misspelt name isolates nothing, and
        the plugin meant (``pyod`` for ``pyod_adapter``) would run in this process."""
        isolation = self.settings.isolation
        if isolation.mode != "names":
            return
        known = sorted(self._records)
        for name in sorted(isolation.names - set(known)):
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]}?" if close else ""
            log.warning(
                "--isolation process:%s: no plugin is called %s, so it isolates nothing "
                "(plugins: %s)%s", ",".join(sorted(isolation.names)), name, ", ".join(known), hint
            )

    @_locked
    def load_all(self) -> list[PluginRecord]:
        """Discover, then initialize every discovered plugin with its configured config."""
        self.discover()
        for rec in list(self._records.values()):
            if rec.status is PluginStatus.DISCOVERED:
                self._initialize(rec, self.settings.config.get(rec.name, {}))
        self._ready = True
        return self.records()

    def ready(self) -> None:
        """Make sure every selected plugin is discovered and initialized (cheap when so;
        other threads wait until the first finishes)."""
        if not self._ready:
            self.load_all()

    @_locked
    def load(self, name: str, config: Mapping[str, Any] | None = None) -> PluginRecord:
        """Initialize the discovered plugin ``name`` with ``config`` (validated first).

        Loading a loaded plugin again with no config is a no-op. Raises
        :class:`PluginLoadError` if the plugin is disabled or failed, and
        :class:`~pynomaly.errors.ConfigurationError` if ``config`` does not fit its schema.
        """
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
        origin = self.settings.config_origins.get(name) if config is None else None
        validate_config(name, rec.metadata.config_schema, cfg, origin)
        self._initialize(rec, cfg)
        if rec.status is not PluginStatus.LOADED:
            raise PluginLoadError(name, rec.reason)
        return rec

    @_locked
    def register(
        self, plugin: object, name: str | None = None, *, config: Mapping[str, Any] | None = None
    ) -> str | None:
        """Register and load a plugin object (module or instance) by hand; returns its name,
        or ``None`` if the name is blocked (as pluggy's ``register``).

        Registering the same object twice is harmless. A class instead of an instance is a
        :class:`TypeError`. Failures raise :class:`PluginLoadError`: explicit registration is
        never silently skipped.
        """
        if isinstance(plugin, type):
            raise TypeError(
                f"register() needs a plugin module or instance, got the class {plugin.__name__}; "
                f"pass {plugin.__name__}() instead"
            )
        if self.is_registered(plugin):
            return self.get_name(plugin)
        self.discover()
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__.lower()
        if self.is_blocked(name):
            return None
        taken = self._records.get(name)
        if taken is not None and taken.status in _USABLE:
            raise ValueError(f"a plugin named {name!r} is already registered; pass another name")
        self._import(discovery.Candidate(name, "registered", "manual", lambda: plugin), True)
        self.load(name, config)
        return name

    def unregister(self, plugin: object | None = None, name: str | None = None) -> Any:
        """pluggy's ``unregister``; forgets answers derived from the plugins."""
        self.cache.clear()
        return super().unregister(plugin, name)

    @_locked
    def unload(self, name: str) -> None:
        """Run the plugin's cleanup hook and unregister it; its hooks are no longer called."""
        rec = self.record(name)
        if rec.status is PluginStatus.LOADED:
            self._cleanup(rec)
        if rec.plugin is not None and self.is_registered(rec.plugin):
            self.unregister(rec.plugin)
        self._close_worker(name)
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
        self.call_plugin(name, "pynomaly_configure", config=config)
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
            return checked_health(self.call_plugin(name, "pynomaly_health_check"))
        except PynomalyError as exc:
            return {"status": "unhealthy", "reason": str(exc)}

    @_locked
    def shutdown(self) -> None:
        """Clean up every loaded plugin (errors are logged, never raised); stop the loop and
        the worker processes of isolated plugins (a later call starts them again)."""
        for rec in self._records.values():
            if rec.status is PluginStatus.LOADED:
                self._cleanup(rec)
                rec.status = PluginStatus.DISCOVERED
        for proxy in self._isolated.values():
            proxy.stop()
        if self._loop is not None:
            self._loop.close()

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
            and r.status in _USABLE
            and (wanted is None or wanted in r.metadata.plugin_types)
        ]

    def loaded(self) -> list[str]:
        """Names of the loaded plugins, in load order."""
        return [r.name for r in self._records.values() if r.status is PluginStatus.LOADED]

    def config_of(self, name: str) -> Mapping[str, Any]:
        """The configuration the loaded plugin ``name`` was last initialized or configured with."""
        self._loaded_record(name)
        return dict(self._configs.get(name, {}))

    def stats(self) -> list[HookStats]:
        """Hook calls, errors and cumulative time, per plugin and hook (see
        :mod:`pynomaly.plugin.monitor`); for isolated plugins also the CPU time and peak
        memory their worker spent on each hook."""
        return self.monitor.stats()

    def workers(self) -> list[WorkerStats]:
        """The worker process of each isolated plugin: pid, starts, crashes, timeouts, calls,
        CPU seconds and peak memory (see :mod:`pynomaly.plugin.isolation`)."""
        return [proxy.stats() for proxy in list(self._isolated.values())]

    def isolated(self, name: str) -> bool:
        """Whether the plugin ``name`` runs in a worker process."""
        self.discover()
        return name in self._isolated

    @property
    def loop(self) -> EventLoopThread:
        """The event loop ``async def`` hookimpls run on (started on first use)."""
        with self._lock:
            if self._loop is None:
                from pynomaly.plugin.loop import EventLoopThread

                self._loop = EventLoopThread()
            return self._loop

    def _resolve(self, value: Any) -> Any:
        return self.loop.resolve(value)

    @property
    def pluggy_manager(self) -> pluggy.PluginManager:
        """This manager (it is a :class:`pluggy.PluginManager`); kept for code written for
        pynomaly 1.0, where it was a separate object."""
        return self

    # ----------------------------------------------------------------------------------------
    # Dispatch
    # ----------------------------------------------------------------------------------------

    def call(self, hook: str, **kwargs: Any) -> Any:
        """``pm.hook.<hook>(**kwargs)`` once every plugin is ready.

        Returns pluggy's result (the first answer of a firstresult hook, else the list of
        answers). An exception a plugin raises becomes :class:`PluginError` naming the plugin
        and the hook; :class:`~pynomaly.errors.InputError`, :class:`PluginError` and
        :class:`~pynomaly.errors.DatabaseBusyError` pass on.
        """
        try:
            return self._dispatch(hook, kwargs)
        finally:
            self.monitor.release()

    def answer(self, hook: str, **kwargs: Any) -> tuple[str | None, Any]:
        """:meth:`call` a firstresult hook: ``(plugin that answered, answer)``."""
        try:
            value = self._dispatch(hook, kwargs)
            frame = self.monitor.last()
            return (frame.answered_by if frame is not None and value is not None else None), value
        finally:
            self.monitor.release()

    def collect(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """:meth:`call` a collecting or event hook: ``(plugin, answer)`` of each plugin that
        answered. A plugin that raised is logged and left out (see :meth:`failures`)."""
        try:
            self._dispatch(hook, kwargs)
            frame = self.monitor.last()
            return frame.answers() if frame is not None else []
        finally:
            self.monitor.release()

    def add_hookcall_monitoring(self, before: Any, after: Any) -> Callable[[], None]:
        """pluggy's, counting the monitors besides the manager's own (see :meth:`_dispatch`)."""
        undo = super().add_hookcall_monitoring(before, after)
        if not hasattr(self, "monitor"):
            return undo  # the manager's own monitor, installing itself
        self._watchers += 1
        undone = False

        def undo_and_count() -> None:
            nonlocal undone
            undo()
            if not undone:
                undone = True
                self._watchers -= 1

        return undo_and_count

    def _dispatch(self, hook: str, kwargs: Mapping[str, Any]) -> Any:
        self.ready()
        caller = getattr(self.hook, hook)
        if not caller.get_hookimpls() and not self._watchers:
            # no plugin implements it (most events, preprocess, postprocess) and nobody but the
            # manager's own monitor watches calls (a HookRecorder, tracing): pluggy's answer
            # without its dispatch, a fixed cost of every fit and scored batch
            self.monitor.nothing_ran(hook)
            firstresult = caller.spec is not None and caller.spec.opts.get("firstresult")
            return None if firstresult else []
        try:
            return caller(**kwargs)
        except _PASS_ON:
            raise
        except Exception as exc:
            plugin = raised_by(exc, caller.get_hookimpls()) or "?"
            raise PluginError(plugin, hook, describe(exc)) from exc

    def failures(self) -> list[tuple[str, str]]:
        """``(plugin, error)`` of the plugins that raised in this thread's last hook call."""
        frame = self.monitor.last()
        return [] if frame is None else [(i.plugin, describe(i.error)) for i in frame.failures()]

    def call_plugin(self, plugin: str, hook: str, **kwargs: Any) -> Any:
        """Call ``hook`` for ``plugin`` alone, through ``pm.hook`` (other plugins' wrappers
        still wrap it), and return its answer: how lifecycle hooks are called, and how the
        testing kit checks one plugin. Errors as for :meth:`call`."""
        caller = getattr(self.hook, hook)
        self.monitor.only(plugin)
        try:
            value = caller(**kwargs)
        except _PASS_ON:
            raise
        except Exception as exc:
            raise PluginError(plugin, hook, describe(exc)) from exc
        finally:
            self.monitor.only(None)
            self.monitor.release()
        if caller.spec is not None and caller.spec.opts.get("firstresult"):
            return value
        return value[0] if value else None  # the one plugin's answer

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

    def _disable(self, cand: discovery.Candidate, reason: str) -> None:
        self._set(cand, PluginStatus.DISABLED, reason)
        audit.record("plugin.disable", plugin=cand.name, origin=cand.origin, reason=reason)

    def _fail(
        self,
        cand: discovery.Candidate,
        reason: str,
        raise_errors: bool = False,
        error: BaseException | None = None,
    ) -> None:
        fatal = raise_errors or self.settings.strict
        reason = mask_text(reason)  # an exception's text may quote a URL with its password
        details = ""
        if error is not None:
            import traceback

            details = mask_text("".join(traceback.format_exception(error)))
        audit.record("plugin.fail", plugin=cand.name, origin=cand.origin, reason=reason)
        if not fatal:
            log.warning("plugin %s skipped: %s", cand.name, reason)
            if details and self.settings.trace:
                sys.stderr.write(details)
        rec = self._records.get(cand.name)
        if rec is not None and rec.origin == cand.origin:
            rec.status, rec.reason, rec.traceback = PluginStatus.FAILED, reason, details
            if rec.plugin is not None and self.is_registered(rec.plugin):
                self.unregister(rec.plugin)
            self._close_worker(cand.name)
        else:  # the name is taken by another plugin: keep this one visible under its origin
            key = f"{cand.name} ({cand.origin})"
            self._records[key] = PluginRecord(key, cand.origin, PluginStatus.FAILED, reason)
        if fatal:
            raise PluginLoadError(cand.name, reason) from error

    def _import(self, cand: discovery.Candidate, raise_errors: bool = False) -> None:
        """Import, register and read the metadata of one candidate (status DISCOVERED); an
        isolated plugin is imported by a worker process and a proxy registered instead."""
        self._set(cand, PluginStatus.FAILED, "importing")
        if self.settings.isolation.isolates(cand.name, cand.kind, cand.first_party):
            from pynomaly.plugin.isolation import IsolatedPlugin, StartError

            try:
                obj: object = IsolatedPlugin.start(
                    cand, self.settings.isolation, self.monitor.add_usage
                )
            except StartError as exc:
                self._fail(cand, exc.reason, raise_errors)
                self._records[cand.name].traceback = exc.details
                if exc.details and self.settings.trace:
                    sys.stderr.write(exc.details)
                return
            self._isolated[cand.name] = obj  # type: ignore[assignment]
        else:
            try:
                obj = cand.load()
            except Exception as exc:
                reason = f"import failed: {describe(exc)}{raised_at(exc)}"
                self._fail(cand, reason, raise_errors, exc)
                return
        if isinstance(obj, type):
            reason = f"entry point gives the class {obj.__name__}; it must give a module or an "
            self._fail(cand, reason + "instance", raise_errors)
            return
        rec = self._records[cand.name]
        try:
            self._register(rec, obj)
            rec.metadata = self._metadata(rec, cand)
            check_compat(__version__, rec.metadata.pynomaly_compat)
        except Exception as exc:
            reason = str(exc) if isinstance(exc, PynomalyError) else describe(exc)
            self._fail(cand, reason, raise_errors, exc)
            return
        rec.status, rec.reason = PluginStatus.DISCOVERED, ""
        self._ready = False
        audit.record(
            "plugin.import",
            plugin=cand.name,
            origin=cand.origin,
            kind=cand.kind,
            version=rec.metadata.version,
        )

    def _register(self, rec: PluginRecord, obj: object) -> None:
        rec.plugin = obj
        self.cache.clear()
        try:
            pluggy.PluginManager.register(self, obj, name=rec.name)
        except pluggy.PluginValidationError as exc:
            raise PynomalyError("invalid hookimpl: " + " ".join(str(exc).split())) from None
        for caller in self.get_hookcallers(obj) or []:
            if caller.spec is None and caller.name.startswith("pynomaly_"):
                raise PynomalyError(
                    f"{caller.name} is not a pynomaly hook (misspelt? see pynomaly.hookspecs)"
                )
            for impl in caller.get_hookimpls():
                if impl.plugin is obj:
                    instrument(impl, caller.name, self.monitor, self._resolve)

    def _metadata(self, rec: PluginRecord, cand: discovery.Candidate) -> PluginMetadata:
        answer = self.call_plugin(rec.name, "pynomaly_plugin_metadata")
        implemented = {c.name for c in self.get_hookcallers(rec.plugin) or []}
        return metadata_from(answer, rec.name, rec.plugin, cand.dist_version, implemented)

    def _initialize(self, rec: PluginRecord, config: Mapping[str, Any]) -> None:
        assert rec.metadata is not None
        try:
            origin = self.settings.config_origins.get(rec.name)
            validate_config(rec.name, rec.metadata.config_schema, config, origin)
        except InputError as exc:
            self._fail(self._candidates[rec.name], str(exc))
            return
        try:
            self.call_plugin(rec.name, "pynomaly_initialize", config=config)
        except Exception as exc:
            self._fail(self._candidates[rec.name], f"initialize failed: {exc}", error=exc)
            return
        self._configs[rec.name] = config
        rec.status, rec.reason = PluginStatus.LOADED, ""
        self.cache.clear()
        audit.record("plugin.load", plugin=rec.name, origin=rec.origin)

    def _cleanup(self, rec: PluginRecord) -> None:
        try:
            self.call_plugin(rec.name, "pynomaly_cleanup")
        except Exception as exc:  # cleanup must go on with the other plugins
            log.warning("plugin %s: cleanup failed: %s", rec.name, exc)

    def _close_worker(self, name: str) -> None:
        proxy = self._isolated.pop(name, None)
        if proxy is not None:
            proxy.close()

    def _loaded_record(self, name: str) -> PluginRecord:
        rec = self.record(name)
        if rec.status is not PluginStatus.LOADED:
            why = f": {rec.reason}" if rec.reason else ""
            raise InputError(f"plugin {name!r} is not loaded ({rec.status.value}{why})")
        return rec
