"""examples/pynomaly-robustz, the plugin docs/writing-plugins.md walks through, as a user gets
it: pip-installed into a virtual environment that sees this checkout's pynomaly, then used from
the command line and from the library. Its scores are checked against a numpy computation made
here, and its own tests (written with pynomaly's test kit) must pass.

The example is what ``pynomaly plugin new robustz`` generates plus code of its own in marked
regions (the rule is in its README): checked here against this checkout's scaffold.
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import numpy as np
import pytest

import pynomaly
from pynomaly.scaffold import render
from tests.childenv import child_venv, pip_install

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "pynomaly-robustz"
PUBLIC_API = {"pynomaly", "pynomaly.types", "pynomaly.errors"}
# a marker line of the example's own regions: a comment (# in Python and TOML, <!-- in Markdown)
# that starts with ">>> example" (the region's first line) or "<<< example" (its last)
MARKER = re.compile(r"\s*(?:#|<!--)\s*(>>>|<<<) example\b")
BUILT = ("build", "dist", "__pycache__")  # left by building or testing the example (and .*)


def _run(cmd: list[str | Path], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, check=False, **kwargs
    )


def robust_z(train: np.ndarray, X: np.ndarray) -> np.ndarray:
    """|x - median| / (1.4826 MAD) per cell; mean absolute deviation x 1.2533 where the MAD is
    0; at least 1e-9. Written from the README's description, not from the plugin's code."""
    median = np.median(train, axis=0)
    mad = np.median(np.abs(train - median), axis=0)
    scale = np.where(mad > 0, 1.4826 * mad, 1.2533 * np.mean(np.abs(train - median), axis=0))
    return np.abs(X - median) / np.maximum(scale, 1e-9)


@pytest.fixture(scope="module")
def wbc() -> np.ndarray:
    pm = pynomaly.PluginManager(autoload=False, plugins_dir="")
    return pynomaly.load_data("sample:wbc", manager=pm).to_numpy(dtype=np.float64)


@pytest.fixture(scope="module")
def example_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(python of a venv with pynomaly-robustz installed, the copy it was built from)."""
    where = tmp_path_factory.mktemp("robustz")
    copy = shutil.copytree(  # build from a copy: building writes into the source tree
        EXAMPLE,
        where / "pynomaly-robustz",
        ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__", ".*cache"),
    )
    python = child_venv(where / "venv")
    pip_install(python, copy)
    return python, copy


def _cli(example_venv, *args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNOMALY_")}
    return _run([example_venv[0], "-m", "pynomaly", *args], cwd=cwd, env=env)


def _imports(nodes) -> set[str]:
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def generated_part(text: str, path: str = "") -> str:
    """``text`` without the example's regions, and the blank lines right before each."""
    kept: list[str] = []
    inside = False
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        marker = MARKER.match(line)
        if marker is None:
            if not inside:
                kept.append(line)
            continue
        opens = marker.group(1) == ">>>"
        assert opens != inside, f"{path}:{number}: {'nested' if inside else 'unopened'} region"
        inside = opens
        while opens and kept and not kept[-1].strip():
            kept.pop()
    assert not inside, f"{path}: a region is not closed"
    return "".join(kept)


def test_the_example_is_the_scaffold_plus_marked_regions():
    rendered = render("robustz", "algorithm")
    regions = 0
    for path, expected in rendered.items():
        assert not any(MARKER.match(line) for line in expected.splitlines()), path
        example = EXAMPLE / path
        assert example.is_file(), f"{path}: the scaffold renders it, the example lacks it"
        text = example.read_text(encoding="utf-8")
        regions += [m.group(1) for m in map(MARKER.match, text.splitlines()) if m].count(">>>")
        got = generated_part(text, path)
        diff = "".join(
            difflib.unified_diff(
                expected.splitlines(keepends=True),
                got.splitlines(keepends=True),
                f"rendered/{path}",
                f"example/{path} without its regions",
            )
        )
        assert got == expected, f"examples/pynomaly-robustz/{path} is not the scaffold's:\n{diff}"
    assert regions, "the example adds nothing to the scaffold"
    files = [p.relative_to(EXAMPLE) for p in EXAMPLE.rglob("*") if p.is_file()]
    own = {
        path.as_posix()
        for path in files
        if not any(part in BUILT or part.startswith(".") or ".egg" in part for part in path.parts)
    } - set(rendered)
    for path in sorted(own):  # the example's own files: not generated, so without regions
        text = (EXAMPLE / path).read_text(encoding="utf-8")
        assert not any(MARKER.match(line) for line in text.splitlines()), path


def test_regions_are_found_and_removed_with_the_blanks_before_them():
    text = "a\n\n# >>> example: why\nb\n# <<< example\n\nc\n"
    assert generated_part(text) == "a\n\nc\n"
    assert generated_part("x\n  <!-- >>> example -->\ny\n<!-- <<< example -->\n") == "x\n"
    for bad in ("# >>> example\n", "# <<< example\n", "# >>> example\n# >>> example\n"):
        with pytest.raises(AssertionError, match="region"):
            generated_part(bad)


def test_the_example_uses_only_the_public_plugin_api():
    modules = sorted((EXAMPLE / "pynomaly_robustz").glob("*.py"))
    assert modules
    for path in modules:
        tree = ast.parse(path.read_text())
        ours = {m for m in _imports(ast.walk(tree)) if m.split(".")[0] == "pynomaly"}
        assert ours <= PUBLIC_API, f"{path.name} imports {sorted(ours - PUBLIC_API)}"
        module_level = {m.split(".")[0] for m in _imports(tree.body)}
        assert not module_level & {"numpy", "pandas"}, "heavy imports belong inside the hooks"


def test_installed_plugin_is_loaded_with_its_metadata(example_venv, tmp_path):
    proc = _cli(example_venv, "plugins", "list", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    row = {r["name"]: r for r in json.loads(proc.stdout)}["robustz"]
    assert (row["status"], row["version"], row["types"]) == (
        "loaded",
        "0.1.0",
        ["algorithm", "output"],
    )
    assert row["origin"] == "pynomaly-robustz 0.1.0"
    detectors = json.loads(_cli(example_venv, "detectors", "--json", cwd=tmp_path).stdout)
    info = next(d for d in detectors if d["id"] == "robustz:mad")
    assert info["plugin"] == "robustz"
    assert info["hyperparameters"]["aggregate"]["values"] == ["max", "mean"]
    assert info["hyperparameters"]["eps"]["scale"] == "log"
    health = json.loads(_cli(example_venv, "plugins", "check", "--json", cwd=tmp_path).stdout)
    assert health["robustz"] == {"status": "healthy", "numpy": np.__version__}


def test_cli_detect_writes_the_exact_scores_as_markdown(example_venv, wbc, tmp_path):
    (tmp_path / "robustz.json").write_text(json.dumps({"plugins": {"robustz": {"digits": 17}}}))
    proc = _cli(
        example_venv,
        "--config",
        "robustz.json",
        "detect",
        "sample:wbc",
        "-d",
        "robustz:mad",
        "-o",
        "out.md",
        "--format",
        "markdown",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE((tmp_path / "out.md").stat().st_mode) == 0o666 & ~umask  # not 0600
    lines = (tmp_path / "out.md").read_text().splitlines()
    assert lines[:2] == ["| row | anomaly_score | is_anomaly |", "| ---: | ---: | :---: |"]
    cells = [line.strip("|").split("|") for line in lines[2:]]
    scores = np.array([float(c[1]) for c in cells])
    np.testing.assert_allclose(scores, robust_z(wbc, wbc).max(axis=1), rtol=1e-12)
    labels = np.array([int(c[2]) for c in cells])
    assert labels.sum() == round(0.1 * len(wbc))  # the default contamination
    assert labels[np.argmax(scores)] == 1
    again = _cli(
        example_venv,
        "detect",
        "sample:wbc",
        "-d",
        "robustz:mad",
        "-o",
        "out.md",
        "--format",
        "markdown",
        cwd=tmp_path,
    )
    assert again.returncode == 2 and "already exists" in again.stderr


def test_library_in_the_venv_matches_numpy(example_venv, wbc, tmp_path):
    script = (
        "import json, pynomaly\n"
        "X = pynomaly.load_data('sample:wbc')\n"
        "result = pynomaly.detect(X, detector='robustz:mad', aggregate='mean')\n"
        "model = pynomaly.fit(X.iloc[:300], detector='robustz:mad')\n"
        "print(json.dumps({\n"
        "    'detect': result.scores.tolist(),\n"
        "    'score': model.score(X.iloc[300:]).tolist(),\n"
        "    'explain': pynomaly.explain(model, X.iloc[300:]).tolist(),\n"
        "}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNOMALY_")}
    proc = _run([example_venv[0], "-c", script], cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    train, new = wbc[:300], wbc[300:]
    np.testing.assert_allclose(got["detect"], robust_z(wbc, wbc).mean(axis=1), rtol=1e-12)
    np.testing.assert_allclose(got["score"], robust_z(train, new).max(axis=1), rtol=1e-12)
    np.testing.assert_allclose(got["explain"], robust_z(train, new).mean(axis=0), rtol=1e-12)


def test_bad_parameter_and_disabled_plugin_are_one_line_errors(example_venv, tmp_path):
    proc = _cli(
        example_venv,
        "detect",
        "sample:wbc",
        "-d",
        "robustz:mad",
        "-P",
        "aggregate=median",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == (
        "Error: robustz:mad: parameter 'aggregate' must be 'max' or 'mean', got 'median'"
    )
    proc = _cli(
        example_venv, "-p", "no:robustz", "detect", "sample:wbc", "-d", "robustz:mad", cwd=tmp_path
    )
    assert proc.returncode == 2 and "unknown detector 'robustz:mad'" in proc.stderr


def test_its_own_tests_pass_with_the_test_kit(example_venv, tmp_path):
    python, copy = example_venv
    proc = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", copy], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout
    check = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pynomaly-check=robustz"]
    proc = _run(check, cwd=tmp_path)  # no test files here: the conformance checks alone
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout
