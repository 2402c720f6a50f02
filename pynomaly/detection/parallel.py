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
    from pynomaly.detection.persistence import OpenedModel
    from pynomaly.detection.results import Model
    from pynomaly.plugin.manager import PluginManager

log = get_logger("pynomaly.parallel")

#: seconds a kept worker process waits for more work before it exits (joblib's default)
IDLE_TIMEOUT = 300
#: the smallest slice of one large matrix shared out at a time (Model.score with jobs)
MIN_SLICE_ROWS = 10_000
#: a batch with fewer rows than this per job is scored in the calling process: starting a
#: worker (a Python process importing the detector's library) costs about a second of CPU
MIN_ROWS_PER_JOB = 10_000
#: the same for threads (threaded_scoring detectors): below it, a thread saves less than it
#: costs (4,000 rows with 2 jobs: 1.1x faster for ECOD, 1.2x for IsolationForest, whose every
#: call spends ~10 ms in Python holding the GIL)
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

    Workers start at the first batch large enough to give every job :data:`MIN_ROWS_PER_JOB`
    rows (:data:`MIN_ROWS_PER_THREAD` for threads). Until worker processes are ready this
    thread scores every batch itself; then each batch is split: the first rows go to the
    workers (one chunk each), this thread scores the rest while they work. The workers' share
    adapts: it shrinks when this thread had to wait for them, and grows when they were done
    first (this thread also reads, prepares and writes, so an even split would leave the
    workers idle).
    """

    def __init__(self, pm: PluginManager, model: Model, jobs: int) -> None:
        self._pm = pm
        self._model = model
        self._jobs = jobs
        self._scorer = Scorer(pm, model)
        info = detector_service.resolve(pm, model.detector) if jobs > 1 else None
        self._threaded = info is not None and info.batch_independent and info.threaded_scoring
        self._spec = _worker_spec(pm, model, jobs) if jobs > 1 else None  # None if threaded
        self._min_rows = MIN_ROWS_PER_THREAD if self._threaded else MIN_ROWS_PER_JOB
        self._workers: _Workers | _Threads | None = None
        self.share = (jobs - 1) / jobs  # of each batch's rows, for the workers

    @property
    def parallel(self) -> bool:
        """Whether batches are scored with workers (from the first large one on)."""
        return self._workers is not None

    @property
    def threaded(self) -> bool:
        """Whether the workers are threads of this process rather than processes."""
        return self._threaded

    def _can_share(self) -> bool:
        return self._threaded or self._spec is not None

    def _start(self) -> Executor:
        """The workers: threads; or worker processes, the ones kept from an earlier call for
        the same model and jobs, else new ones (started on first use)."""
        if self._workers is None:
            if self._threaded:
                self._workers = _Threads(self._own, self._jobs)
            else:
                assert self._spec is not None
                self._workers = _Workers.for_spec(self._spec, self._jobs)
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

    def submit(self, X: np.ndarray) -> Pending:
        """Start scoring ``X`` (this process scores its own part before returning); the
        scores come from the returned :class:`Pending`."""
        big = len(X) >= self._jobs * self._min_rows
        if self._workers is None and self._can_share() and big:
            self._start()
        if self._workers is None:
            return Pending(done=self._scorer.score(X))
        model = self._model
        events = contextlib.ExitStack()
        events.enter_context(detector_service.observed(self._pm, "score", model.detector, len(X)))
        chunks: list[np.ndarray] = []
        futures: list[Future[Any]] = []
        if self._started():
            taken = int(len(X) * self.share)
            workers = self._jobs - 1
            size = -(-taken // workers) if taken else 1
            chunks = [X[start : min(start + size, taken)] for start in range(0, taken, size)]
            pool, task = self._workers.pool, self._workers.task
            futures = [pool.submit(task, chunk) for chunk in chunks]
        own = X[sum(len(c) for c in chunks) :]
        try:
            mine = self._own(own) if len(own) else np.empty(0)
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
        if self._threaded or not self._can_share() or len(X) < self._jobs * self._min_rows:
            # threads start at once and score at the same pace: one even chunk each (each
            # call has a fixed cost, IsolationForest's ~10 ms of Python under the GIL)
            return self.submit(X).result()
        self._start()
        with detector_service.observed(self._pm, "score", self._model.detector, len(X)):
            return _Shares(self, X).run()

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

    def __init__(self, spec: _worker.WorkerSpec, jobs: int) -> None:
        from joblib.externals.loky import ProcessPoolExecutor

        self.spec, self.jobs = spec, jobs
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
    def for_spec(cls, spec: _worker.WorkerSpec, jobs: int) -> _Workers:
        """The kept workers if they are for ``spec`` and ``jobs``, else new ones."""
        with cls._lock:
            kept, cls._kept = cls._kept, None
        if kept is not None:
            if kept.jobs == jobs and kept.spec == spec and not kept.broken and not kept.dead:
                return kept
            kept.stop(kill=kept.dead)
        return cls(spec, jobs)

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
    """One matrix scored by this process and its worker processes together, slice by slice.

    Slices are taken from the front by whoever is free, each ``remaining / (2 * jobs)`` rows
    (at least :data:`MIN_SLICE_ROWS`), so that they shrink towards the end and nobody waits
    long for the last one. A worker is given a slice when it is ready and each time it returns
    one (from the pool's callback thread, which also checks and stores the scores); this
    process takes slices between its own instead of waiting for a worker that is starting.
    """

    def __init__(self, owner: BatchScorer, X: np.ndarray) -> None:
        assert owner._workers is not None
        self._owner = owner
        self._pool = owner._workers.pool
        self._X = X
        self._scores = np.empty(len(X))
        self._next = 0
        self._outstanding = 0  # slices handed to workers and not yet stored
        self._futures: list[Future[Any]] = []
        self._error: BaseException | None = None
        self._changed = threading.Condition()

    def _take(self, *, for_worker: bool = False) -> tuple[int, int] | None:
        with self._changed:
            if self._error is not None or self._next >= len(self._X):
                return None
            start, left = self._next, len(self._X) - self._next
            size = max(MIN_SLICE_ROWS, -(-left // (2 * self._owner._jobs)))
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
                self._scores[span[0] : span[1]] = owner._own(X[span[0] : span[1]])
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
def batch_scorer(pm: PluginManager, model: Model, jobs: int) -> Iterator[BatchScorer]:
    """A :class:`BatchScorer` for ``model``, using worker processes when ``jobs`` > 1, the
    detector is batch-independent, its plugin can be loaded by a worker and a batch is large
    enough; its workers are stopped when the block ends."""
    scorer = BatchScorer(pm, model, jobs)
    try:
        yield scorer
    except BaseException:
        scorer.close(kill=True)
        raise
    scorer.close()


def prestart(
    pm: PluginManager, opened: OpenedModel, jobs: int, rows: int | None = None
) -> _Workers | None:
    """Workers for the model in ``opened`` (a model file accepted by
    :func:`~pynomaly.detection.persistence.open_model`), started before this process decodes
    it: each worker decodes the same accepted payload while this process does, so that both
    import the detector's library at the same time (about a second for scikit-learn) instead
    of one after the other. Hand them to :func:`adopt` once the model is decoded. ``None``
    when worker processes would not be used: ``jobs`` < 2, fewer ``rows`` than they need (when
    known), a payload that is not a pickle, a detector that is not batch-independent or one
    scored in threads (``threaded_scoring``)."""
    payload, detector = opened.pickled, opened.detector
    if jobs < 2 or payload is None or detector is None:
        return None
    if rows is not None and rows < jobs * MIN_ROWS_PER_JOB:
        return None
    try:
        spec = _spec(pm, detector, lambda: payload, jobs, whole_model=True)
    except PynomalyError:  # an unknown detector: decoding and scoring will say so
        return None
    return None if spec is None else _Workers(spec, jobs)


def adopt(workers: _Workers | None, pm: PluginManager, model: Model, jobs: int) -> None:
    """Keep the workers :func:`prestart` started for ``model``: its scoring calls with the
    same ``jobs`` use them (see :class:`_Workers`)."""
    if workers is None:
        return
    spec = _worker_spec(pm, model, jobs)
    if spec is None or spec.detector != workers.spec.detector:
        workers.stop(kill=True)
        return
    workers.spec = spec  # what they hold: this model's state, decoded from its file
    _Workers.keep(workers)


def _worker_spec(pm: PluginManager, model: Model, jobs: int) -> _worker.WorkerSpec | None:
    """How to set a worker up for ``model``; ``None`` (score in this process) when the
    detector is not batch-independent or its plugin cannot be loaded in another process."""
    return _spec(pm, model.detector, lambda: pickle.dumps(model.state, pickle.HIGHEST_PROTOCOL),
                 jobs)


def _spec(
    pm: PluginManager,
    detector: str,
    state: Callable[[], bytes],
    jobs: int,
    *,
    whole_model: bool = False,
) -> _worker.WorkerSpec | None:
    info = detector_service.resolve(pm, detector)
    if not info.batch_independent:
        log.debug("%s scores rows within their batch: scored in one process", info.id)
        return None
    if info.threaded_scoring:
        log.debug("%s is scored in threads: no worker process", info.id)
        return None
    manager = replica.describe(pm)
    if info.plugin in manager.left_out:
        log.debug("plugin %s cannot be sent to a worker: one process", info.plugin)
        return None
    return _worker.WorkerSpec(
        detector=info.id,
        plugin=info.plugin,
        state=state(),
        manager=manager,
        threads=_threads_per_job(jobs),
        whole_model=whole_model,
    )
