"""Process isolation against in-process plugins, in the same run.

    python bench/isolation.py [--rows 100000] [--features 20] [--repeats 5] [--only ID,...]
    python bench/isolation.py --protections [...]

For each detector, one fit and one score of the same rows (``pynomaly.fit(X, detector,
random_state=0)`` then ``model.score(X)``) with the adapter in-process, and with the adapter in
a worker process (``PluginManager(isolation="process")``: the training rows go to the worker,
the fitted state comes back as bytes, the rows go again for scoring, the scores come back).
The two run alternately (in-process, isolated, in-process, ...) so that drift in machine load
hits both; the median time of each is reported with the ratio. Both are warmed up first (the
worker imports the library once, as a long-running service's would). Scores are checked to be
identical.

With ``--protections`` it measures the in-process protections instead: ``pynomaly.detect(X,
detector, random_state=0)`` with them (read-only arrays, copy-on-write frames, stdout
redirection) against the same call with them switched off, alternately, in one process.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import pynomaly
from pynomaly.plugin.manager import PluginManager

DETECTORS = ("sklearn:iforest", "pyod:ecod")
ADAPTERS = ["sklearn_adapter", "pyod_adapter"]


def fit_score(pm: PluginManager, detector: str, X: np.ndarray) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    model = pynomaly.fit(X, detector, random_state=0, manager=pm)
    scores = model.score(X, manager=pm)
    return time.perf_counter() - start, scores


def detect(pm: PluginManager, detector: str, X: np.ndarray) -> tuple[float, np.ndarray]:
    start = time.perf_counter()
    scores = pynomaly.detect(X, detector, random_state=0, manager=pm).scores
    return time.perf_counter() - start, scores


def protections(detectors: list[str], X: np.ndarray, repeats: int) -> None:
    """detect with the in-process protections against detect without them."""
    from pynomaly.plugin import calls, protect

    on = (protect.readonly, calls.running, calls.done)
    off = (lambda value: value, lambda plugin: None, lambda token: None)

    def switch(functions: tuple[object, ...]) -> None:
        protect.readonly, calls.running, calls.done = functions  # type: ignore[assignment]

    pm = PluginManager(autoload=False, allow=ADAPTERS, plugins_dir="")
    print(f"{'detector':<18} {'protected s':>12} {'unprotected s':>14} {'time ratio':>11}")
    for detector in detectors:
        detect(pm, detector, X[:1000])
        t_on, t_off = [], []
        for _ in range(repeats):
            switch(off)
            t, s_off = detect(pm, detector, X)
            t_off.append(t)
            switch(on)
            t, s_on = detect(pm, detector, X)
            t_on.append(t)
            np.testing.assert_array_equal(s_on, s_off)
        m_on, m_off = statistics.median(t_on), statistics.median(t_off)
        print(f"{detector:<18} {m_on:>12.3f} {m_off:>14.3f} {m_on / m_off:>11.3f}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="", help="comma-separated detector ids")
    parser.add_argument(
        "--protections", action="store_true", help="measure the in-process protections"
    )
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, args.features))
    X[: args.rows // 100] += 6  # 1 % planted anomalies
    wanted = [d for d in args.only.split(",") if d] or list(DETECTORS)
    if args.protections:
        print(f"data: {args.rows} x {args.features} float64, detect, {args.repeats} repeats\n")
        protections(wanted, X, args.repeats)
        return
    inproc = PluginManager(autoload=False, allow=ADAPTERS, plugins_dir="")
    isolated = PluginManager(autoload=False, allow=ADAPTERS, plugins_dir="", isolation="process")
    print(
        f"data: {args.rows} x {args.features} float64, fit + score, "
        f"{args.repeats} alternating repeats\n"
    )
    print(f"{'detector':<18} {'in-process s':>13} {'isolated s':>11} {'time ratio':>11}")
    try:
        for detector in wanted:
            for pm in (inproc, isolated):  # warm-up: imports, worker start, numba
                fit_score(pm, detector, X[:1000])
            t_in, t_iso = [], []
            for _ in range(args.repeats):
                t, s_in = fit_score(inproc, detector, X)
                t_in.append(t)
                t, s_iso = fit_score(isolated, detector, X)
                t_iso.append(t)
                np.testing.assert_array_equal(s_in, s_iso)
            m_in, m_iso = statistics.median(t_in), statistics.median(t_iso)
            print(f"{detector:<18} {m_in:>13.3f} {m_iso:>11.3f} {m_iso / m_in:>11.3f}", flush=True)
        print()
        for w in isolated.workers():
            print(
                f"worker {w.plugin}: {w.calls} calls, {w.cpu_seconds:.2f} CPU s, "
                f"peak {w.peak_memory / 2**20:.0f} MiB"
            )
    finally:
        isolated.shutdown()
        inproc.shutdown()


if __name__ == "__main__":
    main()
