"""Property-based tests of ``-P NAME=VALUE``: any value typed on the command line is either a
parameter the detector accepts or a one-line InputError (exit 2) — never another exception."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pynomaly
from pynomaly.cli.common import parse_param
from pynomaly.errors import InputError

PROPERTY = settings(
    max_examples=100,
    deadline=None,  # no timed assertions; the machine may be busy
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=10,
)
names = st.text(min_size=1, max_size=20).filter(lambda s: "=" not in s and s.strip())


@PROPERTY
@given(name=names, value=json_values)
def test_a_json_value_arrives_as_that_value(name, value):
    assert parse_param(f"{name}={json.dumps(value)}") == (name.strip(), value)


@PROPERTY
@given(item=st.text(max_size=40))
def test_any_text_is_a_parameter_or_a_one_line_input_error(item):
    try:
        name, value = parse_param(item)
    except InputError as exc:
        assert "\n" not in str(exc) and "expected NAME=VALUE" in str(exc)
        return
    assert name and name == item.partition("=")[0].strip()
    raw = item.partition("=")[2]
    if isinstance(value, str) and value == raw:
        return  # not JSON: kept as typed
    assert value == json.loads(raw) or (isinstance(value, float) and math.isnan(value))


# what people type after -P: numbers in every spelling, words, JSON, garbage
typed = st.one_of(
    st.from_regex(r"-?[0-9]{1,4}(\.[0-9]{0,3})?(e-?[0-9])?", fullmatch=True),
    st.sampled_from(
        ["auto", "true", "null", "NaN", "-Infinity", "1e400", "[]", "{}", '"x"', "0.5"]
    ),
    st.text(max_size=12),
    json_values.map(json.dumps),
)


@pytest.mark.parametrize("detector", ["sklearn:iforest", "sklearn:lof", "pyod:knn", "pyod:ecod"])
def test_detector_parameters_from_the_command_line_are_accepted_or_bad_input(manager, detector):
    info = next(d for d in pynomaly.detectors(manager=manager) if d.id == detector)
    params = st.sampled_from([*info.params, "no_such_param", "n_jobs"])

    @PROPERTY
    @given(name=params, raw=typed)
    def check(name, raw):
        _, value = parse_param(f"{name}={raw}")
        try:
            checked = pynomaly.validate_parameters(detector, {name: value}, manager=manager)
        except InputError as exc:
            assert "\n" not in str(exc) and name in str(exc)
            return
        assert set(checked) >= {name} or checked == {}

    check()
