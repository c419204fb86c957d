"""Group commit for the room's votes: one writer thread per process and database.

A room votes in bursts (a statement opens, 2,000 thumbs move). One transaction per vote
would queue them all on the database's single writer and its commit; here the votes that
arrive while a batch commits wait together and go in the next one, so a burst costs a few
commits. A vote counts as saved only once its batch has committed: the waiter learns then.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Sequence

from .voting import WorkshopVoting

# A bound on one transaction, so a huge burst still commits (and answers) in steps.
MAX_BATCH = 1000

log = logging.getLogger(__name__)

Vote = tuple[str, str, str]  # (participant token, card id, value)


@dataclass
class _Waiter:
    vote: Vote
    future: Future | None = None  # a thread waits on this
    loop: asyncio.AbstractEventLoop | None = None  # or a coroutine of this loop on `awaited`
    awaited: asyncio.Future | None = None


def _settle(outcomes: list[tuple[asyncio.Future, BaseException | None]]) -> None:
    """In the event loop: answer every coroutine of one batch in one go."""
    for awaited, outcome in outcomes:
        if awaited.done():  # its request was cancelled (the phone left)
            continue
        if outcome is None:
            awaited.set_result(None)
        else:
            awaited.set_exception(outcome)


class VoteQueue:
    """``await queue.submit(token, card_id, value)`` from request handlers (or
    ``submit_future(...).result()`` from threads): returns once committed, raises the
    refusal (WorkshopError) or the database error of the batch."""

    def __init__(self, voting: WorkshopVoting, max_batch: int = MAX_BATCH):
        self.voting = voting
        self.max_batch = max_batch
        self._waiting: deque[_Waiter] = deque()
        self._wakeup = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self.batches = 0  # committed or failed batches, for tests and benches

    async def submit(self, token: str, card_id: str, value: str) -> None:
        loop = asyncio.get_running_loop()
        awaited = loop.create_future()
        self._enqueue(_Waiter((token, card_id, value), loop=loop, awaited=awaited))
        await awaited

    def submit_future(self, token: str, card_id: str, value: str) -> Future:
        future: Future = Future()
        self._enqueue(_Waiter((token, card_id, value), future=future))
        return future

    def _enqueue(self, waiter: _Waiter) -> None:
        with self._wakeup:
            if self._stopping:
                raise RuntimeError("the vote queue is stopped")
            self._waiting.append(waiter)
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_batches, name="vote-writer", daemon=True)
                self._thread.start()
            self._wakeup.notify()

    def stop(self) -> None:
        """Let the waiting votes commit, then end the writer thread."""
        with self._wakeup:
            self._stopping = True
            self._wakeup.notify()
            thread = self._thread
        if thread is not None:
            thread.join()

    def _take_batch(self) -> list[_Waiter] | None:
        with self._wakeup:
            while not self._waiting:
                if self._stopping:
                    return None
                self._wakeup.wait()
            count = min(len(self._waiting), self.max_batch)
            taken = [self._waiting.popleft() for _ in range(count)]
        # A thread's future that was cancelled drops its vote; the others can no longer be cancelled.
        return [waiter for waiter in taken if waiter.future is None or waiter.future.set_running_or_notify_cancel()]

    def _write_batches(self) -> None:
        while (batch := self._take_batch()) is not None:
            if batch:
                self._commit(batch)

    def _commit(self, batch: Sequence[_Waiter]) -> None:
        try:
            outcomes: list = self.voting.vote_many([waiter.vote for waiter in batch])
        except Exception as exc:  # the whole transaction failed: every waiter hears it
            log.exception("a batch of %d votes failed", len(batch))
            outcomes = [exc] * len(batch)
        self.batches += 1
        per_loop: dict[asyncio.AbstractEventLoop, list] = {}
        for waiter, outcome in zip(batch, outcomes):
            if waiter.future is not None:
                if outcome is None:
                    waiter.future.set_result(None)
                else:
                    waiter.future.set_exception(outcome)
            else:
                per_loop.setdefault(waiter.loop, []).append((waiter.awaited, outcome))
        for loop, answers in per_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, answers)
            except RuntimeError:  # that loop is closed: nobody is waiting any more
                pass
