"""Line tracking and located errors for hand-edited YAML."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict

from assessment.framework.yamlsource import SourceError, format_path, load_yaml, parse_model

TEXT = """\
name: Burlöv
cards:
  - id: one
    text: Första
  - id: two
    text: Andra
"""


def test_lines_of_keys_and_items():
    data, lines = load_yaml(TEXT, "deck.yaml")
    assert data["cards"][1]["id"] == "two"
    assert lines.line_of(("cards", 1, "text")) == 6
    assert lines.line_of(("cards", 1)) == 5
    assert lines.line_of(("cards", 0, "missing")) == 3  # nearest parent


def test_format_path():
    assert format_path(("cards", 1, "text", "en")) == "cards[1].text.en"
    assert format_path(()) == ""


class Card(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    text: str


class Deck(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    cards: list[Card]


def test_pydantic_errors_located():
    data, lines = load_yaml(TEXT.replace("    text: Andra\n", "    txt: Andra\n"), "deck.yaml")
    with pytest.raises(SourceError) as caught:
        parse_model(Deck, data, lines)
    messages = [str(p) for p in caught.value.problems]
    assert "deck.yaml:6: cards[1].txt: unknown key (not part of the format; check the spelling)" in messages
    assert "deck.yaml:5: cards[1].text: required field is missing" in messages


def test_duplicate_key():
    with pytest.raises(SourceError, match=r"deck.yaml:2: name: duplicate key 'name' \(first given on line 1\)"):
        load_yaml("name: a\nname: b\n", "deck.yaml")


def test_syntax_error_line():
    with pytest.raises(SourceError) as caught:
        load_yaml("a: 1\nb: [1, 2\nc: 3\n", "x.yaml")
    assert caught.value.problems[0].line in (2, 3)
    assert "YAML syntax error" in caught.value.problems[0].message


def test_non_string_keys_are_stringified():
    data, _ = load_yaml("1: one\ntrue: yes\n", "x.yaml")
    assert data == {1: "one", "True": True}
