"""Schema versions on SQLite and PostgreSQL: created once, migrated in order, all or nothing."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from assessment.framework.responses import Response, StepAnswer
from assessment.store import migrations
from assessment.store.assessments import Assessments
from assessment.store.engine import utcnow
from assessment.store.migrations import init_db
from assessment.store.responses import Responses

SAMPLE = Response(unit="Örebro kommun", year=2024, side="civil_society", role="ordförande",
                  steps={"agenda": StepAnswer(level="dialogue", tools=["citizens_forums"])},
                  ratings={"independence.criticism": 3}, comments={"general": "Bra samarbete."})


def current_versions(engine) -> list[int]:
    with engine.connect() as conn:
        return conn.execute(sa.select(migrations.schema_version.c.version)
                            .order_by(migrations.schema_version.c.version)).scalars().all()


def test_init_db_is_idempotent_and_records_the_version(engine):
    assert current_versions(engine) == [len(migrations.MIGRATIONS)]
    responses = Responses(engine)
    token = responses.add_response(SAMPLE)
    assert init_db(engine) == len(migrations.MIGRATIONS)
    init_db(engine)
    assert current_versions(engine) == [len(migrations.MIGRATIONS)]
    assert responses.get_response(token).response == SAMPLE


def test_pending_migrations_run_once_in_order(engine, monkeypatch):
    latest = len(migrations.MIGRATIONS)
    calls: list[int] = []

    def add_note_column(conn):
        calls.append(latest + 1)
        migrations.add_column(conn, "units", sa.Column("note", sa.String(100), nullable=True))

    def fill_note(conn):
        calls.append(latest + 2)
        conn.execute(sa.text("UPDATE units SET note = 'migrated'"))

    Assessments(engine).ensure_unit("Lund")
    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, add_note_column, fill_note])
    assert init_db(engine) == latest + 2
    assert init_db(engine) == latest + 2
    assert calls == [latest + 1, latest + 2]  # each once, in order
    assert current_versions(engine) == [latest, latest + 1, latest + 2]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT note FROM units")).scalars().all() == ["migrated"]


def test_failed_migration_changes_nothing(engine, monkeypatch):
    latest = len(migrations.MIGRATIONS)

    def half_done(conn):
        migrations.add_column(conn, "units", sa.Column("note", sa.String(100), nullable=True))
        raise RuntimeError("migration bug")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*migrations.MIGRATIONS, half_done])
    with pytest.raises(RuntimeError, match="migration bug"):
        init_db(engine)
    assert current_versions(engine) == [latest]
    with engine.connect() as conn:
        assert "note" not in {c["name"] for c in sa.inspect(conn).get_columns("units")}


def test_newer_schema_than_the_program_is_refused(engine):
    with engine.begin() as conn:
        conn.execute(migrations.schema_version.insert().values(version=len(migrations.MIGRATIONS) + 5,
                                                       applied_at=utcnow()))
    with pytest.raises(RuntimeError, match="newer than this program"):
        init_db(engine)
