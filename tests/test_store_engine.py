"""Database URLs, engines and SQLite settings."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from assessment.store import migrations
from assessment.store.assessments import Assessments
from assessment.store.engine import database_url, get_engine, make_engine, normalize_url
from assessment.store.migrations import init_db, open_database
from pg_server import free_port


def test_database_url_defaults_to_a_sqlite_file(monkeypatch, tmp_path):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ASSESSMENT_DB", str(tmp_path / "x" / "a.db"))
    assert database_url() == f"sqlite:///{tmp_path / 'x' / 'a.db'}"

    monkeypatch.delenv("ASSESSMENT_DB")
    monkeypatch.chdir(tmp_path)
    assert database_url() == f"sqlite:///{tmp_path.resolve() / 'data' / 'assessment.db'}"

    monkeypatch.setenv("DATABASE_URL", "postgresql://u@db.example/assessment")
    assert database_url() == "postgresql://u@db.example/assessment"


@pytest.mark.parametrize("url", [
    "postgresql://u:pw@localhost:5433/assessment",
    "postgres://u:pw@localhost:5433/assessment",
    "postgresql+psycopg://u:pw@localhost:5433/assessment",
])
def test_postgresql_urls_use_psycopg3(url):
    parsed = normalize_url(url)
    assert parsed.drivername == "postgresql+psycopg"
    assert (parsed.username, parsed.password, parsed.host, parsed.port, parsed.database) == \
        ("u", "pw", "localhost", 5433, "assessment")
    assert make_engine(url).dialect.driver == "psycopg"  # no connection is made yet


@pytest.mark.parametrize("url, reason", [
    ("not a url", "not a valid URL"),
    ("", "not a valid URL"),
    ("mysql://u:secret@localhost/db", "unsupported database 'mysql'"),
    ("postgresql+psycopg2://u:secret@localhost/db", "driver 'psycopg2' is not installed"),
    ("postgresql://u:secret@localhost:port/db", "not a valid URL"),
    ("postgresql://u:secret@localhost", "no database name"),
    ("sqlite+pysqlcipher:///a.db", "driver 'pysqlcipher' is not supported"),
])
def test_bad_urls_give_one_clear_error(url, reason):
    with pytest.raises(ValueError) as caught:
        make_engine(url)
    message = str(caught.value)
    assert message.startswith("DATABASE_URL '")
    assert reason in message
    assert "secret" not in message  # the password is never shown
    error = caught.value  # no chained traceback ("During handling of the above exception...")
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)


def test_bad_database_url_in_the_environment(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgress://u@host/db")
    with pytest.raises(ValueError, match="DATABASE_URL 'postgress://u@host/db' cannot be used: "
                                         "unsupported database 'postgress'"):
        open_database()


def test_unreachable_server_is_one_clear_error():
    url = f"postgresql://u:secret@127.0.0.1:{free_port()}/assessment"  # nothing listens there
    engine = make_engine(url)
    try:
        with pytest.raises(ValueError, match=r"DATABASE_URL 'postgresql\+psycopg://u:\*\*\*@127\.0\.0\.1:"
                                             r"\d+/assessment' cannot be used: cannot connect") as caught:
            init_db(engine)
        assert "secret" not in str(caught.value)
    finally:
        engine.dispose()


def test_sqlite_file_that_cannot_be_opened(tmp_path):
    (tmp_path / "taken").mkdir()  # a folder where the file should be
    engine = make_engine(f"sqlite:///{tmp_path / 'taken'}")
    with pytest.raises(ValueError, match="cannot connect"):
        init_db(engine)


def test_sqlite_folder_that_cannot_be_created(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(ValueError, match="cannot create folder"):
        make_engine(f"sqlite:///{tmp_path / 'file' / 'sub' / 'a.db'}")


def pragma(engine, name: str):
    with engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_engine_settings(tmp_path):
    path = tmp_path / "new" / "folder" / "a.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        init_db(engine)
        assert path.is_file()  # the parent folders were created
        assert pragma(engine, "journal_mode") == "wal"
        assert pragma(engine, "busy_timeout") == 30000
        assert pragma(engine, "foreign_keys") == 1
        assert pragma(engine, "synchronous") == 1  # NORMAL
        with pytest.raises(sa.exc.IntegrityError):  # foreign keys are enforced
            with engine.begin() as conn:
                conn.exec_driver_sql("INSERT INTO ratings (response_id, statement_key, value, dont_know) "
                                     "VALUES (12345, 'a.b', 1, 0)")
    finally:
        engine.dispose()


def test_sqlite_transactions_roll_back_reads_and_ddl(tmp_path):
    """We emit BEGIN ourselves, so DDL is rolled back too (sqlite3 alone would autocommit it)."""
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        with pytest.raises(RuntimeError):
            with engine.begin() as conn:
                conn.exec_driver_sql("CREATE TABLE scratch (x INTEGER)")
                raise RuntimeError("abort")
        assert not sa.inspect(engine).has_table("scratch")
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_one_database(tmp_path):
    engine = make_engine("sqlite://")
    try:
        assessment = Assessments(engine).create_assessment("Lund", 2022)
        assert Assessments(engine).get_assessment(assessment.token) == assessment
    finally:
        engine.dispose()


def test_engines_are_cached_per_url(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'a.db'}"
    first = get_engine(url)
    assert get_engine(url) is first
    assert get_engine(f"sqlite:///{tmp_path / 'b.db'}") is not first
    assert get_engine("postgres://u@h/db") is get_engine("postgresql+psycopg://u@h/db")
    monkeypatch.chdir(tmp_path)
    assert get_engine("sqlite:///a.db") is first  # relative paths are made absolute
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ASSESSMENT_DB", str(tmp_path / "a.db"))
    assert get_engine() is first
    assert open_database() is first
    assert Assessments.open(url).engine is first


def test_opening_a_repository_creates_the_schema_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assessments = Assessments.open(url)
    assessments.create_assessment("Lund", 2022)
    assert Path(tmp_path / "fresh.db").is_file()
    with assessments.engine.connect() as conn:
        versions = conn.execute(sa.select(migrations.schema_version.c.version)).scalars().all()
    assert versions == [len(migrations.MIGRATIONS)]
    assert [a.unit for a in Assessments.open(url).list_assessments()] == ["Lund"]
