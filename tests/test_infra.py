"""The test machinery itself: real PostgreSQL, isolated databases, a clean server stop,
and a real browser rendering the running app."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from pg_server import PostgresServer

HELPER = Path(__file__).with_name("pg_server.py")


def _accepts_connections(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_pg_url_is_a_real_postgresql_database_of_its_own(pg_url):
    engine = sa.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sa.text("SHOW server_version")).scalar_one()
            database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert engine.dialect.name == "postgresql"
    assert int(version.split(".")[0]) >= 13  # DROP DATABASE ... WITH (FORCE) needs 13
    assert database == sa.engine.make_url(pg_url).database
    assert database != "postgres"


_seen_databases: list[str] = []


@pytest.mark.parametrize("turn", ["first", "second"])
def test_each_test_gets_an_empty_database_and_the_last_one_is_dropped(pg_url, turn):
    engine = sa.create_engine(pg_url)
    try:
        with engine.begin() as conn:
            tables = sa.inspect(conn).get_table_names()
            earlier_still_there = conn.execute(
                sa.text("SELECT datname FROM pg_database WHERE datname = ANY(:names)"),
                {"names": _seen_databases}).scalars().all()
            conn.execute(sa.text("CREATE TABLE left_behind (note text)"))
            conn.execute(sa.text("INSERT INTO left_behind VALUES (:turn)"), {"turn": turn})
            name = conn.execute(sa.text("SELECT current_database()")).scalar_one()
    finally:
        engine.dispose()
    assert tables == []
    assert earlier_still_there == []
    assert name not in _seen_databases
    _seen_databases.append(name)


def test_engine_fixture_has_the_schema_on_each_backend(engine, db_url):
    expected = "sqlite" if db_url.startswith("sqlite") else "postgresql"
    assert engine.dialect.name == expected
    assert "schema_version" in sa.inspect(engine).get_table_names()


def test_sqlite_url_is_a_file_in_the_test_temp_dir(sqlite_url, tmp_path):
    path = Path(sa.engine.make_url(sqlite_url).database)
    assert path.parent == tmp_path
    assert not path.exists()


@pytest.mark.postgres
def test_server_stop_closes_the_port_and_removes_the_data():
    server = PostgresServer().start()
    port, tmpdir = server.port, server.tmpdir
    try:
        assert _accepts_connections(port)
        assert (tmpdir / "data" / "PG_VERSION").is_file()
    finally:
        server.stop()
    assert not _accepts_connections(port)
    assert not tmpdir.exists()


@pytest.mark.postgres
def test_run_wrapper_passes_the_url_and_exit_code_and_stops_the_server(tmp_path):
    # The child reports the URL it got, checks the server answers, then exits with 3.
    script = tmp_path / "child.py"
    report = tmp_path / "url.txt"
    script.write_text(
        "import os, sys, psycopg\n"
        "url = os.environ['TEST_DATABASE_URL']\n"
        f"open({str(report)!r}, 'w').write(url)\n"
        "with psycopg.connect(url.replace('+psycopg', '')) as conn:\n"
        "    conn.execute('SELECT 1')\n"
        "sys.exit(3)\n")
    env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_URL"}
    result = subprocess.run([sys.executable, str(HELPER), "run", "--", sys.executable, str(script)],
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stdout + result.stderr
    url = sa.engine.make_url(report.read_text())
    assert url.drivername == "postgresql+psycopg"
    assert url.host == "127.0.0.1"
    assert not _accepts_connections(url.port)


def test_browser_renders_the_running_app(streamlit_server, page):
    page.goto(streamlit_server.url)
    page.get_by_text("Språk / Language").wait_for()
    assert page.title() == "Samverkansanalys"
    page.get_by_role("link", name="Frågeformulär").wait_for()

    page.goto(f"{streamlit_server.url}/?lang=en")
    page.get_by_role("link", name="Questionnaire").wait_for()


def test_streamlit_server_restarts_on_the_same_address_with_new_env(start_streamlit, page):
    server = start_streamlit()
    old_process = server.process
    server.restart(env={"EXTRA_SETTING": "1"})
    assert server.process is not old_process
    assert old_process.poll() is not None
    environ = Path(f"/proc/{server.process.pid}/environ").read_bytes().split(b"\0")
    assert b"EXTRA_SETTING=1" in environ
    assert f"ASSESSMENT_DB={server.db_path}".encode() in environ
    page.goto(server.url)
    page.get_by_text("Språk / Language").wait_for()


def test_streamlit_server_moves_to_another_port_when_its_port_is_taken(tmp_path):
    from conftest import StreamlitServer

    server = StreamlitServer(tmp_path)
    taken = server.port
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", taken))
        squatter.listen()
        try:
            server.start()
            assert server.port != taken
            assert server.url.endswith(f":{server.port}")
            assert server.process.poll() is None
        finally:
            server.stop()
    assert f"Port {taken} is not available" in server.log_path.read_text()
