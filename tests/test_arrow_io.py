"""Arrow I/O: the ``files`` plugin's pyarrow CSV reader (``engine=pyarrow``) and Parquet reader
give exactly what pandas gives, and the ``outputs`` plugin's pyarrow writers write what pandas
wrote (read back equal)."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

import pynomaly
from pynomaly.builtin import files, outputs
from pynomaly.services import outputs as output_service

# --------------------------------------------------------------------------------------------
# Reading CSV with engine=pyarrow: pyarrow where it is exact, pandas otherwise, the same frame
# --------------------------------------------------------------------------------------------

NA_SPELLINGS = list(files.PANDAS_NA)

TRICKY = {
    # name: (file content, reader options, whether pyarrow reads it)
    "quotes": (
        'a,b,label\n1.5,2,"x, y"\n2.5,3,"say ""hi"""\n3.5,4,"two\nlines"\n4.5,5,plain\n',
        {},
        True,
    ),
    "na-spellings": (
        "a,b,label\n"
        + "".join(f"{i}.5,{na},{na}\n" for i, na in enumerate(NA_SPELLINGS))
        + "99.5,1,x\n",
        {},
        True,
    ),
    "codes-as-numbers": ("code,a\n01,1.5\n02,2.5\n10,3.5\n", {}, True),
    "codes-as-text": ("code,a\n01,1.5\n02,2.5\nX,3.5\n", {"text_columns": ["code"]}, True),
    "tsv": ("a\tb\n1.5\t2\n2.5\t3\n", {}, True),
    "semicolon": ("a;b\n1,5;2\n2,5;3\n", {"delimiter": ";"}, True),
    "index-col": ("row,a,b\nr1,1.5,2\nr2,2.5,3\n", {"index_col": "row"}, True),
    "unnamed-index": (",a,b\n0,1.5,2\n1,2.5,3\n", {}, True),
    "booleans": ("a,flag\n1.5,True\n2.5,false\n", {}, True),
    "dates-stay-text": ("a,day,at\n1.5,2024-01-01,12:30:00\n2.5,2024-01-02,13:00:00\n", {}, True),
    "empty-column": ("a,b,c\n1.5,,x\n2.5,,y\n", {}, True),
    "spaces-around-numbers": ("a,b\n 1.5 ,x\n2.5,y\n", {}, True),
    "inf-spellings": ("a,b\ninf,1\n-Infinity,2\n1e500,3\n", {}, True),
    # what pyarrow types otherwise than pandas: read by pandas
    "hex": ("a,b\n0x10,1.5\n0x20,2.5\n", {}, False),
    "plus-signed-ints": ("a,b\n+5,1.5\n7,2.5\n", {}, False),
    "whole-floats": ("a,b\n5.0,1.5\n7.0,2.5\n", {}, False),
    "numbers-quoted-with-spaces": ('a,b\n" 1.5",x\n2,y\n', {}, True),
    "boolean-with-gap": ("a,flag\n1.5,True\n2.5,\n", {}, False),
    "duplicate-names": ("a,a,b\n1,2,3\n4,5,6\n", {}, False),
    "uint64": ("a,b\n18446744073709551615,1.5\n1,2.5\n", {}, False),
    "pipe": ("a|b\n1.5|2\n", {"delimiter": "|"}, True),
    "short-row": ("a,b\n1.5,2\n3.5\n", {}, False),
}


def _pandas(path, options):
    """What pandas' own reader (the plugin's reader before pyarrow) gives."""
    return files._read_csv(path, options)


@pytest.mark.parametrize("name", list(TRICKY))
def test_arrow_csv_reader_equals_the_pandas_reader(tmp_path, isolated_pm, name):
    text, options, by_arrow = TRICKY[name]
    path = tmp_path / (f"{name}.tsv" if name == "tsv" else f"{name}.csv")
    path.write_text(text, encoding="utf-8")
    arrow = files._arrow_csv(path, options)
    assert (arrow is not None) is by_arrow, "read by pyarrow" if arrow is not None else "by pandas"
    got = pynomaly.load_data(path, options={**options, "engine": "pyarrow"}, manager=isolated_pm)
    pd.testing.assert_frame_equal(got, _pandas(path, options), check_exact=True)


def test_arrow_csv_reader_on_gzip_bom_and_latin1(tmp_path, isolated_pm):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.standard_normal((300, 4)), columns=["a", "b", "c", "é"])
    frame["n"] = rng.integers(0, 9, 300)
    frame["s"] = rng.choice(["north", "south", "Ñ"], 300)
    text = frame.to_csv(index=False)
    floats = frame[["a", "b"]].to_csv(index=False)
    cases = {
        "plain.csv": (text.encode(), {}),
        "floats.csv.gz": (gzip.compress(floats.encode()), {}),
        # integers in a compressed file: pandas reads it (see _has_hex)
        "zipped.csv.gz": (gzip.compress(text.encode()), {}),
        "bom.csv": (b"\xef\xbb\xbf" + text.encode(), {}),
        "latin.csv": (text.encode("latin-1"), {"encoding": "latin-1"}),
        "sig.csv": (b"\xef\xbb\xbf" + text.encode(), {"encoding": "utf-8-sig"}),
    }
    for name, (data, options) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        assert (files._arrow_csv(path, options) is None) is (name == "zipped.csv.gz"), name
        arrow = {**options, "engine": "pyarrow"}
        got = pynomaly.load_data(path, options=arrow, manager=isolated_pm)
        pd.testing.assert_frame_equal(got, _pandas(path, options), check_exact=True, obj=name)
        assert list(got.columns) == list(frame.columns[: got.shape[1]]), name


def test_engine_option_picks_the_reader(tmp_path, isolated_pm, monkeypatch):
    path = tmp_path / "f.csv"
    path.write_text("a,b\n1.5,x\n2.5,y\n")
    used = []
    arrow_csv = files._arrow_csv
    monkeypatch.setattr(files, "_arrow_csv", lambda *a: used.append("pyarrow") or arrow_csv(*a))
    default = pynomaly.load_data(path, manager=isolated_pm)
    assert used == []  # pandas by default: less CPU on numeric files
    by_arrow = pynomaly.load_data(path, options={"engine": "pyarrow"}, manager=isolated_pm)
    assert used == ["pyarrow"]
    pd.testing.assert_frame_equal(by_arrow, default)
    with pytest.raises(pynomaly.errors.DataError, match="engine 'fast' is not pyarrow or pandas"):
        pynomaly.load_data(path, options={"engine": "fast"}, manager=isolated_pm)


def test_arrow_csv_reader_keeps_full_float_precision(tmp_path, isolated_pm):
    rng = np.random.default_rng(3)
    values = rng.standard_normal((2000, 3)) * 10.0 ** rng.integers(-12, 12, (2000, 3))
    values[0] = [5e-324, 1.7976931348623157e308, 2.2250738585072014e-308]
    frame = pd.DataFrame(values, columns=["a", "b", "c"])
    path = tmp_path / "f.csv"
    frame.to_csv(path, index=False)
    for engine in ("pandas", "pyarrow"):
        got = pynomaly.load_data(path, options={"engine": engine}, manager=isolated_pm)
        pd.testing.assert_frame_equal(got, frame, check_exact=True, obj=engine)


def test_unreadable_csv_gives_the_pandas_error(tmp_path, isolated_pm):
    path = tmp_path / "bad.csv"
    path.write_bytes("a,b\n\u00e9,1\n".encode("latin-1"))
    with pytest.raises(pynomaly.errors.DataError, match="not utf-8 text"):
        pynomaly.load_data(path, manager=isolated_pm)


def test_parquet_reader_equals_pandas(tmp_path, isolated_pm):
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.standard_normal((50, 2)), columns=["a", "b"])
    frame["s"] = rng.choice(["x", "y", None], 50)
    frame["k"] = pd.Categorical(rng.choice(["p", "q"], 50))
    frame.index = pd.date_range("2024-01-01", periods=50, freq="h", name="at")
    path = tmp_path / "f.parquet"
    frame.to_parquet(path)
    pd.testing.assert_frame_equal(
        pynomaly.load_data(path, manager=isolated_pm), pd.read_parquet(path), check_exact=True
    )


# --------------------------------------------------------------------------------------------
# Writing: pyarrow's output reads back as pandas' did
# --------------------------------------------------------------------------------------------


def _result(index, scores):
    """A result with the given index and scores, scored by a real model."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.standard_normal((len(scores), 2)), columns=["a", "b"], index=index)
    result = pynomaly.detect(frame, "sklearn:iforest", random_state=0)
    scores = np.asarray(scores, dtype=np.float64)
    return result.__class__(
        scores=scores,
        labels=(scores > np.median(scores)).astype(np.int8),
        threshold=float(np.median(scores)),
        index=result.index,
        detector=result.detector,
        model=result.model,
        data=result.data,
    )


ODD_SCORES = [0.1, 1e-5, 1e17, 123456789012.0, 3.0, -0.0, 1e16, 5e-324, 2.0**60, 1 / 3, 7.25, 2.0]
INDEXES = {
    "range": pd.RangeIndex(len(ODD_SCORES)),
    "named-ints": pd.Index(np.arange(100, 100 + len(ODD_SCORES)), name="id"),
    "strings": pd.Index(
        ["a", "b,c", 'q"x', "d\ne", "r\rr", " sp", "", None, "é", "t\tt", "x'y", "z"], name='k"ey'
    ),
    "dates": pd.date_range("2024-01-01", periods=len(ODD_SCORES), freq="D", name="day"),
    "floats": pd.Index(np.linspace(0, 1, len(ODD_SCORES))),
}


@pytest.mark.parametrize("kind", list(INDEXES))
def test_csv_output_reads_back_as_pandas_wrote_it(manager, tmp_path, kind):
    result = _result(INDEXES[kind], ODD_SCORES)
    ours = tmp_path / "ours.csv"
    output_service.export_data(manager, result, str(ours), "csv")
    theirs = tmp_path / "pandas.csv"
    result.to_frame().to_csv(theirs)
    read = {"index_col": 0, "keep_default_na": False, "na_values": [""]}
    pd.testing.assert_frame_equal(
        pd.read_csv(ours, **read), pd.read_csv(theirs, **read), check_exact=True
    )
    # same header, same quoting of index values
    assert ours.read_text().splitlines()[0] == theirs.read_text().splitlines()[0]
    pyarrow_formats = kind in ("range", "named-ints", "strings")
    assert (outputs._csv_bytes(result.index, result.scores, result.labels, header=True) is not None
            ) is pyarrow_formats


def test_csv_output_of_whole_scores_stays_float(manager, tmp_path):
    result = _result(pd.RangeIndex(4), [1.0, 2.0, 3.0, 4.0])
    out = tmp_path / "s.csv"
    output_service.export_data(manager, result, str(out), "csv")
    assert pd.read_csv(out, index_col=0)["anomaly_score"].dtype == np.float64
    assert out.read_text().splitlines()[1] == "0,1.0,0"


@pytest.mark.parametrize("kind", ["range", "named-ints", "strings", "dates"])
def test_parquet_output_reads_back_as_pandas_wrote_it(manager, tmp_path, kind):
    result = _result(INDEXES[kind], ODD_SCORES)
    ours = tmp_path / "s.parquet"
    output_service.export_data(manager, result, str(ours), "parquet")
    theirs = tmp_path / "pandas.parquet"
    result.to_frame().to_parquet(theirs)
    pd.testing.assert_frame_equal(pd.read_parquet(ours), pd.read_parquet(theirs), check_exact=True)
