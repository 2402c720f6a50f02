"""Data sources, processing steps and outputs through the ``pynomaly`` command, and every
kind of bad input: a one-line error naming the input, exit code 2, no traceback, no output."""

from __future__ import annotations

import gzip
import json
import socket
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from pynomaly.cli.main import cli


@pytest.fixture
def invoke():
    runner = CliRunner()
    return lambda *args: runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def mixed_csv(breast_cancer, tmp_path):
    """Real data with what real data has: a text column, a date, a label and gaps."""
    frame = breast_cancer.iloc[:, :8].copy()
    rng = np.random.default_rng(0)
    frame.iloc[rng.choice(len(frame), 40, replace=False), 2] = np.nan
    frame["site"] = rng.choice(["north", "south", "east"], len(frame))
    frame["seen"] = pd.date_range("2024-01-01", periods=len(frame), freq="h")
    frame["y"] = (frame["mean area"] > frame["mean area"].quantile(0.95)).astype(int)
    path = tmp_path / "mixed.csv"
    frame.to_csv(path, index=False)
    return path


def test_processing_flags_make_messy_data_usable(invoke, mixed_csv, tmp_path):
    plain = invoke("detect", mixed_csv)
    assert plain.exit_code == 2 and "--encode onehot" in plain.output
    model = tmp_path / "m.pkl"
    result = invoke(
        "detect",
        mixed_csv,
        "-d",
        "pyod:ecod",
        "--impute",
        "median",
        "--encode",
        "onehot",
        "--datetime",
        "expand",
        "--scale",
        "robust",
        "--label-column",
        "y",
        "--save",
        model,
        "--json",
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["summary"]
    assert summary["rows"] == 569 and summary["roc_auc"] > 0.5
    again = invoke("score", model, mixed_csv, "--json")  # the same steps applied to new data
    assert again.exit_code == 0, again.output


def test_a_step_with_options(invoke, mixed_csv):
    result = invoke(
        "detect",
        mixed_csv,
        "--step",
        "drop:columns=site,seen",
        "--impute",
        "mean",
        "--drop",
        "y",
        "--json",
    )
    assert result.exit_code == 0, result.output
    bad = invoke("detect", mixed_csv, "--impute", "avg")
    assert bad.exit_code == 2 and "step impute: option 'strategy'" in bad.output


@pytest.fixture
def shop_db(breast_cancer, tmp_path):
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as db:
        breast_cancer.iloc[:, :6].rename(columns=lambda c: c.replace(" ", "_")).to_sql(
            "orders", db, index=False
        )
    return path


def test_sqlite_table_and_query_round_trip(invoke, shop_db):
    url = f"sqlite:///{shop_db}"
    result = invoke(
        "detect", url, "--table", "orders", "-d", "pyod:ecod", "-o", url, "--output-table", "scores"
    )
    assert result.exit_code == 0, result.output
    with sqlite3.connect(shop_db) as db:
        scores = pd.read_sql("select * from scores", db)
    assert len(scores) == 569 and {"anomaly_score", "is_anomaly"} <= set(scores.columns)
    query = invoke(
        "detect", url, "--query", "select mean_radius, mean_texture from orders", "--json"
    )
    assert query.exit_code == 0 and json.loads(query.output)["summary"]["rows"] == 569
    schema = json.loads(invoke("schema", url, "--table", "orders", "--json").output)
    assert list(schema)[:2] == ["mean_radius", "mean_texture"]


def test_html_report(invoke, tmp_path):
    report = tmp_path / "report.html"
    result = invoke("detect", "sample:wbc", "--report", report)
    assert result.exit_code == 0, result.output
    html = report.read_text()
    assert html.startswith("<!DOCTYPE html>") and "data:image/png;base64," in html


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []
    delay: ClassVar[float] = 0.0

    def do_POST(self):  # the http.server API
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.delay:
            threading.Event().wait(self.delay)
        type(self).received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Hook.received, _Hook.delay = [], 0.0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", _Hook
    server.shutdown()
    server.server_close()


def test_notification_reaches_a_webhook(invoke, webhook):
    url, hook = webhook
    result = invoke("detect", "sample:wbc", "--notify", url)
    assert result.exit_code == 0, result.output
    assert hook.received[0]["summary"]["rows"] == 378
    assert "38 anomalies in 378 rows" in hook.received[0]["message"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _corrupt_gzip(path):
    data = gzip.compress(b"a,b\n" + b"1,2\n" * 5000)
    path.write_bytes(data[: len(data) // 2])


BAD_INPUTS = {
    "empty": ("e.csv", lambda p: p.write_text(""), "e.csv: file is empty"),
    "header-only": ("h.csv", lambda p: p.write_text("a,b\n"), "h.csv: no rows"),
    "ragged": ("r.csv", lambda p: p.write_text("a,b\n1,2\n3,4,5\n"), "r.csv: cannot read as csv"),
    "encoding": (
        "w.csv",
        lambda p: p.write_bytes("a,b\n\u00e9,1\n".encode("latin-1")),
        "w.csv: cannot read as csv: not utf-8 text",
    ),
    "not-parquet": (
        "x.parquet",
        lambda p: p.write_text("a,b\n"),
        "x.parquet: cannot read as parquet",
    ),
    "corrupt-gzip": ("z.csv.gz", _corrupt_gzip, "z.csv.gz: cannot read as csv: corrupt"),
    "directory": ("folder", lambda p: p.mkdir(), "folder: is a directory without Parquet files"),
    "missing": ("nope.csv", lambda p: None, "nope.csv: no such file or directory"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_files(invoke, tmp_path, monkeypatch, case):
    name, make, message = BAD_INPUTS[case]
    monkeypatch.chdir(tmp_path)
    make(tmp_path / name)
    result = invoke("detect", name, "-o", "out.csv")
    assert result.exit_code == 2, result.output
    assert result.output.strip() == f"Error: {message}" or result.output.startswith(
        f"Error: {message}"
    )
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--table", "nope"], "table 'nope' does not exist (tables: orders)"),
        (["--query", "selec * from orders"], "syntax error"),
        ([], "give --table or --query"),
    ],
    ids=["missing-table", "syntax-error", "no-table"],
)
def test_bad_database_input(invoke, shop_db, tmp_path, args, message):
    out = tmp_path / "out.csv"
    result = invoke("detect", f"sqlite:///{shop_db}", *args, "-o", out)
    assert result.exit_code == 2, result.output
    assert message in result.output and len(result.output.strip().splitlines()) == 1
    assert not out.exists()


def test_unreachable_database_never_shows_the_password(invoke, tmp_path):
    url = f"postgresql+psycopg://ann:s3cret-pw@127.0.0.1:{_closed_port()}/sales"
    result = invoke("detect", url, "--table", "orders", "-o", tmp_path / "out.csv")
    assert result.exit_code == 2, result.output
    assert "cannot connect" in result.output and "127.0.0.1" in result.output
    assert "s3cret-pw" not in result.output and "ann:***@" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_webhook_timeout_is_reported_after_results_are_written(invoke, webhook, tmp_path):
    url, hook = webhook
    hook.delay = 3.0
    out = tmp_path / "scores.csv"
    result = invoke("detect", "sample:wbc", "-o", out, "--notify", url, "--notify-timeout", "0.3")
    assert result.exit_code == 1, result.output
    assert "notification by plugin webhook failed" in result.output
    assert len(pd.read_csv(out)) == 378  # the detection itself was delivered
