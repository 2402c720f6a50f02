"""Credentials never reach a trace, a log, JSON output, a report or an error message."""

from __future__ import annotations

import json
import socket

import pytest

import pynomaly
from pynomaly.redact import mask_text, mask_uri
from pynomaly.services import data as data_service
from tests.conftest import run_cli

SECRETS = ("s3cretpw", "qpassw0rd", "t0kenval", "w3bh00kpath", "hdrt0ken")

# a data source for demo:// URLs that serves the bundled sample, whatever the credentials
DEMO_SOURCE = """
from pynomaly import hookimpl
from pynomaly.types import SourceInfo

@hookimpl
def pynomaly_data_sources():
    return [SourceInfo("demo", "test source", schemes=("demo",))]

@hookimpl
def pynomaly_connect(uri, options):
    return {"uri": uri} if uri.startswith("demo://") else None

@hookimpl
def pynomaly_read_data(connection, query):
    import pynomaly
    return pynomaly.load_data("sample:wbc").iloc[:150, :6]
"""

URL = "demo://ann:s3cretpw@db.example:5432/sales?sslmode=require&password=qpassw0rd&token=t0kenval"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends: connections refused


def test_no_credential_in_trace_json_report_errors_or_audit_log(tmp_path, cli_env):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "demo.py").write_text(DEMO_SOURCE)
    report, audit = tmp_path / "report.html", tmp_path / "audit.jsonl"
    webhook = f"http://127.0.0.1:{_closed_port()}/services/T0/B0/w3bh00kpath?token=t0kenval"
    env = {**cli_env, "PYNOMALY_TRACE": "1", "PYNOMALY_AUDIT_LOG": str(audit)}
    proc = run_cli(
        "-vv", "--plugins-dir", str(plugins), "detect", URL, "--json", "--report", str(report),
        "--progress",
        "--notify", webhook, "--notify-timeout", "0.2", env=env,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr  # the webhook cannot be reached: a failure
    # the trace ran and quoted the arguments, the JSON and the report were written
    assert "pynomaly_connect" in proc.stderr and "pynomaly_send_notification" in proc.stderr
    assert "demo://ann:***@db.example:5432/sales" in proc.stderr
    assert "Error: notification by plugin webhook failed" in proc.stderr
    document = json.loads(proc.stdout)
    assert document["summary"]["rows"] == 150
    assert document["summary"]["source"].startswith("demo://ann:***@db.example")
    page = report.read_text()
    assert "db.example" in page
    for secret in SECRETS[:4]:
        for where, text in [
            ("stderr", proc.stderr),
            ("stdout", proc.stdout),
            ("report", page),
            ("audit", audit.read_text()),
        ]:
            assert secret not in text, (secret, where)


def test_no_credential_in_a_connection_repr_or_a_plugin_error(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "demo.py").write_text(
        DEMO_SOURCE + "\n\n@hookimpl\ndef pynomaly_get_schema(connection):\n"
        "    raise RuntimeError('cannot reach ' + connection.handle['uri'])\n"
    )
    pm = pynomaly.PluginManager(autoload=False, allow=["demo"], plugins_dir=str(plugins))
    conn = data_service.connect(pm, URL, {"headers": {"Authorization": "Bearer hdrt0ken"}})
    assert "s3cretpw" not in repr(conn) and "qpassw0rd" not in repr(conn)
    assert "hdrt0ken" not in repr(conn)
    with pytest.raises(pynomaly.errors.PluginError) as failed:
        data_service.get_schema(pm, conn)
    assert "cannot reach demo://ann:***@db.example" in str(failed.value)
    assert not any(secret in str(failed.value) for secret in SECRETS)


def test_no_credential_in_sql_errors(tmp_path):
    url = f"postgresql://ann:s3cretpw@127.0.0.1:{_closed_port()}/sales?password=qpassw0rd"
    with pytest.raises(pynomaly.errors.DataError) as failed:
        pynomaly.load_data(url, options={"table": "t", "connect_timeout": 2})
    assert "ann:***@127.0.0.1" in str(failed.value)
    assert not any(secret in str(failed.value) for secret in SECRETS)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://u:s3cretpw@h/db", "postgresql://u:***@h/db"),
        ("mysql+pymysql://u:p@ss:w/rd@h/db", "mysql+pymysql://u:***@h/db"),
        ("https://h.example/x.csv?sv=1&sig=t0kenval&se=2", "https://h.example/…"),
        (
            "{'webhook': 'https://hooks.example/T0/B0/w3bh00kpath'}",
            "{'webhook': 'https://hooks.example/…'}",
        ),
        ('{"Authorization": "Bearer hdrt0ken"}', '{"Authorization": "***"}'),
        ("X-Api-Key: hdrt0ken", "X-Api-Key: ***"),
        ("dsn: host=h password=s3cretpw user=u", "dsn: host=h password=*** user=u"),
        ("connect(password='s3cretpw', port=5432)", "connect(password='***', port=5432)"),
        ("client_secret=t0kenval&x=1", "client_secret=***&x=1"),
        ("author: pynomaly, keys: a, b", "author: pynomaly, keys: a, b"),
        ("sqlite:////tmp/shop.db", "sqlite:////tmp/shop.db"),
    ],
)
def test_mask_text(text, masked):
    assert mask_text(text) == masked


def test_mask_uri_keeps_a_source_readable():
    assert (
        mask_uri("https://h.example/data/x.csv?sig=t0kenval")
        == "https://h.example/data/x.csv?sig=***"
    )
    assert mask_uri("data/x.csv") == "data/x.csv"
