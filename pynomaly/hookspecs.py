"""The hook specifications: every way a plugin can extend pynomaly.

A plugin is a module or an object whose functions are marked with :data:`pynomaly.hookimpl`
and named after one of the hooks below. It implements only the hooks it needs. pynomaly finds
plugins through the ``pynomaly.plugins`` entry-point group, a local plugins directory, or
:meth:`pynomaly.PluginManager.register`.

Every hook is called the pluggy way, ``pm.hook.<name>(...)``: each plugin's implementation runs
in pluggy's order (``tryfirst``, then the last registered first, then ``trylast``), and every
plugin's ``wrapper=True`` / ``hookwrapper=True`` implementation wraps every call of that hook,
whichever plugin answers. Each hook belongs to one of these kinds (its ``call`` below):

* **lifecycle** (metadata, initialize, configure, health_check, cleanup): called for one plugin
  at a time — the one being loaded, configured, checked or cleaned up.
* **owner** (``firstresult``): the plugin that owns the detector id, URI, format or step name
  answers; every other plugin returns ``None``, as pytest's ``pytest_collect_file`` does for
  file types (``if not pynomaly.is_mine(detector_id, "myns"): return None``). Hooks that take a
  ``connection`` are only offered to the plugin whose ``pynomaly_connect`` opened it.
* **collect**: every plugin answers with a list (detectors, sources, steps, outputs); a plugin
  that raises is reported and its answer skipped.
* **chain** (preprocess, postprocess): every plugin in hook order, each receiving the previous
  plugin's output; ``None`` passes the input on unchanged.
* **check** (validate): every plugin in hook order; the first that raises rejects the data.
* **event** (``before_*`` / ``after_*`` / ``on_*_error``, notifications): every plugin; return
  values are ignored and a plugin that raises is reported, never fatal. Called once per batch,
  never once per row.

A ``firstresult`` flag is set exactly on the hooks whose one answer is used.

Hookimpls may be coroutine functions (``async def``; ``pynomaly_read_batches`` may be an async
generator), which is most useful for data sources: pynomaly runs them on one long-lived event
loop per manager (on the caller's loop under :mod:`pynomaly.aio`), so a handle made in
``pynomaly_connect`` (a pool, a session) is still usable in ``pynomaly_read_data``.

Data passed to algorithm hooks is a 2-D ``float64`` numpy array with finite values that the hook
must not modify. Scores are "higher = more anomalous", one per row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from pynomaly.markers import hookspec

if TYPE_CHECKING:  # pragma: no cover - imports for annotations only
    from collections.abc import Iterator

    import numpy as np
    import pandas as pd

    from pynomaly.detection.results import DetectionResult
    from pynomaly.types import (
        Connection,
        DetectorInfo,
        FitResult,
        OutputInfo,
        PluginMetadata,
        ProcessingStep,
        SourceInfo,
        StepInfo,
    )

LIFECYCLE, OWNER, COLLECT, CHAIN, CHECK, EVENT = (
    "lifecycle", "owner", "collect", "chain", "check", "event"
)


def _spec(call: str, plugin_type: str | None = None, *, firstresult: bool = False) -> Any:
    """Mark a hook specification with how pynomaly calls it and which plugin type it belongs
    to (``None`` for hooks every type may implement); see :data:`CALLS` and
    :data:`PLUGIN_TYPES`. Owner hooks are ``firstresult``: the owner's answer is the result."""

    def mark(function: Any) -> Any:
        function.pynomaly_call = call
        function.pynomaly_plugin_type = plugin_type
        return hookspec(firstresult=firstresult or call == OWNER)(function)

    return mark


# --------------------------------------------------------------------------------------------
# Metadata and lifecycle (called for one plugin at a time)
# --------------------------------------------------------------------------------------------


@_spec(LIFECYCLE, firstresult=True)
def pynomaly_plugin_metadata() -> PluginMetadata | None:
    """Describe this plugin.

    Called once, on this plugin only, right after it is registered and before anything else.

    :returns: a :class:`~pynomaly.types.PluginMetadata` (or a mapping of its fields). Its
        ``pynomaly_compat`` specifier is
        checked against the running pynomaly: a plugin that excludes it is not loaded. Its
        ``config_schema`` validates the configuration passed to :func:`pynomaly_initialize`.
        A plugin without this hook gets metadata from its distribution (name, version) and is
        assumed to be compatible with every version.

    Raising here marks the plugin ``failed``.
    """


@_spec(LIFECYCLE)
def pynomaly_initialize(config: Mapping[str, Any]) -> None:
    """Prepare the plugin for use (open pools, read credentials, warm caches).

    Called once per load, on this plugin only, after its metadata was accepted and ``config``
    was validated against its ``config_schema``. Called again after a
    :func:`pynomaly_cleanup` when the plugin is reloaded.

    :param config: the plugin's configuration (``{}`` when none was given).

    Raising here marks the plugin ``failed``; its other hooks are not called.
    """


@_spec(LIFECYCLE)
def pynomaly_configure(config: Mapping[str, Any]) -> None:
    """Apply a new configuration to an already initialized plugin.

    Called on this plugin only, when the application calls
    :meth:`pynomaly.PluginManager.configure`; ``config`` has been validated against the
    plugin's ``config_schema`` and replaces the previous configuration.
    """


@_spec(LIFECYCLE, firstresult=True)
def pynomaly_health_check() -> Mapping[str, Any] | None:
    """Report whether the plugin can do its work.

    Called on this plugin only by :meth:`pynomaly.PluginManager.health_check_all` and
    ``pynomaly plugins check``.

    :returns: a mapping with ``"status"`` set to ``"healthy"`` or ``"unhealthy"`` plus any
        details (a ``"reason"`` when unhealthy). A plugin without this hook is reported healthy;
        one that raises is reported unhealthy with the exception as reason.
    """


@_spec(LIFECYCLE)
def pynomaly_cleanup() -> None:
    """Release what :func:`pynomaly_initialize` acquired.

    Called on this plugin only when it is unloaded, reloaded, or the manager shuts down.
    Errors are logged and otherwise ignored: cleanup always continues with the next plugin.
    """


# --------------------------------------------------------------------------------------------
# Algorithm hooks
# --------------------------------------------------------------------------------------------


@_spec(COLLECT, "algorithm")
def pynomaly_detectors() -> list[DetectorInfo]:
    """List the detectors this plugin offers.

    Called on every plugin, the first time detectors are needed after plugins change; the
    answers are cached. A plugin that raises is reported and its detectors are left out.

    :returns: a list of :class:`~pynomaly.types.DetectorInfo`, ids ``"namespace:name"``. List
        detectors whose requirements are missing too, with ``available=False`` and a reason.
        Must not import heavy libraries: listing detectors stays fast.
    """


@_spec(OWNER, "algorithm")
def pynomaly_validate_parameters(
    detector_id: str, params: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """Check a detector's parameters before fitting.

    Called before :func:`pynomaly_fit` and by :func:`pynomaly.validate_parameters`; the plugin
    that owns ``detector_id`` answers, every other returns ``None``. The owner may return
    ``None`` too, which keeps the parameters as given.

    :param params: the parameters the user gave (``contamination`` and ``random_state`` are
        not among them; they are passed to :func:`pynomaly_fit` separately).
    :returns: the parameters to use (possibly normalized), or ``None`` if not yours.
    :raises pynomaly.errors.InvalidParameterError: naming the bad parameter and the problem.
    """


@_spec(OWNER, "algorithm")
def pynomaly_fit(
    detector_id: str,
    X: np.ndarray,
    params: Mapping[str, Any],
    contamination: float,
    random_state: int | None,
) -> FitResult | None:
    """Fit a detector on a batch of training rows.

    Called once per fit; the plugin that owns ``detector_id`` answers, every other returns
    ``None`` (first result wins).

    :param X: 2-D float64 array (rows × features); do not modify it.
    :param params: validated parameters from :func:`pynomaly_validate_parameters`.
    :param contamination: expected share of anomalies, in (0, 0.5]; pynomaly derives the label
        threshold from it, pass it on to libraries that want it.
    :param random_state: seed for reproducible results; pass it to the library where it takes one.
    :returns: a :class:`~pynomaly.types.FitResult` with the fitted state and the library's own
        scores for the training rows (higher = more anomalous), or ``None`` if not yours.
    """


@_spec(OWNER, "algorithm")
def pynomaly_score(detector_id: str, state: Any, X: np.ndarray) -> np.ndarray | None:
    """Score new rows with a fitted detector.

    Called once per batch; the plugin that owns ``detector_id`` answers, every other returns
    ``None`` (first result wins).

    :param state: the ``state`` of the :class:`~pynomaly.types.FitResult` from
        :func:`pynomaly_fit`.
    :param X: 2-D float64 array with as many columns as the training data; do not modify it.
    :returns: one score per row, higher = more anomalous, or ``None`` if not yours.
    """


@_spec(OWNER, "algorithm")
def pynomaly_explain(detector_id: str, state: Any, X: np.ndarray) -> np.ndarray | None:
    """Tell how much each feature contributes to the anomaly scores of ``X``.

    Called by :func:`pynomaly.explain` with the ``state`` the owner's :func:`pynomaly_fit`
    returned; the plugin that owns ``detector_id`` may answer, every other returns ``None``
    (first result wins). When nobody answers, pynomaly measures it from the outside: the mean
    absolute change of the scores when each feature in turn is replaced by its median.

    :returns: one non-negative importance per feature (column of ``X``), or ``None``.
    """


@_spec(EVENT)
def pynomaly_before_fit(detector_id: str, n_samples: int, n_features: int) -> None:
    """Event: a fit is about to start. Called on every plugin; return value ignored."""


@_spec(EVENT)
def pynomaly_after_fit(detector_id: str, n_samples: int, duration: float) -> None:
    """Event: a fit finished in ``duration`` seconds. Called on every plugin."""


@_spec(EVENT)
def pynomaly_on_fit_error(detector_id: str, error: BaseException) -> None:
    """Event: a fit raised ``error`` (which is re-raised afterwards). Called on every plugin."""


@_spec(EVENT)
def pynomaly_before_score(detector_id: str, n_samples: int) -> None:
    """Event: a batch of ``n_samples`` rows is about to be scored. Called on every plugin."""


@_spec(EVENT)
def pynomaly_after_score(detector_id: str, n_samples: int, duration: float) -> None:
    """Event: a batch was scored in ``duration`` seconds. Called on every plugin."""


@_spec(EVENT)
def pynomaly_on_score_error(detector_id: str, error: BaseException) -> None:
    """Event: scoring raised ``error`` (which is re-raised afterwards). Called on every
    plugin."""


# --------------------------------------------------------------------------------------------
# Data source hooks
# --------------------------------------------------------------------------------------------


@_spec(COLLECT, "data_source")
def pynomaly_data_sources() -> list[SourceInfo]:
    """List the data sources this plugin offers (name, URI schemes, file extensions).

    Called on every plugin; the answers appear in listings and in error messages about
    sources no plugin reads. A plugin that raises is reported and left out.
    """


@_spec(OWNER, "data_source")
def pynomaly_connect(uri: str, options: Mapping[str, Any]) -> Any | None:
    """Open ``uri`` if this plugin handles it.

    Called on the plugins in hook order until one returns non-None (first result wins); that
    plugin owns the resulting :class:`~pynomaly.types.Connection`, and the hooks below that take
    a ``connection`` are offered to it alone. May be a coroutine function.

    :param uri: a path (``data.csv``) or URI (``sample:wbc``, ``sqlite:///x.db``).
    :param options: source options (delimiter, table, ...).
    :returns: any handle the plugin wants back in ``connection.handle``, or ``None`` if not
        yours. Raise :class:`pynomaly.errors.DataError` when it is yours but unusable.
    """


@_spec(OWNER, "data_source")
def pynomaly_read_data(connection: Connection, query: Mapping[str, Any]) -> pd.DataFrame | None:
    """Read the data of an open connection as a DataFrame.

    Called for the plugin that opened ``connection`` only (pynomaly offers it to no other),
    which must answer. May be a coroutine function.

    :param query: what to read (e.g. ``{"table": "orders"}``); ``{}`` means everything.
    """


@_spec(OWNER, "data_source")
def pynomaly_read_batches(
    connection: Connection, query: Mapping[str, Any], batch_size: int
) -> Iterator[pd.DataFrame] | None:
    """Read the data of an open connection as an iterator of DataFrames of ``batch_size`` rows.

    Called for the plugin that opened ``connection`` only, when pynomaly scores a source batch
    by batch (``Model.score_source``, ``pynomaly score``), so that the data never has to fit in
    memory. May be an async generator.
    Return ``None`` if the source cannot be read in batches: pynomaly then reads it whole with
    :func:`pynomaly_read_data`. The batches' indexes continue each other (as one read would).
    """


@_spec(OWNER, "data_source")
def pynomaly_write_data(
    connection: Connection, data: pd.DataFrame, destination: str, options: Mapping[str, Any]
) -> bool | None:
    """Write ``data`` to ``destination`` through an open connection.

    Called for the plugin that opened ``connection`` only; returns ``True`` when written.
    Writes must be atomic: nothing half-written is left behind on failure.
    """


@_spec(OWNER, "data_source")
def pynomaly_get_schema(connection: Connection) -> Mapping[str, str] | None:
    """Return the column names and their types (``{"amount": "float64"}``) of a connection.

    Called for the plugin that opened ``connection`` only, which must answer.
    """


@_spec(OWNER, "data_source")
def pynomaly_test_connection(connection: Connection) -> bool | None:
    """Check that the data behind ``connection`` can be reached and read.

    Called for the plugin that opened ``connection`` only. Return ``True`` when it works; raise
    :class:`pynomaly.errors.DataError` with a one-line reason (never a password) when not.
    """


# --------------------------------------------------------------------------------------------
# Processing hooks
# --------------------------------------------------------------------------------------------


@_spec(CHECK, "processing")
def pynomaly_validate(data: pd.DataFrame, source: str) -> None:
    """Check input data before detection; raise :class:`pynomaly.errors.DataError` to reject it.

    Called on every plugin in hook order with the data of one batch, after preprocessing;
    the first that raises rejects the data. The built-in validator rejects empty data,
    non-numeric columns and NaN/inf values, naming the column.

    :param source: where the data came from (a path, a URI, ``"<DataFrame>"``, ``"<array>"``
        or ``"<Series>"``), for messages.
    """


@_spec(CHAIN, "processing")
def pynomaly_preprocess(data: pd.DataFrame, source: str) -> pd.DataFrame | None:
    """Transform input data before validation and detection.

    Called once per batch of input (fit, detect, score, explain), before
    :func:`pynomaly_validate`. Chained: each plugin in hook order gets the previous plugin's
    output. Return a new DataFrame, or ``None`` to leave the data as it is. Never modify
    ``data`` in place.
    """


@_spec(COLLECT, "processing")
def pynomaly_processing_steps() -> list[StepInfo]:
    """List the processing steps this plugin offers (``impute``, ``scale`` ...).

    Called on every plugin, for listings and error messages; a plugin that raises is reported
    and left out.
    """


@_spec(OWNER, "processing")
def pynomaly_create_step(name: str, options: Mapping[str, Any]) -> ProcessingStep | None:
    """Create the unfitted processing step ``name`` with ``options``.

    Called on the plugins in hook order until one returns non-None (first result wins), once
    per step the user asks for (``steps=[("impute", {"strategy": "median"})]``,
    ``--impute median``). pynomaly fits the step on the training data after
    :func:`pynomaly_preprocess`, keeps it in the fitted model and applies it to every batch
    scored later.

    :returns: a :class:`~pynomaly.types.ProcessingStep`, or ``None`` if ``name`` is not yours.
    :raises pynomaly.errors.InputError: for options that are wrong, naming the option.
    """


@_spec(CHAIN, "processing")
def pynomaly_postprocess(result: DetectionResult) -> DetectionResult | None:
    """Adjust a detection result (relabel, enrich) before it is returned.

    Called once per :func:`pynomaly.detect` or ``Model.detect``, before the result is
    returned. Chained like :func:`pynomaly_preprocess`. Return a new result or ``None`` for no
    change.
    """


# --------------------------------------------------------------------------------------------
# Output hooks
# --------------------------------------------------------------------------------------------


@_spec(COLLECT, "output")
def pynomaly_outputs() -> list[OutputInfo]:
    """List the output formats this plugin offers (name, file extensions).

    Called on every plugin; ``--output FILE`` picks the format whose extension the file name
    ends with, from any plugin's list. A plugin that raises is reported and left out.
    """


@_spec(OWNER, "output")
def pynomaly_format_output(
    result: DetectionResult, fmt: str, options: Mapping[str, Any]
) -> str | None:
    """Render a detection result as text in format ``fmt`` (``"table"``, ``"json"``, ...).

    Called on the plugins in hook order until one returns non-None (first result wins).

    :param options: e.g. ``{"top": 10}`` for the number of rows to show.
    :returns: the text, or ``None`` if ``fmt`` is not yours.
    """


@_spec(OWNER, "output")
def pynomaly_export_data(
    result: DetectionResult, destination: str, fmt: str, options: Mapping[str, Any]
) -> bool | None:
    """Write a detection result to ``destination`` in format ``fmt`` (``"csv"``, ``"sql"`` ...).

    Called on the plugins in hook order until one returns non-None (first result wins). The
    file holds the input
    rows' index, ``anomaly_score`` and ``is_anomaly``. Writes must be atomic (temporary file,
    then rename) and must not replace an existing file unless ``options["overwrite"]``.

    :returns: ``True`` when written, ``None`` if ``fmt`` is not yours.
    """


@_spec(EVENT, "output")
def pynomaly_send_notification(
    message: str, result: DetectionResult | None, options: Mapping[str, Any]
) -> None:
    """Deliver a notification about a detection (log line, webhook, ...).

    Called on every plugin; a plugin that raises is reported and the others still run.
    """


# --------------------------------------------------------------------------------------------
# How each hook is called and which plugin type it belongs to, read off the marks above
# --------------------------------------------------------------------------------------------

#: hook name → its kind: ``lifecycle``, ``owner``, ``collect``, ``chain``, ``check`` or ``event``
CALLS: dict[str, str] = {
    name: value.pynomaly_call
    for name, value in list(globals().items())
    if name.startswith("pynomaly_") and hasattr(value, "pynomaly_call")
}

#: hook name → the plugin type (``PluginType`` value) a plugin implementing it provides
PLUGIN_TYPES: dict[str, str] = {
    name: globals()[name].pynomaly_plugin_type
    for name in CALLS
    if globals()[name].pynomaly_plugin_type is not None
}
