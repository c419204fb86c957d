"""The live workshop pages in Streamlit's AppTest: facilitator and participant.

Each test gets its own SQLite file (ASSESSMENT_DB); the workshop repositories on the
same file arrange the workshop or check what the pages wrote.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from assessment.i18n import t
from assessment.store.engine import make_engine
from assessment.store.migrations import init_db
from assessment.workshop.control import WorkshopControl
from assessment.workshop.decks import get_deck
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


def participant_page(code: str | None = None, token: str | None = None) -> AppTest:
    at = AppTest.from_file(JOIN, default_timeout=TIMEOUT)
    if code:
        at.query_params["code"] = code
    if token:
        at.query_params["p"] = token
    return at.run()


def join_through_page(code: str, side: str, role: str | None = None) -> AppTest:
    at = participant_page(code)
    assert not at.exception
    at.radio(key="ws_join_side").set_value(side).run()
    if role:
        at.button_group(key=f"ws_join_role_{side}").set_value(role).run()
    at.button(key="ws_join_submit").click().run()
    assert not at.exception
    assert at.query_params.get("p"), "joining puts the participant token in the URL"
    return at


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
    code, secret = at.query_params.get("w"), at.query_params.get("s")
    assert code and secret
    assert control.check_secret(code, secret)
    info = voting.get_workshop(code)
    assert (info.name, info.unit, info.deck.id) == ("Verktyg för samverkan", "Burlövs kommun", "burlov")
    shown = texts(at)
    assert spaced_code(code) in shown, "the join code is shown large"
    assert f"/join?code={code}" in shown
    links = [c.value for c in at.code]
    assert any(f"w={code}" in link and f"s={secret}" in link for link in links), "facilitator link is given"
    assert t("ws.fac.secret_warning", "sv") in [w.value for w in at.warning]
    assert len(at.get("image")) >= 1, "a QR code image is drawn"


def test_pages_speak_english_when_chosen(workshop):
    code, secret = workshop
    at = AppTest.from_file(FACILITATE, default_timeout=TIMEOUT)
    at.session_state["lang"] = "en"
    at.query_params.update({"w": code, "s": secret})
    at.run()
    assert at.button(key="ws_open").label == t("ws.ctl.open", "en")
    phone = AppTest.from_file(JOIN, default_timeout=TIMEOUT)
    phone.session_state["lang"] = "en"
    phone.query_params["code"] = code
    phone.run()
    assert phone.radio(key="ws_join_side").options == [t("workshop.side.public", "en"),
                                                       t("workshop.side.civil_society", "en")]


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


# --- participants --------------------------------------------------------------------------

def test_votes_from_phones_appear_in_the_facilitator_tally_per_side(control, workshop):
    code, secret = workshop
    control.open_card(code, secret)
    cast = [("public", "agree"), ("public", "agree"), ("public", "disagree"),
            ("civil_society", "disagree"), ("civil_society", "pass")]
    phones = []
    for side, value in cast:
        at = join_through_page(code, side)
        at.button(key=f"ws_vote_{value}").click().run()
        saved = [s.value for s in at.success]
        assert any(t(f"ws.vote.{value}", "sv") in s and "(sparad)" in s for s in saved), saved
        phones.append(at)
    at = facilitator_page(code, secret)
    at.toggle(key="ws_big_qr").set_value(False).run()
    shown = shown_tally(at)
    assert shown["public"] == {"agree": 2, "disagree": 1, "pass": 0}
    assert shown["civil_society"] == {"agree": 0, "disagree": 1, "pass": 1}
    assert shown["overall"] == {"agree": 2, "disagree": 2, "pass": 1}
    assert t("ws.fac.votes_on_card", "sv", n=5) in texts(at)

    # A participant changes their mind: the tally follows, nobody is counted twice.
    phones[2].button(key="ws_vote_agree").click().run()
    shown = shown_tally(facilitator_page(code, secret))
    assert shown["public"] == {"agree": 3, "disagree": 0, "pass": 0}


def test_closed_card_refuses_the_vote_with_a_message(control, voting, results, workshop):
    code, secret = workshop
    control.open_card(code, secret)
    phone = join_through_page(code, "civil_society", "association")
    token = phone.query_params["p"]
    assert phone.button(key="ws_vote_agree")  # open: the buttons are there
    control.close_card(code, secret)
    phone.button(key="ws_vote_agree").click().run()  # tapped on the stale screen
    assert t("workshop.error.card_closed", "sv") in [e.value for e in phone.error]
    assert voting.my_votes(token) == {}
    assert results.tally(code, get_deck("burlov").cards[0].id).overall.total == 0
    # The screen now says voting is closed and offers no vote buttons.
    assert t("ws.join.closed", "sv") in [w.value for w in phone.warning]
    assert not [b for b in phone.button if (b.key or "").startswith("ws_vote_")]


def test_reload_keeps_identity_and_vote(control, results, workshop):
    code, secret = workshop
    control.open_card(code, secret)
    phone = join_through_page(code, "public", "official")
    phone.button(key="ws_vote_disagree").click().run()
    again = participant_page(code, phone.query_params["p"])  # a fresh session, same URL
    assert any(t("ws.vote.disagree", "sv") in s.value for s in again.success)
    assert results.participant_counts(code) == {"public": 1, "civil_society": 0}


def you_vote_as(side: str, role: str | None = None, lang: str = "sv") -> str:
    side_name = t(f"ws.group.{side}", lang).lower()
    if role:
        return t("ws.join.you_are_role", lang, side=side_name, role=t(f"workshop.role.{role}", lang).lower())
    return t("ws.join.you_are", lang, side=side_name)


def test_reload_still_says_which_side_the_phone_votes_for(workshop):
    code, _ = workshop
    official = join_through_page(code, "public", "official")
    volunteer = join_through_page(code, "civil_society")
    # Fresh sessions, same URLs: the side comes from the database, not from the session that joined.
    again = participant_page(code, official.query_params["p"])
    captions = " ".join(c.value for c in again.caption)
    assert you_vote_as("public", "official") in captions
    assert t("ws.group.civil_society", "sv").lower() not in captions
    captions = " ".join(c.value for c in participant_page(code, volunteer.query_params["p"]).caption)
    assert you_vote_as("civil_society") in captions and "(" not in captions.split(" · ")[-1]


def test_card_not_yet_opened_says_wait_and_closed_card_says_closed(control, workshop):
    code, secret = workshop
    phone = join_through_page(code, "public")
    vote_buttons = lambda: [b for b in phone.button if (b.key or "").startswith("ws_vote_")]
    assert get_deck("burlov").cards[0].text("sv") in html_bodies(phone)
    assert t("ws.join.pending", "sv") in [i.value for i in phone.info]
    assert t("ws.join.closed", "sv") not in [w.value for w in phone.warning]
    assert not vote_buttons()
    control.open_card(code, secret)
    phone.run()
    assert len(vote_buttons()) == 3
    control.close_card(code, secret)
    phone.run()
    assert t("ws.join.closed", "sv") in [w.value for w in phone.warning]
    assert t("ws.join.pending", "sv") not in [i.value for i in phone.info]
    assert not vote_buttons()
    control.next_card(code, secret)  # the next statement: waiting again
    phone.run()
    assert t("ws.join.pending", "sv") in [i.value for i in phone.info]
    assert get_deck("burlov").cards[1].text("sv") in html_bodies(phone)


def test_link_with_only_the_token_finds_its_workshop(control, results, workshop):
    code, secret = workshop
    control.open_card(code, secret)
    phone = join_through_page(code, "civil_society", "association")
    phone.button(key="ws_vote_agree").click().run()
    again = participant_page(None, phone.query_params["p"])  # ?p=… without ?code=
    assert not again.exception and not again.error
    assert get_deck("burlov").cards[0].text("sv") in html_bodies(again)
    assert any(t("ws.vote.agree", "sv") in s.value for s in again.success), "the vote is still there"
    assert you_vote_as("civil_society", "association") in " ".join(c.value for c in again.caption)
    assert again.query_params["code"] == code, "the link is completed with the code"
    again.button(key="ws_vote_disagree").click().run()
    assert results.tally(code, get_deck("burlov").cards[0].id).civil_society.disagree == 1


def test_results_reach_phones_only_when_revealed(control, workshop):
    code, secret = workshop
    control.open_card(code, secret)
    phone = join_through_page(code, "public")
    phone.button(key="ws_vote_agree").click().run()
    assert "data-group=" not in html_bodies(phone)
    control.reveal(code, secret)
    phone.run()
    assert shown_tally(phone)["public"] == {"agree": 1, "disagree": 0, "pass": 0}
    control.hide(code, secret)
    phone.run()
    assert "data-group=" not in html_bodies(phone)


@pytest.mark.parametrize("code, token, message", [
    ("ZZZZZZ", None, ("workshop.error.unknown_code", {"code": "ZZZZZZ"})),
    (None, "not-a-token", ("workshop.error.unknown_participant", {})),
])
def test_invalid_code_or_token_gives_one_message(workshop, code, token, message):
    at = participant_page(code, token)
    assert not at.exception
    key, values = message
    assert [e.value for e in at.error] == [t(key, "sv", **values)]


def test_unknown_token_for_a_real_workshop(workshop):
    code, _ = workshop
    at = participant_page(code, "not-a-token")
    assert [e.value for e in at.error] == [t("workshop.error.unknown_participant", "sv")]
    at.button(key="ws_again").click().run()
    assert "p" not in at.query_params
    assert at.radio(key="ws_join_side"), "back on the join form"


def test_join_needs_a_side(results, workshop):
    code, _ = workshop
    at = participant_page(code)
    at.button(key="ws_join_submit").click().run()
    assert [e.value for e in at.error] == [t("ws.join.need_side", "sv")]
    assert results.participant_counts(code) == {"public": 0, "civil_society": 0}


# --- matrix round and end ------------------------------------------------------------------

def test_matrix_round_placements_reach_the_heatmap(control, voting, workshop, framework):
    code, secret = workshop
    phone = join_through_page(code, "civil_society")
    token = phone.query_params["p"]
    control.start_matrix(code, secret)
    phone.run()
    first_step = framework.steps[0].id
    phone.radio(key=f"ws_place_{first_step}").set_value("dialogue").run()
    assert voting.my_placements(token) == {first_step: "dialogue"}
    assert any("Dialog" in c.value for c in phone.caption)
    at = facilitator_page(code, secret)
    assert not at.exception
    assert len(at.get("arrow_vega_lite_chart")) + len(at.get("vega_lite_chart")) >= 1
    assert t("ws.fac.matrix_placed", "sv", n=1, group=t("ws.group.overall", "sv")) in texts(at)
    # Revealed: the phone lists the room's level per step.
    result = t("ws.join.matrix_result", "sv", n=1, step=framework.steps[0].name("sv"), level="Dialog", answered=1)
    assert result not in texts(phone)
    control.reveal(code, secret)
    phone.run()
    assert result in texts(phone)


def test_end_shows_summary_and_exports(control, voting, workshop):
    code, secret = workshop
    control.open_card(code, secret)
    phone = join_through_page(code, "public")
    phone.button(key="ws_vote_agree").click().run()
    at = facilitator_page(code, secret)
    at.button(key="ws_end").click().run()
    assert voting.get_workshop(code).phase == "ended"
    assert t("ws.fac.ended", "sv") in [s.value for s in at.success]
    deck = get_deck("burlov")
    charts = at.get("arrow_vega_lite_chart") + at.get("vega_lite_chart")
    assert len(charts) >= len(deck.cards), "a chart per statement"
    assert len(at.get("download_button")) >= 2
    phone.run()
    assert t("ws.join.ended", "sv") in [s.value for s in phone.success]


# --- what the pages draw, computed without streamlit (assessment/workshop/views_support.py) ---

def test_public_base_url_prefers_the_configured_address():
    assert public_base_url("https://samverkan.example.se/", "10.0.0.5:8501") == "https://samverkan.example.se"
    assert public_base_url(None, "10.0.0.5:8501", "https") == "https://10.0.0.5:8501"
    assert public_base_url("", "host:1", None, "/app/") == "http://host:1/app"
    with pytest.raises(ValueError, match="ASSESSMENT_PUBLIC_URL"):
        public_base_url("samverkan.example.se", "host:1")


def test_links_carry_code_secret_and_language():
    assert join_url("https://x.se", "ABC234") == "https://x.se/join?code=ABC234"
    assert join_url("https://x.se/", "ABC234", "en") == "https://x.se/join?code=ABC234&lang=en"
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
