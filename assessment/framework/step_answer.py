"""One decision step's answer as the questionnaire takes it: bound to its step, and consistent.

Bound: while the page draws the next step, the previous step's level choice is still on
screen for a moment and can be clicked. Each choice therefore names its step
(``agenda/dialogue``), and a choice is only ever read as the level of the step it names,
so a late click counts where it was given, never for the step drawn after it.

Consistent: the respondent gives the level reached and ticks the Code's tools used, listed
under their levels. A ticked tool of a level above the one reached contradicts it: either
participation went further than answered, or the tool is ticked by mistake. The
questionnaire shows the disagreement and lets the respondent settle it either way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .matrix import Framework
from .responses import NO_LEVEL, StepAnswer

SEPARATOR = "/"


def level_choices(fw: Framework, step_id: str, extensions: Sequence[str] = ()) -> list[str]:
    """The level choices of a step, each naming the step: 'none' first, then the active levels."""
    return [choice(step_id, level) for level in [NO_LEVEL, *(lv.id for lv in fw.active_levels(extensions))]]


def choice(step_id: str, level_id: str) -> str:
    return f"{step_id}{SEPARATOR}{level_id}"


def level_of(step_id: str, chosen: str | None) -> str | None:
    """The level a choice gives step `step_id`; None when there is none or it names another step."""
    if not chosen:
        return None
    named_step, _, level_id = chosen.partition(SEPARATOR)
    return level_id if named_step == step_id and level_id else None


@dataclass(frozen=True)
class ToolsAboveLevel:
    """Ticked tools of a step that belong to levels above the level reached."""

    step_id: str
    level_id: str  # the level reached as answered ('none' or a level id)
    tools: tuple[str, ...]  # the ticked tools above it, in matrix order
    highest_level_id: str  # the highest level one of them belongs to


def tool_levels(fw: Framework, step_id: str, extensions: Sequence[str] = ()) -> dict[str, str]:
    """{tool id: level id} for the tools of a step's cells among the active levels, in matrix order."""
    return {tool.id: level.id for level in fw.active_levels(extensions)
            if (cell := fw.cell(step_id, level.id)) for tool in cell.tools}


def tools_above_level(fw: Framework, step_id: str, answer: StepAnswer,
                      extensions: Sequence[str] = ()) -> ToolsAboveLevel | None:
    """The disagreement between a step's ticked tools and its level reached, or None."""
    reached = fw.level_rank(answer.level) if answer.level == NO_LEVEL or answer.level in fw.level_by_id else None
    if reached is None:
        return None
    ticked = set(answer.tools)
    above = [(tool, level) for tool, level in tool_levels(fw, step_id, extensions).items()
             if tool in ticked and fw.level_rank(level) > reached]
    if not above:
        return None
    highest = max((level for _tool, level in above), key=fw.level_rank)
    return ToolsAboveLevel(step_id, answer.level, tuple(tool for tool, _level in above), highest)


def raise_level(answer: StepAnswer, disagreement: ToolsAboveLevel) -> StepAnswer:
    """The answer with the level reached raised to the highest level of a ticked tool."""
    return StepAnswer(level=disagreement.highest_level_id, tools=list(answer.tools))


def untick_tools_above(answer: StepAnswer, disagreement: ToolsAboveLevel) -> StepAnswer:
    """The answer with the tools above the level reached unticked."""
    return StepAnswer(level=answer.level, tools=[t for t in answer.tools if t not in disagreement.tools])
