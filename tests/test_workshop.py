"""Live workshop: tallies (pure) and the rules of its repositories, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
import sqlalchemy as sa

from assessment.framework.matrix import Text
from assessment.store.tables import workshop_votes, workshops
from assessment.workshop.control import CODE_ALPHABET, CODE_LENGTH, WorkshopControl
from assessment.workshop.decks import Card, Deck, load_deck, DECKS_DIR
from assessment.workshop.errors import Forbidden, InvalidInput, Refused, UnknownParticipant, UnknownWorkshop
from assessment.workshop.results import WorkshopResults
from assessment.workshop.tallies import Counts, matrix_levels, summary_order, tally_votes
from assessment.workshop.voting import WorkshopVoting
from test_gaps import tiny_framework

# --- pure tallies --------------------------------------------------------------------------


def test_tally_two_sides_by_hand():
    rows = [("public", "agree", 3), ("public", "disagree", 1), ("public", "pass", 2),
            ("civil_society", "agree", 1), ("civil_society", "disagree", 3),
            ("civil_society", "agree", 1)]  # repeated pairs add up
    tally = tally_votes("card", rows)
    assert tally.public == Counts(agree=3, disagree=1, passed=2)
    assert tally.civil_society == Counts(agree=2, disagree=3, passed=0)
    assert tally.overall == Counts(agree=5, disagree=4, passed=2)
    assert tally.overall.total == 11
    assert tally.public.agree_share == 75.0  # 3 / (3 + 1), passes left out
    assert tally.civil_society.agree_share == 40.0  # 2 / 5
    assert tally.public.share("pass") == 33.3  # 2 / 6
    assert tally.gap == 35.0
    assert tally.side("overall") is tally.overall
    with pytest.raises(ValueError):
        tally_votes("card", [("press", "agree", 1)])
    with pytest.raises(ValueError):
        tally_votes("card", [("public", "maybe", 1)])


def test_empty_tally_has_no_shares():
    tally = tally_votes("card", [("public", "pass", 2)])
    assert tally.public.agree_share is None and tally.civil_society.share("agree") is None
    assert tally.gap is None


def test_summary_orders_put_missing_last():
    a = tally_votes("a", [("public", "agree", 1), ("civil_society", "agree", 1)])  # 100 %, gap 0
    b = tally_votes("b", [("public", "agree", 1), ("civil_society", "disagree", 1)])  # 50 %, gap 100
    c = tally_votes("c", [("public", "agree", 3), ("public", "disagree", 1)])  # 75 %, no gap
    d = tally_votes("d", [])  # nothing
    tallies = [a, b, c, d]
    ids = lambda order: [t.card_id for t in summary_order(tallies, order)]
    assert ids("deck") == ["a", "b", "c", "d"]
    assert ids("agreement") == ["a", "c", "b", "d"]
    assert ids("division") == ["b", "c", "a", "d"]
    assert ids("gap") == ["b", "a", "c", "d"]
    with pytest.raises(ValueError):
        summary_order(tallies, "random")


def test_matrix_levels_median_and_distribution():
    levels = ["information", "consultation", "dialogue", "partnership"]
    rows = [("agenda", "none", 1), ("agenda", "dialogue", 2), ("agenda", "partnership", 1),
            ("decision", "information", 1), ("elsewhere", "dialogue", 5)]
    agenda, decision, monitoring = matrix_levels(["agenda", "decision", "monitoring"], levels, rows)
    # agenda ranks [0, 3, 3, 4] -> median low 3 = dialogue
    assert (agenda.level_id, agenda.answered, agenda.distribution) == (
        "dialogue", 4, {"none": 1, "dialogue": 2, "partnership": 1})
    assert (decision.level_id, decision.answered) == ("information", 1)
    assert (monitoring.level_id, monitoring.answered, monitoring.distribution) == ("none", 0, {})


# --- the repositories ----------------------------------------------------------------------

def small_deck(matrix_round: bool = True) -> Deck:
    cards = [Card(id=f"c{i}", text=Text(sv=f"Påstående {i}?", en=f"Statement {i}?")) for i in range(1, 4)]
    return Deck(id="small", title=Text(sv="Liten", en="Small"), description=Text(sv="Test", en="Test"),
                cards=cards, matrix_round=matrix_round)


@pytest.fixture
def control(engine) -> WorkshopControl:
    return WorkshopControl(engine, tiny_framework())


@pytest.fixture
def voting(engine) -> WorkshopVoting:
    return WorkshopVoting(engine, tiny_framework())


@pytest.fixture
def results(engine) -> WorkshopResults:
    return WorkshopResults(engine, tiny_framework())


@pytest.fixture
def workshop(control):
    code, secret = control.create_workshop("Samverkan 2024", "Burlöv", date(2024, 5, 14), "sv", small_deck())
    return code, secret


def vote_rows(engine) -> list[tuple]:
    with engine.connect() as conn:
        return conn.execute(sa.select(workshop_votes.c.participant_id, workshop_votes.c.card_id,
                                      workshop_votes.c.value)).all()


def test_create_gives_short_code_and_hashed_secret(engine, control, voting, workshop):
    code, secret = workshop
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    info = voting.get_workshop(code.lower())
    assert (info.name, info.unit, info.date, info.lang, info.phase) == (
        "Samverkan 2024", "Burlöv", date(2024, 5, 14), "sv", "statements")
    assert info.deck == small_deck() and info.steps == ["agenda", "decision"]
    assert info.levels == ["information", "consultation", "dialogue", "partnership"]
    with engine.connect() as conn:
        stored = conn.execute(sa.select(workshops.c.secret_hash)).scalar_one()
    assert secret not in stored
    assert control.check_secret(code, secret) and not control.check_secret(code, "x" + secret)
    other, _ = control.create_workshop("Other", "Lund", "2024-06-01", "en", small_deck())
    assert other != code
    with pytest.raises(InvalidInput):
        control.create_workshop(" ", "Lund", "2024-06-01", "en", small_deck())
    with pytest.raises(InvalidInput) as info:
        control.create_workshop("X", "Lund", "1 June", "en", small_deck())
    assert info.value.values == {"field": "date"}
    with pytest.raises(InvalidInput):
        control.create_workshop("X", "Lund", "2024-06-01", "de", small_deck())


FACILITATOR_ACTIONS = [
    lambda s, code, secret: s.open_card(code, secret),
    lambda s, code, secret: s.close_card(code, secret),
    lambda s, code, secret: s.reveal(code, secret),
    lambda s, code, secret: s.hide(code, secret),
    lambda s, code, secret: s.next_card(code, secret),
    lambda s, code, secret: s.previous_card(code, secret),
    lambda s, code, secret: s.go_to_card(code, secret, 2),
    lambda s, code, secret: s.start_matrix(code, secret),
    lambda s, code, secret: s.end(code, secret),
    lambda s, code, secret: s.facilitator_state(code, secret),
]


@pytest.mark.parametrize("action", FACILITATOR_ACTIONS)
def test_facilitator_actions_need_the_secret(control, voting, workshop, action):
    code, secret = workshop
    _, other_secret = control.create_workshop("Other", "Lund", date(2024, 6, 1), "sv", small_deck())
    control.go_to_card(code, secret, 1)  # a middle card, so "next" and "previous" both exist
    before = voting.get_workshop(code)
    for wrong in (None, "", code, secret[:-1], other_secret):
        with pytest.raises(Forbidden) as info:
            action(control, code, wrong)
        assert info.value.key == "workshop.error.forbidden"
    assert voting.get_workshop(code) == before  # nothing changed, not even the version
    action(control, code, secret)  # the right secret works
    with pytest.raises(UnknownWorkshop):
        action(control, "ZZZZZZ", secret)


def test_join_with_bad_code_side_or_role(voting, results, workshop):
    code, _ = workshop
    for bad in ("", "ABC", code + "X", "ÅÄÖ123"):
        with pytest.raises(UnknownWorkshop) as info:
            voting.join(bad, "public")
        assert info.value.key == "workshop.error.unknown_code"
    assert voting.join(f" {code[:3].lower()}-{code[3:]} ", "public", "official")  # typed loosely
    with pytest.raises(InvalidInput) as info:
        voting.join(code, "press")
    assert info.value.key == "workshop.error.bad_side"
    with pytest.raises(InvalidInput):
        voting.join(code, "public", "volunteer")  # a civil-society role
    assert results.participant_counts(code) == {"public": 1, "civil_society": 0}


def test_vote_change_and_close_semantics(engine, control, voting, results, workshop):
    code, secret = workshop
    alice = voting.join(code, "public", "politician")
    bob = voting.join(code, "civil_society", "association")
    with pytest.raises(Refused) as info:  # card shown but not opened yet
        voting.vote(alice, "c1", "agree")
    assert info.value.key == "workshop.error.card_closed"
    control.open_card(code, secret)
    voting.vote(alice, "c1", "agree")
    voting.vote(bob, "c1", "agree")
    voting.vote(alice, "c1", "disagree")  # changed while open: replaces
    voting.vote(alice, "c1", "disagree")  # same again: still one row
    assert len(vote_rows(engine)) == 2
    assert voting.my_votes(alice) == {"c1": "disagree"}
    tally = results.tally(code, "c1")
    assert tally.public == Counts(0, 1, 0) and tally.civil_society == Counts(1, 0, 0)
    control.close_card(code, secret)
    with pytest.raises(Refused):
        voting.vote(bob, "c1", "pass")
    assert voting.my_votes(bob) == {"c1": "agree"}  # refused vote changed nothing
    with pytest.raises(Refused):
        voting.vote(bob, "c2", "pass")  # a card not on screen is not open
    control.open_card(code, secret)  # reopened: votes kept, can change
    voting.vote(bob, "c1", "pass")
    assert results.tally(code, "c1").civil_society == Counts(0, 0, 1)
    state = control.next_card(code, secret)  # moving on closes the card left
    assert state.card_states == {"c1": "closed", "c2": "new", "c3": "new"}
    with pytest.raises(Refused):
        voting.vote(alice, "c1", "agree")
    with pytest.raises(Refused) as info:
        voting.vote(alice, "c9", "agree")
    assert info.value.key == "workshop.error.unknown_card"
    with pytest.raises(InvalidInput):
        voting.vote(alice, "c2", "yes")
    with pytest.raises(UnknownParticipant):
        voting.vote("not-a-token", "c2", "agree")
    control.open_card(code, secret)
    voting.vote(alice, "c2", "agree")
    control.end(code, secret)
    with pytest.raises(Refused) as info:
        voting.vote(alice, "c2", "disagree")
    assert info.value.key == "workshop.error.ended"
    with pytest.raises(Refused):
        voting.join(code, "public")
    with pytest.raises(Refused):
        control.open_card(code, secret)  # ended is final
    assert sorted(v for _p, _c, v in vote_rows(engine)) == ["agree", "disagree", "pass"]


def test_participant_sees_results_only_when_revealed(control, voting, workshop):
    code, secret = workshop
    alice = voting.join(code, "public")
    bob = voting.join(code, "civil_society")
    control.open_card(code, secret)
    voting.vote(alice, "c1", "agree")
    voting.vote(bob, "c1", "disagree")
    view = voting.state(code, alice)
    assert (view.card.id, view.card_open, view.revealed, view.tally) == ("c1", True, False, None)
    assert view.my_vote == "agree" and voting.state(code, bob).my_vote == "disagree"
    version = view.version
    control.reveal(code, secret)
    view = voting.state(code)
    assert view.version > version
    assert view.tally.public == Counts(1, 0, 0) and view.tally.civil_society == Counts(0, 1, 0)
    control.go_to_card(code, secret, 2)
    view = voting.state(code, alice)
    assert (view.card.id, view.card_index, view.card_open, view.revealed, view.tally, view.my_vote) == (
        "c3", 2, False, False, None, None)
    with pytest.raises(InvalidInput):
        control.go_to_card(code, secret, 3)
    with pytest.raises(InvalidInput):
        control.next_card(code, secret)  # past the last card
    other, _ = control.create_workshop("Other", "Lund", date(2024, 6, 1), "sv", small_deck())
    with pytest.raises(UnknownParticipant):
        voting.state(other, alice)  # a token of another workshop


def test_participant_state_tells_only_their_own_side_and_role(voting, workshop):
    code, _ = workshop
    alice = voting.join(code, "public", "politician")
    bob = voting.join(code, "civil_society")  # no role given
    carol = voting.join(code, "civil_society", "volunteer")
    mine = voting.state(code, alice)
    assert (mine.my_side, mine.my_role) == ("public", "politician")
    assert (voting.state(code, bob).my_side, voting.state(code, bob).my_role) == ("civil_society", None)
    assert (voting.state(code, carol).my_side, voting.state(code, carol).my_role) == ("civil_society", "volunteer")
    anonymous = voting.state(code)  # the screen without a token: nobody's side
    assert (anonymous.my_side, anonymous.my_role) == (None, None)
    # Nothing about the other participants travels with alice's view.
    shown = repr(mine)
    assert "volunteer" not in shown and "civil_society" not in shown
    assert not any(token in shown for token in (alice, bob, carol))


def test_participant_card_status_tells_not_yet_open_from_closed(control, voting, workshop):
    code, secret = workshop
    alice = voting.join(code, "public")
    status = lambda: (voting.state(code, alice).card.id, voting.state(code, alice).card_status)
    assert status() == ("c1", "pending")  # shown, not opened yet
    assert not voting.state(code, alice).card_open
    control.open_card(code, secret)
    assert status() == ("c1", "open") and voting.state(code, alice).card_open
    control.close_card(code, secret)
    assert status() == ("c1", "closed") and not voting.state(code, alice).card_open
    control.next_card(code, secret)
    assert status() == ("c2", "pending")
    control.previous_card(code, secret)
    assert status() == ("c1", "closed")  # back on a card that was voted on and closed
    control.open_card(code, secret)
    assert status() == ("c1", "open")  # reopened
    control.start_matrix(code, secret)
    view = voting.state(code, alice)
    assert (view.card, view.card_status, view.card_open) == (None, None, False)
    control.end(code, secret)
    assert voting.state(code, alice).card_status is None


def test_participant_state_from_the_token_alone(control, voting, workshop):
    code, secret = workshop
    alice = voting.join(code, "civil_society", "association")
    control.open_card(code, secret)
    voting.vote(alice, "c1", "pass")
    for no_code in (None, ""):
        view = voting.state(no_code, alice)
        assert (view.code, view.card.id, view.my_vote, view.my_side, view.my_role) == (
            code, "c1", "pass", "civil_society", "association")
    assert voting.state(code, alice) == voting.state(None, alice)
    with pytest.raises(UnknownParticipant):
        voting.state(None, "not-a-token")
    with pytest.raises(UnknownWorkshop):
        voting.state(None)  # neither code nor token
    other, _ = control.create_workshop("Other", "Lund", date(2024, 6, 1), "sv", small_deck())
    assert voting.state(None, voting.join(other, "public")).code == other  # each token finds its own
    with pytest.raises(UnknownParticipant):
        voting.state(other, alice)  # a code and a token that do not belong together


def test_matrix_round_per_side(control, voting, results, workshop):
    code, secret = workshop
    a = voting.join(code, "public")
    b = voting.join(code, "public")
    c = voting.join(code, "civil_society")
    with pytest.raises(Refused) as info:
        voting.place(a, "agenda", "dialogue")
    assert info.value.key == "workshop.error.not_matrix"
    control.start_matrix(code, secret)
    voting.place(a, "agenda", "dialogue")
    voting.place(b, "agenda", "information")
    voting.place(b, "agenda", "partnership")  # changed
    voting.place(c, "agenda", "none")
    voting.place(c, "decision", "consultation")
    with pytest.raises(InvalidInput):
        voting.place(a, "lunch", "dialogue")
    with pytest.raises(InvalidInput):
        voting.place(a, "agenda", "mobilisation")  # optional level not switched on
    assert voting.my_placements(b) == {"agenda": "partnership"}
    matrix = results.matrix_distribution(code)
    public = {level.step_id: level for level in matrix["public"]}
    civil = {level.step_id: level for level in matrix["civil_society"]}
    overall = {level.step_id: level for level in matrix["overall"]}
    assert public["agenda"].distribution == {"dialogue": 1, "partnership": 1}
    assert public["agenda"].level_id == "dialogue"  # ranks [3, 4] -> median low 3
    assert civil["agenda"].level_id == "none" and civil["decision"].level_id == "consultation"
    assert overall["agenda"].answered == 3 and overall["agenda"].level_id == "dialogue"  # [0, 3, 4]
    assert public["decision"].answered == 0
    assert voting.state(code, a).matrix is None  # hidden until revealed
    control.reveal(code, secret)
    assert voting.state(code, a).matrix["civil_society"][1].level_id == "consultation"
    back = control.go_to_card(code, secret, 0)  # back to the statements
    assert back.info.phase == "statements"
    with pytest.raises(Refused):
        voting.place(a, "agenda", "dialogue")


def test_deck_without_matrix_round(control, voting):
    code, secret = control.create_workshop("X", "Lund", date(2024, 6, 1), "sv", small_deck(matrix_round=False))
    assert voting.get_workshop(code).steps == []
    with pytest.raises(Refused) as info:
        control.start_matrix(code, secret)
    assert info.value.key == "workshop.error.no_matrix"


def test_summary_and_exports(control, voting, results, workshop):
    code, secret = workshop
    tokens = {name: voting.join(code, side) for name, side in
              [("p1", "public"), ("p2", "public"), ("c1", "civil_society")]}
    control.open_card(code, secret)
    voting.vote(tokens["p1"], "c1", "agree")
    voting.vote(tokens["p2"], "c1", "pass")
    voting.vote(tokens["c1"], "c1", "disagree")
    control.next_card(code, secret)
    control.open_card(code, secret)
    voting.vote(tokens["c1"], "c2", "agree")
    summary = results.summary(code)
    assert [t.card_id for t in summary] == ["c1", "c2", "c3"]
    assert summary[0].public == Counts(1, 0, 1) and summary[1].civil_society == Counts(1, 0, 0)
    assert summary[2].overall.total == 0
    assert [t.card_id for t in results.summary(code, "gap")][0] == "c1"  # the only card with a gap

    raw = results.export_csv(code)
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == 3 * 3
    first = {r["side"]: r for r in rows if r["card_id"] == "c1"}
    assert first["public"]["text"] == "Påstående 1?"
    assert (first["public"]["agree"], first["public"]["pass"], first["public"]["total"]) == ("1", "1", "2")
    assert (first["overall"]["agree"], first["overall"]["disagree"], first["overall"]["agree_share"]) == (
        "1", "1", "50.0")
    assert first["civil_society"]["agree_share"] == "0.0"
    assert {r["agree_share"] for r in rows if r["card_id"] == "c3"} == {""}
    english = list(csv.DictReader(io.StringIO(results.export_csv(code, "en").decode("utf-8-sig"))))
    assert english[0]["text"] == "Statement 1?"

    data = json.loads(results.export_json(code))
    assert data["workshop"]["code"] == code and data["participants"] == {
        "public": 2, "civil_society": 1, "overall": 3}
    card = data["cards"][0]
    assert card["card_id"] == "c1" and card["public"] == {
        "agree": 1, "disagree": 0, "pass": 1, "total": 2, "agree_share": 100.0}
    assert card["gap"] == 100.0 and data["cards"][1]["civil_society"]["agree"] == 1
    everything = raw.decode("utf-8-sig") + json.dumps(data)
    assert secret not in everything and not any(token in everything for token in tokens.values())


def test_burlov_deck_runs(control, voting, results):
    deck = load_deck(DECKS_DIR / "burlov.yaml")
    code, secret = control.create_workshop("Burlöv", "Burlövs kommun", date(2012, 10, 4), "sv", deck)
    view = control.open_card(code, secret)
    assert view.card.text("sv").startswith("Har ni välutvecklade kontakter")
    voter = voting.join(code, "civil_society", "volunteer")
    voting.vote(voter, deck.cards[0].id, "agree")
    assert results.summary(code)[0].civil_society.agree == 1
