"""Waiting for Streamlit in real Chromium: an action that reruns the app, then the whole run drawn.

Every change to a widget makes Streamlit run the page again on the server and redraw it in the
browser. Until that run has finished, the browser still shows elements of the previous run
(marked stale). So every action that reruns the app goes through `AppRuns.act`, which waits
until the server has finished the run and the page has drawn all of it.
"""

from __future__ import annotations

import time

from google.protobuf.message import DecodeError
from playwright.sync_api import Page, WebSocket, expect
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

# Generous: a loaded 2-core machine runs the server, Chromium and pytest at once. Every wait is
# for a condition, so a fast machine never waits this long.
WAIT_MS = 30_000


class AppRuns:
    """The script runs the server finished for this page, counted from its websocket messages.

    The server sends ``script_finished`` with FINISHED_SUCCESSFULLY once a run, and any run it
    chained to (a callback's rerun, ``st.switch_page``), is over; every element of that run was
    sent before it. Nothing in the page says "a run was asked for but has not started yet",
    so the page alone cannot tell a finished run from one still on its way.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.finished = 0
        # Listening from the page's first websocket on, so a reload's new one is counted too.
        page.on("websocket", self._listen)

    def _listen(self, websocket: WebSocket) -> None:
        websocket.on("framereceived", self._count)

    def _count(self, payload: str | bytes) -> None:
        if not isinstance(payload, bytes):
            return
        try:
            message = ForwardMsg.FromString(payload)
        except DecodeError:
            return
        if message.WhichOneof("type") == "script_finished" and \
                message.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY:
            self.finished += 1

    def act(self, action, what: str) -> None:
        """Do `action` (which makes the app rerun), then wait until that run is on the page."""
        before = self.finished
        action()
        deadline = time.monotonic() + WAIT_MS / 1000
        while self.finished == before:
            assert time.monotonic() < deadline, f"the app did not finish a run within {WAIT_MS} ms after: {what}"
            self.page.wait_for_timeout(50)  # lets Playwright deliver the websocket events
        self.wait_until_drawn()

    def wait_until_drawn(self) -> None:
        """The browser has taken in the whole run: not running, nothing stale left, no spinner."""
        app = self.page.get_by_test_id("stApp")
        expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=WAIT_MS)
        expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=WAIT_MS)
        expect(self.page.locator("[data-stale=true]")).to_have_count(0, timeout=WAIT_MS)
        expect(self.page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=WAIT_MS)

    def settle(self, quiet_ms: int = 600) -> None:
        """After an action that may make more than one run: wait until no run has finished for
        `quiet_ms` and the page has drawn the last one."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while True:
            seen = self.finished
            self.page.wait_for_timeout(quiet_ms)
            self.wait_until_drawn()
            if self.finished == seen:
                return
            assert time.monotonic() < deadline, f"the app kept running for {WAIT_MS} ms"
