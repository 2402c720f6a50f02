"""The built-in ``outputs`` plugin: file writers (CSV, JSON, JSON Lines, Parquet), their
atomicity, the console table with contributing features, JSON text and log notifications."""

from __future__ import annotations

import errno
import json
import logging
import os
import re
import tempfile
from pathlib import Path

import attrs
import numpy as np
import pandas as pd
import pytest

import pynomaly
from pynomaly.builtin import outputs
from pynomaly.errors import InputError, PluginError, PynomalyError
from pynomaly.services import outputs as output_service

ODD_COLUMNS = ["[red]a", "b[/]", "<c>&$x$"]
FORMATS = ["csv", "json", "jsonl", "parquet"]
SUFFIX = {"csv": ".csv", "json": ".json", "jsonl": ".jsonl", "parquet": ".parquet"}


@pytest.fixture(scope="module")
def result(labelled_wbc):
    return labelled_wbc


@pytest.fixture(scope="module")
def odd_index_result(manager):
    """String index labels (one row an outlier) and column names that look like markup."""
    rng = np.random.default_rng(1)
    frame = pd.DataFrame(rng.standard_normal((60, 3)), columns=ODD_COLUMNS)
    frame.index = [f"id-{i}" for i in range(60)]
    frame.index.name = "key"
    frame.loc["id-7"] = [9.0, -9.0, 9.0]
    return pynomaly.detect(frame, "sklearn:iforest", random_state=0, manager=manager)


def _listing(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------------------------------
# format_for
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("scores.csv", "csv"),
        ("SCORES.CSV", "csv"),
        ("scores.csv.gz", "csv"),
        ("out/scores.json", "json"),
        ("scores.jsonl", "jsonl"),
        ("scores.ndjson", "jsonl"),
        ("scores.parquet", "parquet"),
        ("report.html", "html"),
        ("report.htm", "html"),
        ("scores.txt", None),
        ("scores", None),
        ("scores.json.bak", None),
    ],
)
def test_format_for_uses_the_extension(manager, name, fmt):
    assert output_service.format_for(manager, name) == fmt


def test_every_builtin_extension_is_listed(manager):
    listed = {o.name: o.extensions for o in output_service.outputs(manager)}
    for fmt, suffixes in outputs.EXTENSIONS.items():
        assert fmt in listed, fmt
        assert set(suffixes) == set(listed[fmt])


# --------------------------------------------------------------------------------------------
# Writers: content
# --------------------------------------------------------------------------------------------


def test_csv_holds_index_score_and_label(manager, result, tmp_path):
    out = tmp_path / "scores.csv"
    output_service.export_data(manager, result, str(out), "csv")
    back = pd.read_csv(out, index_col=0)
    assert list(back.columns) == ["anomaly_score", "is_anomaly"]
    assert back.index.tolist() == result.index.tolist()
    np.testing.assert_allclose(back["anomaly_score"], result.scores, rtol=1e-12)
    assert back["is_anomaly"].tolist() == result.labels.tolist()


def test_csv_gz_is_compressed(manager, result, tmp_path):
    out = tmp_path / "scores.csv.gz"
    output_service.export_data(manager, result, str(out), "csv")
    assert out.read_bytes()[:2] == b"\x1f\x8b"
    assert len(pd.read_csv(out, index_col=0)) == len(result.scores)


def test_json_round_trip_has_summary_and_every_row(manager, result, tmp_path):
    out = tmp_path / "scores.json"
    output_service.export_data(manager, result, str(out), "json")
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc) == {"summary", "rows"}
    assert doc["summary"] == json.loads(json.dumps(result.summary()))
    assert doc["summary"]["roc_auc"] == result.metrics["roc_auc"]
    rows = doc["rows"]
    assert len(rows) == len(result.scores) == 378
    assert all(set(r) == {"index", "anomaly_score", "is_anomaly"} for r in rows)
    assert [r["index"] for r in rows] == result.index.tolist()  # input order
    assert [r["anomaly_score"] for r in rows] == result.scores.tolist()  # exact floats
    assert [r["is_anomaly"] for r in rows] == result.labels.tolist()


def test_jsonl_is_one_object_per_row(manager, result, tmp_path):
    out = tmp_path / "scores.jsonl"
    output_service.export_data(manager, result, str(out), "jsonl")
    text = out.read_text(encoding="utf-8")
    assert text.endswith("\n") and "\r" not in text
    lines = text.splitlines()
    assert len(lines) == len(result.scores)
    records = [json.loads(line) for line in lines]
    assert all(list(r) == ["index", "anomaly_score", "is_anomaly"] for r in records)
    back = pd.DataFrame.from_records(records).set_index("index")
    assert back.index.tolist() == result.index.tolist()
    assert back["anomaly_score"].tolist() == result.scores.tolist()
    assert back["is_anomaly"].tolist() == result.labels.tolist()
    # pandas reads it as JSON Lines too
    assert len(pd.read_json(out, lines=True)) == len(result.scores)


def test_json_writers_keep_string_index_labels(manager, odd_index_result, tmp_path):
    res = odd_index_result
    output_service.export_data(manager, res, str(tmp_path / "a.jsonl"), "jsonl")
    output_service.export_data(manager, res, str(tmp_path / "a.json"), "json")
    first = json.loads((tmp_path / "a.jsonl").read_text().splitlines()[0])
    assert first["index"] == "id-0"
    rows = json.loads((tmp_path / "a.json").read_text())["rows"]
    top = max(rows, key=lambda r: r["anomaly_score"])
    assert top["index"] == "id-7" and top["is_anomaly"] == 1


def test_parquet_round_trip(manager, result, tmp_path):
    out = tmp_path / "scores.parquet"
    output_service.export_data(manager, result, str(out), "parquet")
    back = pd.read_parquet(out)
    pd.testing.assert_frame_equal(back, result.to_frame())


def test_plain_makes_index_values_json_ready():
    assert outputs.plain(np.int64(3)) == 3 and type(outputs.plain(np.int64(3))) is int
    assert outputs.plain(np.float32(0.5)) == 0.5
    assert outputs.plain(("a", np.int64(1))) == ["a", 1]
    assert outputs.plain(pd.Timestamp("2024-01-02 03:04")) == "2024-01-02T03:04:00"
    assert outputs.plain(float("nan")) is None
    assert outputs.plain(None) is None


def test_unknown_format_is_an_input_error(manager, result, tmp_path):
    with pytest.raises(InputError, match="unknown output format 'xlsx'"):
        output_service.export_data(manager, result, str(tmp_path / "x.xlsx"), "xlsx")
    assert _listing(tmp_path) == []


# --------------------------------------------------------------------------------------------
# Writers: atomicity
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
def test_writes_leave_no_temporary_file(manager, result, tmp_path, fmt):
    out = tmp_path / f"scores{SUFFIX[fmt]}"
    output_service.export_data(manager, result, str(out), fmt)
    assert _listing(tmp_path) == [out.name]
    assert out.stat().st_size > 0


@pytest.mark.parametrize("fmt", FORMATS)
def test_existing_file_is_kept_without_overwrite(manager, result, tmp_path, fmt):
    out = tmp_path / f"scores{SUFFIX[fmt]}"
    out.write_text("precious\n")
    with pytest.raises(InputError, match="already exists"):
        output_service.export_data(manager, result, str(out), fmt)
    assert out.read_text() == "precious\n"
    assert _listing(tmp_path) == [out.name]
    output_service.export_data(manager, result, str(out), fmt, {"overwrite": True})
    assert out.read_bytes() != b"precious\n"
    assert _listing(tmp_path) == [out.name]


def _partial_then_fail(writer, result):
    writer._file.path.write_text("half a fi")  # the writer's temporary file
    raise OSError(errno.ENOSPC, "No space left on device")


# the writers that format the rows themselves (csv with pyarrow, parquet with pyarrow)
_WRITERS = {"csv": outputs._CsvWriter, "parquet": outputs._ParquetWriter}


def _rows_then_fail(result):
    yield {"index": 0, "anomaly_score": 0.5, "is_anomaly": 0}
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("fmt", FORMATS)
def test_failing_write_leaves_nothing(manager, result, tmp_path, monkeypatch, fmt):
    if fmt in _WRITERS:
        monkeypatch.setattr(_WRITERS[fmt], "_write", _partial_then_fail)
    else:
        monkeypatch.setattr(outputs, "_row_records", _rows_then_fail)
    out = tmp_path / f"scores{SUFFIX[fmt]}"
    with pytest.raises(PluginError, match="No space left on device"):
        output_service.export_data(manager, result, str(out), fmt)
    assert _listing(tmp_path) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_failing_overwrite_keeps_the_old_file(manager, result, tmp_path, monkeypatch, fmt):
    for writer in _WRITERS.values():
        monkeypatch.setattr(writer, "_write", _partial_then_fail)
    monkeypatch.setattr(outputs, "_row_records", _rows_then_fail)
    out = tmp_path / f"scores{SUFFIX[fmt]}"
    out.write_text("old results\n")
    with pytest.raises(PynomalyError):
        output_service.export_data(manager, result, str(out), fmt, {"overwrite": True})
    assert out.read_text() == "old results\n"
    assert _listing(tmp_path) == [out.name]


def _unwritable_directory(tmp_path: Path) -> Path:
    """A directory in which files cannot be created (root ignores permissions: use /sys)."""
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        return locked
    candidate = Path("/sys")
    try:
        fd, name = tempfile.mkstemp(dir=candidate)
    except OSError:
        return candidate
    os.close(fd)
    os.unlink(name)
    pytest.skip("no unwritable directory available to root here")


@pytest.mark.parametrize("fmt", FORMATS)
def test_unwritable_directory_is_an_input_error(manager, result, tmp_path, fmt):
    directory = _unwritable_directory(tmp_path)
    before = _listing(directory)
    out = directory / f"pynomaly-test{SUFFIX[fmt]}"
    try:
        with pytest.raises(InputError, match="cannot write"):
            output_service.export_data(manager, result, str(out), fmt)
        assert not out.exists()
        assert _listing(directory) == before
    finally:
        if directory.name == "locked":
            directory.chmod(0o700)


def test_missing_directory_is_an_input_error(manager, result, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        output_service.export_data(manager, result, str(tmp_path / "nope" / "a.jsonl"), "jsonl")
    assert _listing(tmp_path) == []


# --------------------------------------------------------------------------------------------
# Console table
# --------------------------------------------------------------------------------------------

CONTRIB = re.compile(r"([A-Za-z_]+) \(\+([0-9.e-]+)\)")


def test_table_shows_top_rows_with_their_contributing_features(manager, result):
    text = output_service.format_output(
        manager, result, "table", {"top": 5, "features": 2, "width": 160}
    )
    assert "\x1b" not in text  # plain text: the CLI prints it
    assert text.startswith("Top 5 anomalies")
    top = result.top(5)
    contributions = result.contributions(5)
    lines = [line for line in text.splitlines() if re.match(r"^\s+\d+\s", line)]
    assert len(lines) == 5
    for line, idx in zip(lines, top.index, strict=True):
        _rank, index, score, flag, label, *rest = line.split()
        assert int(index) == idx
        assert float(score) == pytest.approx(top.loc[idx, "anomaly_score"], rel=1e-5)
        assert flag == "yes"
        assert int(label) == int(result.y_true[idx])
        found = CONTRIB.findall(" ".join(rest))
        assert len(found) == 2
        best = contributions.loc[idx].sort_values(ascending=False)
        assert [name for name, _ in found] == list(best.index[:2])
        assert float(found[0][1]) == pytest.approx(best.iloc[0], rel=0.01)
    last = text.rstrip("\n").splitlines()[-1]
    assert last.startswith("378 rows, 38 anomalies")
    assert "sklearn:iforest on sample:wbc" in last
    assert f"ROC AUC {result.metrics['roc_auc']:.3f}" in last
    assert f"AP {result.metrics['average_precision']:.3f}" in last


def test_contributions_of_a_row_do_not_depend_on_top(result):
    small, _ = outputs.top_contributors(result, 2, 3)
    large, _ = outputs.top_contributors(result, 15, 3)
    assert small[0] == large[0]  # the top row, by position


@pytest.mark.parametrize("width", [40, 70, 100, 160])
def test_table_fits_the_width_and_keeps_contributions_whole(manager, result, width):
    text = output_service.format_output(manager, result, "table", {"top": 4, "width": width})
    lines = text.rstrip("\n").splitlines()
    assert all(len(line) <= width for line in lines[:-1])  # the summary is one long line
    assert "top contributing features" in text.lower()
    contributors, _ = outputs.top_contributors(result, 4, 3)
    for parts in contributors:
        for name, value in parts:
            assert f"{name} ({value:+.3g})" in text  # never folded in the middle


def test_table_options_top_and_features(manager, result):
    plain = output_service.format_output(manager, result, "table", {"top": 3, "features": 0})
    assert "contributing" not in plain and "(+" not in plain
    assert plain.startswith("Top 3 anomalies")
    one = output_service.format_output(manager, result, "table", {"top": 3, "features": 1})
    assert len(CONTRIB.findall(one)) == 3


def test_table_without_data_skips_contributions(manager, result):
    bare = attrs.evolve(result, data=None, y_true=None, metrics={})
    text = output_service.format_output(manager, bare, "table", {"top": 4})
    assert "Top 4 anomalies" in text
    assert "contributing" not in text and "(+" not in text
    assert "ROC AUC" not in text
    assert "378 rows, 38 anomalies" in text


def test_table_survives_failing_contributions(manager, result, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("detector went away")

    monkeypatch.setattr(type(result), "contributions", boom)
    text = output_service.format_output(manager, result, "table", {"top": 3})
    assert "Top 3 anomalies" in text
    assert "contributions unavailable: RuntimeError: detector went away" in text


def test_table_with_string_index_and_markup_like_names(manager, odd_index_result):
    text = output_service.format_output(
        manager, odd_index_result, "table", {"top": 3, "width": 120}
    )
    assert "key" in text.splitlines()[2]  # the index name heads its column
    assert re.search(r"^\s+1\s+id-7\s", text, re.M)
    first = text.splitlines()[4]
    assert all(name in first for name in ODD_COLUMNS)  # printed as given, not as markup


# --------------------------------------------------------------------------------------------
# JSON text and notifications
# --------------------------------------------------------------------------------------------


def test_json_text_has_summary_and_top_with_contributions(manager, result):
    doc = json.loads(output_service.format_output(manager, result, "json", {"top": 4}))
    assert doc["summary"]["rows"] == 378 and doc["summary"]["anomalies"] == 38
    assert [r["index"] for r in doc["top"]] == result.top(4).index.tolist()
    scores = [r["anomaly_score"] for r in doc["top"]]
    assert scores == sorted(scores, reverse=True)
    for record in doc["top"]:
        assert 1 <= len(record["contributions"]) <= 3
        assert all(v > 0 for v in record["contributions"].values())
    bare = json.loads(
        output_service.format_output(manager, result, "json", {"top": 2, "features": 0})
    )
    assert all(set(r) == {"index", "anomaly_score", "is_anomaly"} for r in bare["top"])


def test_unknown_text_format(manager, result):
    with pytest.raises(InputError, match="unknown output format 'yaml'"):
        output_service.format_output(manager, result, "yaml")


def test_log_notification(manager, result, caplog):
    with caplog.at_level(logging.INFO, logger="pynomaly.notify"):
        failures = output_service.send_notification(manager, "scan done", result)
    assert failures == []
    assert any(
        "scan done" in r.getMessage() and "378 rows, 38 anomalies" in r.getMessage()
        for r in caplog.records
    )
