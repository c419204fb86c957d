"""The live feed (assessment.workshop.feed): one watcher per workshop, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest

from assessment.store.engine import make_engine
from assessment.workshop.control import WorkshopControl
from assessment.workshop.errors import UnknownWorkshop
from assessment.workshop.feed import WorkshopFeed
from assessment.workshop.voting import WorkshopVoting
from test_gaps import tiny_framework
from test_workshop import small_deck
from conftest import run_async

WAIT_S = 30  # only a bound for a hung test: each change is seen within the poll interval


@pytest.fixture
def room(engine):
    fw = tiny_framework()
    control, voting = WorkshopControl(engine, fw), WorkshopVoting(engine, fw)
    code, secret = control.create_workshop("Samverkan", "Burlöv", date(2024, 5, 14), "sv", small_deck())
    return control, voting, code, secret


def state_of(frame: bytes) -> dict:
    event, data, _ = frame.split(b"\n", 2)
    assert event == b"event: state"
    return json.loads(data.removeprefix(b"data: "))


def run(coroutine_function, voting):
    async def main():
        feed = WorkshopFeed(voting, poll_s=0.02, tally_s=0.05)
        try:
            return await coroutine_function(feed)
        finally:
            feed.close()
    return run_async(main())


async def in_thread(function, *args):
    return await asyncio.to_thread(function, *args)


def test_a_listener_sees_the_facilitator_open_a_card(room):
    control, voting, code, secret = room

    async def scenario(feed):
        async with feed.listen(code.lower(), "en") as stream:
            first = state_of(stream.current())
            assert first["card"]["status"] == "pending" and first["lang"] == "en" and first["me"] is None
            await in_thread(control.open_card, code, secret)
            opened = state_of(await stream.next(WAIT_S))
            assert opened["card"]["status"] == "open" and opened["version"] == first["version"] + 1
            assert opened["card"]["text"] == "Statement 1?"

    run(scenario, voting)


def test_a_change_through_another_engine_is_seen(db_url, room):
    control, voting, code, secret = room
    other_engine = make_engine(db_url)  # as another server process has it
    other = WorkshopControl(other_engine, tiny_framework())

    async def scenario(feed):
        async with feed.listen(code) as stream:
            assert state_of(stream.current())["card"]["index"] == 0
            await in_thread(other.next_card, code, secret)
            assert state_of(await stream.next(WAIT_S))["card"]["index"] == 1

    try:
        run(scenario, voting)
    finally:
        other_engine.dispose()


def test_votes_show_in_the_revealed_tally_without_a_version_change(room):
    control, voting, code, secret = room
    token = voting.join(code, "public")
    control.open_card(code, secret)
    control.reveal(code, secret)

    async def scenario(feed):
        async with feed.listen(code, "sv") as stream:
            before = state_of(stream.current())
            assert before["tally"]["overall"]["total"] == 0
            await in_thread(voting.vote, token, "c1", "agree")
            after = state_of(await stream.next(WAIT_S))
            assert after["tally"]["public"]["agree"] == 1 and after["version"] == before["version"]

    run(scenario, voting)


def test_a_slow_listener_gets_the_latest_state_not_a_backlog(room):
    control, voting, code, secret = room

    async def scenario(feed):
        async with feed.listen(code) as slow, feed.listen(code) as quick:
            start = state_of(slow.current())["version"]
            quick.current()
            await in_thread(control.open_card, code, secret)
            await quick.next(WAIT_S)
            await in_thread(control.reveal, code, secret)
            assert state_of(await quick.next(WAIT_S))["version"] == start + 2
            latest = state_of(await slow.next(WAIT_S))
            assert latest["version"] == start + 2 and latest["revealed"] is True
            assert await slow.next(0.2) is None, "nothing new: a timeout, no repeated state"

    run(scenario, voting)


def test_the_watcher_stops_when_the_last_listener_leaves(room):
    control, voting, code, secret = room

    async def scenario(feed):
        async with feed.listen(code):
            async with feed.listen(code):
                assert feed.watching() == {code} and feed.listeners(code) == 2
            assert feed.watching() == {code} and feed.listeners(code) == 1
            task = feed._watchers[code].task
        await asyncio.sleep(0)
        assert feed.watching() == set() and feed.listeners(code) == 0
        assert task.cancelled() or task.done()
        async with feed.listen(code) as stream:  # a new listener starts a new watcher
            assert state_of(stream.current())["code"] == code
            assert feed.watching() == {code}

    run(scenario, voting)


def test_an_unknown_code_raises_before_listening(room):
    control, voting, code, secret = room

    async def scenario(feed):
        with pytest.raises(UnknownWorkshop):
            async with feed.listen("ZZZZZZ"):
                pass
        assert feed.watching() == set()

    run(scenario, voting)
