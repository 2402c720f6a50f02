"""Where the tests find a PostgreSQL server: ``PYNOMALY_TEST_POSTGRES_URL``.

``.ci/run`` installs PostgreSQL, starts a private cluster on 127.0.0.1:55432 and exports the
URL (``postgresql+psycopg://pynomaly:<random>@127.0.0.1:55432/pynomaly_test``). To run the
PostgreSQL tests locally, run the same commands from the repository root::

    eval "$(sed -n '/^# >>> postgres/,/^# <<< postgres/p' .ci/run)"
    python -m pytest tests/test_sql.py

Without the variable those tests are skipped, except under ``CI=true``, where they fail: CI
must never skip them silently.
"""

from __future__ import annotations

import os
import socket

import pytest

ENV = "PYNOMALY_TEST_POSTGRES_URL"

# Read once, at import: tests/conftest.py removes every PYNOMALY_* variable around each test.
URL = os.environ.get(ENV) or None


def postgres_url() -> str:
    """The test server's URL; skips the test (fails it under ``CI=true``) when there is none."""
    if URL:
        return URL
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true but {ENV} is not set: .ci/run must start PostgreSQL and export it")
    pytest.skip(f"needs a PostgreSQL server: set {ENV} (.ci/run shows how to start one)")


def closed_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
