"""Comparison across units and years: scores per unit, region quartiles, rankings,
levels reached per step, trends, and everything a comparison page shows. Filterable
by side.

Pure functions over ``aggregates.Aggregates`` with the semantics of ``scoring``
(pooled ratings, 'dont_know' left out, score = the mean's position on the scale,
(mean - min) / (max - min) * 100, rounded to 0.1; a group's step level = median_low
of the respondents' level ranks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import quantiles
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

from ..framework.matrix import Framework
from ..framework.responses import NO_LEVEL
from ..scoring.scores import PrincipleScore
from ..store.engine import engine_of
from ..store.response_loading import gc_paused
from . import summaries
from .aggregates import AGG_SIDE, Aggregates, all_score_values, load_aggregates, unit_scores

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


def heatmap(fw: Framework, agg: Aggregates, year: int, side: str | None = AGG_SIDE) -> list[HeatCell]:
    """Level reached per unit and step (as scoring.step_levels), units by name, steps in order."""
    side = agg.side if side is AGG_SIDE else side
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


def trends(fw: Framework, agg: Aggregates, side: str | None = AGG_SIDE) -> list[TrendPoint]:
    """A point per unit, principle and year with respondents (score None if nothing rated)."""
    side = agg.side if side is AGG_SIDE else side
    out = []
    for year in agg.years:
        for unit, scores in unit_scores(fw, agg, year, side).items():
            out += [TrendPoint(unit, s.principle_id, year, s.score) for s in scores]
    return sorted(out, key=lambda p: (p.unit, p.principle_id, p.year))


def region_trend(fw: Framework, agg: Aggregates, side: str | None = AGG_SIDE) -> list[TrendPoint]:
    """The median of the units' scores per principle and year (unit = 'median')."""
    side = agg.side if side is AGG_SIDE else side
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


def compare(db: Any, fw: Framework, units: Sequence[str] | None = None, years: Sequence[int] | None = None,
            side: str | None = None, region: str | None = None) -> Comparison:
    """Everything a comparison page shows, for the selected units (names), years, side, region."""
    with gc_paused():
        agg = load_aggregates(db, fw, units, years, side, region, with_steps=False)
        # Step levels are shown for one year only: load them for that year alone.
        latest = max((y for y in agg.years if agg.units_in(y, side)), default=None)
        if latest is not None:
            places = {aid: place for aid, place in agg.__dict__["_places"].items() if place[1] == latest}
            with engine_of(db).connect() as conn:
                summaries.load_steps(conn, agg, places, sorted(places), side)
        return comparison_from(fw, agg, side)


def comparison_from(fw: Framework, agg: Aggregates, side: str | None = AGG_SIDE) -> Comparison:
    side = agg.side if side is AGG_SIDE else side
    values = all_score_values(fw, agg, side)
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
