"""Interface texts in Swedish and English.

Framework texts live in matrix.yaml; the texts of the interface itself live in
``assessment/strings/*.yaml`` (one file per area, keys namespaced by area, e.g.
``home.title``), each key with ``sv`` and ``en``. Loaded once.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

STRINGS_DIR = Path(__file__).with_name("strings")
DEFAULT_LANG = "sv"
LANGUAGE_NAMES = {"sv": "Svenska", "en": "English"}


@lru_cache(maxsize=1)
def _strings() -> dict[str, dict[str, str]]:
    table: dict[str, dict[str, str]] = {}
    for path in sorted(STRINGS_DIR.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, texts in data.items():
            if key in table:
                raise ValueError(f"{path.name}: string '{key}' is defined twice")
            if set(texts) != {"sv", "en"}:
                raise ValueError(f"{path.name}: string '{key}' needs exactly sv and en")
            table[key] = texts
    return table


def t(key: str, lang: str = DEFAULT_LANG, **values: object) -> str:
    """The text for key in lang, with {placeholders} filled from values."""
    texts = _strings().get(key)
    if texts is None:
        raise KeyError(f"no interface text '{key}' in assessment/strings/")
    text = texts.get(lang) or texts[DEFAULT_LANG]
    return text.format(**values) if values else text


def all_keys() -> set[str]:
    return set(_strings())


def number(value: float | None, lang: str, signed: bool = False) -> str:
    """A score as written in the language: decimal comma in Swedish, a dash when missing."""
    if value is None:
        return "–"
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    text = text.replace("-", "−")
    return text.replace(".", ",") if lang == "sv" else text


# Every ASCII punctuation mark CommonMark lets a backslash escape, plus what Streamlit adds on
# top ($ for LaTeX, ~ for strikethrough, : with [..] for coloured text).
_MARKDOWN_SPECIAL = frozenset("\\`*_{}[]()#+-.!|<>~$:&\"'")


def markdown_literal(value: object) -> str:
    """A value people typed (a unit's name, a case, a role), shown as itself inside Markdown:
    'Föreningen *Vi*_2' stays that text instead of turning into emphasis."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return "".join(f"\\{ch}" if ch in _MARKDOWN_SPECIAL else ch for ch in text)
