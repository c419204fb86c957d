"""Take the README screenshots again: the real server on throwaway demo data, in headless Chromium.

    .venv/bin/python docs/screenshots/take.py

Run it from the repository root, with the test extras installed (pip install -e '.[test]':
Playwright, pypdfium2) and Chromium at /usr/bin/chromium. It loads the demo data into a
temporary SQLite file, starts `streamlit run serve.py` on a free port, makes an administrator
link for the pages that need rights, runs a workshop on the Burlöv deck with a room of phones
voting through the store, and overwrites the PNGs next to this file: the pages 1280 wide, the
facilitator's screen 1400x1120, the phone page 390x844, the report's first page. The server and
the temporary files are gone afterwards. Look at every PNG before committing it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pypdfium2 as pdfium
from playwright.sync_api import expect, sync_playwright

from assessment.framework.matrix import get_framework
from assessment.regional.demo import demo_responses
from assessment.store.assessments import Assessments
from assessment.store.migrations import open_database
from assessment.store.responses import Responses
from assessment.workshop.control import WorkshopControl
from assessment.workshop.decks import load_deck
from assessment.workshop.views_support import facilitator_url, join_url
from assessment.workshop.voting import WorkshopVoting

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
UNIT, YEAR = "Exempelstad (fiktiv)", 2026
WAIT_MS = 60_000  # generous for a busy machine: every wait is for a condition
PHONE = {"width": 390, "height": 844}
# The room on the projected card: side, then how many phones agree, disagree and pass.
ROOM = (("public", 17, 8, 2), ("civil_society", 12, 19, 3))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log) -> subprocess.Popen:
    server = subprocess.Popen(
        [str(BIN / "streamlit"), "run", "serve.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
        cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server stopped at start; see {log.name}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2):
                return server
        except OSError:
            time.sleep(0.3)
    os.killpg(server.pid, signal.SIGTERM)
    sys.exit("the server did not answer within 120 s")


def settle(page, quiet_ms: int = 1500) -> None:
    """Streamlit has finished its run and drawn it all: no spinner, nothing stale, visible charts drawn."""
    expect(page.get_by_test_id("stApp")).to_have_attribute("data-test-script-state", "notRunning", timeout=WAIT_MS)
    for busy in ("[data-stale=true]", "[data-testid=stStatusWidget]", "[data-testid=stSpinner]",
                 "[data-testid=stSkeleton]"):
        expect(page.locator(busy)).to_have_count(0, timeout=WAIT_MS)
    page.wait_for_function("""() => [...document.querySelectorAll('[data-testid=stVegaLiteChart]')]
        .every((chart) => !chart.getClientRects().length || chart.querySelector('canvas, svg'))""", timeout=WAIT_MS)
    page.wait_for_timeout(quiet_ms)


def fit_height(page) -> None:
    """The window as tall as the page: Streamlit scrolls inside its main area, so a full-page
    screenshot would stop at the window's edge."""
    while True:
        height = page.evaluate("() => Math.max(...[...document.querySelectorAll('*')].map((e) => e.scrollHeight))")
        if height <= page.viewport_size["height"]:
            return
        page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
        settle(page)


def shoot(page, url: str, name: str, ready: str, size=(1280, 900), whole=True, then=None, cut_at=None) -> None:
    """Open `url`, wait for `ready` and a settled page, do `then`, write <name>: the window, or the
    whole page (`whole`) down to the heading `cut_at`."""
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.goto(url)
    page.locator(ready).first.wait_for(timeout=WAIT_MS)
    settle(page)
    if then:
        then(page)
        settle(page)
    if whole:
        fit_height(page)
    clip = None
    if cut_at:
        bottom = page.get_by_role("heading", name=cut_at, exact=True).bounding_box()["y"]
        clip = {"x": 0, "y": 0, "width": size[0], "height": bottom}
    page.screenshot(path=str(HERE / name), clip=clip)
    print("wrote", name)


def run_workshop(engine, fw) -> tuple[str, str]:
    """The Burlöv deck on its third card, open, with the room's votes in; returns (code, secret)."""
    control, voting = WorkshopControl(engine, fw), WorkshopVoting(engine, fw)
    deck = load_deck(REPO / "decks" / "burlov.yaml")
    code, secret = control.create_workshop("Verktyg för samverkan", "Burlövs kommun", "2013-04-17", "sv", deck)
    for index in range(3):
        control.go_to_card(code, secret, index)
        control.open_card(code, secret)
    for side, *counts in ROOM:
        for value, n in zip(("agree", "disagree", "pass"), counts):
            for _ in range(n):
                voting.vote(voting.join(code, side), deck.cards[2].id, value)
    return code, secret


def shoot_phone(browser, engine, fw, base: str, code: str, secret: str) -> None:
    """A phone joins as public sector, votes, and sees the results once the facilitator reveals them."""
    phone = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    phone.set_default_timeout(WAIT_MS)
    page = phone.new_page()
    page.goto(join_url(base, code))
    page.locator("label[for=side-public]").tap()
    page.locator("#join-submit").tap()
    page.locator("#vote-agree").tap()
    page.locator("#card-status.ok").wait_for()  # "your vote: agree (saved)"
    WorkshopControl(engine, fw).reveal(code, secret)
    page.locator(".results .ws-tally").nth(2).wait_for()
    # 844 px do not hold the statement, the buttons and the results: end just above "leave" (the
    # statement is on the facilitator's screen beside this shot in the README).
    box = lambda selector: page.locator(selector).bounding_box()  # noqa: E731
    scroll = box(".leave-row")["y"] - PHONE["height"] - 2
    if not box(".statement")["y"] + box(".statement")["height"] <= scroll + 4 <= box("#vote-agree")["y"] - 8:
        print("warning: the phone shot cuts through the statement or the buttons; look at it")
    page.evaluate(f"scrollTo(0, {scroll})")
    page.wait_for_timeout(500)
    page.screenshot(path=str(HERE / "workshop_phone.png"))
    print("wrote workshop_phone.png")
    phone.close()


def main() -> None:
    tmp = tempfile.TemporaryDirectory(prefix="screenshots-")
    os.environ.pop("DATABASE_URL", None)
    os.environ["ASSESSMENT_DB"] = str(Path(tmp.name) / "demo.db")
    subprocess.run([str(BIN / "assessment"), "demo"], check=True)
    report = Path(tmp.name) / "report.pdf"
    subprocess.run([str(BIN / "assessment"), "report", "--unit", UNIT, "--year", str(YEAR), "--out", str(report)],
                   check=True)
    pdfium.PdfDocument(str(report))[0].render(scale=1.6).to_pil().save(HERE / "report.png")
    print("wrote report.png")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    admin_link = subprocess.run([str(BIN / "assessment"), "admin-link", "--url", base], check=True,
                                capture_output=True, text=True).stdout.split()[-1]
    admin = admin_link.split("admin=", 1)[1]  # added to each address: every page load is a new session
    engine, fw = open_database(), get_framework()
    key = Assessments(engine).find_assessment(UNIT, YEAR).token

    with open(Path(tmp.name) / "server.log", "w") as log:
        server = start_server(port, log)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                page = browser.new_page()
                page.set_default_timeout(WAIT_MS)
                shoot(page, base, "home.png", "[data-testid=stForm]")
                shoot(page, f"{base}/results?k={key}&admin={admin}", "results.png", "[data-testid=stVegaLiteChart]",
                      cut_at="Påståenden")
                shoot(page, f"{base}/compare?admin={admin}", "compare.png", "[data-testid=stVegaLiteChart]",
                      size=(1280, 1000), whole=False)
                shoot(page, f"{base}/followup?admin={admin}", "followup.png", "[data-testid=stTab]",
                      size=(1280, 1000), whole=False, then=lambda p: p.get_by_role("tab", name="Framsteg").click())
                # A respondent's own link, to one more public answer like the demo's (after the results).
                answer = next(r for r in demo_responses(fw) if (r.unit, r.year, r.side) == (UNIT, YEAR, "public"))
                response = Responses(engine).add_response(answer)
                shoot(page, f"{base}/questionnaire?r={response}", "questionnaire.png", "[data-testid=stRadio]")
                code, secret = run_workshop(engine, fw)
                shoot_phone(browser, engine, fw, base, code, secret)
                shoot(page, facilitator_url(base, code, secret), "workshop_facilitator.png", ".ws-tally",
                      size=(1400, 1120), whole=False)
                browser.close()
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
            tmp.cleanup()


if __name__ == "__main__":
    main()
