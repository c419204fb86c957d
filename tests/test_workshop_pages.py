"""The live workshop pages in Streamlit's AppTest: the facilitator page, and the old phone
address (/join), now a pointer to the light phone page.

Each test gets its own SQLite file (ASSESSMENT_DB); the workshop repositories on the
same file arrange the workshop, join and vote as the phones do (the phone page itself is
tested in real Chromium: tests/test_browser_phone.py), or check what the pages wrote.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from streamlit.testing.v1 import AppTest

from assessment.i18n import t
from assessment.store.engine import make_engine
from assessment.store.migrations import init_db
from assessment.workshop.control import WorkshopControl
from assessment.workshop.decks import get_deck
from assessment.workshop.errors import InvalidInput
from assessment.workshop.results import WorkshopResults
from assessment.workshop.tallies import Counts, Tally
from assessment.workshop.views_support import (facilitator_url, join_url, public_base_url, spaced_code,
                                               tally_bar_html, tally_frame)
from assessment.workshop.voting import WorkshopVoting

REPO = Path(__file__).resolve().parent.parent
FACILITATE = str(REPO / "views" / "workshop_facilitate.py")
JOIN = str(REPO / "views" / "workshop_join.py")
TIMEOUT = 30


@pytest.fixture
def workshop_engine(tmp_path, monkeypatch):
    """The pages' database (ASSESSMENT_DB): a file of the test's own, with its schema."""
    db = tmp_path / "a.db"
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("ASSESSMENT_PUBLIC_URL", raising=False)
    monkeypatch.setenv("ASSESSMENT_DB", str(db))
    engine = make_engine(f"sqlite:///{db}")
    init_db(engine)
    return engine


@pytest.fixture
def control(workshop_engine):
    return WorkshopControl(workshop_engine)


@pytest.fixture
def voting(workshop_engine):
    return WorkshopVoting(workshop_engine)


@pytest.fixture
def results(workshop_engine):
    return WorkshopResults(workshop_engine)


@pytest.fixture
def workshop(control, framework):
    """A Burlöv workshop: (code, secret)."""
    return control.create_workshop("Verktyg för samverkan", "Burlövs kommun", date(2013, 4, 17), "sv",
                                 get_deck("burlov", framework))


def facilitator_page(code: str | None = None, secret: str | None = None) -> AppTest:
    at = AppTest.from_file(FACILITATE, default_timeout=TIMEOUT)
    if code:
        at.query_params["w"] = code
    if secret:
        at.query_params["s"] = secret
    return at.run()


def html_bodies(at: AppTest) -> str:
    return "\n".join(node.proto.body for node in at.get("html"))


def shown_tally(at: AppTest) -> dict[str, dict[str, int]]:
    """The counts the tally bars show, per group, read from the drawn HTML."""
    out: dict[str, dict[str, int]] = {}
    for group, legend in re.findall(r'data-group="(\w+)".*?<div class="ws-legend">(.*?)</div>', html_bodies(at),
                                    flags=re.S):
        out[group] = {value: int(n) for value, n in re.findall(r'data-value="(\w+)" data-count="(\d+)"', legend)}
    return out


def texts(at: AppTest) -> str:
    parts = [e.value for e in at.error] + [e.value for e in at.warning] + [e.value for e in at.success]
    parts += [e.value for e in at.info] + [e.value for e in at.markdown] + [e.value for e in at.caption]
    return "\n".join(str(p) for p in parts) + "\n" + html_bodies(at)


# --- facilitator ---------------------------------------------------------------------------

@pytest.mark.parametrize("secret", [None, "wrong-secret"])
def test_facilitator_without_the_secret_sees_one_message_and_no_controls(workshop, secret):
    code, _secret = workshop
    at = facilitator_page(code, secret)
    assert not at.exception
    assert [e.value for e in at.error] == [t("workshop.error.forbidden", "sv")]
    assert len(at.button) == 0 and len(at.toggle) == 0 and len(at.get("download_button")) == 0
    card = get_deck("burlov").cards[0].text("sv")
    assert card not in texts(at), "the statement is not shown without the secret"
    assert code not in texts(at).replace(t("workshop.error.forbidden", "sv"), "")


def test_unknown_workshop_code_gives_one_message(workshop_engine):
    at = facilitator_page("ZZZZZZ", "whatever")
    assert [e.value for e in at.error] == [t("workshop.error.unknown_code", "sv", code="ZZZZZZ")]
    assert len(at.button) == 0


def test_create_workshop_gives_private_link_code_and_qr(control, voting):
    at = facilitator_page()
    at.text_input(key="ws_name").input("Verktyg för samverkan")
    at.text_input(key="ws_unit").input("Burlövs kommun")
    at.radio(key="ws_deck").set_value("burlov")
    at.get("form_submit_button")[0].click().run()
    assert not at.exception
    code = at.query_params.get("w")
    assert code and "s" not in at.query_params, "the secret stays out of the address bar"
    links = [c.value for c in at.code]
    secret = next(parse_qs(urlsplit(link).query)["s"][0] for link in links if f"w={code}" in link)
    assert control.check_secret(code, secret), "the facilitator link to keep is given"
    info = voting.get_workshop(code)
    assert (info.name, info.unit, info.deck.id) == ("Verktyg för samverkan", "Burlövs kommun", "burlov")
    shown = texts(at)
    assert spaced_code(code) in shown, "the join code is shown large"
    assert f"/phone?code={code}" in shown
    assert t("ws.fac.secret_warning", "sv") in [w.value for w in at.warning]
    assert len(at.get("image")) >= 1, "a QR code image is drawn"


def test_pages_speak_english_when_chosen(workshop):
    code, secret = workshop
    at = AppTest.from_file(FACILITATE, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.query_params.update({"w": code, "s": secret})
    at.run()
    assert at.button(key="ws_open").label == t("ws.ctl.open", "en")
    # The old phone address points to the phone page, keeping the code and the language.
    phone = AppTest.from_file(JOIN, default_timeout=TIMEOUT)
    phone.session_state["lang"] = "en"
    phone.query_params["code"] = code
    phone.run()
    assert not phone.exception
    pointer = phone.get("link_button")[0].proto
    assert pointer.label == t("phone.page.open_phone", "en")
    assert f"/phone?code={code}&lang=en" in pointer.url


def test_create_without_a_name_is_refused_and_creates_nothing(workshop_engine):
    at = facilitator_page()
    at.get("form_submit_button")[0].click().run()
    assert [e.value for e in at.error] == [t("ws.create.need_name", "sv")]
    assert not at.query_params.get("w")


def test_controls_open_and_move_through_the_statements(control, voting, workshop):
    code, secret = workshop
    at = facilitator_page(code, secret)
    assert not at.exception
    at.toggle(key="ws_big_qr").set_value(False).run()
    deck = get_deck("burlov")
    assert deck.cards[0].text("sv") in html_bodies(at)
    at.button(key="ws_open").click().run()
    assert control.facilitator_state(code, secret).card_open
    at.button(key="ws_reveal").click().run()
    assert voting.get_workshop(code).revealed
    at.button(key="ws_next").click().run()
    view = control.facilitator_state(code, secret)
    assert view.info.current_index == 1 and not view.card_open
    assert deck.cards[1].text("sv") in html_bodies(at)
    assert t("ws.fac.position", "sv", n=2, of=len(deck.cards)) in html_bodies(at)
    at.button(key="ws_prev").click().run()
    assert voting.get_workshop(code).current_index == 0


# --- phones (joining and voting through the store, as the phone API does) -----------------

def test_votes_from_phones_appear_in_the_facilitator_tally_per_side(control, voting, workshop):
    code, secret = workshop
    control.open_card(code, secret)
    card_id = get_deck("burlov").cards[0].id
    cast = [("public", "agree"), ("public", "agree"), ("public", "disagree"),
            ("civil_society", "disagree"), ("civil_society", "pass")]
    tokens = []
    for side, value in cast:
        tokens.append(voting.join(code, side))
        voting.vote(tokens[-1], card_id, value)
    at = facilitator_page(code, secret)
    at.toggle(key="ws_big_qr").set_value(False).run()
    shown = shown_tally(at)
    assert shown["public"] == {"agree": 2, "disagree": 1, "pass": 0}
    assert shown["civil_society"] == {"agree": 0, "disagree": 1, "pass": 1}
    assert shown["overall"] == {"agree": 2, "disagree": 2, "pass": 1}
    assert t("ws.fac.votes_on_card", "sv", n=5) in texts(at)

    # A participant changes their mind: the tally follows, nobody is counted twice.
    voting.vote(tokens[2], card_id, "agree")
    shown = shown_tally(facilitator_page(code, secret))
    assert shown["public"] == {"agree": 3, "disagree": 0, "pass": 0}


def test_join_without_a_side_is_refused_and_creates_nothing(voting, results, workshop):
    # The phone page asks for a side before it sends; a join sent without one is refused all the same.
    code, _ = workshop
    with pytest.raises(InvalidInput) as refused:
        voting.join(code, "")
    assert refused.value.key == "workshop.error.bad_side"
    assert results.participant_counts(code) == {"public": 0, "civil_society": 0}


# --- matrix round and end ------------------------------------------------------------------

def test_matrix_round_placements_reach_the_heatmap(control, voting, workshop, framework):
    code, secret = workshop
    token = voting.join(code, "civil_society")
    control.start_matrix(code, secret)
    first_step = framework.steps[0].id
    voting.place(token, first_step, "dialogue")
    assert voting.my_placements(token) == {first_step: "dialogue"}
    at = facilitator_page(code, secret)
    assert not at.exception
    assert len(at.get("arrow_vega_lite_chart")) + len(at.get("vega_lite_chart")) >= 1
    assert t("ws.fac.matrix_placed", "sv", n=1, group=t("ws.group.overall", "sv")) in texts(at)


def test_end_shows_summary_and_exports(control, voting, workshop):
    code, secret = workshop
    control.open_card(code, secret)
    voting.vote(voting.join(code, "public"), get_deck("burlov").cards[0].id, "agree")
    at = facilitator_page(code, secret)
    at.button(key="ws_end").click().run()
    assert voting.get_workshop(code).phase == "ended"
    assert t("ws.fac.ended", "sv") in [s.value for s in at.success]
    deck = get_deck("burlov")
    charts = at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart")
    assert len(charts) >= len(deck.cards), "a chart per statement"
    assert len(at.get("download_button")) >= 2


# --- what the pages draw, computed without streamlit (assessment/workshop/views_support.py) ---

def test_public_base_url_prefers_the_configured_address():
    assert public_base_url("https://samverkan.example.se/", "10.0.0.5:8501") == "https://samverkan.example.se"
    assert public_base_url(None, "10.0.0.5:8501", "https") == "https://10.0.0.5:8501"
    assert public_base_url("", "host:1", None, "/app/") == "http://host:1/app"
    with pytest.raises(ValueError, match="ASSESSMENT_PUBLIC_URL"):
        public_base_url("samverkan.example.se", "host:1")


def test_links_carry_code_secret_and_language():
    assert join_url("https://x.se", "ABC234") == "https://x.se/phone?code=ABC234"
    assert join_url("https://x.se/", "ABC234", "en") == "https://x.se/phone?code=ABC234&lang=en"
    link = facilitator_url("https://x.se", "ABC234", "s3cr+t")
    assert link == "https://x.se/facilitate?w=ABC234&s=s3cr%2Bt"


def test_tally_bar_shows_every_count_in_text():
    counts = Counts(agree=7, disagree=2, passed=1)
    bar = tally_bar_html(counts, "public", "en")
    assert 'data-value="agree" data-count="7"' in bar and "(70 %)" in bar
    assert 'data-value="disagree" data-count="2"' in bar and "(20 %)" in bar
    assert 'data-value="pass" data-count="1"' in bar and "(10 %)" in bar
    assert "✅" in bar and "❌" in bar and "➖" in bar, "icons, not colour alone"
    assert "width:70.0%" in bar


def test_tally_frame_segments_fill_each_bar():
    tally = Tally("x", Counts(3, 1, 0), Counts(3, 0, 0), Counts(0, 1, 0))
    frame = tally_frame(tally, "sv")
    for group, rows in frame.groupby("group"):
        assert rows["end"].max() == pytest.approx(100.0)
        assert rows["count"].sum() == tally.side(group).total
    assert frame.set_index(["group", "vote"]).loc[("civil_society", "disagree"), "share"] == 100.0
