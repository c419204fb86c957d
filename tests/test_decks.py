"""Statement decks: the shipped Burlöv deck, the principles deck, located errors."""

from __future__ import annotations

import textwrap

import pytest

from assessment.framework.yamlsource import SourceError
from assessment.workshop.decks import DECKS_DIR, deck_from_framework, get_deck, list_decks, load_deck, parse_deck
from test_gaps import tiny_framework

BURLOV = DECKS_DIR / "burlov.yaml"


def test_burlov_deck_in_both_languages():
    deck = load_deck(BURLOV)
    assert deck.id == "burlov"
    assert 10 <= len(deck.cards) <= 12
    assert len(set(deck.card_ids)) == len(deck.cards)
    for card in deck.cards:
        sv, en = card.text("sv"), card.text("en")
        assert sv and en and sv != en, card.id
        assert sv.endswith("?") and en.endswith("?"), card.id
    swedish = {card.text.sv for card in deck.cards}
    # Statements of the workshop slides, as given in the seed.
    assert "Är du positiv till en ökad samverkan mellan föreningsliv/kommun?" in swedish
    assert "Bör den idéburna sektorn ta ett större ansvar som leverantör av välfärdstjänster?" in swedish
    assert "Uppskattar du föreningslivets självständighet?" in swedish
    assert deck.title("sv") != deck.title("en")
    assert deck.matrix_round


def test_principles_deck_has_one_card_per_statement():
    fw = tiny_framework()
    deck = deck_from_framework(fw, "principles")
    assert deck.card_ids == ["independence.criticism", "independence.own_goals", "dialogue.early"]
    assert deck.card("dialogue.early").text == fw.statement_by_key["dialogue.early"][1].text
    with pytest.raises(ValueError, match="unknown built-in deck"):
        deck_from_framework(fw, "matrix")


def test_list_decks_shipped_then_principles(tmp_path):
    fw = tiny_framework()
    (tmp_path / "b.yaml").write_text(BURLOV.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "a.yaml").write_text(textwrap.dedent("""\
        id: alpha
        title: {sv: Alfa, en: Alpha}
        description: {sv: Test, en: Test}
        matrix_round: false
        cards:
          - id: one
            text:
              sv: Ett?
              en: One?
        """), encoding="utf-8")
    decks = list_decks(fw, tmp_path)
    assert [d.id for d in decks] == ["alpha", "burlov", "principles"]
    assert get_deck("alpha", fw, tmp_path).matrix_round is False
    with pytest.raises(KeyError):
        get_deck("nope", fw, tmp_path)
    assert "burlov" in [d.id for d in list_decks(fw)]  # the shipped folder


GOOD = """\
id: test
title: {sv: Test, en: Test}
description: {sv: Test, en: Test}
cards:
  - id: first
    text:
      sv: Första?
      en: First?
  - id: second
    text:
      sv: Andra?
      en: Second?
"""


@pytest.mark.parametrize("broken, expected", [
    # A missing key has no line: its parent mapping (cards[1].text, line 10) is named.
    (GOOD.replace("      en: Second?\n", ""), "deck.yaml:10: cards[1].text.en: required field is missing"),
    (GOOD.replace("id: second", "id: first"), "deck.yaml:9: cards[1].id: duplicate card id 'first' (already used by cards[0])"),
    (GOOD.replace("id: second", "id: Second card"), "deck.yaml:9: cards[1].id: String should match pattern"),
    (GOOD.replace("cards:", "colour: red\ncards:"), "deck.yaml:4: colour: unknown key"),
    (GOOD.replace("      sv: Andra?", "      sv: '   '"), "deck.yaml:11: cards[1].text.sv: Value error, text is blank"),
    (GOOD.replace("title: {sv: Test, en: Test}\n", ""), "deck.yaml:1: title: required field is missing"),
    ("id: test\ncards: [\n", "deck.yaml:3: YAML syntax error"),
    ("- just\n- a list\n", "deck.yaml:1: a deck must be a mapping"),
    (GOOD.split("cards:")[0] + "cards: []\n", "deck.yaml:4: cards: List should have at least 1 item"),
])
def test_malformed_deck_gives_located_error(broken, expected):
    with pytest.raises(SourceError) as info:
        parse_deck(broken, "deck.yaml")
    messages = [str(problem) for problem in info.value.problems]
    assert any(message.startswith(expected) for message in messages), messages


def test_good_deck_parses_and_missing_file_is_named(tmp_path):
    deck = parse_deck(GOOD, "deck.yaml")
    assert deck.card("second").text("en") == "Second?"
    assert deck.card("third") is None
    with pytest.raises(SourceError, match="missing.yaml: file not found"):
        load_deck(tmp_path / "missing.yaml")
