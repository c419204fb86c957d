"""A confirmed vote survives the voting process being killed mid-load (SIGKILL).

A separate Python process (this file, run as a script) casts votes from several
threads without pause. Each thread prints ``start`` before calling vote() and
``done`` only after vote() returned: a ``done`` line is a confirmed vote. The
test kills the process with SIGKILL while it is voting, opens the database again
and checks every confirmed vote is there with its value. The one vote a thread
may have had in flight at the kill may or may not have been committed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assessment.framework.matrix import Text  # noqa: E402
from assessment.store.engine import make_engine  # noqa: E402
from assessment.store.migrations import init_db  # noqa: E402
from assessment.workshop.control import WorkshopControl  # noqa: E402
from assessment.workshop.decks import Card, Deck  # noqa: E402
from assessment.workshop.results import WorkshopResults  # noqa: E402
from assessment.workshop.voting import WorkshopVoting  # noqa: E402

THREADS = 6
PARTICIPANTS = 240  # 40 per thread
CONFIRMED_BEFORE_KILL = 600
VALUES = ("agree", "disagree", "pass")


def worker(url: str, tokens_file: str, threads: int) -> None:
    """Vote forever from `threads` threads; print a line per vote started and confirmed."""
    voting = WorkshopVoting(make_engine(url))
    tokens = Path(tokens_file).read_text().split()
    out = threading.Lock()

    def say(line: str) -> None:
        with out:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    def run(first: int) -> None:
        mine = tokens[first::threads]
        round_ = 0
        while True:
            for i, token in enumerate(mine):
                value = VALUES[(round_ + i) % len(VALUES)]  # every round changes each vote
                index = first + i * threads
                say(f"start {first} {index} {value}")
                voting.vote(token, "c1", value)
                say(f"done {first} {index} {value}")
            round_ += 1

    for t in range(threads):
        threading.Thread(target=run, args=(t,), daemon=True).start()
    say("ready")
    while True:
        time.sleep(1)


def crash_and_check(url: str, tmp_path: Path) -> None:
    engine = make_engine(url)
    init_db(engine)
    control, voting = WorkshopControl(engine), WorkshopVoting(engine)
    deck = Deck(id="crash", title=Text(sv="Krasch", en="Crash"), description=Text(sv="Test", en="Test"),
                matrix_round=False,
                cards=[Card(id="c1", text=Text(sv="Ett?", en="One?")),
                       Card(id="c2", text=Text(sv="Två?", en="Two?"))])
    code, secret = control.create_workshop("Crash", "Test", date(2024, 1, 1), "sv", deck)
    control.open_card(code, secret)
    tokens = [voting.join(code, "public" if i % 2 else "civil_society") for i in range(PARTICIPANTS)]
    tokens_file = tmp_path / "tokens.txt"
    tokens_file.write_text("\n".join(tokens))
    engine.dispose()

    process = subprocess.Popen([sys.executable, __file__, "worker", url, str(tokens_file), str(THREADS)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    lines: list[str] = []
    confirmed = threading.Semaphore(0)

    def read() -> None:
        for line in process.stdout:
            lines.append(line.split("\n")[0])
            if line.startswith("done"):
                confirmed.release()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        for _ in range(CONFIRMED_BEFORE_KILL):
            if not confirmed.acquire(timeout=60):
                pytest.fail(f"worker stalled after {len(lines)} lines: {process.stderr.read()[-2000:]}")
        assert process.poll() is None, "the worker must still be voting when it is killed"
        os.kill(process.pid, signal.SIGKILL)
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
        reader.join(timeout=30)
    assert process.returncode == -signal.SIGKILL

    # Per participant: the last confirmed value and, if its thread was voting for it at the
    # kill, the value in flight.
    last_done: dict[int, str] = {}
    in_flight: dict[str, tuple[int, str]] = {}  # thread -> (participant, value)
    for line in lines:
        parts = line.split()
        if len(parts) != 4:
            continue  # 'ready', or a last line cut short by the kill
        kind, thread, index, value = parts
        if kind == "start":
            in_flight[thread] = (int(index), value)
        elif kind == "done":
            last_done[int(index)] = value
            in_flight.pop(thread, None)
    pending = dict(in_flight.values())
    assert len(last_done) > PARTICIPANTS // 2

    reopened = make_engine(url)
    try:
        if reopened.dialect.name == "sqlite":
            with reopened.connect() as conn:
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        voting, results = WorkshopVoting(reopened), WorkshopResults(reopened)
        missing = []
        for index, value in last_done.items():
            stored = voting.my_votes(tokens[index]).get("c1")
            allowed = {value, pending.get(index)}
            if stored not in allowed:
                missing.append((index, value, stored))
        assert not missing, f"confirmed votes lost or wrong (participant, confirmed, stored): {missing[:10]}"
        # Exactly one row per participant and card, still, and the room's count adds up.
        tally = results.tally(code, "c1")
        voted = sum(1 for token in tokens if voting.my_votes(token))
        assert tally.overall.total == voted >= len(last_done)
        # The workshop is still usable after the crash.
        voting.vote(tokens[0], "c1", "agree")
        assert voting.my_votes(tokens[0]) == {"c1": "agree"}
    finally:
        reopened.dispose()


def test_confirmed_votes_survive_sigkill_sqlite(tmp_path):
    crash_and_check(f"sqlite:///{tmp_path / 'crash.db'}", tmp_path)


def test_confirmed_votes_survive_sigkill_postgresql(pg_url, tmp_path):
    crash_and_check(pg_url, tmp_path)


def test_confirmed_votes_survive_killing_the_streamlit_server(start_streamlit, browser, tmp_path):
    """The same through the real app: a vote is confirmed when the phone page says it was saved."""
    from assessment.i18n import t
    from assessment.workshop.views_support import vote_label

    database = tmp_path / "app.db"
    engine = make_engine(f"sqlite:///{database}")
    init_db(engine)
    control, voting = WorkshopControl(engine), WorkshopVoting(engine)
    deck = Deck(id="crash", title=Text(sv="Krasch", en="Crash"), description=Text(sv="Test", en="Test"),
                matrix_round=False, cards=[Card(id="c1", text=Text(sv="Ett?", en="One?"))])
    code, secret = control.create_workshop("Crash", "Test", date(2024, 1, 1), "sv", deck)
    control.open_card(code, secret)
    tokens = [voting.join(code, "public" if i % 2 else "civil_society") for i in range(3)]
    engine.dispose()

    server = start_streamlit(env={"ASSESSMENT_DB": str(database)})
    contexts = [browser.new_context(viewport={"width": 420, "height": 900}) for _ in tokens]
    try:
        pages = []
        for context, token in zip(contexts, tokens):
            context.set_default_timeout(30_000)
            page = context.new_page()
            page.goto(f"{server.url}/join?code={code}&p={token}")
            page.locator(".st-key-ws_vote_agree button").wait_for()
            pages.append(page)
        confirmed: dict[int, str] = {}
        rounds = 2
        for round_ in range(rounds):
            for i, page in enumerate(pages):
                value = VALUES[(round_ + i) % len(VALUES)]  # differs from the previous round's
                page.locator(f".st-key-ws_vote_{value} button").click()
                page.get_by_text(t("ws.join.your_vote", "sv", vote=vote_label(value, "sv"))).wait_for()
                confirmed[i] = value
        in_flight: dict[int, str] = {}
        for i, page in enumerate(pages):  # click everywhere, wait for nothing, kill the server
            value = VALUES[(rounds + i) % len(VALUES)]
            page.locator(f".st-key-ws_vote_{value} button").click(no_wait_after=True)
            in_flight[i] = value
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=30)
        server.process = None
    finally:
        for context in contexts:
            context.close()

    reopened = make_engine(f"sqlite:///{database}")
    try:
        with reopened.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
        voting, results = WorkshopVoting(reopened), WorkshopResults(reopened)
        for i, value in confirmed.items():
            assert voting.my_votes(tokens[i])["c1"] in {value, in_flight[i]}, i
        assert results.tally(code, "c1").overall.total == len(tokens)
    finally:
        reopened.dispose()


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "worker":
    worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
