"""Who sees which page: every role against every page in AppTest, URL tampering, refusals that change nothing.

The roles are made the way the app makes them: links created in the database and given in
the address, the administrator token, and (for the coordinator of unit A) sign-in through
``st.user`` with the access file naming them. Refused means one clear message and none of
the page: no stored unit name, no result.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from assessment.access import links
from assessment.access.permissions import ACTIONS
from assessment.i18n import all_keys, markdown_literal, t
from assessment.store import audit
from assessment.workshop.control import WorkshopControl
from assessment.workshop.decks import get_deck
from assessment.workshop.voting import WorkshopVoting
from conftest import open_app_page
from views.registry import PAGES

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
TIMEOUT = 90
UNIT_A, UNIT_B = "Enhet A (test)", "Enhet B (test)"
SIGNED_IN_A = "samordnare@enhet-a.se"
ROLES = ("anonymous", "respondent", "coordinator A", "coordinator B", "administrator", "facilitator", "participant")
V, R = "visible", "refused"

# page -> expected outcome per role, in the order of ROLES.
TABLE = {
    "views/home.py":               (V, V, V, V, V, V, V),
    "views/questionnaire.py":      (R, V, R, R, R, R, R),
    "views/results.py":            (R, R, V, V, V, R, R),
    "views/coordinate.py":         (R, R, V, V, V, R, R),
    "views/workshop_facilitate.py": (V, V, V, V, V, V, V),
    "views/workshop_join.py":      (V, V, V, V, V, V, V),
    "views/compare.py":            (R, R, V, V, V, R, R),
    "views/followup.py":           (R, R, V, R, V, R, R),
    "views/data.py":               (R, R, V, V, V, R, R),
    "views/admin.py":              (R, R, R, R, V, R, R),
}


@pytest.fixture
def world(assessments, answers, framework, tmp_path, monkeypatch):
    """Two units with an assessment each and answers; a workshop; the links each role holds."""
    access = tmp_path / "access.yaml"
    access.write_text(f"coordinators:\n  {UNIT_A}:\n    - {SIGNED_IN_A}\n", encoding="utf-8")
    monkeypatch.setenv("ASSESSMENT_ACCESS", str(access))
    store = assessments
    a = store.create_assessment(UNIT_A, 2026)
    b = store.create_assessment(UNIT_B, 2026)
    personal = {}
    for info in (a, b):
        token = answers.start_response(info.token, "public")
        for key in framework.statement_keys:
            answers.save_rating(token, key, 3)
        answers.save_comment(token, framework.principles[0].id, f"Hemlig kommentar om {info.unit}")
        personal[info.unit] = token
    code, secret = WorkshopControl(store.engine).create_workshop("Test", "Testby", date(2026, 5, 1), "sv",
                                                                 get_deck("burlov", framework))
    return {
        "store": store, "a": a, "b": b, "personal_a": personal[UNIT_A],
        "coordinator_b": links.create_link(store, links.COORDINATOR_LINK, "test", assessment_id=b.id),
        "results_a": links.create_link(store, links.RESULTS_LINK, "test", assessment_id=a.id),
        "invite_a": links.create_link(store, links.INVITE_LINK, "test", assessment_id=a.id),
        "admin": links.rotate_admin_token(store, by="test"),
        "workshop": (code, secret), "participant": WorkshopVoting(store.engine).join(code, "public", ""),
    }


def role_app(world, role: str) -> AppTest:
    """The app as `role`: the links that role holds in the address (or signed in)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    code, secret = world["workshop"]
    params = {
        "respondent": {"r": world["personal_a"]},
        "coordinator B": {"c": world["coordinator_b"]},
        "administrator": {"admin": world["admin"]},
        "facilitator": {"w": code, "s": secret},
        "participant": {"code": code, "p": world["participant"]},
    }.get(role, {})
    at.query_params.update(params)
    if role == "coordinator A":
        at.secrets["auth"] = {"redirect_uri": "http://localhost/oauth2callback", "cookie_secret": "x" * 32}
        at.user = {"is_logged_in": True, "email": SIGNED_IN_A}
    return at


def page_key_params(world, role: str, page: str) -> dict:
    """What a role adds to the address to open a page about its own assessment."""
    if page in ("views/results.py", "views/coordinate.py") and role in ("coordinator A", "administrator"):
        return {"k": world["a"].token}
    return {}


def open_as(world, role: str, page: str, **extra: str) -> AppTest:
    return open_app_page(role_app(world, role), page, **{**page_key_params(world, role, page), **extra})


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.caption] + [m.value for m in at.title]
    parts += [m.value for m in at.subheader] + [m.value for m in at.info] + [m.value for m in at.success]
    parts += [str(frame.value.to_dict()) for frame in at.dataframe] + [str(table.value.to_dict()) for table in at.table]
    parts += [str(box.options) for box in at.selectbox] + [str(box.options) for box in at.multiselect]
    return "\n".join(parts)


@pytest.mark.parametrize("page", list(TABLE))
def test_every_role_on_every_page(world, page):
    outcome = {}
    for role in ROLES:
        at = open_as(world, role, page)
        errors = [e.value for e in at.error]
        if errors:
            outcome[role] = R
            assert len(errors) == 1, (role, errors)  # one clear message
            shown = texts(at)
            assert UNIT_A not in shown and UNIT_B not in shown, (role, page)  # and nothing stored
            assert not at.get("vega_lite_chart") and not at.get("download_button")
        else:
            outcome[role] = V
    assert tuple(outcome[role] for role in ROLES) == TABLE[page], outcome


def test_every_page_is_registered_with_a_known_action_and_app_builds_pages_only_from_the_registry():
    assert {entry.script for entry in PAGES} == set(TABLE)
    assert all(entry.action in ACTIONS for entry in PAGES)
    page_scripts = {f"views/{path.name}" for path in (REPO / "views").glob("*.py")
                    if "st.title(" in path.read_text(encoding="utf-8") or path.name.startswith("workshop_")}
    page_scripts -= {"views/workshop_common.py"}
    assert page_scripts <= set(TABLE), page_scripts - set(TABLE)
    assert (REPO / "app.py").read_text(encoding="utf-8").count("st.Page(") == 1  # the loop over the registry
    assert {t(f"access.refused.{action}", "en") for action in ACTIONS}  # every action has its refusal text
    assert {f"access.refused.{action}" for action in ACTIONS} <= all_keys()


def test_who_sees_comments_and_unnamed_region(world):
    a_comment = f"Hemlig kommentar om {UNIT_A}"
    results_link = open_as(world, "anonymous", "views/results.py", v=world["results_a"])
    assert markdown_literal(UNIT_A) in results_link.title[0].value and a_comment not in texts(results_link)
    for role in ("coordinator A", "administrator"):
        assert a_comment in texts(open_as(world, role, "views/results.py"))
    # Coordinator B sees the region as a band and only their own unit by name.
    compare = open_as(world, "coordinator B", "views/compare.py")
    shown = texts(compare)
    assert UNIT_B in shown and UNIT_A not in shown
    assert [o for o in compare.radio(key="cmp_view").options] == [t("reg.view.unit", "sv"), t("reg.view.steps", "sv")]
    # Once the administrator publishes the named comparison, coordinators see names too.
    links.set_setting(world["store"], links.NAMED_COMPARISON, True, "administrator")
    assert UNIT_A in texts(open_as(world, "coordinator B", "views/compare.py"))


@pytest.mark.parametrize("tamper", ["another unit's key", "a revoked link", "a respondent link", "an invite link"])
def test_url_tampering_is_refused_and_shows_nothing(world, tamper):
    store = world["store"]
    if tamper == "another unit's key":  # coordinator B puts unit A's key into the address
        at = open_as(world, "coordinator B", "views/results.py", c="", k=world["a"].token)
    elif tamper == "a revoked link":
        links.revoke(store, links.resolve(store, world["results_a"]).id, "test")
        at = open_as(world, "anonymous", "views/results.py", v=world["results_a"])
    elif tamper == "a respondent link":
        at = open_as(world, "respondent", "views/results.py")
    else:
        at = open_as(world, "anonymous", "views/results.py", a=world["invite_a"])
    assert len(at.error) == 1
    assert UNIT_A not in texts(at) and not at.get("vega_lite_chart")


def test_coordinator_b_cannot_coordinate_a_and_nothing_changes(world):
    store = world["store"]
    before = links.links_of(store, assessment_id=world["a"].id)
    at = open_as(world, "coordinator B", "views/coordinate.py", c="", k=world["a"].token)
    assert [e.value for e in at.error] == [t("access.refused.coordinate", "sv")]
    assert len(at.button) == 0
    assert links.links_of(store, assessment_id=world["a"].id) == before


def test_coordinator_makes_a_results_link_that_works_until_replaced(world):
    store = world["store"]
    at = open_as(world, "coordinator B", "views/coordinate.py")
    at.button(key="coord_make_results").click()
    at.run()
    shown = [c.value for c in at.code]
    token = re.search(r"v=([^&\s]+)", shown[0]).group(1)
    assert links.resolve(store, token).assessment_id == world["b"].id
    assert markdown_literal(UNIT_B) in open_as(world, "anonymous", "views/results.py", v=token).title[0].value
    at.button(key="coord_make_results").click()
    at.run()
    assert links.resolve(store, token) is None  # replaced: the old results link opens nothing
    assert [e.action for e in audit.entries(store)][0] in ("link-revoked", "link-created")
    refused = open_as(world, "anonymous", "views/results.py", v=token)
    assert len(refused.error) == 1 and UNIT_B not in texts(refused)


def test_the_administrator_token_leaves_the_address_and_is_never_shown(world):
    at = open_as(world, "administrator", "views/admin.py")
    assert "admin" not in at.query_params
    token = world["admin"]
    assert token not in texts(at) and token not in str([c.value for c in at.code])
    # Published from the admin page: logged with who did it.
    at.toggle(key="admin_named").set_value(True)
    at.run()
    assert links.setting(world["store"], links.NAMED_COMPARISON) is True
    entry = audit.entries(world["store"])[0]
    assert (entry.actor, entry.action) == ("administrator", "setting-changed")


def test_an_import_by_the_administrator_is_logged_and_refused_to_others(world, framework, tmp_path):
    from assessment.exchange.export import export_json
    from assessment.access.permissions import Actor
    from assessment.access.writes import Refused, import_file

    store = world["store"]
    data = export_json(store, framework, unit=UNIT_A)
    with pytest.raises(Refused):
        import_file(store, framework, Actor(coordinates=frozenset({world["a"].id})), data, "a.json")
    assert audit.entries(store) == [] or all(e.action != "import" for e in audit.entries(store))
    import_file(store, framework, Actor(administrator=True, identity="admin@region.se"), data, "a.json")
    entry = next(e for e in audit.entries(store) if e.action == "import")
    assert (entry.actor, entry.target) == ("admin@region.se", "a.json")
