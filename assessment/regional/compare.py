"""Comparison across units and years: scores per unit, region quartiles, rankings,
levels reached per step, trends. Filterable by side.

Two layers:
- ``Aggregates``: per (unit, year, side) the sums that principle scores and step
  levels are made of. Built from the database (``load_aggregates``, reading the
  per-assessment summaries of ``assessment.summaries``) or from ``Response``
  objects (``aggregate_responses``); both give the same numbers.
- pure functions over Aggregates with the semantics of ``scoring`` (pooled
  ratings, 'dont_know' left out, score = mean / scale max * 100, rounded to 0.1;
  a group's step level = median_low of the respondents' level ranks).

Several cases of one unit and year are pooled.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field
from statistics import quantiles
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from ..framework.matrix import Framework
from ..framework.responses import DONT_KNOW, NO_LEVEL, Response
from ..scoring.scores import PrincipleScore
from . import summaries
from .summaries import engine_of

SIDES = ("public", "civil_society")


# --- aggregates -------------------------------------------------------------------------------

Key = tuple[str, int, str]  # (unit, year, side)


@dataclass
class Aggregates:
    """Sums per (unit, year, side); what every comparison statistic is computed from."""

    # Keys (unit, year, side); side None = both sides together.
    # (unit, year, side) -> principle id -> [answered, value_sum, dont_know]
    principles: dict[Key, dict[str, list[int]]] = field(default_factory=dict)
    respondents: dict[Key, int] = field(default_factory=dict)
    # (unit, year, side) -> step id -> level id (or 'none') -> respondents
    steps: dict[Key, dict[str, dict[str, int]]] = field(default_factory=dict)
    unit_info: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # name -> (kind, region)
    side: str | None = None  # default side filter of the functions below

    @property
    def units(self) -> list[str]:
        return sorted({k[0] for k in self.respondents if k[2] == self.side})

    @property
    def years(self) -> list[int]:
        return sorted({k[1] for k in self.respondents if k[2] == self.side})

    def units_in(self, year: int, side: str | None = None) -> list[str]:
        """Units with respondents (of `side`) in `year`, by name."""
        index = self.__dict__.get("_units_index")
        if index is None or index[0] != len(self.respondents):
            by_year: dict[tuple, set] = defaultdict(set)
            for (u, y, s), n in self.respondents.items():
                if n:
                    by_year[(y, s)].add(u)
            index = self.__dict__["_units_index"] = (len(self.respondents),
                                                      {k: sorted(v) for k, v in by_year.items()})
        _sides(side)
        return index[1].get((year, side), [])


def _sides(side: str | None) -> tuple[str, ...]:
    if side is None:
        return SIDES
    if side not in SIDES:
        raise ValueError(f"unknown side {side!r} (use public, civil_society or none for both)")
    return (side,)


def aggregate_responses(fw: Framework, items: Iterable[Response], side: str | None = None,
                        unit_info: Mapping[str, tuple[str, str | None]] | None = None) -> Aggregates:
    """Aggregates from Response objects (same numbers as the database path); like
    load_aggregates, only the responses of `side` are counted (all when None)."""
    principle_of = {key: p.id for key, (p, _s) in fw.statement_by_key.items()}
    steps_known = set(fw.step_by_id)
    agg = Aggregates(side=side, unit_info=dict(unit_info or {}))
    _sides(side)
    for r in items:
        if side is not None and r.side != side:
            continue
        # With side None, each side on its own and both together (key side None), as in the database.
        for key in ((r.unit, r.year, r.side), (r.unit, r.year, None)) if side is None else ((r.unit, r.year, side),):
            agg.respondents[key] = agg.respondents.get(key, 0) + 1
            sums = agg.principles.setdefault(key, {})
            for statement, value in r.ratings.items():
                pid = principle_of.get(statement)
                if pid is None:
                    continue
                acc = sums.setdefault(pid, [0, 0, 0])
                if value == DONT_KNOW:
                    acc[2] += 1
                else:
                    acc[0] += 1
                    acc[1] += value
            levels = agg.steps.setdefault(key, {})
            for step_id, answer in r.steps.items():
                if step_id in steps_known:
                    counts = levels.setdefault(step_id, {})
                    counts[answer.level] = counts.get(answer.level, 0) + 1
        agg.unit_info.setdefault(r.unit, ("municipality", None))
    return agg


def _pooled(agg: Aggregates, unit: str, year: int, side: str | None):
    """(respondents, {pid: [answered, sum, dont_know]}) of one side, or both (None)."""
    key = (unit, year, side)
    return agg.respondents.get(key, 0), agg.principles.get(key, {})


_UNSET: Any = object()


def unit_scores(fw: Framework, agg: Aggregates, year: int, side: str | None = _UNSET) -> dict[str, list[PrincipleScore]]:
    """Per unit with respondents that year: scoring.principle_scores of its pooled responses."""
    side = agg.side if side is _UNSET else side
    scale_max = fw.scale.max
    principles = [(p.id, len(p.statements)) for p in fw.principles]
    none = (0, 0, 0)
    out = {}
    for unit in agg.units_in(year, side):
        n, sums = _pooled(agg, unit, year, side)
        scores = []
        for pid, statements in principles:
            answered, total, dont_know = sums.get(pid, none)
            score = round(total / answered / scale_max * 100, 1) if answered else None
            scores.append(PrincipleScore(pid, score, answered, dont_know,
                                         n * statements - answered - dont_know, statements))
        out[unit] = scores
    return out


def score_values(fw: Framework, agg: Aggregates, year: int, side: str | None = _UNSET) -> dict[str, list[float | None]]:
    """Per unit: just the scores of unit_scores (framework order), without the counts; cheap
    enough to compute for every year and unit of a region."""
    side = agg.side if side is _UNSET else side
    scale = 100 / fw.scale.max
    pids = [p.id for p in fw.principles]
    out = {}
    for unit in agg.units_in(year, side):
        sums = agg.principles.get((unit, year, side), {})
        row = []
        for pid in pids:
            found = sums.get(pid)
            row.append(round(found[1] / found[0] * scale, 1) if found and found[0] else None)
        out[unit] = row
    return out


def _all_score_values(fw: Framework, agg: Aggregates, side: str | None) -> dict[int, dict[str, list]]:
    """score_values of every year in one pass: {year: {unit: scores}}, years and units sorted."""
    scale = 100 / fw.scale.max
    pids = [p.id for p in fw.principles]
    by_year: dict[int, dict[str, list]] = defaultdict(dict)
    respondents = agg.respondents
    for key, sums in agg.principles.items():
        if key[2] != side or not respondents.get(key):
            continue
        get = sums.get
        row = []
        for pid in pids:
            found = get(pid)
            row.append(round(found[1] / found[0] * scale, 1) if found and found[0] else None)
        by_year[key[1]][key[0]] = row
    for (unit, year, s), n in respondents.items():  # respondents who rated nothing
        if s == side and n and unit not in by_year[year]:
            by_year[year][unit] = [None] * len(pids)
    return {y: dict(sorted(by_year[y].items())) for y in sorted(by_year) if by_year[y]}


# --- statistics over units (pure) --------------------------------------------------------------

@dataclass(frozen=True)
class Band:
    """Distribution of units' scores for one principle (units without a score left out)."""

    q1: float | None
    median: float | None
    q3: float | None
    n: int
    min: float | None = None
    max: float | None = None


def band_of(values: Sequence[float]) -> Band:
    """Quartiles by statistics.quantiles(method='inclusive') (= numpy 'linear', Excel QUARTILE.INC)."""
    values = sorted(values)
    if not values:
        return Band(None, None, None, 0)
    if len(values) == 1:
        v = values[0]
        return Band(v, v, v, 1, v, v)
    q1, q2, q3 = quantiles(values, n=4, method="inclusive")
    r = lambda x: round(x, 2)  # noqa: E731 - scores have one decimal; keep quartiles readable
    return Band(r(q1), r(q2), r(q3), len(values), values[0], values[-1])


def region_stats(fw: Framework, scores: Mapping[str, Sequence[PrincipleScore]]) -> dict[str, Band]:
    """A Band per principle over the units' scores (unit_scores' result)."""
    order = {p.id: i for i, p in enumerate(fw.principles)}
    values = {}
    for unit, items in scores.items():
        row: list[float | None] = [None] * len(order)
        for s in items:
            if s.principle_id in order:
                row[order[s.principle_id]] = s.score
        values[unit] = row
    return _bands(fw, values)


def _bands(fw: Framework, values: Mapping[str, Sequence[float | None]]) -> dict[str, Band]:
    return {p.id: band_of([row[i] for row in values.values() if row[i] is not None])
            for i, p in enumerate(fw.principles)}


def band_for_radar(stats: Mapping[str, Band]) -> dict[str, tuple[float, float, float]]:
    """{principle_id: (q1, median, q3)} for charts.radar_chart(band=...)."""
    return {pid: (b.q1, b.median, b.q3) for pid, b in stats.items() if b.median is not None}


@dataclass(frozen=True)
class RankRow:
    rank: int | None  # None: no score
    unit: str
    score: float | None


def ranking(scores: Mapping[str, Sequence[PrincipleScore]], principle_id: str) -> list[RankRow]:
    """Highest score first; equal scores share the best rank (1, 2, 2, 4), listed by name."""
    pairs = []
    for unit, items in scores.items():
        found = next((s.score for s in items if s.principle_id == principle_id), None)
        pairs.append((unit, found))
    return _ranked(pairs)


def _ranked(pairs: list[tuple[str, float | None]]) -> list[RankRow]:
    scored = sorted((p for p in pairs if p[1] is not None), key=lambda p: (-p[1], p[0]))
    rows: list[RankRow] = []
    for i, (unit, score) in enumerate(scored):
        rank = rows[-1].rank if rows and rows[-1].score == score else i + 1
        rows.append(RankRow(rank, unit, score))
    rows += [RankRow(None, unit, None) for unit, score in sorted(pairs) if score is None]
    return rows


def rankings(fw: Framework, scores: Mapping[str, Sequence[PrincipleScore]]) -> dict[str, list[RankRow]]:
    return {p.id: ranking(scores, p.id) for p in fw.principles}


@dataclass(frozen=True)
class HeatCell:
    unit: str
    step_id: str
    level_id: str  # level reached (median_low of the respondents), or 'none'
    rank: int  # 0 for 'none', 1 for the first level ...
    answered: int
    distribution: dict[str, int] = field(default_factory=dict)


def heatmap(fw: Framework, agg: Aggregates, year: int, side: str | None = _UNSET) -> list[HeatCell]:
    """Level reached per unit and step (as scoring.step_levels), units by name, steps in order."""
    side = agg.side if side is _UNSET else side
    order = [NO_LEVEL] + [lv.id for lv in fw.levels]
    rank_of = {level: i for i, level in enumerate(order)}
    step_ids = [step.id for step in fw.steps]
    cells = []
    for unit in agg.units_in(year, side):
        merged = agg.steps.get((unit, year, side), {})
        for step_id in step_ids:
            counts = merged.get(step_id)
            if not counts:
                continue
            ranks = sorted((rank_of[level], n) for level, n in counts.items() if level in rank_of)
            level, rank = NO_LEVEL, 0
            total = sum(n for _r, n in ranks)
            if total:
                # median_low of the expanded ranks: the element at (total - 1) // 2.
                target, seen = (total - 1) // 2, 0
                for r, n in ranks:
                    seen += n
                    if seen > target:
                        rank, level = r, order[r]
                        break
            cells.append(HeatCell(unit, step_id, level, rank, sum(counts.values()), dict(counts)))
    return cells


class TrendPoint(NamedTuple):  # a tuple: there are thousands of them per comparison
    unit: str  # or 'median' for the region's median
    principle_id: str
    year: int
    score: float | None


def trends(fw: Framework, agg: Aggregates, side: str | None = _UNSET) -> list[TrendPoint]:
    """A point per unit, principle and year with respondents (score None if nothing rated)."""
    side = agg.side if side is _UNSET else side
    out = []
    for year in agg.years:
        for unit, scores in unit_scores(fw, agg, year, side).items():
            out += [TrendPoint(unit, s.principle_id, year, s.score) for s in scores]
    return sorted(out, key=lambda p: (p.unit, p.principle_id, p.year))


def region_trend(fw: Framework, agg: Aggregates, side: str | None = _UNSET) -> list[TrendPoint]:
    """The median of the units' scores per principle and year (unit = 'median')."""
    side = agg.side if side is _UNSET else side
    out = []
    for year in agg.years:
        stats = region_stats(fw, unit_scores(fw, agg, year, side))
        out += [TrendPoint("median", pid, year, band.median) for pid, band in stats.items()]
    return sorted(out, key=lambda p: (p.principle_id, p.year))


def trend_change(points: Iterable[TrendPoint], principle_id: str, unit: str) -> float | None:
    """Last minus first scored year of one unit and principle (None with fewer than two)."""
    series = sorted((p.year, p.score) for p in points
                    if p.unit == unit and p.principle_id == principle_id and p.score is not None)
    if len(series) < 2:
        return None
    return round(series[-1][1] - series[0][1], 1)


# --- from the database ------------------------------------------------------------------------

def load_aggregates(db: Any, fw: Framework, units: Sequence[str] | None = None,
                    years: Sequence[int] | None = None, side: str | None = None,
                    region: str | None = None, with_steps: bool = True) -> Aggregates:
    """Aggregates of the selected units (names), years and region, straight from the database.

    Only the sums of `side` are loaded (of both sides together when None); `side` is also the
    side the functions applied to the result use by default (and the only one they can use).
    """
    _sides(side)  # reject a bad side before touching the database
    unit_names = None if units is None else sorted(set(units))
    years = None if years is None else sorted(set(int(y) for y in years))
    engine = engine_of(db)
    summaries.ensure_summaries(engine, fw, unit_names, years, region)

    agg = Aggregates(side=side)
    with engine.connect() as conn:
        places = summaries.places(conn, summaries.selection_filters(unit_names, years, region))
        agg.unit_info = {name: info for name, *info in conn.execute(
            summaries.unit_info_query(sorted({u for u, _y in places.values()})))}
        selection = None if (unit_names, years, region) == (None, None, None) else sorted(places)
        summaries.load_summaries(conn, agg, places, selection, side, with_steps)
    agg.__dict__["_places"] = places  # for compare(): the step levels of one year
    return agg


# --- everything a comparison page needs ------------------------------------------------------

class TrendPoints(Sequence):
    """The trend points of a comparison, made when first looked at (tens of thousands of them
    for a region; only the trend view needs them)."""

    def __init__(self, pids: Sequence[str], values: Mapping[int, Mapping[str, Sequence]]):
        self._pids, self._values, self._points = list(pids), values, None

    def _all(self) -> list[TrendPoint]:
        if self._points is None:
            self._points = [TrendPoint(u, pid, y, score) for y, rows in self._values.items()
                            for u, row in rows.items() for pid, score in zip(self._pids, row)]
        return self._points

    def __getitem__(self, index):
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"TrendPoints({len(self)} points)"


class YearScores(Mapping):
    """{year: {unit: [PrincipleScore]}}, each year made when first looked at: a page shows one
    year's scores, while the region's statistics and trends need only the numbers."""

    def __init__(self, fw: Framework, agg: Aggregates, side: str | None, years: Sequence[int]):
        self._fw, self._agg, self._side, self._years = fw, agg, side, list(years)
        self._made: dict[int, dict[str, list[PrincipleScore]]] = {}

    def __getitem__(self, year: int) -> dict[str, list[PrincipleScore]]:
        if year not in self._years:
            raise KeyError(year)
        if year not in self._made:
            self._made[year] = unit_scores(self._fw, self._agg, year, self._side)
        return self._made[year]

    def __iter__(self):
        return iter(self._years)

    def __len__(self) -> int:
        return len(self._years)

    def __repr__(self) -> str:
        return f"YearScores(years={self._years})"


@dataclass(frozen=True)
class Comparison:
    units: list[str]  # units with responses in the selection (any side)
    years: list[int]  # years with responses in the selection
    side: str | None
    year: int | None  # the latest selected year with responses
    scores: Mapping[int, dict[str, list[PrincipleScore]]]  # year -> unit -> scores (units with answers on `side`)
    stats: dict[int, dict[str, Band]]  # year -> principle -> band
    rankings: dict[str, list[RankRow]]  # for `year`
    heatmap: list[HeatCell]  # for `year`
    trends: Sequence[TrendPoint]  # by year, unit, principle (a TrendPoints: made when first used)
    region_trend: list[TrendPoint]
    unit_info: dict[str, tuple[str, str | None]] = field(default_factory=dict)


@contextmanager
def _no_cyclic_gc():
    """Tens of thousands of small acyclic objects (sums, scores) are made here; the cyclic
    collector would only walk the whole heap again and again meanwhile."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def compare(db: Any, fw: Framework, units: Sequence[str] | None = None, years: Sequence[int] | None = None,
            side: str | None = None, region: str | None = None) -> Comparison:
    """Everything a comparison page shows, for the selected units (names), years, side, region."""
    with _no_cyclic_gc():
        agg = load_aggregates(db, fw, units, years, side, region, with_steps=False)
        # Step levels are shown for one year only: load them for that year alone.
        latest = max((y for y in agg.years if agg.units_in(y, side)), default=None)
        if latest is not None:
            places = {aid: place for aid, place in agg.__dict__["_places"].items() if place[1] == latest}
            with engine_of(db).connect() as conn:
                summaries.load_steps(conn, agg, places, sorted(places), side)
        return comparison_from(fw, agg, side)


def comparison_from(fw: Framework, agg: Aggregates, side: str | None = _UNSET) -> Comparison:
    side = agg.side if side is _UNSET else side
    values = _all_score_values(fw, agg, side)
    stats = {y: _bands(fw, v) for y, v in values.items()}
    latest = max(values) if values else None
    pids = [p.id for p in fw.principles]
    ranked = {}
    if latest is not None:
        ranked = {pid: _ranked([(u, row[i]) for u, row in values[latest].items()]) for i, pid in enumerate(pids)}
    return Comparison(
        units=agg.units, years=agg.years, side=side, year=latest,
        scores=YearScores(fw, agg, side, sorted(values)), stats=stats, rankings=ranked,
        heatmap=heatmap(fw, agg, latest, side) if latest is not None else [],
        trends=TrendPoints(pids, values),
        region_trend=[TrendPoint("median", pid, y, b.median) for y, st in stats.items() for pid, b in st.items()],
        unit_info=agg.unit_info,
    )


def comparison_table(fw: Framework, comparison: Comparison, lang: str,
                     year: int | None = None) -> tuple[list[str], list[list]]:
    """Unit, then per principle its score and rank; the region's quartiles as the last rows."""
    from ..i18n import t

    year = comparison.year if year is None else year
    scores = comparison.scores.get(year, {})
    ranks = rankings(fw, scores) if year != comparison.year else comparison.rankings
    rank_of = {pid: {row.unit: row.rank for row in rows} for pid, rows in ranks.items()}
    header = [t("regional.col.unit", lang)]
    for p in fw.principles:
        header += [p.name(lang), t("regional.col.rank", lang)]
    rows = []
    for unit in sorted(scores):
        row: list = [unit]
        by_id = {s.principle_id: s.score for s in scores[unit]}
        for p in fw.principles:
            row += [by_id.get(p.id), rank_of.get(p.id, {}).get(unit)]
        rows.append(row)
    stats = comparison.stats.get(year, {})
    for label, attr in (("regional.stat.q1", "q1"), ("regional.stat.median", "median"), ("regional.stat.q3", "q3")):
        row = [t(label, lang)]
        for p in fw.principles:
            band = stats.get(p.id)
            row += [getattr(band, attr) if band else None, None]
        rows.append(row)
    return header, rows


# The database side, for the pages and the report (they use compare.* only).
data_version = summaries.data_version
unit_info = summaries.unit_info
refresh_summaries = summaries.refresh_summaries
clear_cache = summaries.clear_cache
SUMMARY_TABLES = summaries.SUMMARY_TABLES
