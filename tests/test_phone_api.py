"""The phone protocol against the real server (``streamlit run serve.py``): the happy paths,
the live event stream, and every bad input refused with the JSON error body, the database
unchanged."""

from __future__ import annotations

import http.client
import json
import socket
from datetime import date

import pytest

from assessment.store.migrations import open_database
from assessment.workshop.control import WorkshopControl
from assessment.workshop.voting import WorkshopVoting
from conftest import StreamlitServer, database_rows, run_async
from test_workshop import small_deck

JSON = {"Content-Type": "application/json"}


class Client:
    """Plain http.client requests to one server; answers as (status, headers, parsed body)."""

    def __init__(self, url: str):
        host, port = url.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)

    def connection(self, timeout: float = 30) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(self.host, self.port, timeout=timeout)

    def request(self, method: str, path: str, body: bytes | str | dict | None = None,
                headers: dict[str, str] | None = None, token: str | None = None):
        if isinstance(body, dict):
            body = json.dumps(body)
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            raw = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, raw
        finally:
            conn.close()

    def call(self, method: str, path: str, body=None, token: str | None = None, headers=None):
        status, head, raw = self.request(method, path, body, {**JSON, **(headers or {})}, token)
        assert head["content-type"].startswith("application/json"), (status, raw)
        return status, head, json.loads(raw)

    def join(self, code: str, side: str = "public", role: str = "") -> str:
        status, _, data = self.call("POST", "/phone/api/join", {"code": code, "side": side, "role": role})
        assert status == 201, data
        return data["token"]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """One server for the module (starting one costs seconds), on its own SQLite file."""
    running = StreamlitServer(tmp_path_factory.mktemp("phone-api")).start()
    yield running
    running.stop()


@pytest.fixture
def client(server) -> Client:
    return Client(server.url)


@pytest.fixture(scope="module")
def database(server):
    return open_database(f"sqlite:///{server.db_path}")


@pytest.fixture
def control(database, framework) -> WorkshopControl:
    return WorkshopControl(database, framework)


@pytest.fixture
def workshop(control):
    """A fresh workshop on the server's database (small deck, matrix round): (code, secret)."""
    return control.create_workshop("Samverkan", "Burlöv", date(2024, 5, 14), "sv", small_deck())


def assert_error(answer, status: int, code: str):
    got_status, _, data = answer
    assert got_status == status, data
    assert set(data) == {"error"} and data["error"]["code"] == code, data
    message = data["error"]["message"]
    assert message and "Traceback" not in message and "{" not in message
    return data["error"]


# --- happy paths ---------------------------------------------------------------------------

def test_join_vote_change_and_read_state(client, control, workshop, database, framework):
    code, secret = workshop
    status, _, joined = client.call("POST", "/phone/api/join?lang=en",
                                     {"code": code.lower(), "side": "civil_society", "role": "volunteer"})
    assert status == 201 and joined["code"] == code
    token = joined["token"]
    control.open_card(code, secret)
    status, _, saved = client.call("POST", "/phone/api/vote", {"card_id": "c1", "value": "agree"}, token)
    assert (status, saved) == (200, {"card_id": "c1", "value": "agree", "saved": True})
    assert client.call("POST", "/phone/api/vote", {"card_id": "c1", "value": "pass"}, token)[0] == 200
    assert WorkshopVoting(database, framework).my_votes(token) == {"c1": "pass"}
    status, head, state = client.call("GET", f"/phone/api/state?code={code}&lang=en", token=token)
    assert status == 200 and head["cache-control"] == "no-store"
    assert state["card"] == {"id": "c1", "index": 0, "count": 3, "text": "Statement 1?", "status": "open"}
    assert state["me"] == {"side": "civil_society", "role": "volunteer", "votes": {"c1": "pass"}, "placements": {}}
    # Without a code, the token's own workshop; without a token, no "me".
    assert client.call("GET", "/phone/api/state", token=token)[2]["code"] == code
    assert client.call("GET", f"/phone/api/state?code={code}")[2]["me"] is None


def test_place_in_the_matrix_round(client, control, workshop):
    code, secret = workshop
    token = client.join(code, "public", "politician")
    control.start_matrix(code, secret)
    status, _, saved = client.call("POST", "/phone/api/place", {"step_id": "agenda", "level_id": "none"}, token)
    assert (status, saved) == (200, {"step_id": "agenda", "level_id": "none", "saved": True})
    state = client.call("GET", f"/phone/api/state?code={code}", token=token)[2]
    assert state["phase"] == "matrix" and state["me"]["placements"] == {"agenda": "none"}
    assert state["matrix"]["levels"][0]["id"] == "none"


def read_event(response: http.client.HTTPResponse) -> dict:
    """The next `event: state` of a Server-Sent Events stream (keep-alive comments skipped)."""
    event, data = None, None
    while True:
        line = response.readline()
        assert line, "the stream ended"
        line = line.rstrip(b"\r\n")
        if line.startswith(b"event: "):
            event = line[7:]
        elif line.startswith(b"data: "):
            data = line[6:]
        elif not line and event == b"state" and data is not None:
            return json.loads(data)


def test_event_stream_delivers_the_opened_card(client, control, workshop):
    code, secret = workshop
    conn = client.connection(timeout=30)
    try:
        conn.request("GET", f"/phone/api/events?code={code}&lang=en")
        response = conn.getresponse()
        assert response.status == 200
        assert response.getheader("content-type").startswith("text/event-stream")
        assert response.getheader("cache-control") == "no-cache"
        assert response.getheader("x-accel-buffering") == "no"
        first = read_event(response)
        assert first["card"]["status"] == "pending" and first["me"] is None and first["lang"] == "en"
        control.open_card(code, secret)
        opened = read_event(response)
        assert opened["card"]["status"] == "open" and opened["version"] == first["version"] + 1
    finally:
        conn.close()


# --- bad input: a clear JSON error, nothing changed ---------------------------------------

@pytest.fixture
def unchanged(database):
    """Call at the end of a test: the server's database is as it was when the test began."""
    before = database_rows(database)
    return lambda: database_rows(database) == before


def test_unknown_code(client, unchanged):
    error = assert_error(client.call("POST", "/phone/api/join?lang=en", {"code": "ZZZZZZ", "side": "public"}),
                         404, "unknown_code")
    assert "ZZZZZZ" in error["message"]
    assert_error(client.call("GET", "/phone/api/state?code=ZZZZZZ"), 404, "unknown_code")
    assert_error(client.call("GET", "/phone/api/events?code=ZZZZZZ"), 404, "unknown_code")
    assert_error(client.call("GET", "/phone/api/events"), 404, "unknown_code")
    assert unchanged()


def test_forged_and_foreign_tokens(client, control, workshop):
    code, secret = workshop
    other_code, _ = control.create_workshop("Annan", "Lund", date(2024, 6, 1), "en", small_deck())
    foreign = client.join(other_code)
    control.open_card(code, secret)
    rows_now = database_rows(control.engine)
    assert_error(client.call("POST", "/phone/api/vote", {"card_id": "c1", "value": "agree"}, "forged-token"),
                 401, "unknown_participant")
    assert_error(client.call("POST", "/phone/api/vote", {"card_id": "c1", "value": "agree"}), 401,
                 "unknown_participant")
    assert_error(client.call("GET", f"/phone/api/state?code={code}", token="forged-token"), 401,
                 "unknown_participant")
    assert_error(client.call("GET", f"/phone/api/state?code={code}", token=foreign), 401, "unknown_participant")
    assert_error(client.call("POST", "/phone/api/place", {"step_id": "agenda", "level_id": "none"}, "x" * 300),
                 401, "unknown_participant")
    assert database_rows(control.engine) == rows_now


def test_votes_on_closed_or_unknown_cards(client, control, workshop, database):
    code, secret = workshop
    token = client.join(code)
    rows = database_rows(database)
    assert_error(client.call("POST", "/phone/api/vote?lang=en", {"card_id": "c1", "value": "agree"}, token),
                 409, "card_closed")  # not opened yet
    control.open_card(code, secret)
    control.close_card(code, secret)
    rows = database_rows(database)
    assert_error(client.call("POST", "/phone/api/vote", {"card_id": "c1", "value": "agree"}, token),
                 409, "card_closed")
    assert_error(client.call("POST", "/phone/api/vote", {"card_id": "c9", "value": "agree"}, token),
                 409, "unknown_card")
    assert_error(client.call("POST", "/phone/api/vote", {"card_id": "c1", "value": "maybe"}, token),
                 422, "bad_value")
    assert_error(client.call("POST", "/phone/api/place", {"step_id": "agenda", "level_id": "none"}, token),
                 409, "not_matrix")
    assert database_rows(database) == rows


@pytest.mark.parametrize("body, status, code", [
    (b"{not json", 400, "bad_json"),
    (b"[1, 2, 3]", 400, "bad_json"),
    (b'"agree"', 400, "bad_json"),
    (b"\xff\xfe\x00", 400, "bad_json"),
    (b'{"card_id": 7, "value": "agree"}', 400, "bad_field"),
    (b'{"card_id": "c1"}', 400, "bad_field"),
    (b'{"card_id": "c1", "value": "agree", "pad": "' + b"x" * 3000 + b'"}', 413, "too_large"),
])
def test_malformed_bodies(client, control, workshop, database, body, status, code):
    token = client.join(workshop[0])
    control.open_card(*workshop)
    rows = database_rows(database)
    assert_error(client.call("POST", "/phone/api/vote", body, token), status, code)
    assert database_rows(database) == rows


def test_malformed_join_bodies_change_nothing(client, workshop, unchanged):
    code = workshop[0]
    assert_error(client.call("POST", "/phone/api/join", b"{}"), 400, "bad_field")
    assert_error(client.call("POST", "/phone/api/join", {"code": code, "side": "press"}), 422, "bad_side")
    assert_error(client.call("POST", "/phone/api/join", {"code": code, "side": "public", "role": "volunteer"}),
                 422, "bad_role")
    assert_error(client.call("POST", "/phone/api/join", {"code": code, "side": ["public"]}), 400, "bad_field")
    assert_error(client.call("POST", "/phone/api/join?lang=de", {"code": code, "side": "public"}), 400, "bad_lang")
    assert unchanged()


def test_oversized_body_without_length_is_cut_off(client, unchanged):
    conn = client.connection()
    try:
        conn.putrequest("POST", "/phone/api/join")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Transfer-Encoding", "chunked")
        conn.endheaders()
        for _ in range(4):
            chunk = b" " * 1000
            conn.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        conn.send(b"0\r\n\r\n")
        response = conn.getresponse()
        data = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 413 and data["error"]["code"] == "too_large"
    assert unchanged()


def test_wrong_method_and_content_type(client, workshop, database):
    token = client.join(workshop[0])
    rows = database_rows(database)
    status, head, data = client.call("GET", "/phone/api/vote", token=token)
    assert_error((status, head, data), 405, "method_not_allowed")
    assert head["allow"] == "POST"
    status, head, data = client.call("DELETE", "/phone/api/state")
    assert_error((status, head, data), 405, "method_not_allowed")
    assert head["allow"] == "GET, HEAD"
    assert_error(client.call("POST", "/phone/api/vote", b'{"card_id": "c1", "value": "agree"}', token,
                             headers={"Content-Type": "text/plain"}), 415, "unsupported_media_type")
    assert_error(client.call("POST", "/phone/api/join", b"code=X&side=public",
                             headers={"Content-Type": "application/x-www-form-urlencoded"}),
                 415, "unsupported_media_type")
    assert_error(client.call("GET", "/phone/api/nothing/here"), 404, "not_found")
    assert database_rows(database) == rows


def test_a_flood_from_one_token_is_slowed(client, control, workshop, database):
    code, secret = workshop
    token, calm = client.join(code), client.join(code)
    rows = database_rows(database)  # the card is not open: every vote is refused, nothing changes
    answers = [client.call("POST", "/phone/api/vote", {"card_id": "c1", "value": "agree"}, token)
               for _ in range(60)]
    statuses = [answer[0] for answer in answers]
    assert set(statuses) == {409, 429} and statuses[0] == 409
    limited = next(answer for answer in answers if answer[0] == 429)
    assert_error(limited, 429, "too_many_requests")
    assert int(limited[1]["retry-after"]) >= 1
    # Another phone is not slowed by it.
    assert client.call("POST", "/phone/api/vote", {"card_id": "c1", "value": "agree"}, calm)[0] == 409
    assert database_rows(database) == rows


def test_joins_from_one_address_are_limited(start_streamlit, framework):
    running = start_streamlit(env={"ASSESSMENT_PHONE_JOINS_PER_MINUTE": "3"})
    control = WorkshopControl(open_database(f"sqlite:///{running.db_path}"), framework)
    code, _ = control.create_workshop("Samverkan", "Burlöv", date(2024, 5, 14), "sv", small_deck())
    client = Client(running.url)
    statuses = [client.call("POST", "/phone/api/join", {"code": code, "side": "public"})[0] for _ in range(5)]
    assert statuses[:3] == [201, 201, 201] and statuses[-1] == 429
    assert control.facilitator_state(code, _).participants["public"] == statuses.count(201)


def test_the_phone_path_on_postgresql(start_streamlit, pg_url, framework):
    running = start_streamlit(env={"DATABASE_URL": pg_url})
    database = open_database(pg_url)
    control = WorkshopControl(database, framework)
    code, secret = control.create_workshop("Samverkan", "Burlöv", date(2024, 5, 14), "en", small_deck())
    client = Client(running.url)
    tokens = [client.join(code, side) for side in ("public", "civil_society", "public")]
    control.open_card(code, secret)
    for token, value in zip(tokens, ("agree", "disagree", "agree")):
        assert client.call("POST", "/phone/api/vote", {"card_id": "c1", "value": value}, token)[0] == 200
    control.reveal(code, secret)
    state = client.call("GET", f"/phone/api/state?code={code}", token=tokens[1])[2]
    assert state["tally"]["overall"] == {"agree": 2, "disagree": 1, "pass": 0, "total": 3}
    assert state["me"]["votes"] == {"c1": "disagree"} and state["lang"] == "en"
    control.close_card(code, secret)
    rows = database_rows(database)
    assert_error(client.call("POST", "/phone/api/vote", {"card_id": "c1", "value": "pass"}, tokens[0]),
                 409, "card_closed")
    # A NUL byte would make PostgreSQL itself fail: refused before it gets there.
    assert_error(client.call("POST", "/phone/api/vote", {"card_id": "c1\u0000", "value": "pass"}, tokens[0]),
                 400, "bad_field")
    assert_error(client.call("POST", "/phone/api/join", {"code": "AB\u0000", "side": "public"}), 400, "bad_field")
    assert_error(client.call("GET", "/phone/api/state?code=AB%00CD"), 404, "unknown_code")
    assert_error(client.call("GET", "/phone/api/events?code=AB%00CD"), 404, "unknown_code")
    assert database_rows(database) == rows


def test_the_streamlit_pages_are_still_served(client):
    status, head, raw = client.request("GET", "/")
    assert status == 200 and b"<html" in raw.lower()
    assert client.request("GET", "/_stcore/health")[2] == b"ok"


def test_a_busy_port_stops_the_server_with_a_message(tmp_path):
    server = StreamlitServer(tmp_path)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", server.port))
        taken.listen()
        with pytest.raises(Exception) as caught:
            server._spawn()
    assert type(caught.value).__name__ == "_PortTaken", "it must not move to another port silently"


def test_an_unexpected_failure_is_a_json_server_error_and_logged(caplog):
    import asyncio

    from starlette.applications import Starlette

    from web.phone_api import api_route

    async def broken(request, lang):
        raise RuntimeError("database exploded at /secret/path.py")

    app = Starlette(routes=[api_route("/phone/api/broken", broken, ("GET",))])
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "path": "/phone/api/broken", "raw_path": b"/phone/api/broken",
             "query_string": b"lang=en", "headers": [], "scheme": "http", "server": ("test", 80),
             "client": ("127.0.0.1", 1), "root_path": "", "http_version": "1.1", "asgi": {"version": "3.0"}}
    run_async(app(scope, receive, send))
    assert sent[0]["status"] == 500
    assert json.loads(sent[1]["body"]) == {"error": {
        "code": "server_error", "message": "Something went wrong on the server. Try again in a moment."}}
    assert "exploded" in caplog.text, "the details go to the log, not to the phone"


def test_the_server_stops_on_sigterm_while_phones_listen(start_streamlit, framework):
    """Event streams never end by themselves: without ending them the server would wait for
    them forever when asked to stop."""
    import signal
    import subprocess

    running = start_streamlit()
    control = WorkshopControl(open_database(f"sqlite:///{running.db_path}"), framework)
    code, _ = control.create_workshop("Samverkan", "Burlöv", date(2024, 5, 14), "sv", small_deck())
    conn = Client(running.url).connection(timeout=60)
    try:
        conn.request("GET", f"/phone/api/events?code={code}")
        response = conn.getresponse()
        assert read_event(response)["code"] == code
        running.process.send_signal(signal.SIGTERM)
        try:
            running.process.wait(timeout=45)  # a bound for a hang only: it stops in about a second
        except subprocess.TimeoutExpired:
            pytest.fail("the server did not stop while an event stream was open")
        assert response.read() == b"", "the stream was ended, not cut"
    finally:
        conn.close()


# --- in process: the event stream lets go of its listener however it ends ---------------------

@pytest.mark.parametrize("leaves", ["after the first state", "before the first state"])
def test_a_phone_that_leaves_stops_the_workshops_watcher(sqlite_engine, framework, monkeypatch, leaves):
    import asyncio

    from starlette.applications import Starlette

    from assessment.workshop.feed import WorkshopFeed
    from assessment.workshop.vote_queue import VoteQueue
    from web import phone_api

    voting = WorkshopVoting(sqlite_engine, framework)
    services = phone_api.Services(voting, VoteQueue(voting), WorkshopFeed(voting, poll_s=0.02))
    monkeypatch.setattr(phone_api, "_services", services)
    code, _ = WorkshopControl(sqlite_engine, framework).create_workshop(
        "Samverkan", "Burlöv", date(2024, 5, 14), "sv", small_deck())
    app = Starlette(routes=phone_api.api_routes())
    scope = {"type": "http", "method": "GET", "path": "/phone/api/events", "raw_path": b"/phone/api/events",
             "query_string": f"code={code}".encode(), "headers": [], "scheme": "http", "server": ("test", 80),
             "client": ("127.0.0.1", 1), "root_path": "", "http_version": "1.1",
             "asgi": {"version": "3.0", "spec_version": "2.3"}}
    sent = []

    async def scenario():
        gone = asyncio.Event()
        if leaves == "before the first state":
            gone.set()

        async def receive():
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            if message.get("body"):
                assert services.feed.watching() == {code}
                gone.set()

        await asyncio.wait_for(app(scope, receive, send), 30)
        return services.feed.watching(), services.feed.listeners(code)

    try:
        assert run_async(scenario()) == (set(), 0)
    finally:
        services.feed.close()
        services.votes.stop()
    if leaves == "after the first state":
        assert b"event: state" in b"".join(message.get("body", b"") for message in sent)
