"""Links that grant something: administrator, coordinator, results and invite links.

Only each link's digest is stored (see tokens.py); the token itself is handed out once,
when the link is made, and never listed again. A link is looked up by digest and
compared in constant time; a revoked link opens nothing. A coordinator link covers one
assessment (whoever started it) or a whole unit (given by the administrator).

Also the deployment's access settings (whether the named comparison is published).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ..store import audit
from ..store.engine import aware, engine_of, utcnow, writer
from ..store.tables import access_links, access_settings, assessments, responses, units
from ..store.tokens import digest, matches, new_token

ADMIN_LINK, COORDINATOR_LINK, RESULTS_LINK, INVITE_LINK = "administrator", "coordinator", "results", "invite"
KINDS = (ADMIN_LINK, COORDINATOR_LINK, RESULTS_LINK, INVITE_LINK)
NAMED_COMPARISON = "named_comparison_published"


@dataclass(frozen=True)
class Link:
    """A link as it may be listed: what it opens, never its token."""

    id: int
    kind: str
    assessment_id: int | None
    unit: str | None  # the unit of a unit coordinator link
    created_at: datetime
    created_by: str
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _select_links():
    return (sa.select(access_links, units.c.name.label("unit"))
            .select_from(access_links.outerjoin(units, units.c.id == access_links.c.unit_id)))


def _link(row) -> Link:
    return Link(row.id, row.kind, row.assessment_id, row.unit, aware(row.created_at), row.created_by,
                aware(row.revoked_at))


def _describe(conn: sa.Connection, kind: str, assessment_id: int | None, unit: str | None) -> str:
    """'results link of Exempelstad 2026' for the audit log."""
    if assessment_id is not None:
        row = conn.execute(sa.select(units.c.name, assessments.c.year, assessments.c.case)
                           .select_from(assessments.join(units, units.c.id == assessments.c.unit_id))
                           .where(assessments.c.id == assessment_id)).first()
        if row is not None:
            return f"{kind} link of {row.name} {row.year}" + (f" ({row.case})" if row.case else "")
    return f"{kind} link" + (f" of {unit}" if unit else "")


# --- making, finding, revoking -------------------------------------------------------------------

def create_link(db: Any, kind: str, by: str, assessment_id: int | None = None, unit: str | None = None,
                replace: bool = False, conn: sa.Connection | None = None) -> str:
    """A new link; returns its token (the only time it is seen).

    `replace` revokes the active links of the same kind for the same assessment or unit
    first (a new results link makes the old one stop working). Links made for someone
    else (coordinator links, replacements) are written to the audit log.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind of link {kind!r} (use one of: {', '.join(KINDS)})")
    if conn is None:
        with writer(engine_of(db)).begin() as own:
            return create_link(db, kind, by, assessment_id, unit, replace, own)
    unit_id = None
    if unit is not None:
        unit_id = conn.execute(sa.select(units.c.id).where(units.c.name == unit)).scalar()
        if unit_id is None:
            raise LookupError(f"no unit called {unit!r}")
    if replace:
        _revoke_where(conn, by, access_links.c.kind == kind,
                      access_links.c.assessment_id.is_(None) if assessment_id is None
                      else access_links.c.assessment_id == assessment_id,
                      access_links.c.unit_id.is_(None) if unit_id is None else access_links.c.unit_id == unit_id)
    token = new_token()
    conn.execute(access_links.insert().values(kind=kind, token_hash=digest(token), assessment_id=assessment_id,
                                              unit_id=unit_id, created_at=utcnow(), created_by=by))
    if kind in (COORDINATOR_LINK, ADMIN_LINK) or replace:
        audit.record(db, by, "link-created", _describe(conn, kind, assessment_id, unit), conn=conn)
    return token


def resolve(db: Any, token: str | None) -> Link | None:
    """The active link this token opens, or None (unknown, revoked or empty)."""
    if not token or len(token) > 200:
        return None
    with engine_of(db).connect() as conn:
        row = conn.execute(_select_links().where(access_links.c.token_hash == digest(token),
                                                 access_links.c.revoked_at.is_(None))).first()
    if row is None or not matches(token, row.token_hash):
        return None
    return _link(row)


def personal_link(db: Any, token: str | None) -> tuple[str, int] | None:
    """(response key, assessment id) of a respondent's personal link, or None."""
    if not token or len(token) > 200:
        return None
    with engine_of(db).connect() as conn:
        row = conn.execute(sa.select(responses.c.token, responses.c.assessment_id)
                           .where(responses.c.token == digest(token))).first()
    return (row.token, row.assessment_id) if row is not None and matches(token, row.token) else None


def links_of(db: Any, assessment_id: int | None = None, unit: str | None = None,
             kind: str | None = None) -> list[Link]:
    """The links of an assessment, of a unit, or (neither given) all of them; newest first."""
    query = _select_links().order_by(access_links.c.created_at.desc(), access_links.c.id.desc())
    if assessment_id is not None:
        query = query.where(access_links.c.assessment_id == assessment_id)
    if unit is not None:
            query = query.where(units.c.name == unit)
    if kind is not None:
        query = query.where(access_links.c.kind == kind)
    with engine_of(db).connect() as conn:
        return [_link(row) for row in conn.execute(query)]


def _revoke_where(conn: sa.Connection, by: str, *where) -> int:
    found = conn.execute(sa.select(access_links.c.id, access_links.c.kind, access_links.c.assessment_id,
                                   access_links.c.unit_id)
                         .where(access_links.c.revoked_at.is_(None), *where)).all()
    if not found:
        return 0
    conn.execute(access_links.update().where(access_links.c.id.in_([row.id for row in found]))
                 .values(revoked_at=utcnow()))
    for row in found:
        unit = conn.execute(sa.select(units.c.name).where(units.c.id == row.unit_id)).scalar() \
            if row.unit_id is not None else None
        audit.record(None, by, "link-revoked", _describe(conn, row.kind, row.assessment_id, unit), conn=conn)
    return len(found)


def revoke(db: Any, link_id: int, by: str, assessment_id: int | None = None) -> bool:
    """Revoke one link (only if it belongs to `assessment_id`, when given); False if none was active."""
    where = [access_links.c.id == link_id]
    if assessment_id is not None:
        where.append(access_links.c.assessment_id == assessment_id)
    with writer(engine_of(db)).begin() as conn:
        return _revoke_where(conn, by, *where) > 0


def rotate_admin_token(db: Any, by: str = "command line") -> str:
    """A fresh administrator token; every earlier one stops working."""
    with writer(engine_of(db)).begin() as conn:
        conn.execute(access_links.update().where(access_links.c.kind == ADMIN_LINK,
                                                 access_links.c.revoked_at.is_(None))
                     .values(revoked_at=utcnow()))
        return create_link(db, ADMIN_LINK, by, conn=conn)


# --- settings ------------------------------------------------------------------------------------

def setting(db: Any, name: str, default: Any = None) -> Any:
    with engine_of(db).connect() as conn:
        value = conn.execute(sa.select(access_settings.c.value).where(access_settings.c.name == name)).scalar()
    return default if value is None else json.loads(value)


def set_setting(db: Any, name: str, value: Any, by: str) -> None:
    """Change a setting of the deployment (audited)."""
    text = json.dumps(value)
    with writer(engine_of(db)).begin() as conn:
        updated = conn.execute(access_settings.update().where(access_settings.c.name == name)
                               .values(value=text, updated_at=utcnow())).rowcount
        if not updated:
            conn.execute(access_settings.insert().values(name=name, value=text, updated_at=utcnow()))
        audit.record(None, by, "setting-changed", name, text, conn=conn)
