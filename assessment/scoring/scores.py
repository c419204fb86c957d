"""Scores, levels reached and advice: pure functions of the framework and responses.

Formulas (documented in the README):
- principle score = mean of the numeric ratings of the principle's statements,
  divided by the scale maximum, times 100; ``dont_know`` and unanswered ratings
  are left out and counted beside the score. With several respondents the
  ratings of all of them are pooled.
- a step's level = the highest level reached (one respondent); for a group, the
  median of the respondents' levels (rounded down), with the full distribution.
- advice for a step = the tools of the next level up in the matrix.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from statistics import median_low
from typing import Iterable, Sequence

from ..framework.matrix import Framework, Level, Tool
from ..framework.responses import DONT_KNOW, NO_LEVEL, Response


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


@dataclass(frozen=True)
class StepLevel:
    step_id: str
    level_id: str  # a level id or 'none'
    answered: int  # respondents who answered this step
    distribution: dict[str, int] = field(default_factory=dict)  # level id (or 'none') -> respondents
    tools_used: dict[str, int] = field(default_factory=dict)  # tool id -> respondents


@dataclass(frozen=True)
class Advice:
    step_id: str
    current_level: str  # 'none' or a level id
    next_level: str | None  # None when the top level is reached
    tools: tuple[Tool, ...]


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


def step_levels(fw: Framework, responses: Iterable[Response]) -> list[StepLevel]:
    """Level reached per step: the answer for one respondent, the median for a group."""
    responses = list(responses)
    order = [NO_LEVEL] + [lv.id for lv in fw.levels]
    out = []
    for step in fw.steps:
        answers = [r.steps[step.id] for r in responses if step.id in r.steps]
        ranks = [fw.level_rank(a.level) for a in answers if a.level in order]
        level = order[median_low(ranks)] if ranks else NO_LEVEL
        distribution = Counter(a.level for a in answers)
        tools = Counter(t for a in answers for t in set(a.tools))
        out.append(StepLevel(step.id, level, len(answers), dict(distribution), dict(tools)))
    return out


def next_level(fw: Framework, level_id: str, extensions: Sequence[str] = ()) -> Level | None:
    active = fw.active_levels(extensions)
    if level_id == NO_LEVEL:
        return active[0] if active else None
    ids = [lv.id for lv in active]
    if level_id not in ids:
        return None
    i = ids.index(level_id)
    return active[i + 1] if i + 1 < len(active) else None


def advice(fw: Framework, levels: Iterable[StepLevel], extensions: Sequence[str] = ()) -> list[Advice]:
    """For each step, the tools of the next level up: concrete things to try next."""
    out = []
    for item in levels:
        up = next_level(fw, item.level_id, extensions)
        cell = fw.cell(item.step_id, up.id) if up else None
        out.append(Advice(item.step_id, item.level_id, up.id if up else None,
                          tuple(cell.tools) if cell else ()))
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
