"""Scoring on several cores: chunks of rows scored in threads or in worker processes.

Only for batch-independent detectors (:attr:`~pynomaly.types.DetectorInfo.batch_independent`):
a row's score depends on the fitted state and the row alone, so chunks scored apart give
exactly the scores of one call.

A detector that declares :attr:`~pynomaly.types.DetectorInfo.threaded_scoring` (its scoring
releases the GIL and may run in several threads at once) is scored in ``jobs - 1`` threads of
this process plus the calling thread: nothing to start, nothing to copy. Any other is scored
in worker processes. Each worker

* is a fresh interpreter started by loky (joblib's process pool, which scikit-learn uses):
  never a ``fork`` of the caller, whose threads — the read-ahead thread, the plugin manager's
  event loop, BLAS — a forked child would inherit in an undefined state; and, unlike
  ``multiprocessing``'s spawn and forkserver, it does not re-run the caller's main module, so
  scripts need no ``if __name__ == "__main__":`` guard and notebooks and ``python -`` work;
* receives the fitted detector state once, pickled when the worker starts (not per chunk),
  and builds a plugin manager with the parent's settings and configuration (plugins registered
  by hand are re-registered when they are importable modules or picklable objects);
* limits BLAS and OpenMP to its share of the cores (threadpoolctl), so that ``jobs`` workers
  do not each start a thread per core;
* calls ``pynomaly_score`` of the detector's plugin on the float64 chunks it is sent. The
  score events (``pynomaly_before_score`` / ``after_score`` / ``on_score_error``) are called in
  the parent, once per batch, as without workers.

Worker processes are started only where they pay, which is measured, not assumed: the first
rows of a matrix (or of a stream's first batch) are scored in the calling process for
:data:`PROBE_SECONDS`, timing what a row costs and how many cores the process kept busy
meanwhile. Workers start when the rows left, at that pace, would take long enough alone for
them to save :data:`MIN_GAIN_SECONDS` after their start (:data:`START_SECONDS`): the time
saved is the share of the cores the library leaves idle. So no worker starts

* for a library that already uses the cores — KNN and LOF compute their distances in OpenMP
  threads, HBOS and MCD keep two cores busy too: processes would only split its threads, and
  copy the model;
* for little work — HBOS, EllipticEnvelope, MCD and sampling score a row in a fraction of a
  microsecond: a million rows take less than a worker's start.

Single-threaded detectors slow enough per row (KDE, ABOD, LSCP, and third-party ones of that
kind) get workers for a large enough matrix or stream. The rows measured are part of the
result: nothing is scored twice. Where workers were kept from an earlier call for the same
model, only :data:`MIN_GAIN_KEPT` must be saved.

``jobs`` counts the calling process: ``jobs=2`` starts one worker, and the calling process
scores while the workers start (a fresh interpreter importing the detector's library takes
about a second), then its share while they score theirs. One matrix (``Model.score``) is
shared out in slices taken by whoever is free, shrinking towards the end; batches of a stream
(``score_source``, the CLI) are split as they come. The workers are kept for the next call
with the same model and ``jobs``, as joblib keeps its own, and exit after
:data:`IDLE_TIMEOUT` idle seconds; :func:`shutdown` stops them at once.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import pickle
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from typing import TYPE_CHECKING, Any

import numpy as np

from pynomaly._log import get_logger
from pynomaly.detection import _worker
from pynomaly.detection.prepare import Scorer, checked_scores
from pynomaly.errors import InputError, PluginError, PynomalyError
from pynomaly.plugin import replica
from pynomaly.services import detectors as detector_service

if TYPE_CHECKING:  # pragma: no cover
    from pynomaly.detection.results import Model
    from pynomaly.plugin.manager import PluginManager
    from pynomaly.types import DetectorInfo

log = get_logger("pynomaly.parallel")

#: seconds a kept worker process waits for more work before it exits (joblib's default)
IDLE_TIMEOUT = 300
#: the smallest slice of one matrix shared out at a time (Model.score with jobs), in the
#: seconds this process took to score its first rows: a slice costs a copy to a worker and back
MIN_SLICE_SECONDS = 0.1
#: how long the first rows are scored in the calling process, measuring a row's cost and the
#: cores the library keeps busy, before worker processes are started or not
PROBE_SECONDS = 0.2
#: what starting worker processes costs, in seconds of this process scoring alone: a worker
#: is a fresh interpreter importing the detector's library (about a second of CPU, taken from
#: a core the library or this process's reading and writing may also use)
START_SECONDS = 1.0
#: worker processes start only when they should save at least this many seconds
MIN_GAIN_SECONDS = 0.5
#: the same when workers kept from an earlier call for this model are waiting (only the
#: chunks' copies cost)
MIN_GAIN_KEPT = 0.05
#: with worker processes, this process scores its own part in steps of about this many
#: seconds: a library holding the GIL while it scores (KDE's tree, numba without nogil) would
#: keep loky's threads, which start the workers and hand them their chunks, waiting until the
#: whole part is done, and the workers idle meanwhile
STEP_SECONDS = 0.05
#: every part of a batch scored apart starts at a multiple of this many rows of the batch: a
#: row then sits at the same place within BLAS's blocks of rows as when the whole batch is
#: scored at once (parts of 100 rows changed the last bit of one KPCA score in a thousand; of
#: 256, none in 4,000). BLAS threads still share a large product by its size: a detector
#: computing with matrix products may round a row of a part in its last bit (as with another
#: batch size)
ALIGN = 256
#: a batch with fewer rows than this per job is scored by the calling thread alone
#: (threaded_scoring detectors): below it, a thread saves less than it costs (4,000 rows with
#: 2 jobs: 1.1x faster for ECOD, 1.2x for IsolationForest, whose every call spends ~10 ms in
#: Python holding the GIL)
MIN_ROWS_PER_THREAD = 2_000


def resolve_jobs(jobs: int | None, name: str = "jobs") -> int:
    """``jobs`` as a number of processes: ``None`` → 1, ``-1`` → every core this process may
    use (its CPU affinity and container limits, as joblib counts them)."""
    if jobs is None:
        return 1
    if isinstance(jobs, bool) or not isinstance(jobs, (int, np.integer)) or jobs == 0 or jobs < -1:
        raise InputError(
            f"{name} must be a positive number of processes or -1 (every core), got {jobs!r}"
        )
    return _cpu_count() if jobs == -1 else int(jobs)


def _cpu_count() -> int:
    import joblib

    return max(1, int(joblib.cpu_count()))


def _threads_per_job(jobs: int) -> int:
    """The BLAS/OpenMP threads of each of ``jobs`` workers: its share of the cores."""
    return max(1, _cpu_count() // jobs)


class Pending:
    """The scores of one batch, being computed; :meth:`result` waits for them."""

    __slots__ = ("_chunks", "_done", "_finish", "_futures", "_own", "_plugin")

    def __init__(
        self,
        futures: list[Future[Any]] | None = None,
        chunks: list[np.ndarray] | None = None,
        own: np.ndarray | None = None,
        finish: Callable[[BaseException | None, bool], None] | None = None,
        done: np.ndarray | None = None,
        plugin: str = "",
    ) -> None:
        self._futures = futures
        self._chunks = chunks
        self._own = own
        self._finish = finish
        self._done = done
        self._plugin = plugin

    def result(self) -> np.ndarray:
        """The batch's scores: the workers' chunks (waited for, and checked here as scores
        computed in this process are), then this process's own part."""
        if self._done is not None:
            return self._done
        futures, chunks, own, finish = self._futures, self._chunks, self._own, self._finish
        assert futures is not None and chunks is not None and own is not None and finish
        waited = not all(future.done() for future in futures)
        try:
            parts = [
                checked_scores(future.result(), chunk, self._plugin)
                for future, chunk in zip(futures, chunks, strict=True)
            ]
        except BrokenProcessPool as exc:
            error = _died(exc)
            finish(error, waited)
            raise error from exc
        except BaseException as exc:
            finish(exc, waited)
            raise
        parts.append(own)
        self._done = np.concatenate(parts) if len(parts) != 1 else parts[0]
        self._futures = self._chunks = self._own = None
        finish(None, waited)
        return self._done


class BatchScorer:
    """Scores prepared float64 batches of one model: in this thread, or shared with
    ``jobs - 1`` threads (:attr:`~pynomaly.types.DetectorInfo.threaded_scoring`) or worker
    processes.

    Threads start at the first batch large enough to give every job
    :data:`MIN_ROWS_PER_THREAD` rows. Worker processes start, if ever, when the pace measured on
    the first batch's first rows shows that they pay for the rows left (see the module
    docstring): ``rows`` is how many the scorer will be given in all, when the caller knows or
    estimates it (a stream's source); else a stream is taken to hold as many rows again as it
    has given so far. The batch during which they start is shared out in slices, which they
    take once ready (see :class:`_Shares`); each later batch is split: the first rows go to the
    workers (one chunk each), this thread scores the rest while they work. The workers' share
    adapts: it shrinks when this thread had to wait for them, and grows when they were done
    first (this thread also reads, prepares and writes, so an even split would leave the
    workers idle).
    """

    def __init__(
        self, pm: PluginManager, model: Model, jobs: int, rows: int | None = None
    ) -> None:
        self._pm = pm
        self._model = model
        self._jobs = jobs
        self._rows = rows
        self._seen = 0  # rows submitted so far
        self._scorer = Scorer(pm, model)
        info = detector_service.resolve(pm, model.detector) if jobs > 1 else None
        self._threaded = info is not None and info.batch_independent and info.threaded_scoring
        self._possible = jobs > 1 and _processes_possible(pm, info)  # worker processes
        self._pace: tuple[float, float] | None = None  # seconds a row, cores busy: measured
        self._workers: _Workers | _Threads | None = None
        self.share = (jobs - 1) / jobs  # of each batch's rows, for the workers

    @property
    def parallel(self) -> bool:
        """Whether batches are scored with workers (from the first one that pays on)."""
        return self._workers is not None

    @property
    def threaded(self) -> bool:
        """Whether the workers are threads of this process rather than processes."""
        return self._threaded

    def _start(self) -> Executor:
        """The workers: threads; or worker processes, the ones kept from an earlier call for
        the same model and jobs, else new ones (started on first use)."""
        if self._workers is None:
            if self._threaded:
                self._workers = _Threads(self._own, self._jobs)
            else:
                self._workers = _Workers.for_model(self._pm, self._model, self._jobs)
            # this thread scores too: BLAS/OpenMP get a job's share of the cores (in threads,
            # the limits are the process's, for each of them)
            _Limits.enter(_threads_per_job(self._jobs))
        return self._workers.pool

    def _started(self) -> bool:
        """Whether the workers are ready (an error if one could not start)."""
        assert self._workers is not None
        ready = self._workers.ready
        if not ready.done():
            return False
        try:
            ready.result()
        except BrokenProcessPool as exc:
            raise _could_not_start(exc) from exc
        return True

    def _threads_pay(self, X: np.ndarray) -> bool:
        return self._threaded and len(X) >= self._jobs * MIN_ROWS_PER_THREAD

    def _measure(self, X: np.ndarray) -> np.ndarray:
        """The scores of ``X``'s first rows, scored here while measuring their pace."""
        head, per_row, cores = _probe(self._own, X)
        self._pace = per_row, cores
        log.debug("%s: %.3g ms a row here, %.2f cores busy", self._model.detector,
                  per_row * 1e3, cores)
        return head

    def _pays(self, rows: int) -> bool:
        """Whether worker processes would save enough time scoring ``rows`` more rows, at the
        pace measured: the time this process would take for them, less a start
        (:data:`START_SECONDS`, none for waiting kept workers), times the share of the cores
        the library leaves idle that the jobs would use."""
        assert self._pace is not None
        per_row, cores = self._pace
        kept = _Workers.waiting(self._pm, self._model, self._jobs)
        cpu = _cpu_count()
        usable = min(cpu, self._jobs * min(max(cores, 1.0), max(1, cpu // self._jobs)))
        alone = per_row * rows
        gain = max(0.0, alone - (0.0 if kept else START_SECONDS)) * max(0.0, 1 - cores / usable)
        pays = gain >= (MIN_GAIN_KEPT if kept else MIN_GAIN_SECONDS)
        if pays:
            log.debug("%s: worker processes for %d rows (%.1f s here alone, about %.1f s saved)",
                      self._model.detector, rows, alone, gain)
        return pays

    def _rows_after(self, X: np.ndarray) -> int:
        """The rows a stream still holds after ``X``: its known or estimated total less those
        seen, else as many as were seen."""
        seen = self._seen + len(X)
        return max(0, self._rows - seen) if self._rows is not None else seen

    def submit(self, X: np.ndarray) -> Pending:
        """Start scoring ``X`` (this process scores its own part before returning); the
        scores come from the returned :class:`Pending`."""
        if self._workers is None and self._threads_pay(X):
            self._start()
        if self._workers is None and self._possible:
            # worker processes start if they pay for the rest of this batch and the batches
            # after it; they take slices of this batch's rest as soon as they are ready
            with detector_service.observed(self._pm, "score", self._model.detector, len(X)):
                scores = self._here_or_shared(X, self._rows_after(X))
            self._seen += len(X)
            return Pending(done=scores)
        self._seen += len(X)
        if self._workers is None:
            return Pending(done=self._scorer.score(X))
        model = self._model
        events = contextlib.ExitStack()
        events.enter_context(detector_service.observed(self._pm, "score", model.detector, len(X)))
        chunks: list[np.ndarray] = []
        futures: list[Future[Any]] = []
        if self._started():
            taken = int(len(X) * self.share) // ALIGN * ALIGN
            workers = self._jobs - 1
            size = _aligned(-(-taken // workers)) if taken else 1
            chunks = [X[start : min(start + size, taken)] for start in range(0, taken, size)]
            pool, task = self._workers.pool, self._workers.task
            futures = [pool.submit(task, chunk) for chunk in chunks]
        own = X[sum(len(c) for c in chunks) :]
        try:
            mine = self._own_in_steps(own) if len(own) else np.empty(0)
        except BaseException as exc:
            for future in futures:
                future.cancel()
            events.__exit__(type(exc), exc, exc.__traceback__)
            raise

        def finish(error: BaseException | None, waited: bool) -> None:
            if futures and error is None:
                # had to wait: the workers had too much; else they may have idled
                step = -0.03 if waited else 0.03
                self.share = min(0.95, max(0.05, self.share + step))
            if error is None:
                events.close()
            else:
                events.__exit__(type(error), error, error.__traceback__)

        return Pending(futures, chunks, mine, finish, plugin=model.plugin)

    def score(self, X: np.ndarray) -> np.ndarray:
        """The scores of ``X``, one batch (framed once by the score events): with worker
        processes, shared out in slices taken by whoever is free (see :class:`_Shares`); with
        threads, one even chunk each."""
        if self._threaded or not self._possible:
            # threads start at once and score at the same pace: one even chunk each (each
            # call has a fixed cost, IsolationForest's ~10 ms of Python under the GIL)
            return self.submit(X).result()
        with detector_service.observed(self._pm, "score", self._model.detector, len(X)):
            scores = self._here_or_shared(X, 0)
        self._seen += len(X)
        return scores

    def _here_or_shared(self, X: np.ndarray, later: int) -> np.ndarray:
        """The scores of ``X`` (the score events frame it already): scored here, its first
        rows measured unless the pace is known; shared out in slices with worker processes
        when they run or pay for the rest of ``X`` and ``later`` rows to come (see
        :class:`_Shares`)."""
        head = X[:0, 0]
        if self._workers is None:
            if self._pace is None:
                head = self._measure(X)
            left = len(X) - len(head)
            if not left:
                return head
            if not self._pays(left + later):
                return np.concatenate([head, self._own(X[len(head) :])])
            self._start()
        return _Shares(self, X, head).run()

    def _own(self, X: np.ndarray) -> np.ndarray:
        """This process's part: the owner hook alone, as in a worker (the batch's score
        events frame it already)."""
        model = self._model
        scores = self._pm.call(
            "pynomaly_score", detector_id=model.detector, state=model.state, X=X
        )
        if scores is None:
            raise PluginError(model.plugin, "pynomaly_score", "returned None")
        return checked_scores(scores, X, model.plugin)

    def _own_in_steps(self, X: np.ndarray) -> np.ndarray:
        """This process's part, in steps of about :data:`STEP_SECONDS` when worker processes
        share the batch (between steps, the GIL is free for the threads feeding them)."""
        per_row = self._pace[0] if self._pace is not None else 0.0
        step = _aligned(int(STEP_SECONDS / max(per_row, 1e-9)))
        if not isinstance(self._workers, _Workers) or len(X) <= step:
            return self._own(X)
        return np.concatenate([self._own(X[i : i + step]) for i in range(0, len(X), step)])

    def close(self, *, kill: bool = False) -> None:
        """Done with the workers, if any were started: threads end; worker processes are kept
        for the next call with the same model (see :class:`_Workers`), or, after a failure
        (``kill``), stopped without waiting for the slices they are scoring."""
        if self._workers is not None:
            if isinstance(self._workers, _Workers) and not kill:
                _Workers.keep(self._workers)
            else:
                self._workers.stop(kill=kill)
            self._workers = None
            _Limits.leave()


def _aligned(rows: int) -> int:
    """``rows`` rounded up to a multiple of :data:`ALIGN` (at least one)."""
    return max(1, -(-rows // ALIGN)) * ALIGN


def _probe(
    score: Callable[[np.ndarray], np.ndarray], X: np.ndarray
) -> tuple[np.ndarray, float, float]:
    """``score`` of ``X``'s first rows: their scores, the seconds a row took and the cores this
    process kept busy meanwhile (its CPU seconds, every thread's, over the wall-clock ones).

    The first :data:`ALIGN` rows are scored unmeasured: a first call may load what the library
    loads lazily (numba's compiled functions, modules), a cost the other rows do not have.
    Then growing chunks are scored until :data:`PROBE_SECONDS` have passed or ``X`` ends (no
    rows measured: ``(scores, 0.0, 0.0)``, nothing left to share)."""
    parts = [score(X[:ALIGN])]
    done, size = len(parts[0]), ALIGN
    wall, cpu = time.perf_counter(), time.process_time()
    while done < len(X):
        parts.append(score(X[done : done + size]))
        done += len(parts[-1])
        elapsed = time.perf_counter() - wall
        if elapsed >= PROBE_SECONDS:
            break
        # the next chunk about fills the time left, at the pace measured so far
        pace = (done - len(parts[0])) / max(elapsed, 1e-6)
        size = max(size, _aligned(int((PROBE_SECONDS - elapsed) * pace)))
    elapsed = time.perf_counter() - wall
    head = parts[0] if len(parts) == 1 else np.concatenate(parts)
    measured = len(head) - len(parts[0])
    if not measured:
        return head, 0.0, 0.0
    return head, elapsed / measured, (time.process_time() - cpu) / max(elapsed, 1e-9)


class _Threads:
    """``jobs - 1`` threads of this process scoring chunks with ``task`` (the calling
    thread's own scoring): ready at once, and not kept between calls (a thread costs next to
    nothing to start)."""

    def __init__(self, task: Callable[[np.ndarray], np.ndarray], jobs: int) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self.task = task
        self.pool: Executor = ThreadPoolExecutor(jobs - 1, thread_name_prefix="pynomaly-jobs")
        self.ready: Future[Any] = Future()
        self.ready.set_result(None)

    def stop(self, *, kill: bool = False) -> None:
        """Wait for the threads to end (``kill``: without scoring the chunks not started)."""
        self.pool.shutdown(wait=True, cancel_futures=kill)


class _Workers:
    """Worker processes of one fitted state, and when they are ready.

    The last ones used are kept, as joblib keeps its workers between calls: a model scored
    again with the same ``jobs`` (in a loop, a service, a notebook) does not wait for new
    processes to start and import its library. Kept workers exit after
    :data:`IDLE_TIMEOUT` seconds without work (loky starts them again when needed); a call for
    another model or ``jobs`` stops them, and so does the end of the interpreter. Kept workers
    of which one died meanwhile are replaced by new ones.
    """

    _kept: _Workers | None = None
    _atexit = False  # shutdown() registered
    _lock = threading.Lock()

    def __init__(self, spec: _worker.WorkerSpec, jobs: int, state: Any) -> None:
        from joblib.externals.loky import ProcessPoolExecutor

        self.spec, self.jobs = spec, jobs
        # the fitted state the workers were sent, by identity: a weak reference, so that a
        # model let go is not kept alive, nor mistaken for a new one at the same address
        try:
            self._state: Callable[[], Any] | None = weakref.ref(state)
        except TypeError:  # not weakly referable (a tuple, a dict): compared by its pickle
            self._state = None
        self.task: Callable[[np.ndarray], Any] = _worker.score
        self.pool: Executor = ProcessPoolExecutor(
            max_workers=jobs - 1,
            initializer=_worker.start,
            initargs=(spec,),
            timeout=IDLE_TIMEOUT,
        )
        self.ready: Future[Any] = Future()
        self._starter = threading.Thread(target=self._submit_ready, name="pynomaly-jobs-start")
        self._starter.start()

    def _submit_ready(self) -> None:
        # loky's first submit starts the processes and writes them the fitted state: it
        # returns only once they have read it (0.1-0.2 s), which the caller spends scoring
        try:
            self.pool.submit(_worker.ready).add_done_callback(self._copy_outcome)
        except BaseException as exc:
            self.ready.set_exception(exc)

    def _copy_outcome(self, done: Future[Any]) -> None:
        error = done.exception()
        if error is not None:
            self.ready.set_exception(error)
        else:
            self.ready.set_result(done.result())

    @classmethod
    def for_model(cls, pm: PluginManager, model: Model, jobs: int) -> _Workers:
        """The kept workers if they hold ``model``'s state, else new ones."""
        with cls._lock:
            kept, cls._kept = cls._kept, None
        if kept is not None:
            if kept.serve(pm, model, jobs):
                return kept
            kept.stop(kill=kept.dead)
        return cls(_worker_spec(pm, model, jobs), jobs, model.state)

    @classmethod
    def waiting(cls, pm: PluginManager, model: Model, jobs: int) -> bool:
        """Whether workers kept from an earlier call hold ``model``'s state."""
        kept = cls._kept
        return kept is not None and kept.serve(pm, model, jobs)

    def serve(self, pm: PluginManager, model: Model, jobs: int) -> bool:
        """Whether these workers can score ``model`` with ``jobs``: alive, with its detector,
        this manager's plugins and the very state object it holds (a library's state may
        change in ways that do not matter when scoring: the query counters of a
        scikit-learn tree; a different object is another model)."""
        spec = self.spec
        if self.jobs != jobs or spec.detector != model.detector or self.broken or self.dead:
            return False
        if self._state is not None:
            same = self._state() is model.state
        else:
            same = spec.state == pickle.dumps(model.state, pickle.HIGHEST_PROTOCOL)
        return same and spec.manager == replica.describe(pm)

    @classmethod
    def keep(cls, workers: _Workers) -> None:
        """Keep ``workers`` for the next call (the ones kept before are stopped)."""
        with cls._lock:
            first = not cls._atexit
            old, cls._kept = cls._kept, workers
            cls._atexit = True
        if first:
            atexit.register(shutdown)
        if old is not None and old is not workers:
            old.stop()

    @property
    def broken(self) -> bool:
        """Whether the workers could not start."""
        return self.ready.done() and self.ready.exception() is not None

    @property
    def dead(self) -> bool:
        """Whether a worker died since (killed while kept idle, say): loky then refuses all
        new work, so kept workers in this state are replaced, not reused."""
        flags = getattr(self.pool, "_flags", None)  # loky's executor state: no public flag
        return getattr(flags, "broken", None) is not None

    def stop(self, *, kill: bool = False) -> None:
        """Stop the processes (``kill``: without waiting for what they are scoring)."""
        self._starter.join()
        self.pool.shutdown(wait=True, kill_workers=kill)  # type: ignore[call-arg]


def shutdown() -> None:
    """Stop the worker processes kept from the last ``jobs`` > 1 scoring call, if any (they
    also stop by themselves after :data:`IDLE_TIMEOUT` idle seconds, and at exit)."""
    with _Workers._lock:
        kept, _Workers._kept = _Workers._kept, None
    if kept is not None:
        kept.stop(kill=True)  # idle: nothing to wait for


class _Shares:
    """One matrix scored by this process and its worker processes together, slice by slice
    (after the ``head`` of rows this process scored already).

    Slices are taken from the front by whoever is free, each ``remaining / (2 * jobs)`` rows
    (at least :data:`MIN_SLICE_SECONDS` of this process's pace), so that they shrink towards
    the end and nobody waits long for the last one. A worker is given a slice when it is ready
    and each time it returns one (from the pool's callback thread, which also checks and stores
    the scores); this process takes slices between its own instead of waiting for a worker
    that is starting.
    """

    def __init__(self, owner: BatchScorer, X: np.ndarray, head: np.ndarray) -> None:
        assert owner._workers is not None
        self._owner = owner
        self._pool = owner._workers.pool
        self._X = X
        self._scores = np.empty(len(X))
        self._scores[: len(head)] = head  # the first rows' scores, already computed here
        self._next = len(head)
        per_row = owner._pace[0] if owner._pace is not None else 0.0
        self._min_rows = _aligned(int(MIN_SLICE_SECONDS / per_row)) if per_row else ALIGN
        self._outstanding = 0  # slices handed to workers and not yet stored
        self._futures: list[Future[Any]] = []
        self._error: BaseException | None = None
        self._changed = threading.Condition()

    def _take(self, *, for_worker: bool = False) -> tuple[int, int] | None:
        with self._changed:
            if self._error is not None or self._next >= len(self._X):
                return None
            start, left = self._next, len(self._X) - self._next
            size = max(self._min_rows, _aligned(-(-left // (2 * self._owner._jobs))))
            self._next = min(len(self._X), start + size)
            self._outstanding += for_worker
            return start, self._next

    def _fail(self, error: BaseException) -> None:
        with self._changed:
            self._error = self._error or error
            self._changed.notify_all()

    def _ready(self, ready: Future[Any]) -> None:
        error = ready.exception()
        if error is not None:
            self._fail(_could_not_start(error) if isinstance(error, BrokenProcessPool) else error)
            return
        for _ in range(self._owner._jobs - 1):
            self._feed()

    def _feed(self, done: Future[Any] | None = None, span: tuple[int, int] = (0, 0)) -> None:
        """Store the slice a worker returned (``done``), then hand it the next one."""
        if done is not None:
            start, stop = span
            try:
                self._scores[start:stop] = checked_scores(
                    done.result(), self._X[start:stop], self._owner._model.plugin
                )
            except BaseException as exc:
                self._fail(exc)
            with self._changed:
                self._outstanding -= 1
                self._changed.notify_all()
        taken = self._take(for_worker=True)
        if taken is None:
            return
        try:
            future = self._pool.submit(_worker.score, self._X[taken[0] : taken[1]])
        except BaseException as exc:  # the pool broke or was shut down
            with self._changed:
                self._outstanding -= 1
            self._fail(exc)
            return
        with self._changed:
            self._futures.append(future)
        future.add_done_callback(functools.partial(self._feed, span=taken))

    def run(self) -> np.ndarray:
        """The scores, once every slice is stored (the first error raised)."""
        owner, X = self._owner, self._X
        assert owner._workers is not None
        owner._workers.ready.add_done_callback(self._ready)
        try:
            while (span := self._take()) is not None:
                self._scores[span[0] : span[1]] = owner._own_in_steps(X[span[0] : span[1]])
            with self._changed:
                self._changed.wait_for(lambda: self._outstanding == 0)
                error = self._error
        except BaseException as exc:
            self._fail(exc)
            with self._changed:
                for future in self._futures:
                    future.cancel()
            raise
        if isinstance(error, BrokenProcessPool):
            raise _died(error) from error
        if error is not None:
            raise error
        return self._scores


@functools.cache
def _threadpools() -> Any:
    """threadpoolctl's view of this process's BLAS/OpenMP libraries, made once (as
    scikit-learn keeps its own): ``threadpool_limits`` looks for them anew on every call, 3 ms.
    A library loaded after the first ``jobs`` call is not limited."""
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


class _Limits:
    """The BLAS/OpenMP limits of this process while ``jobs`` scorers run: set by the first
    (its share of the cores), restored when the last ends. The limits are process-wide, so
    scorers running at once in several threads (a service) must not each restore what they
    found: the one that ends last would restore the limits another one set."""

    _lock = threading.Lock()
    _users = 0
    _limiter: Any = None

    @classmethod
    def enter(cls, threads: int) -> None:
        with cls._lock:
            if cls._users == 0:
                cls._limiter = _threadpools().limit(limits=threads)
            cls._users += 1

    @classmethod
    def leave(cls) -> None:
        with cls._lock:
            cls._users -= 1
            if cls._users == 0:
                cls._limiter.restore_original_limits()
                cls._limiter = None


def _could_not_start(exc: BaseException) -> PynomalyError:
    error = PynomalyError(
        f"a scoring worker process could not start ({exc}); rerun with --jobs 1 (jobs=1) "
        "and --debug to see why"
    )
    error.__cause__ = exc
    return error


def _died(exc: BaseException) -> PynomalyError:
    error = PynomalyError(
        "a scoring worker process died (out of memory, or killed); score with fewer jobs or "
        "a smaller batch size"
    )
    error.__cause__ = exc
    return error


@contextlib.contextmanager
def batch_scorer(
    pm: PluginManager, model: Model, jobs: int, rows: int | None = None
) -> Iterator[BatchScorer]:
    """A :class:`BatchScorer` for ``model`` (``rows``: how many it will score in all, when
    known), using threads or worker processes when ``jobs`` > 1, the detector is
    batch-independent and they pay (see the module docstring); its threads end when the block
    ends, its worker processes are kept for the next call."""
    scorer = BatchScorer(pm, model, jobs, rows)
    try:
        yield scorer
    except BaseException:
        scorer.close(kill=True)
        raise
    scorer.close()


def _processes_possible(pm: PluginManager, info: DetectorInfo | None) -> bool:
    """Whether worker processes may score the detector: it is batch-independent, not scored
    in threads, and its plugin can be loaded in another process."""
    if info is None or not info.batch_independent:
        if info is not None:
            log.debug("%s scores rows within their batch: scored in one process", info.id)
        return False
    if info.threaded_scoring:
        log.debug("%s is scored in threads: no worker process", info.id)
        return False
    if info.plugin in replica.describe(pm).left_out:
        log.debug("plugin %s cannot be sent to a worker: one process", info.plugin)
        return False
    return True


def _worker_spec(pm: PluginManager, model: Model, jobs: int) -> _worker.WorkerSpec:
    """How to set a worker up for ``model`` (one :func:`_processes_possible` accepted)."""
    return _worker.WorkerSpec(
        detector=model.detector,
        plugin=model.plugin,
        state=pickle.dumps(model.state, pickle.HIGHEST_PROTOCOL),
        manager=replica.describe(pm),
        threads=_threads_per_job(jobs),
    )
