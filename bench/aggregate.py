"""Comparison statistics at regional scale, against a bare DuckDB group-by in the same run.

Generates 290 municipalities x 10 years x 40 respondents x 30 rated statements
(~3.5 million ratings, plus 6 step answers per respondent), loads them through the
storage tables (bulk_load), then times:

- baseline: DuckDB, data already in memory: GROUP BY unit, year, principle
  (mean rating as a 0-100 score) and the quartiles per principle and year;
- cold: compare.compare over everything right after loading (sums every rating
  into the summary tables first);
- checked: compare.compare over everything after the summaries' "all current" marker
  is dropped (the worst case short of re-summing: every assessment's fingerprint is
  checked, then the summaries are read and scores, quartiles, rankings, heatmap and
  trends computed);
- warm / again: the same when nothing changed (a new process / the same process);
- changed: the same right after one answer was saved (only that assessment is checked);
- page: what the comparison page computes for one side and one year, or for 5 units.

With --page, the comparison page itself (views/compare.py through app.py, AppTest, same
database and framework) is then rerun: first render, new selections, and per view reruns
that change a filter, against a bare Streamlit page with as many elements (bench/compare_page.py).

The two paths' scores and medians are checked to be equal. Last line: ratio=checked/baseline.

    .venv/bin/python bench/aggregate.py [--units 290 --years 10 --respondents 40] [--db URL]
        [--page [--page-cycles 3] [--page-profile]]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assessment.exchange.importer import bulk_load  # noqa: E402
from assessment.framework.matrix import Framework, load_framework  # noqa: E402
from assessment.framework.responses import DONT_KNOW, Response, StepAnswer  # noqa: E402
from assessment.regional import compare, summaries, summary_freshness  # noqa: E402
from assessment.store.answers import Answers  # noqa: E402
from assessment.store.assessments import Assessments  # noqa: E402
from assessment.store.engine import make_engine  # noqa: E402
from assessment.store.migrations import init_db  # noqa: E402

SIDES = ("public", "civil_society")


def bench_framework(statements: int) -> Framework:
    """The shipped matrix with exactly `statements` statements spread over its principles."""
    data = load_framework().model_dump(mode="json")
    principles = data["principles"]
    for i, p in enumerate(principles):
        wanted = statements // len(principles) + (1 if i < statements % len(principles) else 0)
        base = p["statements"][0]
        p["statements"] = (p["statements"] + [
            {**base, "id": f"bench_{k}"} for k in range(len(p["statements"]), wanted)])[:wanted]
    return Framework.model_validate(data)


def generate(fw: Framework, units: int, years: int, respondents: int, seed: int = 7):
    """Responses plus the same ratings as flat numpy columns for the baseline."""
    rng = np.random.default_rng(seed)
    keys = fw.statement_keys
    principle_index = np.array([[p.id for p in fw.principles].index(k.split(".")[0]) for k in keys])
    levels = ["none"] + [lv.id for lv in fw.active_levels()]
    steps = [s.id for s in fw.steps]
    n = units * years * respondents
    base = rng.uniform(1.0, 3.2, size=units)
    unit_of = np.repeat(np.arange(units), years * respondents)
    year_of = np.tile(np.repeat(np.arange(years), respondents), units)
    side_of = np.tile(np.arange(respondents) % 2, units * years)
    mean = base[unit_of] + 0.08 * year_of + np.where(side_of == 0, 0.3, -0.3)
    values = np.clip(np.rint(rng.normal(mean[:, None], 0.9, size=(n, len(keys)))), 0, fw.scale.max).astype(int)
    dont_know = rng.random((n, len(keys))) < 0.05
    step_levels = np.clip(np.rint(rng.normal(base[unit_of][:, None], 1.0, size=(n, len(steps)))),
                          0, len(levels) - 1).astype(int)
    names = [f"Kommun {u:03d}" for u in range(units)]
    first_year = 2016
    construct = Response.model_construct
    step_answers = {(s, lv): StepAnswer.model_construct(level=levels[lv], tools=[])
                    for s in steps for lv in range(len(levels))}
    items = []
    for i in range(n):
        row_v, row_d = values[i], dont_know[i]
        items.append(construct(
            unit=names[unit_of[i]], year=first_year + int(year_of[i]), case=None, side=SIDES[side_of[i]],
            role="", extensions=[], comments={},
            ratings={k: (DONT_KNOW if row_d[j] else int(row_v[j])) for j, k in enumerate(keys)},
            steps={s: step_answers[(s, int(step_levels[i, j]))] for j, s in enumerate(steps)}))
    flat = {
        "unit": np.repeat(unit_of, len(keys)), "year": np.repeat(first_year + year_of, len(keys)),
        "side": np.repeat(side_of, len(keys)), "principle": np.tile(principle_index, n),
        "value": np.where(dont_know, -1, values).ravel(),
    }
    return items, flat, names


def duckdb_baseline(flat: dict, scale, repeat: int):
    import duckdb
    import pandas as pd

    con = duckdb.connect()
    con.register("src", pd.DataFrame(flat))
    con.execute("CREATE TABLE ratings AS SELECT * FROM src")
    query = f"""
        WITH unit_scores AS (
            SELECT unit, year, principle,
                   round((avg(value) FILTER (WHERE value >= 0) - {scale.min}) / ({scale.max} - {scale.min}) * 100, 1)
                         AS score
            FROM ratings GROUP BY unit, year, principle)
        SELECT year, principle, quantile_cont(score, 0.25) AS q1, median(score) AS med,
               quantile_cont(score, 0.75) AS q3, list(score ORDER BY unit) AS scores
        FROM unit_scores GROUP BY year, principle ORDER BY year, principle"""
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = con.execute(query).fetchall()
        best = min(best, time.perf_counter() - start)
    return best, result


def timed(fn, repeat: int, setup=None):
    """Best wall time of `repeat` calls of fn (setup, untimed, before each)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        if setup:
            setup()
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--units", type=int, default=290)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--respondents", type=int, default=40)
    parser.add_argument("--statements", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --db: use the data already there (from an earlier run with the same sizes)")
    parser.add_argument("--page", action="store_true",
                        help="also time reruns of the comparison page on this data (AppTest)")
    parser.add_argument("--page-cycles", type=int, default=3,
                        help="with --page: times each view's filter changes are played (the first fills caches)")
    parser.add_argument("--page-profile", action="store_true",
                        help="with --page: cProfile each view's filter reruns")
    args = parser.parse_args()

    fw = bench_framework(args.statements)
    tmp = tempfile.TemporaryDirectory(prefix="bench_aggregate_")
    url = args.db or f"sqlite:///{Path(tmp.name) / 'bench.db'}"
    engine = make_engine(url)
    init_db(engine)

    start = time.perf_counter()
    items, flat, names = generate(fw, args.units, args.years, args.respondents)
    ratings_count = sum(len(r.ratings) for r in items)
    print(f"generated {len(items):,} responses, {ratings_count:,} ratings "
          f"({args.units} units x {args.years} years x {args.respondents} respondents x "
          f"{len(fw.statement_keys)} statements) in {time.perf_counter() - start:.1f} s")
    if args.reuse and summaries.unit_info(engine):
        print(f"reusing the data in {engine.url}")
        cold_s = None
    else:
        start = time.perf_counter()
        bulk_load(engine, fw, items, unit_info={n: ("municipality", "Benchlän") for n in names},
                           summarise=False)
        print(f"loaded through the storage tables ({engine.dialect.name}) in {time.perf_counter() - start:.1f} s")
        summary_freshness.clear_cache()
        start = time.perf_counter()
        compare.compare(engine, fw)
        cold_s = time.perf_counter() - start
    del items

    base_s, base = duckdb_baseline(flat, fw.scale, args.repeat)
    print(f"baseline  duckdb group-by + quartiles           {base_s * 1000:8.1f} ms")

    if cold_s is not None:
        print(f"cold      compare (sums every rating first)      {cold_s * 1000:8.1f} ms")

    # Drop the "all current" marker: every assessment's fingerprint is checked.
    checked_s, full = timed(lambda: compare.compare(engine, fw), args.repeat,
                            setup=lambda: summary_freshness.clear_cache(engine))
    print(f"checked   compare, all units and years           {checked_s * 1000:8.1f} ms")

    # As a new process: the marker in the database says every summary is current.
    warm_s, _ = timed(lambda: compare.compare(engine, fw), args.repeat, setup=summary_freshness.clear_cache)
    print(f"warm      same, nothing changed since            {warm_s * 1000:8.1f} ms")
    again_s, _ = timed(lambda: compare.compare(engine, fw), args.repeat)
    print(f"again     same, in the same process              {again_s * 1000:8.1f} ms")

    # One answer saved through the questionnaire's path, then the comparison again: only that
    # assessment is checked and re-summed.
    answers = Answers(engine)
    info = Assessments(engine).find_assessment(names[0], max(full.years))
    token = answers.start_response(info.token, "public")
    changed_s = float("inf")
    for i in range(args.repeat):
        answers.save_rating(token, fw.statement_keys[0], i % (fw.scale.max + 1))
        start = time.perf_counter()
        compare.compare(engine, fw)
        changed_s = min(changed_s, time.perf_counter() - start)
    answers.delete_response(token)
    compare.compare(engine, fw)
    print(f"changed   same, after one answer was saved       {changed_s * 1000:8.1f} ms")

    last_year = max(full.years)
    page_s, _ = timed(lambda: compare.compare(engine, fw, years=[last_year], side="public"), args.repeat,
                      setup=summary_freshness.clear_cache)
    print(f"page      compare, one year, one side            {page_s * 1000:8.1f} ms")
    few = names[:5]
    few_s, _ = timed(lambda: compare.compare(engine, fw, units=few), args.repeat, setup=summary_freshness.clear_cache)
    print(f"page      compare, 5 units, all years            {few_s * 1000:8.1f} ms")

    # Both paths must compute the same statistics.
    principle_ids = [p.id for p in fw.principles]
    mismatches = 0
    for year, pindex, q1, med, q3, scores in base:
        band = full.stats[year][principle_ids[pindex]]
        ours = [next(s.score for s in full.scores[year][n] if s.principle_id == principle_ids[pindex]) for n in names]
        # Rounding to 0.1 differs (Python: half to even; DuckDB: half away from zero) by up to 0.1.
        if abs(band.median - med) > 0.11 or any(abs(a - b) > 0.11 for a, b in zip(ours, scores)):
            print(f"  differs: {year} {principle_ids[pindex]}: median {band.median} vs {med}")
            mismatches += 1
    print(f"checked {len(base)} year x principle groups against the baseline: {mismatches} differ")
    if mismatches:
        tmp.cleanup()
        sys.exit("the comparison and the baseline disagree")
    if args.page:
        import compare_page  # bench/, next to this file

        compare_page.measure(url, fw, Path(tmp.name), cycles=args.page_cycles, profile=args.page_profile)
    tmp.cleanup()
    print(f"ratio={checked_s / base_s:.2f}")


if __name__ == "__main__":
    main()
