"""Partitioned data on a Dask cluster: ``engine="dask"``, ``pynomaly detect --engine dask``.

The data is a directory or glob of data files (CSV, Parquet, JSON Lines ... — whatever the
data-source plugins read; one file is one partition) or a Dask DataFrame (its partitions).

1. **Fit on a sample.** The detectors fit in memory, in one process (scikit-learn and PyOD
   have no out-of-core fit), so the model is fitted, here in the calling process, on a uniform
   random sample of at most ``fit_rows`` rows (:data:`DEFAULT_FIT_ROWS`), or on every row
   when the data has no more (or ``fit_rows=None``, when they fit in memory here). The
   sample is drawn in one pass on the cluster: each partition gives every row a random key
   from a generator seeded with ``(random_state, partition number)`` and keeps the rows of
   its ``fit_rows`` smallest keys; pairs of partial samples are merged on the workers, keeping
   the smallest keys, so no more than ``2 × fit_rows`` rows are ever held by one task and only
   the sample reaches the caller. The ``fit_rows`` smallest of independent uniform keys are a
   uniform sample without replacement; the rows are then put back in (partition, row) order,
   so the same data, partitioning and seed give the same sample and model, and a sample of
   every row is the data in order (the model ``engine="local"`` fits on it). The label
   threshold comes from the sample's training scores. With a seed, the model cache
   (``cache=True``) applies to the sample's fit.
2. **Score partitions in parallel.** Each partition is read, prepared with the model's fitted
   steps and scored by a worker, as ``model.score`` scores new rows — so only detectors whose
   rows are scored independently of their batch
   (:attr:`~pynomaly.types.DetectorInfo.batch_independent`) can be used; others are refused.
   Every row is scored as new data, including the sampled ones (for detectors that compute
   their training scores differently, such as LOF and kNN, which leave a training row out of
   its own neighbours, these scores differ from ``engine="local"``'s training scores).
3. **Write partitioned output** (``output=DIR``, ``-o DIR``): each worker writes its
   partition's index, ``anomaly_score`` and ``is_anomaly`` to one file in ``DIR`` (named after
   the input file, or ``part.N`` for a Dask DataFrame; Parquet unless ``output_format``
   says), atomically, through the output plugins. Inputs and outputs are paths the workers
   open: on a cluster of several machines they must be on storage every machine sees at the
   same path.

The plugin manager is never shipped: a manager is not picklable and is tied to this
process's plugins. What is shipped is the fitted :class:`~pynomaly.detection.results.Model`
(which holds no manager and pickles; scattered once to every worker) and the manager's
*settings* (which plugins load, their configuration). Each worker process creates its own
manager from them once and reuses it, so its entry-point plugins are the ones installed on
that machine: a worker scores through the same hooks and code as ``model.score`` does here.

Without ``scheduler``, a Dask client already active in this process is used, else a local
cluster (one single-threaded worker process per core) is started for the call and stopped
after it. ``scheduler="tcp://host:8786"`` connects to a running scheduler.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import pickle
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import numpy as np
import pandas as pd

from pynomaly._log import get_logger
from pynomaly.errors import DataError, InputError, PynomalyError
from pynomaly.plugin import replica
from pynomaly.plugin.replica import ManagerSpec

if TYPE_CHECKING:  # pragma: no cover
    from distributed import Client

    from pynomaly.detection.results import DetectionResult, Model
    from pynomaly.plugin.manager import PluginManager
    from pynomaly.progress import Tracker

log = get_logger("pynomaly.dask")

ENGINES = ("local", "dask")
#: rows the model is fitted on when the data has more (see the module docstring)
DEFAULT_FIT_ROWS = 100_000
DEFAULT_FORMAT = "parquet"
INSTALL_HINT = "engine 'dask' needs Dask: pip install 'pynomaly[dask]'"
# how long a failed run waits for partitions already being written (see _settle)
SETTLE_TIMEOUT = 300.0


def check_engine(engine: str, scheduler: str | None = None) -> str:
    """``engine`` if it is one of :data:`ENGINES`; a scheduler only goes with ``"dask"``."""
    if engine not in ENGINES:
        raise InputError(f"engine must be one of {', '.join(ENGINES)}, got {engine!r}")
    if scheduler is not None and engine != "dask":
        raise InputError("a scheduler address needs engine 'dask' (--engine dask)")
    return engine


def check_fit_rows(fit_rows: int | str | None) -> int | None:
    """``fit_rows`` as a number of rows, ``None`` for every row (``"all"``)."""
    if fit_rows is None or fit_rows == "all":
        return None
    if isinstance(fit_rows, bool) or not isinstance(fit_rows, (int, np.integer)) or fit_rows < 2:
        raise InputError(f"fit_rows must be an integer >= 2 or 'all', got {fit_rows!r}")
    return int(fit_rows)


# --------------------------------------------------------------------------------------------
# What the caller gets
# --------------------------------------------------------------------------------------------


@attrs.frozen
class PartitionSummary:
    """One partition's outcome: its name, rows, anomalies and the file written, if any."""

    name: str
    rows: int
    anomalies: int
    output: str | None = None


@attrs.define(eq=False)
class PartitionedResult:
    """What scoring partitioned data gave, without every score in memory: the model, each
    partition's counts and output file, and the highest-scoring rows of all partitions
    (``top_rows``: the input index, ``partition``, ``anomaly_score``, ``is_anomaly``)."""

    model: Model = attrs.field(repr=False)
    source: str
    partitions: tuple[PartitionSummary, ...]
    top_rows: pd.DataFrame = attrs.field(repr=False)
    output: str | None = None
    fit_rows: int | None = None  # rows the model was fitted on here; None: a given model
    duration: float = 0.0
    timings: dict[str, float] = attrs.field(factory=dict, repr=False)

    @property
    def rows(self) -> int:
        return sum(p.rows for p in self.partitions)

    @property
    def n_anomalies(self) -> int:
        return sum(p.anomalies for p in self.partitions)

    @property
    def threshold(self) -> float:
        return self.model.threshold

    @property
    def detector(self) -> str:
        return self.model.detector

    def top(self, n: int = 10) -> pd.DataFrame:
        """The ``n`` highest-scoring rows (at most as many as were kept per partition)."""
        return self.top_rows.head(n)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary, as :meth:`DetectionResult.summary` with the partitions."""
        out: dict[str, Any] = {
            "source": self.source,
            "detector": self.detector,
            "engine": "dask",
            "rows": self.rows,
            "anomalies": self.n_anomalies,
            "contamination": self.model.contamination,
            "threshold": self.threshold,
            "partitions": len(self.partitions),
            "seconds": round(self.duration, 4),
        }
        if self.fit_rows is not None:
            out["fit_rows"] = self.fit_rows
        if self.output is not None:
            out["output"] = self.output
        if self.timings:
            out["timings"] = {k: round(v, 4) for k, v in self.timings.items()}
        return out


# --------------------------------------------------------------------------------------------
# The input's partitions
# --------------------------------------------------------------------------------------------


@attrs.frozen
class Partition:
    """One partition: a name (for messages and its output file) and a path or a Dask
    ``Delayed`` that computes its DataFrame."""

    name: str
    source: Any


def partitions_of(pm: PluginManager, data: Any) -> tuple[list[Partition], str]:
    """The partitions of ``data`` (a Dask DataFrame, a directory, a glob or a file) and a
    name for it in messages."""
    if _is_dask_frame(data):
        parts = data.to_delayed()
        return [Partition(f"part.{i}", part) for i, part in enumerate(parts)], "<Dask DataFrame>"
    if not isinstance(data, (str, os.PathLike)):
        raise InputError(
            f"engine 'dask' reads a directory, a glob of files or a Dask DataFrame, "
            f"not {type(data).__name__}"
        )
    text = os.fspath(data)
    if "://" in text or text == "-":
        raise InputError(f"{text}: engine 'dask' reads files (a directory, a glob or a file)")
    from pynomaly.services.data import data_sources

    readable = tuple({ext for src in data_sources(pm) for ext in src.extensions})
    path = Path(text)
    if path.is_dir():
        files = sorted(
            p for p in path.iterdir()
            if p.is_file() and not p.name.startswith((".", "_"))
            and p.name.lower().endswith(readable)
        )
        if not files:
            raise DataError(f"{text}: no data files in this directory ({', '.join(readable)})")
    elif glob.has_magic(text):
        files = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not files:
            raise DataError(f"{text}: no file matches this pattern")
    elif path.is_file():
        files = [path]
    else:
        raise DataError(f"{text}: no such file or directory")
    names = [_stem(f) for f in files]
    seen: dict[str, Path] = {}
    for name, file in zip(names, files, strict=True):
        if name in seen:
            raise DataError(
                f"{text}: {seen[name].name} and {file.name} would write the same output "
                f"file {name}.*; rename one"
            )
        seen[name] = file
    return [Partition(n, str(f.resolve())) for n, f in zip(names, files, strict=True)], text


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson", ".xlsx"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return name or path.name


def _is_dask_frame(data: Any) -> bool:
    module = type(data).__module__
    return module.startswith("dask") and hasattr(data, "to_delayed") and hasattr(
        data, "npartitions"
    )


# --------------------------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def client_for(scheduler: str | None, tracker: Tracker | None = None) -> Iterator[Client]:
    """A Dask client: connected to ``scheduler``, else the one already active in this
    process, else one on a local cluster started now and stopped on exit."""
    try:
        import distributed
    except ImportError:
        raise InputError(INSTALL_HINT) from None
    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout="10s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"scheduler {scheduler}: cannot connect ({exc})") from None
        with client:
            yield client
        return
    try:
        current = distributed.Client.current()
    except ValueError:  # none: start a local cluster
        current = None
    if current is not None:
        yield current
        return
    import logging

    phase = tracker.phase("load", detail="local Dask cluster") if tracker else None
    with phase if phase is not None else contextlib.nullcontext():
        try:
            cluster = distributed.LocalCluster(
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
        except RuntimeError as exc:  # worker processes re-import the main module
            raise PynomalyError(
                f"a local Dask cluster could not start its worker processes ({exc}): run "
                "from a script guarded by `if __name__ == \"__main__\":`, or start a cluster "
                "and pass its address as scheduler"
            ) from None
        client = distributed.Client(cluster, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


# --------------------------------------------------------------------------------------------
# Worker side: a manager per process, built from the caller's settings
# --------------------------------------------------------------------------------------------


def token_of(setup: ManagerSpec) -> str:
    """A digest naming ``setup``: a worker process builds one manager per token."""
    return hashlib.sha256(pickle.dumps(setup)).hexdigest()


_managers: dict[str, PluginManager] = {}
_managers_lock = threading.Lock()


def worker_manager(token: str, setup: ManagerSpec) -> PluginManager:
    """This process's manager for ``setup`` (created once per worker process)."""
    with _managers_lock:
        pm = _managers.get(token)
        if pm is None:
            pm = setup.build()
            _managers[token] = pm
        return pm


def _read(pm: PluginManager, source: Any, options: Mapping[str, Any]) -> pd.DataFrame:
    if isinstance(source, pd.DataFrame):  # a Dask DataFrame's partition, computed
        return source
    from pynomaly.services import data as data_service

    return data_service.read_data(pm, data_service.connect(pm, source, options))


@contextlib.contextmanager
def _reported(name: str, source: Any) -> Iterator[None]:
    """Errors raised on a worker, as one-line errors naming the partition that travel back
    (some of pynomaly's errors take several constructor arguments and would not unpickle)."""
    try:
        yield
    except InputError as exc:
        raise InputError(_named(name, source, exc)) from None
    except PynomalyError as exc:
        raise PynomalyError(_named(name, source, exc)) from None


def _named(name: str, source: Any, exc: BaseException) -> str:
    text = str(exc)
    where = source if isinstance(source, str) else name
    return text if text.startswith((where, name)) else f"{where}: {text}"


# --------------------------------------------------------------------------------------------
# Pass 1: a uniform sample, by the smallest random keys
# --------------------------------------------------------------------------------------------


@attrs.frozen
class Sample:
    """Rows kept by a partial sample: their keys, partition numbers and positions."""

    keys: np.ndarray
    parts: np.ndarray
    positions: np.ndarray
    frame: pd.DataFrame
    rows: int  # rows seen


def _sample_part(
    token: str,
    setup: ManagerSpec,
    number: int,
    name: str,
    source: Any,
    options: Mapping[str, Any],
    size: int | None,
    seed: int,
) -> Sample:
    with _reported(name, source):
        frame = _read(worker_manager(token, setup), source, options)
        n = len(frame)
        keys = np.random.default_rng([seed, number]).random(n)
        if size is not None and n > size:
            positions = np.sort(np.argpartition(keys, size - 1)[:size])
        else:
            positions = np.arange(n)
        return Sample(
            keys[positions],
            np.full(len(positions), number, dtype=np.int64),
            positions,
            frame.iloc[positions],
            n,
        )


def _merge(a: Sample, b: Sample, size: int | None) -> Sample:
    """The union of two partial samples, cut to the ``size`` smallest keys, in (partition,
    position) order."""
    keys = np.concatenate([a.keys, b.keys])
    parts = np.concatenate([a.parts, b.parts])
    positions = np.concatenate([a.positions, b.positions])
    frame = pd.concat([a.frame, b.frame])
    if size is not None and len(keys) > size:
        kept = np.argpartition(keys, size - 1)[:size]
        order = kept[np.lexsort((positions[kept], parts[kept]))]
    else:
        order = np.lexsort((positions, parts))
    return Sample(keys[order], parts[order], positions[order], frame.iloc[order], a.rows + b.rows)


def draw_sample(
    client: Client,
    parts: Sequence[Partition],
    setup: ManagerSpec,
    options: Mapping[str, Any],
    size: int | None,
    seed: int,
) -> Sample:
    """A uniform sample of at most ``size`` rows (every row with ``None``) of all
    partitions, merged pairwise on the cluster."""
    import dask

    token = token_of(setup)
    sample_part = dask.delayed(_sample_part, pure=False)
    merge = dask.delayed(_merge, pure=False)
    level = [
        sample_part(token, setup, i, p.name, p.source, options, size, seed)
        for i, p in enumerate(parts)
    ]
    while len(level) > 1:
        merged = [merge(level[i], level[i + 1], size) for i in range(0, len(level) - 1, 2)]
        level = merged + ([level[-1]] if len(level) % 2 else [])
    result: Sample = _result(client, client.compute(level[0]))
    return result


def _result(client: Client, future: Any) -> Any:
    from distributed import KilledWorker

    try:
        return future.result()
    except KilledWorker as exc:
        raise PynomalyError(
            f"a Dask worker died ({exc}): out of memory? use smaller partitions or workers "
            "with more memory"
        ) from None


# --------------------------------------------------------------------------------------------
# Pass 2: scoring (and writing) partitions on the workers
# --------------------------------------------------------------------------------------------


@attrs.frozen
class OutputSpec:
    """Where and how the workers write their partitions."""

    directory: str
    fmt: str
    extension: str
    overwrite: bool = False

    def path(self, name: str) -> str:
        return os.path.join(self.directory, name + self.extension)


@attrs.frozen
class Scored:
    """One partition's scores, as a worker returns them: counts, its top rows and — when
    asked — every row's score, label and ground truth."""

    number: int
    name: str
    rows: int
    anomalies: int
    top: pd.DataFrame
    output: str | None = None
    frame: pd.DataFrame | None = None
    y_true: pd.Series | None = None


def _score_part(
    token: str,
    setup: ManagerSpec,
    model: Model,
    number: int,
    name: str,
    source: Any,
    options: Mapping[str, Any],
    output: OutputSpec | None,
    top: int | None,
    keep: bool,
) -> Scored:
    from pynomaly.detection.prepare import Scorer, prepare
    from pynomaly.detection.results import build_result

    with _reported(name, source):
        pm = worker_manager(token, setup)
        frame = _read(pm, source, options)
        start = time.perf_counter()
        where = source if isinstance(source, str) else name
        prepared = prepare(pm, frame, model, None, source=where)
        result = build_result(pm, model, Scorer(pm, model).score(prepared.X), prepared, start)
        written = None
        if output is not None:
            from pynomaly.services.outputs import export_data

            written = output.path(name)
            export_data(pm, result, written, output.fmt, {"overwrite": output.overwrite})
        n = len(result.scores)
        positions = result._top_positions(n if top is None else min(top, n))
        head = result.to_frame().iloc[positions]
        head.insert(0, "partition", name)
        return Scored(
            number,
            name,
            n,
            result.n_anomalies,
            head,
            written,
            result.to_frame() if keep else None,
            result.y_true if keep else None,
        )


def score_partitions(
    client: Client,
    model: Model,
    parts: Sequence[Partition],
    setup: ManagerSpec,
    options: Mapping[str, Any],
    *,
    output: OutputSpec | None = None,
    top: int | None = 10,
    keep: bool = False,
    tracker: Tracker | None = None,
    total: int | None = None,
) -> list[Scored]:
    """Score every partition on the cluster (the model scattered once to every worker);
    the partitions' outcomes, in partition order."""
    import dask
    from distributed import as_completed

    token = token_of(setup)
    if model.text_columns:  # typed as at fit time in every file (see Model.score_source)
        options = {"text_columns": list(model.text_columns), **options}
    workers = len(client.ncores())
    load = tracker.phase("load", detail=f"model sent to {workers} Dask workers") if (
        tracker is not None
    ) else None
    with load if load is not None else contextlib.nullcontext():
        # once per worker (its first unpickling imports the detector's library there)
        shipped = client.scatter(model, broadcast=True, hash=False)
    score_part = dask.delayed(_score_part, pure=False)
    tasks = [
        score_part(token, setup, shipped, i, p.name, p.source, options, output, top, keep)
        for i, p in enumerate(parts)
    ]
    futures = client.compute(tasks)
    done: list[Scored] = []
    detail = f"{model.detector} on {len(parts)} partitions"
    phase = tracker.phase("score", total=total, detail=detail) if tracker is not None else None
    with phase if phase is not None else contextlib.nullcontext() as running:
        try:
            for future in as_completed(futures, loop=client.loop):
                scored: Scored = _result(client, future)
                done.append(scored)
                if running is not None:
                    running.advance(scored.rows)
        except BaseException as exc:
            client.cancel(futures)
            if not isinstance(exc, KeyboardInterrupt):
                _settle(client, futures)
            raise
    return sorted(done, key=lambda s: s.number)


def _executing(dask_worker: Any) -> list[str]:
    state = dask_worker.state
    return [ts.key for ts in (*state.executing, *state.long_running)]


def _settle(client: Client, futures: Sequence[Any], timeout: float = SETTLE_TIMEOUT) -> None:
    """Wait until no worker still runs one of ``futures``' tasks. A cancel stops the queued
    partitions, not the running ones: those go on to write their files, and the command must
    not return (and the user clean up) while a worker is still writing into the output."""
    import time

    keys = {future.key for future in futures}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            running = client.run(_executing)
        except Exception:  # a worker gone or unreachable: nothing more to wait for there
            return
        if not keys.intersection(key for listed in running.values() for key in listed):
            return
        time.sleep(0.05)
    log.warning("partitions still being written after %s s: their files may appear later",
                timeout)


def output_spec(
    pm: PluginManager,
    output: str | os.PathLike[str],
    fmt: str | None,
    parts: Sequence[Partition],
    overwrite: bool,
) -> OutputSpec:
    """Check the output directory before any work (it is created if missing; files in it
    are replaced only with ``overwrite``; an input file is never replaced)."""
    from pynomaly.services.outputs import outputs

    text = os.fspath(output)
    if "://" in text or text == "-":
        raise InputError(
            f"--output {text}: with engine 'dask' the output is a directory (one file per "
            "partition)"
        )
    fmt = fmt or DEFAULT_FORMAT
    known = {o.name: o for o in outputs(pm) if o.extensions}
    if fmt not in known:
        raise InputError(
            f"--format {fmt}: not a file format that can be written per partition "
            f"(known: {', '.join(sorted(known))})"
        )
    directory = Path(text)
    if directory.exists() and not directory.is_dir():
        raise InputError(f"--output {text}: exists and is not a directory")
    if not directory.absolute().parent.is_dir():
        raise InputError(f"--output {text}: directory {directory.parent} does not exist")
    spec = OutputSpec(str(directory.absolute()), fmt, known[fmt].extensions[0], overwrite)
    inputs = {os.path.realpath(p.source) for p in parts if isinstance(p.source, str)}
    for part in parts:
        target = spec.path(part.name)
        if os.path.realpath(target) in inputs:
            raise InputError(f"--output {text}: would replace the input file {target}")
        if os.path.exists(target) and not overwrite:
            raise InputError(
                f"--output {text}: {os.path.basename(target)} already exists (use "
                "--overwrite to replace it)"
            )
    directory.mkdir(exist_ok=True)
    return spec


def _top(scored: Sequence[Scored], n: int | None) -> pd.DataFrame:
    heads = [s.top for s in scored if len(s.top)]
    if not heads:
        return pd.DataFrame(columns=["partition", "anomaly_score", "is_anomaly"])
    frame = pd.concat(heads)
    order = np.argsort(-frame["anomaly_score"].to_numpy(), kind="stable")
    return frame.iloc[order if n is None else order[:n]]


# --------------------------------------------------------------------------------------------
# The calls
# --------------------------------------------------------------------------------------------


def check_batch_independent(pm: PluginManager, detector: str) -> None:
    """Refuse a detector whose scores depend on the batch: partitions are scored apart."""
    from pynomaly.services import detectors as detector_service

    info = detector_service.resolve(pm, detector)
    if not info.batch_independent:
        raise InputError(
            f"{info.id} scores a row relative to the other rows of its batch, so partitions "
            "scored apart would get other scores than the whole data: use engine 'local' "
            "(`pynomaly detectors` shows which detectors are batch-independent)"
        )


def fit(
    pm: PluginManager,
    data: Any,
    *,
    fit_rows: int | None,
    random_state: int | None,
    client: Client,
    source_options: Mapping[str, Any] | None = None,
    tracker: Tracker,
    fit_model: Any,
) -> tuple[Model, list[Partition], str, int, int]:
    """Draw the sample on the cluster and fit on it with ``fit_model(frame)``; the model,
    the partitions, the source's name, the rows fitted on and the rows in all."""
    parts, source = partitions_of(pm, data)
    setup = replica.describe(pm)
    # a fresh seed (random_state=None) draws a fresh sample
    seed = int(np.random.default_rng().integers(2**63)) if random_state is None else random_state
    detail = f"{'every row' if fit_rows is None else f'{fit_rows} rows'} of {source}"
    with tracker.phase("read", detail=f"sample: {detail}") as reading:
        sample = draw_sample(client, parts, setup, dict(source_options or {}), fit_rows, seed)
        reading.rows = len(sample.frame)
    frame = sample.frame.reset_index(drop=True)  # file indexes repeat across partitions
    log.info("fitting on %d of %d rows of %s", len(frame), sample.rows, source)
    return fit_model(frame), parts, source, len(frame), sample.rows


def detect(
    data: Any,
    detector: str,
    *,
    scheduler: str | None = None,
    fit_rows: int | str | None = DEFAULT_FIT_ROWS,
    output: str | os.PathLike[str] | None = None,
    output_format: str | None = None,
    overwrite: bool = False,
    top: int | None = 10,
    manager: PluginManager | None = None,
    progress: Any = None,
    source_options: Mapping[str, Any] | None = None,
    **fit_arguments: Any,
) -> PartitionedResult:
    """Fit on a sample of partitioned ``data`` and score every partition on a Dask cluster,
    writing one file per partition into ``output`` when given (see the module docstring).

    ``fit_arguments`` are those of :func:`pynomaly.fit` (``contamination``, ``random_state``,
    ``steps``, ``cache``, detector parameters ...). Returns the counts and the ``top``
    highest-scoring rows (``None``: every row, all brought here); the scores themselves are
    in the output files.
    """
    from pynomaly.detection import api
    from pynomaly.progress import Tracker

    start = time.perf_counter()
    pm = manager or api.default_manager()
    tracker = Tracker.of(progress)
    size = check_fit_rows(fit_rows)
    check_batch_independent(pm, detector)

    def fit_model(frame: pd.DataFrame) -> Model:
        return api.fit(frame, detector, manager=pm, progress=tracker, **fit_arguments)

    with client_for(scheduler, tracker) as client:
        model, parts, source, fitted, total = fit(
            pm,
            data,
            fit_rows=size,
            random_state=fit_arguments.get("random_state", api.DEFAULT_RANDOM_STATE),
            client=client,
            source_options=source_options,
            tracker=tracker,
            fit_model=fit_model,
        )
        spec = (
            output_spec(pm, output, output_format, parts, overwrite) if output is not None else None
        )
        scored = score_partitions(
            client, model, parts, replica.describe(pm), dict(source_options or {}),
            output=spec, top=top, tracker=tracker, total=total,
        )
    return _partitioned(model, source, scored, spec, top, fitted, start, tracker)


def score(
    model: Model,
    data: Any,
    *,
    scheduler: str | None = None,
    output: str | os.PathLike[str] | None = None,
    output_format: str | None = None,
    overwrite: bool = False,
    top: int | None = 10,
    manager: PluginManager | None = None,
    progress: Any = None,
    source_options: Mapping[str, Any] | None = None,
) -> PartitionedResult:
    """Score every partition of ``data`` with a fitted ``model`` on a Dask cluster, writing
    one file per partition into ``output`` when given (as :func:`detect`, without the fit)."""
    from pynomaly.detection.prepare import default_manager
    from pynomaly.progress import Tracker

    start = time.perf_counter()
    pm = manager or default_manager()
    tracker = Tracker.of(progress)
    check_batch_independent(pm, model.detector)
    parts, source = partitions_of(pm, data)
    spec = output_spec(pm, output, output_format, parts, overwrite) if output is not None else None
    with client_for(scheduler, tracker) as client:
        scored = score_partitions(
            client, model, parts, replica.describe(pm), dict(source_options or {}),
            output=spec, top=top, tracker=tracker,
        )
    return _partitioned(model, source, scored, spec, top, None, start, tracker)


def _partitioned(
    model: Model,
    source: str,
    scored: Sequence[Scored],
    spec: OutputSpec | None,
    top: int | None,
    fitted: int | None,
    start: float,
    tracker: Tracker,
) -> PartitionedResult:
    return PartitionedResult(
        model=model,
        source=source,
        partitions=tuple(PartitionSummary(s.name, s.rows, s.anomalies, s.output) for s in scored),
        top_rows=_top(scored, top),
        output=spec.directory if spec is not None else None,
        fit_rows=fitted,
        duration=time.perf_counter() - start,
        timings=tracker.timings,
    )


def collected(
    pm: PluginManager,
    model: Model,
    data: Any,
    *,
    client: Client,
    tracker: Tracker,
    source_options: Mapping[str, Any] | None = None,
) -> DetectionResult:
    """Every partition of ``data`` scored on the cluster and gathered here as one
    :class:`~pynomaly.DetectionResult` (scores, labels, index, ground truth; not the
    features, which stay on the cluster)."""
    check_batch_independent(pm, model.detector)
    parts, source = partitions_of(pm, data)
    start = time.perf_counter()
    scored = score_partitions(
        client, model, parts, replica.describe(pm), dict(source_options or {}),
        top=0, keep=True, tracker=tracker,
    )
    return gathered(pm, model, scored, source, start, tracker)


def gathered(
    pm: PluginManager,
    model: Model,
    scored: Sequence[Scored],
    source: str,
    start: float,
    tracker: Tracker,
) -> DetectionResult:
    """One result from the partitions' kept scores."""
    from pynomaly.detection.prepare import Scorer
    from pynomaly.detection.results import DetectionResult, ranking_metrics

    frames = [s.frame for s in scored if s.frame is not None]
    if not frames or sum(len(f) for f in frames) == 0:
        raise DataError(f"{source}: no rows to score")
    frame = pd.concat(frames)
    truths = [s.y_true for s in scored if s.y_true is not None]
    y_true = pd.concat(truths) if len(truths) == len(frames) else None
    scores = frame["anomaly_score"].to_numpy()
    return DetectionResult(
        scores=scores,
        labels=frame["is_anomaly"].to_numpy(),
        threshold=model.threshold,
        index=frame.index,
        detector=model.detector,
        model=model,
        source=source,
        duration=time.perf_counter() - start,
        y_true=y_true,
        metrics=ranking_metrics(y_true.to_numpy(), scores) if y_true is not None else {},
        scorer=Scorer(pm, model),
        timings=tracker.timings,
    )


__all__ = [
    "DEFAULT_FIT_ROWS",
    "ENGINES",
    "PartitionSummary",
    "PartitionedResult",
    "check_engine",
    "check_fit_rows",
    "detect",
    "score",
]
