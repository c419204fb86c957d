"""Scores of the principles and their statements: pure functions of the framework and
responses (levels reached and advice are in ``levels``).

Formula (documented in the README): principle score = the mean of the numeric ratings
of the principle's statements as a position on the scale: (mean - min) / (max - min)
* 100, so the lowest answer scores 0 and the highest 100 on any scale; ``dont_know``
and unanswered ratings are left out and counted beside the score. With several
respondents the ratings of all of them are pooled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from ..framework.matrix import Framework, Scale
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


def scale_score(scale: Scale, total: float, answered: int) -> float | None:
    """The score of `answered` ratings summing to `total`: their mean's position on the scale, 0-100
    rounded to 0.1; None when nothing was answered. Every score of the tool is made here."""
    if not answered:
        return None
    return round(scale.percent(total / answered), 1)


def statement_scores(fw: Framework, responses: Iterable[Response]) -> list[StatementScore]:
    responses = list(responses)
    out = []
    for key, (principle, _statement) in fw.statement_by_key.items():
        values = [r.ratings[key] for r in responses if key in r.ratings]
        numeric = [v for v in values if v != DONT_KNOW]
        out.append(StatementScore(key, principle.id, scale_score(fw.scale, sum(numeric), len(numeric)),
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
        out.append(PrincipleScore(principle.id, scale_score(fw.scale, sum(numeric), len(numeric)),
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
