"""Checks of what the repositories are given, made before any transaction so that a bad
value writes nothing. Each raises ValueError (or LookupError for a missing token) with a
message naming the field."""

from __future__ import annotations

from typing import Any, Iterable, Sequence

from ..framework.matrix import Framework
from ..framework.responses import DONT_KNOW, Response, validate_against
from .tokens import digest
from .tables import KEY_MAX, NAME_MAX, SIDES, UNIT_KINDS, YEAR_MAX, YEAR_MIN


def name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty text (got {value!r})")
    value = value.strip()
    if len(value) > NAME_MAX:
        raise ValueError(f"{what} is longer than {NAME_MAX} characters: {value[:40]!r}...")
    return value


def optional_name(value: Any, what: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return name(value, what)


def role(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"role must be a text (got {value!r})")
    if len(value.strip()) > NAME_MAX:
        raise ValueError(f"role is longer than {NAME_MAX} characters: {value[:40]!r}...")
    return value.strip()


def key(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty id (got {value!r})")
    if len(value) > KEY_MAX:
        raise ValueError(f"{what} is longer than {KEY_MAX} characters: {value[:40]!r}...")
    return value.strip()


def side(value: Any) -> str:
    if value not in SIDES:
        raise ValueError(f"unknown side {value!r} (use one of: {', '.join(SIDES)})")
    return value


def kind(value: Any) -> str:
    if value not in UNIT_KINDS:
        raise ValueError(f"unknown unit kind {value!r} (use one of: {', '.join(UNIT_KINDS)})")
    return value


def year(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not YEAR_MIN <= value <= YEAR_MAX:
        raise ValueError(f"year must be a whole number from {YEAR_MIN} to {YEAR_MAX} (got {value!r})")
    return value


def id_list(values: Any, what: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValueError(f"{what} must be a list of ids (got {values!r})")
    out: list[str] = []
    for value in values:
        value = key(value, what)
        if value not in out:
            out.append(value)
    return out


def token(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise LookupError(f"no {what} with token {value!r}")
    return value


def response_key(value: Any) -> str:
    """The stored key of a personal link: its digest (links are never stored as given)."""
    return digest(token(value, "response"))


def rating(value: Any) -> tuple[int | None, bool] | None:
    """(value, dont_know) to store, or None to clear."""
    if value is None:
        return None
    if value == DONT_KNOW:
        return None, True
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a rating must be a whole number, '{DONT_KNOW}' or empty (got {value!r})")
    return value, False


def as_list(values: Any, what: str) -> list:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    try:
        return list(values)
    except TypeError:
        raise ValueError(f"{what} must be a list (got {values!r})") from None


def problems_text(problems) -> str:
    return "; ".join(str(p.message) for p in problems)


def against_framework(framework: Framework | None, extensions: Sequence[str] = (), **answers) -> None:
    """Check answers (steps, ratings...) against the framework, when there is one."""
    if framework is None:
        return
    probe = Response.model_construct(unit="-", year=YEAR_MIN, side="public",
                                     extensions=list(extensions), **answers)
    problems = validate_against(probe, framework)
    if problems:
        raise ValueError(problems_text(problems))
