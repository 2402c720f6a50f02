"""pynomaly.detect versus calling the wrapped library directly, in the same run.

    python bench/overhead.py [--rows 100000] [--features 20] [--repeats 5] [--only ID,...]

Each library is called as a user would, with its own defaults (``IsolationForest(random_state=0)
.fit(X).score_samples(X)``, ``ECOD().fit(X).decision_scores_`` ...), and pynomaly as a user
would, ``pynomaly.detect(X, detector, random_state=0)`` — which also derives a threshold and
labels. The two calls run alternately (pynomaly, library, library, pynomaly, ...) so that
drift in machine load and the warmth of caches hit both alike; the median time of each is
reported with the ratio. Scores are checked to be identical. Peak Python-level memory
(tracemalloc) of one call of each is reported too.
"""

from __future__ import annotations

import argparse
import statistics
import time
import tracemalloc
from collections.abc import Callable

import numpy as np


def library_iforest(X: np.ndarray) -> np.ndarray:
    from sklearn.ensemble import IsolationForest

    return -IsolationForest(random_state=0).fit(X).score_samples(X)


def library_lof(X: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import LocalOutlierFactor

    return -LocalOutlierFactor().fit(X).negative_outlier_factor_


def library_elliptic(X: np.ndarray) -> np.ndarray:
    from sklearn.covariance import EllipticEnvelope

    return -EllipticEnvelope(random_state=0).fit(X).score_samples(X)


def library_ecod(X: np.ndarray) -> np.ndarray:
    from pyod.models.ecod import ECOD

    return ECOD().fit(X).decision_scores_


def library_hbos(X: np.ndarray) -> np.ndarray:
    from pyod.models.hbos import HBOS

    return HBOS().fit(X).decision_scores_


def library_pyod_iforest(X: np.ndarray) -> np.ndarray:
    from pyod.models.iforest import IForest

    return IForest(random_state=0).fit(X).decision_scores_


LIBRARY: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sklearn:iforest": library_iforest,
    "sklearn:lof": library_lof,
    "sklearn:elliptic": library_elliptic,
    "pyod:ecod": library_ecod,
    "pyod:hbos": library_hbos,
    "pyod:iforest": library_pyod_iforest,
}


def pynomaly_call(detector: str) -> Callable[[np.ndarray], np.ndarray]:
    import pynomaly

    def run(X: np.ndarray) -> np.ndarray:
        return pynomaly.detect(X, detector, random_state=0).scores

    return run


def timed(fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    out = fn(X)
    return time.perf_counter() - start, out


def peak_memory(fn: Callable[[np.ndarray], np.ndarray], X: np.ndarray) -> float:
    tracemalloc.start()
    fn(X)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated detector ids")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, args.features))
    X[: args.rows // 100] += 6  # 1 % planted anomalies
    wanted = [d for d in args.only.split(",") if d] or list(LIBRARY)
    print(f"data: {args.rows} x {args.features} float64, {args.repeats} alternating repeats\n")
    print(
        f"{'detector':<18} {'pynomaly s':>11} {'library s':>10} {'time ratio':>11} "
        f"{'pyn MiB':>8} {'lib MiB':>8}"
    )
    for detector in wanted:
        library = LIBRARY[detector]
        ours = pynomaly_call(detector)
        ours(X[:1000]), library(X[:1000])  # warm-up: imports, plugin discovery, numba
        t_ours, t_lib = [], []
        for repeat in range(args.repeats):
            # which one goes first alternates too: the second of a pair runs on a warmer
            # allocator and CPU caches
            if repeat % 2:
                t, s_lib = timed(library, X)
                t_lib.append(t)
            t, s_ours = timed(ours, X)
            t_ours.append(t)
            if not repeat % 2:
                t, s_lib = timed(library, X)
                t_lib.append(t)
            np.testing.assert_allclose(s_ours, s_lib, rtol=1e-12)
        m_ours, m_lib = statistics.median(t_ours), statistics.median(t_lib)
        mem_ours, mem_lib = peak_memory(ours, X), peak_memory(library, X)
        print(
            f"{detector:<18} {m_ours:>11.3f} {m_lib:>10.3f} {m_ours / m_lib:>11.3f} "
            f"{mem_ours:>8.1f} {mem_lib:>8.1f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
