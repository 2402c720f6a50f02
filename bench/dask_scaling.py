"""Rows against time and memory: the local engine and ``--engine dask`` on a local cluster.

    python bench/dask_scaling.py            # 250,000, 1,000,000 and 2,000,000 rows x 20
    python bench/dask_scaling.py --quick    # CI-sized: 100,000 and 200,000 rows x 10

For each size, the data is written as Parquet files of ``--part-rows`` rows (250,000) into a
temporary directory, and each command runs in its own process, end to end (start-up, the Dask
cluster's start and stop included), one after the other:

* ``detect local``: ``pynomaly detect DIR -d DET -o out.parquet`` — reads the directory as one
  dataset, fits on every row, writes every row's score;
* ``detect dask``: ``pynomaly detect DIR --engine dask -d DET -o outdir`` — a local cluster
  (one single-threaded worker process per core), fit on a sample of ``--fit-rows`` rows
  (100,000), every partition scored and written by the workers;
* ``detect jobs 2``: ``detect local`` with ``--jobs 2`` (the detector's ``n_jobs``);
* ``score local``: ``pynomaly score MODEL DIR -o out.parquet`` — batches of 50,000 rows,
  each written as it is scored;
* ``score jobs 2``: ``score local`` with ``--jobs 2`` (batches split between this process and
  a worker process);
* ``score dask``: ``pynomaly score MODEL DIR --engine dask -o outdir``.

Time is wall-clock; CPU is the user + system seconds of the command and of the child
processes it waited for (``os.wait4``: worker processes included when they were reaped); memory
is the peak of the summed resident memory of the command's process tree (sampled every 50 ms
with psutil: a Dask cluster's memory is that of its worker processes). The model scored is
fitted beforehand on the first partition. The machine's load average is printed with each
size (on a shared machine, CPU seconds say more than wall-clock).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def run(command: list[str]) -> tuple[float, float, float]:
    """Wall-clock seconds, CPU seconds and peak resident MiB of ``command``'s process tree."""
    import psutil

    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    root = psutil.Process(proc.pid)
    while True:
        # wait4 reaps the command and gives its rusage, children it waited for included
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        total = 0
        try:
            for p in [root, *root.children(recursive=True)]:
                try:
                    total += p.memory_info().rss
                except psutil.Error:
                    continue
        except psutil.Error:
            pass
        peak = max(peak, total)
        time.sleep(0.05)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({proc.returncode}):\n{err}")
    return seconds, usage.ru_utime + usage.ru_stime, peak / 2**20


def write_parts(where: Path, rows: int, features: int, part_rows: int) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    columns = [f"x{i}" for i in range(features)]
    for n, start in enumerate(range(0, rows, part_rows)):
        size = min(part_rows, rows - start)
        frame = pd.DataFrame(rng.standard_normal((size, features)), columns=columns)
        frame.to_parquet(where / f"part{n:04d}.parquet")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--sizes", help="comma-separated row counts")
    parser.add_argument("--features", type=int)
    parser.add_argument("--part-rows", type=int, default=250_000)
    parser.add_argument("--fit-rows", type=int, default=100_000)
    parser.add_argument("--detectors", default="sklearn:iforest,pyod:ecod")
    args = parser.parse_args(argv)
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else [100_000, 200_000] if args.quick else [250_000, 1_000_000, 2_000_000]
    )
    features = args.features or (10 if args.quick else 20)
    part_rows = min(args.part_rows, 50_000) if args.quick else args.part_rows
    exe = shutil.which("pynomaly") or f"{sys.executable} -m pynomaly"
    base = exe.split()
    print(f"{os.cpu_count()} cores; {features} features; files of {part_rows:,} rows; "
          f"dask: fit on {args.fit_rows:,} rows")
    print(f"{'detector':<16}{'rows':>10}{'files':>6}  {'command':<14}{'seconds':>9}"
          f"{'cpu s':>8}{'peak MiB':>10}")
    for rows in sizes:
        with tempfile.TemporaryDirectory(prefix="pynomaly-bench-dask-") as tmp:
            tmpdir = Path(tmp)
            data = tmpdir / "data"
            data.mkdir()
            write_parts(data, rows, features, part_rows)
            files = len(list(data.iterdir()))
            print(f"# {rows:,} rows: load average {os.getloadavg()[0]:.2f}", flush=True)
            for detector in args.detectors.split(","):
                model = tmpdir / "model"
                subprocess.run(
                    [*base, "fit", str(data / "part0000.parquet"), "-d", detector, "--save",
                     str(model), "--overwrite"],
                    check=True, stdout=subprocess.DEVNULL,
                )
                commands = {
                    "detect local": [*base, "detect", str(data), "-d", detector, "-q",
                                     "-o", str(tmpdir / "local.parquet"), "--overwrite"],
                    "detect jobs 2": [*base, "detect", str(data), "-d", detector, "-q",
                                      "--jobs", "2", "-o", str(tmpdir / "local.parquet"),
                                      "--overwrite"],
                    "detect dask": [*base, "detect", str(data), "-d", detector, "-q",
                                    "--engine", "dask", "--fit-rows", str(args.fit_rows),
                                    "-o", str(tmpdir / "dask-detect"), "--overwrite"],
                    "score local": [*base, "score", str(model), str(data), "-q",
                                    "-o", str(tmpdir / "scored.parquet"), "--overwrite"],
                    "score jobs 2": [*base, "score", str(model), str(data), "-q", "--jobs",
                                     "2", "-o", str(tmpdir / "scored.parquet"), "--overwrite"],
                    "score dask": [*base, "score", str(model), str(data), "-q",
                                   "--engine", "dask", "-o", str(tmpdir / "dask-score"),
                                   "--overwrite"],
                }
                for name, command in commands.items():
                    seconds, cpu, peak = run(command)
                    print(f"{detector:<16}{rows:>10,}{files:>6}  {name:<14}{seconds:>9.2f}"
                          f"{cpu:>8.2f}{peak:>10.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
