"""Built-in data source and output plugin ``sql``: database tables and queries, via SQLAlchemy.

**Sources** are SQLAlchemy URLs: ``sqlite:///shop.db`` (relative to the working directory),
``sqlite:////abs/shop.db``, ``postgresql://user:pw@host:5432/db``,
``postgresql+psycopg://...``, ``mysql+pymysql://...``, ``mariadb+...``, ``mssql+pyodbc://...``,
``oracle+oracledb://...``. ``postgres://`` is read as ``postgresql://``, and a bare
``postgresql://`` uses psycopg 3 when it is installed (``pip install "pynomaly[postgres]"``).
Other drivers must be installed by the user; a missing one is named in the error.

Source options (``source_options=`` / ``load_data(options=)``; the CLI's ``--table`` and
``--query``):

* ``table`` — a table (or view) to read whole, ``SELECT * FROM <quoted name>``; a dotted name
  that is not a table itself is read as ``schema.table``;
* ``query`` — an SQL query to read (one statement; ``:name`` is a bind parameter);
* exactly one of ``table`` and ``query`` is needed to read;
* ``schema`` — the schema of ``table``;
* ``index_col`` — a column to use as the row index (default: rows are numbered from 0);
* ``credentials_file`` — see below;
* ``connect_timeout`` — seconds to wait for a server (PostgreSQL, MySQL; default 10);
* ``busy_timeout`` — for SQLite, seconds to wait for another process's lock on the database
  (default ``PYNOMALY_SQLITE_BUSY_TIMEOUT``, else 30);
* ``create`` — for SQLite, accept a database file that does not exist yet (to write into it
  with ``write_data``). Without it a missing file is an error: reading never creates one.

**Credentials**, first found wins for each part:

1. the URL itself (``postgresql://user:pw@host/db``); ``${VAR}`` anywhere in the URL is
   replaced by the environment variable ``VAR`` (``postgresql://app:${DB_PW}@db/sales``);
2. option ``credentials_file``: a JSON object or an INI file with a ``[database]`` section,
   with any of the keys ``user`` (or ``username``), ``password``, ``host``, ``port``,
   ``database``; they fill the parts the URL leaves out::

       [database]
       user = app
       password = s3cret

3. the environment variable ``PYNOMALY_DB_PASSWORD`` fills a password still missing.

Passwords are never shown: every message and ``repr`` holds the URL with the password masked
(``postgresql://app:***@db/sales``), and any echo of it in a database message is replaced too.

**Output** ``sql``: :func:`pynomaly_export_data` with ``fmt="sql"`` (or no format and a
database URL as destination) writes the rows' index (column named after the index, ``row`` by
default), ``anomaly_score`` and ``is_anomaly`` to table ``options["table"]``
(``anomaly_scores`` by default; ``options["schema"]`` optional) in one transaction: a failure
leaves nothing behind. An existing table is an error unless ``options["overwrite"]``, which
replaces it (in the same transaction). :func:`pynomaly_write_data` writes any DataFrame the
same way to the table named by ``destination``. A SQLite database file is created if missing.

**Concurrent writers** of one SQLite file wait for each other: a write transaction starts with
``BEGIN IMMEDIATE`` (it takes the write lock first, so two writers never deadlock on upgrading
their read locks, which SQLite reports at once as "database is locked"), and a locked database
is retried for ``busy_timeout`` seconds. A lock held longer raises
:class:`~pynomaly.errors.DatabaseBusyError` (a failure, exit 1, not bad input) saying the
results were not written.

SQLAlchemy and pandas are imported inside the hooks, so listing plugins stays fast.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pynomaly._version import __version__
from pynomaly.errors import DatabaseBusyError, DataError, InputError
from pynomaly.markers import hookimpl
from pynomaly.redact import is_secret_name, mask_uri
from pynomaly.types import Connection, OutputInfo, PluginMetadata, PluginType, SourceInfo

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from sqlalchemy.engine import URL, Engine
    from sqlalchemy.engine import Connection as DBConnection

# URL scheme (the part before "+driver") → hint for installing a driver
SCHEMES: dict[str, str] = {
    "sqlite": "",
    "postgresql": 'pip install "pynomaly[postgres]"',
    "mysql": "pip install pymysql, then use mysql+pymysql://",
    "mariadb": "pip install pymysql, then use mariadb+pymysql://",
    "mssql": "pip install pyodbc",
    "oracle": "pip install oracledb, then use oracle+oracledb://",
}
ALIASES = {"postgres": "postgresql"}
DEFAULT_TABLE = "anomaly_scores"
DEFAULT_CONNECT_TIMEOUT = 10
DEFAULT_BUSY_TIMEOUT = 30.0
ENV_BUSY_TIMEOUT = "PYNOMALY_SQLITE_BUSY_TIMEOUT"
WRITE_CHUNKSIZE = 10_000

_URL = re.compile(r"^(?P<backend>[A-Za-z][A-Za-z0-9]*)(?P<driver>\+[A-Za-z0-9_]+)?://")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_CREDENTIAL_KEYS = {"user", "username", "password", "host", "port", "database"}


@hookimpl
def pynomaly_plugin_metadata() -> PluginMetadata:
    return PluginMetadata(
        name="sql",
        version=__version__,
        plugin_types=[PluginType.DATA_SOURCE, PluginType.OUTPUT],
        author="pynomaly",
        description="SQL databases through SQLAlchemy: read tables and queries, write results",
        pynomaly_compat=f"=={__version__}",
    )


@hookimpl
def pynomaly_data_sources() -> list[SourceInfo]:
    return [
        SourceInfo(
            "sql",
            "a database table or query (SQLAlchemy URL; options table, query)",
            schemes=tuple(SCHEMES) + tuple(ALIASES),
        )
    ]


@hookimpl
def pynomaly_outputs() -> list[OutputInfo]:
    return [OutputInfo("sql", "a database table (destination: a SQLAlchemy URL)")]


# --------------------------------------------------------------------------------------------
# The handle
# --------------------------------------------------------------------------------------------


class SQLSource:
    """An opened database URL: the engine (no connection held) and its masked form.

    ``display`` is the URL with the password masked; ``repr`` shows only that.
    """

    __slots__ = ("_secrets", "busy_timeout", "display", "engine", "url")

    def __init__(
        self, url: URL, display: str, engine: Engine, busy_timeout: float | None = None
    ) -> None:
        self.url = url
        self.display = display
        self.engine = engine
        self.busy_timeout = busy_timeout  # SQLite only
        # the password, and the values of password-like query parameters (?password=...)
        found = [url.password, *(v for k, v in url.query.items() if is_secret_name(k))]
        self._secrets = [v for v in found if isinstance(v, str) and len(v) >= 3]

    def __repr__(self) -> str:
        return f"SQLSource({self.display})"

    def scrub(self, text: str) -> str:
        """``text`` with any occurrence of the password (and of password-like query values)
        masked, and any URL's password too."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return mask_uri(text)

    def fail(self, what: str, exc: BaseException | str) -> DataError | DatabaseBusyError:
        """A one-line error: the masked URL, what failed and the database's reason; a
        :class:`DatabaseBusyError` (a failure, not bad input) when the database stayed locked."""
        reason = exc if isinstance(exc, str) else _reason(exc)
        if not isinstance(exc, str) and _locked(exc):
            timeout = self.busy_timeout
            waited = f" for more than {timeout:g} s" if timeout is not None else ""
            writing = what.startswith("cannot write")
            outcome = "the results were not written" if writing else "nothing was read"
            return DatabaseBusyError(
                self.scrub(
                    f"{self.display}: {what}: the database stayed locked by another "
                    f"process{waited}; {outcome} (retry, or wait longer: "
                    f"source option busy_timeout, {ENV_BUSY_TIMEOUT})"
                )
            )
        return DataError(self.scrub(f"{self.display}: {what}" + (f": {reason}" if reason else "")))


def _reason(exc: BaseException) -> str:
    """The first meaningful line of a (DBAPI) error message."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    text = re.sub(r"^\([\w.]+\)\s*", "", text)  # SQLAlchemy's "(module.Error) " prefix
    text = re.sub(r"^connection failed:\s*", "", text)
    text = re.sub(r"^connection to server at [^,]+, port \d+ failed:\s*", "", text)
    text = re.sub(r"^(FATAL|ERROR):\s*", "", text)
    line = text.splitlines()[0].strip() if text else ""
    if not line:
        return type(exc).__name__
    word = line.split(None, 1)[0]
    return line[0].lower() + line[1:] if word[1:].islower() else line  # not "PostgreSQL"


def _locked(exc: BaseException) -> bool:
    """Whether a database error says another connection holds a lock (SQLite's BUSY)."""
    orig = getattr(exc, "orig", exc)
    text = str(orig).lower()
    return type(orig).__name__ == "OperationalError" and (
        "database is locked" in text or "database table is locked" in text
    )


def busy_timeout(options: Mapping[str, Any], where: str) -> float:
    """Seconds a SQLite connection waits for another's lock: the ``busy_timeout`` option,
    else ``PYNOMALY_SQLITE_BUSY_TIMEOUT``, else :data:`DEFAULT_BUSY_TIMEOUT`."""
    raw = options.get("busy_timeout")
    name = "busy_timeout"
    if raw is None:
        raw, name = os.environ.get(ENV_BUSY_TIMEOUT), ENV_BUSY_TIMEOUT
    if raw is None or raw == "":
        return DEFAULT_BUSY_TIMEOUT
    try:
        value = float(raw)
    except (TypeError, ValueError):
        value = float("nan")
    if not value >= 0 or value == float("inf"):
        raise InputError(f"{where}: {name} must be a number of seconds >= 0, got {raw!r}")
    return value


def _mask_text(uri: str) -> str:
    """The URL with any password masked (the one masker pynomaly uses everywhere)."""
    return mask_uri(uri)


# --------------------------------------------------------------------------------------------
# URLs, credentials and engines
# --------------------------------------------------------------------------------------------


def _backend(uri: str) -> tuple[str, str] | None:
    """``(backend, driver)`` of a database URL this plugin handles, else ``None``."""
    m = _URL.match(uri)
    if m is None:
        return None
    backend = ALIASES.get(m["backend"].lower(), m["backend"].lower())
    if backend not in SCHEMES:
        return None
    return backend, (m["driver"] or "")[1:]


def _expand(text: str, where: str) -> str:
    def value(m: re.Match[str]) -> str:
        found = os.environ.get(m[1])
        if found is None:
            raise InputError(f"{where}: environment variable {m[1]} is not set")
        return found

    return _VAR.sub(value, text)


def _credentials(path: Any) -> dict[str, str]:
    """The ``user``/``password``/``host``/``port``/``database`` of a credentials file."""
    file = Path(os.fspath(path)).expanduser()
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"credentials file {file}: cannot read: {exc.strerror}") from None
    values: Mapping[str, Any]
    if text.lstrip().startswith("{"):
        try:
            values = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(
                f"credentials file {file}: not valid JSON (line {exc.lineno})"
            ) from None
        if not isinstance(values, dict):
            raise InputError(f"credentials file {file}: expected a JSON object")
    else:
        import configparser  # only for INI credentials files

        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text, source=str(file))
        except configparser.Error:
            raise InputError(
                f"credentials file {file}: neither a JSON object nor an INI file "
                "with a [database] section"
            ) from None
        if not parser.has_section("database"):
            raise InputError(f"credentials file {file}: no [database] section")
        values = dict(parser.items("database"))
    unknown = sorted(set(values) - _CREDENTIAL_KEYS)
    if unknown:
        raise InputError(
            f"credentials file {file}: unknown keys {', '.join(unknown)} "
            f"(known: {', '.join(sorted(_CREDENTIAL_KEYS))})"
        )
    out = {("user" if k == "username" else k): str(v) for k, v in values.items() if v is not None}
    return out


def _url(uri: str, options: Mapping[str, Any]) -> tuple[URL, str]:
    """The URL to connect to (credentials filled in, driver chosen) and its masked form."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    where = _mask_text(uri)
    parsed = _backend(uri)
    assert parsed is not None
    backend, driver = parsed
    text = _URL.sub(f"{backend}{'+' + driver if driver else ''}://", uri, count=1)
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        url = None
    if url is None and "${" in text:  # ${VAR} where SQLAlchemy wants a number (the port)
        text = _expand(text, where)
        with contextlib.suppress(ArgumentError, ValueError):
            url = make_url(text)
    if url is None:
        raise InputError(f"{where}: not a valid database URL")
    if url.host and "@" in url.host:
        raise InputError(
            f"{where}: not a valid database URL: write an '@' in a user name or password as %40"
        )
    parts = {
        "username": url.username,
        "password": url.password,
        "host": url.host,
        "database": url.database,
    }
    changes: dict[str, Any] = {
        k: _expand(v, where) for k, v in parts.items() if isinstance(v, str) and "${" in v
    }
    if any("${" in v for v in url.query.values() if isinstance(v, str)):
        changes["query"] = {
            k: _expand(v, where) if isinstance(v, str) else v for k, v in url.query.items()
        }
    if changes:
        url = url.set(**changes)
    if backend != "sqlite":
        filled: dict[str, Any] = {}
        if options.get("credentials_file"):
            creds = _credentials(options["credentials_file"])
            for key, attr in (
                ("user", "username"),
                ("password", "password"),
                ("host", "host"),
                ("database", "database"),
            ):
                if key in creds and getattr(url, attr) in (None, ""):
                    filled[attr] = creds[key]
            if "port" in creds and url.port is None:
                try:
                    filled["port"] = int(creds["port"])
                except ValueError:
                    raise InputError(
                        f"credentials file {options['credentials_file']}: port is not a number"
                    ) from None
        if url.password is None and "password" not in filled:
            env_password = os.environ.get("PYNOMALY_DB_PASSWORD")
            if env_password:
                filled["password"] = env_password
        if filled:
            url = url.set(**filled)
    display = mask_uri(url.render_as_string(hide_password=True))  # ?password= too
    if backend == "postgresql" and not driver and importlib.util.find_spec("psycopg"):
        url = url.set(drivername="postgresql+psycopg")  # psycopg 3 rather than psycopg2
    return url, display


def _engine(
    url: URL, display: str, options: Mapping[str, Any], busy: float | None = None
) -> Engine:
    """An engine without a pool: each use opens and closes its own database connection."""
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    backend = url.get_backend_name()
    connect_args: dict[str, Any] = {}
    if backend == "sqlite" and busy is not None:
        connect_args["timeout"] = busy  # sqlite3's busy handler retries this long
    if backend in ("postgresql", "mysql", "mariadb") and "connect_timeout" not in url.query:
        timeout = options.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
        try:
            connect_args["connect_timeout"] = int(timeout)
        except (TypeError, ValueError):
            raise InputError(
                f"{display}: connect_timeout must be a whole number of seconds, got {timeout!r}"
            ) from None
    try:
        engine = sa.create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except ImportError as exc:
        hint = SCHEMES.get(backend, "")
        raise DataError(
            f"{display}: database driver not installed ({exc})" + (f"; {hint}" if hint else "")
        ) from None
    except sa.exc.ArgumentError as exc:
        raise DataError(f"{display}: unsupported database URL: {_reason(exc)}") from None
    if backend == "sqlite":
        _transactional_sqlite(engine)
    return engine


_WRITING = "pynomaly_writing"  # execution option of connections that write


def _transactional_sqlite(engine: Engine) -> None:
    """Make SQLite transactions cover DDL too (CREATE/DROP TABLE), so writes are atomic.

    Python's sqlite3 driver begins transactions itself, but only before INSERT/UPDATE/DELETE:
    a CREATE TABLE would commit on its own. SQLAlchemy's documented remedy: let the driver do
    nothing and emit BEGIN at the start of every SQLAlchemy transaction.
    """
    from sqlalchemy import event

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Any) -> None:
        # a writer takes the write lock up front: two deferred transactions that both read
        # (has_table) and then write deadlock, and SQLite fails one at once, without waiting
        writing = conn.get_execution_options().get(_WRITING, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")


def _open_source(uri: str, options: Mapping[str, Any], *, create: bool) -> SQLSource:
    url, display = _url(uri, options)
    busy = None
    if url.get_backend_name() == "sqlite":
        busy = busy_timeout(options, display)
        database = url.database or ""
        if database and database != ":memory:" and not url.query.get("uri"):
            path = Path(database)
            if path.is_dir():
                raise DataError(f"{display}: {database} is a directory, not a database file")
            if not path.exists() and not create:
                shown = "" if path.is_absolute() else f" ({path.resolve()})"
                raise DataError(f"{display}: no such database file{shown}")
    return SQLSource(url, display, _engine(url, display, options, busy), busy)


@contextlib.contextmanager
def _connection(src: SQLSource) -> Iterator[DBConnection]:
    """An open database connection; failing to open one is a one-line DataError."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        conn = src.engine.connect()
    except SQLAlchemyError as exc:
        raise src.fail("cannot connect", exc) from None
    with conn:
        yield conn


@contextlib.contextmanager
def _failing(src: SQLSource, what: str) -> Iterator[None]:
    """Turn database errors into a one-line DataError saying ``what`` failed."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        raise src.fail(what, exc) from None
    except Exception as exc:  # pandas wraps them: DatabaseError("Execution failed on sql ...")
        if isinstance(exc.__cause__, SQLAlchemyError) and not isinstance(exc, InputError):
            raise src.fail(what, exc.__cause__) from None
        raise


# --------------------------------------------------------------------------------------------
# Data source hooks
# --------------------------------------------------------------------------------------------


@hookimpl
def pynomaly_connect(uri: str, options: Mapping[str, Any]) -> SQLSource | None:
    if _backend(uri) is None:
        return None
    src = _open_source(uri, options, create=bool(options.get("create")))
    if options.get("table") is not None and options.get("query") is not None:
        raise InputError(f"{src.display}: give either --table or --query, not both")
    return src


def _what(src: SQLSource, connection: Connection, query: Mapping[str, Any]) -> dict[str, Any]:
    """The options of this read: the query's ``table``/``query`` win over the connection's."""
    opts = {**connection.options, **query}
    if "table" in query or "query" in query:
        opts["table"], opts["query"] = query.get("table"), query.get("query")
    table, sql = opts.get("table"), opts.get("query")
    if table is None and sql is None:
        raise InputError(
            f"{src.display}: give --table or --query (source option 'table' or 'query')"
        )
    if table is not None and sql is not None:
        raise InputError(f"{src.display}: give either --table or --query, not both")
    for key in ("table", "query", "schema"):
        value = opts.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise InputError(f"{src.display}: {key} must be a non-empty string, got {value!r}")
    return opts


def _table(src: SQLSource, conn: DBConnection, name: str, schema: str | None) -> Any:
    """The SQLAlchemy table clause of an existing table or view, or a DataError naming the
    tables there are."""
    import sqlalchemy as sa

    with _failing(src, "cannot list tables"):
        inspector = sa.inspect(conn)
        if inspector.has_table(name, schema=schema):
            return sa.table(name, schema=schema)
        if schema is None and "." in name:
            owner, _, short = name.partition(".")
            if inspector.has_table(short, schema=owner):
                return sa.table(short, schema=owner)
        names = sorted(inspector.get_table_names(schema=schema))
        names += sorted(inspector.get_view_names(schema=schema))
    known = ", ".join(names[:20]) + (", …" if len(names) > 20 else "") if names else "none"
    where = f" in schema {schema!r}" if schema else ""
    raise DataError(f"{src.display}: table {name!r} does not exist{where} (tables: {known})")


def _selectable(src: SQLSource, conn: DBConnection, opts: Mapping[str, Any]) -> Any:
    import sqlalchemy as sa

    if opts.get("query") is not None:
        return sa.text(opts["query"])
    table = _table(src, conn, opts["table"], opts.get("schema"))
    return sa.select(sa.literal_column("*")).select_from(table)


def _failure(opts: Mapping[str, Any]) -> str:
    if opts.get("query") is not None:
        return "query failed"
    return f"cannot read table {opts['table']!r}"


@hookimpl
def pynomaly_read_data(connection: Connection, query: Mapping[str, Any]) -> Any:
    import pandas as pd

    src: SQLSource = connection.handle
    opts = _what(src, connection, query)
    with _connection(src) as conn:
        statement = _selectable(src, conn, opts)
        with _failing(src, _failure(opts)):
            return _read(pd.read_sql, src, statement, conn, index_col=opts.get("index_col"))


def _read(reader: Any, src: SQLSource, *args: Any, **kwargs: Any) -> Any:
    """Call a pandas reader; its own errors (a bad ``index_col``) become DataErrors."""
    try:
        return reader(*args, **kwargs)
    except (KeyError, ValueError, TypeError) as exc:
        if isinstance(exc, InputError):
            raise
        raise src.fail("cannot read", f"{type(exc).__name__}: {exc}") from None


@hookimpl
def pynomaly_read_batches(
    connection: Connection, query: Mapping[str, Any], batch_size: int
) -> Iterator[pd.DataFrame]:
    import pandas as pd

    src: SQLSource = connection.handle
    opts = _what(src, connection, query)
    stack = contextlib.ExitStack()
    try:
        conn = stack.enter_context(_connection(src))
        statement = _selectable(src, conn, opts)
        with _failing(src, _failure(opts)):
            streaming = conn.execution_options(stream_results=True)
            chunks = _read(
                pd.read_sql,
                src,
                statement,
                streaming,
                index_col=opts.get("index_col"),
                chunksize=batch_size,
            )
    except BaseException:
        stack.close()
        raise
    return _Batches(src, stack, chunks, renumber=opts.get("index_col") is None, what=_failure(opts))


class _Batches:
    """The chunks of a streaming read, numbered on from one to the next (as one read would
    number them). The database connection closes after the last chunk, on an error, on
    :meth:`close`, or when the iterator is dropped."""

    def __init__(
        self, src: SQLSource, stack: contextlib.ExitStack, chunks: Any, *, renumber: bool, what: str
    ) -> None:
        self._src, self._stack, self._chunks = src, stack, iter(chunks)
        self._renumber, self._what, self._start = renumber, what, 0

    def __iter__(self) -> _Batches:
        return self

    def __next__(self) -> pd.DataFrame:
        import pandas as pd

        try:
            with _failing(self._src, self._what):
                chunk = next(self._chunks)
        except BaseException:
            self.close()
            raise
        if self._renumber:
            chunk.index = pd.RangeIndex(self._start, self._start + len(chunk))
        self._start += len(chunk)
        return chunk

    def close(self) -> None:
        self._stack.close()

    def __del__(self) -> None:
        self.close()


@hookimpl
def pynomaly_get_schema(connection: Connection) -> dict[str, str]:
    """Column types: the database's for a table, pandas' (of the first rows) for a query."""
    import pandas as pd
    import sqlalchemy as sa

    src: SQLSource = connection.handle
    opts = _what(src, connection, {})
    with _connection(src) as conn:
        if opts.get("query") is None:
            table = _table(src, conn, opts["table"], opts.get("schema"))
            with _failing(src, f"cannot read the columns of table {opts['table']!r}"):
                columns = sa.inspect(conn).get_columns(table.name, schema=table.schema)
            return {str(c["name"]): str(c["type"]) for c in columns}
        with _failing(src, "query failed"):
            first = next(iter(pd.read_sql(sa.text(opts["query"]), conn, chunksize=1000)))
    return {str(c): str(t) for c, t in first.dtypes.items()}


@hookimpl
def pynomaly_test_connection(connection: Connection) -> bool:
    import sqlalchemy as sa

    src: SQLSource = connection.handle
    opts = {**connection.options}
    with _connection(src) as conn:
        with _failing(src, "cannot run a query"):
            conn.execute(sa.select(sa.literal(1))).all()
        if opts.get("table") is not None:
            _table(src, conn, opts["table"], opts.get("schema"))
    return True


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def _write(src: SQLSource, frame: Any, table: Any, options: Mapping[str, Any]) -> None:
    """Write ``frame`` with its index to ``table`` in one transaction."""
    import sqlalchemy as sa

    if not isinstance(table, str) or not table.strip():
        raise InputError(f"{src.display}: the table to write must be a non-empty name")
    schema = options.get("schema")
    overwrite = bool(options.get("overwrite"))
    chunksize = int(options.get("chunksize") or WRITE_CHUNKSIZE)
    names = list(frame.index.names)
    if len(names) == 1:
        label: Any = names[0] if names[0] is not None else "row"
    else:
        label = [n if n is not None else f"row_{i}" for i, n in enumerate(names)]
    shown = f"{schema}.{table}" if schema else table
    with _connection(src) as conn:
        conn.execution_options(**{_WRITING: True})
        try:
            with _failing(src, f"cannot write table {shown!r}"), conn.begin():
                exists = sa.inspect(conn).has_table(table, schema=schema)
                if exists and not overwrite:
                    raise InputError(
                        f"{src.display}: table {shown!r} already exists "
                        "(use --overwrite / overwrite=True to replace it)"
                    )
                frame.to_sql(
                    table,
                    conn,
                    schema=schema,
                    if_exists="replace" if exists else "fail",
                    index=True,
                    index_label=label,
                    chunksize=chunksize,
                )
        except InputError:
            raise
        except (ValueError, TypeError) as exc:  # pandas' own checks (duplicate names ...)
            raise src.fail(f"cannot write table {shown!r}", str(exc)) from None


@hookimpl
def pynomaly_write_data(
    connection: Connection, data: Any, destination: str, options: Mapping[str, Any]
) -> bool:
    _write(connection.handle, data, destination, options)
    return True


@hookimpl
def pynomaly_export_data(
    result: Any, destination: str, fmt: str | None, options: Mapping[str, Any]
) -> bool | None:
    is_url = _backend(destination) is not None
    if fmt not in (None, "", "sql") or (fmt != "sql" and not is_url):
        return None
    if not is_url:
        raise InputError(
            f"{_mask_text(destination)}: format sql needs a database URL "
            f"(schemes: {', '.join(f'{s}://' for s in SCHEMES)})"
        )
    src = _open_source(destination, options, create=True)
    frame = result.to_frame()
    _write(src, frame, options.get("table") or DEFAULT_TABLE, options)
    return True
