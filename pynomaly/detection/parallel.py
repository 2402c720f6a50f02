"""Scoring on several cores: chunks of rows scored in worker processes.

Only for batch-independent detectors (:attr:`~pynomaly.types.DetectorInfo.batch_independent`):
a row's score depends on the fitted state and the row alone, so chunks scored apart give
exactly the scores of one call. Each worker

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
scores every batch while the workers start (a fresh interpreter importing the detector's
library takes about a second), then its share of each batch while they score theirs.
"""

from __future__ import annotations

import contextlib
import pickle
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

log = get_logger("pynomaly.parallel")

#: rows of a slice of one large matrix shared out at a time (Model.score with jobs)
CHUNK_ROWS = 50_000
#: a batch with fewer rows than this per job is scored in the calling process: starting a
#: worker (a Python process importing the detector's library) costs about a second of CPU
MIN_ROWS_PER_JOB = 10_000


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
            error = PynomalyError(
                "a scoring worker process died (out of memory, or killed); "
                "score with fewer jobs or a smaller batch size"
            )
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
    """Scores prepared float64 batches of one model: in this process, or shared with
    ``jobs - 1`` worker processes.

    Worker processes start at the first batch large enough to give every job
    :data:`MIN_ROWS_PER_JOB` rows. Until they are ready this process scores every batch
    itself; then each batch is split: the first rows go to the workers (one chunk each), this
    process scores the rest while they work. The workers' share adapts: it shrinks when this
    process had to wait for them, and grows when they were done first (this process also reads,
    prepares and writes, so an even split would leave the workers idle).
    """

    def __init__(self, pm: PluginManager, model: Model, jobs: int) -> None:
        self._pm = pm
        self._model = model
        self._jobs = jobs
        self._scorer = Scorer(pm, model)
        self._spec = _worker_spec(pm, model, jobs) if jobs > 1 else None
        self._pool: Executor | None = None
        self._ready: Future[Any] | None = None
        self._limits: Any = None
        self.share = (jobs - 1) / jobs  # of each batch's rows, for the workers

    @property
    def parallel(self) -> bool:
        """Whether batches are scored with worker processes (from the first large one on)."""
        return self._pool is not None

    def submit(self, X: np.ndarray) -> Pending:
        """Start scoring ``X`` (this process scores its own part before returning); the
        scores come from the returned :class:`Pending`."""
        big = len(X) >= self._jobs * MIN_ROWS_PER_JOB
        if self._pool is None and self._spec is not None and big:
            from joblib.externals.loky import ProcessPoolExecutor
            from threadpoolctl import threadpool_limits

            self._pool = ProcessPoolExecutor(
                max_workers=self._jobs - 1, initializer=_worker.start, initargs=(self._spec,)
            )
            self._ready = self._pool.submit(_worker.ready)
            # this process scores too: its BLAS/OpenMP get a job's share of the cores as well
            self._limits = threadpool_limits(limits=self._spec.threads)
        if self._pool is None:
            return Pending(done=self._scorer.score(X))
        assert self._ready is not None
        model = self._model
        events = contextlib.ExitStack()
        events.enter_context(detector_service.observed(self._pm, "score", model.detector, len(X)))
        chunks: list[np.ndarray] = []
        futures: list[Future[Any]] = []
        if self._ready.done():
            try:
                self._ready.result()
            except BrokenProcessPool as exc:
                raise PynomalyError(
                    f"a scoring worker process could not start ({exc}); rerun with --jobs 1 "
                    "(jobs=1) and --debug to see why"
                ) from exc
            taken = int(len(X) * self.share)
            workers = self._jobs - 1
            size = -(-taken // workers) if taken else 1
            chunks = [X[start : min(start + size, taken)] for start in range(0, taken, size)]
            futures = [self._pool.submit(_worker.score, chunk) for chunk in chunks]
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
        """The scores of ``X``: with workers, in slices of :data:`CHUNK_ROWS` rows, one
        scored while the next is shared out."""
        if self._spec is None or len(X) < self._jobs * MIN_ROWS_PER_JOB:
            return self.submit(X).result()
        step = max(CHUNK_ROWS, self._jobs * MIN_ROWS_PER_JOB)
        parts: list[np.ndarray] = []
        waiting: Pending | None = None
        for start in range(0, len(X), step):
            pending = self.submit(X[start : start + step])
            if waiting is not None:
                parts.append(waiting.result())
            waiting = pending
        assert waiting is not None
        parts.append(waiting.result())
        return np.concatenate(parts)

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
        """Stop the worker processes, if any were started (``kill``: without waiting for
        the chunks they are scoring, after a failure)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, kill_workers=kill)  # type: ignore[call-arg]
            self._pool = None
            self._limits.restore_original_limits()

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


def _worker_spec(pm: PluginManager, model: Model, jobs: int) -> _worker.WorkerSpec | None:
    """How to set a worker up for ``model``; ``None`` (score in this process) when the
    detector is not batch-independent or its plugin cannot be loaded in another process."""
    info = detector_service.resolve(pm, model.detector)
    if not info.batch_independent:
        log.debug("%s scores rows within their batch: scored in one process", info.id)
        return None
    manager = replica.describe(pm)
    if info.plugin in manager.left_out:
        log.debug("plugin %s cannot be sent to a worker: one process", info.plugin)
        return None
    return _worker.WorkerSpec(
        detector=info.id,
        plugin=info.plugin,
        state=pickle.dumps(model.state, protocol=pickle.HIGHEST_PROTOCOL),
        manager=manager,
        threads=max(1, _cpu_count() // jobs),
    )
