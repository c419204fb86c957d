"""The live workshop in the database: join codes, cards, anonymous participants, votes.

A facilitator creates a workshop and gets a short join code (shown on the screen)
and a secret (kept by the facilitator; only its hash is stored). Participants
join with the code and a side, get a random token (stored hashed, no name), and
vote on the card the facilitator has opened. Every write is one short
transaction, committed before the method returns; a vote is one row per
participant and card, replaced in place when changed.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import secrets
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date as Date, datetime, timezone
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from ..framework.matrix import Framework
from ..framework.responses import NO_LEVEL
from ..scoring.scores import StepLevel
from ..store.engine import make_engine, writer
from ..store.migrations import init_db
from ..store.tables import workshop_cards, workshop_participants, workshop_placements, workshop_votes, workshops
from .decks import Card, Deck
from .tallies import (GROUPS, PHASES, ROLES, SIDES, VOTE_VALUES, Tally, matrix_levels,
                      summary_order, tallies_to_rows, tally_votes)

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I/1, O/0: read off a cinema screen
CODE_LENGTH = 6
LANGS = ("sv", "en")
# A card's stored state as participants see it: 'new' means the facilitator has not opened it yet.
PARTICIPANT_CARD_STATUS = {"new": "pending", "open": "open", "closed": "closed"}

# --- errors ------------------------------------------------------------------------------------


class WorkshopError(Exception):
    """A refusal with a message for people: ``t(err.key, lang, **err.values)``."""

    key = "workshop.error.bad_field"
    english = "invalid input"

    def __init__(self, key: str | None = None, english: str | None = None, **values: Any):
        self.key = key or self.key
        self.values = values
        super().__init__((english or self.english).format(**values))


class Forbidden(WorkshopError):
    key = "workshop.error.forbidden"
    english = "wrong or missing facilitator secret"


class UnknownWorkshop(WorkshopError):
    key = "workshop.error.unknown_code"
    english = "there is no workshop with the code {code}"


class UnknownParticipant(WorkshopError):
    key = "workshop.error.unknown_participant"
    english = "unknown participant token; join again"


class Refused(WorkshopError):
    """The workshop's state does not allow this now (card closed, workshop ended...)."""


VoteRefused = Refused


class InvalidInput(WorkshopError):
    pass


def _ended() -> Refused:
    return Refused("workshop.error.ended", "the workshop has ended")


# --- views -------------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class ParticipantView:
    code: str
    name: str
    unit: str
    lang: str
    phase: str
    version: int
    card_index: int
    card_count: int
    card: Card | None  # the card on screen (statements phase)
    # 'pending' (not opened yet) | 'open' | 'closed'; None without a card (matrix round, ended).
    # Phones say "wait for the facilitator" before a card opens and "voting closed" after.
    card_status: str | None
    revealed: bool
    tally: Tally | None  # the current card's tally, only when revealed
    matrix: dict[str, list[StepLevel]] | None  # only when revealed in the matrix phase
    steps: list[str]
    levels: list[str]
    my_vote: str | None = None
    my_placements: dict[str, str] = field(default_factory=dict)
    # The asking participant's own side and role (None without a token, role None if not given):
    # after a reload the phone can still say whom it votes for. Never anyone else's.
    my_side: str | None = None
    my_role: str | None = None

    @property
    def card_open(self) -> bool:
        return self.card_status == "open"


@dataclass(frozen=True)
class FacilitatorView:
    info: WorkshopInfo
    card: Card | None
    card_open: bool
    card_states: dict[str, str]  # card id -> 'new' | 'open' | 'closed'
    tally: Tally | None  # current card
    participants: dict[str, int]  # side -> joined
    votes_on_card: int
    matrix: dict[str, list[StepLevel]]


# --- helpers -----------------------------------------------------------------------------------


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(text: str | None) -> str:
    """What people type: any case, spaces or dashes ('abc-123' -> 'ABC123')."""
    return "".join(ch for ch in (text or "").upper() if ch not in " -\t\n")


_SQLITE_LOCKS: dict[str, threading.Lock] = {}
_SQLITE_LOCKS_GUARD = threading.Lock()


def _sqlite_lock(engine: Engine) -> threading.Lock:
    # One writer at a time per file in this process: threads then queue on a fair, fast
    # Python lock instead of SQLite's sleeping busy handler (busy_timeout still covers
    # other processes).
    key = str(engine.url.database)
    with _SQLITE_LOCKS_GUARD:
        return _SQLITE_LOCKS.setdefault(key, threading.Lock())


def _to_date(value: Date | str) -> Date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, Date):
        return value
    try:
        return Date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput("workshop.error.bad_field", "{field} is missing or invalid", field="date") from None


# --- the store ---------------------------------------------------------------------------------


class WorkshopStore:
    """Workshops on an engine from store.engine (schema created by store.migrations.init_db)."""

    def __init__(self, engine: Engine, fw: Framework | None = None):
        self.engine = engine
        self._fw = fw
        self._sqlite = engine.dialect.name == "sqlite"
        self._statements: dict[object, Any] = {}

    @classmethod
    def open(cls, url: str | None = None, fw: Framework | None = None) -> "WorkshopStore":
        engine = make_engine(url)
        init_db(engine)
        return cls(engine, fw)

    @property
    def fw(self) -> Framework:
        if self._fw is None:
            from ..framework.matrix import get_framework
            self._fw = get_framework()
        return self._fw

    # transactions

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

    # rows

    def _workshop_row(self, conn: Connection, code: str, for_update: bool = False):
        code = normalize_code(code)
        query = sa.select(workshops).where(workshops.c.code == code)
        if for_update and not self._sqlite:
            query = query.with_for_update()
        row = conn.execute(query).mappings().first()
        if row is None:
            raise UnknownWorkshop(code=code or "''")
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
        row = conn.execute(
            sa.select(workshop_participants.c.id, workshop_participants.c.workshop_id,
                      workshop_participants.c.side, workshop_participants.c.role)
            .where(workshop_participants.c.token_hash == _hash(token or ""))).first()
        if row is None:
            raise UnknownParticipant()
        return row

    # --- facilitator ---------------------------------------------------------------------------

    def create_workshop(self, name: str, unit: str, date: Date | str, lang: str, deck: Deck,
                        extensions: tuple[str, ...] | list[str] = ()) -> tuple[str, str]:
        """A new workshop on the deck's first card (not yet open); returns (code, secret)."""
        name, unit = (name or "").strip(), (unit or "").strip()
        if not name:
            raise InvalidInput("workshop.error.bad_field", "{field} is missing or invalid", field="name")
        if lang not in LANGS:
            raise InvalidInput("workshop.error.bad_lang", "the language must be sv or en (got {lang})", lang=lang)
        if not isinstance(deck, Deck):
            raise InvalidInput("workshop.error.bad_field", "{field} is missing or invalid", field="deck")
        day = _to_date(date)
        matrix: dict[str, list[str]] = {"steps": [], "levels": [], "extensions": []}
        if deck.matrix_round:
            optional = {lv.id for lv in self.fw.optional_levels}
            for ext in extensions:
                if ext not in optional:
                    raise InvalidInput("workshop.error.bad_level", "the level {level} is not in the matrix",
                                       level=ext)
            matrix = {"steps": [s.id for s in self.fw.steps],
                      "levels": [lv.id for lv in self.fw.active_levels(list(extensions))],
                      "extensions": list(extensions)}
        snapshot = {"deck": deck.model_dump(mode="json"), "matrix": matrix}
        secret = secrets.token_urlsafe(18)
        now = _now()
        for _attempt in range(20):
            code = new_code()
            try:
                with self._write() as conn:
                    workshop_id = conn.execute(workshops.insert().values(
                        code=code, secret_hash=_hash(secret), name=name, unit=unit, date=day, lang=lang,
                        deck=snapshot, current_index=0, revealed=False, phase="statements", version=0,
                        created_at=now, updated_at=now).returning(workshops.c.id)).scalar_one()
                    conn.execute(workshop_cards.insert(), [
                        {"workshop_id": workshop_id, "card_id": card.id, "position": i, "state": "new"}
                        for i, card in enumerate(deck.cards)])
                return code, secret
            except sa.exc.IntegrityError:
                continue  # the code was taken: draw another
        raise RuntimeError("could not find a free join code")  # pragma: no cover - 1e9 codes

    def check_secret(self, code: str, secret: str | None) -> bool:
        with self._read() as conn:
            row = self._workshop_row(conn, code)
        return bool(secret) and hmac.compare_digest(row["secret_hash"], _hash(secret))

    @contextmanager
    def _facilitate(self, code: str, secret: str | None) -> Iterator[tuple[Connection, Any]]:
        """A write transaction on a workshop whose secret was given; bumps its version."""
        with self._write() as conn:
            row = self._workshop_row(conn, code, for_update=True)
            if not secret or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
                raise Forbidden()
            if row["phase"] == "ended":
                raise _ended()
            yield conn, row
            conn.execute(workshops.update().where(workshops.c.id == row["id"])
                         .values(version=workshops.c.version + 1, updated_at=_now()))

    def _set_card_state(self, conn: Connection, workshop_id: int, position: int, state: str) -> None:
        conn.execute(workshop_cards.update()
                     .where(workshop_cards.c.workshop_id == workshop_id, workshop_cards.c.position == position)
                     .values(state=state))

    def _close_open_cards(self, conn: Connection, workshop_id: int) -> None:
        conn.execute(workshop_cards.update()
                     .where(workshop_cards.c.workshop_id == workshop_id, workshop_cards.c.state == "open")
                     .values(state="closed"))

    def _update(self, conn: Connection, row, **values: Any) -> None:
        conn.execute(workshops.update().where(workshops.c.id == row["id"]).values(**values))

    def open_card(self, code: str, secret: str | None) -> FacilitatorView:
        """Open the current card for votes (again, if it was closed: votes are kept)."""
        with self._facilitate(code, secret) as (conn, row):
            if row["phase"] != "statements":
                raise Refused("workshop.error.not_current", "no statement is being shown")
            self._set_card_state(conn, row["id"], row["current_index"], "open")
        return self.facilitator_state(code, secret)

    def close_card(self, code: str, secret: str | None) -> FacilitatorView:
        with self._facilitate(code, secret) as (conn, row):
            self._close_open_cards(conn, row["id"])
        return self.facilitator_state(code, secret)

    def reveal(self, code: str, secret: str | None) -> FacilitatorView:
        with self._facilitate(code, secret) as (conn, row):
            self._update(conn, row, revealed=True)
        return self.facilitator_state(code, secret)

    def hide(self, code: str, secret: str | None) -> FacilitatorView:
        with self._facilitate(code, secret) as (conn, row):
            self._update(conn, row, revealed=False)
        return self.facilitator_state(code, secret)

    def go_to_card(self, code: str, secret: str | None, index: int) -> FacilitatorView:
        """Show card `index` (0-based): the card left is closed and results hidden; the new
        card is not opened. From the matrix round this returns to the statements."""
        return self._move(code, secret, lambda _current: index)

    def next_card(self, code: str, secret: str | None) -> FacilitatorView:
        return self._move(code, secret, lambda current: current + 1)

    def previous_card(self, code: str, secret: str | None) -> FacilitatorView:
        return self._move(code, secret, lambda current: current - 1)

    def _move(self, code: str, secret: str | None, target) -> FacilitatorView:
        # The new index is worked out inside the transaction: two quick clicks on
        # "next" move two cards, never the same card twice.
        with self._facilitate(code, secret) as (conn, row):
            count = len(self._info(row).deck.cards)
            index = target(row["current_index"])
            if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < count:
                raise InvalidInput("workshop.error.bad_index",
                                   "card {index} does not exist (the workshop has {count} cards)",
                                   index=index + 1 if isinstance(index, int) else index, count=count)
            self._close_open_cards(conn, row["id"])
            self._update(conn, row, current_index=index, revealed=False, phase="statements")
        return self.facilitator_state(code, secret)

    def start_matrix(self, code: str, secret: str | None) -> FacilitatorView:
        with self._facilitate(code, secret) as (conn, row):
            if not self._info(row).steps:
                raise Refused("workshop.error.no_matrix", "this workshop has no matrix round")
            self._close_open_cards(conn, row["id"])
            self._update(conn, row, phase="matrix", revealed=False)
        return self.facilitator_state(code, secret)

    def end(self, code: str, secret: str | None) -> FacilitatorView:
        """Close everything for good; results stay readable."""
        with self._facilitate(code, secret) as (conn, row):
            self._close_open_cards(conn, row["id"])
            self._update(conn, row, phase="ended")
        return self.facilitator_state(code, secret)

    def facilitator_state(self, code: str, secret: str | None) -> FacilitatorView:
        with self._read() as conn:
            row = self._workshop_row(conn, code)
            if not secret or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
                raise Forbidden()
            info = self._info(row)
            states = dict(conn.execute(
                sa.select(workshop_cards.c.card_id, workshop_cards.c.state)
                .where(workshop_cards.c.workshop_id == row["id"])).all())
            card = info.current_card
            tally = self._tally(conn, row["id"], card.id) if card else None
            return FacilitatorView(
                info=info, card=card, card_open=bool(card) and states.get(card.id) == "open",
                card_states={c.id: states.get(c.id, "new") for c in info.deck.cards}, tally=tally,
                participants=self._participant_counts(conn, row["id"]),
                votes_on_card=tally.overall.total if tally else 0,
                matrix=self._matrix(conn, row["id"], info))

    # --- participants --------------------------------------------------------------------------

    def join(self, code: str, side: str, role: str = "") -> str:
        """A new anonymous participant on one side; returns their token (keep it in the session)."""
        if side not in SIDES:
            raise InvalidInput("workshop.error.bad_side", "choose a side: public or civil_society (got {side})",
                               side=side)
        role = (role or "").strip()
        if role and role not in ROLES[side]:
            raise InvalidInput("workshop.error.bad_role", "the role {role} does not fit the side {side}",
                               role=role, side=side)
        token = secrets.token_urlsafe(18)
        with self._write() as conn:
            row = self._workshop_row(conn, code)
            if row["phase"] == "ended":
                raise _ended()
            conn.execute(workshop_participants.insert().values(
                workshop_id=row["id"], token_hash=_hash(token), side=side, role=role, joined_at=_now()))
        return token

    def _upsert(self, table: sa.Table, keys: tuple[str, ...], update: tuple[str, ...]):
        """INSERT ... ON CONFLICT DO UPDATE, built once per table (building costs more than running)."""
        cache_key = (table.name, keys, update)
        statement = self._statements.get(cache_key)
        if statement is None:
            insert = (sqlite.insert if self._sqlite else postgresql.insert)(table)
            statement = insert.on_conflict_do_update(
                index_elements=list(keys), set_={name: insert.excluded[name] for name in update})
            self._statements[cache_key] = statement
        return statement

    def _vote_check(self):
        """Participant, card and workshop state in one query (built once)."""
        statement = self._statements.get("vote_check")
        if statement is None:
            p, c, w = workshop_participants, workshop_cards, workshops
            statement = (sa.select(p.c.id, p.c.workshop_id, c.c.state, w.c.phase)
                         .select_from(p)
                         .join(c, sa.and_(c.c.workshop_id == p.c.workshop_id,
                                          c.c.card_id == sa.bindparam("card_id")))
                         .join(w, w.c.id == p.c.workshop_id)
                         .where(p.c.token_hash == sa.bindparam("token_hash")))
            if not self._sqlite:
                # Hold the card row while voting: close_card waits for us, or we see it closed.
                statement = statement.with_for_update(read=True, of=c)
            self._statements["vote_check"] = statement
        return statement

    def vote(self, participant_token: str, card_id: str, value: str) -> None:
        """Record (or replace) the participant's vote on an open card; committed on return."""
        if value not in VOTE_VALUES:
            raise InvalidInput("workshop.error.bad_value", "invalid vote {value}", value=value)
        with self._write() as conn:
            found = conn.execute(self._vote_check(), {"card_id": card_id,
                                                      "token_hash": _hash(participant_token or "")}).first()
            if found is None:
                self._participant(conn, participant_token)  # raises UnknownParticipant if that was it
                raise Refused("workshop.error.unknown_card", "the statement {card} is not part of the workshop",
                              card=card_id)
            if found.phase == "ended":
                raise _ended()
            if found.state != "open":
                raise Refused("workshop.error.card_closed", "voting on this statement is closed")
            conn.execute(self._upsert(workshop_votes, ("participant_id", "card_id"), ("value", "updated_at")),
                         {"participant_id": found.id, "card_id": card_id, "workshop_id": found.workshop_id,
                          "value": value, "updated_at": _now()})

    def place(self, participant_token: str, step_id: str, level_id: str) -> None:
        """The participant's level for a step in the matrix round ('none' allowed)."""
        with self._write() as conn:
            person = self._participant(conn, participant_token)
            query = sa.select(workshops).where(workshops.c.id == person.workshop_id)
            if not self._sqlite:
                query = query.with_for_update(read=True)
            row = conn.execute(query).mappings().one()
            if row["phase"] == "ended":
                raise _ended()
            if row["phase"] != "matrix":
                raise Refused("workshop.error.not_matrix", "the matrix round is not running")
            info = self._info(row)
            if step_id not in info.steps:
                raise InvalidInput("workshop.error.bad_step", "the step {step} is not in the matrix", step=step_id)
            if level_id != NO_LEVEL and level_id not in info.levels:
                raise InvalidInput("workshop.error.bad_level", "the level {level} is not in the matrix",
                                   level=level_id)
            conn.execute(self._upsert(workshop_placements, ("participant_id", "step_id"), ("level_id", "updated_at")),
                         {"participant_id": person.id, "step_id": step_id, "workshop_id": person.workshop_id,
                          "level_id": level_id, "updated_at": _now()})

    def my_votes(self, participant_token: str) -> dict[str, str]:
        with self._read() as conn:
            person = self._participant(conn, participant_token)
            return dict(conn.execute(sa.select(workshop_votes.c.card_id, workshop_votes.c.value)
                                     .where(workshop_votes.c.participant_id == person.id)).all())

    def my_placements(self, participant_token: str) -> dict[str, str]:
        with self._read() as conn:
            person = self._participant(conn, participant_token)
            return dict(conn.execute(sa.select(workshop_placements.c.step_id, workshop_placements.c.level_id)
                                     .where(workshop_placements.c.participant_id == person.id)).all())

    def state(self, code: str | None, participant_token: str | None = None) -> ParticipantView:
        """What a participant's phone shows: results only once the facilitator reveals them.

        With a token and no code, the workshop is the token's own (looked up by its hash),
        so a link with only ``?p=`` still works. With both, they must belong together.
        """
        with self._read() as conn:
            person = None
            if code or not participant_token:
                row = self._workshop_row(conn, code or "")
                if participant_token:
                    person = self._participant(conn, participant_token)
                    if person.workshop_id != row["id"]:
                        raise UnknownParticipant()
            else:
                person = self._participant(conn, participant_token)
                row = conn.execute(sa.select(workshops).where(workshops.c.id == person.workshop_id)
                                   ).mappings().one()
            info = self._info(row)
            card = info.current_card
            card_status = None
            if card:
                stored = conn.execute(
                    sa.select(workshop_cards.c.state).where(workshop_cards.c.workshop_id == row["id"],
                                                             workshop_cards.c.card_id == card.id)
                ).scalar_one()
                card_status = PARTICIPANT_CARD_STATUS[stored]
            tally = self._tally(conn, row["id"], card.id) if card and info.revealed else None
            matrix = self._matrix(conn, row["id"], info) if info.phase == "matrix" and info.revealed else None
            my_vote, placements = None, {}
            if person is not None:
                if card:
                    my_vote = conn.execute(sa.select(workshop_votes.c.value).where(
                        workshop_votes.c.participant_id == person.id, workshop_votes.c.card_id == card.id)
                    ).scalar()
                placements = dict(conn.execute(
                    sa.select(workshop_placements.c.step_id, workshop_placements.c.level_id)
                    .where(workshop_placements.c.participant_id == person.id)).all())
            return ParticipantView(
                code=info.code, name=info.name, unit=info.unit, lang=info.lang, phase=info.phase,
                version=info.version, card_index=info.current_index, card_count=info.card_count, card=card,
                card_status=card_status, revealed=info.revealed, tally=tally, matrix=matrix, steps=info.steps,
                levels=info.levels, my_vote=my_vote, my_placements=placements,
                my_side=person.side if person is not None else None,
                my_role=(person.role or None) if person is not None else None)

    # --- read models (aggregates only) ---------------------------------------------------------

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

    def tally(self, code: str, card_id: str) -> Tally:
        with self._read() as conn:
            row = self._workshop_row(conn, code)
            if self._info(row).deck.card(card_id) is None:
                raise Refused("workshop.error.unknown_card", "the statement {card} is not part of the workshop",
                              card=card_id)
            return self._tally(conn, row["id"], card_id)

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

    def summary(self, code: str, order: str = "deck") -> list[Tally]:
        """A tally for every card of the deck (cards nobody voted on included)."""
        with self._read() as conn:
            return summary_order(self._summary(conn, self._workshop_row(conn, code)), order)

    def _participant_counts(self, conn: Connection, workshop_id: int) -> dict[str, int]:
        counts = dict(conn.execute(
            sa.select(workshop_participants.c.side, sa.func.count())
            .where(workshop_participants.c.workshop_id == workshop_id)
            .group_by(workshop_participants.c.side)).all())
        return {side: counts.get(side, 0) for side in SIDES}

    def participant_counts(self, code: str) -> dict[str, int]:
        with self._read() as conn:
            return self._participant_counts(conn, self._workshop_row(conn, code)["id"])

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

    def matrix_distribution(self, code: str) -> dict[str, list[StepLevel]]:
        """Per group ('overall', 'public', 'civil_society') the StepLevels for charts.level_heatmap."""
        with self._read() as conn:
            row = self._workshop_row(conn, code)
            return self._matrix(conn, row["id"], self._info(row))

    # --- export --------------------------------------------------------------------------------

    def export_json(self, code: str, lang: str | None = None) -> str:
        """Aggregated results as JSON: counts per card and side, matrix distribution; no tokens."""
        with self._read() as conn:
            row = self._workshop_row(conn, code)
            info = self._info(row)
            tallies = self._summary(conn, row)
            participants = self._participant_counts(conn, row["id"])
            matrix = self._matrix(conn, row["id"], info)
        lang = lang or info.lang
        cards = []
        for position, tally in enumerate(tallies, start=1):
            card = info.deck.card(tally.card_id)
            cards.append({"position": position, "card_id": tally.card_id,
                          "text": card.text.model_dump(), "gap": tally.gap,
                          **{group: tally.side(group).as_dict() for group in GROUPS}})
        data = {
            "format": "assessment-workshop-results/1",
            "workshop": {"code": info.code, "name": info.name, "unit": info.unit,
                         "date": info.date.isoformat(), "lang": lang, "deck_id": info.deck.id,
                         "deck_title": info.deck.title(lang), "phase": info.phase},
            "participants": {**participants, "overall": sum(participants.values())},
            "cards": cards,
            "matrix": {group: {level.step_id: {"level": level.level_id, "answered": level.answered,
                                               "distribution": level.distribution}
                               for level in levels}
                       for group, levels in matrix.items()} if info.steps else {},
        }
        return json.dumps(data, ensure_ascii=False, indent=2)

    def export_csv(self, code: str, lang: str | None = None) -> bytes:
        """Counts per card and side as CSV, UTF-8 with BOM so spreadsheet programs read å, ä, ö."""
        with self._read() as conn:
            row = self._workshop_row(conn, code)
            info = self._info(row)
            tallies = self._summary(conn, row)
        rows = tallies_to_rows(info.deck, tallies, lang or info.lang)
        out = io.StringIO()
        columns = ["position", "card_id", "text", "side", "agree", "disagree", "pass", "total", "agree_share"]
        writer_ = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
        writer_.writeheader()
        for item in rows:
            writer_.writerow({**item, "agree_share": "" if item["agree_share"] is None else item["agree_share"]})
        return ("\ufeff" + out.getvalue()).encode("utf-8")
