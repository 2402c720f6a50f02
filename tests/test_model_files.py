"""``model.save(path)`` / ``pynomaly.load(path)``: a versioned envelope, checked before any
unpickling, written atomically."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pytest

import pynomaly
from pynomaly.detection import signing
from pynomaly.detection.persistence import MAGIC, VersionMismatchWarning
from pynomaly.errors import InputError


@pytest.fixture(scope="module")
def model(manager, breast_cancer):
    return pynomaly.fit(breast_cancer, "pyod:ecod", manager=manager)


def test_round_trip_scores_the_same(model, manager, breast_cancer, tmp_path):
    path = tmp_path / "m.pkl"
    model.save(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # same versions: no warning
        again = pynomaly.load(path, manager=manager)
    np.testing.assert_array_equal(
        again.score(breast_cancer, manager=manager), model.score(breast_cancer, manager=manager)
    )
    assert [p.name for p in tmp_path.iterdir()] == ["m.pkl"]  # no temporary file left


def test_header_records_versions_and_is_readable_without_unpickling(model, tmp_path):
    path = tmp_path / "m.pkl"
    model.save(path)
    first, header, signature, _ = path.read_bytes().split(b"\n", 3)
    assert first == MAGIC + b" 3"
    assert json.loads(signature)["alg"] == "hmac-sha256"
    meta = json.loads(header)
    assert (meta["pynomaly"], meta["detector"], meta["plugin"]) == (
        pynomaly.__version__,
        "pyod:ecod",
        "pyod_adapter",
    )
    assert {"numpy", "pyod"} <= set(meta["libraries"])
    assert meta["payload"]["format"] == "pickle"  # the default; skops on request


def test_an_existing_file_is_kept_unless_overwrite(model, tmp_path):
    path = tmp_path / "m.pkl"
    path.write_text("mine")
    with pytest.raises(InputError, match="already exists"):
        model.save(path)
    assert path.read_text() == "mine"
    model.save(path, overwrite=True)
    assert path.read_bytes().startswith(MAGIC)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b[:-10], "truncated model file"),
        (lambda b: b[:-1] + bytes([b[-1] ^ 1]), "damaged model file \\(its SHA-256"),
        (lambda b: b.replace(b'"payload"', b'"pay"', 1), "damaged model file \\(unreadable"),
        (lambda b: MAGIC + b" 9\n" + b.split(b"\n", 1)[1], "model file format 9"),
        (lambda b: b.replace(b'"mac": "', b'"mac": "0', 1), "unreadable|altered model file"),
        (lambda b: b"not a model at all", "not a pynomaly model file"),
    ],
    ids=["truncated", "flipped", "header", "future", "signature", "foreign"],
)
def test_damaged_files_are_refused_before_unpickling(model, tmp_path, monkeypatch, damage, message):
    path = tmp_path / "m.pkl"
    model.save(path)
    path.write_bytes(damage(path.read_bytes()))
    unpickled = []
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: unpickled.append(1))
    with pytest.raises(InputError, match=message):
        pynomaly.load(path)
    if message != "not a pynomaly model file":
        assert unpickled == []  # refused from the envelope alone


def test_other_versions_give_a_warning(model, tmp_path):
    path = tmp_path / "m.pkl"
    model.save(path)
    first, header, _, payload = path.read_bytes().split(b"\n", 3)
    meta = json.loads(header)
    meta["pynomaly"], meta["libraries"]["pyod"] = "0.9.0", "1.0.0"
    head = first + b"\n" + json.dumps(meta).encode() + b"\n"
    key = signing.read_key()  # as an older pynomaly of this user's would have signed it
    mac = signing.sign(key, head + payload)
    signature = {"alg": "hmac-sha256", "key": signing.key_id(key), "mac": mac}
    path.write_bytes(head + json.dumps(signature).encode() + b"\n" + payload)
    with pytest.warns(VersionMismatchWarning, match="pynomaly 0.9.0 .now .*pyod 1.0.0 .now "):
        pynomaly.load(path)


# --------------------------------------------------------------------------------------------
# Signatures: only this user's files load unless trusted; nothing of a refused file runs
# --------------------------------------------------------------------------------------------


class _Marker:
    """Unpickling (or constructing) this creates a file: the proof that a model file ran code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.path}",))


def _envelope(payload: bytes, fmt: str, key: bytes | None) -> bytes:
    """A model file as pynomaly writes it, around any payload, signed with ``key``."""
    import hashlib

    header = {
        "pynomaly": pynomaly.__version__,
        "detector": "pyod:ecod",
        "plugin": "pyod_adapter",
        "plugin_version": pynomaly.__version__,
        "libraries": {},
        "payload": {
            "format": fmt,
            "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest(),
        },
    }
    if key is None:  # the 1.1 pre-release envelope: no signature line
        return MAGIC + b" 2\n" + json.dumps(header).encode() + b"\n" + payload
    head = MAGIC + b" 3\n" + json.dumps(header).encode() + b"\n"
    mac = signing.sign(key, head + payload)
    signature = {"alg": "hmac-sha256", "key": signing.key_id(key), "mac": mac}
    return head + json.dumps(signature).encode() + b"\n" + payload


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ("bare", "an unsigned pickle"),
        ("unsigned", "unsigned model file"),
        ("other key", "signed by another user's or machine's key"),
    ],
)
def test_a_crafted_pickle_is_refused_without_running_it(model, tmp_path, invoke_cli, kind, message):
    marker = tmp_path / "marker"
    payload = pickle.dumps(_Marker(str(marker)))
    model.save(tmp_path / "mine.pkl")  # this user has a key
    data = {
        "bare": payload,
        "unsigned": _envelope(payload, "pickle", None),
        "other key": _envelope(payload, "pickle", b"k" * 32),
    }[kind]
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(data)
    result = invoke_cli("score", str(evil), "sample:wbc")
    assert result.exit_code == 2
    assert message in result.output and "--trust" in result.output
    assert len(result.output.strip().splitlines()) == 1
    with pytest.raises(InputError, match=message):
        pynomaly.load(evil)
    assert not marker.exists()


def test_a_file_signed_by_another_key_loads_only_when_trusted(
    model, manager, breast_cancer, tmp_path, monkeypatch
):
    path = tmp_path / "theirs.model"
    monkeypatch.setenv("PYNOMALY_KEY_FILE", str(tmp_path / "their.key"))
    model.save(path)  # another user's key, made on their first save
    monkeypatch.setenv("PYNOMALY_KEY_FILE", str(tmp_path / "my.key"))
    model.save(tmp_path / "mine.model")
    with pytest.raises(InputError, match="signed by another user's or machine's key .*--trust"):
        pynomaly.load(path)
    again = pynomaly.load(path, trusted=True, manager=manager)
    np.testing.assert_array_equal(
        again.score(breast_cancer, manager=manager), model.score(breast_cancer, manager=manager)
    )


def test_a_file_altered_after_signing_is_refused_even_when_trusted(model, tmp_path):
    path = tmp_path / "m.model"
    model.save(path)
    first, header, signature, payload = path.read_bytes().split(b"\n", 3)
    meta = json.loads(header)
    meta["detector"] = "pyod:knn"  # a consistent edit: digest and length still match
    path.write_bytes(b"\n".join([first, json.dumps(meta).encode(), signature, payload]))
    for trusted in (False, True):
        with pytest.raises(InputError, match="altered model file"):
            pynomaly.load(path, trusted=trusted)
    flipped = bytearray(first + b"\n" + header + b"\n" + signature + b"\n" + payload)
    flipped[-100] ^= 0x01  # one byte of the payload
    path.write_bytes(bytes(flipped))
    for trusted in (False, True):
        with pytest.raises(InputError, match="damaged model file"):
            pynomaly.load(path, trusted=trusted)


def test_a_pynomaly_1_0_file_loads_only_when_trusted(model, tmp_path):
    path = tmp_path / "old.pkl"
    path.write_bytes(pickle.dumps({"format": "pynomaly-model", "model": model}))
    with pytest.raises(InputError, match="unsigned pickle"):
        pynomaly.load(path)
    with pytest.warns(VersionMismatchWarning, match="saved by pynomaly 1.0"):
        assert pynomaly.load(path, trusted=True).detector == "pyod:ecod"


def test_skops_payloads_construct_only_known_types_even_when_trusted(model, tmp_path):
    import skops.io as sio

    marker = tmp_path / "marker"
    smuggled = attrs_evolve_state(model, _Marker(str(marker)))
    try:
        payload = sio.dumps(smuggled)
    except Exception:  # skops refuses to take the object apart: nothing to smuggle
        payload = sio.dumps(attrs_evolve_state(model, _Unknown()))
    path = tmp_path / "m.model"
    path.write_bytes(_envelope(payload, "skops", signing.get_or_create_key()))
    with pytest.raises(InputError, match="holds types pynomaly never loads: tests\\."):
        pynomaly.load(path, trusted=True)
    assert not marker.exists()


class _Unknown:
    pass


def attrs_evolve_state(model, state):
    import attrs

    return attrs.evolve(model, state=state)


@pytest.mark.parametrize("detector", ["sklearn:lof", "pyod:ecod"])
def test_built_in_detectors_and_steps_save_as_skops_on_request(
    manager, breast_cancer, tmp_path, monkeypatch, detector
):
    frame = breast_cancer.iloc[:120, :6]
    fitted = pynomaly.fit(
        frame, detector, steps=["impute", ("scale", {"method": "robust"})], manager=manager
    )
    fitted.save(tmp_path / "a.model", format="skops")
    monkeypatch.setenv("PYNOMALY_MODEL_FORMAT", "skops")
    fitted.save(tmp_path / "b.model")
    for name in ("a.model", "b.model"):
        path = tmp_path / name
        assert json.loads(path.read_bytes().split(b"\n", 2)[1])["payload"]["format"] == "skops"
        again = pynomaly.load(path, manager=manager)
        np.testing.assert_array_equal(
            again.score(frame, manager=manager), fitted.score(frame, manager=manager)
        )
    other = attrs_evolve_state(fitted, {"fitted": _Unknown()})  # a third-party plugin's state
    with pytest.raises(InputError, match="holds types a skops model file may not construct"):
        other.save(tmp_path / "c.model")
    monkeypatch.setenv("PYNOMALY_MODEL_FORMAT", "json")
    with pytest.raises(InputError, match="PYNOMALY_MODEL_FORMAT='json': expected one of"):
        fitted.save(tmp_path / "d.model")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.model", "b.model"]


def test_the_key_is_made_private_on_first_save_and_refused_when_not(model, tmp_path, monkeypatch):
    import stat

    monkeypatch.delenv("PYNOMALY_KEY_FILE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert signing.read_key() is None  # loading never makes a key
    model.save(tmp_path / "m.model")
    key = signing.key_path()
    assert key.parent == tmp_path / "data" / "pynomaly"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    assert pynomaly.load(tmp_path / "m.model").detector == "pyod:ecod"
    key.chmod(0o644)
    with pytest.raises(InputError, match="other users can access it .mode 0644.; run: chmod 600"):
        pynomaly.load(tmp_path / "m.model")


@pytest.fixture
def invoke_cli():
    from click.testing import CliRunner

    from pynomaly.cli.main import cli

    runner = CliRunner()
    return lambda *args: runner.invoke(cli, list(args), catch_exceptions=False)


# --------------------------------------------------------------------------------------------
# Properties: whatever the bytes, loading gives a model or a one-line InputError
# --------------------------------------------------------------------------------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_PROPERTY = settings(
    max_examples=150,
    deadline=None,  # no timed assertions; the machine may be busy
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("saved") / "m.model"
    model.save(path)
    return path.read_bytes()


@_PROPERTY
@given(data=st.binary(max_size=2048), prefix=st.sampled_from([b"", MAGIC + b" 3\n", b"\x80\x05"]))
def test_random_bytes_never_give_an_unhandled_error(tmp_path, data, prefix):
    path = tmp_path / "random.model"
    path.write_bytes(prefix + data)
    with pytest.raises(InputError):
        pynomaly.load(path)


@_PROPERTY
@given(
    cut=st.integers(min_value=1),
    flip=st.one_of(st.none(), st.integers(min_value=0)),
    trusted=st.booleans(),
)
def test_truncated_or_flipped_files_are_refused(saved, tmp_path, cut, flip, trusted):
    data = bytearray(saved[: len(saved) - cut % len(saved)] if flip is None else saved)
    if flip is not None:
        position = flip % len(data)
        data[position] ^= 1 << (flip % 8)
    path = tmp_path / "cut.model"
    path.write_bytes(bytes(data))
    try:
        loaded = pynomaly.load(path, trusted=trusted)
    except InputError:
        return
    # a flip in the signature line (its key id, its algorithm's name) makes a file "foreign":
    # trusted, it loads, and its payload (checked by its digest) is the model that was saved
    assert trusted and flip is not None
    assert saved.count(b"\n", 0, position) == 2, "only a signature-line flip may load"
    assert (loaded.detector, loaded.threshold) == ("pyod:ecod", pytest.approx(loaded.threshold))
    assert loaded.feature_names == pickle.loads(pickle.dumps(loaded.feature_names))
