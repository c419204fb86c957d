"""A Streamlit browser session without the browser: the websocket protocol, as the page speaks it.

Used by ``bench/room.py --old`` to drive phones through the old Streamlit phone page. Per
session it does what Streamlit's frontend does over ``/_stcore/stream`` (protobuf frames):

- connect with the ``streamlit`` subprotocol, then ask for a run (``BackMsg.rerun_script``) with
  the page's query string and the page name from the URL path; later runs carry the page script
  hash the server announced (``Navigation.page_script_hash``);
- keep the forward-message cache: cacheable messages are kept by hash, their hashes go with every
  rerun request, and ``ref_hash`` messages are answered from the cache;
- for every ``AutoRerun`` message (a ``st.fragment(run_every=…)``) send a fragment rerun
  (``fragment_id``, ``is_auto_rerun``) every interval, whether or not a run is going on, as the
  browser's ``setInterval`` does, until ``StopAutoRerun``;
- a button click is a rerun whose widget states hold the button's id with ``trigger_value``, sent
  for the button's fragment when the button was drawn inside one.

Widgets are found by their key: Streamlit's element id ends with ``-<key>``. Whoever drives the
session watches what arrives with ``watch(predicate)``, a future resolved with the monotonic time
of the first element (or finished run) the predicate accepts, or sees everything through
``listeners`` (callables called with each ``Seen``, before the watchers).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit

import aiohttp
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FINISHED = ForwardMsg.ScriptFinishedStatus
RUN_DONE = {FINISHED.FINISHED_SUCCESSFULLY, FINISHED.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


@dataclass(frozen=True)
class Seen:
    """One thing the page received: an element (``kind`` is its type, e.g. "button", "alert")
    or the end of a run (``kind`` "finished", ``text`` the status name)."""
    kind: str
    text: str  # body of text elements, widget id of widgets, "" otherwise
    fragment_id: str


def _element_seen(delta) -> Seen | None:
    if delta.WhichOneof("type") != "new_element":
        return None
    element = delta.new_element
    kind = element.WhichOneof("type") or ""
    body = getattr(element, kind) if kind else None
    text = getattr(body, "id", "") or getattr(body, "body", "") if body is not None else ""
    return Seen(kind, text, delta.fragment_id)


class StreamlitSession:
    """One browser tab on one Streamlit page, over its own websocket."""

    def __init__(self, http: aiohttp.ClientSession, page_url: str, *, timezone: str = "Europe/Stockholm",
                 locale: str = "sv-SE"):
        parts = urlsplit(page_url)
        self.base = f"{parts.scheme}://{parts.netloc}"
        self.page_url = page_url
        self.page_name = parts.path.strip("/")
        self.query_string = parts.query
        self.http = http
        self.timezone, self.locale = timezone, locale
        self.page_script_hash = ""
        self.widgets: dict[str, tuple[str, str]] = {}  # key -> (widget id, fragment id)
        self.runs_finished = 0
        self.errors: list[str] = []
        self._cache: dict[str, ForwardMsg] = {}
        self._timers: dict[str, tuple[float, asyncio.Task]] = {}
        self.listeners: list[Callable[[Seen], None]] = []
        self._watchers: list[tuple[Callable[[Seen], bool], asyncio.Future]] = []
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None

    # --- talking -----------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open the websocket and ask for the page's first run."""
        self._ws = await self.http.ws_connect(
            f"{self.base.replace('http', 'ws', 1)}/_stcore/stream", protocols=("streamlit",),
            headers={"Origin": self.base}, max_msg_size=0, heartbeat=None, autoping=True)
        self._reader = asyncio.create_task(self._read())
        await self.rerun()

    async def rerun(self, fragment_id: str = "", auto: bool = False, triggers: tuple[str, ...] = ()) -> None:
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query_string
        state.page_script_hash = self.page_script_hash
        if not self.page_script_hash:  # the first run names its page by the URL path, as the browser does
            state.page_name = self.page_name
        state.fragment_id = fragment_id
        state.is_auto_rerun = auto
        state.cached_message_hashes.extend(self._cache)
        for widget_id in triggers:
            state.widget_states.widgets.append(WidgetState(id=widget_id, trigger_value=True))
        info = state.context_info
        info.timezone, info.timezone_offset, info.locale = self.timezone, -60, self.locale
        info.url, info.is_embedded, info.color_scheme = self.page_url, False, "light"
        await self._send(msg)

    async def click(self, key: str) -> None:
        """Tap the button drawn with ``key`` (KeyError if it is not on the page)."""
        widget_id, fragment_id = self.widgets[key]
        await self.rerun(fragment_id=fragment_id, triggers=(widget_id,))

    def watch(self, predicate: Callable[[Seen], bool]) -> asyncio.Future:
        """A future resolved with time.monotonic() of the first thing received that fits."""
        future = asyncio.get_running_loop().create_future()
        self._watchers.append((predicate, future))
        return future

    async def close(self) -> None:
        for _interval, task in self._timers.values():
            task.cancel()
        self._timers.clear()
        for _predicate, future in self._watchers:
            future.cancel()
        self._watchers = []
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)

    async def _send(self, msg: BackMsg) -> None:
        if self._ws is None or self._ws.closed:
            raise ConnectionError("the websocket is closed")
        await self._ws.send_bytes(msg.SerializeToString())

    # --- listening ---------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for frame in self._ws:
                if frame.type != aiohttp.WSMsgType.BINARY:
                    if frame.type == aiohttp.WSMsgType.ERROR:
                        self.errors.append(f"websocket error: {self._ws.exception()}")
                    continue
                msg = ForwardMsg()
                msg.ParseFromString(frame.data)
                self._handle(msg, time.monotonic())
        except (aiohttp.ClientError, ConnectionError) as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            for _predicate, future in self._watchers:
                if not future.done():
                    future.set_exception(ConnectionError("the websocket closed"))

    def _handle(self, msg: ForwardMsg, now: float) -> None:
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":
            cached = self._cache.get(msg.ref_hash)
            if cached is None:
                self.errors.append(f"server referred to a message not in the cache: {msg.ref_hash}")
                return
            msg, kind = cached, cached.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = msg
        if kind == "navigation":
            self.page_script_hash = msg.navigation.page_script_hash or self.page_script_hash
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            self._start_timer(msg.auto_rerun.fragment_id, msg.auto_rerun.interval)
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                self._stop_timer(fragment_id)
        elif kind == "delta":
            seen = _element_seen(msg.delta)
            if seen is not None:
                if seen.text.startswith("$$ID-"):
                    self.widgets[seen.text.rsplit("-", 1)[-1]] = (seen.text, seen.fragment_id)
                self._notify(seen, now)
        elif kind == "script_finished":
            status = msg.script_finished
            if status in RUN_DONE:
                self.runs_finished += 1
            self._notify(Seen("finished", FINISHED.Name(status), ""), now)

    def _notify(self, seen: Seen, now: float) -> None:
        for listener in self.listeners:
            listener(seen)
        waiting = []
        for predicate, future in self._watchers:
            if future.done():
                continue
            if predicate(seen):
                future.set_result(now)
            else:
                waiting.append((predicate, future))
        self._watchers = waiting

    def _start_timer(self, fragment_id: str, interval: float) -> None:
        if not fragment_id or interval <= 0:
            return
        current = self._timers.get(fragment_id)
        if current and current[0] == interval:
            return  # the browser keeps a running interval of the same length
        self._stop_timer(fragment_id)
        self._timers[fragment_id] = (interval, asyncio.create_task(self._every(fragment_id, interval)))

    def _stop_timer(self, fragment_id: str) -> None:
        entry = self._timers.pop(fragment_id, None)
        if entry:
            entry[1].cancel()

    async def _every(self, fragment_id: str, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.rerun(fragment_id=fragment_id, auto=True)
            except (ConnectionError, aiohttp.ClientError) as exc:
                self.errors.append(f"fragment rerun: {exc}")
                return
