"""Who sees what, in real Chromium: an anonymous visitor, a coordinator, the administrator.

Each browser context is a person of its own (its own Streamlit session). Links are typed
into the address bar as people would paste them, tampered ones included: another unit's
key, a revoked results link, an answer link on the results page.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assessment.access import links
from assessment.i18n import t
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments
from conftest import VIEWPORT

WAIT_MS = 60_000
OTHER = "Grannkommunen (test)"
sv = lambda key, **values: t(key, "sv", **values)  # noqa: E731


@pytest.fixture
def app(streamlit_server, framework):
    """The app with another unit's assessment (answered, with a comment) already stored."""
    store, answers = (kind.open(f"sqlite:///{streamlit_server.db_path}", framework) for kind in (Assessments, Answers))
    other = store.create_assessment(OTHER, 2026)
    token = answers.start_response(other.token, "public")
    for key in framework.statement_keys:
        answers.save_rating(token, key, 2)
    answers.save_comment(token, "general", "Grannens hemliga kommentar")
    return streamlit_server, store, other


def person(browser):
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(WAIT_MS)
    return context, context.new_page()


def refused(page, key: str) -> None:
    expect(page.get_by_text(sv(key))).to_be_visible(timeout=WAIT_MS)
    expect(page.get_by_text(OTHER)).to_have_count(0)
    expect(page.locator(".vega-embed")).to_have_count(0)


def test_anonymous_visitor_sees_no_stored_data_and_tampered_links_open_nothing(app, page):
    server, store, other = app
    page.set_default_timeout(WAIT_MS)
    page.goto(server.url)
    expect(page.get_by_role("heading", name=sv("home.title"))).to_be_visible()
    expect(page.get_by_text(OTHER)).to_have_count(0)
    expect(page.get_by_role("tab", name=sv("home.tab.list"))).to_have_count(0)
    expect(page.get_by_test_id("stFileUploader")).to_have_count(0)
    nav = page.get_by_test_id("stSidebarNav")
    for hidden in ("nav.compare", "nav.data", "nav.admin", "nav.followup", "nav.results"):
        expect(nav.get_by_text(sv(hidden), exact=True)).to_have_count(0)
    for path, key in (("compare", "access.refused.compare-region"), ("data", "access.refused.export-data"),
                      ("admin", "access.refused.administer"), (f"results?k={other.token}", "access.refused.view-results")):
        page.goto(f"{server.url}/{path}")
        refused(page, key)
    # A results link works until it is revoked; an invite link never opens the results.
    results = links.create_link(store, links.RESULTS_LINK, "test", assessment_id=other.id)
    page.goto(f"{server.url}/results?v={results}")
    expect(page.get_by_role("heading", name=re.compile(re.escape(OTHER)))).to_be_visible()
    expect(page.get_by_text("Grannens hemliga kommentar")).to_have_count(0)  # comments are the coordinator's
    links.revoke(store, links.resolve(store, results).id, "test")
    page.goto(f"{server.url}/results?v={results}")
    refused(page, "access.refused.view-results")
    invite = links.create_link(store, links.INVITE_LINK, "test", assessment_id=other.id)
    page.goto(f"{server.url}/results?a={invite}")
    refused(page, "access.refused.view-results")


def test_a_coordinator_starts_an_assessment_shares_results_and_cannot_open_another_unit(app, page, browser):
    server, store, other = app
    page.set_default_timeout(WAIT_MS)
    page.goto(server.url)
    unit_box = page.locator("[data-testid=stSelectbox]").filter(has_text=sv("home.unit"))
    unit_box.locator("input").click()
    unit_box.locator("input").fill("Startkommunen (test)")
    unit_box.locator("input").press("Enter")
    page.get_by_role("radiogroup", name=sv("home.side")).locator("label").first.click()
    page.get_by_role("button", name=sv("home.start.submit")).click()
    page.wait_for_url(re.compile(r"/questionnaire\?.*r="))
    # The coordinator link is shown once, in the links panel.
    coordinator_url = page.get_by_test_id("stCode").filter(has_text="/coordinate?c=").inner_text().strip()
    assert "c=" in coordinator_url

    # Later, in a new browser session: the coordinator link opens the coordinate page.
    context, coordinator = person(browser)
    coordinator.goto(coordinator_url)
    expect(coordinator.get_by_role("heading", name=re.compile("Startkommunen"))).to_be_visible()
    coordinator.get_by_role("button", name=sv("coord.new.results")).click()
    results_url = coordinator.get_by_test_id("stCode").filter(has_text="/results?v=").inner_text().strip()
    # Tampering: another unit's key without its link opens nothing; with one's own link, only one's own.
    token = re.search(r"c=([^&]+)", coordinator_url).group(1)
    coordinator.goto(f"{server.url}/coordinate?k={other.token}")
    refused(coordinator, "access.refused.coordinate")
    coordinator.goto(f"{server.url}/results?c={token}&k={other.token}")
    expect(coordinator.get_by_role("heading", name=re.compile("Startkommunen"))).to_be_visible()
    expect(coordinator.get_by_text(OTHER)).to_have_count(0)
    context.close()

    # Whoever gets the results link sees the results, in a session of their own.
    context, reader = person(browser)
    reader.goto(results_url)
    expect(reader.get_by_role("heading", name=re.compile("Startkommunen"))).to_be_visible()
    context.close()


def test_the_administrator_link_leaves_the_address_bar_and_opens_the_administration(app, page):
    server, store, other = app
    page.set_default_timeout(WAIT_MS)
    token = links.rotate_admin_token(store)
    page.goto(f"{server.url}/?admin={token}")
    expect(page.get_by_text(sv("access.you_are", role=sv("access.role.administrator")))).to_be_visible()
    page.wait_for_function("!location.search.includes('admin=')", timeout=WAIT_MS)
    assert token not in page.url
    page.get_by_test_id("stSidebarNav").get_by_text(sv("nav.admin"), exact=True).click()
    expect(page.get_by_role("heading", name=sv("admin.title"))).to_be_visible()
    assert token not in page.content()
    # The administrator sees every unit, by name, in the comparison.
    page.get_by_test_id("stSidebarNav").get_by_text(sv("nav.compare"), exact=True).click()
    expect(page.get_by_text(sv("reg.compare.intro"))).to_be_visible()
    # A rotated token opens nothing.
    links.rotate_admin_token(store)
    page.goto(f"{server.url}/admin?admin={token}")
    refused(page, "access.refused.administer")
