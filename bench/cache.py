"""What the model cache (``cache=True``, ``--cache``) costs and saves, in the same run.

    python bench/cache.py            # full: 1,000,000 x 20, IForest and ECOD
    python bench/cache.py --quick    # CI-sized: 100,000 x 10

Measured, as medians of ``--repeats`` runs in this process (the library imported and warm),
in wall-clock and CPU seconds of this process (CPU time is steadier on a loaded machine):

* **digest**: computing the key — SHA-256 of the prepared float64 matrix and the rest
  (:func:`pynomaly.detection.cache.matrix_digest` and ``ModelCache.key``);
* for each detector, ``pynomaly.detect(X, detector)``
  - **no cache**: ``cache=False`` (the default);
  - **miss**: ``cache=`` an empty cache: the fit, the key, and writing the entry;
  - **hit**: the same call again: the key and reading the entry, no fit;
  and the entry's size on disk. The cache is a temporary directory, removed at the end.

Exit status 1 when a hit's scores differ from the uncached scores (speed is not checked:
it depends on the machine and its load).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def median_time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """Wall-clock and CPU seconds of ``fn()``, and what it returned."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 x 10 instead of 1M x 20")
    parser.add_argument("--rows", type=int)
    parser.add_argument("--features", type=int)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="sklearn:iforest,pyod:ecod")
    args = parser.parse_args(argv)
    rows = args.rows or (100_000 if args.quick else 1_000_000)
    features = args.features or (10 if args.quick else 20)

    import pynomaly
    from pynomaly.detection.cache import ModelCache, matrix_digest
    from pynomaly.detection.results import ThresholdRule

    X = np.random.default_rng(0).standard_normal((rows, features))
    pm = pynomaly.default_manager()
    print(f"data: {rows:,} x {features} float64 ({X.nbytes / 2**20:.0f} MiB)")

    seconds, _ = median_time(lambda: matrix_digest(X), args.repeats)
    print(f"matrix digest (SHA-256): {seconds:.3f} s ({X.nbytes / seconds / 2**20:.0f} MiB/s)")
    names = tuple(f"x{i}" for i in range(features))
    probe = ModelCache(Path(tempfile.gettempdir()) / "unused")
    seconds, _ = median_time(
        lambda: probe.key(
            pm, X=X, feature_names=names, detector="sklearn:iforest", plugin="sklearn_adapter",
            params={}, contamination=0.1, rule=ThresholdRule("contamination", 0.1),
            random_state=0,
        ),
        args.repeats,
    )
    print(f"whole key (digest, versions, parameters): {seconds:.3f} s")

    failed = False
    print(f"\n{'detector':<18}{'':>8}{'no cache':>10}{'miss':>10}{'hit':>10}{'hit/none':>10}"
          f"{'entry MiB':>11}")
    for detector in args.only.split(","):
        pynomaly.detect(X[:1000], detector, manager=pm)  # first use (imports) out of the way
        runs: dict[str, list[tuple[float, float]]] = {"none": [], "miss": [], "hit": []}
        for _ in range(args.repeats):
            wall, cpu, plain = timed(lambda d=detector: pynomaly.detect(X, d, manager=pm))
            runs["none"].append((wall, cpu))
            where = Path(tempfile.mkdtemp(prefix="pynomaly-bench-cache-"))
            try:
                models = ModelCache(where)
                wall, cpu, _ = timed(
                    lambda d=detector, c=models: pynomaly.detect(X, d, manager=pm, cache=c)
                )
                runs["miss"].append((wall, cpu))
                wall, cpu, hit = timed(
                    lambda d=detector, c=models: pynomaly.detect(X, d, manager=pm, cache=c)
                )
                runs["hit"].append((wall, cpu))
                size = models.info().bytes
                assert models.hits == 1 and models.misses == 1
            finally:
                shutil.rmtree(where, ignore_errors=True)
            if not np.array_equal(hit.scores, plain.scores):
                failed = True
                print(f"{detector}: a hit's scores differ from the uncached scores")
        for column, label in ((0, "wall"), (1, "CPU")):
            none, miss, hit_s = (
                statistics.median(t[column] for t in runs[k]) for k in ("none", "miss", "hit")
            )
            print(f"{detector if column == 0 else '':<18}{label:>8}{none:>9.3f}s{miss:>9.3f}s"
                  f"{hit_s:>9.3f}s{hit_s / none:>10.2f}"
                  + (f"{size / 2**20:>11.1f}" if column == 0 else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
