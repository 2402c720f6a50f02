"""Performance at scale, whole processes measured in the same run: detect against a hand-written
script, scoring memory at 1× and 4× the rows, scoring with 2 jobs against 1, and the scaling
curve of the local engine, --jobs 2 and --engine dask (bench/dask_scaling.py).

    python bench/scale.py            # 1M × 20 (and 4M × 20 for memory; 250k–2M for part 4)
    python bench/scale.py --quick    # 50k × 20 (and 200k; part 4 at 100k, 200k): for CI

Everything is generated in a temporary directory (float64 features from a seeded generator,
written by pyarrow). Every figure comes from ``os.wait4`` on a child process: CPU is its user +
system time (worker processes it started and waited for included), memory its peak resident
set (what ``/usr/bin/time -v`` reports as "Maximum resident set size"). The machine's load
average is printed with each part: on a shared machine, compare CPU seconds first.

1. ``pynomaly detect DATA -d DETECTOR -o out.csv`` against the script a user would write with
   pandas and the library (``pd.read_csv`` / ``pd.read_parquet``, the library's own defaults,
   the same threshold, ``DataFrame.to_csv``), for CSV (read by pandas, pynomaly's default, and
   by pyarrow) and Parquet input and HBOS, IsolationForest
   and ECOD. Both write the same scores (checked). The runs alternate; medians are reported.
2. ``pynomaly score MODEL DATA -o out.csv`` on N and 4N rows: peak RSS of each and their ratio
   (flat memory: the ratio stays near 1), and rows per second.
3. ``pynomaly score ... --jobs 2`` against ``--jobs 1`` (alternating): wall time and CPU, for
   IsolationForest and ECOD (both declare ``threaded_scoring``: each batch split between the
   calling thread and one other); the two outputs are checked to be byte-identical. Then (3b)
   the library's ``Model.score(frame, jobs=2)`` against ``jobs=1`` on the same rows in memory:
   the first call (cold: a detector scored in worker processes starts them) and the next one
   (warm: the workers kept from the call before).
4. bench/dask_scaling.py: rows against time, CPU and peak memory for detect and score with
   the local engine, ``--jobs 2`` and ``--engine dask`` (a LocalCluster).
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

FEATURES = 20
DETECTORS = ("pyod:hbos", "sklearn:iforest", "pyod:ecod")

SCRIPT = textwrap.dedent(
    """
    import sys
    import numpy as np
    import pandas as pd

    path, detector, out = sys.argv[1:4]
    frame = pd.read_csv(path) if path.endswith(".csv") else pd.read_parquet(path)
    X = frame.to_numpy(dtype=np.float64)
    if detector == "pyod:hbos":
        from pyod.models.hbos import HBOS
        scores = HBOS().fit(X).decision_scores_
    elif detector == "pyod:ecod":
        from pyod.models.ecod import ECOD
        scores = ECOD().fit(X).decision_scores_
    else:
        from sklearn.ensemble import IsolationForest
        scores = -IsolationForest(random_state=0).fit(X).score_samples(X)
    threshold = np.percentile(scores, 90.0)
    result = pd.DataFrame(
        {"anomaly_score": scores, "is_anomaly": (scores > threshold).astype(np.int8)},
        index=frame.index,
    )
    result.to_csv(out)
    """
)


# Runs the measured command and reports its rusage. A small process of its own starts it: a
# child forked from this (large) bench process would count the bench's resident pages in its
# peak RSS, which survives exec.
MEASURE = textwrap.dedent(
    """
    import json, os, subprocess, sys, time
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode()
    _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    print(json.dumps({"wall": time.perf_counter() - start, "code": code, "err": err,
                      "cpu": usage.ru_utime + usage.ru_stime, "rss": usage.ru_maxrss}))
    """
)


class Run:
    """One finished child process: wall seconds, CPU seconds, peak RSS in MiB."""

    def __init__(self, argv: list[str], cwd: Path) -> None:
        import json

        done = subprocess.run(
            [sys.executable, "-c", MEASURE, *argv], cwd=cwd, capture_output=True, text=True
        )
        report = json.loads(done.stdout)
        if report["code"] != 0:
            raise SystemExit(f"failed ({report['code']}): {shlex.join(argv)}\n{report['err']}")
        self.wall = report["wall"]
        self.cpu = report["cpu"]
        self.rss = report["rss"] / 1024  # KiB on Linux


def pynomaly_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "pynomaly", *args]


def generate(directory: Path, rows: int, name: str, *, parquet: bool = True) -> tuple[Path, Path]:
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    X = rng.standard_normal((rows, FEATURES))
    X[:: max(1, rows // 500)] *= 6.0  # some outlying rows
    table = pa.table({f"f{i}": X[:, i] for i in range(FEATURES)})
    csv, pq_path = directory / f"{name}.csv", directory / f"{name}.parquet"
    pcsv.write_csv(table, csv, pcsv.WriteOptions(quoting_style="none"))
    if parquet:
        pq.write_table(table, pq_path)
    return csv, pq_path


def median(values: list[float]) -> float:
    return statistics.median(values)


def detect_versus_script(
    work: Path, data: dict[str, Path], repeats: int, detectors: list[str]
) -> None:
    """pynomaly reads CSV with pandas (its default) and with pyarrow (engine=pyarrow)."""
    import pandas as pd

    script = work / "script.py"
    script.write_text(SCRIPT)
    print(f"\n1. pynomaly detect -o out.csv vs pandas + library script, median of {repeats} "
          f"(load average {load()})")
    print(f"{'detector':<17}{'input':<9}{'pyn cpu s':>10}{'script s':>10}{'cpu ratio':>10}"
          f"{'pyn wall':>10}{'scr wall':>10}{'pyn MiB':>9}{'scr MiB':>9}")
    cases = [
        ("csv", data["csv"], []),
        ("csv¹", data["csv"], ["--source-option", "engine=pyarrow"]),
        ("parquet", data["parquet"], []),
    ]
    for detector in detectors:
        for kind, path, extra in cases:
            ours: list[Run] = []
            theirs: list[Run] = []
            argv = pynomaly_cli("detect", str(path), "-d", detector, "-o", "p.csv", *extra)
            for _ in range(repeats):
                for out in ("p.csv", "s.csv"):
                    (work / out).unlink(missing_ok=True)
                ours.append(Run(argv, work))
                theirs.append(Run([sys.executable, str(script), str(path), detector, "s.csv"],
                                  work))
            a = pd.read_csv(work / "p.csv", index_col=0)
            b = pd.read_csv(work / "s.csv", index_col=0)
            np.testing.assert_allclose(a["anomaly_score"], b["anomaly_score"], rtol=1e-12)
            assert (a["is_anomaly"] == b["is_anomaly"]).all(), (detector, kind)
            cpu_o, cpu_t = median([r.cpu for r in ours]), median([r.cpu for r in theirs])
            wall_o, wall_t = median([r.wall for r in ours]), median([r.wall for r in theirs])
            print(f"{detector:<17}{kind:<9}{cpu_o:>10.2f}{cpu_t:>10.2f}{cpu_o / cpu_t:>10.3f}"
                  f"{wall_o:>10.2f}{wall_t:>10.2f}"
                  f"{median([r.rss for r in ours]):>9.0f}{median([r.rss for r in theirs]):>9.0f}")
    print("¹ pynomaly reading the CSV with pyarrow (--source-option engine=pyarrow)")


def fit_model(work: Path, train: Path, detector: str, name: str) -> Path:
    model = work / name
    Run(pynomaly_cli("fit", str(train), "-d", detector, "--save", str(model), "--overwrite"),
        work)
    return model


def score_memory(work: Path, model: Path, small: Path, large: Path, rows: int) -> None:
    print("\n2. pynomaly score MODEL DATA -o out.csv (sklearn:iforest, batches of 50,000 rows; "
          f"load average {load()})")
    print(f"{'input':<28}{'rows':>10}{'wall s':>9}{'cpu s':>9}{'rows/s':>10}{'peak MiB':>10}")
    runs = {}
    for path, n in ((small, rows), (large, 4 * rows)):
        (work / "o.csv").unlink(missing_ok=True)
        run = Run(pynomaly_cli("score", str(model), str(path), "-o", "o.csv"), work)
        runs[n] = run
        print(f"{path.name:<28}{n:>10,}{run.wall:>9.2f}{run.cpu:>9.2f}{n / run.wall:>10,.0f}"
              f"{run.rss:>10.0f}")
    print(f"peak RSS {4 * rows:,} / {rows:,} rows: {runs[4 * rows].rss / runs[rows].rss:.3f}")


def jobs_speedup(work: Path, models: dict[str, Path], data: dict[str, Path], repeats: int) -> None:
    print(f"\n3. pynomaly score --jobs 2 vs --jobs 1, median of {repeats} (load average {load()})")
    print(f"{'detector':<17}{'input':<9}{'jobs 1 s':>9}{'jobs 2 s':>9}{'speedup':>9}"
          f"{'cpu 1 s':>9}{'cpu 2 s':>9}")
    for detector, model in models.items():
        for kind, path in data.items():
            runs: dict[int, list[Run]] = {1: [], 2: []}
            for _ in range(repeats):
                for jobs in (1, 2):
                    (work / f"j{jobs}.csv").unlink(missing_ok=True)
                    argv = pynomaly_cli("score", str(model), str(path), "-o", f"j{jobs}.csv",
                                        "--jobs", str(jobs))
                    runs[jobs].append(Run(argv, work))
            assert (work / "j1.csv").read_bytes() == (work / "j2.csv").read_bytes(), detector
            one, two = median([r.wall for r in runs[1]]), median([r.wall for r in runs[2]])
            print(f"{detector:<17}{kind:<9}{one:>9.2f}{two:>9.2f}{one / two:>9.2f}"
                  f"{median([r.cpu for r in runs[1]]):>9.2f}"
                  f"{median([r.cpu for r in runs[2]]):>9.2f}  load {load()}", flush=True)


# Model.score(frame, jobs=J) in one process, the frame already in memory: jobs=1, jobs=2 with
# workers to start (cold), jobs=2 again (the workers kept from the call before: warm). Each
# call loads the model file afresh, as a new request of a service would.
LIBRARY_JOBS = textwrap.dedent(
    """
    import json, sys, time
    import numpy as np, pandas as pd, pynomaly
    from pynomaly.detection import parallel

    model, data, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
    frame = pd.read_parquet(data)
    times = {"1": [], "2 cold": [], "2 warm": []}
    for _ in range(repeats):
        for label, jobs in (("1", 1), ("2 cold", 2), ("2 warm", 2)):
            if label == "2 cold":
                parallel.shutdown()
            m = pynomaly.load(model)
            start = time.perf_counter()
            scores = m.score(frame, jobs=jobs)
            times[label].append(time.perf_counter() - start)
            if label == "1":
                reference = scores
            else:
                np.testing.assert_array_equal(scores, reference)
    print(json.dumps(times))
    """
)


def library_jobs(work: Path, models: dict[str, Path], parquet: Path, repeats: int) -> None:
    import json

    print(f"\n3b. Model.score(frame, jobs=2) vs jobs=1 in one process, median of {repeats} "
          f"(load average {load()})")
    print(f"{'detector':<17}{'jobs 1 s':>9}{'2 cold s':>9}{'speedup':>9}{'2 warm s':>9}"
          f"{'speedup':>9}")
    for detector, model in models.items():
        done = subprocess.run(
            [sys.executable, "-c", LIBRARY_JOBS, str(model), str(parquet), str(repeats)],
            cwd=work, capture_output=True, text=True, check=True,
        )
        times = {k: median(v) for k, v in json.loads(done.stdout.splitlines()[-1]).items()}
        one, cold, warm = times["1"], times["2 cold"], times["2 warm"]
        print(f"{detector:<17}{one:>9.2f}{cold:>9.2f}{one / cold:>9.2f}{warm:>9.2f}"
              f"{one / warm:>9.2f}  load {load()}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="50k rows instead of 1M")
    parser.add_argument("--rows", type=int, help="rows of the main data set")
    parser.add_argument("--repeats", type=int, help="runs of each measurement [quick 1, full 3]")
    parser.add_argument("--only", default="1,2,3,4", help="parts to run, e.g. 2,3")
    parser.add_argument(
        "--detectors", default=",".join(DETECTORS), help="detectors of part 1, comma-separated"
    )
    args = parser.parse_args()
    rows = args.rows or (50_000 if args.quick else 1_000_000)
    repeats = args.repeats or (1 if args.quick else 3)
    parts = set(args.only.split(","))
    print(f"{rows:,} × {FEATURES} float64 rows; {os.cpu_count()} cores; "
          f"load average {load()} at start")
    with tempfile.TemporaryDirectory(prefix="pynomaly-bench-") as tmp:
        work = Path(tmp)
        csv, parquet = generate(work, rows, "data")
        data = {"csv": csv, "parquet": parquet}
        if "1" in parts:
            detect_versus_script(work, data, repeats, args.detectors.split(","))
        if parts & {"2", "3"}:
            train, _ = generate(work, min(rows, 100_000), "train")
            forest = fit_model(work, train, "sklearn:iforest", "iforest.model")
        if "2" in parts:
            large, _ = generate(work, 4 * rows, "data4x", parquet=False)
            score_memory(work, forest, csv, large, rows)
            large.unlink()
        if "3" in parts:
            ecod = fit_model(work, train, "pyod:ecod", "ecod.model")
            models = {"sklearn:iforest": forest, "pyod:ecod": ecod}
            jobs_speedup(work, models, data, repeats)
            library_jobs(work, models, parquet, repeats)
    if "4" in parts:
        print(f"\n4. bench/dask_scaling.py (load average {load()})", flush=True)
        scaling = [sys.executable, str(Path(__file__).with_name("dask_scaling.py"))]
        subprocess.run([*scaling, *(["--quick"] if args.quick else [])], check=True)
    print(f"load average {load()} at the end")


def load() -> str:
    """The 1, 5 and 15-minute load averages."""
    return " ".join(f"{v:.2f}" for v in os.getloadavg())


if __name__ == "__main__":
    main()
