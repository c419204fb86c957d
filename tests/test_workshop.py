"""Live workshop: tallies (pure) and the store's rules, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pytest
import sqlalchemy as sa

from assessment.framework.matrix import Text
from assessment.workshop.decks import Card, Deck, load_deck, DECKS_DIR
from assessment.workshop.repository import (CODE_ALPHABET, CODE_LENGTH, Forbidden, InvalidInput, Refused,
                                            UnknownParticipant, UnknownWorkshop, WorkshopStore,
                                            workshop_votes, workshops)
from assessment.workshop.tallies import Counts, matrix_levels, summary_order, tally_votes
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


# --- the store -----------------------------------------------------------------------------

def small_deck(matrix_round: bool = True) -> Deck:
    cards = [Card(id=f"c{i}", text=Text(sv=f"Påstående {i}?", en=f"Statement {i}?")) for i in range(1, 4)]
    return Deck(id="small", title=Text(sv="Liten", en="Small"), description=Text(sv="Test", en="Test"),
                cards=cards, matrix_round=matrix_round)


@pytest.fixture
def store(engine) -> WorkshopStore:
    return WorkshopStore(engine, tiny_framework())


@pytest.fixture
def workshop(store):
    code, secret = store.create_workshop("Samverkan 2024", "Burlöv", date(2024, 5, 14), "sv", small_deck())
    return code, secret


def vote_rows(store: WorkshopStore) -> list[tuple]:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(workshop_votes.c.participant_id, workshop_votes.c.card_id,
                                      workshop_votes.c.value)).all()


def test_create_gives_short_code_and_hashed_secret(store, workshop):
    code, secret = workshop
    assert len(code) == CODE_LENGTH and set(code) <= set(CODE_ALPHABET)
    info = store.get_workshop(code.lower())
    assert (info.name, info.unit, info.date, info.lang, info.phase) == (
        "Samverkan 2024", "Burlöv", date(2024, 5, 14), "sv", "statements")
    assert info.deck == small_deck() and info.steps == ["agenda", "decision"]
    assert info.levels == ["information", "consultation", "dialogue", "partnership"]
    with store.engine.connect() as conn:
        stored = conn.execute(sa.select(workshops.c.secret_hash)).scalar_one()
    assert secret not in stored
    assert store.check_secret(code, secret) and not store.check_secret(code, "x" + secret)
    other, _ = store.create_workshop("Other", "Lund", "2024-06-01", "en", small_deck())
    assert other != code
    with pytest.raises(InvalidInput):
        store.create_workshop(" ", "Lund", "2024-06-01", "en", small_deck())
    with pytest.raises(InvalidInput) as info:
        store.create_workshop("X", "Lund", "1 June", "en", small_deck())
    assert info.value.values == {"field": "date"}
    with pytest.raises(InvalidInput):
        store.create_workshop("X", "Lund", "2024-06-01", "de", small_deck())


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
def test_facilitator_actions_need_the_secret(store, workshop, action):
    code, secret = workshop
    _, other_secret = store.create_workshop("Other", "Lund", date(2024, 6, 1), "sv", small_deck())
    store.go_to_card(code, secret, 1)  # a middle card, so "next" and "previous" both exist
    before = store.get_workshop(code)
    for wrong in (None, "", code, secret[:-1], other_secret):
        with pytest.raises(Forbidden) as info:
            action(store, code, wrong)
        assert info.value.key == "workshop.error.forbidden"
    assert store.get_workshop(code) == before  # nothing changed, not even the version
    action(store, code, secret)  # the right secret works
    with pytest.raises(UnknownWorkshop):
        action(store, "ZZZZZZ", secret)


def test_join_with_bad_code_side_or_role(store, workshop):
    code, _ = workshop
    for bad in ("", "ABC", code + "X", "ÅÄÖ123"):
        with pytest.raises(UnknownWorkshop) as info:
            store.join(bad, "public")
        assert info.value.key == "workshop.error.unknown_code"
    assert store.join(f" {code[:3].lower()}-{code[3:]} ", "public", "official")  # typed loosely
    with pytest.raises(InvalidInput) as info:
        store.join(code, "press")
    assert info.value.key == "workshop.error.bad_side"
    with pytest.raises(InvalidInput):
        store.join(code, "public", "volunteer")  # a civil-society role
    assert store.participant_counts(code) == {"public": 1, "civil_society": 0}


def test_vote_change_and_close_semantics(store, workshop):
    code, secret = workshop
    alice = store.join(code, "public", "politician")
    bob = store.join(code, "civil_society", "association")
    with pytest.raises(Refused) as info:  # card shown but not opened yet
        store.vote(alice, "c1", "agree")
    assert info.value.key == "workshop.error.card_closed"
    store.open_card(code, secret)
    store.vote(alice, "c1", "agree")
    store.vote(bob, "c1", "agree")
    store.vote(alice, "c1", "disagree")  # changed while open: replaces
    store.vote(alice, "c1", "disagree")  # same again: still one row
    assert len(vote_rows(store)) == 2
    assert store.my_votes(alice) == {"c1": "disagree"}
    tally = store.tally(code, "c1")
    assert tally.public == Counts(0, 1, 0) and tally.civil_society == Counts(1, 0, 0)
    store.close_card(code, secret)
    with pytest.raises(Refused):
        store.vote(bob, "c1", "pass")
    assert store.my_votes(bob) == {"c1": "agree"}  # refused vote changed nothing
    with pytest.raises(Refused):
        store.vote(bob, "c2", "pass")  # a card not on screen is not open
    store.open_card(code, secret)  # reopened: votes kept, can change
    store.vote(bob, "c1", "pass")
    assert store.tally(code, "c1").civil_society == Counts(0, 0, 1)
    state = store.next_card(code, secret)  # moving on closes the card left
    assert state.card_states == {"c1": "closed", "c2": "new", "c3": "new"}
    with pytest.raises(Refused):
        store.vote(alice, "c1", "agree")
    with pytest.raises(Refused) as info:
        store.vote(alice, "c9", "agree")
    assert info.value.key == "workshop.error.unknown_card"
    with pytest.raises(InvalidInput):
        store.vote(alice, "c2", "yes")
    with pytest.raises(UnknownParticipant):
        store.vote("not-a-token", "c2", "agree")
    store.open_card(code, secret)
    store.vote(alice, "c2", "agree")
    store.end(code, secret)
    with pytest.raises(Refused) as info:
        store.vote(alice, "c2", "disagree")
    assert info.value.key == "workshop.error.ended"
    with pytest.raises(Refused):
        store.join(code, "public")
    with pytest.raises(Refused):
        store.open_card(code, secret)  # ended is final
    assert sorted(v for _p, _c, v in vote_rows(store)) == ["agree", "disagree", "pass"]


def test_participant_sees_results_only_when_revealed(store, workshop):
    code, secret = workshop
    alice = store.join(code, "public")
    bob = store.join(code, "civil_society")
    store.open_card(code, secret)
    store.vote(alice, "c1", "agree")
    store.vote(bob, "c1", "disagree")
    view = store.state(code, alice)
    assert (view.card.id, view.card_open, view.revealed, view.tally) == ("c1", True, False, None)
    assert view.my_vote == "agree" and store.state(code, bob).my_vote == "disagree"
    version = view.version
    store.reveal(code, secret)
    view = store.state(code)
    assert view.version > version
    assert view.tally.public == Counts(1, 0, 0) and view.tally.civil_society == Counts(0, 1, 0)
    store.go_to_card(code, secret, 2)
    view = store.state(code, alice)
    assert (view.card.id, view.card_index, view.card_open, view.revealed, view.tally, view.my_vote) == (
        "c3", 2, False, False, None, None)
    with pytest.raises(InvalidInput):
        store.go_to_card(code, secret, 3)
    with pytest.raises(InvalidInput):
        store.next_card(code, secret)  # past the last card
    other, _ = store.create_workshop("Other", "Lund", date(2024, 6, 1), "sv", small_deck())
    with pytest.raises(UnknownParticipant):
        store.state(other, alice)  # a token of another workshop


def test_participant_state_tells_only_their_own_side_and_role(store, workshop):
    code, _ = workshop
    alice = store.join(code, "public", "politician")
    bob = store.join(code, "civil_society")  # no role given
    carol = store.join(code, "civil_society", "volunteer")
    mine = store.state(code, alice)
    assert (mine.my_side, mine.my_role) == ("public", "politician")
    assert (store.state(code, bob).my_side, store.state(code, bob).my_role) == ("civil_society", None)
    assert (store.state(code, carol).my_side, store.state(code, carol).my_role) == ("civil_society", "volunteer")
    anonymous = store.state(code)  # the screen without a token: nobody's side
    assert (anonymous.my_side, anonymous.my_role) == (None, None)
    # Nothing about the other participants travels with alice's view.
    shown = repr(mine)
    assert "volunteer" not in shown and "civil_society" not in shown
    assert not any(token in shown for token in (alice, bob, carol))


def test_participant_card_status_tells_not_yet_open_from_closed(store, workshop):
    code, secret = workshop
    alice = store.join(code, "public")
    status = lambda: (store.state(code, alice).card.id, store.state(code, alice).card_status)
    assert status() == ("c1", "pending")  # shown, not opened yet
    assert not store.state(code, alice).card_open
    store.open_card(code, secret)
    assert status() == ("c1", "open") and store.state(code, alice).card_open
    store.close_card(code, secret)
    assert status() == ("c1", "closed") and not store.state(code, alice).card_open
    store.next_card(code, secret)
    assert status() == ("c2", "pending")
    store.previous_card(code, secret)
    assert status() == ("c1", "closed")  # back on a card that was voted on and closed
    store.open_card(code, secret)
    assert status() == ("c1", "open")  # reopened
    store.start_matrix(code, secret)
    view = store.state(code, alice)
    assert (view.card, view.card_status, view.card_open) == (None, None, False)
    store.end(code, secret)
    assert store.state(code, alice).card_status is None


def test_participant_state_from_the_token_alone(store, workshop):
    code, secret = workshop
    alice = store.join(code, "civil_society", "association")
    store.open_card(code, secret)
    store.vote(alice, "c1", "pass")
    for no_code in (None, ""):
        view = store.state(no_code, alice)
        assert (view.code, view.card.id, view.my_vote, view.my_side, view.my_role) == (
            code, "c1", "pass", "civil_society", "association")
    assert store.state(code, alice) == store.state(None, alice)
    with pytest.raises(UnknownParticipant):
        store.state(None, "not-a-token")
    with pytest.raises(UnknownWorkshop):
        store.state(None)  # neither code nor token
    other, _ = store.create_workshop("Other", "Lund", date(2024, 6, 1), "sv", small_deck())
    assert store.state(None, store.join(other, "public")).code == other  # each token finds its own
    with pytest.raises(UnknownParticipant):
        store.state(other, alice)  # a code and a token that do not belong together


def test_matrix_round_per_side(store, workshop):
    code, secret = workshop
    a = store.join(code, "public")
    b = store.join(code, "public")
    c = store.join(code, "civil_society")
    with pytest.raises(Refused) as info:
        store.place(a, "agenda", "dialogue")
    assert info.value.key == "workshop.error.not_matrix"
    store.start_matrix(code, secret)
    store.place(a, "agenda", "dialogue")
    store.place(b, "agenda", "information")
    store.place(b, "agenda", "partnership")  # changed
    store.place(c, "agenda", "none")
    store.place(c, "decision", "consultation")
    with pytest.raises(InvalidInput):
        store.place(a, "lunch", "dialogue")
    with pytest.raises(InvalidInput):
        store.place(a, "agenda", "mobilisation")  # optional level not switched on
    assert store.my_placements(b) == {"agenda": "partnership"}
    matrix = store.matrix_distribution(code)
    public = {level.step_id: level for level in matrix["public"]}
    civil = {level.step_id: level for level in matrix["civil_society"]}
    overall = {level.step_id: level for level in matrix["overall"]}
    assert public["agenda"].distribution == {"dialogue": 1, "partnership": 1}
    assert public["agenda"].level_id == "dialogue"  # ranks [3, 4] -> median low 3
    assert civil["agenda"].level_id == "none" and civil["decision"].level_id == "consultation"
    assert overall["agenda"].answered == 3 and overall["agenda"].level_id == "dialogue"  # [0, 3, 4]
    assert public["decision"].answered == 0
    assert store.state(code, a).matrix is None  # hidden until revealed
    store.reveal(code, secret)
    assert store.state(code, a).matrix["civil_society"][1].level_id == "consultation"
    back = store.go_to_card(code, secret, 0)  # back to the statements
    assert back.info.phase == "statements"
    with pytest.raises(Refused):
        store.place(a, "agenda", "dialogue")


def test_deck_without_matrix_round(store):
    code, secret = store.create_workshop("X", "Lund", date(2024, 6, 1), "sv", small_deck(matrix_round=False))
    assert store.get_workshop(code).steps == []
    with pytest.raises(Refused) as info:
        store.start_matrix(code, secret)
    assert info.value.key == "workshop.error.no_matrix"


def test_summary_and_exports(store, workshop):
    code, secret = workshop
    tokens = {name: store.join(code, side) for name, side in
              [("p1", "public"), ("p2", "public"), ("c1", "civil_society")]}
    store.open_card(code, secret)
    store.vote(tokens["p1"], "c1", "agree")
    store.vote(tokens["p2"], "c1", "pass")
    store.vote(tokens["c1"], "c1", "disagree")
    store.next_card(code, secret)
    store.open_card(code, secret)
    store.vote(tokens["c1"], "c2", "agree")
    summary = store.summary(code)
    assert [t.card_id for t in summary] == ["c1", "c2", "c3"]
    assert summary[0].public == Counts(1, 0, 1) and summary[1].civil_society == Counts(1, 0, 0)
    assert summary[2].overall.total == 0
    assert [t.card_id for t in store.summary(code, "gap")][0] == "c1"  # the only card with a gap

    raw = store.export_csv(code)
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
    english = list(csv.DictReader(io.StringIO(store.export_csv(code, "en").decode("utf-8-sig"))))
    assert english[0]["text"] == "Statement 1?"

    data = json.loads(store.export_json(code))
    assert data["workshop"]["code"] == code and data["participants"] == {
        "public": 2, "civil_society": 1, "overall": 3}
    card = data["cards"][0]
    assert card["card_id"] == "c1" and card["public"] == {
        "agree": 1, "disagree": 0, "pass": 1, "total": 2, "agree_share": 100.0}
    assert card["gap"] == 100.0 and data["cards"][1]["civil_society"]["agree"] == 1
    everything = raw.decode("utf-8-sig") + json.dumps(data)
    assert secret not in everything and not any(token in everything for token in tokens.values())


def test_burlov_deck_runs(store):
    deck = load_deck(DECKS_DIR / "burlov.yaml")
    code, secret = store.create_workshop("Burlöv", "Burlövs kommun", date(2012, 10, 4), "sv", deck)
    view = store.open_card(code, secret)
    assert view.card.text("sv").startswith("Har ni välutvecklade kontakter")
    voter = store.join(code, "civil_society", "volunteer")
    store.vote(voter, deck.cards[0].id, "agree")
    assert store.summary(code)[0].civil_society.agree == 1
