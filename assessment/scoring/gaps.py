"""Where the public side and civil society see the cooperation differently.

Both sides answer the same questionnaire; a gap table puts their views side by
side in one unit (0-100) so the largest disagreements can be discussed first:
- a statement's value is its score (``scoring.statement_scores``), 0-100;
- a step's value is the level reached by the side (``scoring.step_levels``,
  the median respondent) as position among the active levels / number of
  active levels * 100, 'none' = 0. With the four Code levels a step gap of 25
  is exactly one level apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal

from ..framework.matrix import Framework
from ..framework.responses import NO_LEVEL, Response
from .levels import step_levels
from .scores import by_side, statement_scores

GapKind = Literal["statement", "step"]
SIDES = ("public", "civil_society")


@dataclass(frozen=True)
class Gap:
    kind: GapKind
    key: str  # statement key ('independence.criticism') or step id ('drafting')
    public: float | None  # 0-100; None when the side gave no usable answer
    civil_society: float | None
    difference: float | None  # public - civil_society; None when a side is missing


def level_percent(fw: Framework, level_id: str, extensions: Iterable[str] = ()) -> float:
    """A level as 0-100: its position among the active levels over their number."""
    if level_id == NO_LEVEL:
        return 0.0
    active = [lv.id for lv in fw.active_levels(list(extensions))]
    if level_id not in active:  # an optional level not switched on: count it on the full ladder
        active = [lv.id for lv in fw.levels]
    return round((active.index(level_id) + 1) / len(active) * 100, 1)


def side_values(fw: Framework, responses: Iterable[Response]) -> dict[str, dict[tuple[str, str], float | None]]:
    """Per side, the 0-100 value of every statement and step, keyed (kind, key)."""
    responses = list(responses)
    # The same ladder for both sides, or a step gap would mix units.
    extensions = sorted({ext for r in responses for ext in r.extensions})
    groups = by_side(responses)
    values: dict[str, dict[tuple[str, str], float | None]] = {}
    for side in SIDES:
        group = groups.get(side, [])
        table: dict[tuple[str, str], float | None] = {}
        for score in statement_scores(fw, group):
            table[("statement", score.key)] = score.score
        for level in step_levels(fw, group):
            table[("step", level.step_id)] = (
                level_percent(fw, level.level_id, extensions) if level.answered else None)
        values[side] = table
    return values


def gap_table(fw: Framework, responses: Iterable[Response]) -> list[Gap]:
    """Every statement and step with both sides' values, largest disagreement first.

    Ties keep framework order (statements, then steps); rows where a side has no
    answer come last, also in framework order.
    """
    values = side_values(fw, responses)
    keys = [("statement", key) for key in fw.statement_by_key] + [("step", s.id) for s in fw.steps]
    gaps = []
    for kind, key in keys:
        public = values["public"][(kind, key)]
        civil = values["civil_society"][(kind, key)]
        difference = round(public - civil, 1) if public is not None and civil is not None else None
        gaps.append(Gap(kind, key, public, civil, difference))
    # sorted() is stable, so equal differences stay in framework order.
    return sorted(gaps, key=lambda g: (g.difference is None, -abs(g.difference or 0.0)))
