"""Statement decks for the live workshop: cards the room votes green or red on.

A deck is a hand-edited YAML file in ``decks/`` (format in docs/workshop.md),
checked like matrix.yaml so that every mistake is reported with file and line.
The statements of the six principles form a built-in deck as well.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from pydantic import ConfigDict, Field

from ..framework.matrix import ID_PATTERN, Framework, Strict, Text
from ..framework.yamlsource import LineMap, SourceError, duplicate_ids, load_yaml, parse_model, read_yaml

DECKS_DIR = Path(__file__).resolve().parents[2] / "decks"
PRINCIPLES_DECK = "principles"
# Dots allowed so the principles deck can use statement keys ('independence.criticism') as ids.
CARD_ID_PATTERN = r"^[a-z][a-z0-9_.]*$"


class Card(Strict):
    id: str = Field(pattern=CARD_ID_PATTERN)
    text: Text


class Deck(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    id: str = Field(pattern=ID_PATTERN)
    title: Text
    description: Text
    matrix_round: bool = True  # offer the Code matrix round after the statements
    cards: list[Card] = Field(min_length=1)

    @cached_property
    def card_by_id(self) -> dict[str, Card]:
        return {card.id: card for card in self.cards}

    def card(self, card_id: str) -> Card | None:
        return self.card_by_id.get(card_id)

    @property
    def card_ids(self) -> list[str]:
        return [card.id for card in self.cards]


def _parse(data: object, lines: LineMap) -> Deck:
    if not isinstance(data, dict):
        raise SourceError([lines.problem((), "a deck must be a mapping with id, title, description and cards")])
    deck = parse_model(Deck, data, lines)
    problems = list(duplicate_ids(deck.cards, ("cards",), "card", lines).values())
    if problems:
        raise SourceError(problems)
    return deck


def parse_deck(text: str, source: str) -> Deck:
    """A deck from YAML text (an upload); raises SourceError with located problems."""
    return _parse(*load_yaml(text, source))


def load_deck(path: str | Path) -> Deck:
    """A deck file; raises SourceError (not found, syntax, fields, duplicate ids)."""
    return _parse(*read_yaml(path))


def deck_from_framework(fw: Framework, kind: str = PRINCIPLES_DECK) -> Deck:
    """The principles' statements as a deck, one card per statement, ids = statement keys."""
    if kind != PRINCIPLES_DECK:
        raise ValueError(f"unknown built-in deck '{kind}' (there is only '{PRINCIPLES_DECK}')")
    cards = [Card(id=key, text=statement.text) for key, (_p, statement) in fw.statement_by_key.items()]
    return Deck(
        id=PRINCIPLES_DECK,
        title=Text(sv="Överenskommelsens sex principer", en="The six principles of the agreement"),
        description=Text(
            sv="Påståendena om självständighet, dialog, kvalitet, långsiktighet, öppenhet och mångfald "
               "ur självskattningen, ett kort per påstående.",
            en="The self-assessment statements on independence, dialogue, quality, long-term perspective, "
               "openness and diversity, one card per statement."),
        cards=cards,
    )


def list_decks(fw: Framework | None = None, decks_dir: str | Path = DECKS_DIR) -> list[Deck]:
    """Shipped decks (sorted by id) followed by the principles deck of the framework."""
    if fw is None:
        from ..framework.matrix import get_framework
        fw = get_framework()
    decks = [load_deck(path) for path in sorted(Path(decks_dir).glob("*.yaml"))]
    decks.sort(key=lambda d: d.id)
    return decks + [deck_from_framework(fw)]


def get_deck(deck_id: str, fw: Framework | None = None, decks_dir: str | Path = DECKS_DIR) -> Deck:
    for deck in list_decks(fw, decks_dir):
        if deck.id == deck_id:
            return deck
    raise KeyError(f"no deck '{deck_id}'")
