"""Writes on someone's behalf (assessment.access.writes): asked first, refused without writing, logged."""

from __future__ import annotations

import pytest

from assessment.access import links
from assessment.store import audit
from assessment.access.permissions import Actor
from assessment.access.writes import Refused, new_link, set_followup, start_assessment, upload_agreement
from assessment.regional import followup as fs
from assessment.regional.agreements import AGREEMENTS_DIR, shipped_agreements
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments
from assessment.store.responses import Responses

VISITOR = Actor()


def test_starting_makes_the_starter_coordinator_with_an_invite_link(sqlite_engine, framework):
    store, answers = Assessments(sqlite_engine, framework), Answers(sqlite_engine, framework)
    started = start_assessment(store, answers, VISITOR, "Nystad", 2026, None, "municipality", [], "public", "")
    assert not started.joined_existing
    assert links.resolve(store, started.coordinator_token).assessment_id == started.assessment.id
    assert links.resolve(store, started.invite_token).kind == links.INVITE_LINK
    assert Responses(sqlite_engine, framework).get_response(started.response_token).assessment.id == started.assessment.id


@pytest.mark.parametrize("year, key", [(2026, "home.error.exists"), (2027, "home.error.unit_taken")])
def test_a_visitor_cannot_start_in_a_unit_that_has_assessments(sqlite_engine, framework, year, key):
    store, answers = Assessments(sqlite_engine, framework), Answers(sqlite_engine, framework)
    store.create_assessment("Gammelstad", 2026)
    with pytest.raises(Refused) as refused:
        start_assessment(store, answers, VISITOR, "Gammelstad", year, None, "municipality", [], "public", "")
    assert refused.value.key == key
    assert len(store.list_assessments()) == 1 and links.links_of(store) == []  # nothing written
    # Its unit's coordinator may: joining the existing one, or starting another year.
    coordinator = Actor(units=frozenset({"Gammelstad"}))
    started = start_assessment(store, answers, coordinator, "Gammelstad", year, None, "municipality", [], "public", "")
    assert started.joined_existing == (year == 2026)


def test_links_and_follow_ups_of_another_unit_are_refused_and_unchanged(sqlite_engine, framework):
    store = Assessments(sqlite_engine, framework)
    other = store.create_assessment("Annanstad", 2026)
    with pytest.raises(Refused):
        new_link(store, Actor(coordinates=frozenset({other.id + 1})), links.RESULTS_LINK, other)
    assert links.links_of(store) == []
    agreement = shipped_agreements(framework)[0]
    commitment = agreement.commitments[0].id
    with pytest.raises(Refused):
        set_followup(store, Actor(units=frozenset({"Annanstad"})), agreement, commitment, 2026, "done")
    assert audit.entries(store) == []
    set_followup(store, Actor(units=frozenset({agreement.unit}), identity="k@orebro.se"), agreement, commitment,
                 2026, "done", "klart")
    entry, = audit.entries(store)
    assert (entry.actor, entry.action, entry.detail) == ("k@orebro.se", "follow-up", "done: klart")


def test_an_uploaded_agreement_is_stored_and_logged(sqlite_engine, framework):
    data = (AGREEMENTS_DIR / "orebro.yaml").read_bytes()
    stored = upload_agreement(sqlite_engine, framework, Actor(administrator=True, identity="a@region.se"), data,
                              "orebro.yaml")
    assert fs.get_agreement(sqlite_engine, stored.id) == stored
    entry, = audit.entries(sqlite_engine)
    assert (entry.actor, entry.action) == ("a@region.se", "agreement-saved")
    assert entry.target == f"{stored.id} ({stored.unit})"
