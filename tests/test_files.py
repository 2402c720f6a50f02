"""The built-in ``files`` data source: every file kind, its options, batch reading and every
way a file can be unreadable — each a one-line error naming the file."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

import pynomaly
from pynomaly.errors import DataError, InputError
from pynomaly.services import data as data_service
from pynomaly.services import processing as processing_service


@pytest.fixture
def frame(breast_cancer) -> pd.DataFrame:
    return breast_cancer.iloc[:200, :6].reset_index(drop=True)


def _roundtrip(path, isolated_pm, **options) -> pd.DataFrame:
    return pynomaly.load_data(path, options=options, manager=isolated_pm)


def test_csv_variants(isolated_pm, frame, tmp_path):
    frame.to_csv(tmp_path / "a.csv", index=False)
    frame.to_csv(tmp_path / "a.csv.gz", index=False)
    frame.to_csv(tmp_path / "a.tsv", index=False, sep="\t")
    frame.to_csv(tmp_path / "semi.csv", index=False, sep=";")
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbf" + frame.to_csv(index=False).encode())
    frame.to_csv(tmp_path / "latin.csv", index=False, encoding="latin-1")
    for name, options in [
        ("a.csv", {}),
        ("a.csv.gz", {}),
        ("a.tsv", {}),
        ("semi.csv", {"delimiter": ";"}),
        ("bom.csv", {}),
        ("latin.csv", {"encoding": "latin-1"}),
    ]:
        got = _roundtrip(tmp_path / name, isolated_pm, **options)
        pd.testing.assert_frame_equal(got, frame, check_exact=False, obj=name)


def test_bom_does_not_leak_into_the_first_column_name(isolated_pm, tmp_path):
    (tmp_path / "bom.csv").write_bytes(b"\xef\xbb\xbfa,b\n1,2\n3,4\n")
    assert list(_roundtrip(tmp_path / "bom.csv", isolated_pm).columns) == ["a", "b"]


def test_parquet_file_and_directory(isolated_pm, frame, tmp_path):
    frame.to_parquet(tmp_path / "a.parquet")
    pd.testing.assert_frame_equal(_roundtrip(tmp_path / "a.parquet", isolated_pm), frame)
    parts = tmp_path / "parts"
    parts.mkdir()
    frame.iloc[:120].to_parquet(parts / "part-0.parquet")
    frame.iloc[120:].to_parquet(parts / "part-1.parquet")
    got = _roundtrip(parts, isolated_pm)
    np.testing.assert_allclose(got.to_numpy(), frame.to_numpy())


def test_json_lines_and_excel(isolated_pm, frame, tmp_path):
    frame.to_json(tmp_path / "a.jsonl", orient="records", lines=True)
    pd.testing.assert_frame_equal(_roundtrip(tmp_path / "a.jsonl", isolated_pm), frame)
    frame.to_excel(tmp_path / "a.xlsx", index=False)
    pd.testing.assert_frame_equal(_roundtrip(tmp_path / "a.xlsx", isolated_pm), frame)


@pytest.mark.parametrize("name", ["a.csv", "a.csv.gz", "a.parquet", "a.jsonl"])
def test_batches_equal_one_read(isolated_pm, frame, tmp_path, name):
    path = tmp_path / name
    if "parquet" in name:
        frame.to_parquet(path)
    elif "jsonl" in name:
        frame.to_json(path, orient="records", lines=True)
    else:
        frame.to_csv(path, index=False)
    conn = data_service.connect(isolated_pm, str(path))
    batches = list(data_service.read_batches(isolated_pm, conn, 64))
    assert [len(b) for b in batches] == [64, 64, 64, 8]
    pd.testing.assert_frame_equal(pd.concat(batches), frame, check_exact=False)


def test_batches_of_a_parquet_directory_follow_its_files_and_columns(isolated_pm, frame, tmp_path):
    # file by file (in the dataset's order), each file's columns in the dataset's order, the
    # index numbering every row; batches do not span files
    parts = tmp_path / "parts"
    parts.mkdir()
    frame.iloc[:150].to_parquet(parts / "part-0.parquet", index=False)
    frame.iloc[150:, ::-1].to_parquet(parts / "part-1.parquet", index=False)
    conn = data_service.connect(isolated_pm, str(parts))
    batches = list(data_service.read_batches(isolated_pm, conn, 64))
    assert [len(b) for b in batches] == [64, 64, 22, 50]
    pd.testing.assert_frame_equal(pd.concat(batches), frame, check_exact=True)


def test_get_schema_and_test_connection(isolated_pm, frame, tmp_path):
    frame.to_parquet(tmp_path / "a.parquet")
    conn = data_service.connect(isolated_pm, str(tmp_path / "a.parquet"))
    assert list(data_service.get_schema(isolated_pm, conn)) == list(frame.columns)
    assert data_service.test_connection(isolated_pm, conn) is True


def _corrupt_gzip(path):
    data = gzip.compress(b"a,b\n" + b"1,2\n" * 5000)
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize(
    ("name", "make", "message"),
    [
        ("e.csv", lambda p: p.write_text(""), "file is empty"),
        ("h.csv", lambda p: p.write_text("a,b\n"), "no rows"),
        ("r.csv", lambda p: p.write_text("a,b\n1,2\n3,4,5\n"), "Expected 2 fields in line 3"),
        (
            "w.csv",
            lambda p: p.write_bytes("a,b\n\u00e9,1\n".encode("latin-1")),
            "not utf-8 text \\(pass --encoding",
        ),
        ("x.parquet", lambda p: p.write_text("a,b\n1,2\n"), "cannot read as parquet"),
        ("z.csv.gz", _corrupt_gzip, "corrupt or truncated compressed data"),
        ("d.jsonl", lambda p: p.write_text('{"a": 1}\n{oops\n'), "cannot read as jsonl"),
        ("empty_dir", lambda p: p.mkdir(), "is a directory without Parquet files"),
        ("missing.parquet", lambda p: None, "no such file or directory"),
    ],
    ids=[
        "empty",
        "header-only",
        "ragged",
        "encoding",
        "not-parquet",
        "corrupt-gzip",
        "bad-jsonl",
        "empty-dir",
        "missing",
    ],
)
def test_unreadable_files(isolated_pm, tmp_path, name, make, message):
    path = tmp_path / name
    make(path)
    with pytest.raises(DataError, match=message) as info:
        # reading, then the validation every detection runs
        processing_service.validate(isolated_pm, _roundtrip(path, isolated_pm), str(path))
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_written_files_are_atomic_and_not_overwritten(isolated_pm, frame, tmp_path):
    source = tmp_path / "in.csv"
    frame.to_csv(source, index=False)
    conn = data_service.connect(isolated_pm, str(source))
    out = tmp_path / "out.jsonl"
    assert data_service.write_data(isolated_pm, conn, frame, str(out))
    pd.testing.assert_frame_equal(pd.read_json(out, lines=True), frame)
    with pytest.raises(InputError, match="already exists"):
        data_service.write_data(isolated_pm, conn, frame, str(out))
    data_service.write_data(isolated_pm, conn, frame.head(3), str(out), {"overwrite": True})
    assert len(pd.read_json(out, lines=True)) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.jsonl"]
