"""Database connection and schema: one engine per URL, versioned migrations.

SQLite (the default, one file) and PostgreSQL (``DATABASE_URL``) are supported.
Every area declares its tables on :data:`metadata` in its own module;
:func:`init_db` imports those modules and brings the schema up to date.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
import weakref
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Sequence

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

# Named constraints, so that later migrations can refer to (and drop) them by name.
metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

# Modules that put tables on `metadata`; imported by init_db.
TABLE_MODULES = ("assessment.store.responses", "assessment.workshop.repository", "assessment.regional.followup",
                 "assessment.regional.summaries")

DEFAULT_SQLITE_PATH = Path("data") / "assessment.db"

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# --- URLs --------------------------------------------------------------------------------------

def database_url() -> str:
    """DATABASE_URL, else a SQLite file at ASSESSMENT_DB (default ./data/assessment.db)."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    path = Path(os.environ.get("ASSESSMENT_DB") or DEFAULT_SQLITE_PATH)
    return f"sqlite:///{path.expanduser().resolve()}"


def _masked(url: str) -> str:
    """The URL as it may be shown: without its password."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _bad_url(url: str, reason: str) -> ValueError:
    return ValueError(f"DATABASE_URL '{_masked(url)}' cannot be used: {reason}")


def normalize_url(url: str | URL) -> URL:
    """Parse a database URL; PostgreSQL URLs of any spelling use the psycopg 3 driver.

    Raises ValueError naming the URL (password hidden) and the reason.
    """
    text = url if isinstance(url, str) else url.render_as_string(hide_password=False)
    try:
        parsed = sa.make_url(text.strip())
    except (ArgumentError, ValueError) as exc:
        raise _bad_url(text, f"not a valid URL ({exc}); "
                             "expected e.g. sqlite:///data/assessment.db or "
                             "postgresql://user:password@host/dbname") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgres", "postgresql"):
        if driver not in ("", "psycopg"):
            raise _bad_url(text, f"driver '{driver}' is not installed; use postgresql:// (psycopg 3)")
        if not parsed.database:
            raise _bad_url(text, "no database name (postgresql://user:password@host/dbname)")
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if driver not in ("", "pysqlite"):
            raise _bad_url(text, f"driver '{driver}' is not supported; use sqlite:///path/to/file.db")
        parsed = parsed.set(drivername="sqlite")
        if not _is_memory(parsed) and "uri" not in parsed.query:
            # Absolute: one engine per file, whatever the working directory.
            parsed = parsed.set(database=str(Path(parsed.database).expanduser().resolve()))
        return parsed
    raise _bad_url(text, f"unsupported database '{backend}'; use sqlite:/// or postgresql://")


# --- engines -----------------------------------------------------------------------------------

def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def _sqlite_engine(url: URL, raw: str) -> Engine:
    if _is_memory(url):
        # One shared connection, or each checkout would see its own empty database.
        engine = sa.create_engine(url, poolclass=StaticPool,
                                  connect_args={"check_same_thread": False})
    else:
        path = Path(url.database)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _bad_url(raw, f"cannot create folder '{path.parent}': {exc.strerror or exc}") from None
        # Streamlit serves sessions from several threads; the pool keeps each connection to one.
        engine = sa.create_engine(url, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # We emit BEGIN ourselves (below): sqlite3's own handling skips it for SELECTs,
        # which breaks consistent reads and transactional DDL.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA busy_timeout = 30000")  # first: the others may wait for a lock
            cursor.execute("PRAGMA journal_mode = WAL")  # readers do not block the writer
            cursor.execute("PRAGMA synchronous = NORMAL")  # safe with WAL, far fewer fsyncs
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Writers take the write lock up front (BEGIN IMMEDIATE) so busy_timeout applies;
        # a deferred read transaction upgrading to write fails at once with "database is locked".
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _as_text(url: str | URL | None) -> str:
    if url is None:
        return database_url()
    return url if isinstance(url, str) else url.render_as_string(hide_password=False)


def make_engine(url: str | URL | None = None) -> Engine:
    """A new engine for `url` (default: database_url()). Bad URLs raise one ValueError."""
    raw = _as_text(url)
    parsed = normalize_url(raw)
    if parsed.drivername == "sqlite":
        return _sqlite_engine(parsed, raw)
    try:
        # pre_ping: a server restart or idle timeout must not surface as an error on screen.
        return sa.create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise _bad_url(raw, str(exc)) from None


def writer(engine: Engine) -> Engine:
    """The engine for write transactions (SQLite: BEGIN IMMEDIATE)."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


_engines: dict[str, Engine] = {}
_initialised: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = threading.Lock()


def get_engine(url: str | URL | None = None) -> Engine:
    """The process-wide engine for `url`, created once (Streamlit reruns scripts often)."""
    raw = _as_text(url)
    key = normalize_url(raw).render_as_string(hide_password=False)
    with _lock:
        engine = _engines.get(key)
        if engine is None:
            engine = _engines[key] = make_engine(raw)
        return engine


def ensure_schema(engine: Engine) -> None:
    """init_db once per engine and process."""
    if engine in _initialised:
        return
    with _lock:
        if engine not in _initialised:
            init_db(engine)
            _initialised.add(engine)


# --- bulk writes --------------------------------------------------------------------------------

def bulk_insert(conn: Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert rows (tuples of the `columns`, JSON as text) straight through the driver.

    SQLAlchemy's per-row parameter handling cost more than the database for millions of
    ratings; PostgreSQL gets COPY, SQLite one executemany. No rows: nothing is sent.
    """
    if not rows:
        return
    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(column) for column in columns)
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            with cursor.copy(f"COPY {quote(table.name)} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) VALUES ({marks})", rows)


# --- schema migrations ------------------------------------------------------------------------

def _create_all(conn: Connection) -> None:
    metadata.create_all(conn)


def add_column(conn: Connection, table: str, column: sa.Column) -> None:
    """Add `column` to `table` unless it is there already (for migrations)."""
    existing = {c["name"] for c in sa.inspect(conn).get_columns(table)}
    if column.name in existing:
        return
    ddl_type = column.type.compile(dialect=conn.dialect)
    name = conn.dialect.identifier_preparer.quote(column.name)
    table_name = conn.dialect.identifier_preparer.quote(table)
    null = "" if column.nullable else " NOT NULL"
    default = ""
    if column.server_default is not None:
        default = f" DEFAULT {column.server_default.arg}"
    conn.exec_driver_sql(f"ALTER TABLE {table_name} ADD COLUMN {name} {ddl_type}{default}{null}")


# Ordered: MIGRATIONS[i] brings the schema to version i + 1. Append, never edit or reorder.
# A fresh database gets create_all (the current schema) and is stamped with the latest version.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _create_all,  # 1
]

# Arbitrary constant: serialises concurrent init_db calls on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x45757261


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database (0 when none)."""
    if not sa.inspect(conn).has_table(schema_version.name):
        return 0
    return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0


def check_connection(engine: Engine) -> None:
    """Connect once; a refused connection or unopenable file becomes one ValueError."""
    try:
        with engine.connect():
            pass
    except sa.exc.DBAPIError as exc:
        lines = str(exc.orig or exc).strip().splitlines()
        reason = lines[0] if lines else type(exc.orig or exc).__name__
        raise _bad_url(engine.url.render_as_string(hide_password=False),
                       f"cannot connect ({reason})") from None


def init_db(engine: Engine) -> int:
    """Create or migrate the schema in one transaction; returns the schema version."""
    for module in TABLE_MODULES:
        importlib.import_module(module)
    check_connection(engine)
    latest = len(MIGRATIONS)
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
        version = current_version(conn)
        if version > latest:
            raise RuntimeError(f"the database schema is version {version}, newer than this "
                               f"program knows ({latest}); update the program")
        if version == 0:
            metadata.create_all(conn)
            applied = [latest]
        else:
            applied = list(range(version + 1, latest + 1))
            for number in applied:
                MIGRATIONS[number - 1](conn)
            # Tables added to a module after the last migration are created here.
            metadata.create_all(conn)
        if applied:
            conn.execute(schema_version.insert(),
                         [{"version": number, "applied_at": utcnow()} for number in applied])
    return latest
