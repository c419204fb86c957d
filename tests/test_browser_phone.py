"""The light phone page (/phone) in real Chromium against the real server (serve.py).

A facilitator on the Streamlit presenter screen and nine phones (separate browser contexts,
390x844) that open the address of the QR code: they join on both sides, vote at nearly the
same moment, one changes its mind, and the presenter screen, never reloaded, shows exactly
those votes; the results reach the phones without a reload once revealed; a closed card takes
the buttons away and refuses a vote forced through the API. Then the matrix round, a reload
and a locked phone, leaving, and the English page. One server for the module; each test has a
workshop of its own.
"""

from __future__ import annotations

import json
import re
import time
import urllib.error
import urllib.request
from collections import Counter
from datetime import date

import pytest
from playwright.sync_api import Page, expect

from assessment.framework.responses import NO_LEVEL
from assessment.i18n import t
from assessment.workshop.control import WorkshopControl
from assessment.workshop.decks import get_deck
from assessment.workshop.results import WorkshopResults
from assessment.workshop.tallies import GROUPS, VOTE_VALUES
from assessment.workshop.views_support import facilitator_url, join_url, vote_label
from assessment.workshop.voting import WorkshopVoting
from conftest import StreamlitServer
from test_qr import decode_png  # the small QR decoder of tests/test_qr.py

PHONE = {"width": 390, "height": 844}
WAIT_MS = 60_000  # generous: a busy 2-core machine runs server, Chromium and pytest; a wait, not a speed check
L = "sv"

# (side, role or None, first vote); CHANGE: the phone that changes its mind afterwards, and to what.
PHONES = [
    ("public", "politician", "agree"),
    ("public", "official", "disagree"),
    ("public", None, "pass"),
    ("public", "official", "agree"),
    ("civil_society", "association", "agree"),
    ("civil_society", "organisation", "disagree"),
    ("civil_society", "volunteer", "disagree"),
    ("civil_society", None, "agree"),
    ("civil_society", "association", "pass"),
]
CHANGE = (5, "agree")

READ_TALLY = """() => {
    const out = {};
    for (const bar of document.querySelectorAll('.ws-tally[data-group]')) {
        const counts = {};
        for (const n of bar.querySelectorAll('[data-value][data-count]')) counts[n.dataset.value] = +n.dataset.count;
        out[bar.dataset.group] = counts;
    }
    return out;
}"""

# A vote sent past the page, as a script on the phone could: the stored token, straight to the API.
FORCE_VOTE = """async ([code, cardId, value]) => {
    const token = localStorage.getItem('ws-token-' + code);
    const response = await fetch('/phone/api/vote?lang=sv', {method: 'POST',
        headers: {'Content-Type': 'application/json', 'Authorization': 'Bearer ' + token},
        body: JSON.stringify({card_id: cardId, value})});
    return [response.status, await response.json()];
}"""


class Room:
    """The module's server and the workshop repositories on its database."""

    def __init__(self, server: StreamlitServer, fw):
        url = f"sqlite:///{server.db_path}"
        self.server, self.url = server, server.url
        self.control, self.voting = WorkshopControl.open(url, fw), WorkshopVoting.open(url, fw)
        self.results = WorkshopResults.open(url, fw)

    def workshop(self, lang: str = L) -> tuple[str, str]:
        return self.control.create_workshop("Verktyg för samverkan", "Burlövs kommun", date(2026, 3, 12), lang,
                                            get_deck("burlov"))


@pytest.fixture(scope="module")
def room(tmp_path_factory, framework):
    server = StreamlitServer(tmp_path_factory.mktemp("phone")).start()
    yield Room(server, framework)
    server.stop()


@pytest.fixture
def contexts(browser, room, tmp_path):
    """Factory of browser contexts (a phone each unless told); all closed, with screenshots on failure."""
    made = []

    def new(viewport: dict = PHONE) -> Page:
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(WAIT_MS)
        made.append(context)
        return context.new_page()

    yield new
    for i, context in enumerate(made):
        for page in context.pages:
            try:
                page.screenshot(path=str(tmp_path / f"page_{i}.png"), full_page=True)
            except Exception:  # a closed page: the test's own failure matters more
                pass
        context.close()
    print(f"screenshots in {tmp_path}\n{room.server.log_tail(15)}")


def token_of(page: Page, code: str) -> str | None:
    return page.evaluate("code => localStorage.getItem('ws-token-' + code)", code)


def join(page: Page, link: str, code: str, side: str, role: str | None, lang: str = L) -> None:
    """Open the join link, check the code came with it, choose side (and role), join."""
    page.goto(link)
    expect(page.locator("#join-code")).to_have_value(code)
    expect(page.locator("#join-workshop")).to_contain_text("Verktyg för samverkan")
    page.get_by_role("radio", name=t(f"workshop.side.{side}", lang), exact=True).check()
    if role:
        page.get_by_role("radio", name=t(f"workshop.role.{role}", lang), exact=True).check()
    page.get_by_role("button", name=t("ws.join.submit", lang), exact=True).click()
    expect(page.locator("#live-view")).to_be_visible()
    assert token_of(page, code), "the participant token is kept on the phone"


def expect_saved(page: Page, value: str, lang: str = L) -> None:
    expect(page.locator("#card-status")).to_have_text(t("ws.join.your_vote", lang, vote=vote_label(value, lang)))
    expect(page.locator(f"#vote-{value}")).to_have_attribute("aria-pressed", "true")


def expected_tally(votes: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    counts = {group: Counter() for group in GROUPS}
    for side, value in votes:
        counts[side][value] += 1
        counts["overall"][value] += 1
    return {group: {value: counts[group][value] for value in VOTE_VALUES} for group in GROUPS}


def poll(read, until, timeout_s: float = 60.0):
    """Read until the value satisfies `until` or time runs out; returns the last value read."""
    deadline = time.monotonic() + timeout_s
    value = read()
    while not until(value) and time.monotonic() < deadline:
        time.sleep(0.25)
        value = read()
    return value


def same_document(pages: list[Page]) -> None:
    """Mark each page's document: if it is still marked later, the page was never reloaded."""
    for page in pages:
        page.evaluate("() => { window.notReloaded = true; }")


def still_same_document(page: Page) -> bool:
    return page.evaluate("() => window.notReloaded === true")


def test_phones_join_by_the_qr_link_vote_and_follow_the_facilitator(room, contexts):
    code, secret = room.workshop()
    card = get_deck("burlov").cards[0]
    presenter = contexts({"width": 1400, "height": 1000})
    presenter.goto(facilitator_url(room.url, code, secret))
    # The join screen shows the phone page's address, and the big QR code carries exactly it.
    link = presenter.locator(".ws-join-url-big").inner_text().strip()
    assert link == join_url(room.url, code) == f"{room.url}/phone?code={code}"
    qr_src = presenter.locator("[data-testid='stImage'] img").first.get_attribute("src")
    assert decode_png(presenter.request.get(qr_src if qr_src.startswith("http") else room.url + qr_src).body()) == link

    phones = []
    for side, role, _value in PHONES:
        phone = contexts()
        join(phone, link, code, side, role)
        phones.append(phone)
    expect(phones[0].locator("#card-status")).to_have_text("⏳ " + t("ws.join.pending", L))
    expect(phones[0].locator("#vote-agree")).to_have_count(0)
    # Who the phone votes as, in words: side and role.
    expect(phones[0].locator("#context")).to_contain_text(
        t("ws.join.you_are_role", L, side=t("ws.group.public", L).lower(), role=t("workshop.role.politician", L).lower()))
    same_document(phones)

    presenter.get_by_role("button", name=t("ws.ctl.open", L)).click()
    expect(presenter.get_by_role("button", name=t("ws.ctl.close", L))).to_be_visible()
    for phone in phones:  # the opened statement reaches every phone by itself
        expect(phone.locator("#statement")).to_have_text(card.text(L))
        expect(phone.locator("#vote-agree")).to_be_visible()
    expect(phones[0].locator(".position")).to_have_text(t("ws.fac.position", L, n=1, of=len(get_deck("burlov").cards)))

    # Everyone taps at (nearly) the same moment; each phone says "saved" only once the server said so.
    for phone, (_side, _role, value) in zip(phones, PHONES):
        phone.locator(f"#vote-{value}").click()
    for phone, (_side, _role, value) in zip(phones, PHONES):
        expect_saved(phone, value)
    index, new_value = CHANGE
    phones[index].locator(f"#vote-{new_value}").click()
    expect_saved(phones[index], new_value)
    expect(phones[index].locator(f"#vote-{PHONES[index][2]}")).to_have_attribute("aria-pressed", "false")

    votes = [(side, value) for side, _role, value in PHONES]
    votes[index] = (votes[index][0], new_value)
    want = expected_tally(votes)
    tally = room.results.tally(code, card.id)
    assert {group: {v: tally.side(group).get(v) for v in VOTE_VALUES} for group in GROUPS} == want
    # The presenter screen is never reloaded: it catches up by itself.
    assert poll(lambda: presenter.evaluate(READ_TALLY), until=lambda shown: shown == want) == want
    sides = Counter(side for side, _role, _value in PHONES)
    joined = t("ws.fac.participants", L, n=len(PHONES), public=sides["public"],
               civil_society=sides["civil_society"]).replace("**", "")
    expect(presenter.get_by_test_id("stMain")).to_contain_text(joined)

    # Nothing shows on the phones until the facilitator reveals it; then it arrives without a reload.
    assert phones[0].locator(".ws-tally").count() == 0
    presenter.get_by_role("button", name=t("ws.ctl.reveal", L)).click()
    for phone in phones:
        expect(phone.locator(".ws-tally")).to_have_count(len(GROUPS))
        assert phone.evaluate(READ_TALLY) == want
    expect(phones[0].locator(".ws-tally[data-group=overall] .ws-votes")).to_have_text(
        t("ws.tally.votes", L, n=len(PHONES)))
    presenter.get_by_role("button", name=t("ws.ctl.hide", L)).click()
    expect(phones[0].locator(".ws-tally")).to_have_count(0)

    presenter.get_by_role("button", name=t("ws.ctl.close", L)).click()
    for phone, (_side, value) in zip(phones, votes):
        expect(phone.locator("#card-status")).to_have_text("🔒 " + t("ws.join.closed", L))
        expect(phone.locator("button[data-vote]")).to_have_count(0)
        expect(phone.locator("#closed-vote")).to_have_text(t("ws.join.your_vote_closed", L, vote=vote_label(value, L)))
    # A vote forced past the page is refused by the server, and changes nothing.
    status, body = phones[0].evaluate(FORCE_VOTE, [code, card.id, "pass"])
    assert (status, body["error"]["code"]) == (409, "card_closed")
    assert body["error"]["message"] == t("workshop.error.card_closed", L)
    assert room.results.tally(code, card.id) == tally
    # The next statement: every phone waits for it to open.
    presenter.get_by_role("button", name=t("ws.ctl.next", L)).click()
    for phone in phones:
        expect(phone.locator("#statement")).to_have_text(get_deck("burlov").cards[1].text(L))
        expect(phone.locator("#card-status")).to_have_text("⏳ " + t("ws.join.pending", L))
    assert all(still_same_document(phone) for phone in phones), "no phone was reloaded"


def test_matrix_round_places_levels_and_shows_the_revealed_result(room, contexts, framework):
    code, secret = room.workshop()
    room.control.start_matrix(code, secret)
    link = join_url(room.url, code)
    phones = [contexts(), contexts()]
    join(phones[0], link, code, "public", None)
    join(phones[1], link, code, "civil_society", "volunteer")
    step, second = framework.steps[0], framework.steps[1]
    level = framework.active_levels()[1]
    first_step = phones[0].get_by_role("group", name=f"1. {step.name(L)}")
    # Every step offers "no participation" as well as every level.
    expect(first_step.get_by_role("radio")).to_have_count(1 + len(framework.active_levels()))
    expect(first_step.get_by_role("radio", name=t("ws.matrix.none", L), exact=True)).to_be_visible()
    for phone in phones:
        phone.get_by_role("group", name=f"1. {step.name(L)}").get_by_role("radio", name=level.name(L), exact=True).check()
        expect(phone.locator("#placed-0")).to_have_text(t("ws.join.placed", L, level=level.name(L)))
    phones[0].get_by_role("group", name=f"2. {second.name(L)}").get_by_role(
        "radio", name=t("ws.matrix.none", L), exact=True).check()
    expect(phones[0].locator("#placed-1")).to_have_text(t("ws.join.placed", L, level=t("ws.matrix.none", L)))
    assert room.voting.my_placements(token_of(phones[0], code)) == {step.id: level.id, second.id: NO_LEVEL}
    assert room.voting.my_placements(token_of(phones[1], code)) == {step.id: level.id}
    expect(phones[0].locator(".matrix-result")).to_have_count(0)

    same_document(phones)
    room.control.reveal(code, secret)
    for phone in phones:
        first = phone.locator(f'.matrix-result li[data-step="{step.id}"]')
        expect(first).to_have_text(
            t("ws.join.matrix_result", L, n=1, step=step.name(L), level=level.name(L), answered=2).replace("**", ""))
        assert still_same_document(phone)
    # A reload keeps the placements.
    phones[0].reload()
    expect(phones[0].get_by_role("group", name=f"1. {step.name(L)}").get_by_role(
        "radio", name=level.name(L), exact=True)).to_be_checked()

    room.control.end(code, secret)
    expect(phones[1].locator("#card-status")).to_have_text(t("ws.join.ended", L))


def test_reload_and_a_locked_phone_keep_participant_and_vote_and_leave_forgets(room, contexts):
    code, secret = room.workshop()
    room.control.open_card(code, secret)
    phone = contexts()
    join(phone, join_url(room.url, code), code, "civil_society", "volunteer")
    # Until the server has answered, the vote is "saving", not saved.
    held = []
    phone.route("**/phone/api/vote*", lambda route: held.append(route))
    phone.locator("#vote-disagree").click()
    expect(phone.locator("#card-status")).to_have_text(
        t("phone.page.vote_saving", L, vote=vote_label("disagree", L)))
    expect(phone.locator("#vote-disagree")).to_have_attribute("aria-pressed", "false")
    held[0].continue_()
    expect_saved(phone, "disagree")
    phone.unroute("**/phone/api/vote*")
    token = token_of(phone, code)
    who = t("ws.join.you_are_role", L, side=t("ws.group.civil_society", L).lower(),
            role=t("workshop.role.volunteer", L).lower())

    phone.reload()
    expect_saved(phone, "disagree")
    expect(phone.locator("#context")).to_contain_text(who)
    # A locked phone: the tab is gone, the link opened again later.
    again = phone.context.new_page()
    phone.close()
    again.goto(join_url(room.url, code))
    expect_saved(again, "disagree")
    assert token_of(again, code) == token
    assert room.results.participant_counts(code) == {"public": 0, "civil_society": 1}, "still one participant"

    # Cut off from the live updates, the phone says so, and a vote on a card closed meanwhile
    # gets the server's refusal in the alert region; once the stream is back, the phone catches up.
    again.route("**/phone/api/events*", lambda route: route.abort())
    again.reload()
    expect(again.locator("#connection")).to_have_text(t("phone.page.offline", L))
    room.control.close_card(code, secret)
    again.locator("#vote-agree").click()
    expect(again.get_by_role("alert")).to_have_text(t("workshop.error.card_closed", L))
    expect(again.locator("#vote-disagree")).to_have_attribute("aria-pressed", "true")
    again.unroute("**/phone/api/events*")
    expect(again.locator("#card-status")).to_have_text("🔒 " + t("ws.join.closed", L))
    expect(again.locator("#connection")).to_be_hidden()
    assert room.results.tally(code, get_deck("burlov").cards[0].id).civil_society.disagree == 1

    again.get_by_role("button", name=t("phone.page.leave", L)).click()
    expect(again.locator("#join-view")).to_be_visible()
    expect(again.locator("#join-message")).to_have_text(t("phone.page.left", L))
    expect(again.locator("#join-code")).to_have_value(code)
    assert token_of(again, code) is None
    again.reload()
    expect(again.locator("#join-view")).to_be_visible()

    # A token the server does not know (forged, or from a wiped database): forgotten, join again.
    again.evaluate("([code]) => localStorage.setItem('ws-token-' + code, 'forged-token')", [code])
    again.reload()
    expect(again.locator("#join-message")).to_have_text(t("phone.page.forgotten", L))
    assert token_of(again, code) is None
    # Joining without a side says what is missing, in the alert region.
    again.get_by_role("button", name=t("ws.join.submit", L), exact=True).click()
    expect(again.get_by_role("alert")).to_have_text(t("ws.join.need_side", L))


def test_english_workshop_opens_in_english_and_switches_to_swedish(room, contexts):
    code, secret = room.workshop("en")
    room.control.open_card(code, secret)
    card = get_deck("burlov").cards[0]
    link = join_url(room.url, code, "en")
    assert link.endswith(f"/phone?code={code}&lang=en")
    phone = contexts()
    join(phone, link, code, "public", "politician", lang="en")
    expect(phone.locator("html")).to_have_attribute("lang", "en")
    expect(phone.locator("#statement")).to_have_text(card.text("en"))
    phone.locator("#vote-pass").click()
    expect_saved(phone, "pass", "en")

    phone.get_by_role("link", name=t("phone.page.switch_lang", "en")).click()
    expect(phone.locator("html")).to_have_attribute("lang", "sv")
    expect(phone.locator("#statement")).to_have_text(card.text("sv"))
    expect_saved(phone, "pass", "sv")

    # The old address still leads to the phone page, with the code.
    pointer = contexts()
    pointer.goto(f"{room.url}/join?code={code}&lang=en")
    button = pointer.get_by_role("link", name=t("phone.page.open_phone", "en"))
    expect(button).to_have_attribute("href", join_url(room.url, code, "en"))


def fetch(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read().decode()


@pytest.mark.parametrize("query,lang", [("", "sv"), ("?code=ABC234&lang=en", "en"), ("?lang=xx", "sv")])
def test_page_carries_its_language_and_texts_and_serves_only_its_own_files(room, query, lang):
    status, headers, body = fetch(f"{room.url}/phone{query}")
    assert (status, headers["content-type"], headers["cache-control"]) == (200, "text/html; charset=utf-8", "no-cache")
    assert f'<html lang="{lang}">' in body
    texts = json.loads(re.search(r'<script id="phone-texts" type="application/json">(.*?)</script>', body, re.S)[1])
    assert texts["lang"] == lang
    assert texts["texts"]["ws.join.submit"] == t("ws.join.submit", lang)
    assert texts["texts"]["workshop.role.volunteer"] == t("workshop.role.volunteer", lang)
    assert "{{" not in body, "every placeholder is filled"
    for name, kind in (("phone.js", "text/javascript"), ("phone.css", "text/css")):
        status, headers, _ = fetch(f"{room.url}/phone/static/{name}")
        assert (status, headers["content-type"].split(";")[0]) == (200, kind)
    for name in ("phone.html", "nothing.js"):
        assert fetch(f"{room.url}/phone/static/{name}")[0] == 404
    status, _, body = fetch(f"{room.url}/phone/static/..%2Fphone_page.py")
    assert status in (400, 404) and "page_routes" not in body, "no way out of the two files"
