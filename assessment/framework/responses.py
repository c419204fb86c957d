"""One respondent's answers, as a model, and as a YAML/JSON file.

A response holds, per decision step, the highest participation level reached and
the tools used, and per principle statement a rating on the scale or ``dont_know``.
Validation against the framework (known ids, ratings on the scale) is separate
from parsing so that an answer in progress can be stored while incomplete.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from .limits import version_message
from .matrix import Framework, Side
from .yamlsource import LineMap, Problem, SourceError, load_yaml, parse_model, read_text

DONT_KNOW = "dont_know"
NO_LEVEL = "none"
Rating = int | Literal["dont_know"]
FORMAT = "assessment-response/1"


class StepAnswer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: str = NO_LEVEL  # a level id, or 'none'
    tools: list[str] = Field(default_factory=list)  # tool ids of any cell of this step


class Response(BaseModel):
    """What one respondent answered for one unit, year and (optionally) case."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["assessment-response/1"] = FORMAT
    unit: str = Field(min_length=1)
    year: int = Field(ge=1900, le=2200)
    case: str | None = None
    side: Side
    role: str = ""
    extensions: list[str] = Field(default_factory=list)  # optional levels switched on
    steps: dict[str, StepAnswer] = Field(default_factory=dict)
    ratings: dict[str, Rating] = Field(default_factory=dict)
    comments: dict[str, str] = Field(default_factory=dict)  # keyed by step or statement id, or 'general'


def validate_against(response: Response, fw: Framework, lines: LineMap | None = None,
                     source: str = "response") -> list[Problem]:
    """Problems of a response with respect to a framework (unknown ids, off-scale ratings)."""
    def problem(path: tuple, message: str) -> Problem:
        if lines:
            return lines.problem(path, message)
        return Problem(source, path, None, message)

    problems: list[Problem] = []
    for i, ext in enumerate(response.extensions):
        if ext not in {lv.id for lv in fw.optional_levels}:
            problems.append(problem(("extensions", i), f"'{ext}' is not an optional level of the matrix"))
    active = {lv.id for lv in fw.active_levels(response.extensions)}
    for step_id, answer in response.steps.items():
        if step_id not in fw.step_by_id:
            problems.append(problem(("steps", step_id), f"unknown step '{step_id}'"))
            continue
        if answer.level != NO_LEVEL and answer.level not in active:
            known = ", ".join([NO_LEVEL, *sorted(active)])
            problems.append(problem(("steps", step_id, "level"),
                                    f"unknown level '{answer.level}' (use one of: {known})"))
        tools = {t.id for lv in active if (c := fw.cell(step_id, lv)) for t in c.tools}
        for i, tool in enumerate(answer.tools):
            if tool not in tools:
                problems.append(problem(("steps", step_id, "tools", i),
                                        f"'{tool}' is not a tool of step '{step_id}'"))
    for key, value in response.ratings.items():
        if key not in fw.statement_by_key:
            problems.append(problem(("ratings", key), f"unknown statement '{key}'"))
        elif value != DONT_KNOW and not fw.scale.min <= value <= fw.scale.max:
            problems.append(problem(("ratings", key),
                                    f"rating {value} is outside the scale {fw.scale.min}-{fw.scale.max}"))
    return problems


def parse_response(text: str, source: str, fw: Framework) -> Response:
    """Parse a response file's text (YAML or JSON, JSON being YAML), fully checked."""
    data, lines = load_yaml(text, source)
    if not isinstance(data, dict):
        raise SourceError([lines.problem((), "a response file must be a mapping (see examples/)")])
    if data.get("format", FORMAT) != FORMAT:
        raise SourceError([lines.problem(("format",), version_message(data["format"], [FORMAT], "format"))])
    response = parse_model(Response, data, lines)
    problems = validate_against(response, fw, lines)
    if problems:
        raise SourceError(problems)
    return response


def read_response(path: str | Path, fw: Framework) -> Response:
    return parse_response(read_text(path), Path(path).name, fw)


def response_to_dict(response: Response) -> dict[str, Any]:
    return response.model_dump(mode="json", exclude_defaults=False)


def dump_response(response: Response, fmt: str = "yaml") -> str:
    data = response_to_dict(response)
    if fmt == "json":
        return json.dumps(data, ensure_ascii=False, indent=2)
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
