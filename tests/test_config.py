"""The configuration manager: files, environment and command line in their documented order,
``config show`` with each value's origin, plugin tables checked against their JSON Schema, and
the library and the command line giving the same answers by default."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import pynomaly
from pynomaly import configuration
from pynomaly.cli.main import cli
from pynomaly.errors import ConfigurationError

# a local plugin whose settings have a schema; its detector reports the level it was given
TUNED = '''
from pynomaly import hookimpl
from pynomaly.types import PluginMetadata, PluginType, DetectorInfo

LEVEL = [None]

@hookimpl
def pynomaly_plugin_metadata():
    return PluginMetadata(
        name="tuned", version="1", plugin_types=[PluginType.ALGORITHM],
        config_schema={
            "type": "object",
            "properties": {"level": {"type": "integer", "minimum": 1},
                           "password": {"type": "string"}, "url": {"type": "string"}},
            "additionalProperties": False,
        },
    )

@hookimpl
def pynomaly_initialize(config):
    LEVEL[0] = config.get("level")

@hookimpl
def pynomaly_detectors():
    return [DetectorInfo("tuned:level", f"level {LEVEL[0]}")]
'''


@pytest.fixture
def invoke():
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return run


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """An empty working directory with a user file named by PYNOMALY_USER_CONFIG."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYNOMALY_USER_CONFIG", str(tmp_path / "user" / "config.toml"))
    (tmp_path / "user").mkdir()
    return tmp_path


def _summary(result) -> dict:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["summary"]


def test_precedence_user_project_environment_command_line(invoke, project, monkeypatch):
    (project / "user" / "config.toml").write_text(
        '[detect]\ndetector = "pyod:ecod"\ncontamination = 0.2\nbatch_size = 7\n'
    )
    assert _summary(invoke("detect", "sample:wbc", "--json"))["contamination"] == 0.2
    (project / "pynomaly.toml").write_text("[detect]\ncontamination = 0.15\n")
    summary = _summary(invoke("detect", "sample:wbc", "--json"))
    assert (summary["detector"], summary["contamination"]) == ("pyod:ecod", 0.15)
    monkeypatch.setenv("PYNOMALY_CONTAMINATION", "0.05")
    assert _summary(invoke("detect", "sample:wbc", "--json"))["contamination"] == 0.05
    args = ("-c", "0.02", "-d", "sklearn:iforest")
    summary = _summary(invoke("detect", "sample:wbc", "--json", *args))
    assert (summary["detector"], summary["contamination"]) == ("sklearn:iforest", 0.02)

    shown = invoke("config", "show", "--json")
    assert shown.exit_code == 0, shown.output
    values = json.loads(shown.output)["values"]
    assert values["detect.detector"] == {
        "value": "pyod:ecod",
        "origin": str(project / "user" / "config.toml"),
    }
    assert values["detect.contamination"] == {
        "value": 0.05,
        "origin": "environment PYNOMALY_CONTAMINATION",
    }
    assert values["detect.batch_size"]["value"] == 7
    assert values["detect.random_state"] == {"value": 0, "origin": "default"}
    lines = invoke("config", "show").output.splitlines()
    assert lines[0] == "[detect]"
    detector = next(line for line in lines if line.startswith("detector = "))
    user = str(project / "user" / "config.toml")
    assert detector.split() == ["detector", "=", '"pyod:ecod"', "#", user]


def test_pyproject_table_unless_pynomaly_toml(invoke, project):
    (project / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.pynomaly.detect]\ncontamination = 0.3\n'
    )
    assert _summary(invoke("detect", "sample:wbc", "--json"))["contamination"] == 0.3
    values = json.loads(invoke("config", "show", "--json").output)["values"]
    assert values["detect.contamination"]["origin"] == (
        f"{project / 'pyproject.toml'} [tool.pynomaly]"
    )
    (project / "pynomaly.toml").write_text("[detect]\ndetector = 'pyod:ecod'\n")
    summary = _summary(invoke("detect", "sample:wbc", "--json"))  # pyproject is not read
    assert (summary["detector"], summary["contamination"]) == ("pyod:ecod", 0.1)
    paths = invoke("config", "path").output.splitlines()
    assert paths == [
        f"user:      {project / 'user' / 'config.toml'}  (not found)",
        f"project:   {project / 'pynomaly.toml'}",
    ]


def test_threshold_steps_and_seed_from_the_file(invoke, project):
    data = pd.DataFrame(np.random.default_rng(0).standard_normal((300, 3)), columns=list("abc"))
    data.iloc[::7, 0] = np.nan
    data.to_csv(project / "gappy.csv", index=False)
    no_steps = invoke("detect", "gappy.csv", "--json")
    assert no_steps.exit_code == 2 and "missing values" in no_steps.output
    (project / "pynomaly.toml").write_text(
        "[detect]\nthreshold_percentile = 99.0\n"
        'steps = ["impute:strategy=median", {name = "scale", method = "robust"}]\n'
    )
    assert _summary(invoke("detect", "gappy.csv", "--json"))["anomalies"] == 3  # 1% of 300
    # a threshold flag replaces the file's rule; a step flag replaces the file's steps
    assert _summary(invoke("detect", "gappy.csv", "--json", "-c", "0.1"))["anomalies"] == 30
    flagged = invoke("detect", "gappy.csv", "--json", "--scale", "robust")
    assert flagged.exit_code == 2 and "missing values" in flagged.output

    first = invoke("detect", "gappy.csv", "-o", "a.csv")
    assert first.exit_code == 0, first.output
    with (project / "pynomaly.toml").open("a") as fh:
        fh.write('random_state = "random"\n')
    assert invoke("detect", "gappy.csv", "-o", "b.csv").exit_code == 0
    assert invoke("detect", "gappy.csv", "-o", "c.csv", "--seed", "0").exit_code == 0
    a, b, c = (pd.read_csv(project / f"{n}.csv") for n in "abc")
    assert not np.allclose(a["anomaly_score"], b["anomaly_score"])  # a fresh seed
    assert a["anomaly_score"].tolist() == c["anomaly_score"].tolist()  # --seed wins


def test_library_and_command_line_agree_by_default(invoke, project):
    assert invoke("detect", "sample:wbc", "-o", "cli.csv").exit_code == 0
    cli_scores = pd.read_csv(project / "cli.csv")["anomaly_score"].to_numpy()
    library = pynomaly.detect("sample:wbc")  # no random_state: seed 0, as the CLI's
    np.testing.assert_array_equal(library.scores, cli_scores)
    np.testing.assert_array_equal(pynomaly.detect("sample:wbc").scores, library.scores)
    fresh = pynomaly.detect("sample:wbc", random_state=None)
    assert not np.array_equal(fresh.scores, library.scores)
    config = configuration.load()
    assert config.detect_arguments() == {
        "detector": "sklearn:iforest",
        "contamination": 0.1,
        "random_state": 0,
        "steps": [],
    }


def test_plugin_table_is_checked_against_its_schema(invoke, project, monkeypatch):
    (project / "plugins").mkdir()
    (project / "plugins" / "tuned.py").write_text(TUNED)
    monkeypatch.setenv("PYNOMALY_PLUGINS_DIR", "plugins")  # a plugins directory is opt-in
    toml = project / "pynomaly.toml"
    toml.write_text(
        '[plugins.tuned]\nlevel = 3\npassword = "s3cret"\n'
        'url = "postgresql://ann:hunter2@db/sales"\n'
    )
    listed = invoke("detectors", "--json")
    assert {"id": "tuned:level", "description": "level 3"}.items() <= {
        **next(d for d in json.loads(listed.output) if d["id"] == "tuned:level")
    }.items()
    shown = invoke("config", "show")
    assert "s3cret" not in shown.output and "hunter2" not in shown.output
    assert 'password = "***"' in shown.output
    assert "postgresql://ann:***@db/sales" in shown.output

    toml.write_text("[plugins.tuned]\nlevel = 0\n")
    expected = (
        f"{toml}: [plugins.tuned] level: 0 is less than the minimum of 1 "
        "(schema rule minimum: 1)"
    )
    doc = json.loads(invoke("config", "show", "--json").output)
    assert doc["problems"] == [expected]
    rows = {r["name"]: r for r in json.loads(invoke("plugins", "list", "--json").output)}
    assert (rows["tuned"]["status"], rows["tuned"]["reason"]) == ("failed", expected)
    strict = invoke("--strict", "plugins", "list")
    assert strict.exit_code == 1 and expected in strict.output

    toml.write_text("[plugins.tunde]\nlevel = 2\n")
    doc = json.loads(invoke("config", "show", "--json").output)
    assert doc["problems"] == [
        f"{toml}: [plugins.tunde]: no plugin named 'tunde' (did you mean 'tuned'?); "
        "its settings are not used"
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[detect]\ncontamination = 0.7\n", "[detect] contamination: must be a number in (0, 0.5]"),
        ("[detect]\ncontamnation = 0.1\n", "unknown key 'contamnation' (did you mean"),
        ("[detec]\n", "unknown table [detec] (did you mean 'detect'?)"),
        ("[detect]\nrandom_state = -1\n", 'random_state: must be an int in [0, 2**32) or "random"'),
        ("[plugins]\ndisable = 'sql'\n", "[plugins] disable: must be a list of plugin names"),
        ("[detect\n", "not valid TOML"),
    ],
)
def test_bad_file_is_a_one_line_error_naming_file_key_and_rule(invoke, project, text, message):
    (project / "pynomaly.toml").write_text(text)
    result = invoke("detect", "sample:wbc")
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {project / 'pynomaly.toml'}: ")
    assert message in result.output and len(result.output.splitlines()) == 1
    assert invoke("detect", "--help").exit_code == 0  # help still works


def test_environment_variables_are_checked_too(invoke, project, monkeypatch):
    monkeypatch.setenv("PYNOMALY_BATCH_SIZE", "zero")
    result = invoke("detect", "sample:wbc")
    assert result.exit_code == 2
    assert "PYNOMALY_BATCH_SIZE='zero': must be an integer >= 1" in result.output


def test_config_option_reads_toml_and_the_1_0_json(invoke, project, monkeypatch):
    (project / "plugins").mkdir()
    (project / "plugins" / "tuned.py").write_text(TUNED)
    monkeypatch.setenv("PYNOMALY_PLUGINS_DIR", "plugins")  # a plugins directory is opt-in
    (project / "old.json").write_text(json.dumps({"plugins": {"tuned": {"level": 5}}}))
    (project / "new.toml").write_text(
        "[detect]\ncontamination = 0.25\n[plugins.tuned]\nlevel = 6\n"
    )
    (project / "pynomaly.toml").write_text("[plugins.tuned]\nlevel = 2\n")

    def level(*args: str) -> str:
        out = json.loads(invoke(*args, "detectors", "--json").output)
        return next(d["description"] for d in out if d["id"] == "tuned:level")

    assert level() == "level 2"
    assert level("--config", "old.json") == "level 5"  # read after ./pynomaly.toml
    assert level("--config", "new.toml") == "level 6"
    summary = _summary(invoke("--config", "new.toml", "detect", "sample:wbc", "--json"))
    assert summary["contamination"] == 0.25
    missing = invoke("--config", "nope.toml", "detect", "sample:wbc")
    assert missing.exit_code == 2 and "--config nope.toml: no such file" in missing.output


def test_disable_lists_add_up_and_plugins_dir_is_relative_to_its_file(project, monkeypatch):
    (project / "user" / "config.toml").write_text(
        '[plugins]\ndisable = ["report"]\nplugins_dir = "mine"\n'
    )
    monkeypatch.setenv("PYNOMALY_DISABLE_PLUGINS", "sql")
    config = configuration.load().with_values({"plugins.disable": ["webhook"]})
    args = config.manager_arguments()
    assert args["disable"] == ["report", "sql", "webhook"]
    assert args["plugins_dir"] == str(project / "user" / "mine")
    assert config.origin("plugins.disable") == (
        f"{project / 'user' / 'config.toml'} + environment PYNOMALY_DISABLE_PLUGINS"
        " + command line"
    )


def test_load_raises_configuration_error(project):
    (project / "pynomaly.toml").write_text("[detect]\njobs = 0\n")
    with pytest.raises(ConfigurationError, match=r"\[detect\] jobs: must be an integer >= 1"):
        configuration.load()


def test_jobs_from_the_configuration_and_the_environment(invoke, project, monkeypatch):
    (project / "pynomaly.toml").write_text("[detect]\njobs = 2\n")
    assert invoke("fit", "sample:wbc", "--save", "a.pkl").exit_code == 0
    assert pynomaly.load(project / "a.pkl").params["n_jobs"] == 2  # IsolationForest's n_jobs
    assert configuration.load().detect_arguments()["jobs"] == 2
    monkeypatch.setenv("PYNOMALY_JOBS", "-1")
    assert invoke("fit", "sample:wbc", "--save", "b.pkl").exit_code == 0
    assert pynomaly.load(project / "b.pkl").params["n_jobs"] == -1
    assert invoke("fit", "sample:wbc", "--save", "c.pkl", "--jobs", "1").exit_code == 0
    assert "n_jobs" not in pynomaly.load(project / "c.pkl").params  # the command line wins
    monkeypatch.setenv("PYNOMALY_JOBS", "0")
    done = invoke("fit", "sample:wbc", "--save", "d.pkl")
    assert done.exit_code == 2 and "PYNOMALY_JOBS" in done.output
