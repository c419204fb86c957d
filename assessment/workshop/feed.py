"""Live state for every phone listening to a workshop, from one watcher per workshop.

Each process keeps one watcher (an asyncio task) per workshop that has listeners. It polls
the workshop's version (one indexed row) every POLL_S in a worker thread, and the whole
state every TALLY_S while a live tally is shown (votes do not bump the version). When the
state changed it builds the JSON once per language in use and wakes every listener; each
listener then takes the latest snapshot, so a slow phone skips states it missed instead
of queueing them, and never holds up the others. A change made by another server process
on the same database is seen the same way. The last listener leaving stops the watcher.

asyncio only: the web layer's event loop runs it; nothing here knows about HTTP.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Callable

from .phone_protocol import dumps, sse_frame, state_dict
from .repository import normalize_code
from .voting import ParticipantView, WorkshopVoting

POLL_S = 0.15
TALLY_S = 0.5
ERROR_BACKOFF_S = 2.0

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Snapshot:
    seq: int  # grows with every published change
    view: ParticipantView
    frames: dict[str, bytes]  # lang -> the SSE frame of the shared state


class _Watcher:
    def __init__(self, feed: "WorkshopFeed", code: str):
        self.feed, self.code = feed, code
        self.listeners: dict[int, str | None] = {}  # listener id -> requested lang (None: the workshop's)
        self.snapshot: Snapshot | None = None
        self.first: asyncio.Future = asyncio.get_running_loop().create_future()
        self.changed = asyncio.Event()
        self.task: asyncio.Task | None = None
        self.closed = False  # the server is stopping: every stream ends

    def langs(self, view: ParticipantView) -> set[str]:
        return {lang or view.lang for lang in self.listeners.values()} or {view.lang}

    def publish(self, view: ParticipantView, built: dict[str, bytes]) -> None:
        seq = self.snapshot.seq + 1 if self.snapshot else 1
        self.snapshot = Snapshot(seq, view, built)
        if not self.first.done():
            self.first.set_result(None)
        self.wake()

    def wake(self) -> None:
        # Wake everyone waiting on the old event; later waiters use the new one.
        woken, self.changed = self.changed, asyncio.Event()
        woken.set()

    def frame(self, lang: str | None) -> bytes:
        snapshot = self.snapshot
        lang = lang or snapshot.view.lang
        frame = snapshot.frames.get(lang)
        if frame is None:  # a language nobody listened in when it was built
            frame = snapshot.frames[lang] = self.feed.render(snapshot.view, lang)
        return frame


class WorkshopFeed:
    """Per process: ``async with feed.listen(code, lang) as stream: async for frame in stream``."""

    def __init__(self, voting: WorkshopVoting, poll_s: float = POLL_S, tally_s: float = TALLY_S,
                 render: Callable[[ParticipantView, str], bytes] | None = None):
        self.voting = voting
        self.poll_s, self.tally_s = poll_s, tally_s
        self.render = render or self._render
        self._watchers: dict[str, _Watcher] = {}
        self._next_id = 0
        # Its own threads: polling must not wait behind the request handlers' pool.
        self._executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="workshop-feed")

    def _render(self, view: ParticipantView, lang: str) -> bytes:
        return sse_frame(dumps(state_dict(view, self.voting.fw, lang, with_me=False)))

    def watching(self) -> set[str]:
        """Codes of the workshops that have a running watcher."""
        return {code for code, watcher in self._watchers.items() if watcher.task and not watcher.task.done()}

    def listeners(self, code: str) -> int:
        watcher = self._watchers.get(normalize_code(code))
        return len(watcher.listeners) if watcher else 0

    @asynccontextmanager
    async def listen(self, code: str, lang: str | None = None) -> AsyncIterator["Stream"]:
        """A stream of SSE frames for the workshop; the first state is read before this
        yields, so an unknown code raises UnknownWorkshop here."""
        code = normalize_code(code)
        watcher = self._watchers.get(code)
        if watcher is None:
            watcher = self._watchers[code] = _Watcher(self, code)
            watcher.task = asyncio.create_task(self._watch(watcher), name=f"workshop-feed-{code}")
        self._next_id += 1
        listener_id = self._next_id
        watcher.listeners[listener_id] = lang
        try:
            await asyncio.shield(watcher.first)
            yield Stream(watcher, lang)
        finally:
            del watcher.listeners[listener_id]
            if not watcher.listeners and self._watchers.get(code) is watcher:
                del self._watchers[code]
                watcher.task.cancel()

    async def _run(self, function, *args):
        return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)

    async def _watch(self, watcher: _Watcher) -> None:
        version, last_full = None, 0.0
        while True:
            try:
                _id, current = await self._run(self.voting.version, watcher.code)
                view = watcher.snapshot.view if watcher.snapshot else None
                live = view is not None and view.revealed and (view.card_open or view.phase == "matrix")
                due = live and time.monotonic() - last_full >= self.tally_s
                if current != version or due:
                    view = await self._run(self.voting.state, watcher.code)
                    last_full = time.monotonic()
                    version = view.version
                    if watcher.snapshot is None or view != watcher.snapshot.view:
                        watcher.publish(view, {lang: self.render(view, lang) for lang in watcher.langs(view)})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if not watcher.first.done():  # nothing to show yet: the listeners get the error
                    watcher.first.set_exception(exc)
                    self._watchers.pop(watcher.code, None)
                    return
                log.exception("watching workshop %s failed; trying again", watcher.code)
                await asyncio.sleep(ERROR_BACKOFF_S)
                continue
            await asyncio.sleep(self.poll_s)

    def close(self) -> None:
        """End every stream (their `next` returns None and `closed` is true) and every watcher:
        a server that stops must not wait for phones that would listen forever."""
        for watcher in list(self._watchers.values()):
            watcher.closed = True
            watcher.wake()
            if watcher.task:
                watcher.task.cancel()
        self._watchers.clear()
        self._executor.shutdown(wait=False, cancel_futures=True)


class Stream:
    """One listener's frames: the current state at once, then each new one (the latest only)."""

    def __init__(self, watcher: _Watcher, lang: str | None):
        self._watcher, self._lang = watcher, lang
        self._seen = 0

    def current(self) -> bytes:
        self._seen = self._watcher.snapshot.seq
        return self._watcher.frame(self._lang)

    @property
    def closed(self) -> bool:
        return self._watcher.closed

    async def next(self, timeout: float | None = None) -> bytes | None:
        """The next new state's frame, or None when `timeout` seconds passed without one
        (or the feed was closed)."""
        watcher = self._watcher
        if watcher.snapshot.seq == self._seen:
            try:
                async with asyncio.timeout(timeout):
                    while watcher.snapshot.seq == self._seen and not watcher.closed:
                        await watcher.changed.wait()
            except TimeoutError:
                return None
        return None if watcher.closed else self.current()
