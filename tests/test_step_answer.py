"""A step's answer bound to its step, and the check that ticked tools agree with the level reached."""

from __future__ import annotations

import pytest

from assessment.framework.responses import StepAnswer
from assessment.framework.step_answer import (ToolsAboveLevel, choice, level_choices, level_of, raise_level,
                                              tool_levels, tools_above_level, untick_tools_above)


def tools_of(fw, step_id: str, level_id: str) -> list[str]:
    return [tool.id for tool in fw.cell(step_id, level_id).tools]


def test_choices_name_their_step_and_are_read_for_it_only(framework):
    choices = level_choices(framework, "drafting")
    assert [level_of("drafting", c) for c in choices] == ["none", *(lv.id for lv in framework.active_levels())]
    # A choice made on another step's radio never becomes this step's level.
    assert level_of("decision", choice("drafting", "dialogue")) is None
    assert level_of("decision", None) is None and level_of("decision", "decision/") is None
    with_optional = level_choices(framework, "drafting", ["mobilisation"])
    assert level_of("drafting", with_optional[-1]) == "mobilisation"


def test_tools_within_the_level_reached_agree(framework):
    tools = tools_of(framework, "agenda", "information") + tools_of(framework, "agenda", "dialogue")[:1]
    assert tools_above_level(framework, "agenda", StepAnswer(level="dialogue", tools=tools)) is None
    assert tools_above_level(framework, "agenda", StepAnswer(level="partnership", tools=tools)) is None
    assert tools_above_level(framework, "agenda", StepAnswer(level="none", tools=[])) is None


def test_tools_above_the_level_reached_are_found_with_the_highest_level(framework):
    dialogue = tools_of(framework, "decision", "dialogue")[:1]
    partnership = tools_of(framework, "decision", "partnership")[:2]
    information = tools_of(framework, "decision", "information")[:1]
    answer = StepAnswer(level="consultation", tools=partnership + information + dialogue)
    found = tools_above_level(framework, "decision", answer)
    # Matrix order (dialogue before partnership), not the order ticked; information is within reach.
    assert found == ToolsAboveLevel("decision", "consultation", tuple(dialogue + partnership), "partnership")


def test_no_level_reached_with_tools_ticked_disagrees(framework):
    ticked = tools_of(framework, "monitoring", "information")[:1]
    found = tools_above_level(framework, "monitoring", StepAnswer(level="none", tools=ticked))
    assert found is not None and found.tools == tuple(ticked) and found.highest_level_id == "information"


def test_optional_level_tools_count_only_when_switched_on(framework):
    optional = framework.optional_levels[0].id
    step = next(s.id for s in framework.steps if framework.cell(s.id, optional))
    ticked = tools_of(framework, step, optional)[:1]
    answer = StepAnswer(level="partnership", tools=ticked)
    assert tools_above_level(framework, step, answer) is None  # not a tool of this assessment's ladder
    found = tools_above_level(framework, step, answer, [optional])
    assert found is not None and found.highest_level_id == optional
    assert set(tool_levels(framework, step, [optional])) > set(tool_levels(framework, step))


@pytest.mark.parametrize("settle,level,kept", [
    (raise_level, "partnership", "all"),
    (untick_tools_above, "consultation", "within"),
])
def test_either_way_of_settling_leaves_an_answer_that_agrees(framework, settle, level, kept):
    within = tools_of(framework, "implementation", "information")[:1]
    above = tools_of(framework, "implementation", "partnership")[:1]
    answer = StepAnswer(level="consultation", tools=within + above)
    settled = settle(answer, tools_above_level(framework, "implementation", answer))
    assert settled.level == level
    assert settled.tools == (within + above if kept == "all" else within)
    assert tools_above_level(framework, "implementation", settled) is None
    assert answer.tools == within + above  # the answer given is not changed in place
