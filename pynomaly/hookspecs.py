"""The hook specifications: every way a plugin can extend pynomaly.

A plugin is a module or an object whose functions are marked with :data:`pynomaly.hookimpl`
and named after one of the hooks below. It implements only the hooks it needs. pynomaly finds
plugins through the ``pynomaly.plugins`` entry-point group, a local plugins directory, or
:meth:`pynomaly.PluginManager.register`.

The docstring of each hook is its whole contract: when it is called, its arguments, what it
returns and what it may raise. The reference part of docs/hooks.md is generated from them
(``python scripts/hooks_doc.py``).

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
  that raises is logged and its answer left out.
* **chain** (preprocess, postprocess): every plugin in hook order, each receiving the previous
  plugin's output; ``None`` passes the input on unchanged.
* **check** (validate): every plugin in hook order; the first that raises rejects the data.
* **event** (``before_*`` / ``after_*`` / ``on_*_error``, notifications): every plugin; return
  values are ignored and a plugin that raises is logged, never fatal. Called once per batch,
  never once per row.

A ``firstresult`` flag is set exactly on the hooks whose one answer is used.

Errors: an :class:`~pynomaly.errors.InputError` a plugin raises reaches the caller unchanged
(the CLI exits 2); any other exception becomes a :class:`~pynomaly.errors.PluginError` naming
the plugin and the hook (the CLI exits 1). Calls, errors and seconds are counted per plugin and
hook; an owner hook's call counts for the plugin that answered.

Hookimpls may be coroutine functions (``async def``; ``pynomaly_read_batches`` may be an async
generator), which is most useful for data sources: pynomaly runs them on one long-lived event
loop per manager (on the caller's loop under :mod:`pynomaly.aio`), so a handle made in
``pynomaly_connect`` (a pool, a session) is still usable in ``pynomaly_read_data``. An async
owner hook that returns ``None`` lets the next plugin answer, as a synchronous one does.

Data passed to algorithm hooks is a 2-D ``float64`` numpy array with finite values that the hook
must not modify. Scores are "higher = more anomalous", one per row.

What a hook is handed cannot change the caller's data: arrays arrive as read-only views (writing
raises ``ValueError``), DataFrames and detection results as copies, mappings as new dicts. A
plugin's ``sys.exit`` is a :class:`~pynomaly.errors.PluginError`, and what it prints goes to
stderr (but for :func:`pynomaly_export_data` to destination ``-``, which writes to stdout).
Under process isolation (``--isolation``) a plugin runs in a worker process of its own; its
hooks are called the same way (see docs/plugins.md).
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
        OutputWriter,
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
    """Describe this plugin: name, version, types, the pynomaly versions it works with.

    Called once, on this plugin only, right after it is imported and registered: before any other
    of its hooks, before :func:`pynomaly_initialize`.

    :returns: a :class:`~pynomaly.types.PluginMetadata`, or a mapping of its fields: ``name``,
        ``version``, ``plugin_types``, ``author``, ``description``, ``dependencies``,
        ``pynomaly_compat`` and ``config_schema``.

    ``pynomaly_compat`` is a PEP 440 specifier (``">=1.0,<2"``) checked against the running
    pynomaly: a plugin that excludes it is not loaded
    (``incompatible: requires pynomaly<1.0, this is pynomaly 1.0.0``), nor is one whose specifier is
    invalid; empty means every version. ``config_schema`` is a JSON Schema: a configuration is
    validated against it before :func:`pynomaly_initialize` or :func:`pynomaly_configure` gets it.

    Without this hook (or with ``None``) the metadata is derived: the name the plugin was registered
    under, the version of its distribution (or the module's ``__version__``), the plugin types of
    the hooks it implements, the first line of its docstring as description. Raising, or returning
    anything but a ``PluginMetadata`` or a mapping, marks the plugin ``failed``.
    """


@_spec(LIFECYCLE)
def pynomaly_initialize(config: Mapping[str, Any]) -> None:
    """Prepare the plugin for use: open pools, read credentials, warm caches.

    Called once per load, on this plugin only, after its metadata was accepted and ``config``
    validated against its ``config_schema``: when the plugins are first needed
    (``PluginManager.load_all()``), by ``PluginManager.load(name, config)`` and
    ``PluginManager.register(plugin, config=...)``, and again after :func:`pynomaly_cleanup` when
    the plugin is reloaded.

    :param config: the plugin's configuration — from ``PluginManager(config={name: {...}})``,
        ``pynomaly --config FILE`` or ``load(name, config)`` — ``{}`` when none was given.

    Raising marks the plugin ``failed`` with the reason and unregisters it: its other hooks are
    never called. ``load`` and ``register`` then raise :class:`~pynomaly.errors.PluginLoadError`,
    as loading does in strict mode.
    """


@_spec(LIFECYCLE)
def pynomaly_configure(config: Mapping[str, Any]) -> None:
    """Apply a new configuration to the already loaded plugin.

    Called on this plugin only, when the application calls ``PluginManager.configure(name,
    config)`` (or ``load(name, config)`` on a loaded plugin).

    :param config: the new configuration, already validated against the plugin's
        ``config_schema``; it replaces the previous one (it is not merged into it).

    An exception reaches the caller: an ``InputError`` unchanged, anything else as a
    :class:`~pynomaly.errors.PluginError`.
    """


@_spec(LIFECYCLE, firstresult=True)
def pynomaly_health_check() -> Mapping[str, Any] | None:
    """Report whether the plugin can do its work now.

    Called on this plugin only, by ``PluginManager.health_check(name)``,
    ``PluginManager.health_check_all()``, :func:`pynomaly.aio.health_check_all` and ``pynomaly
    plugins check`` (which exits 1 when a plugin is unhealthy). Check cheaply: find a module without
    importing it, open a socket rather than run a query.

    :returns: a mapping with ``"status"`` set to ``"healthy"`` or ``"unhealthy"``, plus any details
        (a ``"reason"`` when unhealthy). ``None``, like having no such hook, means healthy; any
        other status is reported unhealthy.

    A plugin that raises is reported unhealthy, with the error as the reason.
    """


@_spec(LIFECYCLE)
def pynomaly_cleanup() -> None:
    """Release what :func:`pynomaly_initialize` acquired.

    Called on this plugin only, when it is unloaded (``PluginManager.unload(name)``), reloaded
    (``reload(name)``, before its module is imported again) or the manager shuts down
    (``shutdown()``).

    Errors are logged and otherwise ignored: cleanup always goes on with the next plugin.
    """


# --------------------------------------------------------------------------------------------
# Algorithm hooks
# --------------------------------------------------------------------------------------------


@_spec(COLLECT, "algorithm")
def pynomaly_detectors() -> list[DetectorInfo]:
    """List the detectors this plugin offers.

    Called on every plugin the first time detectors are needed after the plugins changed (by
    :func:`pynomaly.detectors`, ``pynomaly detectors`` and to resolve the detector of every fit);
    the answers are cached until a plugin is registered or unregistered. A plugin that raises is
    logged and left out. Keep it fast: import no heavy library (:func:`importlib.util.find_spec`
    tells whether one is installed without importing it).

    :returns: a list of :class:`~pynomaly.types.DetectorInfo`, ``[]`` for none.

    * ``id`` is ``"namespace:name"`` (``"mad:maxz"``); users may give the short ``name`` when no
      other detector has it. Of two plugins listing the same id, the one asked first keeps it (the
      other's is ignored with a warning).
    * ``params`` maps each hyperparameter to a :class:`~pynomaly.types.ParamSpec` (``kind``,
      ``default``, ``low``/``high``/``log`` or ``choices``, ``description``): the search space a
      tuner samples from.
    * A detector whose requirements are missing is listed too, with ``available=False`` and a
      ``reason`` saying how to install them.
    * ``plugin`` is filled in by pynomaly.

    The plugin that lists a detector owns it: it answers :func:`pynomaly_validate_parameters`,
    :func:`pynomaly_fit`, :func:`pynomaly_score` and :func:`pynomaly_explain` for that id.
    """


@_spec(OWNER, "algorithm")
def pynomaly_validate_parameters(
    detector_id: str, params: Mapping[str, Any]
) -> Mapping[str, Any] | None:
    """Check a detector's parameters before anything is fitted.

    Called before every fit (after the detector was resolved, before the data is read) and by
    :func:`pynomaly.validate_parameters`. The first non-``None`` result wins: the plugin that owns
    ``detector_id`` answers, every other returns ``None``.

    :param detector_id: the full detector id (``"mad:maxz"``), even when the user gave the short
        name.
    :param params: the parameters the user gave, as a new dict (``{}`` when none).
        ``contamination`` and ``random_state`` are not among them: pynomaly checks those and passes
        them to :func:`pynomaly_fit` separately.
    :returns: the parameters to use, possibly normalized (``100.0`` → ``100`` for an int parameter,
        defaults filled in); they become the ``params`` of :func:`pynomaly_fit` and
        ``Model.params``. ``None`` — from the owner too, or when no plugin implements the hook —
        keeps the user's parameters unchanged.
    :raises pynomaly.errors.InvalidParameterError: naming the bad parameter and what is wrong with
        it, ``InvalidParameterError(detector_id, "scale", "must be > 0")``; the CLI exits 2.
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

    Called once per fit (:func:`pynomaly.fit`, :func:`pynomaly.detect`, ``pynomaly detect``,
    ``pynomaly fit``), after the parameters were validated and the data was read, preprocessed, run
    through the processing steps and validated; framed by :func:`pynomaly_before_fit` and
    :func:`pynomaly_after_fit` (or :func:`pynomaly_on_fit_error`). The first non-``None`` result
    wins: the plugin that owns ``detector_id`` answers, every other returns ``None``.

    :param detector_id: the full detector id.
    :param X: the training rows, a 2-D ``float64`` array (rows × features) of finite values, at
        least 2 rows and not all equal; do not modify it.
    :param params: the parameters :func:`pynomaly_validate_parameters` returned.
    :param contamination: the expected share of anomalies, in (0, 0.5]. pynomaly sets the label
        threshold itself: unless the user fixed another, the rows scoring above the
        ``1 - contamination`` quantile of the training scores are anomalies. Pass it on only to a
        library whose scores depend on it.
    :param random_state: a seed for reproducible results, or ``None``; pass it to the library where
        it takes one.
    :returns: a :class:`~pynomaly.types.FitResult` with ``state`` and ``training_scores``, or
        ``None`` if the detector is not yours. ``state`` is whatever :func:`pynomaly_score` needs
        later, usually the fitted estimator; it is kept in the ``Model``, so it must be picklable.
        ``training_scores`` are the library's own scores of the training rows, one finite score per
        row, higher = more anomalous: :func:`pynomaly.detect` returns them as the result's scores
        (it does not call :func:`pynomaly_score` on the training rows). ``threshold``, when the
        library computed the ``1 - contamination`` percentile of those scores itself, saves
        pynomaly computing it again (see :class:`~pynomaly.types.FitResult`).

    The owner returning ``None``, or anything but a ``FitResult``, is a
    :class:`~pynomaly.errors.PluginError`.
    """


@_spec(OWNER, "algorithm")
def pynomaly_score(detector_id: str, state: Any, X: np.ndarray) -> np.ndarray | None:
    """Score new rows with a fitted detector.

    Called once per batch of rows: by ``Model.score``, ``Model.predict``, ``Model.detect``,
    :func:`pynomaly.score`, each batch of ``Model.score_source`` (``pynomaly score``), and by the
    fallback of :func:`pynomaly_explain` (the rows explained, then their changed copies in
    blocks, or the batch once per feature); framed by
    :func:`pynomaly_before_score` and :func:`pynomaly_after_score` (or
    :func:`pynomaly_on_score_error`). The first non-``None`` result wins: the plugin that owns
    ``detector_id`` answers, every other returns ``None``. With ``jobs`` > 1, a batch of a
    batch-independent detector is split into chunks, each scored by a call of its own: in
    worker processes (when the first rows, scored and timed in the calling process, show that
    they pay), or, when the detector declares
    :attr:`~pynomaly.types.DetectorInfo.threaded_scoring`, in several threads at once on the
    same ``state``; the events still frame the whole batch once.

    :param detector_id: the full detector id.
    :param state: the ``state`` of the :class:`~pynomaly.types.FitResult` that :func:`pynomaly_fit`
        returned, possibly unpickled in another process.
    :param X: a 2-D ``float64`` array of finite values with as many columns as the training data; do
        not modify it.
    :returns: one score per row (a 1-D array of ``len(X)``), higher = more anomalous, on the scale
        of the training scores (the threshold was taken from those), or ``None`` if the detector is
        not yours.

    The owner returning ``None``, a wrong number of scores or non-finite scores is a
    :class:`~pynomaly.errors.PluginError`.
    """


@_spec(OWNER, "algorithm")
def pynomaly_explain(detector_id: str, state: Any, X: np.ndarray) -> np.ndarray | None:
    """Tell how much each feature contributes to the anomaly score of each row of ``X``.

    Called once per :func:`pynomaly.contributions`, :func:`pynomaly.explain`,
    ``DetectionResult.contributions(n)`` (the console table, ``--json``, the HTML report and a
    notebook's top anomalies, for the rows shown only) and ``DetectionResult.importance()`` (the
    report's feature importance). The first non-``None`` result wins: the plugin that owns
    ``detector_id`` may answer, every other returns ``None``.

    When nobody answers, pynomaly measures the contributions from the outside: a row's score
    minus its score with one feature set to the model's training median, for every feature
    (:func:`pynomaly_score` on ``n_rows × n_features`` changed rows, in blocks, for a detector
    that declares ``DetectorInfo.batch_independent``; otherwise the whole batch once per feature,
    the feature set to the median in every row). A detector whose
    ``DetectorInfo.cannot_explain`` gives a reason is not explained at all.

    :param detector_id: the full detector id.
    :param state: the fitted state from :func:`pynomaly_fit`.
    :param X: the rows to explain, a 2-D ``float64`` array; do not modify it. For a detector
        that declares ``batch_independent``, pynomaly shows per-row contributions minus those
        of the model's reference row (the training median), asked for in a second call whose
        ``X`` is that one row: they say how much each feature raises the score above a typical
        row's.
    :returns: per-row contributions, a 2-D array shaped like ``X`` (rows × features, higher =
        the feature raises the row's score more; the detector's own per-feature terms of the
        score, such as ECOD's tail probabilities), or, as before 1.1, one non-negative
        importance per feature for all the rows (a 1-D array of ``X.shape[1]``), or ``None``.
        pynomaly derives the importance of per-row answers (the mean absolute contribution of
        each feature); a 1-D answer serves :func:`pynomaly.explain` only, and per-row
        contributions are then measured. Declare ``DetectorInfo(additive_contributions=True)``
        when each row's contributions add up to its score (the conformance kit checks it).
        Values must be finite; another shape is a :class:`~pynomaly.errors.PluginError`.
    """


@_spec(EVENT)
def pynomaly_before_fit(detector_id: str, n_samples: int, n_features: int) -> None:
    """Event: a fit is about to start.

    Called on every plugin, once per fit, right before :func:`pynomaly_fit` (the parameters and the
    data are already checked). Return values are ignored; an exception is logged and never stops
    the fit.

    :param detector_id: the full detector id.
    :param n_samples: the number of training rows.
    :param n_features: the number of features.
    """


@_spec(EVENT)
def pynomaly_after_fit(detector_id: str, n_samples: int, duration: float) -> None:
    """Event: a fit succeeded.

    Called on every plugin, once per successful fit, right after :func:`pynomaly_fit` returned a
    :class:`~pynomaly.types.FitResult`. Return values are ignored; an exception is logged, never
    fatal.

    :param detector_id: the full detector id.
    :param n_samples: the number of training rows.
    :param duration: the seconds the fit took (wall clock).
    """


@_spec(EVENT)
def pynomaly_on_fit_error(detector_id: str, error: BaseException) -> None:
    """Event: a fit failed.

    Called on every plugin, once, when :func:`pynomaly_fit` raised or its owner did not return a
    :class:`~pynomaly.types.FitResult`; the error is raised again afterwards and
    :func:`pynomaly_after_fit` is not called. Return values are ignored; an exception is logged,
    never fatal.

    :param detector_id: the full detector id.
    :param error: the exception the caller will get: an ``InputError`` as the plugin raised it, or a
        :class:`~pynomaly.errors.PluginError` naming the plugin, with the plugin's own exception as
        ``__cause__``.
    """


@_spec(EVENT)
def pynomaly_before_score(detector_id: str, n_samples: int) -> None:
    """Event: a batch of rows is about to be scored.

    Called on every plugin, once per batch (never once per row), right before
    :func:`pynomaly_score`. Return values are ignored; an exception is logged, never fatal.

    :param detector_id: the full detector id.
    :param n_samples: the number of rows in the batch.
    """


@_spec(EVENT)
def pynomaly_after_score(detector_id: str, n_samples: int, duration: float) -> None:
    """Event: a batch of rows was scored.

    Called on every plugin, once per batch, right after :func:`pynomaly_score` returned. Return
    values are ignored; an exception is logged, never fatal.

    :param detector_id: the full detector id.
    :param n_samples: the number of rows in the batch.
    :param duration: the seconds the scoring took (wall clock).
    """


@_spec(EVENT)
def pynomaly_on_score_error(detector_id: str, error: BaseException) -> None:
    """Event: scoring a batch failed.

    Called on every plugin, once, when :func:`pynomaly_score` raised or its owner returned
    ``None``; the error is raised again afterwards and :func:`pynomaly_after_score` is not called.
    Return values are ignored; an exception is logged, never fatal.

    :param detector_id: the full detector id.
    :param error: the exception the caller will get: an ``InputError``, or a
        :class:`~pynomaly.errors.PluginError` whose ``__cause__`` is the plugin's exception.
    """


# --------------------------------------------------------------------------------------------
# Data source hooks
# --------------------------------------------------------------------------------------------


@_spec(COLLECT, "data_source")
def pynomaly_data_sources() -> list[SourceInfo]:
    """List the data sources this plugin offers.

    Called on every plugin by ``pynomaly sources`` (:func:`pynomaly.services.data.data_sources`) and
    to list the known schemes and extensions in the error when no plugin opens a URI. A plugin that
    raises is logged and left out.

    :returns: a list of :class:`~pynomaly.types.SourceInfo` (``name``, ``description``,
        ``schemes``, ``extensions``, and ``uris``: complete sources it offers, such as bundled
        samples, for shell completion). It is descriptive only: :func:`pynomaly_connect`
        decides what the plugin opens.
    """


@_spec(OWNER, "data_source")
def pynomaly_connect(uri: str, options: Mapping[str, Any]) -> Any | None:
    """Open ``uri`` if this plugin reads it.

    Called by :func:`pynomaly.load_data` — hence by every fit, detect, score and explain of a path
    or URI — by ``Model.score_source`` and by :func:`pynomaly.services.data.connect`. The plugins
    are asked in hook order until one returns non-``None`` (first result wins); that plugin owns
    the resulting :class:`~pynomaly.types.Connection`, and the hooks that take a ``connection`` are
    offered to it alone. May be ``async def``: what it creates on the event loop (a pool, a
    session) is still usable when the connection's other hooks run.

    :param uri: a path (``data.csv``) or URI (``sample:wbc``, ``sqlite:///x.db``).
    :param options: source options (``delimiter``, ``table``, ``columns`` …; ``{}`` when none), kept
        as ``connection.options``.
    :returns: any handle the plugin wants back as ``connection.handle`` (a path, a client, a pool),
        or ``None`` if ``uri`` is not yours. ``connection.uri`` is ``uri`` with any password
        masked: keep what you need to reach the data in the handle. When no plugin answers, the
        caller gets a :class:`~pynomaly.errors.SourceNotFoundError`.
    :raises pynomaly.errors.DataError: when ``uri`` is yours but unusable (a missing file, an
        unknown table); returning ``None`` instead would tell the user that no plugin reads it.
    """


@_spec(OWNER, "data_source")
def pynomaly_read_data(connection: Connection, query: Mapping[str, Any]) -> pd.DataFrame | None:
    """Read the data of an open connection as one DataFrame.

    Called for the plugin that opened ``connection`` only — pynomaly offers it to no other, so
    there is nothing to check — once per :func:`pynomaly.load_data` (so once per fit, detect,
    score or explain of a path or URI) and by :func:`pynomaly.services.data.read_data`. May be
    ``async def``.

    :param connection: the :class:`~pynomaly.types.Connection` from :func:`pynomaly_connect`;
        ``connection.handle`` is what the plugin returned there, ``connection.options`` the source
        options.
    :param query: what to read (e.g. ``{"table": "orders"}``); ``{}``, which pynomaly's own API
        passes, means everything.
    :returns: a ``pandas.DataFrame``: the rows and their feature columns, with the natural row
        labels as index. ``None`` is a :class:`~pynomaly.errors.PluginError`.
    :raises pynomaly.errors.DataError: for data that cannot be read.
    """


@_spec(OWNER, "data_source")
def pynomaly_read_batches(
    connection: Connection, query: Mapping[str, Any], batch_size: int
) -> Iterator[pd.DataFrame] | None:
    """Read the data of an open connection as DataFrames of ``batch_size`` rows.

    Called for the plugin that opened ``connection`` only, when pynomaly scores a source batch by
    batch (``Model.score_source``, ``pynomaly score``) so that the data never has to fit in memory.
    May be a generator function, or an async generator. The hook is called, and its batches are
    read, in a thread of their own that reads one batch ahead while the main thread scores: a
    handle opened in the hook is used in the thread that opened it; the iterator's ``close()``
    is called (in that thread) when scoring stops early.

    :param connection: the :class:`~pynomaly.types.Connection` from :func:`pynomaly_connect`. Its
        ``options`` may hold ``text_columns``: columns to read as text in every batch, as they were
        in the training data.
    :param query: what to read, as for :func:`pynomaly_read_data`.
    :param batch_size: the number of rows per batch (the last one may be shorter).
    :returns: an iterator of ``pandas.DataFrame`` whose indexes continue each other (as one read
        would), or ``None`` if the source cannot be read in batches: pynomaly then reads it whole
        with :func:`pynomaly_read_data`.
    """


@_spec(OWNER, "data_source")
def pynomaly_write_data(
    connection: Connection, data: pd.DataFrame, destination: str, options: Mapping[str, Any]
) -> bool | None:
    """Write ``data`` to ``destination`` through an open connection.

    Called for the plugin that opened ``connection`` only, by
    :func:`pynomaly.services.data.write_data`; pynomaly itself writes results through
    :func:`pynomaly_export_data`.

    :param connection: an open connection of this plugin.
    :param data: the DataFrame to write; do not modify it.
    :param destination: where to write it (a file name, a table).
    :param options: write options, e.g. ``{"overwrite": True}``.
    :returns: ``True`` when written. ``None`` is a :class:`~pynomaly.errors.PluginError`.

    Writes must be atomic — nothing half-written is left behind on failure — and must not replace
    existing data unless ``options["overwrite"]``.
    """


@_spec(OWNER, "data_source")
def pynomaly_get_schema(connection: Connection) -> Mapping[str, str] | None:
    """Describe the columns of an open connection's data.

    Called for the plugin that opened ``connection`` only, by ``pynomaly schema SOURCE`` and
    :func:`pynomaly.services.data.get_schema`. Read as little as the format allows (a Parquet
    footer, a table definition).

    :param connection: an open connection of this plugin.
    :returns: the column names and their types as strings (``{"amount": "float64"}``). ``None`` is
        a :class:`~pynomaly.errors.PluginError`.
    """


@_spec(OWNER, "data_source")
def pynomaly_test_connection(connection: Connection) -> bool | None:
    """Check that the data behind an open connection can be reached and read.

    Called for the plugin that opened ``connection`` only, by ``pynomaly schema SOURCE`` (before
    :func:`pynomaly_get_schema`) and :func:`pynomaly.services.data.test_connection`.

    :param connection: an open connection of this plugin.
    :returns: ``True`` when the data can be read. ``None`` is a
        :class:`~pynomaly.errors.PluginError`.
    :raises pynomaly.errors.DataError: with a one-line reason when it cannot; never put a password
        or a token in the message.
    """


# --------------------------------------------------------------------------------------------
# Processing hooks
# --------------------------------------------------------------------------------------------


@_spec(CHECK, "processing")
def pynomaly_validate(data: pd.DataFrame, source: str) -> None:
    """Check input data before detection; raise to reject it.

    Called on every plugin in hook order, once per batch of input, after preprocessing and the
    processing steps (with the label column set aside), before the data becomes the ``float64``
    matrix of the algorithm hooks. The first plugin that raises rejects the data: its error reaches
    the caller and later plugins are not asked. The built-in ``validation`` plugin, which cannot be
    disabled, rejects empty data, duplicate or non-numeric columns and NaN or infinite values,
    naming the column (and the row).

    :param data: the DataFrame to check; do not modify it.
    :param source: where the data came from, for messages: a path or URI (password masked),
        ``"<DataFrame>"``, ``"<array>"`` or ``"<Series>"``.
    :raises pynomaly.errors.DataError: to reject the data, naming the source and the column.
    """


@_spec(CHAIN, "processing")
def pynomaly_preprocess(data: pd.DataFrame, source: str) -> pd.DataFrame | None:
    """Transform input data before the processing steps, validation and detection.

    Called once per batch of input, for training data and new rows alike (fit, detect, score,
    explain, each batch of ``Model.score_source``), so a transformation must give the same columns
    for both. Chained: each plugin in hook order gets the previous plugin's output, and ``None``
    passes it on unchanged.

    :param data: the input DataFrame, or the previous plugin's output. An array arrives as a
        DataFrame with columns ``x0``, ``x1`` …; the label column, if any, is still there.
    :param source: where the data came from (see :func:`pynomaly_validate`).
    :returns: a new DataFrame, or ``None`` to leave the data as it is. ``data`` is a copy of the
        caller's DataFrame (copy-on-write): changing it in place changes nothing downstream.
    """


@_spec(COLLECT, "processing")
def pynomaly_processing_steps() -> list[StepInfo]:
    """List the processing steps this plugin offers (``impute``, ``scale`` …).

    Called on every plugin by ``pynomaly steps``
    (:func:`pynomaly.services.processing.processing_steps`) and to list the known steps in the error
    for an unknown step name. A plugin that raises is logged and left out.

    :returns: a list of :class:`~pynomaly.types.StepInfo` (``name``, ``description``,
        ``options``), ``options`` mapping each option to a :class:`~pynomaly.types.ParamSpec`.
    """


@_spec(OWNER, "processing")
def pynomaly_create_step(name: str, options: Mapping[str, Any]) -> ProcessingStep | None:
    """Create the unfitted processing step ``name``.

    Called once per step the user asks for (``steps=[("clip", {"quantile": 0.05})]``, or a CLI
    option such as ``--impute median`` or ``--step clip:quantile=0.05``), before the data is read.
    The first non-``None`` result wins: the plugin that offers ``name`` answers, every other
    returns ``None``. pynomaly fits the step on the training data (after
    :func:`pynomaly_preprocess`, with the label column set aside), keeps it in the fitted model and
    applies it to every batch scored later.

    :param name: the step's name.
    :param options: the step's options as the user gave them.
    :returns: an unfitted :class:`~pynomaly.types.ProcessingStep` — an object with
        ``fit(frame) -> step`` and ``transform(frame) -> frame``, picklable, never modifying its
        argument — or ``None`` if ``name`` is not yours. When no plugin answers, the caller gets an
        ``InputError`` listing the known steps.
    :raises pynomaly.errors.InputError: naming the option that is wrong.
    """


@_spec(CHAIN, "processing")
def pynomaly_postprocess(result: DetectionResult) -> DetectionResult | None:
    """Adjust a detection result (relabel, enrich) before it is returned.

    Called once per result, by :func:`pynomaly.detect`, ``Model.detect`` and for each batch of
    ``Model.score_source`` (not by ``score`` or ``predict``, which return bare arrays). Chained
    like :func:`pynomaly_preprocess`: each plugin in hook order gets the previous plugin's output.

    :param result: the :class:`~pynomaly.DetectionResult` so far: ``scores``, 0/1 ``labels``,
        ``threshold``, the input ``index`` and ``data``, ``detector``, ``model``, ``source``; its
        ``duration`` is set after postprocessing.
    :returns: a new result (``attrs.evolve(result, ...)``), or ``None`` for no change; never modify
        ``result`` in place.
    """


@_spec(OWNER, "processing")
def pynomaly_threshold(method: str, scores: np.ndarray) -> float | None:
    """Compute the label threshold of a fit with a method of this plugin.

    Called once per fit whose threshold rule is a plugin's method ``"namespace:name"``
    (``pynomaly.detect(..., threshold="pythresh:karch")``, ``--threshold pythresh:karch``), after
    the detector was fitted, on its training scores; the threshold is kept in the ``Model``, so
    new rows are labelled with it without calling the hook again. The first non-``None`` result
    wins: the plugin that owns the method's namespace answers (``pynomaly.is_mine(method,
    "pythresh")``), every other returns ``None``. The built-in rules (``contamination``,
    ``percentile:P``, ``fixed:S``, ``mad``, ``iqr``, ``zscore``, ``auto``) never reach this hook.

    :param method: the method as the user named it, ``"namespace:name"``.
    :param scores: the training scores, a 1-D ``float64`` array, higher = more anomalous; do not
        modify it.
    :returns: the score threshold — rows scoring above it are anomalies — or ``None`` if the
        method is not yours. When no plugin answers, the caller gets an ``InputError`` naming
        the built-in rules.
    :raises pynomaly.errors.InputError: for a method of your namespace that you do not offer, or
        whose library is not installed.
    """


# --------------------------------------------------------------------------------------------
# Output hooks
# --------------------------------------------------------------------------------------------


@_spec(COLLECT, "output")
def pynomaly_outputs() -> list[OutputInfo]:
    """List the output formats this plugin offers.

    Called on every plugin by :func:`pynomaly.services.outputs.outputs`, to choose the format of
    ``--output FILE`` (``pynomaly detect``, ``pynomaly score``) when no ``--format`` is given — from
    the extensions any plugin declares, the longest matching extension wins — and to list the known
    formats in the error for an unknown one. A plugin that raises is logged and left out.

    :returns: a list of :class:`~pynomaly.types.OutputInfo` (``name``, ``description``,
        ``extensions``).
        :func:`pynomaly_format_output` and :func:`pynomaly_export_data` decide what the plugin
        renders and writes.
    """


@_spec(OWNER, "output")
def pynomaly_format_output(
    result: DetectionResult, fmt: str, options: Mapping[str, Any]
) -> str | None:
    """Render a detection result as text in format ``fmt``.

    Called by ``pynomaly detect`` and ``pynomaly score`` — format ``"table"``, ``"json"`` with
    ``--json``, or any format with ``--format NAME`` and no ``--output`` — and by
    :func:`pynomaly.services.outputs.format_output`. The first non-``None`` result wins: the
    plugin that offers ``fmt`` answers, every other returns ``None``. The built-in ``outputs``
    plugin renders ``"table"`` and ``"json"``.

    :param result: the :class:`~pynomaly.DetectionResult` to render; for the ``"table"`` and
        ``"json"`` formats of a streamed run (``pynomaly score``, ``detect --batch-size``), a
        :class:`~pynomaly.StreamedResult` — ``summary()``, ``top(n)``, ``contributions(n)``,
        ``metrics``, but no per-row arrays.
    :param fmt: the format name (``"table"``, ``"json"`` …).
    :param options: rendering options, e.g. ``{"top": 10}`` for the number of rows to show.
    :returns: the text, or ``None`` if ``fmt`` is not yours. When no plugin answers, the caller gets
        an ``InputError`` listing the known formats.
    """


@_spec(OWNER, "output")
def pynomaly_export_data(
    result: DetectionResult, destination: str, fmt: str, options: Mapping[str, Any]
) -> bool | None:
    """Write a detection result to ``destination`` in format ``fmt``.

    Called by ``--output PATH [--format FMT] [--overwrite]`` and ``--report PATH`` (format
    ``"html"``) of ``pynomaly detect`` and ``pynomaly score``, and by
    :func:`pynomaly.services.outputs.export_data`. The first
    non-``None`` result wins: the plugin that offers ``fmt`` answers, every other returns ``None``.
    Built in: ``outputs`` writes ``"csv"``, ``"json"``, ``"jsonl"`` and ``"parquet"``, ``report``
    writes ``"html"`` and ``sql`` writes ``"sql"`` (a database table). Where
    :func:`pynomaly_open_output` answers for ``fmt``, ``pynomaly score`` and
    ``pynomaly detect --batch-size`` write through it instead.

    :param result: the :class:`~pynomaly.DetectionResult` to write; ``result.to_frame()`` gives what
        a table holds: the input rows' index, ``anomaly_score`` and ``is_anomaly``.
    :param destination: the file (or other target, such as a database URL) to write.
    :param fmt: the format name.
    :param options: e.g. ``{"overwrite": True}``; the CLI adds ``table`` for SQL outputs.
    :returns: ``True`` when written, ``None`` if ``fmt`` is not yours. When no plugin writes it, the
        caller gets an ``InputError`` listing the known formats.

    Writes must be atomic (a temporary file in the same directory, then a rename) and must not
    replace an existing file unless ``options["overwrite"]``.
    """


@_spec(OWNER, "output")
def pynomaly_open_output(
    destination: str, fmt: str, options: Mapping[str, Any]
) -> OutputWriter | None:
    """Open ``destination`` to be written batch by batch in format ``fmt``.

    Called by ``pynomaly score`` and ``pynomaly detect --batch-size N`` for ``--output PATH``
    (and by :func:`pynomaly.services.outputs.open_output`) before the first batch is scored, so
    that each batch is written as soon as it is scored and the scores of a source larger than
    memory are never all held. The first non-``None`` result wins: the plugin that offers
    ``fmt`` and can write it in pieces answers, every other returns ``None``. When no plugin
    answers, pynomaly keeps every row's score and calls :func:`pynomaly_export_data` once at the
    end instead. Built in: ``outputs`` streams ``"csv"``, ``"json"``, ``"jsonl"`` and
    ``"parquet"`` (and writes its :func:`pynomaly_export_data` files through the same writers).

    :param destination: the file (or other target) to write.
    :param fmt: the format name.
    :param options: as for :func:`pynomaly_export_data`, e.g. ``{"overwrite": True}``.
    :returns: an :class:`~pynomaly.types.OutputWriter` — ``write(batch_result)`` once per batch
        in input order, then ``close(result)`` with the whole run's result (a
        :class:`~pynomaly.StreamedResult` with ``summary()`` and ``top(n)`` but no per-row arrays)
        or ``abort()`` if the run failed — or ``None`` if ``fmt`` is not yours or cannot be
        streamed.
    :raises pynomaly.errors.InputError: when ``destination`` cannot be written or already exists
        without ``options["overwrite"]`` — raised here, before anything is scored.

    Writes must be atomic: write to a temporary file in the same directory
    (:class:`pynomaly.AtomicFile`), move it into place in ``close`` and remove it in ``abort``.
    """


@_spec(EVENT, "output")
def pynomaly_send_notification(
    message: str, result: DetectionResult | None, options: Mapping[str, Any]
) -> None:
    """Deliver a notification about a detection: a log line, a webhook, a chat message.

    Called on every plugin, by ``--notify URL`` of ``pynomaly detect`` and ``pynomaly score``
    (with the options ``{"webhook": URL, "timeout": SECONDS}``) and by
    :func:`pynomaly.services.outputs.send_notification`, which returns the ``(plugin, error)``
    pairs of the plugins that failed (the CLI prints them and exits 1). Return values are ignored;
    a plugin that raises is logged and reported, and the others still run. Built in: ``outputs``
    logs the message (logger ``pynomaly.notify``), ``webhook`` POSTs it as JSON to
    ``options["webhook"]``.

    :param message: the text of the notification.
    :param result: the detection it is about, or ``None``: a :class:`~pynomaly.DetectionResult`,
        or after a streamed run a :class:`~pynomaly.StreamedResult` (``summary()``, ``top(n)``,
        ``metrics``; no per-row arrays).
    :param options: delivery options (channel, recipients …), ``{}`` when none.

    Deliver once per notification — never once per anomalous row — and keep timeouts short.
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
