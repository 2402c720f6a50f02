"""Whole-process time of a PyOD detection with and without the on-disk numba cache.

    python bench/jitcache.py [--runs 5] [--detector pyod:hbos] [--source sample:wbc]

Each round uses a new, empty cache directory and runs ``pynomaly detect SOURCE -d DETECTOR``
in fresh processes: twice with the cache disabled (``pynomaly_pyod.jitcache.enable`` made a
no-op: every process compiles PyOD's numba functions, as before the cache), then twice with it
(the first run compiles and writes the cache, the second loads it). Rounds alternate the
variants so that drift in machine load hits all of them; medians of wall-clock and CPU
(user + system) seconds are reported.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

RUN = (
    "import sys, pynomaly_pyod.jitcache as j\n"
    "if sys.argv[1] == 'off': j.enable = lambda: 0\n"
    "from pynomaly.cli.main import main\n"
    "main(['detect', sys.argv[2], '-d', sys.argv[3]])\n"
)


def timed(variant: str, args: argparse.Namespace, cache: str) -> tuple[float, float]:
    env = {**os.environ, "NUMBA_CACHE_DIR": cache}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", RUN, variant, args.source, args.detector],
        env=env, check=True, stdout=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--detector", default="pyod:hbos")
    parser.add_argument("--source", default="sample:wbc")
    args = parser.parse_args()
    names = ("no cache, 1st run", "no cache, 2nd run", "cache, 1st run (compiles)",
             "cache, 2nd run (loads)")
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as cache:
            for name, variant in zip(names, ("off", "off", "on", "on"), strict=True):
                times[name].append(timed(variant, args, cache))
    print(f"pynomaly detect {args.source} -d {args.detector}: median of {args.runs} rounds, "
          "each in fresh processes with an empty cache directory\n")
    print(f"{'':<28} {'wall s':>7} {'CPU s':>7}")
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:<28} {wall:>7.2f} {cpu:>7.2f}")


if __name__ == "__main__":
    main()
