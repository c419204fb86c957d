"""The live workshop end to end in headless Chromium: one presenter screen, six phones.

The facilitator creates the Burlöv workshop through the page and opens the first
statement; six phones (separate browser contexts, 390x844) join on both sides and
vote at nearly the same moment, one changes its vote; the presenter screen, never
reloaded, must then show exactly those votes per side. Closing the card must reach
the phones by itself too.
"""

from __future__ import annotations

import time
from collections import Counter
from urllib.parse import parse_qs, urlsplit

from assessment.i18n import t
from assessment.workshop.decks import get_deck
from assessment.workshop.tallies import GROUPS, VOTE_VALUES
from assessment.workshop.views_support import vote_label
from test_qr import decode_png  # the small QR decoder of tests/test_qr.py

PHONE = {"width": 390, "height": 844}
WAIT_MS = 60_000  # generous: CI machines may be busy; this is a wait, not a speed check
L = "sv"

# (side, role or None, first vote); the last phone changes its mind afterwards.
PHONES = [
    ("public", "politician", "agree"),
    ("public", "official", "disagree"),
    ("public", None, "pass"),
    ("civil_society", "association", "agree"),
    ("civil_society", "volunteer", "disagree"),
    ("civil_society", None, "disagree"),
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


def expected_tally(votes: list[tuple[str, str]]) -> dict[str, dict[str, int]]:
    counts = {group: Counter() for group in GROUPS}
    for side, value in votes:
        counts[side][value] += 1
        counts["overall"][value] += 1
    return {group: {value: counts[group][value] for value in VOTE_VALUES} for group in GROUPS}


def create_workshop(page, base: str) -> tuple[str, str]:
    page.goto(f"{base}/facilitate")
    page.get_by_label(t("ws.create.name", L)).fill("Verktyg för samverkan")
    page.get_by_label(t("ws.create.unit", L)).fill("Burlövs kommun")
    page.get_by_text(get_deck("burlov").title(L), exact=False).first.click()
    page.get_by_role("button", name=t("ws.create.submit", L)).click()
    page.locator(".ws-join-url-big").wait_for()  # the join screen of the new workshop
    query = parse_qs(urlsplit(page.url).query)
    return query["w"][0], query["s"][0]


def join(context_page, join_link: str, side: str, role: str | None) -> None:
    page = context_page
    page.goto(join_link)
    page.get_by_text(t(f"workshop.side.{side}", L)).click()
    if role:
        page.get_by_role("radio", name=t(f"workshop.role.{role}", L), exact=True).click()
    page.get_by_role("button", name=t("ws.join.submit", L)).click()
    page.locator(".ws-phone-statement").wait_for()
    assert parse_qs(urlsplit(page.url).query).get("p"), "the participant token is kept in the URL"


def poll(read, until, timeout_s: float = 60.0, every_s: float = 0.25):
    """Read until the value satisfies `until` or time runs out; returns the last value read."""
    deadline = time.monotonic() + timeout_s
    value = read()
    while not until(value) and time.monotonic() < deadline:
        time.sleep(every_s)
        value = read()
    return value


def wait_saved(page, value: str) -> None:
    page.get_by_text(t("ws.join.your_vote", L, vote=vote_label(value, L))).wait_for(timeout=WAIT_MS)


def test_phones_vote_and_the_presenter_screen_follows(streamlit_server, browser, tmp_path):
    base = streamlit_server.url
    presenter_context = browser.new_context(viewport={"width": 1400, "height": 1000})
    presenter_context.set_default_timeout(WAIT_MS)
    presenter = presenter_context.new_page()
    phones = []
    try:
        code, secret = create_workshop(presenter, base)
        assert secret not in presenter.locator(".ws-join-url-big").inner_text()

        # The join screen shows the address phones should open, built from the Host header.
        join_link = presenter.locator(".ws-join-url-big").inner_text().strip()
        assert join_link == f"{base}/join?code={code}"
        # ...and the big QR code on that screen carries exactly that address.
        qr_src = presenter.locator("[data-testid='stImage'] img").first.get_attribute("src")
        qr_png = presenter.request.get(qr_src if qr_src.startswith("http") else f"{base}{qr_src}").body()
        assert decode_png(qr_png) == join_link
        presenter.get_by_role("button", name=t("ws.ctl.open", L)).click()
        presenter.get_by_role("button", name=t("ws.ctl.close", L)).wait_for()

        first_card = get_deck("burlov").cards[0].text(L)
        for side, role, _value in PHONES:
            context = browser.new_context(viewport=PHONE, device_scale_factor=2)
            context.set_default_timeout(WAIT_MS)
            page = context.new_page()
            phones.append(page)
            join(page, join_link, side, role)
            page.get_by_text(first_card).wait_for()
            page.locator(".st-key-ws_vote_agree button").wait_for()

        # Everyone taps at (nearly) the same moment: no waiting between the clicks.
        for page, (_side, _role, value) in zip(phones, PHONES):
            page.locator(f".st-key-ws_vote_{value} button").click()
        for page, (_side, _role, value) in zip(phones, PHONES):
            wait_saved(page, value)

        index, new_value = CHANGE
        phones[index].locator(f".st-key-ws_vote_{new_value} button").click()
        wait_saved(phones[index], new_value)

        votes = [(side, value) for side, _role, value in PHONES]
        votes[index] = (votes[index][0], new_value)
        want = expected_tally(votes)
        # The presenter page is never reloaded: its fragment must catch up by itself.
        shown = poll(lambda: presenter.evaluate(READ_TALLY), until=lambda tally: tally == want)
        assert shown == want
        sides = Counter(side for side, _role, _value in PHONES)
        joined = t("ws.fac.participants", L, n=len(PHONES), public=sides["public"],
                   civil_society=sides["civil_society"]).replace("**", "")
        assert joined in presenter.locator("[data-testid='stMain']").inner_text()

        # Closing the card reaches every phone without a reload.
        presenter.get_by_role("button", name=t("ws.ctl.close", L)).click()
        for page in phones:
            page.get_by_text(t("ws.join.closed", L)).wait_for()
            assert page.locator(".st-key-ws_vote_agree button").count() == 0
    except Exception:
        for i, page in enumerate([presenter, *phones]):
            page.screenshot(path=str(tmp_path / f"failure_{i}.png"))
            print(f"--- page {i}: {page.url}\n{page.locator('body').inner_text()[:800]}")
        print(f"screenshots in {tmp_path}\n{streamlit_server.log_tail()}")
        raise
    finally:
        for page in phones:
            page.context.close()
        presenter_context.close()
