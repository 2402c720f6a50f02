"""Model files: what the skops payload costs against a pickle, in the same run.

    python bench/model_files.py [--rows 5000] [--features 20] [--repeats 5] [--only ID,...]
                                [--cli-runs 5]

For each detector a model is fitted once, then its payload is written and read alternately as
a pickle and with skops (``pickle.dumps``/``loads`` against ``skops.io.dumps``/``loads`` with
pynomaly's type check), and the medians are reported with the ratios and the sizes. The import
of ``skops.io`` itself (paid once per process that saves or loads a model) is timed in a fresh
interpreter that has already imported scikit-learn. A signed skops save and load through
``Model.save``/``pynomaly.load`` are timed too (key in a temporary directory). Last, what a user
sees: ``pynomaly score MODEL sample:wbc --json`` in fresh processes, the model saved as a
pickle and as skops, alternately; median wall and CPU seconds of each.
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

DETECTORS = ["sklearn:iforest", "sklearn:lof", "sklearn:ocsvm", "pyod:ecod", "pyod:knn"]


def _median(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _skops_import() -> float:
    code = (
        "import time, sklearn.ensemble, sklearn.neighbors, sklearn.svm\n"
        "t = time.perf_counter(); import skops.io; print(time.perf_counter() - t)"
    )
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    ]
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--features", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--only", default="")
    parser.add_argument("--cli-runs", type=int, default=5)
    args = parser.parse_args()

    import skops.io as sio

    import pynomaly
    from pynomaly.detection import persistence

    os.environ.setdefault("PYNOMALY_KEY_FILE", str(Path(tempfile.mkdtemp()) / "bench.key"))
    rng = np.random.default_rng(0)
    X = rng.standard_normal((args.rows, args.features))
    pm = pynomaly.PluginManager(plugins_dir="")
    ids = args.only.split(",") if args.only else DETECTORS
    print(f"skops.io import (after scikit-learn): {_skops_import():.3f} s")
    print(f"{args.rows} rows x {args.features} features, median of {args.repeats}")
    print(
        f"{'detector':<16} {'pickle KB':>9} {'skops KB':>9} {'dump ms':>8} {'skops':>8}"
        f" {'ratio':>6} {'load ms':>8} {'skops':>8} {'ratio':>6} {'save ms':>8} {'load ms':>8}"
    )
    for detector in ids:
        model = pynomaly.fit(X, detector, random_state=0, manager=pm)
        raw = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
        packed = sio.dumps(model)
        types = sio.get_untrusted_types(data=packed)
        assert all(persistence.loadable_type(t) for t in types), types
        dump_p = _median(
            lambda m=model: pickle.dumps(m, protocol=pickle.HIGHEST_PROTOCOL), args.repeats
        )
        dump_s = _median(lambda m=model: sio.dumps(m), args.repeats)
        load_p = _median(lambda r=raw: pickle.loads(r), args.repeats)
        load_s = _median(
            lambda p=packed: sio.loads(p, trusted=sio.get_untrusted_types(data=p)), args.repeats
        )
        with tempfile.TemporaryDirectory() as where:
            path = Path(where) / "m.model"
            save = _median(
                lambda m=model, p=path: m.save(p, overwrite=True, format="skops"), args.repeats
            )
            load = _median(lambda p=path: pynomaly.load(p, manager=pm), args.repeats)
        print(
            f"{detector:<16} {len(raw) / 1024:>9.0f} {len(packed) / 1024:>9.0f}"
            f" {dump_p * 1e3:>8.1f} {dump_s * 1e3:>8.1f} {dump_s / dump_p:>6.1f}"
            f" {load_p * 1e3:>8.1f} {load_s * 1e3:>8.1f} {load_s / load_p:>6.1f}"
            f" {save * 1e3:>8.1f} {load * 1e3:>8.1f}"
        )

    print(f"\npynomaly score MODEL sample:wbc --json, fresh processes, median of {args.cli_runs}")
    for detector in ids:
        _cli_costs(detector, args.cli_runs)


_SCORE = (
    "import resource, sys\n"
    "from pynomaly.cli.main import main\n"
    "try:\n    main(['score', sys.argv[1], 'sample:wbc', '--json'])\n"
    "except SystemExit:\n    pass\n"
    "r = resource.getrusage(resource.RUSAGE_SELF)\n"
    "print(r.ru_utime + r.ru_stime, file=sys.stderr)\n"
)


def _cli_costs(detector: str, runs: int) -> None:
    import pynomaly

    model = pynomaly.fit("sample:wbc", detector, random_state=0)
    with tempfile.TemporaryDirectory() as where:
        paths = {fmt: Path(where) / f"{fmt}.model" for fmt in ("pickle", "skops")}
        for fmt, path in paths.items():
            model.save(path, format=fmt)
        costs: dict[str, list[tuple[float, float]]] = {fmt: [] for fmt in paths}
        for _ in range(runs):
            for fmt, path in paths.items():
                start = time.perf_counter()
                proc = subprocess.run(
                    [sys.executable, "-c", _SCORE, str(path)], capture_output=True, text=True
                )
                wall = time.perf_counter() - start
                costs[fmt].append((wall, float(proc.stderr.strip().splitlines()[-1])))
    line = [f"{detector:<16}"]
    for fmt, values in costs.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        line.append(f"{fmt} {wall:5.2f} s wall {cpu:5.2f} s CPU")
    print("   ".join(line))


if __name__ == "__main__":
    main()
