"""Rerun cost of the comparison page (views/compare.py) on a regional database, against a
bare Streamlit page with the same elements, measured in the same run.

Used by bench/aggregate.py --page after it has loaded its data; runs the page through
app.py with AppTest (no browser) against that database and the same framework:

- cold: the page's first render in this process (Streamlit's caches empty, the summaries
  current, as on a server just restarted);
- new selection: the first rerun after a filter (side, units, years) changes to a
  selection not seen before (the comparison of that selection is computed);
- per view (profiles, unit vs region, ranking, steps, trends): a script of reruns that
  each change one filter (side, year, units, and the view's own widgets), played
  ``cycles`` times; the first cycle fills the view's caches, the later ones are warm.
  Median and max per view, and the median rerun of a bare page drawing as many elements
  of the same kinds (constant content, no logic; bench/rerun.py's baseline), alternated
  with the page's reruns so that load from elsewhere hits both alike.

``measure`` prints its lines and returns the worst warm rerun (ms). With ``profile``, each
view's filter reruns are then run once more under cProfile (script threads included).
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable

import yaml

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
sys.path.insert(0, str(BENCH))

import rerun  # noqa: E402  (also keeps compiled page scripts, as a running server does)
from streamlit.testing.v1 import AppTest  # noqa: E402

from assessment.framework.matrix import Framework  # noqa: E402

PAGE = "views/compare.py"
VIEWS = ("profiles", "unit", "ranking", "steps", "trends")
USABLE_MS = 1000.0  # the goal: a rerun of the comparison page under a second


# --- the bare baseline: rerun.BareScript plus the choice widgets this page uses ----------------

class BareScript(rerun.BareScript):
    def element(self, el, indent: int, target: str) -> None:
        kind = el.type
        if kind not in ("selectbox", "multiselect", "select_slider", "number_input"):
            return super().element(el, indent, target)
        k = self.key()
        options = len(getattr(el, "options", ()) or ())
        if kind == "selectbox":
            self.emit(indent, f"{target}.selectbox('Select {k}', list(range({options})), key='{k}')")
        elif kind == "multiselect":
            self.emit(indent, f"{target}.multiselect('Multi {k}', list(range({options})), key='{k}')")
        elif kind == "select_slider":
            self.emit(indent, f"{target}.select_slider('Slider {k}', list(range({options})), "
                              f"value={options - 1}, key='{k}')")
        else:
            self.emit(indent, f"{target}.number_input('Number {k}', 1, 10, 1, key='{k}')")


def bare_app(at: AppTest, workdir: Path, name: str) -> AppTest:
    """The bare page, run through a navigation shell with as many pages as app.py has."""
    script = BareScript()
    page = workdir / f"bare_{name}.py"
    page.write_text(script.source(at))
    if script.skipped:
        print(f"  note: {name}: the bare page leaves out {sorted(script.skipped)}")
    others = []
    for i in range(rerun.PAGE_COUNT - 1):
        other = workdir / "pages" / f"other_{i}.py"
        other.parent.mkdir(exist_ok=True)
        other.write_text("import streamlit as st\n\nst.write('other page')\n")
        others.append(str(other))
    shell = workdir / f"bare_{name}_app.py"
    shell.write_text(rerun.BARE_SHELL.format(page=str(page), others=others))
    bare = AppTest.from_file(str(shell), default_timeout=rerun.TIMEOUT)
    bare.run()
    if bare.exception:
        raise SystemExit(f"bare {name} raised: {bare.exception[0].value}\n{page.read_text()}")
    return bare


# --- driving the page ----------------------------------------------------------------------

def admin_token(db_url: str) -> str:
    from assessment.access import links
    from assessment.store.migrations import open_database

    return links.rotate_admin_token(open_database(db_url), by="bench")


def timed_run(at: AppTest) -> float:
    start = time.perf_counter()
    at.run()
    took = time.perf_counter() - start
    if at.exception:
        raise SystemExit(f"the comparison page raised: {at.exception[0].value}")
    return took * 1000


def chart_kb(at: AppTest) -> float:
    """What the page's charts send to the browser: specs and their data sets (Arrow)."""
    nodes = at.get("vega_lite_chart")
    return (sum(len(n.proto.spec) for n in nodes)
            + sum(len(d.data.data) for n in nodes for d in n.proto.datasets)) / 1024


Change = tuple[str, Callable[[AppTest], object]]


def filter_script(view: str, names: list[str], years: list[int]) -> list[Change]:
    """Reruns that each change one filter; played in order, they end where they started."""
    few = names[:5]
    changes: list[Change] = [
        ("side public", lambda at: at.radio(key="cmp_side").set_value("public")),
        ("side civil society", lambda at: at.radio(key="cmp_side").set_value("civil_society")),
        ("side both", lambda at: at.radio(key="cmp_side").set_value(None)),
        ("first year", lambda at: at.select_slider(key="cmp_year").set_value(years[0])),
        ("last year", lambda at: at.select_slider(key="cmp_year").set_value(years[-1])),
        ("5 units", lambda at: at.multiselect(key="cmp_units").set_value(few)),
        ("all units", lambda at: at.multiselect(key="cmp_units").set_value([])),
    ]
    if view == "profiles":
        changes += [("page 2", lambda at: at.number_input(key="cmp_page").set_value(2)),
                    ("page 1", lambda at: at.number_input(key="cmp_page").set_value(1))]
    elif view == "unit":
        changes += [("other unit", lambda at: at.selectbox(key="cmp_focus").set_value(names[len(names) // 2])),
                    ("first unit", lambda at: at.selectbox(key="cmp_focus").set_value(names[0]))]
    elif view == "ranking":
        changes += [("other principle", lambda at: at.selectbox(key="cmp_principle").set_value(
                        at.selectbox(key="cmp_principle").options[1])),
                    ("show ranks", lambda at: at.toggle(key="cmp_ranks").set_value(True)),
                    ("hide ranks", lambda at: at.toggle(key="cmp_ranks").set_value(False))]
    elif view == "trends":
        changes += [("highlight 3", lambda at: at.multiselect(key="cmp_highlight").set_value(names[:3])),
                    ("highlight none", lambda at: at.multiselect(key="cmp_highlight").set_value([]))]
    return changes


@contextmanager
def bench_environment(db_url: str, fw: Framework, workdir: Path):
    """The app reads its database and matrix from the environment: point both at the bench's."""
    matrix = workdir / "bench_matrix.yaml"
    matrix.write_text(yaml.safe_dump(fw.model_dump(mode="json", exclude_none=True), allow_unicode=True,
                                     sort_keys=False))
    saved = {k: os.environ.get(k) for k in ("DATABASE_URL", "ASSESSMENT_DB", "ASSESSMENT_MATRIX")}
    os.environ["DATABASE_URL"] = db_url
    os.environ["ASSESSMENT_MATRIX"] = str(matrix)
    os.environ.pop("ASSESSMENT_DB", None)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def ms(values: list[float], labels: list[str] | None = None) -> str:
    worst = max(range(len(values)), key=values.__getitem__)
    return (f"median {statistics.median(values):7.1f} ms  max {values[worst]:7.1f} ms"
            + (f" ({labels[worst]})" if labels else ""))


def measure(db_url: str, fw: Framework, workdir: Path, cycles: int = 3, bare_reruns: int = 20,
            profile: bool = False) -> float:
    """Print the page's rerun times; returns the worst warm rerun in ms."""
    import streamlit as st

    from assessment.regional import summary_freshness

    with bench_environment(db_url, fw, workdir):
        # As a server just started: nothing cached in this process (the summaries are current).
        st.cache_data.clear()
        st.cache_resource.clear()
        summary_freshness.clear_cache()

        at = AppTest.from_file(rerun.APP, default_timeout=rerun.TIMEOUT)
        at.query_params["admin"] = admin_token(db_url)  # the named comparison: the heaviest view
        at.run()
        at.switch_page(PAGE)
        cold = timed_run(at)
        names = list(at.multiselect(key="cmp_units").options)
        years = list(at.multiselect(key="cmp_years").options)
        print(f"page      first render, cold ({len(names)} units, {len(years)} years)   {cold:8.1f} ms")
        again = timed_run(at)
        print(f"page      rerun, nothing changed                  {again:8.1f} ms")

        # Selections not seen before: the comparison of each is computed on that rerun.
        fresh = []
        for change in (lambda: at.radio(key="cmp_side").set_value("public"),
                       lambda: at.radio(key="cmp_side").set_value("civil_society"),
                       lambda: at.multiselect(key="cmp_units").set_value(names[:5]),
                       lambda: at.multiselect(key="cmp_years").set_value(years[-3:])):
            change()
            fresh.append(timed_run(at))
        print(f"page      new selection ({len(fresh)} filter changes)           {ms(fresh)}")
        at.multiselect(key="cmp_years").set_value([])
        at.multiselect(key="cmp_units").set_value([])
        at.radio(key="cmp_side").set_value(None)
        timed_run(at)

        worst_warm, worst_first = 0.0, max(fresh)
        for view in VIEWS:
            at.radio(key="cmp_view").set_value(view)
            switch = timed_run(at)
            script = filter_script(view, names, years)
            first, warm = [], []
            labels = [label for label, _change in script]
            for cycle in range(cycles):
                for _label, change in script:
                    change(at)
                    (first if cycle == 0 else warm).append(timed_run(at))
            # The bare page: as many elements of the same kinds as the view with every unit shown.
            bare = bare_app(at, workdir, view)
            timed_run(bare)
            paired_page, paired_bare = [], []
            for _ in range(bare_reruns):
                paired_page.append(timed_run(at))
                paired_bare.append(timed_run(bare))
            worst_warm = max(worst_warm, max(warm or first))
            worst_first = max(worst_first, switch, max(first))
            ratio = statistics.median(p / b for p, b in zip(paired_page, paired_bare))
            print(f"view {view:9s} elements={rerun.count(at):3d} (bare {rerun.count(bare):3d})  "
                  f"charts {chart_kb(at):6.1f} KB  switch {switch:7.1f} ms")
            print(f"     {'':9s} filter reruns, first cycle ({len(first):2d})   {ms(first, labels)}")
            if warm:
                print(f"     {'':9s} filter reruns, warm ({len(warm):2d})          {ms(warm, labels * (cycles - 1))}")
            print(f"     {'':9s} plain rerun {statistics.median(paired_page):7.1f} ms, bare page "
                  f"{statistics.median(paired_bare):7.1f} ms: {ratio:.2f}x")
            if profile:
                print(f"--- profile: {view}, {len(script)} filter reruns")
                rerun.profiled(lambda: [(change(at), at.run()) for _label, change in script], lines=40)
            at.radio(key="cmp_view").set_value("profiles")  # every view starts from the same state
            at.run()
        verdict = "under" if max(worst_warm, worst_first) < USABLE_MS else "OVER"
        print(f"page      worst rerun: warm {worst_warm:.1f} ms, first time (new selection, view switch, "
              f"caches filling) {worst_first:.1f} ms: {verdict} {USABLE_MS / 1000:.0f} s")
        return worst_warm

