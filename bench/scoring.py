"""Scoring new rows with a fitted ECOD/COPOD: pynomaly's ``model.score`` versus PyOD's
``decision_function``, in the same run.

    python bench/scoring.py            # full: fit on 100,000 x 20, score 1,000 and 100,000 rows
    python bench/scoring.py --quick    # CI-sized: fit on 10,000 x 10, score 100 and 10,000 rows

For each detector (``--only pyod:ecod,pyod:copod``):

* **time**: ``model.score(new)`` (``pynomaly.fit(X, detector)``) against PyOD's
  ``ECOD().fit(X).decision_function(new)``, called alternately, median wall-clock and CPU
  seconds of ``--repeats``; the targets are 50× faster (wall-clock) for the small batch and 3×
  for the large one;
* **parity**: the training scores equal PyOD's ``decision_scores_``, and each of
  ``--parity-rows`` new rows (spread over the batch) scores what PyOD gives that row alone
  (``decision_function(new[i:i + 1])``), to rtol 1e-9;
* **batch independence**: the scores of the batch equal those of the same rows scored in
  chunks of 1 (the parity rows), 7 and 1,000 rows (the first 7,000 rows), to rtol 1e-9; and how
  much PyOD's own score of a row moves between its batch and scoring it alone;
* **size**: the saved model file (``model.save``) against the training data (``X.nbytes``),
  and the pickled PyOD estimator against the same.

Exit status 1 when a parity or batch-independence check fails (not for missed speed targets:
timing depends on the machine and its load).
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np

PYOD = {"pyod:ecod": ("pyod.models.ecod", "ECOD"), "pyod:copod": ("pyod.models.copod", "COPOD")}
RTOL = 1e-9


def pyod_class(detector: str) -> Any:
    import importlib

    module, name = PYOD[detector]
    return getattr(importlib.import_module(module), name)


def timed(fn: Callable[[np.ndarray], Any], X: np.ndarray) -> tuple[float, float]:
    """Wall-clock and CPU seconds of ``fn(X)`` (CPU time is steadier on a loaded machine)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn(X)
    return time.perf_counter() - wall, time.process_time() - cpu


def max_rel(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300), initial=0.0))


def chunked(score: Callable[[np.ndarray], np.ndarray], X: np.ndarray, size: int) -> np.ndarray:
    return np.concatenate([score(X[i : i + size]) for i in range(0, len(X), size)])


def run(detector: str, args: argparse.Namespace, X: np.ndarray, news: list[np.ndarray]) -> bool:
    import pynomaly

    ok = True

    def check(what: str, diff: float) -> None:
        nonlocal ok
        good = diff <= RTOL
        ok &= good
        print(f"  {what:<58} max rel diff {diff:.2e}  {'ok' if good else 'FAILED'}")

    cls = pyod_class(detector)
    model = pynomaly.fit(X, detector)
    estimator = cls().fit(X)
    print(f"{detector}")
    check("training scores = PyOD decision_scores_", max_rel(
        model.training_scores, estimator.decision_scores_))

    for new, target in zip(news, (50.0, 3.0), strict=True):
        model.score(new[:10]), estimator.decision_function(new[:10])  # warm-up
        t_ours, t_pyod = [], []
        for _ in range(args.repeats):
            t_ours.append(timed(model.score, new))
            t_pyod.append(timed(estimator.decision_function, new))
        ours, theirs = (statistics.median(t[0] for t in ts) for ts in (t_ours, t_pyod))
        cpu_ours, cpu_theirs = (statistics.median(t[1] for t in ts) for ts in (t_ours, t_pyod))
        ratio = theirs / ours
        verdict = "" if args.quick else (  # the targets are for the full sizes
            f" (target {target:g}x: {'met' if ratio >= target else 'NOT met'})")
        print(
            f"  score {len(new):>7} new rows: pynomaly {ours:7.4f} s (CPU {cpu_ours:7.4f})  "
            f"PyOD {theirs:7.4f} s (CPU {cpu_theirs:7.4f})  {ratio:6.1f}x faster "
            f"(CPU {cpu_theirs / cpu_ours:.1f}x){verdict}"
        )

    new = news[-1]
    batch = model.score(new)
    rows = np.unique(np.linspace(0, len(new) - 1, args.parity_rows).astype(int))
    alone_ours = np.array([model.score(new[i : i + 1])[0] for i in rows])
    alone_pyod = np.array([estimator.decision_function(new[i : i + 1])[0] for i in rows])
    pyod_batch = estimator.decision_function(new)
    check(f"{len(rows)} rows scored alone = PyOD scoring each alone", max_rel(
        alone_ours, alone_pyod))
    check(f"{len(rows)} rows scored alone = within the {len(new)}-row batch", max_rel(
        alone_ours, batch[rows]))
    head = new[:7000]
    for size in (7, 1000):
        check(f"first {len(head)} rows in chunks of {size} = within the batch", max_rel(
            chunked(model.score, head, size), batch[: len(head)]))
    print(
        f"  (PyOD itself: the same rows within the batch vs alone, max rel diff "
        f"{max_rel(pyod_batch[rows], alone_pyod):.1%})"
    )

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model")
        model.save(path)
        saved = os.path.getsize(path)
    pyod_size = len(pickle.dumps(cls().fit(X), protocol=pickle.HIGHEST_PROTOCOL))
    print(
        f"  saved model {saved / 2**20:.1f} MiB = {saved / X.nbytes:.2f} x the training data "
        f"({X.nbytes / 2**20:.1f} MiB); PyOD's fitted estimator pickled: "
        f"{pyod_size / X.nbytes:.2f} x"
    )
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized data")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--parity-rows", type=int, default=None)
    parser.add_argument("--only", default="", help="comma-separated detector ids")
    args = parser.parse_args()
    rows, features, small, large = (10_000, 10, 100, 10_000) if args.quick else (
        100_000, 20, 1_000, 100_000)
    args.repeats = args.repeats or (3 if args.quick else 5)
    args.parity_rows = args.parity_rows or (20 if args.quick else 30)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, features))
    X[: rows // 100] += 6  # 1 % planted anomalies
    news = [rng.standard_normal((n, features)) for n in (small, large)]
    for new in news:
        new[: max(1, len(new) // 100)] -= 5
    wanted = [d for d in args.only.split(",") if d] or list(PYOD)
    print(
        f"fit on {rows} x {features} float64; score {small} and {large} new rows; "
        f"{args.repeats} alternating repeats\n"
    )
    ok = all([run(detector, args, X, news) for detector in wanted])
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
