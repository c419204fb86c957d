"""The facilitator's secret leaves the address bar (web/facilitator_link.py and the page).

The middleware on a tiny ASGI app of its own (Starlette's TestClient); the facilitator page
in AppTest for what the session holds; and real Chromium against the real server for the
cookie's round trip: the link opened, the address bar without the secret, a reload, and
another browser without the cookie refused.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from starlette.testclient import TestClient
from streamlit.testing.v1 import AppTest

from assessment.i18n import t
from assessment.workshop.control import WorkshopControl
from assessment.workshop.decks import get_deck
from assessment.workshop.views_support import facilitator_url
from web.facilitator_link import FacilitatorLinkMiddleware
from conftest import run_async

REPO = Path(__file__).resolve().parent.parent
FACILITATE = str(REPO / "views" / "workshop_facilitate.py")
SECRET = "Zq3-x_9KpLmN0aBcDeFgHiJk"  # the shape secrets.token_urlsafe(18) gives
WAIT_MS = 60_000  # a busy machine may be slow; a wait, not a speed check
L = "sv"


async def echo_app(scope, receive, send):
    """What the middleware wraps: answers every request with what reached it."""
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.send", "text": scope["query_string"].decode()})
        await send({"type": "websocket.close"})
        return
    seen = {"method": scope["method"], "path": scope["path"], "query": scope["query_string"].decode()}
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": json.dumps(seen).encode()})


def client(base_url: str = "http://testserver") -> TestClient:
    return TestClient(FacilitatorLinkMiddleware(echo_app), base_url=base_url, follow_redirects=False)


# --- the middleware ------------------------------------------------------------------------

def test_the_link_redirects_without_the_secret_and_sets_a_session_cookie():
    response = client().get(f"/facilitate?w=abc-234&s={SECRET}&lang=en")
    assert response.status_code == 303
    assert response.headers["location"] == "/facilitate?w=abc-234&lang=en"
    assert response.headers.get_list("set-cookie") == [
        f"ws_fac_ABC234={SECRET}; HttpOnly; SameSite=Strict; Path=/"]  # no Max-Age: gone with the browser
    assert SECRET not in response.headers["location"]


@pytest.mark.parametrize("base_url,headers", [("https://testserver", {}),
                                              ("http://testserver", {"X-Forwarded-Proto": "https"})])
def test_the_cookie_is_secure_behind_https(base_url, headers):
    response = client(base_url).get(f"/facilitate?w=ABC234&s={SECRET}", headers=headers)
    assert response.status_code == 303
    assert response.headers["set-cookie"].split("; ")[1:] == ["HttpOnly", "SameSite=Strict", "Path=/", "Secure"]


@pytest.mark.parametrize("method,path", [
    ("POST", "/facilitate"), ("HEAD", "/facilitate"),
    ("GET", "/_stcore/host-config"), ("GET", "/phone/api/state"), ("GET", "/phone"), ("GET", "/media/x.png"),
])
def test_other_methods_and_paths_pass_through_untouched(method, path):
    query = f"w=ABC234&s={SECRET}"
    response = client().request(method, f"{path}?{query}")
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    if method != "HEAD":
        assert response.json() == {"method": method, "path": path, "query": query}


@pytest.mark.parametrize("query", ["w=ABC234", f"s={SECRET}", "code=ABC234&p=token", ""])
def test_a_page_without_both_parts_of_the_link_passes_through(query):
    response = client().get(f"/facilitate?{query}")
    assert response.status_code == 200 and response.json()["query"] == query
    assert "set-cookie" not in response.headers


def test_the_websocket_passes_through_with_its_query():
    with client().websocket_connect(f"/_stcore/stream?w=ABC234&s={SECRET}") as socket:
        assert socket.receive_text() == f"w=ABC234&s={SECRET}"


@pytest.mark.parametrize("code,secret", [
    ("AB", SECRET), ("ABC2340", SECRET), ("<script>", SECRET), ("ABC1O0", SECRET),  # not a workshop code
    ("ABC234", "x" * 129), ("ABC234", "a;b"), ("ABC234", "a b"), ("ABC234", " "),  # not a secret
])
def test_a_malformed_link_stores_nothing_but_still_loses_its_secret(code, secret):
    response = client().get("/facilitate", params={"w": code, "s": secret})
    assert response.status_code == 303
    assert "set-cookie" not in response.headers
    assert parse_qs(urlsplit(response.headers["location"]).query) == {"w": [code.strip()]}


def test_the_redirect_stays_on_this_host():
    # A request line "GET //evil.example/..." (an HTTP client would take that for a host: sent raw).
    sent = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "GET", "scheme": "http", "path": "//evil.example/facilitate",
             "raw_path": b"//evil.example/facilitate", "query_string": f"w=ABC234&s={SECRET}".encode(),
             "headers": [], "root_path": ""}
    run_async(FacilitatorLinkMiddleware(echo_app)(scope, None, send))
    assert sent[0]["status"] == 303
    assert dict(sent[0]["headers"])[b"location"] == b"/evil.example/facilitate?w=ABC234"


# --- the page: the secret held by the session -----------------------------------------------

@pytest.fixture
def workshop(tmp_path, monkeypatch, framework):
    """A workshop in the page's own SQLite file: (code, secret)."""
    db = tmp_path / "a.db"
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ASSESSMENT_DB", str(db))
    monkeypatch.setenv("ASSESSMENT_PUBLIC_URL", "https://x.se")
    control = WorkshopControl.open(f"sqlite:///{db}", framework)
    return control.create_workshop("Verktyg för samverkan", "Burlövs kommun", date(2026, 3, 12), "sv",
                                   get_deck("burlov", framework))


def test_reopening_with_the_pasted_link_keeps_the_secret_out_of_the_address(workshop):
    code, secret = workshop
    at = AppTest.from_file(FACILITATE, default_timeout=30).run()
    at.text_input(key="ws_reopen").input(facilitator_url("http://x.se", code, secret)).run()
    at.button(key="ws_reopen_go").click().run()
    assert not at.exception and not at.error
    assert at.query_params.get("w") == code and "s" not in at.query_params
    assert at.toggle(key="ws_big_qr"), "the presenter view is shown"
    at.run()  # the next run still has it: held by the session
    assert not at.error and at.toggle(key="ws_big_qr")
    # Held by the session only: a button opens the full link, which stores the cookie.
    assert at.get("link_button")[0].proto.url == facilitator_url("https://x.se", code, secret)


def test_a_secret_that_reaches_the_page_in_the_address_is_taken_out(workshop):
    code, secret = workshop
    at = AppTest.from_file(FACILITATE, default_timeout=30)
    at.query_params.update({"w": code, "s": secret})
    at.run()
    assert not at.exception and not at.error and at.toggle(key="ws_big_qr")
    assert "s" not in at.query_params and at.query_params.get("w") == code


# --- real Chromium against the real server ----------------------------------------------------

def presenter_ready(page) -> None:
    page.get_by_text(t("ws.fac.big_qr", L)).wait_for(timeout=WAIT_MS)


def address_query(page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


def test_the_facilitator_link_leaves_only_the_code_in_the_address_bar(start_streamlit, browser, framework):
    server = start_streamlit()
    control = WorkshopControl.open(f"sqlite:///{server.db_path}", framework)
    code, secret = control.create_workshop("Verktyg för samverkan", "Burlövs kommun", date(2026, 3, 12), "sv",
                                           get_deck("burlov", framework))
    facilitator = browser.new_context(viewport={"width": 1400, "height": 1000})
    stranger = browser.new_context()
    try:
        page = facilitator.new_page()
        page.goto(facilitator_url(server.url, code, secret))
        presenter_ready(page)
        assert address_query(page) == {"w": [code]} and secret not in page.url
        [cookie] = [c for c in facilitator.cookies() if c["name"] == f"ws_fac_{code}"]
        assert (cookie["value"], cookie["httpOnly"], cookie["sameSite"], cookie["expires"]) == \
            (secret, True, "Strict", -1), "kept for this browser session only, out of reach of scripts"
        assert page.evaluate("document.cookie").find(secret) == -1

        page.reload()  # a new Streamlit session: the cookie alone gives access
        presenter_ready(page)
        assert address_query(page) == {"w": [code]}

        other = stranger.new_page()
        other.goto(f"{server.url}/facilitate?w={code}")
        other.get_by_text(t("workshop.error.forbidden", L)).wait_for(timeout=WAIT_MS)
        assert other.get_by_text(t("ws.fac.big_qr", L)).count() == 0
    finally:
        facilitator.close()
        stranger.close()


def test_creating_a_workshop_leaves_no_secret_in_the_address_bar(start_streamlit, browser):
    server = start_streamlit()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        page.goto(f"{server.url}/facilitate")
        page.get_by_label(t("ws.create.name", L)).fill("Verktyg för samverkan")
        page.get_by_text(get_deck("burlov").title(L), exact=False).first.click()
        page.get_by_role("button", name=t("ws.create.submit", L)).click()
        page.locator(".ws-join-url-big").wait_for()
        query = address_query(page)
        assert list(query) == ["w"], f"only the code in the address: {page.url}"
        link = page.get_by_test_id("stCode").inner_text().strip()  # the link to keep, shown once created
        assert parse_qs(urlsplit(link).query)["w"] == query["w"]
        assert parse_qs(urlsplit(link).query)["s"][0] not in page.url
        # Held by this session only; the button opens the full link, whose cookie outlives a reload.
        with context.expect_page() as opened:
            page.get_by_role("link", name=t("ws.fac.keep_access", L)).click()
        presenter_ready(opened.value)
        assert list(address_query(opened.value)) == ["w"]
        page.reload()
        presenter_ready(page)
    finally:
        context.close()
