"""The comparison's summaries: every assessment's ratings and step answers summed once.

Raw ratings (millions of rows) are summed per assessment and side into ``cmp_summary``
(one row per assessment and side, the sums as small JSON texts) with SQLAlchemy Core
GROUP BY queries that run on SQLite and PostgreSQL. A summary is re-summed lazily when
its assessment's responses change: ``cmp_state`` keeps the fingerprint (count, id sum
and last update of the responses; every save bumps ``responses.updated_at``) it was
summed at. When to check at all is ``summary_freshness``'s part.

Derived data only: safe to drop, rebuilt on demand.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

import sqlalchemy as sa

from ..framework.matrix import Framework
from ..store.engine import aware, engine_of, utcnow, writer
from ..store.tables import (SUMMARY_TABLES, assessments, ratings, responses, responses_change_index,
                            responses_updated_index, step_answers, summary, summary_state)
from ..store.tables import units as unit_table

ALL = "all"  # summary rows of both sides together (side None in Aggregates)
# PostgreSQL: a response updated this recently may have a concurrent, not yet committed
# sibling with an older update time; such assessments are re-summed until they are this old.
SETTLE = timedelta(seconds=10)
REFRESH_BATCH = 400  # assessments per summary query


# --- keeping the summaries current ----------------------------------------------------------

SUMMARY_FORMAT = 3  # bump when what the summary rows hold changes: every summary is re-summed


def framework_hash(fw: Framework) -> str:
    """Identifies what a summary was summed against: the format and the matrix's ids."""
    ids = f"{SUMMARY_FORMAT}#" + "|".join(sorted(fw.statement_by_key)) + "#" + "|".join(s.id for s in fw.steps)
    return hashlib.sha1(ids.encode()).hexdigest()


def selection_filters(unit_names: Sequence[str] | None, years: Sequence[int] | None, region: str | None) -> list:
    where = []
    if unit_names is not None:
        where.append(unit_table.c.name.in_(list(unit_names)))
    if years is not None:
        where.append(assessments.c.year.in_(list(years)))
    if region is not None:
        where.append(unit_table.c.region == region)
    return where


def _fingerprints(conn: sa.Connection, where: list) -> dict[int, tuple[str, datetime | None]]:
    """Per selected assessment: 'count:id sum:last update' of its responses, and that last update.

    Read from the (assessment_id, updated_at) index alone; the update time is taken as the
    driver gives it (no per-row parsing): text on SQLite, a datetime on PostgreSQL. The last
    update is one index lookup per assessment (its entries are in update order), not a max()
    over every entry: on SQLite the grouped max() alone costs more than count and id sum together.
    """
    last_update = sa.select(sa.type_coerce(sa.func.max(responses.c.updated_at), sa.String)) \
        .where(responses.c.assessment_id == assessments.c.id).scalar_subquery()
    groups = sa.select(responses.c.assessment_id, sa.func.count().label("n"),
                       sa.func.sum(responses.c.id).label("id_sum")).group_by(responses.c.assessment_id)
    places = assessments
    if where:
        places = assessments.join(unit_table, unit_table.c.id == assessments.c.unit_id)
        chosen = sa.select(assessments.c.id).select_from(places).where(*where)
        groups = groups.where(responses.c.assessment_id.in_(chosen))
    groups = groups.subquery()
    # One statement, so one snapshot: count, id sum and last update always belong together.
    query = sa.select(assessments.c.id, groups.c.n, groups.c.id_sum, last_update).select_from(
        places.outerjoin(groups, groups.c.assessment_id == assessments.c.id)).where(*where)
    out = {}
    for aid, count, id_sum, last in conn.execute(query):
        out[aid] = (f"{count}:{id_sum}:{last}", last if isinstance(last, datetime) else None) \
            if count else ("0:0:-", None)
    return out


_indexed: set[str] = set()  # database URLs where the change index is known to exist


def ensure_change_index(engine: sa.Engine) -> None:
    """Create the indexes the change checks read (new databases have them already)."""
    url = str(engine.url)
    if url in _indexed:
        return
    with writer(engine).begin() as conn:
        responses_change_index.create(conn, checkfirst=True)
        responses_updated_index.create(conn, checkfirst=True)
    _indexed.add(url)


def refresh_summaries(db: Any, fw: Framework, units: Sequence[str] | None = None,
                      years: Sequence[int] | None = None, region: str | None = None,
                      force: bool = False, assessment_ids: Sequence[int] | None = None) -> int:
    """Bring the summary rows of the selected assessments (unit names, years, region, or ids)
    up to date; returns how many were re-summed."""
    engine = engine_of(db)
    fw_hash = framework_hash(fw)
    where = selection_filters(units, years, region)
    if assessment_ids is not None:
        where.append(assessments.c.id.in_(list(assessment_ids)))
    state = sa.select(summary_state.c.assessment_id, summary_state.c.fingerprint)
    # Only current, settled summaries of this framework count as stored (filtered in SQL:
    # fewer rows to turn into Python objects); with no filter, no join either.
    state = state.where(summary_state.c.framework == fw_hash, summary_state.c.settled.is_(True))
    if where:
        state = state.select_from(
            summary_state.join(assessments, assessments.c.id == summary_state.c.assessment_id)
            .join(unit_table, unit_table.c.id == assessments.c.unit_id)).where(*where)
    with engine.connect() as conn:
        stored = dict(conn.execute(state).all()) if not force else {}
        current = _fingerprints(conn, where)
    stale = [aid for aid, (fp, _last) in current.items() if stored.get(aid) != fp]
    if not stale:
        return 0
    principle_of = {key: p.id for key, (p, _s) in fw.statement_by_key.items()}
    steps_known = set(fw.step_by_id)
    # One short transaction per batch: on SQLite a long one would hold up every answer being saved.
    for start in range(0, len(stale), REFRESH_BATCH):
        for attempt in (1, 2):
            try:
                with writer(engine).begin() as conn:
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
    now = utcnow()
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
               "settled": serialised or last is None or aware(last) < now - SETTLE}
              for a, (fp, last) in prints.items()]
    for table, values in ((summary, rows), (summary_state, states)):
        if values:
            conn.execute(table.insert(), values)


def unit_info(db: Any) -> dict[str, tuple[str, str | None]]:
    """{unit name: (kind, region)} for every unit."""
    with engine_of(db).connect() as conn:
        return {name: (kind, region) for name, kind, region in conn.execute(unit_info_query())}


def unit_info_query(names: Sequence[str] | None = None) -> sa.Select:
    """(name, kind, region) of the units called `names` (every unit when None)."""
    query = sa.select(unit_table.c.name, unit_table.c.kind, unit_table.c.region)
    return query if names is None else query.where(unit_table.c.name.in_(list(names)))


# --- reading ----------------------------------------------------------------------------------

def places(conn: sa.Connection, where: list) -> dict[int, tuple[str, int]]:
    """{assessment id: (unit name, year)} of the selected assessments."""
    return {aid: (name, year) for aid, name, year in conn.execute(
        sa.select(assessments.c.id, unit_table.c.name, assessments.c.year)
        .select_from(assessments.join(unit_table, unit_table.c.id == assessments.c.unit_id))
        .where(*where)).all()}


def summary_rows(conn: sa.Connection, columns: Sequence, selection: Sequence[int] | None,
                  side: str | None) -> list:
    """Summary rows of one side (or 'all'), of the selected assessments (None: every one)."""
    query = sa.select(summary.c.assessment_id, *columns).where(summary.c.side == (side or ALL))
    if selection is None:
        return conn.execute(query).all()
    rows = []
    for start in range(0, len(selection), 5000):
        rows += conn.execute(query.where(summary.c.assessment_id.in_(selection[start:start + 5000]))).all()
    return rows


def _decode_all(texts: Iterable[str]) -> list:
    """The JSON texts decoded in one json.loads call (a third of the time of one call each)."""
    return json.loads("[" + ",".join(texts) + "]")


def load_summaries(conn: sa.Connection, agg: Any, places: dict[int, tuple[str, int]],
                    selection: Sequence[int] | None, side: str | None, with_steps: bool) -> None:
    rows = summary_rows(conn, [summary.c.respondents, summary.c.principles], selection, side)
    for (aid, n, _text), sums in zip(rows, _decode_all(row[2] for row in rows)):
        place = places.get(aid)
        if place is None:
            continue
        key = (place[0], place[1], side)
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
        load_steps(conn, agg, places, selection, side)


def load_steps(conn: sa.Connection, agg: Any, places: dict[int, tuple[str, int]],
                selection: Sequence[int] | None, side: str | None) -> None:
    rows = summary_rows(conn, [summary.c.steps], selection, side)
    for (aid, _text), steps in zip(rows, _decode_all(row[1] for row in rows)):
        place = places.get(aid)
        if place is None:
            continue
        merged = agg.steps.setdefault((place[0], place[1], side), {})
        for step_id, counts in steps.items():
            target = merged.setdefault(step_id, {})
            for level, n in counts.items():
                target[level] = target.get(level, 0) + n


