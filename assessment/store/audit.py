"""The audit log: writes that change other people's data, with who, what and when.

Imports, replacements, follow-up edits, agreement uploads, links made and revoked,
settings changed. Respondents' own answers are not logged (they are their own data).
An entry names the actor by signed-in identity or by role, never by a link token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from .engine import aware, engine_of, utcnow, writer
from .tables import ACTOR_MAX, audit_log


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str
    action: str
    target: str
    detail: str

    def to_data(self) -> dict[str, str]:
        return {"at": self.at.isoformat(), "actor": self.actor, "action": self.action, "target": self.target,
                "detail": self.detail}


def record(db: Any, actor: str, action: str, target: str, detail: str = "",
           conn: sa.Connection | None = None) -> None:
    """Add one entry; inside the caller's transaction when `conn` is given."""
    row = {"at": utcnow(), "actor": actor[:ACTOR_MAX], "action": action[:40], "target": target[:300],
           "detail": detail or ""}
    if conn is not None:
        conn.execute(audit_log.insert().values(**row))
        return
    with writer(engine_of(db)).begin() as own:
        own.execute(audit_log.insert().values(**row))


def entries(db: Any, limit: int | None = None) -> list[AuditEntry]:
    """Newest first."""
    query = sa.select(audit_log).order_by(audit_log.c.at.desc(), audit_log.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    with engine_of(db).connect() as conn:
        rows = conn.execute(query).all()
    return [AuditEntry(aware(r.at), r.actor, r.action, r.target, r.detail) for r in rows]
