"""Levels reached and advice: pure functions of the framework and responses.

Formulas (documented in the README):
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
from ..framework.responses import NO_LEVEL, Response


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
