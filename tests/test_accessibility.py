"""Every page of the app, in Swedish and English, checked with axe-core in real Chromium, each
opened as the person who sees it.

One server with data behind every page: an assessment answered by both sides (results,
comparison), a questionnaire in progress, a live workshop with a card open (the facilitator
screen), workshops for each view of the phone page (join, voting, revealed results, matrix
round), an agreement followed up, the links each person holds. Pages are opened the way
people open them, with their link in the address: the administrator (``?admin=``:
administration, import and export), an assessment's coordinator (``?c=``: coordination,
results), a unit's coordinator (``?c=``: comparison, follow-up), a respondent (``?r=``: the
questionnaire), the facilitator (``?w=&s=``), a visitor with no link (start page, a refused
page), and a phone that joined a workshop (the phone page, plain HTML: no exceptions at all).
Each page must have no serious or critical WCAG 2.1 A/AA violation from our own markup; the
ones Streamlit's own markup has are listed in tests/accessibility.py and the README. Every
chart has a text alternative: a table beside it or an accessible description. (The sign-in
button and the signed-in panel, which need an identity provider, are checked in
tests/test_browser_signin.py.)
"""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from assessment.access import links
from assessment.access.permissions import ADMINISTRATOR, ANONYMOUS, COORDINATOR, FACILITATOR, RESPONDENT
from assessment.i18n import t
from assessment.regional import followup as fs
from assessment.regional.agreements import shipped_agreements
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments
from assessment.workshop.control import WorkshopControl
from assessment.workshop.decks import get_deck
from assessment.workshop.views_support import join_url
from assessment.workshop.voting import WorkshopVoting
from browser_runs import WAIT_MS, AppRuns
from conftest import StreamlitServer, admin_token
from seed_data import answered_units

REGION = "Tillgänglän"
UNITS = ["Axeby kommun", "Wcagstad kommun"]


def seed(db_path, fw) -> dict[str, str]:
    """Data behind every page; returns the tokens the pages are opened with."""
    url = f"sqlite:///{db_path}"
    answered_units(db_path, fw, UNITS, REGION)
    store = Assessments.open(url, fw)
    assessment = store.find_assessment(UNITS[0], 2026)
    answers = Answers.open(url, fw)
    response = answers.start_response(assessment.token, "public", "Fritidschef")
    first = fw.steps[0].id
    # A dialogue tool ticked at a step that reached consultation: the page asks which is right.
    answers.save_step(response, first, "consultation", [fw.cell(first, "dialogue").tools[0].id])
    answers.save_comment(response, "general", "En kommentar som bara samordnaren läser")
    # The shipped agreement, as the first unit's, with one commitment followed up.
    agreement = shipped_agreements(fw)[0].model_copy(update={"unit": UNITS[0]})
    fs.save_agreement(store, agreement)
    fs.set_status(store, agreement.id, agreement.commitments[0].id, 2026, "under_way", "Påbörjat i mars")
    workshops, phones = WorkshopControl.open(url, fw), WorkshopVoting.open(url, fw)
    code, secret = workshops.create_workshop("Verktyg för samverkan", "Burlövs kommun", date(2026, 3, 12), "sv",
                                             get_deck("burlov"))
    workshops.open_card(code, secret)
    participant = phones.join(code, "civil_society", "association")
    phones.vote(participant, get_deck("burlov").cards[0].id, "agree")
    # A second workshop, ended: the facilitator's summary with a chart per statement.
    ended, ended_secret = workshops.create_workshop("Avslutad", "Burlövs kommun", date(2026, 3, 1), "sv",
                                                    get_deck("burlov"))
    workshops.open_card(ended, ended_secret)
    for side, vote in (("public", "agree"), ("civil_society", "disagree")):
        phones.vote(phones.join(ended, side), get_deck("burlov").cards[0].id, vote)
    workshops.end(ended, ended_secret)
    # For the phone page: a statement with its results shown, and a matrix round with its result.
    revealed, revealed_secret = workshops.create_workshop("Resultat", "Burlövs kommun", date(2026, 3, 2), "sv",
                                                          get_deck("burlov"))
    workshops.open_card(revealed, revealed_secret)
    revealed_votes = [phones.join(revealed, side) for side in ("public", "public", "civil_society")]
    for voter, vote in zip(revealed_votes, ("agree", "pass", "disagree")):
        phones.vote(voter, get_deck("burlov").cards[0].id, vote)
    workshops.reveal(revealed, revealed_secret)
    matrix, matrix_secret = workshops.create_workshop("Matris", "Burlövs kommun", date(2026, 3, 3), "sv",
                                                      get_deck("burlov"))
    workshops.start_matrix(matrix, matrix_secret)
    placing = phones.join(matrix, "public", "official")
    phones.place(placing, fw.steps[0].id, fw.active_levels()[1].id)
    workshops.reveal(matrix, matrix_secret)
    return {"revealed": revealed, "revealed_participant": revealed_votes[0], "matrix": matrix,
            "matrix_participant": placing,
            "response": response, "code": code, "secret": secret, "participant": participant, "ended": ended,
            "ended_secret": ended_secret, "admin": admin_token(db_path),
            # the link whoever starts an assessment gets, and one the administrator gives a unit
            "coordinator": links.create_link(store, links.COORDINATOR_LINK, "test", assessment_id=assessment.id),
            "unit_coordinator": links.create_link(store, links.COORDINATOR_LINK, "test", unit=UNITS[0])}


@pytest.fixture(scope="module")
def server(tmp_path_factory, framework):
    workdir = tmp_path_factory.mktemp("a11y")
    app = StreamlitServer(workdir)
    app.tokens = seed(app.db_path, framework)
    app.start()
    yield app
    app.stop()


UNIT_COORDINATOR = "unit coordinator"  # a coordinator holding the unit's link, not one assessment's

# (name, who opens it, url path, parameters from the seeded tokens, what shows the page is drawn: the
# key of a text, or css=selector, and the key of a button's text to press before the check, or None)
PAGES = [
    ("home", ANONYMOUS, "home", {}, "home.title", None),
    ("refused page", ANONYMOUS, "admin", {}, "access.refused.administer", None),
    ("questionnaire", RESPONDENT, "questionnaire", {"r": "response"}, "css=[data-testid=stAlertContentWarning]", None),
    ("results", COORDINATOR, "results", {"c": "coordinator"}, "results.advice", None),
    ("coordination", COORDINATOR, "coordinate", {"c": "coordinator"}, "coord.links", None),
    ("coordination: a new link shown once", COORDINATOR, "coordinate", {"c": "coordinator"}, "coord.shown_once",
     "coord.new.results"),
    ("workshop: create", ANONYMOUS, "facilitate", {}, "ws.create.submit", None),
    ("workshop: facilitator screen", FACILITATOR, "facilitate", {"w": "code", "s": "secret"}, "ws.ctl.close", None),
    ("workshop: summary", FACILITATOR, "facilitate", {"w": "ended", "s": "ended_secret"}, "ws.summary.title", None),
    ("comparison", UNIT_COORDINATOR, "compare", {"c": "unit_coordinator"}, "reg.compare.intro_unnamed", None),
    ("follow-up", UNIT_COORDINATOR, "followup", {"c": "unit_coordinator"}, "reg.followup.tab_progress", None),
    ("import and export", ADMINISTRATOR, "data", {"admin": "admin"}, "reg.data.import", None),
    ("administration", ADMINISTRATOR, "admin", {"admin": "admin"}, "admin.audit", None),
]
# What each one's sidebar says they are here as (a visitor is told nothing).
ROLE_SHOWN = {ADMINISTRATOR: ADMINISTRATOR, COORDINATOR: COORDINATOR, UNIT_COORDINATOR: COORDINATOR,
              RESPONDENT: RESPONDENT, FACILITATOR: FACILITATOR}


def open_page(page: Page, server, path: str, params: dict, lang: str) -> AppRuns:
    """Open a page and wait for its run; the returned AppRuns follows the page's later runs."""
    query = {key: server.tokens[value] for key, value in params.items()}
    if lang != "sv":
        query["lang"] = lang
    runs = AppRuns(page)  # before goto: it listens from the page's first websocket on
    runs.act(lambda: page.goto(f"{server.url}/{path}" + (f"?{urlencode(query)}" if query else "")),
             f"opening /{path}")
    return runs


def check(page: Page, where: str, axe) -> None:
    """The page as drawn: every chart labelled with its values, no serious violation of ours."""
    # Charts draw in the browser after the run: check them drawn, not their placeholders.
    page.wait_for_function("[...document.querySelectorAll('.vega-embed')].every(e => e.querySelector('svg, canvas'))",
                           timeout=WAIT_MS)
    # Every chart has a text alternative: its values in words, read out as the chart's label.
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('[data-testid=stVegaLiteChart]')]
        .filter(c => c.getAttribute('role') !== 'graphics-document' || !(c.getAttribute('aria-label') || '').trim())
        .length""")
    assert unlabelled == 0, f"{where}: {unlabelled} chart(s) without a text alternative"
    for v in axe(page, where):
        print(f"{where}: Streamlit's own {v['rule']} at {v['target']}")


def opened_as(page: Page, who: str, lang: str, refused: bool = False) -> None:
    """The page was opened as `who` (the sidebar names the role) and, unless it is the refusal
    being checked, not refused (a refusal is an error message)."""
    if who in ROLE_SHOWN:
        role = t(f"access.role.{ROLE_SHOWN[who]}", lang)
        expect(page.get_by_test_id("stSidebar").get_by_text(t("access.you_are", lang, role=role))).to_be_visible()
    if not refused:
        expect(page.get_by_test_id("stAlertContentError")).to_have_count(0)


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("name,who,path,params,ready,press", PAGES, ids=[p[0] for p in PAGES])
def test_page_has_no_serious_accessibility_violation(server, page, axe, name, who, path, params, ready, press, lang):
    page.set_default_timeout(WAIT_MS)
    app = open_page(page, server, path, params, lang)
    if press is not None:
        app.act(lambda: page.get_by_role("button", name=t(press, lang), exact=True).click(), f"pressing {press}")
    shown = page.locator(ready) if ready.startswith("css=") else page.get_by_text(t(ready, lang), exact=False)
    expect(shown.first).to_be_attached(timeout=WAIT_MS)
    opened_as(page, who, lang, refused=ready.startswith("access.refused."))
    check(page, f"{name} ({lang})", axe)


# The phone page (plain HTML, web/static/phone.html) in each of its views, on a phone's screen:
# (view, workshop, participant token or None for the join form, what shows the view is drawn).
PHONE_VIEWS = [
    ("join", "code", None, "#roles-public"),
    ("voting", "code", "participant", "#vote-agree[aria-pressed=true]"),
    ("revealed results", "revealed", "revealed_participant", ".ws-tally"),
    ("matrix", "matrix", "matrix_participant", ".matrix-result"),
]


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("view,workshop,participant,ready", PHONE_VIEWS, ids=[v[0] for v in PHONE_VIEWS])
def test_phone_page_has_no_accessibility_violation(server, browser, axe, view, workshop, participant, ready, lang):
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        code = server.tokens[workshop]
        if participant:  # the phone that joined earlier: its token is in the browser's storage
            page.add_init_script(f"localStorage.setItem({json.dumps('ws-token-' + code)}, "
                                 f"{json.dumps(server.tokens[participant])})")
        page.goto(join_url(server.url, code, lang))
        if not participant:  # the join form with a side chosen, so its role choices show too
            page.get_by_role("radio", name=t("workshop.side.public", lang), exact=True).check()
        expect(page.locator(ready).first).to_be_visible()
        # No exceptions here: the phone page is all our own markup.
        assert axe(page, f"phone page: {view} ({lang})") == []
    finally:
        context.close()


# Who sees the comparison, and the views offered to them after the first one (views/compare.py:
# the administrator every view, by name; a unit's coordinator their own units against the region).
COMPARISON_VIEWS = {
    ADMINISTRATOR: ({"admin": "admin"}, ("unit", "ranking", "steps", "trends", "report")),
    UNIT_COORDINATOR: ({"c": "unit_coordinator"}, ("steps", "report")),
}


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("who", list(COMPARISON_VIEWS))
def test_every_comparison_view_has_no_serious_accessibility_violation(server, page, axe, who, lang):
    page.set_default_timeout(WAIT_MS)
    params, shown_views = COMPARISON_VIEWS[who]
    app = open_page(page, server, "compare", params, lang)
    opened_as(page, who, lang)
    views = page.get_by_role("radiogroup", name=t("reg.compare.view", lang), exact=True)
    expect(views.get_by_role("radio")).to_have_count(1 + len(shown_views))
    for view in shown_views:
        option = page.get_by_role("radio", name=t(f"reg.view.{view}", lang), exact=True)
        app.act(lambda: views.locator("label", has=option).click(), f"comparison view {view}")
        check(page, f"comparison as {who}: {view} ({lang})", axe)
