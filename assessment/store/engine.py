"""Database connections: one engine per URL, SQLite set up for many readers and one writer.

SQLite (the default, one file) and PostgreSQL (``DATABASE_URL``) are supported. The
schema is ``store/tables.py``; ``store/migrations.py`` creates and migrates it.
"""

from __future__ import annotations

import os
import re
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import StaticPool

DEFAULT_SQLITE_PATH = Path("data") / "assessment.db"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware datetime. Everything is written in UTC; SQLite keeps no time
    zone, and without type information it gives ISO text."""
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def engine_of(db: Any) -> Engine:
    """An Engine, or the engine of anything that has one (a repository)."""
    return getattr(db, "engine", db)


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

