"""Shared fixtures: the framework, SQLite and PostgreSQL databases, a running app, a browser.

``make test`` sets ASSESSMENT_REQUIRE_ALL=1 and TEST_DATABASE_URL: there a missing Chromium
or PostgreSQL fails the test. A plain ``.venv/bin/pytest`` starts its own PostgreSQL server
(tests/pg_server.py) and skips, with the reason, what this machine cannot run.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from pg_server import PostgresServer, PostgresUnavailable, free_port

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1280, "height": 900}
PAGE_TIMEOUT_MS = 20_000
SERVER_START_TIMEOUT_S = 90
BROWSER_FIXTURES = {"browser", "page", "streamlit_server", "start_streamlit"}

# Property-based tests (Hypothesis): a moderate, repeatable number of examples in every run;
# HYPOTHESIS_PROFILE=thorough (with --timeout=0) searches much longer. No deadlines: tests
# never time code.
settings.register_profile("ci", max_examples=25, deadline=None, database=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=2000, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
POSTGRES_FIXTURES = {"pg_admin_url", "pg_url"}


def require_all() -> bool:
    return os.environ.get("ASSESSMENT_REQUIRE_ALL") == "1"


def unavailable(reason: str):
    """Skip when a developer lacks a tool; fail under make test, where nothing may be skipped."""
    if require_all():
        pytest.fail(f"{reason} (ASSESSMENT_REQUIRE_ALL=1: make test installs it; nothing may be skipped)")
    pytest.skip(reason)


def pytest_collection_modifyitems(items):
    """Mark tests by the fixtures they use, so ``-m "not browser"`` works without remembering."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        if used & BROWSER_FIXTURES:
            item.add_marker(pytest.mark.browser)
        if used & POSTGRES_FIXTURES:
            item.add_marker(pytest.mark.postgres)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    # Keep each phase's report on the item: the page fixture screenshots failed tests.
    report = yield
    setattr(item, f"report_{report.when}", report)
    return report


@pytest.fixture(scope="session", autouse=True)
def _no_real_database(tmp_path_factory):
    """Code under test that opens "the" database gets a session temp file, never the
    developer's data/assessment.db or DATABASE_URL."""
    saved = {key: os.environ.pop(key, None) for key in ("ASSESSMENT_DB", "DATABASE_URL")}
    os.environ["ASSESSMENT_DB"] = str(tmp_path_factory.mktemp("default-db") / "assessment.db")
    yield
    for key, value in saved.items():
        os.environ.pop(key, None)
        if value is not None:
            os.environ[key] = value


# --- framework ---------------------------------------------------------------------------

@pytest.fixture(scope="session")
def framework():
    """The shipped matrix (matrix.yaml), loaded once."""
    from assessment.framework.matrix import load_framework

    return load_framework()


@pytest.fixture(scope="session")
def scaled_framework():
    """Factory: ``scaled_framework(1, 5)`` is the shipped matrix with a 1-5 rating scale
    (a label per value), read through the same validation as matrix.yaml."""
    import yaml

    from assessment.framework.matrix import DEFAULT_MATRIX, parse_framework

    base = yaml.safe_load(DEFAULT_MATRIX.read_text(encoding="utf-8"))
    made = {}

    def make(low: int, high: int):
        if (low, high) not in made:
            labels = [{"value": v, "label": {"sv": f"{v} av {high}", "en": f"{v} of {high}"}}
                      for v in range(low, high + 1)]
            data = dict(base, scale=dict(base["scale"], min=low, max=high, labels=labels))
            made[(low, high)] = parse_framework(yaml.safe_dump(data, allow_unicode=True), f"scale_{low}_{high}.yaml")
        return made[(low, high)]

    return make


# --- databases ---------------------------------------------------------------------------

def _make_schema_engine(url: str):
    from assessment.store.engine import make_engine
    from assessment.store.migrations import init_db

    engine = make_engine(url)
    init_db(engine)
    return engine


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    """URL of a SQLite file in this test's temp dir (no schema yet)."""
    return f"sqlite:///{tmp_path / 'assessment.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url):
    """Engine on a fresh SQLite file with the schema created."""
    engine = _make_schema_engine(sqlite_url)
    yield engine
    engine.dispose()


# --- app pages (AppTest) --------------------------------------------------------------------
# The app opens its database from the environment; these point it at a temp SQLite file and
# give the test the repositories on the same file, as the pages have them (with the
# framework). Test modules with repositories of their own override them.
@pytest.fixture
def db_path(tmp_path, monkeypatch):
    path = tmp_path / "pages.db"
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ASSESSMENT_DB", str(path))
    return path


def open_app_page(at, page: str, **params: str):
    """Run the app (an AppTest of app.py), then open `page` with `params` added to the address."""
    at.run()
    if page != "views/home.py":
        at.query_params.update(params)
        at.switch_page(page)
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def admin_token(db_path: str | Path | None = None) -> str:
    """A fresh administrator token (earlier ones stop working) for the SQLite file at `db_path`:
    by default the database the app opens (ASSESSMENT_DB), else e.g. a StreamlitServer's."""
    from assessment.access import links
    from assessment.store.migrations import open_database

    return links.rotate_admin_token(open_database(f"sqlite:///{db_path or os.environ['ASSESSMENT_DB']}"), by="test")


@pytest.fixture
def page_engine(db_path):
    """The engine of the pages' database, its schema current, as the app opens it."""
    from assessment.store.migrations import open_database

    return open_database(f"sqlite:///{db_path}")


@pytest.fixture
def assessments(page_engine, framework):
    from assessment.store.assessments import Assessments

    return Assessments(page_engine, framework)


@pytest.fixture
def answers(page_engine, framework):
    from assessment.store.answers import Answers

    return Answers(page_engine, framework)


@pytest.fixture
def responses(page_engine, framework):
    from assessment.store.responses import Responses

    return Responses(page_engine, framework)


@pytest.fixture(scope="session")
def pg_admin_url():
    """URL of the test PostgreSQL server's maintenance database.

    TEST_DATABASE_URL when set (make test); otherwise a server started for this session.
    """
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    try:
        server = PostgresServer().start()
    except PostgresUnavailable as exc:
        unavailable(str(exc))
    try:
        yield server.url()
    finally:
        server.stop()


def _libpq_url(url: str, database: str | None = None) -> str:
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    if database:
        parsed = parsed.set(database=database)
    return parsed.render_as_string(hide_password=False)


@pytest.fixture
def pg_url(pg_admin_url):
    """SQLAlchemy URL of a database of its own for this test (dropped afterwards)."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"test_{secrets.token_hex(6)}"
    with psycopg.connect(_libpq_url(pg_admin_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield make_url(pg_admin_url).set(database=name).render_as_string(hide_password=False)
    with psycopg.connect(_libpq_url(pg_admin_url), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # FORCE: leftover pools


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request) -> str:
    """A fresh, empty database URL: once SQLite, once PostgreSQL."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def database_rows(engine) -> dict[str, list[str]]:
    """Every row of every table of the schema, as sorted text: equal before and after means
    the database is unchanged."""
    from assessment.store.tables import metadata

    with engine.connect() as conn:
        return {table.name: sorted(repr(tuple(row)) for row in conn.execute(table.select()))
                for table in metadata.sorted_tables}


@pytest.fixture
def engine(db_url):
    """Engine with the schema created: once on SQLite, once on PostgreSQL."""
    engine = _make_schema_engine(db_url)
    yield engine
    engine.dispose()


# --- the app -----------------------------------------------------------------------------

class _PortTaken(Exception):
    pass


class StreamlitServer:
    """``streamlit run serve.py`` (the app plus the phone path) on a free port with its own temp database.

    ``url`` is the base URL; ``restart(env)`` stops and starts it again on the same port
    (same database unless env changes it), e.g. to check that data survives a restart.
    """

    def __init__(self, workdir: Path, env: dict[str, str] | None = None, args: list[str] | None = None):
        self.workdir = workdir
        self.args = list(args or [])  # more `streamlit run` options, e.g. --secrets.files
        self.db_path = workdir / "a.db"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "streamlit.log"
        self.env = {"ASSESSMENT_DB": str(self.db_path), **(env or {})}
        self.process: subprocess.Popen | None = None

    def __str__(self) -> str:
        return self.url

    def start(self) -> StreamlitServer:
        # Another process may take the free port before streamlit binds it: retry on a new one.
        for attempt in range(3):
            try:
                self._spawn()
                return self
            except _PortTaken:
                self.port = free_port()
                self.url = f"http://127.0.0.1:{self.port}"
        raise RuntimeError(f"streamlit found no free port:\n{self.log_tail()}")

    def _spawn(self) -> None:
        env = {key: value for key, value in os.environ.items()
               if key not in ("DATABASE_URL", "ASSESSMENT_DB", "ASSESSMENT_MATRIX")}
        env.update(self.env)
        command = [sys.executable, "-m", "streamlit", "run", str(REPO / "serve.py"),
                   "--server.headless", "true", "--server.port", str(self.port),
                   "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
                   "--server.fileWatcherType", "none", "--server.runOnSave", "false", *self.args]
        log_start = self.log_path.stat().st_size if self.log_path.exists() else 0  # bytes
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(command, cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                if f"Port {self.port} is not available" in self.log_path.read_bytes()[log_start:].decode(errors="replace"):
                    raise _PortTaken()
                raise RuntimeError(f"streamlit exited at start:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"streamlit did not answer on {self.url} within {SERVER_START_TIMEOUT_S} s:\n"
                           f"{self.log_tail()}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            self.process = None
            return
        # The whole process group: streamlit may have children of its own.
        for sig, wait_s in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait_s)
                break
            except subprocess.TimeoutExpired:
                continue
        self.process = None

    def restart(self, env: dict[str, str] | None = None) -> StreamlitServer:
        self.stop()
        self.env.update(env or {})
        return self.start()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@pytest.fixture
def start_streamlit(tmp_path_factory):
    """Factory: ``start_streamlit(env={"DATABASE_URL": pg_url}, args=[...])`` -> running StreamlitServer.

    Every server started through it is stopped at teardown.
    """
    servers: list[StreamlitServer] = []

    def start(env: dict[str, str] | None = None, args: list[str] | None = None) -> StreamlitServer:
        server = StreamlitServer(tmp_path_factory.mktemp("streamlit"), env, args)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def streamlit_server(start_streamlit) -> StreamlitServer:
    """The app on a free port with an empty SQLite database of its own; ``.url`` is the base URL."""
    return start_streamlit()


# --- the browser -------------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    """Debian's headless Chromium driven by Playwright (its own browser download is unreachable)."""
    if not os.access(CHROMIUM, os.X_OK):
        unavailable(f"{CHROMIUM} not found: install the Debian package 'chromium' (make test does)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed: pip install -e '.[test]'")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def page(browser, request, tmp_path):
    """A page in a fresh browser context (no shared cookies/storage), 1280x900, 20 s timeouts.

    A failed test leaves a screenshot, failure.png, in its temp dir (path printed).
    """
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(PAGE_TIMEOUT_MS)
    page = context.new_page()
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        shot = tmp_path / "failure.png"
        try:
            page.screenshot(path=str(shot), full_page=True)
            print(f"\nscreenshot of the failed page: {shot}")
        except Exception as exc:  # the page may be gone; the test failure matters more
            print(f"\nno screenshot: {exc}")
    context.close()


@pytest.fixture
def axe():
    """``axe(page, "where")``: fails on every serious or critical WCAG 2.1 A/AA violation of our
    markup on the page as drawn (axe-core, tests/accessibility.py); one call per page."""
    from accessibility import axe_check

    return axe_check


def run_async(coroutine):
    """asyncio.run in a thread of its own: the browser tests' Playwright (sync API) keeps an event
    loop running in the main thread for the whole session, where asyncio.run refuses to start."""
    import asyncio
    import threading

    outcome: dict = {}

    def target():
        try:
            outcome["value"] = asyncio.run(coroutine)
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=target, name="run_async")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
