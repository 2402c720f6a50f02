"""The hook specifications: every way a plugin can extend pynomaly.

A plugin is a module or an object whose functions are marked with :data:`pynomaly.hookimpl`
and named after one of the hooks below. It implements only the hooks it needs. pynomaly finds
plugins through the ``pynomaly.plugins`` entry-point group, a local ``plugins/`` directory, or
:meth:`pynomaly.PluginManager.register`.

How pynomaly calls hooks, so that one plugin cannot disturb another:

* **Per-plugin hooks** (metadata, lifecycle) are called on one plugin at a time.
* **Collecting hooks** (``pynomaly_detectors``, ``pynomaly_data_sources``, ``pynomaly_outputs``)
  are called on each plugin separately; a plugin that raises is reported and its answer skipped.
* **Routed hooks** (validate_parameters, fit, score; read_data, write_data, get_schema,
  test_connection) are called on the plugin that owns the detector or connection only.
* **First-result hooks** (connect, explain, format_output, export_data) are tried plugin by
  plugin in hook order until one returns non-None. Return ``None`` for anything not yours.
* **Chained hooks** (preprocess, postprocess) are called plugin by plugin in hook order, each
  receiving the previous plugin's output.
* **Event hooks** (``before_*`` / ``after_*`` / ``on_*_error``) are broadcast to every plugin;
  their return values are ignored. They are called once per batch, never once per row.

Hookimpls may be coroutine functions (``async def``), which is most useful for data sources:
pynomaly runs the coroutine to completion (:mod:`pynomaly.aio` does so in a worker thread).

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

# --------------------------------------------------------------------------------------------
# Metadata and lifecycle (called on one plugin at a time)
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
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


@hookspec
def pynomaly_initialize(config: Mapping[str, Any]) -> None:
    """Prepare the plugin for use (open pools, read credentials, warm caches).

    Called once per load, on this plugin only, after its metadata was accepted and ``config``
    was validated against its ``config_schema``. Called again after a
    :func:`pynomaly_cleanup` when the plugin is reloaded.

    :param config: the plugin's configuration (``{}`` when none was given).

    Raising here marks the plugin ``failed``; its other hooks are not called.
    """


@hookspec
def pynomaly_configure(config: Mapping[str, Any]) -> None:
    """Apply a new configuration to an already initialized plugin.

    Called on this plugin only, when the application calls
    :meth:`pynomaly.PluginManager.configure`; ``config`` has been validated against the
    plugin's ``config_schema`` and replaces the previous configuration.
    """


@hookspec(firstresult=True)
def pynomaly_health_check() -> Mapping[str, Any] | None:
    """Report whether the plugin can do its work.

    Called on this plugin only by :meth:`pynomaly.PluginManager.health_check_all` and
    ``pynomaly plugins check``.

    :returns: a mapping with ``"status"`` set to ``"healthy"`` or ``"unhealthy"`` plus any
        details (a ``"reason"`` when unhealthy). A plugin without this hook is reported healthy;
        one that raises is reported unhealthy with the exception as reason.
    """


@hookspec
def pynomaly_cleanup() -> None:
    """Release what :func:`pynomaly_initialize` acquired.

    Called on this plugin only when it is unloaded, reloaded, or the manager shuts down.
    Errors are logged and otherwise ignored: cleanup always continues with the next plugin.
    """


# --------------------------------------------------------------------------------------------
# Algorithm hooks
# --------------------------------------------------------------------------------------------


@hookspec
def pynomaly_detectors() -> list[DetectorInfo]:
    """List the detectors this plugin offers.

    Called on each plugin separately, the first time detectors are needed after plugins
    change; the answers are cached.

    :returns: a list of :class:`~pynomaly.types.DetectorInfo`, ids ``"namespace:name"``. List
        detectors whose requirements are missing too, with ``available=False`` and a reason.
        Must not import heavy libraries: listing detectors stays fast.
    """


@hookspec(firstresult=True)
def pynomaly_validate_parameters(
    detector_id: str, params: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """Check a detector's parameters before fitting.

    Called on the plugin that owns ``detector_id``, before :func:`pynomaly_fit` and by
    :func:`pynomaly.validate_parameters`. ``None`` keeps the parameters as given.

    :param params: the parameters the user gave (``contamination`` and ``random_state`` are
        not among them; they are passed to :func:`pynomaly_fit` separately).
    :returns: the parameters to use (possibly normalized), or ``None`` if not yours.
    :raises pynomaly.errors.InvalidParameterError: naming the bad parameter and the problem.
    """


@hookspec(firstresult=True)
def pynomaly_fit(
    detector_id: str,
    X: np.ndarray,
    params: Mapping[str, Any],
    contamination: float,
    random_state: int | None,
) -> FitResult | None:
    """Fit a detector on a batch of training rows.

    Called on the plugin that owns ``detector_id``, once per fit (a firstresult hook: return
    ``None`` for ids that are not yours).

    :param X: 2-D float64 array (rows × features); do not modify it.
    :param params: validated parameters from :func:`pynomaly_validate_parameters`.
    :param contamination: expected share of anomalies, in (0, 0.5]; pynomaly derives the label
        threshold from it, pass it on to libraries that want it.
    :param random_state: seed for reproducible results; pass it to the library where it takes one.
    :returns: a :class:`~pynomaly.types.FitResult` with the fitted state and the library's own
        scores for the training rows (higher = more anomalous), or ``None`` if not yours.
    """


@hookspec(firstresult=True)
def pynomaly_score(detector_id: str, state: Any, X: np.ndarray) -> np.ndarray | None:
    """Score new rows with a fitted detector.

    Called on the plugin that owns ``detector_id``, once per batch (a firstresult hook:
    return ``None`` for ids that are not yours).

    :param state: the ``state`` of the :class:`~pynomaly.types.FitResult` from
        :func:`pynomaly_fit`.
    :param X: 2-D float64 array with as many columns as the training data; do not modify it.
    :returns: one score per row, higher = more anomalous, or ``None`` if not yours.
    """


@hookspec(firstresult=True)
def pynomaly_explain(detector_id: str, state: Any, X: np.ndarray) -> np.ndarray | None:
    """Tell how much each feature contributes to the anomaly scores of ``X``.

    Called on the plugins in hook order until one returns non-None (first result wins). When
    none answers, pynomaly measures it from the outside: the mean absolute change of the scores
    when each feature in turn is replaced by its median.

    :returns: one non-negative importance per feature (column of ``X``), or ``None``.
    """


@hookspec
def pynomaly_before_fit(detector_id: str, n_samples: int, n_features: int) -> None:
    """Event: a fit is about to start. Broadcast to every plugin; return value ignored."""


@hookspec
def pynomaly_after_fit(detector_id: str, n_samples: int, duration: float) -> None:
    """Event: a fit finished in ``duration`` seconds. Broadcast; return value ignored."""


@hookspec
def pynomaly_on_fit_error(detector_id: str, error: BaseException) -> None:
    """Event: a fit raised ``error`` (which is re-raised afterwards). Broadcast."""


@hookspec
def pynomaly_before_score(detector_id: str, n_samples: int) -> None:
    """Event: a batch of ``n_samples`` rows is about to be scored. Broadcast."""


@hookspec
def pynomaly_after_score(detector_id: str, n_samples: int, duration: float) -> None:
    """Event: a batch was scored in ``duration`` seconds. Broadcast; return value ignored."""


@hookspec
def pynomaly_on_score_error(detector_id: str, error: BaseException) -> None:
    """Event: scoring raised ``error`` (which is re-raised afterwards). Broadcast."""


# --------------------------------------------------------------------------------------------
# Data source hooks
# --------------------------------------------------------------------------------------------


@hookspec
def pynomaly_data_sources() -> list[SourceInfo]:
    """List the data sources this plugin offers (name, URI schemes, file extensions).

    Called on each plugin separately; the answers appear in error messages about sources
    no plugin reads.
    """


@hookspec(firstresult=True)
def pynomaly_connect(uri: str, options: Mapping[str, Any]) -> Any | None:
    """Open ``uri`` if this plugin handles it.

    Called on the plugins in hook order until one returns non-None; that plugin owns the
    resulting :class:`~pynomaly.types.Connection` and receives every later data-source call for
    it. May be a coroutine function.

    :param uri: a path (``data.csv``) or URI (``sample:wbc``, ``sqlite:///x.db``).
    :param options: source options (delimiter, table, ...).
    :returns: any handle the plugin wants back in ``connection.handle``, or ``None`` if not
        yours. Raise :class:`pynomaly.errors.DataError` when it is yours but unusable.
    """


@hookspec(firstresult=True)
def pynomaly_read_data(connection: Connection, query: Mapping[str, Any]) -> pd.DataFrame | None:
    """Read the data of an open connection as a DataFrame.

    Called on the plugin that owns ``connection``, which must answer. May be a coroutine
    function.

    :param query: what to read (e.g. ``{"table": "orders"}``); ``{}`` means everything.
    """


@hookspec(firstresult=True)
def pynomaly_read_batches(
    connection: Connection, query: Mapping[str, Any], batch_size: int
) -> Iterator[pd.DataFrame] | None:
    """Read the data of an open connection as an iterator of DataFrames of ``batch_size`` rows.

    Called on the plugin that owns ``connection`` when pynomaly scores a source batch by batch
    (``Model.score_source``, ``pynomaly score``), so that the data never has to fit in memory.
    Return ``None`` if the source cannot be read in batches: pynomaly then reads it whole with
    :func:`pynomaly_read_data`. The batches' indexes continue each other (as one read would).
    """


@hookspec(firstresult=True)
def pynomaly_write_data(
    connection: Connection, data: pd.DataFrame, destination: str, options: Mapping[str, Any]
) -> bool | None:
    """Write ``data`` to ``destination`` through an open connection.

    Called on the plugin that owns ``connection``; returns ``True`` when written. Writes must
    be atomic: nothing half-written is left behind on failure.
    """


@hookspec(firstresult=True)
def pynomaly_get_schema(connection: Connection) -> Mapping[str, str] | None:
    """Return the column names and their types (``{"amount": "float64"}``) of a connection.

    Called on the plugin that owns ``connection``, which must answer.
    """


@hookspec(firstresult=True)
def pynomaly_test_connection(connection: Connection) -> bool | None:
    """Check that the data behind ``connection`` can be reached and read.

    Called on the plugin that owns ``connection``. Return ``True`` when it works; raise
    :class:`pynomaly.errors.DataError` with a one-line reason (never a password) when not.
    """


# --------------------------------------------------------------------------------------------
# Processing hooks
# --------------------------------------------------------------------------------------------


@hookspec
def pynomaly_validate(data: pd.DataFrame, source: str) -> None:
    """Check input data before detection; raise :class:`pynomaly.errors.DataError` to reject it.

    Called on every plugin in hook order with the data of one batch, after preprocessing;
    the first that raises rejects the data. The built-in validator rejects empty data,
    non-numeric columns and NaN/inf values, naming the column.

    :param source: where the data came from (a path, a URI, ``"<DataFrame>"``, ``"<array>"``
        or ``"<Series>"``), for messages.
    """


@hookspec
def pynomaly_preprocess(data: pd.DataFrame, source: str) -> pd.DataFrame | None:
    """Transform input data before validation and detection.

    Called once per batch of input (fit, detect, score, explain), before
    :func:`pynomaly_validate`. Chained: each plugin in hook order gets the previous plugin's
    output. Return a new DataFrame, or ``None`` to leave the data as it is. Never modify
    ``data`` in place.
    """


@hookspec
def pynomaly_processing_steps() -> list[StepInfo]:
    """List the processing steps this plugin offers (``impute``, ``scale`` ...).

    Called on each plugin separately, for listings and error messages.
    """


@hookspec(firstresult=True)
def pynomaly_create_step(name: str, options: Mapping[str, Any]) -> ProcessingStep | None:
    """Create the unfitted processing step ``name`` with ``options``.

    Called on the plugins in hook order until one returns non-None, once per step the user
    asks for (``steps=[("impute", {"strategy": "median"})]``, ``--impute median``). pynomaly
    fits the step on the training data after :func:`pynomaly_preprocess`, keeps it in the
    fitted model and applies it to every batch scored later.

    :returns: a :class:`~pynomaly.types.ProcessingStep`, or ``None`` if ``name`` is not yours.
    :raises pynomaly.errors.InputError: for options that are wrong, naming the option.
    """


@hookspec
def pynomaly_postprocess(result: DetectionResult) -> DetectionResult | None:
    """Adjust a detection result (relabel, enrich) before it is returned.

    Called once per :func:`pynomaly.detect` or ``Model.detect``, before the result is
    returned. Chained like :func:`pynomaly_preprocess`. Return a new result or ``None`` for no
    change.
    """


# --------------------------------------------------------------------------------------------
# Output hooks
# --------------------------------------------------------------------------------------------


@hookspec
def pynomaly_outputs() -> list[OutputInfo]:
    """List the output formats this plugin offers (name, file extensions).

    Called on each plugin separately.
    """


@hookspec(firstresult=True)
def pynomaly_format_output(
    result: DetectionResult, fmt: str, options: Mapping[str, Any]
) -> str | None:
    """Render a detection result as text in format ``fmt`` (``"table"``, ``"json"``, ...).

    Called on the plugins in hook order until one returns non-None.

    :param options: e.g. ``{"top": 10}`` for the number of rows to show.
    :returns: the text, or ``None`` if ``fmt`` is not yours.
    """


@hookspec(firstresult=True)
def pynomaly_export_data(
    result: DetectionResult, destination: str, fmt: str, options: Mapping[str, Any]
) -> bool | None:
    """Write a detection result to ``destination`` in format ``fmt`` (``"csv"``, ``"sql"`` ...).

    Called on the plugins in hook order until one returns non-None. The file holds the input
    rows' index, ``anomaly_score`` and ``is_anomaly``. Writes must be atomic (temporary file,
    then rename) and must not replace an existing file unless ``options["overwrite"]``.

    :returns: ``True`` when written, ``None`` if ``fmt`` is not yours.
    """


@hookspec
def pynomaly_send_notification(
    message: str, result: DetectionResult | None, options: Mapping[str, Any]
) -> None:
    """Deliver a notification about a detection (log line, webhook, ...).

    Broadcast to every plugin; a plugin that raises is reported and the others still run.
    """
