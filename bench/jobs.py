"""``Model.score(X, jobs=2)`` against ``jobs=1`` for every batch-independent detector, in the
same run: ``jobs`` must never make scoring slower, and should make it faster where a second
core can help.

    python bench/jobs.py                 # full: every detector, rows for about 3 s alone
    python bench/jobs.py --quick         # CI-sized: a few detectors, about 0.5 s alone
    python bench/jobs.py --only pyod:kde,pyod:knn --seconds 5

Each detector is fitted on 20,000 × 20 standard-normal rows (2,000 for the slow ones). The
rows scored are as many as ``jobs=1`` scores in about ``--seconds`` (measured first on 512
rows), at most 1,000,000. Then, alternating, ``--repeats`` times: ``jobs=1``; ``jobs=2`` with
no worker process kept (*cold*: a worker, if any, must start); ``jobs=2`` again (*warm*: the
worker kept from the call before). Printed: the median seconds and the speed-ups, whether
``jobs`` used threads, worker processes or neither (scored in the calling process: the
measurement of the first rows showed that workers would not pay), and whether the scores
equal ``jobs=1``'s (``~`` when they differ in the last bits only, as with matrix products).
"""

from __future__ import annotations

import argparse
import logging
import statistics
import time
import warnings

import numpy as np

QUICK = ("pyod:hbos", "pyod:knn", "sklearn:elliptic", "pyod:kde")
SLOW_FIT = {"pyod:abod", "pyod:kde", "pyod:kpca", "pyod:lscp", "pyod:qmcd", "pyod:sod"}


class Decisions(logging.Handler):
    """What pynomaly.parallel decided in the last call: threads, processes or neither."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.how = "here"

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if "worker processes for" in text:
            self.how = "processes"


def timed(fn, *args, **kwargs) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized")
    parser.add_argument("--only", default="", help="comma-separated detector ids")
    parser.add_argument("--seconds", type=float, default=None, help="jobs=1 time to aim at")
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    seconds = args.seconds or (0.5 if args.quick else 3.0)
    repeats = args.repeats or (1 if args.quick else 3)
    warnings.simplefilter("ignore")

    import pynomaly
    from pynomaly.detection import parallel

    decisions = Decisions()
    log = logging.getLogger("pynomaly.parallel")
    log.addHandler(decisions)
    log.setLevel(logging.DEBUG)
    log.propagate = False

    infos = {i.id: i for i in pynomaly.detectors() if i.batch_independent and i.available}
    wanted = args.only.split(",") if args.only else list(QUICK if args.quick else sorted(infos))
    rng = np.random.default_rng(0)
    train = rng.standard_normal((20_000, 20))
    print(f"jobs=2 against jobs=1, Model.score, {parallel._cpu_count()} cores; median of "
          f"{repeats}; rows for about {seconds:g} s with jobs=1")
    print(f"{'detector':<18}{'rows':>9}{'jobs 1 s':>10}{'cold s':>9}{'warm s':>9}"
          f"{'cold x':>8}{'warm x':>8}  how        scores")
    for detector in wanted:
        info = infos.get(detector)
        if info is None:
            print(f"{detector:<18} not batch-independent or not available here")
            continue
        try:
            model = pynomaly.fit(train[: 2_000 if detector in SLOW_FIT else None], detector)
        except Exception as exc:  # a detector that cannot fit these rows: said, skipped
            print(f"{detector:<18} cannot fit: {str(exc).splitlines()[0][:60]}")
            continue
        model.score(rng.standard_normal((512, 20)))  # first-use costs (imports, numba)
        size, took = 512, 0.0
        while took < 0.1 and size <= 1_000_000:  # a pace not swamped by each call's cost
            took = timed(model.score, rng.standard_normal((size, 20)))[0]
            size *= 4
        per_row = took / (size // 4)
        rows = int(min(1_000_000, max(2_000, seconds / per_row)))
        X = rng.standard_normal((rows, 20))
        one, cold, warm = [], [], []
        how, same = "", True
        for _ in range(repeats):
            t, expected = timed(model.score, X)
            one.append(t)
            parallel.shutdown()
            decisions.how = "threads" if info.threaded_scoring else "here"
            t, got = timed(model.score, X, jobs=2)
            cold.append(t)
            how = decisions.how
            t, again = timed(model.score, X, jobs=2)
            warm.append(t)
            same &= bool(np.array_equal(got, expected) and np.array_equal(again, expected))
            close = np.allclose(got, expected, rtol=1e-12, atol=0)
        parallel.shutdown()
        t1, tc, tw = (statistics.median(v) for v in (one, cold, warm))
        scores = "equal" if same else ("~ last bits" if close else "DIFFER")
        print(f"{detector:<18}{rows:>9}{t1:>10.3f}{tc:>9.3f}{tw:>9.3f}{t1 / tc:>8.2f}"
              f"{t1 / tw:>8.2f}  {how:<10} {scores}")


if __name__ == "__main__":
    main()
