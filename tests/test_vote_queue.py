"""Group commit of votes (assessment.workshop.vote_queue), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from datetime import date

import pytest
import sqlalchemy as sa

from assessment.store.tables import workshop_votes
from assessment.workshop.control import WorkshopControl
from assessment.workshop.errors import InvalidInput, Refused, UnknownParticipant
from assessment.workshop.vote_queue import VoteQueue
from assessment.workshop.voting import WorkshopVoting
from conftest import database_rows, run_async
from test_gaps import tiny_framework
from test_workshop import small_deck


@pytest.fixture
def room(engine):
    """A workshop whose first card is open; (control, voting, code, secret)."""
    fw = tiny_framework()
    control, voting = WorkshopControl(engine, fw), WorkshopVoting(engine, fw)
    code, secret = control.create_workshop("Samverkan", "Burlöv", date(2024, 5, 14), "sv", small_deck())
    control.open_card(code, secret)
    return control, voting, code, secret


@pytest.fixture
def queue(room):
    queue = VoteQueue(room[1])
    yield queue
    queue.stop()


def votes(engine) -> dict[tuple[int, str], str]:
    with engine.connect() as conn:
        return {(row.participant_id, row.card_id): row.value
                for row in conn.execute(sa.select(workshop_votes))}


class HeldFirstBatch:
    """Wraps vote_many: the first batch waits until `release` is set, so every vote submitted
    meanwhile must queue up behind it. Records each batch's size."""

    def __init__(self, voting: WorkshopVoting):
        self.inner = voting.vote_many
        self.release = threading.Event()
        self.entered = threading.Event()
        self.sizes: list[int] = []
        voting.vote_many = self

    def __call__(self, items):
        self.sizes.append(len(items))
        if len(self.sizes) == 1:
            self.entered.set()
            assert self.release.wait(30)
        return self.inner(items)


def test_votes_waiting_behind_a_commit_go_in_one_batch(engine, room, queue):
    control, voting, code, secret = room
    tokens = [voting.join(code, "public" if i % 2 else "civil_society") for i in range(41)]
    held = HeldFirstBatch(voting)
    first = queue.submit_future(tokens[0], "c1", "agree")
    assert held.entered.wait(30)
    results: list = [None] * 40
    futures = []

    def submit(i):
        futures.append(queue.submit_future(tokens[i + 1], "c1", ("agree", "disagree", "pass")[i % 3]))

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    held.release.set()
    assert first.result(30) is None
    results = [future.result(30) for future in futures]
    assert results == [None] * 40
    assert held.sizes == [1, 40], "the 40 votes that waited were committed together"
    stored = votes(engine)
    assert len(stored) == 41
    assert sorted(stored.values()).count("agree") == 1 + 14


def test_refusals_in_a_batch_spoil_none_of_the_others(engine, room):
    control, voting, code, secret = room
    good, other = voting.join(code, "public"), voting.join(code, "civil_society")
    outcomes = voting.vote_many([(good, "c1", "agree"), ("forged-token", "c1", "agree"),
                                 (other, "c2", "agree"),  # not open
                                 (other, "nope", "agree"), (other, "c1", "maybe"),
                                 (other, "c1\x00", "agree"),  # PostgreSQL would refuse the whole transaction
                                 (other, "c1", "pass")])
    assert outcomes[0] is None and outcomes[-1] is None
    assert isinstance(outcomes[5], Refused) and outcomes[5].key == "workshop.error.unknown_card"
    assert isinstance(outcomes[1], UnknownParticipant)
    assert isinstance(outcomes[2], Refused) and outcomes[2].key == "workshop.error.card_closed"
    assert isinstance(outcomes[3], Refused) and outcomes[3].key == "workshop.error.unknown_card"
    assert isinstance(outcomes[4], InvalidInput) and outcomes[4].key == "workshop.error.bad_value"
    assert sorted(votes(engine).values()) == ["agree", "pass"]


def test_a_refused_vote_through_the_queue_raises_for_its_sender_only(engine, room, queue):
    control, voting, code, secret = room
    good = voting.join(code, "public")
    held = HeldFirstBatch(voting)
    first = queue.submit_future(good, "c1", "disagree")
    assert held.entered.wait(30)
    refused = queue.submit_future("forged-token", "c1", "agree")
    changed = queue.submit_future(good, "c1", "agree")  # same batch: the later vote wins
    held.release.set()
    assert first.result(30) is None and changed.result(30) is None
    with pytest.raises(UnknownParticipant):
        refused.result(30)
    assert list(votes(engine).values()) == ["agree"]


def _refuse_passes_in_the_database(engine) -> None:
    """A trigger that makes the database itself fail any stored 'pass' vote."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE TRIGGER no_pass BEFORE INSERT ON workshop_votes "
                                 "WHEN NEW.value = 'pass' BEGIN SELECT RAISE(ABORT, 'no pass here'); END")
        else:
            conn.exec_driver_sql("CREATE FUNCTION no_pass() RETURNS trigger AS $$ BEGIN "
                                 "IF NEW.value = 'pass' THEN RAISE EXCEPTION 'no pass here'; END IF; "
                                 "RETURN NEW; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER no_pass BEFORE INSERT ON workshop_votes "
                                 "FOR EACH ROW EXECUTE FUNCTION no_pass()")


def test_a_database_error_fails_the_whole_batch_and_every_waiter_hears_it(engine, room, queue):
    control, voting, code, secret = room
    tokens = [voting.join(code, "public") for _ in range(4)]
    _refuse_passes_in_the_database(engine)
    before = database_rows(engine)
    held = HeldFirstBatch(voting)
    first = queue.submit_future(tokens[0], "c1", "pass")  # fails alone
    assert held.entered.wait(30)
    batch = [queue.submit_future(tokens[1], "c1", "agree"), queue.submit_future(tokens[2], "c1", "pass"),
             queue.submit_future(tokens[3], "c1", "disagree")]
    held.release.set()
    with pytest.raises(sa.exc.DBAPIError):
        first.result(30)
    for future in batch:
        with pytest.raises(sa.exc.DBAPIError, match="no pass here"):
            future.result(30)
    assert held.sizes == [1, 3]
    assert database_rows(engine) == before, "nothing of the failed batch was committed"
    # The writer goes on: the next batch commits.
    assert queue.submit_future(tokens[1], "c1", "agree").result(30) is None
    assert list(votes(engine).values()) == ["agree"]


def test_async_submit_from_an_event_loop(engine, room, queue):
    control, voting, code, secret = room
    tokens = [voting.join(code, "civil_society") for _ in range(30)]

    async def vote_all():
        results = await asyncio.gather(*(queue.submit(token, "c1", "disagree") for token in tokens),
                                       queue.submit("forged", "c1", "agree"), return_exceptions=True)
        return results

    results = run_async(vote_all())
    assert results[:30] == [None] * 30 and isinstance(results[30], UnknownParticipant)
    assert list(votes(engine).values()) == ["disagree"] * 30
    control.close_card(code, secret)
    with pytest.raises(Refused):
        run_async(queue.submit(tokens[0], "c1", "agree"))
    assert queue.batches >= 2
