"""Scores of the principles and their statements: pure functions of the framework and
responses (levels reached and advice are in ``levels``).

Formula (documented in the README): principle score = mean of the numeric ratings of
the principle's statements, divided by the scale maximum, times 100; ``dont_know``
and unanswered ratings are left out and counted beside the score. With several
respondents the ratings of all of them are pooled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

from ..framework.matrix import Framework
from ..framework.responses import DONT_KNOW, Response


@dataclass(frozen=True)
class PrincipleScore:
    principle_id: str
    score: float | None  # 0-100, None when nothing numeric was answered
    answered: int  # numeric ratings counted
    dont_know: int
    unanswered: int
    statements: int  # statements of the principle (per respondent)


@dataclass(frozen=True)
class StatementScore:
    key: str  # e.g. 'independence.criticism'
    principle_id: str
    score: float | None
    answered: int
    dont_know: int


def _to_percent(values: Sequence[int], scale_min: int, scale_max: int) -> float | None:
    if not values:
        return None
    # Mean over the maximum, as the agreement's follow-ups report it: 0..max -> 0..100.
    return round(sum(values) / len(values) / scale_max * 100, 1)


def statement_scores(fw: Framework, responses: Iterable[Response]) -> list[StatementScore]:
    responses = list(responses)
    out = []
    for key, (principle, _statement) in fw.statement_by_key.items():
        values = [r.ratings[key] for r in responses if key in r.ratings]
        numeric = [v for v in values if v != DONT_KNOW]
        out.append(StatementScore(key, principle.id, _to_percent(numeric, fw.scale.min, fw.scale.max),
                                  len(numeric), len(values) - len(numeric)))
    return out


def principle_scores(fw: Framework, responses: Iterable[Response]) -> list[PrincipleScore]:
    """One score per principle, in framework order, pooling all respondents."""
    responses = list(responses)
    out = []
    for principle in fw.principles:
        keys = [f"{principle.id}.{s.id}" for s in principle.statements]
        numeric: list[int] = []
        dont_know = unanswered = 0
        for response in responses:
            for key in keys:
                value = response.ratings.get(key)
                if value is None:
                    unanswered += 1
                elif value == DONT_KNOW:
                    dont_know += 1
                else:
                    numeric.append(value)
        out.append(PrincipleScore(principle.id, _to_percent(numeric, fw.scale.min, fw.scale.max),
                                  len(numeric), dont_know, unanswered, len(keys)))
    return out


def progress(fw: Framework, response: Response) -> tuple[int, int]:
    """(answered, total) questions: one per step and one per statement."""
    total = len(fw.steps) + len(fw.statement_by_key)
    done = sum(1 for s in fw.steps if s.id in response.steps) + \
        sum(1 for k in fw.statement_by_key if k in response.ratings)
    return done, total


def by_side(responses: Iterable[Response]) -> dict[str, list[Response]]:
    """Responses grouped by respondent side, public first."""
    groups: dict[str, list[Response]] = {"public": [], "civil_society": []}
    for response in responses:
        groups.setdefault(response.side, []).append(response)
    return groups
