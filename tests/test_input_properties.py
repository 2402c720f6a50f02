"""Property-based tests of what users type and feed: configuration files and variables, CSV
files with reader options, and ``--step`` values. Each is either accepted or refused with a
one-line :class:`~pynomaly.errors.InputError` (exit 2 in the CLI) — never another exception.
(``-P`` values: test_param_properties.py; model files: test_model_files.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pynomaly
from pynomaly import configuration
from pynomaly.cli.detection import _step_spec
from pynomaly.errors import InputError

PROPERTY = settings(
    max_examples=60,
    deadline=None,  # no timed assertions; the machine may be busy
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def one_line(exc: BaseException) -> None:
    """One line — or the documented list of every problem of a data set at once (a line that
    ends with ':' and then one '  - ' line per column)."""
    first, *rest = str(exc).strip().splitlines()
    assert first, repr(exc)
    assert not rest or (first.endswith(":") and all(r.startswith("  - ") for r in rest)), exc


# -- configuration ------------------------------------------------------------------------------

scalars = (
    st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=16)
)
values = scalars | st.lists(scalars, max_size=3)
keys = st.sampled_from(
    [f"detect.{k}" for k in configuration.DETECT_KEYS]
    + [f"plugins.{k}" for k in configuration.PLUGINS_KEYS]
    + ["detect.no_such_key", "plugins.files.delimiter"]
)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, float):
        return repr(value) if value == value and abs(value) != float("inf") else "nan"
    return json.dumps(value)  # JSON strings are TOML basic strings; ints are the same


@PROPERTY
@given(entries=st.dictionaries(keys, values, max_size=4))
def test_any_configuration_file_is_loaded_or_one_line_error(tmp_path_factory, entries):
    tables: dict[str, list[str]] = {}
    for dotted, value in entries.items():
        table, _, key = dotted.rpartition(".")
        tables.setdefault(table, []).append(f"{key} = {toml_value(value)}")
    text = "".join(f"[{t}]\n" + "\n".join(lines) + "\n" for t, lines in tables.items())
    path = tmp_path_factory.mktemp("config") / "pynomaly.toml"
    path.write_text(text)
    try:
        config = configuration.load(path, environ={"PYNOMALY_USER_CONFIG": ""})
    except InputError as exc:
        one_line(exc)
        assert str(path) in str(exc)  # names the file
        return
    for dotted in entries:
        if dotted in configuration.DEFAULTS or "no_such" in dotted or dotted.count(".") > 1:
            continue
        assert config.origin(dotted) == str(path)  # accepted values come from the file


@PROPERTY
@given(text=st.text(max_size=80))
def test_any_text_as_configuration_file_is_loaded_or_one_line_error(tmp_path_factory, text):
    path = tmp_path_factory.mktemp("config") / "pynomaly.toml"
    path.write_text(text, encoding="utf-8")
    try:
        configuration.load(path, environ={"PYNOMALY_USER_CONFIG": ""})
    except InputError as exc:
        one_line(exc)


variables = st.sampled_from(
    [k.env for k in (*configuration.DETECT_KEYS.values(), *configuration.PLUGINS_KEYS.values())
     if k.env]
)


@PROPERTY
@given(env=st.dictionaries(variables, st.text(max_size=12), max_size=3))
def test_any_environment_variable_value_is_loaded_or_one_line_error(env):
    try:
        configuration.load(None, environ={"PYNOMALY_USER_CONFIG": "", **env})
    except InputError as exc:
        one_line(exc)
        assert any(name in str(exc) for name in env)  # names the variable


# -- CSV files and reader options ---------------------------------------------------------------

cells = st.sampled_from(["1", "2.5", "-3e2", "", "nan", "x", '"a,b"', "1,5", "inf", " 7 "])
csv_rows = st.lists(st.lists(cells, min_size=1, max_size=4), min_size=0, max_size=6)
csv_options = st.fixed_dictionaries(
    {},
    optional={
        "delimiter": st.sampled_from([",", ";", "\t", "|", "", "ab"]),
        "encoding": st.sampled_from(["utf-8", "latin-1", "no-such-codec"]),
        "index_col": st.sampled_from(["a", "missing", "0"]),
        "text_columns": st.sampled_from([["a"], ["zz"]]),
    },
)


@PROPERTY
@given(rows=csv_rows, sep=st.sampled_from([",", ";"]), options=csv_options,
       tail=st.binary(max_size=4))
def test_any_csv_with_any_reader_options_is_read_or_one_line_error(
    tmp_path_factory, rows, sep, options, tail
):
    path = tmp_path_factory.mktemp("csv") / "data.csv"
    header = sep.join("abcd"[: max((len(r) for r in rows), default=1)])
    body = "\n".join(sep.join(r) for r in rows)
    path.write_bytes(f"{header}\n{body}\n".encode() + tail)
    before = path.read_bytes()
    try:
        frame = pynomaly.load_data(path, options=options)
    except InputError as exc:
        one_line(exc)
        assert path.name in str(exc) or any(str(v) in str(exc) for v in options.values())
    else:
        assert isinstance(frame, pd.DataFrame)
    assert path.read_bytes() == before  # the input is never modified


# -- --step values ------------------------------------------------------------------------------

step_text = st.one_of(
    st.text(max_size=30),
    st.builds(
        lambda name, opts: name + (":" + ";".join(opts) if opts else ""),
        st.sampled_from(["impute", "scale", "encode", "drop", "datetime", "drop_constant", "nope"]),
        st.lists(
            st.builds(
                "{}={}".format,
                st.sampled_from(["strategy", "method", "columns", "mode", "fill_value", "x"]),
                st.sampled_from(["median", "robust", "onehot", "a", "[\"a\"]", "zz", "1", ""]),
            ),
            max_size=2,
        ),
    ),
)


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.standard_normal((60, 2)), columns=["a", "b"])
    df.loc[3, "a"] = np.nan
    df["c"] = rng.choice(["x", "y"], 60)
    return df


@PROPERTY
@given(texts=st.lists(step_text, min_size=1, max_size=2))
def test_any_step_value_detects_or_is_one_line_error(manager, frame, texts):
    original = frame.copy()
    try:
        steps = [_step_spec(text) for text in texts]
        result = pynomaly.detect(frame, "pyod:hbos", steps=steps, manager=manager)
    except InputError as exc:
        one_line(exc)
    else:
        assert len(result.scores) == len(frame) and np.isfinite(result.scores).all()
    pd.testing.assert_frame_equal(frame, original)  # the caller's data is never changed


def test_the_properties_can_fail(tmp_path):
    """The checks above see real refusals: a bad value is an InputError naming what is wrong."""
    path = Path(tmp_path) / "pynomaly.toml"
    path.write_text("[detect]\ncontamination = 0.9\n")
    with pytest.raises(InputError, match="contamination"):
        configuration.load(path, environ={"PYNOMALY_USER_CONFIG": ""})
    with pytest.raises(InputError, match="--step"):
        _step_spec(":x=1")
