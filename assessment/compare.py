"""Comparison across units and years: scores per unit, region quartiles, rankings,
levels reached per step, trends. Filterable by side.

Two layers:
- ``Aggregates``: per (unit, year, side) the sums that principle scores and step
  levels are made of. Built from the database (``load_aggregates``) or from
  ``Response`` objects (``aggregate_responses``); both give the same numbers.
- pure functions over Aggregates with the semantics of ``scoring`` (pooled
  ratings, 'dont_know' left out, score = mean / scale max * 100, rounded to 0.1;
  a group's step level = median_low of the respondents' level ranks).

Speed: raw ratings (millions of rows) are summed once per assessment into small
summary tables (``cmp_*``), refreshed lazily when an assessment's responses change
(fingerprint: count, id sum and last update of its responses; a save always bumps
``responses.updated_at``). A comparison then reads a few thousand summary rows.
Several cases of one unit and year are pooled.
"""

from __future__ import annotations

import gc
import hashlib
import json
import threading
from contextlib import contextmanager
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from statistics import quantiles
from typing import Any, Iterable, Mapping, NamedTuple, Sequence

import sqlalchemy as sa

from . import db as dbmod
from .framework import Framework
from .responses import DONT_KNOW, NO_LEVEL, Response
from .scoring import PrincipleScore
from .storage import assessments, ratings, responses, step_answers
from .storage import units as unit_table

SIDES = ("public", "civil_society")
ALL = "all"  # summary rows of both sides together (side None in Aggregates)
# PostgreSQL: a response updated this recently may have a concurrent, not yet committed
# sibling with an older update time; such assessments are re-summed until they are this old.
SETTLE = timedelta(seconds=10)
REFRESH_BATCH = 400  # assessments per summary query

# --- summary tables (derived data: safe to drop, rebuilt on demand) ---------------------------

_fk = dict(ondelete="CASCADE")
summary_state = sa.Table(
    "cmp_state", dbmod.metadata,
    sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id", **_fk), primary_key=True),
    sa.Column("fingerprint", sa.String(200), nullable=False),  # responses' count:id sum:last update
    sa.Column("framework", sa.String(40), nullable=False),  # hash of the statement and step ids summed
    sa.Column("settled", sa.Boolean(create_constraint=False), nullable=False),
)
# One row per assessment and side ('public', 'civil_society', and 'all' for both together):
# the sums per principle and the level counts per step, as small JSON texts. A whole-region
# comparison then reads one row per assessment, not one per principle or step.
summary = sa.Table(
    "cmp_summary", dbmod.metadata,
    sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id", **_fk), primary_key=True),
    sa.Column("side", sa.String(20), primary_key=True),
    sa.Column("respondents", sa.Integer, nullable=False),
    sa.Column("principles", sa.Text, nullable=False),  # {"quality": [answered, value sum, dont_know], ...}
    sa.Column("steps", sa.Text, nullable=False),  # {"agenda": {"dialogue": respondents, ...}, ...}
)
SUMMARY_TABLES = (summary, summary_state)
# "Every summary was up to date when the data looked like this": lets a fresh process (or a
# page after a restart) skip checking each assessment while nothing has changed.
summary_marker = sa.Table(
    "cmp_meta", dbmod.metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
# The change check reads count, id sum and last update of each assessment's responses from
# this index alone (no table rows). Created with the table on new databases, on first use
# on older ones.
responses_change_index = sa.Index("ix_responses_assessment_updated",
                                  responses.c.assessment_id, responses.c.updated_at)
# data_version's "latest update" in one index lookup instead of a scan.
responses_updated_index = sa.Index("ix_responses_updated", responses.c.updated_at)


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


# --- the database path -------------------------------------------------------------------------

def engine_of(db: Any) -> sa.Engine:
    """Accept a storage.Store (anything with .engine) or an Engine."""
    return getattr(db, "engine", db)


SUMMARY_FORMAT = 3  # bump when what the summary rows hold changes: every summary is re-summed


def framework_hash(fw: Framework) -> str:
    """Identifies what a summary was summed against: the format and the matrix's ids."""
    ids = f"{SUMMARY_FORMAT}#" + "|".join(sorted(fw.statement_by_key)) + "#" + "|".join(s.id for s in fw.steps)
    return hashlib.sha1(ids.encode()).hexdigest()


def _filters(unit_names: Sequence[str] | None, years: Sequence[int] | None, region: str | None) -> list:
    where = []
    if unit_names is not None:
        where.append(unit_table.c.name.in_(list(unit_names)))
    if years is not None:
        where.append(assessments.c.year.in_(list(years)))
    if region is not None:
        where.append(unit_table.c.region == region)
    return where


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):  # SQLite without type information
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _fingerprints(conn: sa.Connection, where: list) -> dict[int, tuple[str, datetime | None]]:
    """Per assessment: 'count:id sum:last update' of its responses, and that last update."""
    query = (sa.select(assessments.c.id, sa.func.count(responses.c.id), sa.func.sum(responses.c.id),
                       sa.func.max(responses.c.updated_at))
             .select_from(assessments.join(unit_table, unit_table.c.id == assessments.c.unit_id)
                          .outerjoin(responses, responses.c.assessment_id == assessments.c.id))
             .where(*where).group_by(assessments.c.id))
    out = {}
    for aid, count, id_sum, last in conn.execute(query):
        last = _aware(last)
        out[aid] = (f"{count}:{id_sum or 0}:{last.isoformat() if last else '-'}", last)
    return out


_state_lock = threading.Lock()
_known_fresh: dict[tuple, tuple] = {}  # (url, framework hash) -> (signature, summed) when all were current
_indexed: set[str] = set()  # database URLs where the change index is known to exist


def _ensure_index(engine: sa.Engine) -> None:
    url = str(engine.url)
    if url in _indexed:
        return
    with dbmod.writer(engine).begin() as conn:
        responses_change_index.create(conn, checkfirst=True)
        responses_updated_index.create(conn, checkfirst=True)
    _indexed.add(url)


def refresh_summaries(db: Any, fw: Framework, unit_names: Sequence[str] | None = None,
                      years: Sequence[int] | None = None, region: str | None = None,
                      force: bool = False) -> int:
    """Bring the summary rows of the selected assessments up to date; returns how many were re-summed."""
    engine = engine_of(db)
    fw_hash = framework_hash(fw)
    where = _filters(unit_names, years, region)
    with engine.connect() as conn:
        stored = {r.assessment_id: (r.fingerprint, r.framework, r.settled)
                  for r in conn.execute(sa.select(summary_state).select_from(
                      summary_state.join(assessments, assessments.c.id == summary_state.c.assessment_id)
                      .join(unit_table, unit_table.c.id == assessments.c.unit_id)).where(*where))}
        current = _fingerprints(conn, where)
    stale = [aid for aid, (fp, _last) in current.items()
             if force or stored.get(aid) is None or stored[aid][0] != fp or stored[aid][1] != fw_hash
             or not stored[aid][2]]
    if not stale:
        return 0
    principle_of = {key: p.id for key, (p, _s) in fw.statement_by_key.items()}
    steps_known = set(fw.step_by_id)
    # One short transaction per batch: on SQLite a long one would hold up every answer being saved.
    for start in range(0, len(stale), REFRESH_BATCH):
        for attempt in (1, 2):
            try:
                with dbmod.writer(engine).begin() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": 0x636D7073})
                    _resum(conn, stale[start:start + REFRESH_BATCH], principle_of, steps_known, fw_hash)
                break
            except sa.exc.IntegrityError:
                # PostgreSQL: an assessment deleted while we summed it; once more without it.
                if attempt == 2:
                    raise
    return len(stale)


def _resum(conn: sa.Connection, ids: list[int], principle_of: dict[str, str], steps_known: set[str],
           fw_hash: str) -> None:
    # Fingerprint first: if a write lands between the two reads, the summary is newer than the
    # fingerprint and the next check re-sums it again (never the other way round).
    now = dbmod.utcnow()
    # SQLite runs one writer at a time, taking its timestamp inside the lock: update times
    # follow commit order, so nothing committed later can carry an older time.
    serialised = conn.dialect.name == "sqlite"
    prints = _fingerprints(conn, [assessments.c.id.in_(ids)])
    sides = conn.execute(sa.select(responses.c.assessment_id, responses.c.side, sa.func.count())
                         .where(responses.c.assessment_id.in_(ids))
                         .group_by(responses.c.assessment_id, responses.c.side)).all()
    dont_know = sa.case((ratings.c.value.is_(None), 1), else_=0)
    rating_rows = conn.execute(
        sa.select(responses.c.assessment_id, responses.c.side, ratings.c.statement_key,
                  sa.func.count(ratings.c.value), sa.func.coalesce(sa.func.sum(ratings.c.value), 0),
                  sa.func.sum(dont_know))
        .select_from(responses.join(ratings, ratings.c.response_id == responses.c.id))
        .where(responses.c.assessment_id.in_(ids))
        .group_by(responses.c.assessment_id, responses.c.side, ratings.c.statement_key)).all()
    step_rows = conn.execute(
        sa.select(responses.c.assessment_id, responses.c.side, step_answers.c.step_id,
                  step_answers.c.level, sa.func.count())
        .select_from(responses.join(step_answers, step_answers.c.response_id == responses.c.id))
        .where(responses.c.assessment_id.in_(ids))
        .group_by(responses.c.assessment_id, responses.c.side, step_answers.c.step_id,
                  step_answers.c.level)).all()

    principle_sums: dict[tuple, dict[str, list[int]]] = defaultdict(dict)
    for aid, side, key, answered, total, dk in rating_rows:
        pid = principle_of.get(key)
        if pid is None:  # a statement no longer in the matrix
            continue
        for s in (side, ALL):
            acc = principle_sums[(aid, s)].setdefault(pid, [0, 0, 0])
            acc[0] += int(answered)
            acc[1] += int(total)
            acc[2] += int(dk)
    side_counts: dict[tuple, int] = {}
    for aid, side, n in sides:
        for s in (side, ALL):
            side_counts[(aid, s)] = side_counts.get((aid, s), 0) + int(n)
    step_counts: dict[tuple, dict[str, dict[str, int]]] = defaultdict(dict)
    for aid, side, step_id, level, n in step_rows:
        if step_id in steps_known:
            for s in (side, ALL):
                counts = step_counts[(aid, s)].setdefault(step_id, {})
                counts[level] = counts.get(level, 0) + int(n)
    for table in SUMMARY_TABLES:
        conn.execute(table.delete().where(table.c.assessment_id.in_(ids)))
    rows = [{"assessment_id": a, "side": s, "respondents": n,
             "principles": json.dumps(principle_sums.get((a, s), {}), separators=(",", ":")),
             "steps": json.dumps(step_counts.get((a, s), {}), separators=(",", ":"))}
            for (a, s), n in side_counts.items()]
    states = [{"assessment_id": a, "fingerprint": fp, "framework": fw_hash,
               "settled": serialised or last is None or last < now - SETTLE} for a, (fp, last) in prints.items()]
    for table, values in ((summary, rows), (summary_state, states)):
        if values:
            conn.execute(table.insert(), values)


def _signature(engine: sa.Engine) -> tuple[str, int, bool]:
    """(what the data looks like, how many assessments are summed, whether answers are coming in).

    Each part is an index lookup or a count: about a millisecond even with 100 000 responses.
    A changed answer bumps the latest update time (every Store save does); a new response the
    count and the top id; a deleted one the count; a unit edit the units' hash.
    """
    count, top = sa.func.count, sa.func.max
    _ensure_index(engine)
    query = sa.select(*(sa.select(x).scalar_subquery() for x in (
        count(responses.c.id), top(responses.c.id), top(responses.c.updated_at),
        count(assessments.c.id), top(assessments.c.id))),
        sa.select(count()).select_from(summary_state).scalar_subquery())
    with engine.connect() as conn:
        r = conn.execute(query).one()
        unit_rows = conn.execute(sa.select(unit_table.c.id, unit_table.c.name, unit_table.c.kind,
                                           unit_table.c.region).order_by(unit_table.c.id)).all()
    last = _aware(r[2])
    signature = json.dumps([int(r[0]), int(r[1] or 0), last.isoformat() if last else None, int(r[3]),
                            int(r[4] or 0), hashlib.sha1(repr([tuple(u) for u in unit_rows]).encode()).hexdigest()])
    # PostgreSQL: while answers are coming in, a slower transaction may still commit an older
    # update time, so recent data is never taken as known.
    busy = engine.dialect.name != "sqlite" and last is not None and last > dbmod.utcnow() - SETTLE
    return signature, int(r[5] or 0), busy


def data_version(db: Any) -> tuple:
    """Changes whenever units, assessments or responses change (for caches in the pages).

    It may also change once after a comparison brought its summaries up to date (summaries
    dropped with their assessment are noticed in the summed count even when the same ids and
    update times come back: SQLite reuses ids, imports keep update times), and on PostgreSQL
    it changes on every call for a few seconds after the latest answer."""
    engine = engine_of(db)
    signature, summed, busy = _signature(engine)
    return (str(engine.url), signature, summed, dbmod.utcnow().timestamp() if busy else None)


def unit_info(db: Any) -> dict[str, tuple[str, str | None]]:
    """{unit name: (kind, region)} for every unit."""
    with engine_of(db).connect() as conn:
        return {name: (kind, region) for name, kind, region in
                conn.execute(sa.select(unit_table.c.name, unit_table.c.kind, unit_table.c.region))}


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
    _ensure_summaries(engine, fw, unit_names, years, region)

    agg = Aggregates(side=side)
    with engine.connect() as conn:
        places = _places(conn, _filters(unit_names, years, region))
        agg.unit_info = {name: info for name, *info in conn.execute(
            sa.select(unit_table.c.name, unit_table.c.kind, unit_table.c.region)
            .where(unit_table.c.name.in_(sorted({u for u, _y in places.values()}))))}
        selection = None if (unit_names, years, region) == (None, None, None) else sorted(places)
        _load_summaries(conn, agg, places, selection, side, with_steps)
    agg.__dict__["_places"] = places  # for compare(): the step levels of one year
    return agg


def _places(conn: sa.Connection, where: list) -> dict[int, tuple[str, int]]:
    """{assessment id: (unit name, year)} of the selected assessments."""
    return {aid: (name, year) for aid, name, year in conn.execute(
        sa.select(assessments.c.id, unit_table.c.name, assessments.c.year)
        .select_from(assessments.join(unit_table, unit_table.c.id == assessments.c.unit_id))
        .where(*where)).all()}


def _summary_rows(conn: sa.Connection, columns: Sequence, selection: Sequence[int] | None,
                  side: str | None) -> list:
    """Summary rows of one side (or 'all'), of the selected assessments (None: every one)."""
    query = sa.select(summary.c.assessment_id, *columns).where(summary.c.side == (side or ALL))
    if selection is None:
        return conn.execute(query).all()
    rows = []
    for start in range(0, len(selection), 5000):
        rows += conn.execute(query.where(summary.c.assessment_id.in_(selection[start:start + 5000]))).all()
    return rows


def _load_summaries(conn: sa.Connection, agg: Aggregates, places: dict[int, tuple[str, int]],
                    selection: Sequence[int] | None, side: str | None, with_steps: bool) -> None:
    loads = json.loads
    for aid, n, text in _summary_rows(conn, [summary.c.respondents, summary.c.principles], selection, side):
        place = places.get(aid)
        if place is None:
            continue
        key = (place[0], place[1], side)
        sums = loads(text)
        if key not in agg.respondents:
            agg.respondents[key] = n
            agg.principles[key] = sums
            continue
        agg.respondents[key] += n  # several cases of one unit and year: pooled
        pooled = agg.principles[key]
        for pid, (a, v, d) in sums.items():
            acc = pooled.setdefault(pid, [0, 0, 0])
            acc[0] += a
            acc[1] += v
            acc[2] += d
    if with_steps:
        _load_steps(conn, agg, places, selection, side)


def _load_steps(conn: sa.Connection, agg: Aggregates, places: dict[int, tuple[str, int]],
                selection: Sequence[int] | None, side: str | None) -> None:
    for aid, text in _summary_rows(conn, [summary.c.steps], selection, side):
        place = places.get(aid)
        if place is None:
            continue
        merged = agg.steps.setdefault((place[0], place[1], side), {})
        for step_id, counts in json.loads(text).items():
            target = merged.setdefault(step_id, {})
            for level, n in counts.items():
                target[level] = target.get(level, 0) + n


def _ensure_summaries(engine: sa.Engine, fw: Framework, unit_names: Sequence[str] | None,
                      years: Sequence[int] | None, region: str | None) -> None:
    """Make the selected summaries current, checking each assessment only when the data may
    have changed since every summary was last known to be current."""
    # The signature is taken BEFORE the check: a write landing during the check changes the
    # data after it, so the stored marker will not match it and the next load checks again.
    signature, summed, busy = _signature(engine)
    fw_hash = framework_hash(fw)
    memo_key = (str(engine.url), fw_hash)
    name = f"fresh:{fw_hash}"
    if not busy:
        with _state_lock:
            known = _known_fresh.get(memo_key)
        if known is None:
            with engine.connect() as conn:
                stored = conn.execute(sa.select(summary_marker.c.value)
                                      .where(summary_marker.c.name == name)).scalar()
            known = tuple(json.loads(stored)) if stored else None
        if known == (signature, summed):
            with _state_lock:
                _known_fresh[memo_key] = known
            return
    everything = (unit_names, years, region) == (None, None, None)
    refresh_summaries(engine, fw, None if everything else unit_names, years, region)
    if everything and not busy:
        with engine.connect() as conn:
            summed = conn.execute(sa.select(sa.func.count()).select_from(summary_state)).scalar() or 0
        with dbmod.writer(engine).begin() as conn:
            conn.execute(summary_marker.delete().where(summary_marker.c.name == name))
            conn.execute(summary_marker.insert().values(name=name, value=json.dumps([signature, summed])))
        with _state_lock:
            _known_fresh[memo_key] = (signature, summed)


def clear_cache(db: Any = None) -> None:
    """Forget in this process which summaries are known to be current; with `db`, also drop
    the marker in that database, so the next load checks every assessment."""
    with _state_lock:
        _known_fresh.clear()
    if db is not None:
        with dbmod.writer(engine_of(db)).begin() as conn:
            conn.execute(summary_marker.delete())


# --- everything a comparison page needs ------------------------------------------------------

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
    trends: list[TrendPoint]
    region_trend: list[TrendPoint]
    unit_info: dict[str, tuple[str, str | None]] = field(default_factory=dict)


@contextmanager
def _no_cyclic_gc():
    """Tens of thousands of small acyclic objects (scores, points) are made here; the cyclic
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
    # Step levels are shown for one year only: load them for that year alone.
    agg = load_aggregates(db, fw, units, years, side, region, with_steps=False)
    latest = max((y for y in agg.years if agg.units_in(y, side)), default=None)
    if latest is not None:
        places = {aid: place for aid, place in agg.__dict__["_places"].items() if place[1] == latest}
        with engine_of(db).connect() as conn:
            _load_steps(conn, agg, places, sorted(places), side)
    with _no_cyclic_gc():
        return comparison_from(fw, agg, side)


def comparison_from(fw: Framework, agg: Aggregates, side: str | None = _UNSET) -> Comparison:
    side = agg.side if side is _UNSET else side
    values = {y: v for y in agg.years if (v := score_values(fw, agg, y, side))}
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
        trends=[TrendPoint(u, pid, y, score) for y in sorted(values) for u, row in values[y].items()
                for pid, score in zip(pids, row)],
        region_trend=[TrendPoint("median", pid, y, b.median) for y, st in stats.items() for pid, b in st.items()],
        unit_info=agg.unit_info,
    )


def comparison_table(fw: Framework, comparison: Comparison, lang: str,
                     year: int | None = None) -> tuple[list[str], list[list]]:
    """Unit, then per principle its score and rank; the region's quartiles as the last rows."""
    from .i18n import t

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
