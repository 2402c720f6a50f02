"""The built-in ``sql`` plugin against real databases: SQLite files and a PostgreSQL server.

PostgreSQL tests need ``PYNOMALY_TEST_POSTGRES_URL`` (see tests/postgres.py); without it they
are skipped, and under ``CI=true`` they fail.
"""

from __future__ import annotations

import importlib.util
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import pynomaly
from pynomaly.builtin import sql as sql_plugin
from pynomaly.errors import DataError, InputError
from pynomaly.plugin.manager import PluginManager
from pynomaly.services import data as data_service
from pynomaly.services import outputs as output_service
from tests.conftest import run_cli
from tests.postgres import closed_port, postgres_url

pytestmark = pytest.mark.timeout(300)


def _orders(n: int = 300, seed: int = 0) -> pd.DataFrame:
    """Numeric order data with one planted anomaly at row 17."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.standard_normal((n, 3)), columns=["amount", "quantity", "price"])
    frame.loc[17] = [25.0, -25.0, 25.0]
    return frame


class Unstorable:
    """A value no database driver can store: makes an INSERT fail after CREATE TABLE."""


def _failing_frame(n: int = 250, bad_row: int = 220) -> pd.DataFrame:
    values: list[object] = [float(i) for i in range(n)]
    values[bad_row] = Unstorable()
    return pd.DataFrame({"a": np.arange(n, dtype=float), "b": values})


def _one_line(exc: pytest.ExceptionInfo[BaseException], *secrets: str) -> str:
    message = str(exc.value)
    assert "\n" not in message, message
    for secret in secrets:
        assert secret not in message
        assert secret not in repr(exc.value)
    return message


# --------------------------------------------------------------------------------------------
# SQLite
# --------------------------------------------------------------------------------------------


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    """A SQLite database file with tables ``orders`` (300 × 3) and ``customers``."""
    path = tmp_path / "shop.db"
    with sqlite3.connect(path) as con:
        _orders().to_sql("orders", con, index=False)
        pd.DataFrame({"id": [1, 2], "name": ["ada", "bob"]}).to_sql("customers", con, index=False)
    con.close()
    return path


def _tables(url: str) -> list[str]:
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn:
        return sorted(sa.inspect(conn).get_table_names())


def test_plugin_is_listed_with_its_schemes_and_output(isolated_pm: PluginManager) -> None:
    sources = {s.name: s for s in data_service.data_sources(isolated_pm)}
    assert sources["sql"].plugin == "sql"
    assert {"sqlite", "postgresql", "mysql"} <= set(sources["sql"].schemes)
    assert "sql" in {o.name for o in output_service.outputs(isolated_pm)}
    meta = isolated_pm.record("sql").metadata
    assert meta is not None and meta.pynomaly_compat == f"=={pynomaly.__version__}"
    assert {t.value for t in meta.plugin_types} == {"data_source", "output"}


@pytest.mark.parametrize(
    "uri", ["data.csv", "sample:wbc", "mongodb://host/db", "C:\\data\\x.csv", "orders.db"]
)
def test_connect_leaves_other_sources_alone(uri: str) -> None:
    assert sql_plugin.pynomaly_connect(uri, {}) is None


def test_read_table_and_query(shop: Path, isolated_pm: PluginManager) -> None:
    url = f"sqlite:///{shop}"
    table = pynomaly.load_data(url, options={"table": "orders"}, manager=isolated_pm)
    pd.testing.assert_frame_equal(table, _orders())
    query = pynomaly.load_data(
        url,
        options={"query": "SELECT amount, price FROM orders WHERE amount > 1 ORDER BY amount"},
        manager=isolated_pm,
    )
    expected = _orders().query("amount > 1")[["amount", "price"]].sort_values("amount")
    pd.testing.assert_frame_equal(query, expected.reset_index(drop=True))
    # the hook's query overrides what the connection was opened with
    conn = data_service.connect(isolated_pm, url, {"table": "orders"})
    assert list(data_service.read_data(isolated_pm, conn, {"table": "customers"}).columns) == [
        "id",
        "name",
    ]
    indexed = pynomaly.load_data(
        url, options={"table": "customers", "index_col": "id"}, manager=isolated_pm
    )
    assert indexed.index.name == "id" and list(indexed.index) == [1, 2]


def test_relative_sqlite_path_is_relative_to_the_working_directory(
    shop: Path, isolated_pm: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(shop.parent)
    frame = pynomaly.load_data(
        "sqlite:///shop.db", options={"table": "orders"}, manager=isolated_pm
    )
    assert frame.shape == (300, 3)


def test_schema_and_test_connection(shop: Path, isolated_pm: PluginManager) -> None:
    conn = data_service.connect(isolated_pm, f"sqlite:///{shop}", {"table": "orders"})
    assert data_service.get_schema(isolated_pm, conn) == dict.fromkeys(
        ["amount", "quantity", "price"], "REAL"
    )
    assert data_service.test_connection(isolated_pm, conn) is True
    query = data_service.connect(
        isolated_pm, f"sqlite:///{shop}", {"query": "SELECT id, name FROM customers"}
    )
    assert data_service.get_schema(isolated_pm, query) == {"id": "int64", "name": "str"}
    missing = data_service.connect(isolated_pm, f"sqlite:///{shop}", {"table": "nope"})
    with pytest.raises(DataError, match="table 'nope' does not exist"):
        data_service.test_connection(isolated_pm, missing)


def test_detect_writes_results_back_and_they_read_back_the_same(shop: Path, tmp_path: Path):
    result = pynomaly.detect(
        f"sqlite:///{shop}", detector="pyod:ecod", source_options={"table": "orders"}
    )
    assert result.scores.argmax() == 17 and result.labels[17] == 1
    out = f"sqlite:///{tmp_path / 'results.db'}"  # a new database file is created
    pm = pynomaly.detection.api.default_manager()
    output_service.export_data(pm, result, out, "sql", {})
    back = pynomaly.load_data(out, options={"table": "anomaly_scores", "index_col": "row"})
    assert list(back.columns) == ["anomaly_score", "is_anomaly"]
    assert back.index.name == "row"
    np.testing.assert_array_equal(back.index.to_numpy(), np.arange(300))
    np.testing.assert_array_equal(back["anomaly_score"].to_numpy(), result.scores)
    np.testing.assert_array_equal(back["is_anomaly"].to_numpy(), result.labels)
    # a named table, and the format inferred from the URL (fmt None)
    output_service.export_data(pm, result, out, None, {"table": "ecod_run"})  # type: ignore[arg-type]
    assert _tables(out) == ["anomaly_scores", "ecod_run"]


def test_no_overwrite_without_overwrite(shop: Path, tmp_path: Path) -> None:
    pm = pynomaly.detection.api.default_manager()
    first = pynomaly.detect(_orders(), detector="sklearn:iforest", random_state=0)
    second = pynomaly.detect(_orders(seed=1), detector="sklearn:iforest", random_state=0)
    out = f"sqlite:///{tmp_path / 'results.db'}"
    output_service.export_data(pm, first, out, "sql", {"table": "scores"})
    with pytest.raises(InputError, match="table 'scores' already exists .*overwrite") as exc:
        output_service.export_data(pm, second, out, "sql", {"table": "scores"})
    _one_line(exc)
    kept = pynomaly.load_data(out, options={"table": "scores"})
    np.testing.assert_array_equal(kept["anomaly_score"].to_numpy(), first.scores)
    output_service.export_data(pm, second, out, "sql", {"table": "scores", "overwrite": True})
    replaced = pynomaly.load_data(out, options={"table": "scores"})
    np.testing.assert_array_equal(replaced["anomaly_score"].to_numpy(), second.scores)


def test_batches_equal_a_full_read(shop: Path, isolated_pm: PluginManager) -> None:
    url = f"sqlite:///{shop}"
    conn = data_service.connect(isolated_pm, url, {"table": "orders"})
    batches = list(data_service.read_batches(isolated_pm, conn, 64))
    assert [len(b) for b in batches] == [64, 64, 64, 64, 44]
    whole = pd.concat(batches)
    pd.testing.assert_frame_equal(
        whole, data_service.read_data(isolated_pm, conn), check_index_type=False
    )
    assert list(whole.index) == list(range(300))  # one continuous numbering

    model = pynomaly.fit(url, "sklearn:iforest", random_state=0, source_options={"table": "orders"})
    results = list(model.score_source(url, batch_size=100, source_options={"table": "orders"}))
    assert [len(r.scores) for r in results] == [100, 100, 100]
    assert [r.index[0] for r in results] == [0, 100, 200]
    full = model.score(pynomaly.load_data(url, options={"table": "orders"}))
    np.testing.assert_allclose(np.concatenate([r.scores for r in results]), full)


def test_batches_of_a_query_and_early_stop(shop: Path, isolated_pm: PluginManager) -> None:
    conn = data_service.connect(isolated_pm, f"sqlite:///{shop}", {"query": "SELECT * FROM orders"})
    batches = data_service.read_batches(isolated_pm, conn, 250)
    first = next(batches)
    assert len(first) == 250
    batches.close()  # type: ignore[attr-defined]  # releases the database connection
    with pytest.raises(DataError, match='query failed: near "SELEC": syntax error'):
        data_service.read_batches(
            isolated_pm,
            data_service.connect(isolated_pm, f"sqlite:///{shop}", {"query": "SELEC 1"}),
            5,
        )


def test_sqlite_write_that_fails_midway_leaves_no_table(shop: Path, isolated_pm: PluginManager):
    url = f"sqlite:///{shop}"
    conn = data_service.connect(isolated_pm, url, {})
    with pytest.raises(DataError, match="cannot write table 'broken'") as exc:
        data_service.write_data(isolated_pm, conn, _failing_frame(), "broken", {"chunksize": 100})
    _one_line(exc)
    assert _tables(url) == ["customers", "orders"]
    # replacing an existing table: the failure leaves the old one as it was
    data_service.write_data(isolated_pm, conn, _orders(), "copy", {})
    with pytest.raises(DataError):
        data_service.write_data(
            isolated_pm, conn, _failing_frame(), "copy", {"overwrite": True, "chunksize": 100}
        )
    kept = data_service.read_data(isolated_pm, conn, {"table": "copy", "index_col": "row"})
    pd.testing.assert_frame_equal(kept, _orders().rename_axis("row"), check_index_type=False)


def test_write_data_to_a_new_sqlite_file_needs_create(tmp_path: Path, isolated_pm: PluginManager):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    with pytest.raises(DataError, match="no such database file"):
        data_service.connect(isolated_pm, url, {})
    conn = data_service.connect(isolated_pm, url, {"create": True})
    assert data_service.write_data(
        isolated_pm, conn, _orders().rename_axis("order_id"), "orders", {}
    )
    back = data_service.read_data(isolated_pm, conn, {"table": "orders", "index_col": "order_id"})
    pd.testing.assert_frame_equal(back, _orders().rename_axis("order_id"), check_index_type=False)


def test_sqlite_errors_are_one_line(shop: Path, tmp_path: Path, isolated_pm: PluginManager):
    url = f"sqlite:///{shop}"
    missing = tmp_path / "missing.db"
    with pytest.raises(DataError, match="no such database file") as exc:
        pynomaly.load_data(f"sqlite:///{missing}", options={"table": "orders"}, manager=isolated_pm)
    _one_line(exc)
    assert not missing.exists()  # reading never creates a database
    with pytest.raises(DataError) as exc:
        pynomaly.load_data(url, options={"table": "order"}, manager=isolated_pm)
    assert _one_line(exc) == (f"{url}: table 'order' does not exist (tables: customers, orders)")
    with pytest.raises(DataError) as exc:
        pynomaly.load_data(url, options={"query": "SELEC * FROM orders"}, manager=isolated_pm)
    assert _one_line(exc) == f'{url}: query failed: near "SELEC": syntax error'
    with pytest.raises(InputError) as exc:
        pynomaly.load_data(url, manager=isolated_pm)
    assert _one_line(exc).startswith(f"{url}: give --table or --query")
    with pytest.raises(InputError, match="either --table or --query, not both"):
        pynomaly.load_data(url, options={"table": "a", "query": "b"}, manager=isolated_pm)
    with pytest.raises(DataError, match="is a directory"):
        data_service.connect(isolated_pm, f"sqlite:///{tmp_path}", {"table": "orders"})
    with pytest.raises(InputError, match="format sql needs a database URL"):
        output_service.export_data(
            isolated_pm,
            pynomaly.detect(_orders(), "sklearn:iforest"),
            str(tmp_path / "x.db"),
            "sql",
        )


def test_environment_variables_in_the_url(
    shop: Path, isolated_pm: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOP_DIR", str(shop.parent))
    frame = pynomaly.load_data(
        "sqlite:///${SHOP_DIR}/shop.db", options={"table": "orders"}, manager=isolated_pm
    )
    assert frame.shape == (300, 3)
    with pytest.raises(InputError, match="environment variable NOT_SET_ANYWHERE is not set"):
        data_service.connect(isolated_pm, "sqlite:///${NOT_SET_ANYWHERE}/shop.db", {})


def test_unreachable_server_and_bad_urls_never_show_the_password(
    isolated_pm: PluginManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No server needed: nothing listens on the port."""
    port = closed_port()
    url = f"postgresql://shop:hunter2-secret@127.0.0.1:{port}/sales"
    conn = data_service.connect(isolated_pm, url, {"table": "orders"})
    assert "hunter2" not in repr(conn.handle)
    with pytest.raises(DataError) as exc:
        data_service.read_data(isolated_pm, conn)
    assert _one_line(exc, "hunter2") == (
        f"postgresql://shop:***@127.0.0.1:{port}/sales: cannot connect: connection refused"
    )
    with pytest.raises(DataError, match="cannot connect: connection refused") as exc:
        data_service.test_connection(isolated_pm, conn)
    _one_line(exc, "hunter2")
    with pytest.raises(DataError, match="cannot connect: connection refused") as exc:
        output_service.export_data(
            isolated_pm,
            pynomaly.detect(_orders(), "sklearn:iforest"),
            url,
            "sql",
            {"table": "scores"},
        )
    _one_line(exc, "hunter2")
    monkeypatch.setenv("SALES_PORT", str(port))
    with pytest.raises(DataError, match=f"127.0.0.1:{port}/sales: cannot connect") as exc:
        data_service.read_data(
            isolated_pm,
            data_service.connect(
                isolated_pm, url.replace(str(port), "${SALES_PORT}"), {"table": "orders"}
            ),
        )
    _one_line(exc, "hunter2")
    # an unencoded "@" in the password: refused, and not half shown
    with pytest.raises(InputError, match="as %40") as exc:
        data_service.connect(isolated_pm, f"postgresql://shop:hun@ter2@127.0.0.1:{port}/sales", {})
    _one_line(exc, "hun@ter2", "ter2")
    with pytest.raises(InputError, match="not a valid database URL") as exc:
        data_service.connect(
            isolated_pm, "postgresql://shop:hunter2-secret@127.0.0.1:port/sales", {}
        )
    _one_line(exc, "hunter2")
    if importlib.util.find_spec("pyodbc") is None:
        with pytest.raises(DataError, match="database driver not installed") as exc:
            data_service.connect(
                isolated_pm, "mssql+pyodbc://shop:hunter2-secret@127.0.0.1/sales", {}
            )
        _one_line(exc, "hunter2")


def test_cli_reads_a_table_and_writes_results_to_sqlite(
    shop: Path, tmp_path: Path, cli_env: dict[str, str]
) -> None:
    out = f"sqlite:///{tmp_path / 'results.db'}"
    proc = run_cli(
        "detect", f"sqlite:///{shop}", "--table", "orders", "-d", "sklearn:iforest",
        "-o", out, env=cli_env,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    back = pynomaly.load_data(out, options={"table": "anomaly_scores"})
    assert len(back) == 300 and back["anomaly_score"].idxmax() == 17
    proc = run_cli("detect", f"sqlite:///{shop}", "--table", "nope", env=cli_env)
    assert proc.returncode == 2
    assert "table 'nope' does not exist (tables: customers, orders)" in proc.stderr
    assert "Traceback" not in proc.stderr


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------


class Postgres:
    """The test server: its URL, password, and tables named uniquely per test."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = sa.make_url(url)
        assert parsed.password, "the test URL must carry a password"
        self.password = str(parsed.password)
        # URL.set() ignores None: _replace (URL is a NamedTuple) removes the part
        self.without_password = parsed._replace(password=None).render_as_string(hide_password=False)
        self.engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
        self.prefix = f"t{uuid.uuid4().hex[:10]}_"
        self._names: list[str] = []

    def name(self, base: str) -> str:
        self._names.append(self.prefix + base)
        return self.prefix + base

    def url_with(self, **parts: object) -> str:
        return sa.make_url(self.url).set(**parts).render_as_string(hide_password=False)

    def tables(self) -> list[str]:
        with self.engine.connect() as conn:
            names = sa.inspect(conn).get_table_names()
        return sorted(n for n in names if n.startswith(self.prefix))

    def drop_all(self) -> None:
        with self.engine.begin() as conn:
            for name in self._names:
                conn.execute(sa.schema.DropTable(sa.table(name), if_exists=True))
        self.engine.dispose()


@pytest.fixture
def pg() -> Iterator[Postgres]:
    server = Postgres(postgres_url())
    try:
        yield server
    finally:
        server.drop_all()


@pytest.fixture
def pg_orders(pg: Postgres) -> str:
    """A table of ``_orders()`` on the server; returns its name."""
    name = pg.name("orders")
    with pg.engine.begin() as conn:
        _orders().to_sql(name, conn, index=False)
    return name


def test_postgres_read_table_query_schema_and_connection(
    pg: Postgres, pg_orders: str, isolated_pm: PluginManager
) -> None:
    table = pynomaly.load_data(pg.url, options={"table": pg_orders}, manager=isolated_pm)
    pd.testing.assert_frame_equal(table, _orders())
    query = pynomaly.load_data(
        pg.url,
        options={"query": f"SELECT amount, price FROM {pg_orders} WHERE quantity::numeric < 0"},
        manager=isolated_pm,
    )
    expected = _orders().query("quantity < 0")[["amount", "price"]].reset_index(drop=True)
    pd.testing.assert_frame_equal(query, expected)
    conn = data_service.connect(isolated_pm, pg.url, {"table": pg_orders})
    assert pg.password not in repr(conn.handle)  # (Connection.uri is the URL as given)
    assert "***" in repr(conn.handle)
    assert data_service.get_schema(isolated_pm, conn) == dict.fromkeys(
        ["amount", "quantity", "price"], "DOUBLE PRECISION"
    )
    assert data_service.test_connection(isolated_pm, conn) is True
    # schema-qualified names, and the default driver for a bare postgresql:// URL
    bare = pg.url.replace("postgresql+psycopg://", "postgresql://", 1)
    frame = pynomaly.load_data(bare, options={"table": f"public.{pg_orders}"}, manager=isolated_pm)
    assert frame.shape == (300, 3)


def test_postgres_detect_write_back_and_batches(
    pg: Postgres, pg_orders: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the password from PYNOMALY_DB_PASSWORD: the URL (and so the result's source) has none
    monkeypatch.setenv("PYNOMALY_DB_PASSWORD", pg.password)
    url = pg.without_password
    result = pynomaly.detect(url, detector="pyod:ecod", source_options={"table": pg_orders})
    assert result.scores.argmax() == 17
    pm = pynomaly.detection.api.default_manager()
    out = pg.name("scores")
    output_service.export_data(pm, result, url, "sql", {"table": out})
    back = pynomaly.load_data(url, options={"table": out, "index_col": "row"})
    np.testing.assert_array_equal(back.index.to_numpy(), np.arange(300))
    np.testing.assert_array_equal(back["anomaly_score"].to_numpy(), result.scores)
    np.testing.assert_array_equal(back["is_anomaly"].to_numpy(), result.labels)

    model = pynomaly.fit(
        url, "sklearn:iforest", random_state=0, source_options={"table": pg_orders}
    )
    results = list(model.score_source(url, batch_size=128, source_options={"table": pg_orders}))
    assert [len(r.scores) for r in results] == [128, 128, 44]
    assert [r.index[0] for r in results] == [0, 128, 256]
    full = model.score(pynomaly.load_data(url, options={"table": pg_orders}))
    np.testing.assert_allclose(np.concatenate([r.scores for r in results]), full)
    conn = data_service.connect(pm, url, {"query": f"SELECT * FROM {pg_orders} ORDER BY amount"})
    batches = list(data_service.read_batches(pm, conn, 100))
    pd.testing.assert_frame_equal(
        pd.concat(batches), data_service.read_data(pm, conn), check_index_type=False
    )


def test_postgres_no_overwrite_and_atomic_writes(pg: Postgres, isolated_pm: PluginManager):
    conn = data_service.connect(isolated_pm, pg.url, {})
    name = pg.name("results")
    assert data_service.write_data(isolated_pm, conn, _orders(), name, {})
    with pytest.raises(InputError, match="already exists") as exc:
        data_service.write_data(isolated_pm, conn, _orders(seed=2), name, {})
    _one_line(exc, pg.password)

    # an INSERT fails after the CREATE TABLE and after earlier chunks went in: nothing is left
    broken = pg.name("broken")
    with pytest.raises(DataError, match=f"cannot write table '{broken}'") as exc:
        data_service.write_data(isolated_pm, conn, _failing_frame(), broken, {"chunksize": 100})
    _one_line(exc, pg.password)
    assert pg.tables() == [name]
    # a failing replacement leaves the old table as it was
    with pytest.raises(DataError):
        data_service.write_data(
            isolated_pm, conn, _failing_frame(), name, {"overwrite": True, "chunksize": 100}
        )
    kept = data_service.read_data(isolated_pm, conn, {"table": name, "index_col": "row"})
    pd.testing.assert_frame_equal(kept, _orders().rename_axis("row"), check_index_type=False)
    # a table name PostgreSQL cannot take (over 63 characters)
    with pytest.raises(DataError, match="exceeds maximum length of 63") as exc:
        data_service.write_data(isolated_pm, conn, _orders(), pg.prefix + "x" * 64, {})
    _one_line(exc, pg.password)
    # export of a result whose index cannot be stored, replacing with overwrite
    frame = _orders(250)
    frame.index = pd.Index([*range(249), Unstorable()], dtype=object)
    result = pynomaly.detect(frame, "sklearn:iforest")
    with pytest.raises(DataError, match=f"cannot write table '{name}'"):
        output_service.export_data(
            isolated_pm, result, pg.url, "sql", {"table": name, "overwrite": True}
        )
    assert len(data_service.read_data(isolated_pm, conn, {"table": name})) == 300
    assert pg.tables() == [name]


def test_postgres_errors_are_one_line_and_never_show_the_password(
    pg: Postgres, pg_orders: str, isolated_pm: PluginManager
) -> None:
    masked = sa.make_url(pg.url).render_as_string(hide_password=True)
    port = closed_port()
    with pytest.raises(DataError) as exc:
        pynomaly.load_data(
            pg.url_with(port=port), options={"table": pg_orders}, manager=isolated_pm
        )
    message = _one_line(exc, pg.password)
    assert message.startswith(f"postgresql+psycopg://pynomaly:***@127.0.0.1:{port}/")
    assert message.endswith("cannot connect: connection refused")

    with pytest.raises(DataError) as exc:
        pynomaly.load_data(
            pg.url_with(password="not-" + pg.password), options={"table": pg_orders},
            manager=isolated_pm,
        )  # fmt: skip
    message = _one_line(exc, pg.password, "not-" + pg.password)
    assert (
        message == f'{masked}: cannot connect: password authentication failed for user "pynomaly"'
    )

    with pytest.raises(DataError) as exc:
        pynomaly.load_data(pg.url_with(database="no_such_db"), options={"table": "t"},
                           manager=isolated_pm)  # fmt: skip
    assert _one_line(exc, pg.password).endswith(
        'cannot connect: database "no_such_db" does not exist'
    )

    with pytest.raises(DataError) as exc:
        pynomaly.load_data(pg.url, options={"table": pg.prefix + "nope"}, manager=isolated_pm)
    message = _one_line(exc, pg.password)
    assert message.startswith(f"{masked}: table '{pg.prefix}nope' does not exist (tables: ")
    assert pg_orders in message

    with pytest.raises(DataError) as exc:
        pynomaly.load_data(pg.url, options={"query": f"SELEC * FROM {pg_orders}"},
                           manager=isolated_pm)  # fmt: skip
    assert _one_line(exc, pg.password) == f'{masked}: query failed: syntax error at or near "SELEC"'

    conn = data_service.connect(isolated_pm, pg.url_with(port=port), {"table": pg_orders})
    with pytest.raises(DataError, match="cannot connect: connection refused") as exc:
        data_service.test_connection(isolated_pm, conn)
    _one_line(exc, pg.password)


def test_postgres_credentials_from_env_url_reference_and_files(
    pg: Postgres, pg_orders: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    isolated_pm: PluginManager,
) -> None:  # fmt: skip
    options = {"table": pg_orders}
    parsed = sa.make_url(pg.url)
    # ${VAR} in the URL
    monkeypatch.setenv("TEST_SHOP_PASSWORD", pg.password)
    with_reference = pg.without_password.replace("pynomaly@", "pynomaly:${TEST_SHOP_PASSWORD}@")
    assert len(pynomaly.load_data(with_reference, options=options, manager=isolated_pm)) == 300
    # a credentials file fills user and password (INI), or everything but the scheme (JSON)
    ini = tmp_path / "db.ini"
    ini.write_text(f"[database]\nuser = {parsed.username}\npassword = {pg.password}\n")
    anonymous = parsed._replace(username=None, password=None).render_as_string(hide_password=False)
    loaded = pynomaly.load_data(
        anonymous, options={**options, "credentials_file": str(ini)}, manager=isolated_pm
    )
    assert len(loaded) == 300
    js = tmp_path / "db.json"
    js.write_text(json.dumps({
        "username": parsed.username, "password": pg.password, "host": parsed.host,
        "port": parsed.port, "database": parsed.database,
    }))  # fmt: skip
    conn = data_service.connect(
        isolated_pm, "postgresql+psycopg://", {**options, "credentials_file": str(js)}
    )
    assert data_service.test_connection(isolated_pm, conn) and pg.password not in repr(conn.handle)
    # a wrong password in the file: masked in the message like any other
    js.write_text(json.dumps({"password": "file-secret-123"}))
    with pytest.raises(DataError, match="password authentication failed") as exc:
        pynomaly.load_data(pg.without_password, options={**options, "credentials_file": str(js)},
                           manager=isolated_pm)  # fmt: skip
    _one_line(exc, "file-secret-123", pg.password)
    js.write_text('{"password": "x", "pasword": "y"}')
    with pytest.raises(InputError, match="unknown keys pasword") as exc:
        data_service.connect(isolated_pm, pg.without_password, {"credentials_file": str(js)})
    _one_line(exc, 'x"', 'y"')
    # PYNOMALY_DB_PASSWORD fills a missing password only
    monkeypatch.setenv("PYNOMALY_DB_PASSWORD", "env-secret-456")
    with pytest.raises(DataError, match="password authentication failed") as exc:
        pynomaly.load_data(pg.without_password, options=options, manager=isolated_pm)
    _one_line(exc, "env-secret-456")
    assert len(pynomaly.load_data(pg.url, options=options, manager=isolated_pm)) == 300


def test_cli_postgres_wrong_password(pg: Postgres, pg_orders: str, cli_env: dict[str, str]):
    wrong = pg.url_with(password="cli-secret-789")
    proc = run_cli("detect", wrong, "--table", pg_orders, env=cli_env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot connect: password authentication failed" in proc.stderr
    assert "cli-secret-789" not in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://ann:s3cret-pw@db.example/sales",
        "postgresql://ann:s3cret/pw@w@db.example/sales",
        "postgresql://ann@db.example/sales?password=s3cret-pw",
    ],
)
def test_passwords_are_masked_in_every_form(url):
    from pynomaly.redact import mask_uri

    assert "s3cret" not in mask_uri(url)
    assert "db.example" in mask_uri(url) or "?" in url


def test_cli_credentials_file_serves_reading_and_writing_back(
    pg: Postgres, pg_orders: str, tmp_path: Path
) -> None:
    """The password lives only in a credentials file: the command reads the table and writes
    the scores back to the same server with it, and never prints it."""
    from click.testing import CliRunner

    from pynomaly.cli.main import cli

    creds = tmp_path / "db.json"
    creds.write_text(json.dumps({"password": pg.password}))
    url = pg.without_password
    out = pg.name("cli_scores")
    result = CliRunner().invoke(
        cli,
        [
            "detect",
            url,
            "--table",
            pg_orders,
            "--credentials-file",
            str(creds),
            "-o",
            url,
            "--output-table",
            out,
        ],
    )
    assert result.exit_code == 0, result.output
    assert pg.password not in result.output
    assert out in _tables(pg.url)
