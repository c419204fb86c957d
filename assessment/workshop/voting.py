"""The phones' side of a live workshop: join anonymously on one side, vote on the open card,
place the case on the matrix, and read what the facilitator lets the room see."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ..framework.responses import NO_LEVEL
from ..scoring.levels import StepLevel
from ..store.engine import utcnow
from ..store.tables import workshop_cards, workshop_participants, workshop_placements, workshop_votes, workshops
from .decks import CARD_ID_PATTERN, Card
from .errors import InvalidInput, Refused, UnknownParticipant, UnknownWorkshop, WorkshopError, ended
from .repository import WorkshopRepository, checked_code, hash_token
from .tallies import ROLES, SIDES, VOTE_VALUES, Tally

# A card's stored state as participants see it: 'new' means the facilitator has not opened it yet.
PARTICIPANT_CARD_STATUS = {"new": "pending", "open": "open", "closed": "closed"}


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
    my_vote: str | None = None  # on the card shown
    # All of the participant's votes by card: a phone sent back to an earlier card still knows its vote.
    my_votes: dict[str, str] = field(default_factory=dict)
    my_placements: dict[str, str] = field(default_factory=dict)
    # The asking participant's own side and role (None without a token, role None if not given):
    # after a reload the phone can still say whom it votes for. Never anyone else's.
    my_side: str | None = None
    my_role: str | None = None

    @property
    def card_open(self) -> bool:
        return self.card_status == "open"


_CARD_ID = re.compile(CARD_ID_PATTERN)


def _check_value(value: str) -> None:
    if value not in VOTE_VALUES:
        raise InvalidInput("workshop.error.bad_value", "invalid vote {value}", value=value)


def _unknown_card(card_id: str) -> Refused:
    return Refused("workshop.error.unknown_card", "the statement {card} is not part of the workshop",
                   card=card_id[:40])


class WorkshopVoting(WorkshopRepository):
    """What participants do and see. The vote's statements are built once per instance:
    building them cost more than running them."""

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
                raise ended()
            conn.execute(self._cached("join", workshop_participants.insert),
                         {"workshop_id": row["id"], "token_hash": hash_token(token), "side": side, "role": role,
                          "joined_at": utcnow()})
        return token

    def _upsert(self, table: sa.Table, keys: tuple[str, ...], update: tuple[str, ...]):
        """INSERT ... ON CONFLICT DO UPDATE, built once per table (building costs more than running)."""
        def build():
            insert = (sqlite.insert if self._sqlite else postgresql.insert)(table)
            return insert.on_conflict_do_update(
                index_elements=list(keys), set_={name: insert.excluded[name] for name in update})
        return self._cached((table.name, keys, update), build)

    def _vote_check(self):
        """Participant, card and workshop state in one query (built once)."""
        def build():
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
            return statement
        return self._cached("vote_check", build)

    def vote(self, participant_token: str, card_id: str, value: str) -> None:
        """Record (or replace) the participant's vote on an open card; committed on return."""
        _check_value(value)
        with self._write() as conn:
            self._vote_in(conn, participant_token, card_id, value)

    def vote_many(self, items: Sequence[tuple[str, str, str]]) -> list[WorkshopError | None]:
        """Many (token, card_id, value) votes in ONE transaction (group commit): per item None
        when saved, else the refusal, which spoils none of the others (every check runs
        before its write). A database error fails the whole batch: it is raised."""
        outcomes: list[WorkshopError | None] = []
        with self._write() as conn:
            for token, card_id, value in items:
                try:
                    _check_value(value)
                    self._vote_in(conn, token, card_id, value)
                    outcomes.append(None)
                except WorkshopError as refusal:
                    outcomes.append(refusal)
        return outcomes

    def _vote_in(self, conn, participant_token: str, card_id: str, value: str) -> None:
        if not _CARD_ID.fullmatch(card_id):  # e.g. a NUL byte, which PostgreSQL refuses for the whole batch
            raise _unknown_card(card_id)
        found = conn.execute(self._vote_check(), {"card_id": card_id,
                                                  "token_hash": hash_token(participant_token or "")}).first()
        if found is None:
            self._participant(conn, participant_token)  # raises UnknownParticipant if that was it
            raise _unknown_card(card_id)
        if found.phase == "ended":
            raise ended()
        if found.state != "open":
            raise Refused("workshop.error.card_closed", "voting on this statement is closed")
        conn.execute(self._upsert(workshop_votes, ("participant_id", "card_id"), ("value", "updated_at")),
                     {"participant_id": found.id, "card_id": card_id, "workshop_id": found.workshop_id,
                      "value": value, "updated_at": utcnow()})

    def version(self, code: str) -> tuple[int, int]:
        """(workshop id, version) by join code: one indexed row, what live listeners poll."""
        code = checked_code(code)
        with self._read() as conn:
            row = conn.execute(self._cached("version", lambda: sa.select(workshops.c.id, workshops.c.version)
                                            .where(workshops.c.code == sa.bindparam("code"))),
                               {"code": code}).first()
        if row is None:
            raise UnknownWorkshop(code=code)
        return row.id, row.version

    def place(self, participant_token: str, step_id: str, level_id: str) -> None:
        """The participant's level for a step in the matrix round ('none' allowed)."""
        with self._write() as conn:
            person = self._participant(conn, participant_token)
            query = sa.select(workshops).where(workshops.c.id == person.workshop_id)
            if not self._sqlite:
                query = query.with_for_update(read=True)
            row = conn.execute(query).mappings().one()
            if row["phase"] == "ended":
                raise ended()
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
                          "level_id": level_id, "updated_at": utcnow()})

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
                row = conn.execute(self._cached("workshop_by_id", lambda: sa.select(workshops).where(
                    workshops.c.id == sa.bindparam("id"))), {"id": person.workshop_id}).mappings().one()
            info = self._info(row)
            card = info.current_card
            card_status = None
            if card:
                stored = conn.execute(self._cached("card_state", lambda: sa.select(workshop_cards.c.state).where(
                    workshop_cards.c.workshop_id == sa.bindparam("workshop_id"),
                    workshop_cards.c.card_id == sa.bindparam("card_id"))),
                    {"workshop_id": row["id"], "card_id": card.id}).scalar_one()
                card_status = PARTICIPANT_CARD_STATUS[stored]
            tally = self._tally(conn, row["id"], card.id) if card and info.revealed else None
            matrix = self._matrix(conn, row["id"], info) if info.phase == "matrix" and info.revealed else None
            votes, placements = {}, {}
            if person is not None:
                votes = dict(conn.execute(self._cached("my_votes", lambda: sa.select(
                    workshop_votes.c.card_id, workshop_votes.c.value).where(
                    workshop_votes.c.participant_id == sa.bindparam("participant_id"))),
                    {"participant_id": person.id}).all())
                placements = dict(conn.execute(self._cached("my_placements", lambda: sa.select(
                    workshop_placements.c.step_id, workshop_placements.c.level_id).where(
                    workshop_placements.c.participant_id == sa.bindparam("participant_id"))),
                    {"participant_id": person.id}).all())
            return ParticipantView(
                code=info.code, name=info.name, unit=info.unit, lang=info.lang, phase=info.phase,
                version=info.version, card_index=info.current_index, card_count=info.card_count, card=card,
                card_status=card_status, revealed=info.revealed, tally=tally, matrix=matrix, steps=info.steps,
                levels=info.levels, my_vote=votes.get(card.id) if card else None, my_votes=votes, my_placements=placements,
                my_side=person.side if person is not None else None,
                my_role=(person.role or None) if person is not None else None)
