"""The exceptions pynomaly raises.

Two families matter to callers: :class:`InputError` (the caller gave something wrong: a bad
parameter, an unknown detector, a missing file — the CLI exits 2) and everything else derived
from :class:`PynomalyError` (something failed while working — the CLI exits 1).
"""

from __future__ import annotations


class PynomalyError(Exception):
    """Base class of every error pynomaly raises on purpose."""


class InputError(PynomalyError, ValueError):
    """The caller's input is wrong; the message says which input and what is wrong with it."""


class UnknownDetectorError(InputError, LookupError):
    """No available detector has the requested id."""


class AmbiguousDetectorError(InputError, LookupError):
    """A short detector id matches detectors of several plugins."""


class InvalidParameterError(InputError):
    """A detector parameter is unknown, of the wrong type or out of range."""

    def __init__(self, detector: str, parameter: str, problem: str) -> None:
        self.detector = detector
        self.parameter = parameter
        self.problem = problem
        super().__init__(f"{detector}: parameter {parameter!r} {problem}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        # pickled (to and from an isolated plugin's worker) with its own arguments
        return type(self), (self.detector, self.parameter, self.problem)


class DataError(InputError):
    """The data cannot be used: unreadable, empty, non-numeric, NaN ..."""


class SourceNotFoundError(InputError):
    """No data source plugin accepts the given path or URI."""


class ConfigurationError(InputError):
    """A plugin's configuration does not match the plugin's JSON Schema."""


class ExplainError(InputError):
    """The detector's scores cannot be explained feature by feature (its
    ``DetectorInfo.cannot_explain`` says why)."""


class PluginError(PynomalyError):
    """A plugin failed while pynomaly called one of its hooks."""

    def __init__(self, plugin: str, hook: str, message: str) -> None:
        from pynomaly.redact import mask_text  # a plugin's exception may quote a credential

        self.plugin = plugin
        self.hook = hook
        self.message = mask_text(message)
        super().__init__(f"plugin {plugin!r} failed in {hook}: {self.message}")

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:
        return type(self), (self.plugin, self.hook, self.message)


class DatabaseBusyError(PynomalyError):
    """A database stayed locked by another writer for longer than the busy timeout: the
    work was done but its results were not written (the CLI exits 1, not 2: the input was
    fine, and running again later can succeed)."""


class PluginLoadError(PynomalyError):
    """A plugin could not be imported, validated or initialized (raised in strict mode)."""

    def __init__(self, plugin: str, reason: str) -> None:
        self.plugin = plugin
        self.reason = reason
        super().__init__(
            f"plugin {plugin!r} could not be loaded: {reason} "
            "(disable it with -p no:NAME or PYNOMALY_DISABLE_PLUGINS, or unset strict mode)"
        )

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.plugin, self.reason)
