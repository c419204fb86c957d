"""Rerun cost of the questionnaire and results pages, against bare Streamlit scripts, same run.

Every click in Streamlit reruns the page script, so what the page does besides
drawing its widgets (database reads, scoring, building charts) is paid on every
answer. This times N reruns (AppTest, no browser) of

- the questionnaire page (through app.py) for a response half answered: on a
  decision step (level radio, a checkbox and description per tool) and on a
  principle (one radio per statement and a comment box);
- the results page (through app.py) for an assessment with 20 respondents;

and, as the baseline, a generated bare script per page that draws the same number
and kinds of elements (widgets, text, charts with a small inline spec, tables of
the same shape) with constant content and no logic, run through a navigation
shell with as many pages as app.py (so only the page's own work is compared).
After each run, both collect garbage as the server does under the configured
``runner.postScriptGC`` (``.streamlit/config.toml``; ``--post-script-gc on|off``
overrides it).
Page and bare reruns alternate; per page it prints the medians and the median of
the paired ratios (page rerun / the bare rerun right after it). The last line is
``ratio=<x>``, the worst page's ratio.

    .venv/bin/python bench/rerun.py [--reruns 60] [--respondents 20] [--post-script-gc on|off] [--profile]
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from streamlit import config  # noqa: E402
from streamlit.runtime.scriptrunner import script_cache  # noqa: E402
from streamlit.testing.v1 import AppTest  # noqa: E402
from streamlit.testing.v1.local_script_runner import LocalScriptRunner  # noqa: E402

APP = str(REPO / "app.py")
PAGE_COUNT = 8  # pages in app.py's navigation; the bare shell has as many
TIMEOUT = 120


# A running server compiles each page script once and keeps the bytecode; AppTest makes a
# new ScriptCache for every run, which would charge recompiling the scripts to every
# rerun (more for a long page than for the short bare script). Keep one, as the server does.
_compiled: dict[str, object] = {}
_get_bytecode = script_cache.ScriptCache.get_bytecode


def _cached_bytecode(self, script_path: str):
    path = os.path.abspath(script_path)
    if path not in _compiled:
        _compiled[path] = _get_bytecode(self, path)
    return _compiled[path]


script_cache.ScriptCache.get_bytecode = _cached_bytecode

# The server's script runner ends every run with a full garbage collection when
# runner.postScriptGC is on; AppTest's runner leaves it out. Do it here as the server does.
_finish_run = LocalScriptRunner._on_script_finished


def _finish_run_as_server(self, *args, **kwargs) -> None:
    _finish_run(self, *args, **kwargs)
    if config.get_option("runner.postScriptGC"):
        gc.collect(2)


LocalScriptRunner._on_script_finished = _finish_run_as_server


# --- data --------------------------------------------------------------------------------

def make_data(db_url: str, respondents: int) -> tuple[str, str]:
    """A results link to an assessment with `respondents` answers (both sides), and a half-answered response token."""
    from assessment.access import links
    from assessment.framework.matrix import get_framework
    from assessment.regional.demo import demo_responses
    from assessment.store.answers import Answers
    from assessment.store.assessments import Assessments
    from assessment.store.responses import Responses

    fw = get_framework()
    responses, answers = Responses.open(db_url, fw), Answers.open(db_url, fw)
    pool = demo_responses(fw)
    picked = [r.model_copy(update={"unit": "Benchby (fiktiv)", "year": 2025}) for r in pool[:respondents]]
    for response in picked:
        responses.add_response(response)
    assessment = Assessments.open(db_url, fw).find_assessment("Benchby (fiktiv)", 2025)
    token = answers.start_response(assessment.token, "public", "bench")
    template = picked[0]
    for i, step in enumerate(fw.steps[: len(fw.steps) // 2]):
        answer = template.steps[step.id]
        answers.save_step(token, step.id, answer.level, answer.tools)
    for key in fw.statement_keys[: len(fw.statement_keys) // 2]:
        answers.save_rating(token, key, template.ratings.get(key, 2))
    return links.create_link(answers, links.RESULTS_LINK, "bench", assessment_id=assessment.id), token


# --- the pages ---------------------------------------------------------------------------

def open_page(page: str, setup=None, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page)
    at.run()
    if setup:
        setup(at)
    if at.exception:
        raise SystemExit(f"{page} raised: {at.exception[0].value}")
    return at


def to_principles(at: AppTest) -> None:
    at.segmented_control(key="q:part#0").set_value("principles")
    at.run()


def time_reruns(at: AppTest, reruns: int, warm: bool = True) -> list[float]:
    if warm:
        at.run()  # caches filled, widgets registered
    times = []
    for _ in range(reruns):
        start = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - start)
    if at.exception:
        raise SystemExit(f"rerun raised: {at.exception[0].value}")
    return times


# --- the bare baseline: same elements, no logic ------------------------------------------

class BareScript:
    """Python source drawing the same element tree as a page, with constant content."""

    def __init__(self) -> None:
        self.lines = ["import pandas as pd", "import streamlit as st", "",
                      "SPEC = {'mark': 'bar', 'data': {'values': [{'a': i, 'b': i * i} for i in range(12)]},",
                      "        'encoding': {'x': {'field': 'a', 'type': 'ordinal'},",
                      "                     'y': {'field': 'b', 'type': 'quantitative'}}}", ""]
        self.counter = 0
        self.skipped: set[str] = set()

    def key(self) -> str:
        self.counter += 1
        return f"k{self.counter}"

    def emit(self, indent: int, code: str) -> None:
        self.lines.append("    " * indent + code)

    def walk(self, node, indent: int, target: str = "st") -> None:
        children = getattr(node, "children", None)
        for child in (children.values() if isinstance(children, dict) else []):
            self.element(child, indent, target)

    def element(self, el, indent: int, target: str) -> None:
        kind = el.type
        k = self.key()
        if kind == "flex_container" and all(c.type == "column" for c in el.children.values()):
            self.emit(indent, f"{k} = {target}.columns({len(el.children)})")
            for i, column in enumerate(el.children.values()):
                self.emit(indent, f"with {k}[{i}]:")
                self.emit(indent + 1, "pass")
                self.walk(column, indent + 1)
        elif kind == "tab_container":
            self.emit(indent, f"{k} = {target}.tabs({[f'Tab {i}' for i in range(len(el.children))]!r})")
            for i, tab in enumerate(el.children.values()):
                self.emit(indent, f"with {k}[{i}]:")
                self.emit(indent + 1, "pass")
                self.walk(tab, indent + 1)
        elif kind in ("expander", "flex_container", "container"):
            opener = f"{target}.expander('Expander')" if kind == "expander" else f"{target}.container()"
            self.emit(indent, f"with {opener}:")
            self.emit(indent + 1, "pass")
            self.walk(el, indent + 1)
        elif kind == "radio":
            n = len(el.options)
            self.emit(indent, f"{target}.radio('Radio {k}', list(range({n})), index=None, key='{k}', "
                              f"horizontal={el.proto.horizontal}, captions={['Caption'] * len(el.proto.captions) or None})")
        elif kind == "checkbox":
            self.emit(indent, f"{target}.checkbox('Checkbox {k}', key='{k}')")
        elif kind == "toggle":
            self.emit(indent, f"{target}.toggle('Toggle {k}', key='{k}')")
        elif kind == "text_area":
            self.emit(indent, f"{target}.text_area('Text {k}', key='{k}')")
        elif kind == "text_input":
            self.emit(indent, f"{target}.text_input('Text {k}', key='{k}')")
        elif kind == "button_group":
            n = len(el.options)
            self.emit(indent, f"{target}.segmented_control('Choice {k}', list(range({n})), default=0, key='{k}')")
        elif kind == "button":
            self.emit(indent, f"{target}.button('Button {k}', key='{k}')")
        elif kind == "download_button":
            self.emit(indent, f"{target}.download_button('Download {k}', lambda: b'x', key='{k}', on_click='ignore')")
        elif kind == "page_link":
            self.emit(indent, f"{target}.link_button('Link {k}', 'https://example.org')")
        elif kind == "progress":
            self.emit(indent, f"{target}.progress(0.5, text='Progress')")
        elif kind == "metric":
            self.emit(indent, f"{target}.metric('Metric', 10)")
        elif kind == "vega_lite_chart":
            self.emit(indent, f"{target}.vega_lite_chart(SPEC, theme=None)")
        elif kind == "dataframe":
            frame = el.value
            rows, cols = frame.shape
            self.emit(indent, f"{target}.dataframe(pd.DataFrame([[1.5] * {cols}] * {rows}, "
                              f"columns=[f'c{{i}}' for i in range({cols})]), hide_index=True)")
        elif kind == "table":
            rows, cols = el.value.shape
            self.emit(indent, f"{target}.table(pd.DataFrame([['Some text of a table cell'] * {cols}] * {rows}, "
                              f"columns=[f'c{{i}}' for i in range({cols})]), hide_index=True)")
        elif kind in ("title", "subheader", "header", "markdown", "caption", "code", "error", "info",
                      "success", "warning", "divider"):
            text = {"divider": ""}.get(kind, "'Some text of a typical length for this page element.'")
            call = {"markdown": "markdown", "divider": "divider"}.get(kind, kind)
            self.emit(indent, f"{target}.{call}({text})")
        else:
            self.skipped.add(kind)

    def source(self, at: AppTest) -> str:
        self.walk(at.main, 0)
        self.lines.append("with st.sidebar:")
        self.lines.append("    pass")
        self.walk(at.sidebar, 1)
        return "\n".join(self.lines) + "\n"


BARE_SHELL = """import streamlit as st

pages = [st.Page({page!r}, title="Page", url_path="page", default=True)]
pages += [st.Page(path, title=f"Other {{i}}", url_path=f"other{{i}}") for i, path in enumerate({others!r})]
st.navigation({{"A": pages[:3], "B": pages[3:5], "C": pages[5:]}}).run()
"""


def bare_app(at: AppTest, workdir: Path, name: str) -> AppTest:
    """The bare page, run through a navigation shell with as many pages as app.py has."""
    script = BareScript()
    page = workdir / f"bare_{name}.py"
    page.write_text(script.source(at))
    if script.skipped:
        print(f"  note: {name}: bare script leaves out {sorted(script.skipped)}")
    shell = workdir / f"bare_{name}_app.py"
    others = []
    for i in range(PAGE_COUNT - 1):  # file pages, as in app.py (Streamlit resolves their paths each run)
        other = workdir / "pages" / f"other_{i}.py"
        other.parent.mkdir(exist_ok=True)
        other.write_text("import streamlit as st\n\nst.write('other page')\n")
        others.append(str(other))
    shell.write_text(BARE_SHELL.format(page=str(page), others=others))
    bare = AppTest.from_file(str(shell), default_timeout=TIMEOUT)
    bare.run()
    if bare.exception:
        raise SystemExit(f"bare {name} raised: {bare.exception[0].value}\n{page.read_text()}")
    return bare


def count(at: AppTest) -> int:
    def walk(node) -> int:
        children = getattr(node, "children", None)
        return sum(1 + walk(c) for c in children.values()) if isinstance(children, dict) else 0
    return walk(at.main) + walk(at.sidebar)


def profiled(fn, lines: int = 35) -> None:
    """cProfile of fn, including the script threads AppTest runs the page in."""
    import cProfile
    import pstats
    import threading

    profiles: list[cProfile.Profile] = []

    def start_in_thread(frame, event, arg):
        # The first event in a new thread switches that thread over to a C profiler of its own.
        profile = cProfile.Profile()
        profiles.append(profile)
        profile.enable()

    threading.setprofile(start_in_thread)
    try:
        fn()
    finally:
        threading.setprofile(None)
    if profiles:
        pstats.Stats(*profiles).sort_stats("cumulative").print_stats(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=60)
    parser.add_argument("--respondents", type=int, default=20)
    parser.add_argument("--post-script-gc", choices=("on", "off"),
                        help="collect garbage after every run or not (default: as configured)")
    parser.add_argument("--profile", action="store_true", help="profile the page reruns (cProfile)")
    args = parser.parse_args()
    if args.post_script_gc:
        config.set_option("runner.postScriptGC", args.post_script_gc == "on")
    print(f"runner.postScriptGC={'on' if config.get_option('runner.postScriptGC') else 'off'}")

    workdir = Path(tempfile.mkdtemp(prefix="bench-rerun-"))
    db_url = f"sqlite:///{workdir / 'bench.db'}"
    os.environ.pop("DATABASE_URL", None)
    os.environ["ASSESSMENT_DB"] = str(workdir / "bench.db")
    results_token, response_token = make_data(db_url, args.respondents)

    pages = {
        "questionnaire:steps": open_page("views/questionnaire.py", r=response_token),
        "questionnaire": open_page("views/questionnaire.py", to_principles, r=response_token),
        "results": open_page("views/results.py", v=results_token),
    }
    ratios = {}
    for name, at in pages.items():
        bare = bare_app(at, workdir, name)
        time_reruns(at, 3), time_reruns(bare, 3)  # warm both
        # Alternate single reruns, so that load from elsewhere on the machine hits both alike.
        ours, base = [], []
        for _ in range(args.reruns):
            ours += time_reruns(at, 1, warm=False)
            base += time_reruns(bare, 1, warm=False)
        ours_ms, base_ms = statistics.median(ours) * 1000, statistics.median(base) * 1000
        # Each page rerun is paired with the bare rerun right after it; the median of those
        # ratios shrugs off bursts of load from elsewhere better than a ratio of medians.
        ratios[name] = statistics.median(o / b for o, b in zip(ours, base))
        print(f"{name:20s} elements={count(at):3d} (bare {count(bare):3d})  "
              f"median page {ours_ms:6.1f} ms  bare {base_ms:6.1f} ms  ratio {ratios[name]:.2f}")
        if args.profile:
            profiled(lambda: time_reruns(at, args.reruns))
    print(f"ratio={max(ratios.values()):.2f}")


if __name__ == "__main__":
    main()
