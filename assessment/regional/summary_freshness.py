"""When the comparison's summaries need re-summing, found out as cheaply as the data allows.

The data's signature (response count, top id and latest update, assessment count and top
id, the units) is a handful of index lookups. ``cmp_meta`` remembers the signature at
which every summary was current: while the data still looks like that, nothing is
checked at all; after additions and edits only the assessments with new or updated
responses are; after deletions every selected one is (``summaries.refresh_summaries``).
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import datetime
from typing import Any, Sequence

import sqlalchemy as sa

from ..framework.matrix import Framework
from ..store.engine import aware, engine_of, utcnow, writer
from ..store.tables import assessments, responses, summary_marker, summary_state
from ..store.tables import units as unit_table
from .summaries import SETTLE, ensure_change_index, framework_hash, refresh_summaries

_state_lock = threading.Lock()
_known_fresh: dict[tuple, tuple] = {}  # (url, framework hash) -> (signature, summed) when all were current


def _signature(engine: sa.Engine) -> tuple[str, int, bool, tuple]:
    """(what the data looks like, how many assessments are summed, whether answers are coming
    in, (responses, top response id, latest update as stored)).

    Each part is an index lookup or a count: about a millisecond even with 100 000 responses.
    A changed answer bumps the latest update time (every save of store.answers does); a new response the
    count and the top id; a deleted one the count; a unit edit the units' hash.
    """
    count, top = sa.func.count, sa.func.max
    ensure_change_index(engine)
    # count(*), not count(id): SQLite answers count(*) from its smallest index in well under a
    # millisecond, but reads every id for count(id) (five times slower at 100 000 responses).
    parts = (sa.select(count()).select_from(responses), sa.select(top(responses.c.id)),
             sa.select(sa.type_coerce(top(responses.c.updated_at), sa.String)),
             sa.select(count()).select_from(assessments), sa.select(top(assessments.c.id)),
             sa.select(count()).select_from(summary_state))
    query = sa.select(*(part.scalar_subquery() for part in parts))
    with engine.connect() as conn:
        r = conn.execute(query).one()
        unit_rows = conn.execute(sa.select(unit_table.c.id, unit_table.c.name, unit_table.c.kind,
                                           unit_table.c.region).order_by(unit_table.c.id)).all()
    last = aware(r[2])
    stored_last = r[2].isoformat() if isinstance(r[2], datetime) else r[2]  # as the database compares it
    signature = json.dumps([int(r[0]), int(r[1] or 0), last.isoformat() if last else None, int(r[3]),
                            int(r[4] or 0), hashlib.sha1(repr([tuple(u) for u in unit_rows]).encode()).hexdigest()])
    # PostgreSQL: while answers are coming in, a slower transaction may still commit an older
    # update time, so recent data is never taken as known.
    busy = engine.dialect.name != "sqlite" and last is not None and last > utcnow() - SETTLE
    return signature, int(r[5] or 0), busy, (int(r[0]), int(r[1] or 0), stored_last)


def _touched_since(conn: sa.Connection, position: Sequence) -> list[int] | None:
    """Assessments with responses added or updated since `position` (from _signature); None
    when responses were deleted too (then every assessment has to be checked)."""
    count, top_id, last = position
    added = conn.execute(sa.select(sa.func.count()).where(responses.c.id > top_id)).scalar()
    if conn.execute(sa.select(sa.func.count()).select_from(responses)).scalar() != count + added:
        return None
    touched = set(conn.execute(sa.select(responses.c.assessment_id).where(responses.c.id > top_id)).scalars())
    if last is not None:
        # ">=": a save in the same microsecond as the last one known is checked again, not missed.
        # (Two queries, not one with OR: each uses its index, the id range or ix_responses_updated.)
        if conn.dialect.name == "sqlite":
            later = sa.type_coerce(responses.c.updated_at, sa.String) >= last
        else:
            later = responses.c.updated_at >= datetime.fromisoformat(last)
        touched.update(conn.execute(sa.select(responses.c.assessment_id).where(later)).scalars())
    return sorted(touched)


def data_version(db: Any) -> tuple:
    """Changes whenever units, assessments or responses change (for caches in the pages).

    It may also change once after a comparison brought its summaries up to date (summaries
    dropped with their assessment are noticed in the summed count even when the same ids and
    update times come back: SQLite reuses ids, imports keep update times), and on PostgreSQL
    it changes on every call for a few seconds after the latest answer."""
    engine = engine_of(db)
    signature, summed, busy, _position = _signature(engine)
    return (str(engine.url), signature, summed, utcnow().timestamp() if busy else None)


def ensure_summaries(engine: sa.Engine, fw: Framework, unit_names: Sequence[str] | None,
                     years: Sequence[int] | None, region: str | None) -> None:
    """Make the selected summaries current, checking as little as the data allows: nothing
    while it is as it was when every summary was last known current; only the assessments
    with new or updated responses after additions and edits; every selected one otherwise."""
    # The signature is taken BEFORE any check: a write landing during the check changes the
    # data after it, so the marker written below will not match it and the next load checks again.
    signature, summed, busy, position = _signature(engine)
    fw_hash = framework_hash(fw)
    memo_key = (str(engine.url), fw_hash)
    name = f"fresh:{fw_hash}"
    known = None
    if not busy:
        with _state_lock:
            known = _known_fresh.get(memo_key)
        if known is None:
            with engine.connect() as conn:
                stored = conn.execute(sa.select(summary_marker.c.value)
                                      .where(summary_marker.c.name == name)).scalar()
            known = tuple(json.loads(stored)) if stored else None
        if known is not None and tuple(known[:2]) == (signature, summed):
            with _state_lock:
                _known_fresh[memo_key] = known
            return
    if known is not None and known[1] == summed:
        with engine.connect() as conn:
            touched = _touched_since(conn, known[2])
        if touched is not None and len(touched) <= 5000:
            if touched:
                refresh_summaries(engine, fw, assessment_ids=touched)
            _mark_current(engine, name, memo_key, signature, position)
            return
    everything = (unit_names, years, region) == (None, None, None)
    refresh_summaries(engine, fw, None if everything else unit_names, years, region)
    if everything and not busy:
        _mark_current(engine, name, memo_key, signature, position)


def _mark_current(engine: sa.Engine, name: str, memo_key: tuple, signature: str, position: tuple) -> None:
    with engine.connect() as conn:
        summed = conn.execute(sa.select(sa.func.count()).select_from(summary_state)).scalar() or 0
    value = (signature, summed, list(position))
    with writer(engine).begin() as conn:
        conn.execute(summary_marker.delete().where(summary_marker.c.name == name))
        conn.execute(summary_marker.insert().values(name=name, value=json.dumps(value)))
    with _state_lock:
        _known_fresh[memo_key] = value


def clear_cache(db: Any = None) -> None:
    """Forget in this process which summaries are known to be current; with `db`, also drop
    the marker in that database, so the next load checks every assessment."""
    with _state_lock:
        _known_fresh.clear()
    if db is not None:
        with writer(engine_of(db)).begin() as conn:
            conn.execute(summary_marker.delete())
