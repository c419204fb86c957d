"""The sums every comparison statistic is computed from: per unit, year and side, the
rating sums per principle and the respondents per level and step.

Built from the database (``load_aggregates``, reading the per-assessment summaries of
``regional.summaries``) or from ``Response`` objects (``aggregate_responses``); both give
the same numbers. Scores follow ``scoring``: pooled ratings, 'dont_know' left out,
score = the mean's position on the scale (``scoring.scores.scale_score``: (mean - min) /
(max - min) * 100, rounded to 0.1). Several cases of one unit and year are pooled.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

from ..framework.matrix import Framework
from ..framework.responses import DONT_KNOW, Response
from ..scoring.scores import PrincipleScore, scale_score
from ..store.engine import engine_of
from . import summaries
from .summary_freshness import ensure_summaries

SIDES = ("public", "civil_society")


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


# Default of a `side` parameter: the side the Aggregates were made for.
AGG_SIDE: Any = object()


def unit_scores(fw: Framework, agg: Aggregates, year: int, side: str | None = AGG_SIDE) -> dict[str, list[PrincipleScore]]:
    """Per unit with respondents that year: scoring.principle_scores of its pooled responses."""
    side = agg.side if side is AGG_SIDE else side
    principles = [(p.id, len(p.statements)) for p in fw.principles]
    none = (0, 0, 0)
    out = {}
    for unit in agg.units_in(year, side):
        n, sums = _pooled(agg, unit, year, side)
        scores = []
        for pid, statements in principles:
            answered, total, dont_know = sums.get(pid, none)
            scores.append(PrincipleScore(pid, scale_score(fw.scale, total, answered), answered, dont_know,
                                         n * statements - answered - dont_know, statements))
        out[unit] = scores
    return out


def score_values(fw: Framework, agg: Aggregates, year: int, side: str | None = AGG_SIDE) -> dict[str, list[float | None]]:
    """Per unit: just the scores of unit_scores (framework order), without the counts; cheap
    enough to compute for every year and unit of a region."""
    side = agg.side if side is AGG_SIDE else side
    scale = fw.scale
    pids = [p.id for p in fw.principles]
    out = {}
    for unit in agg.units_in(year, side):
        sums = agg.principles.get((unit, year, side), {})
        row = []
        for pid in pids:
            found = sums.get(pid)
            row.append(scale_score(scale, found[1], found[0]) if found else None)
        out[unit] = row
    return out


def all_score_values(fw: Framework, agg: Aggregates, side: str | None) -> dict[int, dict[str, list]]:
    """score_values of every year in one pass: {year: {unit: scores}}, years and units sorted."""
    scale = fw.scale
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
            row.append(scale_score(scale, found[1], found[0]) if found else None)
        by_year[key[1]][key[0]] = row
    for (unit, year, s), n in respondents.items():  # respondents who rated nothing
        if s == side and n and unit not in by_year[year]:
            by_year[year][unit] = [None] * len(pids)
    return {y: dict(sorted(by_year[y].items())) for y in sorted(by_year) if by_year[y]}


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
    ensure_summaries(engine, fw, unit_names, years, region)

    agg = Aggregates(side=side)
    with engine.connect() as conn:
        places = summaries.places(conn, summaries.selection_filters(unit_names, years, region))
        agg.unit_info = {name: info for name, *info in conn.execute(
            summaries.unit_info_query(sorted({u for u, _y in places.values()})))}
        selection = None if (unit_names, years, region) == (None, None, None) else sorted(places)
        summaries.load_summaries(conn, agg, places, selection, side, with_steps)
    agg.__dict__["_places"] = places  # for compare(): the step levels of one year
    return agg
