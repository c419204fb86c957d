"""The schema's versions: created and migrated by code, each time in one transaction.

A fresh database gets ``create_all`` (the tables of ``store/tables.py``) and is stamped
with the latest version; an older one runs its pending migrations in order, then
``create_all`` adds the tables that are new since. ``schema_version`` has one row per
applied version.
"""

from __future__ import annotations

import threading
import weakref
from typing import Callable

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

from .engine import check_connection, get_engine, utcnow, writer
from .tables import access_links, assessments, metadata, responses
from .tokens import digest

schema_version = sa.Table(
    "schema_version", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
)


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


def _hash_link_tokens(conn: Connection) -> None:
    """Schema 2: link tokens stored as digests.

    Respondents' personal links keep working (their tokens are stored as digests, looked up
    by digest). An assessment's old share link keeps working as its invite link (it lets
    people answer, no longer see the results); the assessment's key becomes the digest, so
    files exported before still import without duplicates.
    """
    access_links.create(conn, checkfirst=True)
    now = utcnow()
    rows = conn.execute(sa.select(assessments.c.id, assessments.c.token)).all()
    if rows:
        conn.execute(access_links.insert(), [
            {"kind": "invite", "token_hash": digest(token), "assessment_id": id_, "unit_id": None,
             "created_at": now, "created_by": "migration"} for id_, token in rows])
        conn.execute(assessments.update().where(assessments.c.id == sa.bindparam("id_"))
                     .values(token=sa.bindparam("key")), [{"id_": id_, "key": digest(token)} for id_, token in rows])
    rows = conn.execute(sa.select(responses.c.id, responses.c.token)).all()
    for start in range(0, len(rows), 5000):
        conn.execute(responses.update().where(responses.c.id == sa.bindparam("id_"))
                     .values(token=sa.bindparam("key")),
                     [{"id_": id_, "key": digest(token)} for id_, token in rows[start:start + 5000]])


# Ordered: MIGRATIONS[i] brings the schema to version i + 1. Append, never edit or reorder.
# A fresh database gets create_all (the current schema) and is stamped with the latest version.
MIGRATIONS: list[Callable[[Connection], None]] = [
    _create_all,  # 1
    _hash_link_tokens,  # 2: link tokens stored as digests; share links become invite links
]

# Arbitrary constant: serialises concurrent init_db calls on one PostgreSQL database.
_PG_MIGRATION_LOCK = 0x45757261


def current_version(conn: Connection) -> int:
    """The schema version recorded in the database (0 when none)."""
    if not sa.inspect(conn).has_table(schema_version.name):
        return 0
    return conn.execute(sa.select(sa.func.max(schema_version.c.version))).scalar() or 0


def init_db(engine: Engine) -> int:
    """Create or migrate the schema in one transaction; returns the schema version."""
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
            # Tables added to store/tables.py after the last migration are created here.
            metadata.create_all(conn)
        if applied:
            conn.execute(schema_version.insert(),
                         [{"version": number, "applied_at": utcnow()} for number in applied])
    return latest


_initialised: weakref.WeakSet[Engine] = weakref.WeakSet()
_lock = threading.Lock()


def ensure_schema(engine: Engine) -> None:
    """init_db once per engine and process."""
    if engine in _initialised:
        return
    with _lock:
        if engine not in _initialised:
            init_db(engine)
            _initialised.add(engine)


def open_database(url: str | URL | None = None) -> Engine:
    """The process-wide engine for `url` (default: DATABASE_URL or the SQLite file), its
    schema up to date. Bad URLs and unreachable servers raise one ValueError."""
    engine = get_engine(url)
    ensure_schema(engine)
    return engine
