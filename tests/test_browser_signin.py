"""Sign-in end to end in Chromium: Streamlit's st.login against a real OpenID provider on this machine.

The provider (tests/node/oidc_provider.mjs, panva's oidc-provider) runs its own login and
consent pages; the app maps the identity it returns through the access file: an e-mail
address to unit A's coordinator, a group to administrator. Nothing of Streamlit's login
is replaced. The sign-in button and the signed-in panel are checked with axe-core, in sv and en.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assessment.access import links
from assessment.i18n import t
from assessment.store.assessments import Assessments
from browser_runs import AppRuns
from conftest import unavailable
from oidc_server import OidcProvider, OidcUnavailable

WAIT_MS = 60_000
UNIT_A = "Enhet A (test)"
COORDINATOR = "samordnare@enhet-a.se"


@pytest.fixture
def signed_in_app(start_streamlit, tmp_path, framework):
    """The app with sign-in set up against a provider of its own; (server, provider)."""
    provider = OidcProvider(tmp_path, groups={"anna": ["region-admins"]})
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(provider.secrets_toml(), encoding="utf-8")
    access = tmp_path / "access.yaml"
    access.write_text(f"administrators:\n  - group: region-admins\ncoordinators:\n  {UNIT_A}:\n    - {COORDINATOR}\n",
                      encoding="utf-8")
    server = start_streamlit(env={"ASSESSMENT_ACCESS": str(access)}, args=["--secrets.files", str(secrets)])
    try:
        provider.start(f"http://127.0.0.1:{server.port}/oauth2callback")
    except OidcUnavailable as exc:
        unavailable(str(exc))
    store = Assessments.open(f"sqlite:///{server.db_path}", framework)
    store.create_assessment(UNIT_A, 2026)
    store.create_assessment("Enhet B (test)", 2026)
    yield server, provider
    provider.stop()


def sign_in(page, server, login: str) -> None:
    page.goto(server.url)
    page.get_by_role("button", name=t("access.sign_in", "sv")).click()
    # The provider's own pages: a login form (any password), then consent.
    page.wait_for_url(re.compile(r"127\.0\.0\.1:\d+/interaction/"), timeout=WAIT_MS)
    page.locator("input[name=login]").fill(login)
    page.locator("input[name=password]").fill("any")
    page.locator("button[type=submit]").click()
    page.locator("button[type=submit]").click(timeout=WAIT_MS)  # consent
    page.wait_for_url(re.compile(rf"127\.0\.0\.1:{server.port}/"), timeout=WAIT_MS)


def test_a_coordinator_signs_in_sees_their_unit_and_signs_out(signed_in_app, page):
    server, provider = signed_in_app
    page.set_default_timeout(WAIT_MS)
    sign_in(page, server, COORDINATOR)
    role = t("access.role.coordinator", "sv")
    expect(page.get_by_text(t("access.signed_in_as", "sv", who=COORDINATOR, role=role))).to_be_visible()
    # The comparison is offered, showing unit A by name and not unit B.
    page.get_by_role("link", name=t("nav.compare", "sv")).click()
    expect(page.get_by_role("heading", name=t("reg.compare.title", "sv"))).to_be_visible()
    expect(page.get_by_text(t("reg.compare.intro_unnamed", "sv"))).to_be_visible()
    # The administration is refused, with one clear message.
    page.goto(f"{server.url}/admin")
    expect(page.get_by_text(t("access.refused.administer", "sv"))).to_be_visible()
    # Signing out: a visitor again, the comparison refused.
    page.goto(server.url)
    page.get_by_role("button", name=t("access.sign_out", "sv")).click()
    page.get_by_role("button", name="Yes, sign me out").click()  # the provider ends its session too
    page.wait_for_url(re.compile(rf"127\.0\.0\.1:{server.port}/"), timeout=WAIT_MS)
    expect(page.get_by_role("button", name=t("access.sign_in", "sv"))).to_be_visible()
    page.goto(f"{server.url}/compare")
    expect(page.get_by_text(t("access.refused.compare-region", "sv"))).to_be_visible()


def test_the_sign_in_button_and_the_signed_in_panel_have_no_serious_accessibility_violation(signed_in_app, page,
                                                                                            axe):
    server, provider = signed_in_app
    page.set_default_timeout(WAIT_MS)
    runs = AppRuns(page)
    for lang in ("sv", "en"):
        runs.act(lambda: page.goto(f"{server.url}/?lang={lang}"), f"opening the start page ({lang})")
        expect(page.get_by_role("button", name=t("access.sign_in", lang))).to_be_visible()
        axe(page, f"sign-in button ({lang})")
    sign_in(page, server, COORDINATOR)
    for lang in ("sv", "en"):
        runs.act(lambda: page.goto(f"{server.url}/?lang={lang}"), f"opening the start page signed in ({lang})")
        role = t("access.role.coordinator", lang)
        expect(page.get_by_text(t("access.signed_in_as", lang, who=COORDINATOR, role=role))).to_be_visible()
        expect(page.get_by_role("button", name=t("access.sign_out", lang))).to_be_visible()
        axe(page, f"signed-in panel ({lang})")


def test_a_group_of_the_identity_makes_an_administrator_and_admin_links_are_off(signed_in_app, page, framework):
    server, provider = signed_in_app
    page.set_default_timeout(WAIT_MS)
    # With sign-in set up, an administrator token opens nothing.
    token = links.rotate_admin_token(Assessments.open(f"sqlite:///{server.db_path}", framework))
    page.goto(f"{server.url}/admin?admin={token}")
    expect(page.get_by_text(t("access.refused.administer", "sv"))).to_be_visible()
    sign_in(page, server, "anna")
    expect(page.get_by_text(t("access.signed_in_as", "sv", who="anna@example.org",
                              role=t("access.role.administrator", "sv")))).to_be_visible()
    page.get_by_role("link", name=t("nav.admin", "sv")).click()
    expect(page.get_by_role("heading", name=t("admin.title", "sv"))).to_be_visible()
    expect(page.get_by_text(t("admin.signin.on", "sv", file="access.yaml"))).to_be_visible()
