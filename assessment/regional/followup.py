"""Yearly follow-up of an agreement's commitments, and progress per principle and party.

Each commitment gets one status per year. The agreement itself is stored as a
snapshot, so a follow-up keeps the wording it was made against even when the
YAML file is edited later.

Progress score (0-100) of a group of commitments for one year:
    100 * (done + 0.5 * under_way) / (commitments - not_applicable)
A commitment without a recorded status counts as not_started (nothing reported
means no progress shown); not_applicable ones leave the denominator. A
commitment tagged with several principles counts fully under each of them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Iterable, Mapping

import sqlalchemy as sa

from ..framework.matrix import Framework
from ..store.engine import engine_of, utcnow, writer
from ..store.tables import YEAR_MAX, YEAR_MIN, agreements_table, followups_table
from .agreements import PARTIES, Agreement, agreement_from_data

STATUSES = ("not_started", "under_way", "done", "not_applicable")
UNRECORDED = "unrecorded"
STATUS_WEIGHT = {"done": 1.0, "under_way": 0.5, "not_started": 0.0}


@dataclass(frozen=True)
class FollowUp:
    agreement_id: str
    commitment_id: str
    year: int
    status: str
    note: str
    updated_at: datetime | None = None


@dataclass(frozen=True)
class Progress:
    group: str  # principle id, party id or 'all'
    total: int  # commitments in the group
    counts: dict[str, int] = field(default_factory=dict)  # status (and 'unrecorded') -> commitments
    shares: dict[str, float] = field(default_factory=dict)  # same, as a share of total (0..1)
    score: float | None = None  # see module docstring


@dataclass(frozen=True)
class Change:
    group: str
    score_before: float | None
    score_after: float | None
    delta: float | None
    newly_done: tuple[str, ...] = ()  # commitment ids done now but not before
    regressed: tuple[str, ...] = ()  # commitment ids whose weight went down


# --- database ---------------------------------------------------------------------------------

def save_agreement(db: Any, agreement: Agreement, conn: sa.Connection | None = None) -> None:
    """Insert or replace the stored snapshot of an agreement."""
    row = {"id": agreement.id, "unit": agreement.unit, "title_sv": agreement.title.sv,
           "title_en": agreement.title.en, "snapshot": agreement.to_data(), "saved_at": utcnow()}
    if conn is None:
        with writer(engine_of(db)).begin() as conn:
            _upsert_agreement(conn, row)
    else:
        _upsert_agreement(conn, row)


def _upsert_agreement(conn: sa.Connection, row: dict) -> None:
    t = agreements_table
    updated = conn.execute(t.update().where(t.c.id == row["id"]).values(**row)).rowcount
    if not updated:
        conn.execute(t.insert().values(**row))


def _from_snapshot(snapshot: Any, fw: Framework | None) -> Agreement:
    data = json.loads(snapshot) if isinstance(snapshot, str) else snapshot
    if fw is None:
        # Stored snapshots were validated when saved; skip the framework cross-check.
        return Agreement.model_validate(data)
    return agreement_from_data(data, fw, "database")


def get_agreement(db: Any, agreement_id: str, fw: Framework | None = None) -> Agreement | None:
    with engine_of(db).connect() as conn:
        snapshot = conn.execute(sa.select(agreements_table.c.snapshot)
                                .where(agreements_table.c.id == agreement_id)).scalar()
    return None if snapshot is None else _from_snapshot(snapshot, fw)


def list_agreements(db: Any, unit: str | None = None) -> list[Agreement]:
    query = sa.select(agreements_table.c.snapshot).order_by(agreements_table.c.id)
    if unit is not None:
        query = query.where(agreements_table.c.unit == unit)
    with engine_of(db).connect() as conn:
        return [_from_snapshot(s, None) for s in conn.execute(query).scalars()]


def check_followup(agreement: Agreement | None, agreement_id: str, commitment_id: str, year: Any,
                   status: Any) -> list[tuple[str, str]]:
    """(field, message) for everything wrong with one follow-up; empty when it is fine."""
    problems = []
    if agreement is None:
        problems.append(("agreement", f"unknown agreement '{agreement_id}'"))
    elif commitment_id not in agreement.commitment_by_id:
        problems.append(("commitment", f"agreement '{agreement_id}' has no commitment '{commitment_id}'"))
    if not isinstance(year, int) or isinstance(year, bool) or not YEAR_MIN <= year <= YEAR_MAX:
        problems.append(("year", f"year must be a whole number from {YEAR_MIN} to {YEAR_MAX} (got {year!r})"))
    if status not in STATUSES:
        problems.append(("status", f"unknown status {status!r} (use one of: {', '.join(STATUSES)})"))
    return problems


def set_status(db: Any, agreement_id: str, commitment_id: str, year: int, status: str,
               note: str = "") -> FollowUp:
    """Record (or overwrite) the status of one commitment for one year."""
    agreement = get_agreement(db, agreement_id)
    problems = check_followup(agreement, agreement_id, commitment_id, year, status)
    if problems:
        raise ValueError("; ".join(f"{name}: {message}" for name, message in problems))
    item = FollowUp(agreement_id, commitment_id, year, status, note or "", utcnow())
    with writer(engine_of(db)).begin() as conn:
        upsert_followups(conn, [item])
    return item


def upsert_followups(conn: sa.Connection, items: Iterable[FollowUp]) -> int:
    """Insert or overwrite follow-ups inside the caller's transaction."""
    t = followups_table
    count = 0
    for item in items:
        values = {"status": item.status, "note": item.note or "",
                  "updated_at": item.updated_at or utcnow()}
        key = (t.c.agreement_id == item.agreement_id) & (t.c.commitment_id == item.commitment_id) \
            & (t.c.year == item.year)
        if not conn.execute(t.update().where(key).values(**values)).rowcount:
            conn.execute(t.insert().values(agreement_id=item.agreement_id, commitment_id=item.commitment_id,
                                           year=item.year, **values))
        count += 1
    return count


def _rows_to_followups(rows) -> list[FollowUp]:
    return [FollowUp(r.agreement_id, r.commitment_id, r.year, r.status, r.note or "", r.updated_at)
            for r in rows]


def followups(db: Any, agreement_id: str | None = None) -> list[FollowUp]:
    t = followups_table
    query = sa.select(t).order_by(t.c.agreement_id, t.c.year, t.c.commitment_id)
    if agreement_id is not None:
        query = query.where(t.c.agreement_id == agreement_id)
    with engine_of(db).connect() as conn:
        return _rows_to_followups(conn.execute(query))


def statuses(db: Any, agreement_id: str, year: int) -> dict[str, FollowUp]:
    """The recorded follow-ups of one agreement and year, by commitment id."""
    t = followups_table
    query = sa.select(t).where((t.c.agreement_id == agreement_id) & (t.c.year == year))
    with engine_of(db).connect() as conn:
        return {f.commitment_id: f for f in _rows_to_followups(conn.execute(query))}


def followup_years(db: Any, agreement_id: str) -> list[int]:
    t = followups_table
    query = sa.select(t.c.year).where(t.c.agreement_id == agreement_id).distinct().order_by(t.c.year)
    with engine_of(db).connect() as conn:
        return list(conn.execute(query).scalars())


# --- progress (pure) --------------------------------------------------------------------------

def _status_of(value: Any) -> str:
    if value is None:
        return UNRECORDED
    return value.status if isinstance(value, FollowUp) else str(value)


def progress_of(group: str, commitment_ids: list[str], status_by_id: Mapping[str, Any]) -> Progress:
    counts = {s: 0 for s in (*STATUSES, UNRECORDED)}
    for cid in commitment_ids:
        counts[_status_of(status_by_id.get(cid))] += 1
    total = len(commitment_ids)
    shares = {s: (n / total if total else 0.0) for s, n in counts.items()}
    counted = total - counts["not_applicable"]
    score = None
    if counted:
        # Unrecorded weighs like not_started (0).
        score = round(100 * sum(STATUS_WEIGHT.get(s, 0.0) * n for s, n in counts.items()) / counted, 1)
    return Progress(group, total, counts, shares, score)


def progress_overall(agreement: Agreement, status_by_id: Mapping[str, Any],
                     party: str | None = None) -> Progress:
    return progress_of(party or "all", [c.id for c in agreement.commitments_for(party)], status_by_id)


def progress_by_party(agreement: Agreement, status_by_id: Mapping[str, Any]) -> list[Progress]:
    present = {c.party for c in agreement.commitments}
    return [progress_overall(agreement, status_by_id, party) for party in PARTIES if party in present]


def progress_by_principle(fw: Framework, agreement: Agreement, status_by_id: Mapping[str, Any],
                          party: str | None = None) -> list[Progress]:
    """Framework order; principles without commitments (of that party) are left out."""
    out = []
    for principle in fw.principles:
        ids = [c.id for c in agreement.commitments_for(party, principle.id)]
        if ids:
            out.append(progress_of(principle.id, ids, status_by_id))
    return out


def year_change(fw: Framework, agreement: Agreement, before: Mapping[str, Any], after: Mapping[str, Any],
                party: str | None = None) -> list[Change]:
    """Change from one year's statuses to another's: overall ('all') first, then per principle."""
    groups = [("all", [c.id for c in agreement.commitments_for(party)])]
    groups += [(p.id, ids) for p in fw.principles
               if (ids := [c.id for c in agreement.commitments_for(party, p.id)])]
    out = []
    for group, ids in groups:
        old = progress_of(group, ids, before).score
        new = progress_of(group, ids, after).score
        delta = None if old is None or new is None else round(new - old, 1)
        newly_done = tuple(i for i in ids if _status_of(after.get(i)) == "done"
                           and _status_of(before.get(i)) != "done")
        regressed = tuple(i for i in ids
                          if STATUS_WEIGHT.get(_status_of(after.get(i)), 0.0)
                          < STATUS_WEIGHT.get(_status_of(before.get(i)), 0.0))
        out.append(Change(group, old, new, delta, newly_done, regressed))
    return out


def progress_over_years(db: Any, fw: Framework, agreement: Agreement,
                        years: Iterable[int] | None = None) -> dict[int, list[Progress]]:
    """Progress per principle for every year with follow-ups (or the given years)."""
    years = sorted(years) if years is not None else followup_years(db, agreement.id)
    return {year: progress_by_principle(fw, agreement, statuses(db, agreement.id, year)) for year in years}
