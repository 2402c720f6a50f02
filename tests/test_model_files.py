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
    assert meta["payload"]["format"] == "skops"  # PyOD's ECOD: a format that runs no code


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
