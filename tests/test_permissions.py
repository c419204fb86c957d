"""The permission rules: who may do what on which resource (assessment.access.permissions)."""

from __future__ import annotations

import pytest

from assessment.access import permissions as p
from assessment.access.permissions import Actor, Resource, allowed

A = Resource(assessment=1, unit="Enhet A")
B = Resource(assessment=2, unit="Enhet B")

ACTORS = {
    "anonymous": Actor(),
    "respondent A": Actor(responses=frozenset({"resp-a"}), invited=frozenset({1})),
    "results link A": Actor(results=frozenset({1})),
    "coordinator A (link)": Actor(coordinates=frozenset({1})),
    "coordinator A (unit)": Actor(units=frozenset({"Enhet A"}), identity="a@enhet-a.se"),
    "administrator": Actor(administrator=True),
    "facilitator": Actor(facilitates=frozenset({"ABC234"})),
}

# (action, resource) -> the actors allowed; everyone else is refused.
TABLE = [
    ((p.VIEW_HOME, None), set(ACTORS)),
    ((p.START_ASSESSMENT, None), set(ACTORS)),
    ((p.JOIN_WORKSHOP, None), set(ACTORS)),
    ((p.JOIN_ASSESSMENT, A), {"respondent A"}),
    ((p.ANSWER, Resource(response="resp-a")), {"respondent A"}),
    ((p.ANSWER, Resource(response="resp-b")), set()),
    ((p.VIEW_RESULTS, A), {"results link A", "coordinator A (link)", "coordinator A (unit)", "administrator"}),
    ((p.VIEW_RESULTS, B), {"administrator"}),
    ((p.VIEW_RESULTS, None), {"results link A", "coordinator A (link)", "coordinator A (unit)", "administrator"}),
    ((p.READ_COMMENTS, A), {"coordinator A (link)", "coordinator A (unit)", "administrator"}),
    ((p.COORDINATE, A), {"coordinator A (link)", "coordinator A (unit)", "administrator"}),
    ((p.COORDINATE, B), {"administrator"}),
    ((p.COMPARE_REGION, None), {"coordinator A (link)", "coordinator A (unit)", "administrator"}),
    ((p.COMPARE_NAMED, None), {"administrator"}),
    ((p.EXPORT_DATA, A), {"coordinator A (link)", "coordinator A (unit)", "administrator"}),
    ((p.EXPORT_DATA, Resource()), {"administrator"}),  # everything
    ((p.IMPORT_DATA, None), {"administrator"}),
    ((p.FOLLOW_UP, Resource(unit="Enhet A")), {"coordinator A (unit)", "administrator"}),
    ((p.MAKE_REPORT, Resource(unit="Enhet B")), {"administrator"}),
    ((p.MANAGE_AGREEMENTS, None), {"administrator"}),
    ((p.ADMINISTER, None), {"administrator"}),
    ((p.RUN_WORKSHOP, None), set(ACTORS)),  # anyone may create a workshop
    ((p.RUN_WORKSHOP, Resource(workshop="ABC234")), {"facilitator", "administrator"}),
]


@pytest.mark.parametrize("question, expected", TABLE, ids=[f"{a}-{r}" for (a, r), _ in TABLE])
def test_default_rules(question, expected):
    action, resource = question
    assert {name for name, actor in ACTORS.items() if allowed(actor, action, resource)} == expected


def test_every_action_has_a_rule_and_unknown_actions_are_refused():
    constants = {value for name, value in vars(p).items()
                 if name.isupper() and isinstance(value, str) and value not in p.ROLES}
    assert constants == set(p.ACTIONS)
    assert not allowed(Actor(administrator=True), "drop-database")


def test_the_named_comparison_once_published_is_open_to_coordinators():
    published = Actor(coordinates=frozenset({1}), named_comparison_published=True)
    assert allowed(published, p.COMPARE_NAMED)
    assert not allowed(Actor(results=frozenset({1}), named_comparison_published=True), p.COMPARE_NAMED)


def test_roles_and_how_the_audit_log_names_an_actor():
    assert [actor.role for actor in ACTORS.values()] == [
        p.ANONYMOUS, p.RESPONDENT, p.RESULTS_READER, p.COORDINATOR, p.COORDINATOR, p.ADMINISTRATOR, p.FACILITATOR]
    assert ACTORS["coordinator A (unit)"].who == "a@enhet-a.se"
    assert ACTORS["administrator"].who == "administrator"
