"""Every page of the app, in Swedish and English, checked with axe-core in real Chromium.

One server with data behind every page: an assessment answered by both sides (results,
comparison), a questionnaire in progress, a live workshop with a card open (the facilitator
screen and a participant's phone), agreements (follow-up), the import and export page. Each
page must have no serious or critical WCAG 2.1 A/AA violation from our own markup; the ones
Streamlit's own markup has are listed in tests/accessibility.py and the README. Every chart
has a text alternative: a table beside it or an accessible description.
"""

from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from assessment.i18n import t
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments
from assessment.workshop.control import WorkshopControl
from assessment.workshop.decks import get_deck
from assessment.workshop.voting import WorkshopVoting
from browser_runs import WAIT_MS, AppRuns
from conftest import StreamlitServer
from seed_data import answered_units

REGION = "Tillgänglän"
UNITS = ["Axeby kommun", "Wcagstad kommun"]


def seed(db_path, fw) -> dict[str, str]:
    """Data behind every page; returns the URL parameters of the pages that need a token."""
    url = f"sqlite:///{db_path}"
    answered_units(db_path, fw, UNITS, REGION)
    assessment = Assessments.open(url, fw).find_assessment(UNITS[0], 2026)
    answers = Answers.open(url, fw)
    response = answers.start_response(assessment.token, "public", "Fritidschef")
    first = fw.steps[0].id
    # A dialogue tool ticked at a step that reached consultation: the page asks which is right.
    answers.save_step(response, first, "consultation", [fw.cell(first, "dialogue").tools[0].id])
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
    return {"assessment": assessment.token, "response": response, "code": code, "secret": secret,
            "participant": participant, "ended": ended, "ended_secret": ended_secret}


@pytest.fixture(scope="module")
def server(tmp_path_factory, framework):
    workdir = tmp_path_factory.mktemp("a11y")
    app = StreamlitServer(workdir)
    app.tokens = seed(app.db_path, framework)
    app.start()
    yield app
    app.stop()


# (name, url path, parameters from the seeded tokens, text, or css=selector, that shows the page is drawn)
PAGES = [
    ("home", "home", {}, "home.title"),
    ("questionnaire", "questionnaire", {"r": "response"}, "css=[data-testid=stAlertContentWarning]"),
    ("results", "results", {"a": "assessment"}, "results.advice"),
    ("workshop: create", "facilitate", {}, "ws.create.submit"),
    ("workshop: facilitator screen", "facilitate", {"w": "code", "s": "secret"}, "ws.ctl.close"),
    ("workshop: summary", "facilitate", {"w": "ended", "s": "ended_secret"}, "ws.summary.title"),
    ("workshop: phone, join", "join", {"code": "code"}, "ws.join.submit"),
    ("workshop: phone, vote", "join", {"code": "code", "p": "participant"}, "css=.st-key-ws_vote_agree button"),
    ("comparison", "compare", {}, "reg.compare.title"),
    ("follow-up", "followup", {}, "reg.followup.title"),
    ("import and export", "data", {}, "reg.data.title"),
]


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


@pytest.mark.parametrize("lang", ["sv", "en"])
@pytest.mark.parametrize("name,path,params,ready", PAGES, ids=[p[0] for p in PAGES])
def test_page_has_no_serious_accessibility_violation(server, page, axe, name, path, params, ready, lang):
    page.set_default_timeout(WAIT_MS)
    open_page(page, server, path, params, lang)
    shown = page.locator(ready) if ready.startswith("css=") else page.get_by_text(t(ready, lang), exact=False)
    expect(shown.first).to_be_attached(timeout=WAIT_MS)
    check(page, f"{name} ({lang})", axe)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_comparison_view_has_no_serious_accessibility_violation(server, page, axe, lang):
    page.set_default_timeout(WAIT_MS)
    app = open_page(page, server, "compare", {}, lang)
    for view in ("unit", "ranking", "steps", "trends", "report"):  # views/compare.py VIEWS after the first
        views = page.get_by_role("radiogroup", name=t("reg.compare.view", lang), exact=True)
        option = page.get_by_role("radio", name=t(f"reg.view.{view}", lang), exact=True)
        app.act(lambda: views.locator("label", has=option).click(), f"comparison view {view}")
        check(page, f"comparison: {view} ({lang})", axe)
