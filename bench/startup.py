"""Cold start of ``pynomaly --help`` and ``pynomaly plugins list`` next to other plugin hosts
found on this machine, best of N fresh processes each; and the time plugin discovery takes.

    python bench/startup.py [--runs 5]
    python bench/startup.py --fresh [--runs 21] [--venvs DIR]

``--fresh`` measures as a user who ran the README's ``pip install .`` would: two new virtual
environments (in DIR, reused when they exist there), one with this checkout installed (not
editable, so pip compiles the bytecode), one with pytest alone; then the commands run in
turn, interleaved, and the medians are printed with the ratio to ``pytest --version``.
``plugins list`` is measured served from the plugin-metadata cache (every run after the first
one following an install) and with the cache off (``PYNOMALY_NO_PLUGIN_CACHE=1``: what the
first run after an install or uninstall costs).
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


def _venv(where: Path, *packages: str) -> Path:
    """A virtual environment at ``where`` with ``packages`` pip-installed (once)."""
    bin_dir = where / "bin"
    if not (bin_dir / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
        subprocess.run(
            [str(bin_dir / "python"), "-m", "pip", "install", "-q", *packages],
            check=True,
            env=ENV,  # pip compiles bytecode unless told not to
        )
    return bin_dir


def fresh(runs: int, venvs: Path, baseline: Path | None = None) -> None:
    import statistics
    import tempfile

    root = Path(__file__).resolve().parents[1]
    pyn = _venv(venvs / "pynomaly", str(root)) / "pynomaly"
    pytest = _venv(venvs / "pytest", "pytest") / "pytest"
    cache = tempfile.mkdtemp(prefix="pynomaly-bench-cache-")
    cached = {**ENV, "PYNOMALY_CACHE_DIR": cache}
    discovery = {**ENV, "PYNOMALY_NO_PLUGIN_CACHE": "1"}
    rows = [
        ("pynomaly --help", [str(pyn), "--help"], cached),
        ("pynomaly plugins list", [str(pyn), "plugins", "list"], cached),
        ("pynomaly detectors", [str(pyn), "detectors"], cached),
        ("plugins list (no cache)", [str(pyn), "plugins", "list"], discovery),
        ("pytest --version", [str(pytest), "--version"], ENV),
    ]
    if baseline is not None:  # another pynomaly (say main's), installed the same way
        rows.append(
            ("baseline plugins list", [str(baseline / "bin" / "pynomaly"), "plugins", "list"], ENV)
        )
    times: dict[str, list[float]] = {label: [] for label, _, _ in rows}
    for _, cmd, env in rows:  # warm-up: fills the cache, and the page cache
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    load = os.getloadavg()
    for _ in range(runs):
        for label, cmd, env in rows:
            start = time.perf_counter()
            subprocess.run(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True, env=env
            )
            times[label].append(time.perf_counter() - start)
    end = os.getloadavg()
    shutil.rmtree(cache, ignore_errors=True)
    base = statistics.median(times["pytest --version"])
    print(f"fresh venvs in {venvs}; median of {runs} interleaved cold runs")
    for label, _, _ in rows:
        median = statistics.median(times[label])
        print(
            f"  {label:<26} {median:.3f} s  (best {min(times[label]):.3f})  "
            f"{median / base:.2f}x pytest --version"
        )
    print(
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} before, "
        f"{end[0]:.2f} {end[1]:.2f} {end[2]:.2f} after"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--fresh", action="store_true", help="fresh venvs, medians")
    parser.add_argument("--venvs", type=Path, help="where the fresh venvs are (kept)")
    parser.add_argument(
        "--baseline", type=Path, help="a venv with another pynomaly, measured in the same run"
    )
    args = parser.parse_args()
    if args.fresh:
        import tempfile

        venvs = args.venvs or Path(tempfile.mkdtemp(prefix="pynomaly-bench-"))
        fresh(args.runs, venvs, args.baseline)
        return
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
