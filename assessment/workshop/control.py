"""The facilitator's side of a live workshop: create it, then open, close, reveal and move
through its cards, run the matrix round, end it. Every action needs the secret and bumps
the workshop's version, which the phones poll."""

from __future__ import annotations

import hmac
import secrets
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date as Date, datetime
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..scoring.levels import StepLevel
from ..store.engine import utcnow
from ..store.tables import workshop_cards, workshops
from .decks import Card, Deck
from .errors import Forbidden, InvalidInput, Refused, ended
from .repository import WorkshopInfo, WorkshopRepository, hash_token
from .tallies import Tally

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I/1, O/0: read off a cinema screen
CODE_LENGTH = 6
LANGS = ("sv", "en")


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


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _secret_fits(row, secret: str | None) -> bool:
    """Whether `secret` is the workshop's (compared in constant time)."""
    return bool(secret) and hmac.compare_digest(row["secret_hash"], hash_token(secret))


def _to_date(value: Date | str) -> Date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, Date):
        return value
    try:
        return Date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput("workshop.error.bad_field", "{field} is missing or invalid", field="date") from None


class WorkshopControl(WorkshopRepository):
    """The facilitator's actions; each returns what the facilitator's screen shows next."""

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
        now = utcnow()
        for _attempt in range(20):
            code = new_code()
            try:
                with self._write() as conn:
                    workshop_id = conn.execute(workshops.insert().values(
                        code=code, secret_hash=hash_token(secret), name=name, unit=unit, date=day, lang=lang,
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
        return _secret_fits(row, secret)

    @contextmanager
    def _facilitate(self, code: str, secret: str | None) -> Iterator[tuple[Connection, Any]]:
        """A write transaction on a workshop whose secret was given; bumps its version."""
        with self._write() as conn:
            row = self._workshop_row(conn, code, for_update=True)
            if not _secret_fits(row, secret):
                raise Forbidden()
            if row["phase"] == "ended":
                raise ended()
            yield conn, row
            conn.execute(workshops.update().where(workshops.c.id == row["id"])
                         .values(version=workshops.c.version + 1, updated_at=utcnow()))

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
            if not _secret_fits(row, secret):
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
