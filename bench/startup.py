"""Cold start of ``pynomaly --help`` and ``pynomaly plugins list`` next to other plugin hosts
found on this machine, best of N fresh processes each; and the time plugin discovery takes.

    python bench/startup.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

OTHER_HOSTS = [
    ["pytest", "--version"],
    ["tox", "--version"],
    ["kedro", "info"],
    ["datasette", "plugins"],
    ["llm", "plugins"],
]

DISCOVERY = """
import time
t0 = time.perf_counter()
from pynomaly.plugin.manager import PluginManager
pm = PluginManager()
t1 = time.perf_counter()
pm.discover()
t2 = time.perf_counter()
pm.load_all()
t3 = time.perf_counter()
print(f"{(t1 - t0) * 1e3:.1f} {(t2 - t1) * 1e3:.1f} {(t3 - t2) * 1e3:.1f} {len(pm.records())}")
"""


def script(name: str) -> str | None:
    """The console script next to this interpreter (not a pyenv/asdf shim, which adds ~50 ms
    of shell to every start), else whatever is on PATH."""
    local = Path(sysconfig.get_path("scripts")) / name
    return str(local) if local.exists() else shutil.which(name)


# Measured as users run it: with compiled bytecode (pip writes .pyc files at install time).
# Some machines set PYTHONDONTWRITEBYTECODE, which would make every run compile every module.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def best_of(cmd: list[str], runs: int) -> float:
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)  # warm-up
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=ENV
        )
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    pyn = script("pynomaly") or sys.exit("pynomaly is not installed")
    rows = [
        ("pynomaly --help", [pyn, "--help"]),
        ("pynomaly plugins list", [pyn, "plugins", "list"]),
        ("pynomaly detectors", [pyn, "detectors"]),
    ]
    rows += [(" ".join(c), [script(c[0]), *c[1:]]) for c in OTHER_HOSTS if script(c[0])]
    print(f"best of {args.runs} cold runs")
    for label, cmd in rows:
        print(f"  {label:<24} {best_of(cmd, args.runs):.3f} s")
    samples = [
        subprocess.run(
            [sys.executable, "-c", DISCOVERY], capture_output=True, text=True, check=True, env=ENV
        ).stdout.split()
        for _ in range(args.runs)
    ]
    best = [min(float(s[i]) for s in samples) for i in range(3)]
    print(
        f"\nplugin host import {best[0]:.1f} ms; discover {samples[0][3]} plugins "
        f"(entry points, import, register, metadata) {best[1]:.1f} ms; initialize all "
        f"{best[2]:.1f} ms (best of {args.runs})"
    )


if __name__ == "__main__":
    main()
