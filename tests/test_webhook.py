"""The built-in ``webhook`` plugin against a real HTTP server on 127.0.0.1: payload, retries
with backoff on 5xx and connection errors, no retry on 4xx, timeouts, unreachable ports.

Only loopback addresses are used; every server answers a bounded number of requests and every
test has a time bound."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import attrs
import pytest

import pynomaly
from pynomaly.builtin import webhook
from pynomaly.errors import InputError, PluginError
from pynomaly.plugin.manager import PluginManager
from pynomaly.services import outputs as output_service

FAST = {"backoff": 0.02}  # keep retry tests quick


@attrs.define
class Hit:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body.decode("utf-8"))


class Server:
    """A loopback HTTP server that answers POSTs with ``plan[n]`` (status codes) for the n-th
    request, then 200; ``delay`` seconds before each answer (cut short at shutdown)."""

    def __init__(
        self, plan: Sequence[int] = (), delay: float = 0.0, *, listen: bool = True
    ) -> None:
        self.plan = list(plan)
        self.delay = delay
        self.hits: list[Hit] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.lock:
                    n = len(owner.hits)
                    owner.hits.append(Hit(self.path, dict(self.headers.items()), body))
                status = owner.plan[n] if n < len(owner.plan) else 200
                if owner.delay:
                    owner.stop.wait(owner.delay)
                try:
                    self.send_response(status)
                    if 300 <= status < 400:
                        self.send_header("Location", "/elsewhere")
                    self.send_header("Content-Type", "text/plain")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"ok")
                except OSError:  # the client gave up (timeout test)
                    pass

            def log_message(self, format: str, *args: object) -> None:
                pass

        class Quiet(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: object, client_address: object) -> None:
                pass

        self.httpd = Quiet(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.httpd.server_bind()  # the port is ours; until it listens, connections are refused
        if listen:
            self.httpd.server_activate()
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        if not self.listening:
            self.httpd.server_activate()
        self.httpd.serve_forever(poll_interval=0.05)

    @property
    def listening(self) -> bool:
        return self.httpd.socket.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@contextmanager
def serve(plan: Sequence[int] = (), delay: float = 0.0) -> Iterator[Server]:
    server = Server(plan, delay)
    server.thread.start()
    try:
        yield server
    finally:
        server.stop.set()
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(5)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


@pytest.fixture(scope="module")
def manager(tmp_path_factory: pytest.TempPathFactory) -> PluginManager:
    return PluginManager(plugins_dir=str(tmp_path_factory.mktemp("no-plugins") / "none"))


@pytest.fixture(scope="module")
def result(manager):
    return pynomaly.detect("sample:wbc", "sklearn:iforest", random_state=0, manager=manager)


def _webhook_failures(failures: list[tuple[str, str]]) -> list[str]:
    return [message for plugin, message in failures if plugin == "webhook"]


# --------------------------------------------------------------------------------------------
# What arrives
# --------------------------------------------------------------------------------------------


def test_payload_arrives_as_json(manager, result):
    with serve() as server:
        failures = output_service.send_notification(
            manager,
            "3 new anomalies",
            result,
            {"webhook": server.url("/hooks/T00/B00?x=1"), "top": 3},
        )
    assert failures == []
    assert len(server.hits) == 1
    hit = server.hits[0]
    assert hit.path == "/hooks/T00/B00?x=1"
    assert hit.headers["Content-Type"] == "application/json; charset=utf-8"
    assert hit.headers["User-Agent"] == f"pynomaly/{pynomaly.__version__}"
    doc = hit.json()
    assert set(doc) == {"message", "summary", "top"}
    assert doc["message"] == "3 new anomalies"
    assert doc["summary"] == json.loads(json.dumps(result.summary()))
    assert [r["index"] for r in doc["top"]] == result.top(3).index.tolist()
    for record in doc["top"]:
        assert record["is_anomaly"] == 1
        assert 0 < len(record["contributions"]) <= 3


def test_extra_headers_are_sent(manager, result):
    with serve() as server:
        options = {"webhook": server.url(), "headers": {"Authorization": "Bearer t0k"}}
        assert output_service.send_notification(manager, "hi", result, options) == []
    assert server.hits[0].headers["Authorization"] == "Bearer t0k"


def test_notification_without_result(manager):
    with serve() as server:
        assert (
            output_service.send_notification(
                manager, "plain message", None, {"webhook": server.url()}
            )
            == []
        )
    assert server.hits[0].json() == {"message": "plain message", "summary": None, "top": []}


def test_nothing_is_sent_without_a_webhook_option(manager, result, caplog):
    with serve() as server, caplog.at_level(logging.INFO, logger="pynomaly.notify"):
        assert output_service.send_notification(manager, "done", result, {}) == []
    assert server.hits == []
    assert any("done" in r.getMessage() for r in caplog.records)  # the log plugin still runs


# --------------------------------------------------------------------------------------------
# Retries and failures
# --------------------------------------------------------------------------------------------


def test_5xx_is_retried_with_backoff_until_success(manager, result):
    with serve(plan=[503, 503]) as server:
        start = time.perf_counter()
        failures = output_service.send_notification(
            manager, "x", result, {"webhook": server.url(), "backoff": 0.1}
        )
        elapsed = time.perf_counter() - start
    assert failures == []
    assert len(server.hits) == 3
    assert elapsed >= 0.1 + 0.2  # slept backoff, then twice the backoff
    assert server.hits[0].body == server.hits[2].body  # the same document each time


def test_persistent_5xx_gives_up_with_a_one_line_reason(manager, result, caplog):
    with serve(plan=[500] * 10) as server, caplog.at_level(logging.INFO, "pynomaly.notify"):
        url = server.url("/services/SECRET-TOKEN")
        failures = output_service.send_notification(
            manager, "x", result, {"webhook": url, "retries": 2, **FAST}
        )
    assert len(server.hits) == 3
    [message] = _webhook_failures(failures)
    assert "\n" not in message
    assert "HTTP 500" in message and "gave up after 3 attempts" in message
    assert "SECRET-TOKEN" not in message  # the path of a webhook URL is a secret
    assert f"http://127.0.0.1:{server.port}/…" in message
    assert any(r.getMessage() == "x" or r.getMessage().startswith("x (") for r in caplog.records)


def test_4xx_is_not_retried(manager, result):
    with serve(plan=[400, 400, 400]) as server:
        failures = output_service.send_notification(
            manager, "x", result, {"webhook": server.url(), **FAST}
        )
    assert len(server.hits) == 1
    [message] = _webhook_failures(failures)
    assert "HTTP 400" in message and "gave up" not in message


def test_redirects_are_not_followed(manager, result):
    with serve(plan=[302]) as server:
        failures = output_service.send_notification(
            manager, "x", result, {"webhook": server.url(), **FAST}
        )
    assert len(server.hits) == 1  # no second POST (nor a GET) to the new location
    [message] = _webhook_failures(failures)
    assert "HTTP 302" in message and "redirects are not followed" in message


def test_slow_server_times_out_within_a_bounded_time(manager, result):
    with serve(delay=5.0) as server:
        start = time.perf_counter()
        failures = output_service.send_notification(
            manager, "x", result, {"webhook": server.url(), "timeout": 0.3, "retries": 1, **FAST}
        )
        elapsed = time.perf_counter() - start
    assert elapsed < 2.5, elapsed  # 2 attempts × 0.3 s + backoff, far below the 5 s delay
    assert len(server.hits) == 2
    [message] = _webhook_failures(failures)
    assert "timed out" in message and "gave up after 2 attempts" in message


def test_unreachable_port_fails_fast(manager, result):
    url = f"http://127.0.0.1:{closed_port()}/hook"
    start = time.perf_counter()
    failures = output_service.send_notification(
        manager, "x", result, {"webhook": url}
    )  # default options
    elapsed = time.perf_counter() - start
    assert elapsed < 3.0, elapsed  # 4 refused connections and 0.2 + 0.4 + 0.8 s of backoff
    [message] = _webhook_failures(failures)
    assert "refused" in message.lower() and "gave up after 4 attempts" in message


def test_connection_errors_are_retried_until_the_server_listens(manager, result):
    """The port is bound but not listening (connections refused) until 0.15 s later."""
    server = Server(listen=False)
    refused_until = threading.Timer(0.15, server.thread.start)  # listen, then serve
    refused_until.start()
    try:
        start = time.perf_counter()
        failures = output_service.send_notification(
            manager, "x", result, {"webhook": server.url(), "backoff": 0.1, "retries": 3}
        )
        elapsed = time.perf_counter() - start
    finally:
        refused_until.join(5)
        server.stop.set()
        server.httpd.shutdown()
        server.httpd.server_close()
        server.thread.join(5)
    assert failures == []
    assert len(server.hits) == 1
    assert 0.15 <= elapsed < 2.0


# --------------------------------------------------------------------------------------------
# Bad options
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("file:///etc/passwd", "expected an http:// or https:// URL"),
        ("ftp://127.0.0.1/x", "expected an http:// or https:// URL"),
        ("not a url", "expected an http:// or https:// URL"),
    ],
)
def test_only_http_urls_are_used(manager, result, url, problem):
    failures = output_service.send_notification(manager, "x", result, {"webhook": url})
    [message] = _webhook_failures(failures)
    assert problem in message


@pytest.mark.parametrize(
    ("option", "value"),
    [("timeout", "soon"), ("timeout", 0), ("retries", -1), ("backoff", -1), ("headers", "x")],
)
def test_bad_option_values_are_reported(manager, result, option, value):
    with serve() as server:
        failures = output_service.send_notification(
            manager, "x", result, {"webhook": server.url(), option: value}
        )
    assert server.hits == []
    [message] = _webhook_failures(failures)
    assert f"webhook option {option!r}" in message


def test_post_json_raises_plugin_errors_directly():
    with serve(plan=[404]) as server:
        with pytest.raises(PluginError, match="HTTP 404"):
            webhook.post_json(server.url(), {"a": 1}, retries=0)
        assert webhook.post_json(server.url(), {"a": 2}, retries=0) == 200
    assert [h.json() for h in server.hits] == [{"a": 1}, {"a": 2}]
    with pytest.raises(InputError):
        webhook.post_json("mailto:x@example.org", {}, retries=0)
