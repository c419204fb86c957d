"""A confirmed vote survives the voting process being killed mid-load (SIGKILL).

A separate Python process (this file, run as a script) casts votes from several
threads without pause. Each thread prints ``start`` before calling vote() and
``done`` only after vote() returned: a ``done`` line is a confirmed vote. The
test kills the process with SIGKILL while it is voting, opens the database again
and checks every confirmed vote is there with its value. The one vote a thread
may have had in flight at the kill may or may not have been committed.

The last test does the same through the real server: phones vote over the phone
protocol (HTTP), a vote is confirmed by its 200, and the server's process group is
killed; on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import http.client
import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assessment.framework.matrix import Text  # noqa: E402
from assessment.store.engine import make_engine  # noqa: E402
from assessment.store.migrations import init_db  # noqa: E402
from assessment.workshop.control import WorkshopControl  # noqa: E402
from assessment.workshop.decks import Card, Deck  # noqa: E402
from assessment.workshop.results import WorkshopResults  # noqa: E402
from assessment.workshop.voting import WorkshopVoting  # noqa: E402
from test_phone_multiprocess import Phone, server_env, two_card_workshop  # noqa: E402

THREADS = 6
PARTICIPANTS = 240  # 40 per thread
CONFIRMED_BEFORE_KILL = 600
HTTP_PHONES = 30
CONFIRMED_OVER_HTTP_BEFORE_KILL = 150
PHONE_PAUSE_S = 0.6  # a phone stays under the protocol's limit of 20 writes per 10 s
KILL_WITH_IN_FLIGHT = 5  # the server is killed while at least this many votes are on their way
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
        assert_confirmed_votes_kept(reopened, code, tokens, last_done, pending)
        # The workshop is still usable after the crash.
        voting = WorkshopVoting(reopened)
        voting.vote(tokens[0], "c1", "agree")
        assert voting.my_votes(tokens[0]) == {"c1": "agree"}
    finally:
        reopened.dispose()


def assert_confirmed_votes_kept(reopened, code: str, tokens: list[str], last_done: dict[int, str],
                                pending: dict[int, str]) -> None:
    """The database is sound, holds each participant's last confirmed vote on c1 (or the one
    that was in flight at the kill) and exactly one row per participant who voted."""
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


def test_confirmed_votes_survive_sigkill_sqlite(tmp_path):
    crash_and_check(f"sqlite:///{tmp_path / 'crash.db'}", tmp_path)


def test_confirmed_votes_survive_sigkill_postgresql(pg_url, tmp_path):
    crash_and_check(pg_url, tmp_path)


def test_confirmed_votes_survive_killing_the_streamlit_server(db_url, start_streamlit):
    """The same through the real server: phones keep voting over the phone protocol (each as
    often as the protocol's rate limit lets it), a vote is confirmed by its 200 (sent only after
    the commit), and the server's whole process group is killed while votes are on their way."""
    code, secret = two_card_workshop(db_url)
    engine = make_engine(db_url)
    WorkshopControl(engine).open_card(code, secret)
    engine.dispose()
    server = start_streamlit(env=server_env(db_url))
    phones = [Phone(server.url, "public" if i % 2 else "civil_society").join(code) for i in range(HTTP_PHONES)]

    lock = threading.Lock()
    last_done: dict[int, str] = {}
    in_flight: dict[int, str] = {}
    failures: list[tuple[int, str, object]] = []
    confirmed = threading.Semaphore(0)
    killed = threading.Event()

    def keep_voting(i: int) -> None:
        for round_ in itertools.count():
            value = VALUES[(round_ + i) % len(VALUES)]  # every vote changes the phone's last one
            with lock:
                if killed.is_set():
                    return
                in_flight[i] = value
            try:
                status, body = phones[i].vote("c1", value)
            except ConnectionRefusedError as exc:  # never reached the server: nothing in flight
                with lock:
                    del in_flight[i]
                if not killed.is_set():
                    failures.append((i, value, exc))
                return
            except (OSError, ValueError, http.client.HTTPException) as exc:
                if not killed.is_set():
                    failures.append((i, value, exc))
                return  # a vote in flight at the kill stays in in_flight: it may or may not be saved
            with lock:
                del in_flight[i]
                if status == 200 and body == {"card_id": "c1", "value": value, "saved": True}:
                    last_done[i] = value
                elif status != 429:  # too many writes: refused, nothing saved; slow down
                    failures.append((i, value, (status, body)))
                    return
            if status == 200:
                confirmed.release()
            time.sleep(PHONE_PAUSE_S)

    threads = [threading.Thread(target=keep_voting, args=(i,), daemon=True) for i in range(HTTP_PHONES)]
    for thread in threads:
        thread.start()
    try:
        for _ in range(CONFIRMED_OVER_HTTP_BEFORE_KILL):
            if not confirmed.acquire(timeout=60) or failures:
                pytest.fail(f"phones stopped being confirmed: {failures[:5]}\n{server.log_tail()}")
        assert server.process.poll() is None, "the server must still be serving votes when it is killed"
        # Kill at a moment when votes are on their way: while the lock is held no phone starts or
        # settles a vote, so in_flight is exactly the votes sent (or being sent) and not answered.
        deadline = time.monotonic() + 60
        while not killed.is_set():
            assert time.monotonic() < deadline and not failures, f"no vote on its way: {failures[:5]}"
            with lock:
                if len(in_flight) >= KILL_WITH_IN_FLIGHT:
                    killed.set()
                    os.killpg(server.process.pid, signal.SIGKILL)
            time.sleep(0.001)
        server.process.wait(timeout=30)
        server.process = None
    finally:
        killed.set()
        server.stop()
        for thread in threads:
            thread.join(timeout=60)
    assert not failures, failures[:5]
    assert len(last_done) > HTTP_PHONES // 2

    tokens = [phone.token for phone in phones]
    reopened = make_engine(db_url)
    try:
        assert_confirmed_votes_kept(reopened, code, tokens, last_done, dict(in_flight))
        stored = [WorkshopVoting(reopened).my_votes(token) for token in tokens]
    finally:
        reopened.dispose()

    # Started again on the same database, the server gives every phone the vote that was kept,
    # and takes new votes.
    server.start()
    for phone, votes in zip(phones, stored):
        phone.base = server.url
        assert phone.state(code)["me"]["votes"] == votes
    assert phones[0].vote("c1", "agree") == (200, {"card_id": "c1", "value": "agree", "saved": True})
    assert phones[0].state(code)["me"]["votes"] == {"c1": "agree"}


if __name__ == "__main__" and len(sys.argv) == 5 and sys.argv[1] == "worker":
    worker(sys.argv[2], sys.argv[3], int(sys.argv[4]))
