"""Server memory and script-run time over 500 page runs, with Streamlit's post-run GC on and off.

Streamlit can run a full garbage collection after every script run (``runner.postScriptGC``);
that walks the whole heap each time. This starts the real server as ``make run`` does
(``streamlit run serve.py``, or app.py where there is no serve.py) on a throwaway SQLite
database, once per setting, and drives it from headless Chromium through the same sequence
of pages, tour after tour: home (and its language switch), the questionnaire (a level
clicked on each step, each but the last followed by "Next"), results, the regional
comparison (each view) and the workshop facilitator screen (reveal and hide the tally).
Script runs are counted from the websocket as the browser tests count them
(tests/browser_runs.py: whole-page runs; the facilitator's live part reruns on top).

Per setting it prints the server's RSS (its process and children, /proc VmRSS) at start and
after 100, 250 and 500 runs, and the median time from a click to the end of the run it
caused, as the browser sees it. With ``--repeat`` > 1 the settings alternate and the medians
are reported. The last line:
``runs=500 rss_mib_gc_off=… rss_mib_gc_on=… ratio=… run_ms_gc_off=… run_ms_gc_on=…``
(ratio: RSS after the last run with the collection off, over with it on).

    .venv/bin/python bench/memory.py [--runs 500] [--repeat 1] [--post-script-gc off,on]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Callable

from playwright.sync_api import Page, sync_playwright

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "bench"), str(REPO / "tests")]

from browser_runs import WAIT_MS, AppRuns  # noqa: E402
from conftest import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from pg_server import free_port  # noqa: E402
from rerun import make_data  # noqa: E402
from room import Server  # noqa: E402
from seed_data import answered_units  # noqa: E402

from assessment.access import links  # noqa: E402
from assessment.framework.matrix import get_framework  # noqa: E402
from assessment.i18n import t  # noqa: E402
from assessment.store.migrations import open_database  # noqa: E402
from assessment.workshop.control import WorkshopControl  # noqa: E402
from assessment.workshop.decks import get_deck  # noqa: E402

CHECKPOINTS = (100, 250, 500)
L = "sv"


# --- the database the server opens ---------------------------------------------------------

class Links:
    """What a tour opens, in one throwaway SQLite file."""

    def __init__(self, db_path: Path) -> None:
        url = f"sqlite:///{db_path}"
        fw = get_framework()
        self.results, self.response = make_data(url, respondents=20)
        answered_units(db_path, fw, [f"Minneskommun {i} (bench)" for i in range(1, 7)], "Minneslän")
        self.admin = links.rotate_admin_token(open_database(url), by="bench")
        self.workshop, self.secret = WorkshopControl.open(url, fw).create_workshop(
            "Minnesmöte", "Benchby (fiktiv)", date.today(), L, get_deck("burlov", fw))


# --- the server ----------------------------------------------------------------------------

def start_server(db_path: Path, post_script_gc: bool, log: Path) -> Server:
    """``streamlit run`` as make run starts it, with the chosen collection setting."""
    script = "serve.py" if (REPO / "serve.py").exists() else "app.py"
    env = {"ASSESSMENT_DB": str(db_path), "STREAMLIT_RUNNER_POST_SCRIPT_GC": str(post_script_gc).lower()}
    return Server(REPO, script, free_port(), env, log,
                  ["--server.address", "127.0.0.1", "--server.fileWatcherType", "none"])


def rss_mib(root: int) -> float:
    """VmRSS of a process and every process below it."""
    total_kib, pending = 0, [root]
    while pending:
        pid = pending.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            for task in Path(f"/proc/{pid}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except (FileNotFoundError, ProcessLookupError):
            continue
        total_kib += next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    return total_kib / 1024


# --- the browser ---------------------------------------------------------------------------

class Runs(AppRuns):
    """The page's whole-page script runs, counted as the browser tests count them, with the
    moment each one's end reached the browser."""

    def __init__(self, page: Page, after_each: Callable[[int], None]) -> None:
        self.arrivals: list[float] = []
        self.after_each = after_each  # called with the number of runs so far after each action
        super().__init__(page)

    def _count(self, payload: str | bytes) -> None:
        before = self.finished
        super()._count(payload)
        if self.finished > before:
            self.arrivals.append(time.perf_counter())

    def timed(self, action, what: str) -> float:
        """Do `action`, wait until its run is drawn; the time (ms) until that run's end arrived."""
        before, start = self.finished, time.perf_counter()
        self.act(action, what)
        self.after_each(self.finished)
        return (self.arrivals[before] - start) * 1000


class Visitor:
    """One browser tab going round the app's pages; records the click-to-run times."""

    def __init__(self, page: Page, base: str, to: Links, after_each: Callable[[int], None]) -> None:
        self.page, self.base, self.to = page, base, to
        self.runs = Runs(page, after_each)
        self.click_ms: list[float] = []

    def open(self, path: str) -> None:
        self.runs.timed(lambda: self.page.goto(f"{self.base}{path}"), f"opening {path}")

    def click(self, locator) -> None:
        self.click_ms.append(self.runs.timed(locator.click, f"a click on {locator}"))

    def unchosen_option(self, index: int, group: int = 0):
        """The `index`th option not chosen yet of the page's `group`th radio (choosing it makes a run)."""
        radio = self.page.get_by_test_id("stMain").get_by_test_id("stRadio").nth(group)
        return radio.get_by_role("radiogroup").locator("label:not(:has(input:checked))").nth(index)

    def tour(self, number: int) -> None:
        page, to = self.page, self.to
        self.open("/")
        for language in ("English", "Svenska"):  # the sidebar switch: a run each
            self.click(page.get_by_test_id("stSidebar").get_by_text(language, exact=True))
        self.open(f"/questionnaire?r={to.response}")
        for step in range(5):  # the level of five steps, each followed by "Next"
            self.click(self.unchosen_option((number + step) % 3))
            self.click(page.get_by_role("button", name=t("q.next", L)))
        self.click(self.unchosen_option(number % 3))  # the last step has no "Next"
        self.open(f"/results?v={to.results}")
        self.open(f"/compare?admin={to.admin}")
        view_group = page.get_by_role("radiogroup", name=t("reg.compare.view", L))
        for view in range(1, 5):
            self.click(view_group.locator("label").nth(view))
        self.open(f"/facilitate?w={to.workshop}&s={to.secret}")
        # Its live part also reruns by itself every second meanwhile (not counted).
        self.click(page.locator(".st-key-ws_reveal button"))
        self.click(page.locator(".st-key-ws_hide button"))


def measure(browser, to: Links, db_path: Path, post_script_gc: bool, runs: int, log_path: Path) -> dict:
    server = start_server(db_path, post_script_gc, log_path)
    try:
        rss = {0: rss_mib(server.process.pid)}
        checkpoints = [n for n in CHECKPOINTS if n < runs] + [runs]

        def sample(runs_so_far: int) -> None:  # the RSS at each checkpoint the last action passed
            while checkpoints and runs_so_far >= checkpoints[0]:
                rss[checkpoints.pop(0)] = rss_mib(server.process.pid)

        context = browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(WAIT_MS)
        visitor = Visitor(context.new_page(), server.url, to, sample)
        tours = 0
        while checkpoints:
            visitor.tour(tours)
            tours += 1
        context.close()
        return {"rss": rss, "run_ms": statistics.median(visitor.click_ms), "runs": visitor.runs.finished,
                "tours": tours}
    finally:
        server.stop()


def gc_settings(text: str) -> list[bool]:
    """"off,on" -> [False, True]."""
    names = [name.strip() for name in text.split(",")]
    if not names or any(name not in ("on", "off") for name in names):
        raise argparse.ArgumentTypeError(f"expected on, off or both separated by a comma, got {text!r}")
    return [name == "on" for name in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=1, help="measurements per setting (alternating)")
    parser.add_argument("--post-script-gc", type=gc_settings, default="off,on",
                        help="the runner.postScriptGC settings to measure: off,on (default), on or off")
    args = parser.parse_args()
    settings = args.post_script_gc

    results: dict[bool, list[dict]] = {setting: [] for setting in settings}
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as temp, sync_playwright() as playwright:
        workdir = Path(temp)
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for number in range(args.repeat):
                for setting in settings:
                    # A fresh database each time: every measurement starts from the same data.
                    db_path = workdir / f"memory-{number}-{setting}.db"
                    os.environ["ASSESSMENT_DB"] = str(db_path)
                    to = Links(db_path)
                    found = measure(browser, to, db_path, setting, args.runs, workdir / f"streamlit-{number}-{setting}.log")
                    results[setting].append(found)
                    figures = "  ".join(f"{n}:{mib:6.1f}" for n, mib in found["rss"].items())
                    print(f"postScriptGC={'on ' if setting else 'off'} rss_mib after runs {figures}  "
                          f"click-to-run median {found['run_ms']:6.1f} ms  "
                          f"({found['runs']} runs in {found['tours']} tours)", flush=True)
        finally:
            browser.close()

    def median(setting: bool, pick) -> float:
        return statistics.median(pick(found) for found in results[setting])

    last = {setting: median(setting, lambda found: found["rss"][args.runs]) for setting in settings}
    line = [f"runs={args.runs}"]
    for setting in settings:
        line.append(f"rss_mib_gc_{'on' if setting else 'off'}={last[setting]:.1f}")
    if True in last and False in last:
        line.append(f"ratio={last[False] / last[True]:.2f}")
    for setting in settings:
        line.append(f"run_ms_gc_{'on' if setting else 'off'}={median(setting, lambda found: found['run_ms']):.1f}")
    print(" ".join(line))


if __name__ == "__main__":
    main()
