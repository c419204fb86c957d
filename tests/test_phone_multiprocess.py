"""Two server processes on one database show one and the same workshop.

Two ``streamlit run serve.py`` processes share the SQLite file, then a real PostgreSQL
database. Thirty phones (plain HTTP clients speaking the phone protocol) are split between
them and join and vote at the same time; some change their vote. The facilitator acts on
either process: opens the card on A's screen (real Chromium), reveals through the database,
closes on B's screen. Both facilitator screens, both processes' state endpoints and an event
stream (SSE) on B must show exactly the confirmed votes, and a card opened through A must
reach B's listeners. Every wait is generous; nothing is timed.

The phone client here (``call``, ``Phone``, ``server_env``) is shared with
tests/test_workshop_crash.py.
"""

from __future__ import annotations

import http.client
import json
import queue
import socket
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy.engine import make_url

from assessment.framework.matrix import Text
from assessment.i18n import t
from assessment.store.engine import make_engine
from assessment.store.migrations import init_db
from assessment.workshop.control import WorkshopControl
from assessment.workshop.decks import Card, Deck
from assessment.workshop.results import WorkshopResults
from assessment.workshop.tallies import GROUPS, SIDES, VOTE_VALUES
from assessment.workshop.views_support import facilitator_url

PHONES = 30  # split evenly between the two processes
WAIT_S = 90  # generous: a busy machine may be slow; this is a wait, not a speed check
L = "sv"


# --- a phone over HTTP ---------------------------------------------------------------------------

def server_env(url: str) -> dict[str, str]:
    """The environment that points a server at the database `url`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return {"ASSESSMENT_DB": parsed.database}
    return {"DATABASE_URL": url}


def call(base: str, method: str, path: str, body: dict | None = None, token: str = "",
         timeout_s: float = WAIT_S) -> tuple[int, dict | None]:
    """One request of the phone protocol on a connection of its own: (status, JSON body)."""
    parts = urlsplit(base)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout_s)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        connection.request(method, path, body=payload, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    finally:
        connection.close()
    return response.status, json.loads(raw) if raw else None


class Phone:
    """A participant's phone talking to one server process."""

    def __init__(self, base: str, side: str):
        self.base, self.side, self.token = base, side, ""

    def join(self, code: str, role: str = "") -> Phone:
        status, body = call(self.base, "POST", "/phone/api/join",
                            {"code": code, "side": self.side, "role": role})
        assert status == 201, (status, body)
        self.token = body["token"]
        return self

    def vote(self, card_id: str, value: str) -> tuple[int, dict | None]:
        return call(self.base, "POST", "/phone/api/vote", {"card_id": card_id, "value": value}, self.token)

    def state(self, code: str) -> dict:
        status, body = call(self.base, "GET", f"/phone/api/state?{urlencode({'code': code})}", token=self.token)
        assert status == 200, (status, body)
        return body


def two_card_workshop(url: str) -> tuple[str, str]:
    """A fresh schema at `url` and a Swedish workshop on two cards, c1 current and not yet open:
    (code, secret)."""
    engine = make_engine(url)
    try:
        init_db(engine)
        deck = Deck(id="room", title=Text(sv="Rummet", en="The room"), description=Text(sv="Test", en="Test"),
                    matrix_round=False, cards=[Card(id="c1", text=Text(sv="Ett?", en="One?")),
                                               Card(id="c2", text=Text(sv="Två?", en="Two?"))])
        return WorkshopControl(engine).create_workshop("Rummet", "Burlövs kommun", date(2024, 1, 1), L, deck)
    finally:
        engine.dispose()


# --- the event stream ------------------------------------------------------------------------------

class EventListener:
    """``GET /phone/api/events`` read in a thread: the data of every ``state`` event, in order."""

    def __init__(self, base: str, code: str):
        parts = urlsplit(base)
        self.connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=WAIT_S * 4)
        self.connection.request("GET", f"/phone/api/events?{urlencode({'code': code})}",
                                headers={"Accept": "text/event-stream"})
        response = self.connection.getresponse()
        assert response.status == 200, (response.status, response.read()[:500])
        assert response.getheader("Content-Type", "").startswith("text/event-stream")
        self.states: queue.Queue[dict] = queue.Queue()
        self.thread = threading.Thread(target=self._read, args=(response,), daemon=True)
        self.thread.start()

    def _read(self, response) -> None:
        event, data = "message", []
        try:
            for raw in response:
                line = raw.decode().rstrip("\r\n")
                if not line:  # a blank line ends an event
                    if event == "state" and data:
                        self.states.put(json.loads("\n".join(data)))
                    event, data = "message", []
                elif not line.startswith(":"):  # ':' lines are comments (keep-alive)
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        event = value
                    elif field == "data":
                        data.append(value)
        except (OSError, ValueError, http.client.HTTPException):
            pass  # the stream was closed

    def wait_for(self, what: str, until) -> dict:
        """The first state (from now on, in order) for which `until` holds; fails naming `what`."""
        deadline, last = time.monotonic() + WAIT_S, None
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                last = self.states.get(timeout=remaining)
            except queue.Empty:
                break
            if until(last):
                return last
        raise AssertionError(f"the event stream never showed {what}; last state: {last}")

    def close(self) -> None:
        if self.connection.sock is not None:
            try:
                self.connection.sock.shutdown(socket.SHUT_RDWR)  # the reading thread sees the end
            except OSError:
                pass
        self.thread.join(timeout=10)
        self.connection.close()  # after the thread: closing under its feet races with its reads


# --- reading the facilitator's screen ----------------------------------------------------------

READ_TALLY = """() => {
    const out = {};
    for (const bar of document.querySelectorAll('.ws-tally[data-group]')) {
        const counts = {total: +bar.dataset.total};
        for (const n of bar.querySelectorAll('.ws-num[data-value]')) counts[n.dataset.value] = +n.dataset.count;
        out[bar.dataset.group] = counts;
    }
    return out;
}"""


def expected_tally(votes: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """{group: {agree, disagree, pass, total}} of (side, value) votes: the shape of the screen
    and of the protocol's tally."""
    counts = {group: Counter() for group in GROUPS}
    for side, value in votes:
        counts[side][value] += 1
        counts["overall"][value] += 1
    return {group: {**{value: counts[group][value] for value in VOTE_VALUES},
                    "total": sum(counts[group].values())} for group in GROUPS}


def eventually(read, until, what: str):
    """Read until `until` holds of the value; fails naming `what` and the last value read."""
    deadline = time.monotonic() + WAIT_S
    value = read()
    while not until(value) and time.monotonic() < deadline:
        time.sleep(0.25)
        value = read()
    assert until(value), f"{what}: last read {value}"
    return value


def stored_tally(url: str, code: str, card_id: str) -> dict[str, dict[str, int]]:
    engine = make_engine(url)
    try:
        tally = WorkshopResults(engine).tally(code, card_id)
        return {group: {key: value for key, value in tally.side(group).as_dict().items() if key != "agree_share"}
                for group in GROUPS}
    finally:
        engine.dispose()


def screens_show(screens, want: dict, when: str) -> None:
    """Each facilitator screen (process A's, then B's) comes to show the tally `want` by itself."""
    for name, screen in zip("AB", screens):
        eventually(lambda: screen.evaluate(READ_TALLY), lambda shown: shown == want,
                   f"the facilitator screen on process {name} {when}")


def facilitator_screen(browser, server, code: str, secret: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_S * 1000)
    page = context.new_page()
    page.goto(facilitator_url(server.url, code, secret))
    page.locator(".ws-tally[data-group=overall]").wait_for()
    return page


# --- the test ----------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def shared_url(request, tmp_path) -> str:
    """One database for both processes: a SQLite file, then a PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    return request.getfixturevalue("pg_url")


def test_two_processes_show_one_tally(shared_url, start_streamlit, browser, tmp_path):
    code, secret = two_card_workshop(shared_url)
    process_a = start_streamlit(env=server_env(shared_url))
    process_b = start_streamlit(env=server_env(shared_url))
    # Alternate processes and sides: each process carries phones of both sides.
    phones = [Phone((process_a, process_b)[i % 2].url, SIDES[(i // 2) % 2]) for i in range(PHONES)]
    listener = EventListener(process_b.url, code)
    screens = []
    try:
        first = listener.wait_for("the first state", lambda state: state["card"] is not None)
        assert (first["card"]["id"], first["card"]["status"], first["me"]) == ("c1", "pending", None)
        with ThreadPoolExecutor(max_workers=PHONES) as pool:
            list(pool.map(lambda phone: phone.join(code), phones))

            screens = [facilitator_screen(browser, server, code, secret) for server in (process_a, process_b)]
            screen_a, screen_b = screens
            screen_a.get_by_role("button", name=t("ws.ctl.open", L)).click()
            # Opened through A: B's phones learn it from B's own feed, B's screen by itself.
            listener.wait_for("the card opened through the other process",
                              lambda state: state["card"]["id"] == "c1" and state["card"]["status"] == "open")
            screen_b.get_by_role("button", name=t("ws.ctl.close", L)).wait_for()

            # Everyone votes at once; every third phone then changes its mind.
            first_votes = {i: VOTE_VALUES[i % 3] for i in range(PHONES)}
            changes = {i: VOTE_VALUES[(i + 1) % 3] for i in range(0, PHONES, 3)}

            def vote(i: int, value: str) -> tuple[int, dict | None]:
                return phones[i].vote("c1", value)

            for round_ in (first_votes, changes):
                answers = list(pool.map(vote, round_, round_.values()))
                refused = [(i, answer) for i, answer in zip(round_, answers)
                           if answer != (200, {"card_id": "c1", "value": round_[i], "saved": True})]
                assert not refused, f"votes not confirmed (phone, answer): {refused[:5]}"

        final = {**first_votes, **changes}
        want = expected_tally([(phones[i].side, value) for i, value in final.items()])
        assert stored_tally(shared_url, code, "c1") == want
        screens_show(screens, want, "with the confirmed votes")
        for i in (0, 1):  # a phone on each process sees its own (changed) vote
            assert phones[i].state(code)["me"]["votes"] == {"c1": final[i]}

        # The facilitator reveals through the database: both processes show the same tally.
        engine = make_engine(shared_url)
        try:
            WorkshopControl(engine).reveal(code, secret)
        finally:
            engine.dispose()
        for name, phone in zip("AB", phones[:2]):
            eventually(lambda: phone.state(code), lambda state: state["revealed"] and state["tally"] == want,
                       f"the revealed tally on process {name}")
        listener.wait_for("the revealed tally", lambda state: state["revealed"] and state["tally"] == want)

        # Closed on B's screen: a vote through A is refused and changes nothing.
        screen_b.get_by_role("button", name=t("ws.ctl.close", L)).click()
        listener.wait_for("the closed card", lambda state: state["card"]["status"] == "closed")
        status, body = phones[0].vote("c1", "pass")
        assert (status, body["error"]["code"]) == (409, "card_closed")
        assert stored_tally(shared_url, code, "c1") == want
        screen_a.get_by_role("button", name=t("ws.ctl.open", L)).wait_for()
        screens_show(screens, want, "after the close")
    except Exception:
        for name, screen in zip("AB", screens):
            screen.screenshot(path=str(tmp_path / f"facilitator_{name}.png"))
        print(f"screenshots in {tmp_path}\n--- A\n{process_a.log_tail()}\n--- B\n{process_b.log_tail()}")
        raise
    finally:
        listener.close()
        for screen in screens:
            screen.context.close()
