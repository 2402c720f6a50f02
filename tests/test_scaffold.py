"""``pynomaly plugin new``: every plugin type gives a package that is ruff-clean, installs with
pip, loads through its entry point, works from the command line, and passes its own tests
(which use pynomaly's test kit).

The packages are installed into a virtual environment that sees this checkout's pynomaly, with
``--no-index`` so that pip can never fetch the unrelated ``pynomaly`` of the package index.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from packaging.utils import canonicalize_name

import pynomaly
from pynomaly.cli.main import cli
from pynomaly.errors import InputError
from pynomaly.scaffold import PLUGIN_TYPES, create_plugin, render, reserved_names
from tests.childenv import child_venv, pip_install

ROOT = Path(__file__).resolve().parents[1]

# one plugin per type; the names are unlike any real plugin's
NAMES = {
    "algorithm": "scaffolded_mad",
    "data_source": "scaffolded_arff",
    "output": "scaffolded_md",
    "processing": "scaffolded_clip",
}
HEAVY = ("numpy", "pandas", "sklearn", "pyod", "scipy")


def _run(cmd: list[str | Path], **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(c) for c in cmd], capture_output=True, text=True, check=False, **kwargs
    )


def _new(*args: str, cwd: Path) -> tuple[int, str, str]:
    """Run ``pynomaly plugin new ARGS`` in-process in ``cwd``: (exit code, stdout, stderr)."""
    here = Path.cwd()
    os.chdir(cwd)
    try:
        result = CliRunner().invoke(cli, ["plugin", "new", *args])
    finally:
        os.chdir(here)
    return result.exit_code, result.stdout, result.stderr


# --------------------------------------------------------------------------------------------
# The command and the files it writes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("plugin_type", PLUGIN_TYPES)
def test_new_writes_an_installable_package(plugin_type, tmp_path):
    name = NAMES[plugin_type]
    code, out, err = _new(name, "--type", plugin_type, cwd=tmp_path)
    assert (code, err) == (0, "")
    root = tmp_path / f"pynomaly-{name}"
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    expected = [
        "README.md",
        "pyproject.toml",
        f"pynomaly_{name}/__init__.py",
        f"tests/test_{name}.py",
    ]
    if plugin_type == "data_source":  # a sample file, shipped as package data
        expected.append(f"pynomaly_{name}/sample.arff")
    assert files == sorted(expected)
    for relative in files:  # what was written is said, and what to do next
        assert f"pynomaly-{name}/{relative}" in out
    for step in (
        f"pip install -e pynomaly-{name}",
        "pynomaly plugins list",
        f"pytest pynomaly-{name}",
    ):
        assert step in out

    project = (root / "pyproject.toml").read_text()
    assert f'\nname = "pynomaly-{name}"\n' in project
    assert '\ndependencies = ["pynomaly>=1.0"]\n' in project
    entry_point = f'[project.entry-points."pynomaly.plugins"]\n{name} = "pynomaly_{name}"\n'
    assert entry_point in project
    for path in root.rglob("*.py"):
        compile(path.read_text(), str(path), "exec")
    module = (root / f"pynomaly_{name}" / "__init__.py").read_text()
    assert f'name="{name}"' in module and f"PluginType.{plugin_type.upper()}" in module
    tests = (root / "tests" / f"test_{name}.py").read_text()
    assert ").raise_for_failures()" in tests and "pynomaly_pm(" in tests
    readme = (root / "README.md").read_text()
    for topic in ("## Install", "## Test", "## Publish", "unrelated `pynomaly`"):
        assert topic in readme


def test_generated_code_is_ruff_clean(tmp_path):
    ruff = shutil.which("ruff")
    if ruff is None:
        pytest.fail("ruff is not installed: pip install -e '.[test]'")
    for plugin_type, name in NAMES.items():
        create_plugin(name, plugin_type, tmp_path)
        # the longest name allowed must not make lines too long
        create_plugin(plugin_type[0] * 32, plugin_type, tmp_path)
    # ruff reads each package's own [tool.ruff] settings (line length 100, isort, bugbear ...)
    proc = _run([ruff, "check", "--no-cache", tmp_path])
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("MyPlugin", "use lowercase letters"),
        ("2fast", "use lowercase letters"),
        ("my-plugin", "use lowercase letters"),
        ("_private", "use lowercase letters"),
        ("x" * 33, "at most 32 characters"),
        ("files", "taken by a plugin that ships with pynomaly"),
        ("sklearn_adapter", "taken by a plugin that ships with pynomaly"),
    ],
)
def test_bad_name_is_a_one_line_error_with_exit_2(name, problem, tmp_path):
    code, _, err = _new(name, cwd=tmp_path)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("Error: ") and problem in err, err
    assert list(tmp_path.iterdir()) == []


def test_existing_package_is_kept_unless_forced(tmp_path):
    assert _new("mine", cwd=tmp_path)[0] == 0
    module = tmp_path / "pynomaly-mine" / "pynomaly_mine" / "__init__.py"
    module.write_text("# my own work\n")
    (tmp_path / "pynomaly-mine" / "NOTES.txt").write_text("keep me\n")

    code, _, err = _new("mine", "--type", "output", cwd=tmp_path)
    assert code == 2
    assert (
        err
        == f"Error: {Path('pynomaly-mine')}: already exists (use --force to overwrite its files)\n"
    )
    assert module.read_text() == "# my own work\n"

    code, _, err = _new("mine", "--type", "output", "--force", cwd=tmp_path)
    assert (code, err) == (0, "")
    assert "PluginType.OUTPUT" in module.read_text()
    assert (tmp_path / "pynomaly-mine" / "NOTES.txt").read_text() == "keep me\n"


def test_directory_option(tmp_path):
    code, out, _ = _new("elsewhere", "--directory", str(tmp_path / "src"), cwd=tmp_path)
    assert code == 2 and list(tmp_path.iterdir()) == []
    (tmp_path / "src").mkdir()
    code, out, _ = _new("elsewhere", "--directory", "src", cwd=tmp_path)
    assert code == 0
    assert (tmp_path / "src" / "pynomaly-elsewhere" / "pyproject.toml").is_file()
    assert "pip install -e src/pynomaly-elsewhere" in out


def test_library_api_checks_like_the_command(tmp_path):
    files = render("robust", "processing")
    assert set(files) == {
        "pyproject.toml",
        "README.md",
        "pynomaly_robust/__init__.py",
        "tests/test_robust.py",
    }
    text = "".join(files.values())
    assert "{{" not in text and "{%" not in text  # every placeholder and tag was rendered
    with pytest.raises(InputError, match="plugin type 'detector'"):
        render("robust", "detector")
    assert {"files", "samples", "validation", "outputs"} <= reserved_names()
    done = create_plugin("robust", "output", tmp_path)
    assert done.root == tmp_path / "pynomaly-robust" and len(done.files) == 4


def test_templates_are_package_data():
    """setup.cfg ships every file of the template tree: a non-editable install has them."""
    import configparser
    import glob

    from pynomaly.scaffold import TEMPLATES

    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    patterns = config["options.package_data"]["pynomaly.scaffold"].split()
    shipped = {
        Path(path)
        for pattern in patterns
        for path in glob.glob(str(TEMPLATES.parent / pattern), recursive=True)
    }
    files = {p for p in TEMPLATES.rglob("*") if p.is_file()}
    assert files and files <= shipped, sorted(files - shipped)


def test_the_guide_walks_through_the_processing_scaffold():
    """docs/writing-plugins.md shows the code `pynomaly plugin new glitch --type processing`
    writes: each block headed `# pynomaly-glitch/PATH` is a verbatim piece of that file, and
    the module's pieces, in order, are the whole module."""
    guide = (ROOT / "docs" / "writing-plugins.md").read_text(encoding="utf-8")
    files = render("glitch", "processing")
    pieces: dict[str, list[str]] = {}
    for block in re.findall(r"^```python\n# pynomaly-glitch/(\S+)\n(.*?)^```$", guide, re.M | re.S):
        path, code = block
        assert code in files[path], f"the guide's piece of {path} is not the scaffold's:\n{code}"
        pieces.setdefault(path, []).append(code)
    module = "pynomaly_glitch/__init__.py"
    assert set(pieces) == {module, "tests/test_glitch.py"}
    assert "".join(pieces[module]).split() == files[module].split(), "not the whole module"


def test_the_command_imports_nothing_heavy(tmp_path):
    code = (
        "import sys\n"
        "from pynomaly.cli.main import main\n"
        "try:\n"
        "    main(['plugin', 'new', 'light', '--directory', sys.argv[1]])\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))\n"
    )
    proc = _run([sys.executable, "-c", code, tmp_path])
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "[]"


# --------------------------------------------------------------------------------------------
# Installed in a virtual environment: loaded, used, and its own tests pass
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A venv seeing this checkout's pynomaly, with one generated package of each type
    pip-installed; returns (its python, the directory of the packages)."""
    where = tmp_path_factory.mktemp("scaffold")
    for plugin_type, name in NAMES.items():
        create_plugin(name, plugin_type, where)
    python = child_venv(where / "venv")
    pip_install(python, *(where / f"pynomaly-{name}" for name in NAMES.values()))
    return python, where


def _cli(installed: tuple[Path, Path], *args: str | Path) -> subprocess.CompletedProcess[str]:
    python, where = installed
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYNOMALY_")}
    return _run([python, "-m", "pynomaly", *args], cwd=where, env=env)


def test_installed_packages_are_loaded_plugins(installed):
    proc = _cli(installed, "plugins", "list", "--json")
    assert proc.returncode == 0, proc.stderr
    rows = {row["name"]: row for row in json.loads(proc.stdout)}
    for plugin_type, name in NAMES.items():
        row = rows[name]
        assert (row["status"], row["version"], row["types"]) == ("loaded", "0.1.0", [plugin_type])
        # the distribution's name as its build tools wrote it (newer ones normalize '_' to '-')
        dist, version = row["origin"].split()
        assert (canonicalize_name(dist), version) == (f"pynomaly-{name.replace('_', '-')}", "0.1.0")
    health = json.loads(_cli(installed, "plugins", "check", "--json").stdout)
    assert all(health[name]["status"] == "healthy" for name in NAMES.values())


def test_algorithm_plugin_detects(installed):
    detector = f"{NAMES['algorithm']}:mad"
    proc = _cli(installed, "detect", "sample:wbc", "-d", detector, "-P", "aggregate=mean", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)["summary"]
    assert (summary["detector"], summary["rows"]) == (detector, 378)
    listed = json.loads(_cli(installed, "detectors", "--json").stdout)
    space = next(d["hyperparameters"] for d in listed if d["id"] == detector)
    assert space["aggregate"]["values"] == ["max", "mean"]
    bad = _cli(installed, "detect", "sample:wbc", "-d", detector, "-P", "aggregate=median")
    assert bad.returncode == 2 and "parameter 'aggregate'" in bad.stderr


def test_data_source_plugin_reads_arff(installed):
    _, where = installed
    path = where / "wbc.arff"
    frame = pynomaly.load_data(
        "sample:wbc", manager=pynomaly.PluginManager(autoload=False, plugins_dir="")
    )
    header = [f"@attribute '{c}' numeric" for c in frame.columns]
    rows = [",".join(repr(float(v)) for v in row) for row in frame.itertuples(index=False)]
    path.write_text("\n".join(["@relation wbc", *header, "@data", *rows]) + "\n")
    proc = _cli(installed, "detect", path, "-d", f"{NAMES['algorithm']}:mad", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["summary"]["rows"] == len(frame)
    schema = _cli(installed, "schema", f"arff:{path}")
    assert schema.returncode == 0 and "mean_radius" in schema.stdout, schema.stderr
    python, _ = installed
    shipped = f"import pynomaly_{NAMES['data_source']} as p; print(p.SAMPLE.is_file())"
    assert _run([python, "-c", shipped]).stdout.strip() == "True"  # package data installed


def test_output_plugin_writes_markdown(installed):
    _, where = installed
    out = where / "scores.md"
    proc = _cli(
        installed,
        "detect",
        "sample:wbc",
        "-d",
        f"{NAMES['algorithm']}:mad",
        "-o",
        out,
        "--format",
        "markdown",
    )
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert lines[:2] == ["| row | anomaly_score | is_anomaly |", "| ---: | ---: | :---: |"]
    assert len(lines) == 2 + 378


def _scores_csv(path: Path) -> list[float]:
    lines = path.read_text().splitlines()
    assert lines[0].endswith(",anomaly_score,is_anomaly"), lines[0]
    return [float(line.split(",")[1]) for line in lines[1:]]


def test_processing_step_is_opt_in_and_fitted_on_training_data(installed):
    _, where = installed
    step, detector = f"{NAMES['processing']}_clip", f"{NAMES['algorithm']}:mad"
    listed = _cli(installed, "steps")
    assert listed.returncode == 0 and step in listed.stdout, listed.stderr
    # training data, and a batch to score later with a glitch from a faulty sensor in it
    train = np.array([[i % 10, (i * 7) % 13] for i in range(100)], dtype=float)
    batch = np.array([[3, 4], [1e30, 5], [11, -2], [9, 6]], dtype=float)
    low, high = np.quantile(train, [0.1, 0.9], axis=0)  # the step's bounds, computed here
    clipped = np.clip(batch, low - 0.5 * (high - low), high + 0.5 * (high - low))
    assert (clipped != batch).sum() == 1  # only the glitch is clipped
    paths = {}
    for label, values in (("train", train), ("batch", batch), ("clipped", clipped)):
        paths[label] = where / f"{label}.csv"
        paths[label].write_text("a,b\n" + "".join(f"{a!r},{b!r}\n" for a, b in values.tolist()))

    model = where / "model.pkl"
    options = f"{step}:q=0.1;margin=0.5"
    fit = _cli(installed, "fit", paths["train"], "-d", detector, "--step", options, "--save", model)
    assert fit.returncode == 0, fit.stderr
    scores = {}
    for label, size in (("batch", 1), ("batch", 4), ("clipped", 4)):
        out = where / f"scores-{label}-{size}.csv"
        proc = _cli(installed, "score", model, paths[label], "--batch-size", str(size), "-o", out)
        assert proc.returncode == 0, proc.stderr
        scores[label, size] = _scores_csv(out)
    # the bounds come from the training data: rows scored one by one or together are clipped
    # alike, as clipped here; the glitch no longer dominates its row's score
    assert scores["batch", 1] == scores["batch", 4] == scores["clipped", 4]
    assert max(scores["batch", 4]) < 100

    # installed but not asked for, the step changes nothing
    plain = [
        _cli(installed, *flags, "detect", paths["train"], "-d", detector, "--json")
        for flags in ((), ("-p", f"no:{NAMES['processing']}"))
    ]
    assert all(p.returncode == 0 for p in plain), [p.stderr for p in plain]
    assert json.loads(plain[0].stdout)["top"] == json.loads(plain[1].stdout)["top"]


@pytest.mark.parametrize("plugin_type", PLUGIN_TYPES)
def test_generated_tests_pass_with_the_test_kit(installed, plugin_type):
    python, where = installed
    package = where / f"pynomaly-{NAMES[plugin_type]}"
    proc = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", package], cwd=where)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]


def test_generated_plugins_pass_pynomaly_check(installed, tmp_path):
    python, _ = installed
    checks = [f"--pynomaly-check={name}" for name in NAMES.values()]
    proc = _run([python, "-m", "pytest", "-q", "-p", "no:cacheprovider", *checks], cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
