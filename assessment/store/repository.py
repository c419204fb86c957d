"""What the repositories of the respondents' data share: one engine, short transactions,
upserts and tokens.

Every write is its own short transaction; reads that take several SELECTs see one
snapshot. A repository is cheap to make: the engine (one per database and process)
carries the connection pool.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine

from ..framework.matrix import Framework
from .engine import get_engine, writer
from .migrations import ensure_schema
from .tokens import new_token  # noqa: F401 - the repositories' one maker of link tokens


def insert(conn: Connection, table: sa.Table):
    """An INSERT with the dialect's ON CONFLICT clauses."""
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database '{dialect}'")


def upsert(conn: Connection, table: sa.Table, row: dict, keys: Sequence[str]) -> None:
    """Insert `row`, or update its non-key columns when a row with the same `keys` exists."""
    stmt = insert(conn, table).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: stmt.excluded[name] for name in row if name not in keys})
    conn.execute(stmt)


class Repository:
    """Base of Assessments, Answers and Responses, on one database (SQLite or PostgreSQL).

    With a `framework`, answers are also checked against it (known steps, levels, tools,
    statements, ratings on the scale); without one only their form is checked.
    Unknown tokens raise LookupError, bad values ValueError; either way nothing is written.
    """

    def __init__(self, engine: Engine, framework: Framework | None = None):
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database '{engine.dialect.name}' (use SQLite or PostgreSQL)")
        self.engine = engine
        self.framework = framework
        self._writer = writer(engine)
        # Several SELECTs must see one snapshot (SQLite's BEGIN already gives one).
        self._reader = (engine.execution_options(isolation_level="REPEATABLE READ")
                        if engine.dialect.name == "postgresql" else engine)
        ensure_schema(engine)

    @classmethod
    def open(cls, url: str | URL | None = None, framework: Framework | None = None):
        """The repository on `url` (default: DATABASE_URL or the SQLite file), sharing the
        process's engine."""
        return cls(get_engine(url), framework)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._reader.connect() as conn:
            yield conn
