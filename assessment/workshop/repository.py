"""The live workshop in the database: what its three repositories share.

A facilitator creates a workshop and gets a short join code (shown on the screen)
and a secret (kept by the facilitator; only its hash is stored). Participants
join with the code and a side, get a random token (stored hashed, no name), and
vote on the card the facilitator has opened. Every write is one short
transaction, committed before the method returns; a vote is one row per
participant and card, replaced in place when changed.

``control.WorkshopControl`` is the facilitator's side, ``voting.WorkshopVoting``
the phones', ``results.WorkshopResults`` the aggregates and exports; all three
read a workshop as ``WorkshopInfo`` and count votes and placements with the readers below.
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date as Date, datetime
from typing import Any, Callable, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from ..framework.matrix import Framework
from ..scoring.levels import StepLevel
from ..store.engine import make_engine, writer
from ..store.migrations import init_db
from ..store.tables import workshop_participants, workshop_placements, workshop_votes, workshops
from .decks import Card, Deck
from .errors import UnknownParticipant, UnknownWorkshop
from .tallies import GROUPS, SIDES, Tally, matrix_levels, tally_votes


@dataclass(frozen=True)
class WorkshopInfo:
    code: str
    name: str
    unit: str
    date: Date
    lang: str
    deck: Deck
    steps: list[str]  # matrix round steps ([] when the deck has no matrix round)
    levels: list[str]  # matrix round levels, lowest first ('none' not included)
    extensions: tuple[str, ...]
    phase: str
    current_index: int
    revealed: bool
    version: int
    created_at: datetime

    @property
    def current_card(self) -> Card | None:
        if self.phase != "statements":
            return None
        return self.deck.cards[self.current_index]

    @property
    def card_count(self) -> int:
        return len(self.deck.cards)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def normalize_code(text: str | None) -> str:
    """What people type: any case, spaces or dashes ('abc-123' -> 'ABC123')."""
    return "".join(ch for ch in (text or "").upper() if ch not in " -\t\n")


def checked_code(text: str | None) -> str:
    """The normalized code; one that cannot be a join code (codes are letters and digits) is
    unknown without asking the database."""
    code = normalize_code(text)
    if not (code.isascii() and code.isalnum()):
        raise UnknownWorkshop(code=code[:20] or "''")
    return code


_SQLITE_LOCKS: dict[str, threading.Lock] = {}
_SQLITE_LOCKS_GUARD = threading.Lock()


def _sqlite_lock(engine: Engine) -> threading.Lock:
    # One writer at a time per file in this process: threads then queue on a fair, fast
    # Python lock instead of SQLite's sleeping busy handler (busy_timeout still covers
    # other processes).
    key = str(engine.url.database)
    with _SQLITE_LOCKS_GUARD:
        return _SQLITE_LOCKS.setdefault(key, threading.Lock())


class WorkshopRepository:
    """Workshops on an engine from store.engine (schema created by store.migrations.init_db)."""

    def __init__(self, engine: Engine, fw: Framework | None = None):
        self.engine = engine
        self._fw = fw
        self._sqlite = engine.dialect.name == "sqlite"
        self._statements: dict[object, Any] = {}

    def _cached(self, name: object, build: Callable[[], Any]):
        """A statement built once per repository: a room runs the same few thousands of
        times, and building one costs more than running it."""
        statement = self._statements.get(name)
        if statement is None:
            statement = self._statements[name] = build()
        return statement

    @classmethod
    def open(cls, url: str | None = None, fw: Framework | None = None):
        engine = make_engine(url)
        init_db(engine)
        return cls(engine, fw)

    @property
    def fw(self) -> Framework:
        if self._fw is None:
            from ..framework.matrix import get_framework
            self._fw = get_framework()
        return self._fw

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """One short write transaction, committed on leaving the block."""
        if self._sqlite:
            with _sqlite_lock(self.engine), writer(self.engine).begin() as conn:
                yield conn
        else:
            with self.engine.begin() as conn:
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        # One transaction, so a view is consistent (SQLite: one WAL snapshot).
        with self.engine.begin() as conn:
            yield conn

    def _workshop_row(self, conn: Connection, code: str, for_update: bool = False):
        code = checked_code(code)
        lock = for_update and not self._sqlite

        def build():
            query = sa.select(workshops).where(workshops.c.code == sa.bindparam("code"))
            return query.with_for_update() if lock else query
        row = conn.execute(self._cached(("workshop_by_code", lock), build), {"code": code}).mappings().first()
        if row is None:
            raise UnknownWorkshop(code=code)
        return row

    def _info(self, row) -> WorkshopInfo:
        snapshot = row["deck"] if isinstance(row["deck"], dict) else json.loads(row["deck"])
        matrix = snapshot.get("matrix") or {}
        return WorkshopInfo(
            code=row["code"], name=row["name"], unit=row["unit"], date=row["date"], lang=row["lang"],
            deck=Deck.model_validate(snapshot["deck"]), steps=list(matrix.get("steps", [])),
            levels=list(matrix.get("levels", [])), extensions=tuple(matrix.get("extensions", [])),
            phase=row["phase"], current_index=row["current_index"], revealed=bool(row["revealed"]),
            version=row["version"], created_at=row["created_at"])

    def _participant(self, conn: Connection, token: str):
        p = workshop_participants
        row = conn.execute(self._cached("participant", lambda: sa.select(p.c.id, p.c.workshop_id, p.c.side, p.c.role)
                                        .where(p.c.token_hash == sa.bindparam("token_hash"))),
                           {"token_hash": hash_token(token or "")}).first()
        if row is None:
            raise UnknownParticipant()
        return row

    def get_workshop(self, code: str) -> WorkshopInfo:
        with self._read() as conn:
            return self._info(self._workshop_row(conn, code))

    def _tally(self, conn: Connection, workshop_id: int, card_id: str) -> Tally:
        rows = conn.execute(
            sa.select(workshop_participants.c.side, workshop_votes.c.value, sa.func.count())
            .join(workshop_participants, workshop_participants.c.id == workshop_votes.c.participant_id)
            .where(workshop_votes.c.workshop_id == workshop_id, workshop_votes.c.card_id == card_id)
            .group_by(workshop_participants.c.side, workshop_votes.c.value)).all()
        return tally_votes(card_id, rows)

    def _summary(self, conn: Connection, row) -> list[Tally]:
        rows = conn.execute(
            sa.select(workshop_votes.c.card_id, workshop_participants.c.side, workshop_votes.c.value,
                      sa.func.count())
            .join(workshop_participants, workshop_participants.c.id == workshop_votes.c.participant_id)
            .where(workshop_votes.c.workshop_id == row["id"])
            .group_by(workshop_votes.c.card_id, workshop_participants.c.side, workshop_votes.c.value)).all()
        by_card: dict[str, list[tuple[str, str, int]]] = {}
        for card_id, side, value, count in rows:
            by_card.setdefault(card_id, []).append((side, value, count))
        return [tally_votes(card.id, by_card.get(card.id, ())) for card in self._info(row).deck.cards]

    def _participant_counts(self, conn: Connection, workshop_id: int) -> dict[str, int]:
        counts = dict(conn.execute(
            sa.select(workshop_participants.c.side, sa.func.count())
            .where(workshop_participants.c.workshop_id == workshop_id)
            .group_by(workshop_participants.c.side)).all())
        return {side: counts.get(side, 0) for side in SIDES}

    def _matrix(self, conn: Connection, workshop_id: int, info: WorkshopInfo) -> dict[str, list[StepLevel]]:
        rows = conn.execute(
            sa.select(workshop_participants.c.side, workshop_placements.c.step_id,
                      workshop_placements.c.level_id, sa.func.count())
            .join(workshop_participants, workshop_participants.c.id == workshop_placements.c.participant_id)
            .where(workshop_placements.c.workshop_id == workshop_id)
            .group_by(workshop_participants.c.side, workshop_placements.c.step_id,
                      workshop_placements.c.level_id)).all()
        out = {}
        for group in GROUPS:
            chosen = [(step, level, n) for side, step, level, n in rows if group in ("overall", side)]
            out[group] = matrix_levels(info.steps, info.levels, chosen)
        return out
