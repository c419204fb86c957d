"""The assessment framework: the Council of Europe Code matrix and the six principles.

``matrix.yaml`` is the single source of truth; these models load and check it once.
Structural checks are pydantic's; cross-references (unknown step, missing cell,
duplicate id) are checked afterwards so each error can point at its own YAML line.
"""

from __future__ import annotations

import os
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from .limits import version_message
from .yamlsource import LineMap, Problem, SourceError, duplicate_ids, load_yaml, parse_model, read_yaml

LANGUAGES = ("sv", "en")
Lang = Literal["sv", "en"]
Side = Literal["public", "civil_society"]
StatementSide = Literal["public", "civil_society", "both"]
ID_PATTERN = r"^[a-z][a-z0-9_]*$"

MATRIX_VERSIONS = (1,)  # the versions of the matrix format this program reads
DEFAULT_MATRIX = Path(__file__).resolve().parents[2] / "matrix.yaml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(Strict):
    """A text in every language the tool speaks."""

    sv: str = Field(min_length=1)
    en: str = Field(min_length=1)

    @field_validator("sv", "en")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("text is blank")
        return value.strip()

    def __call__(self, lang: str) -> str:
        return self.en if lang == "en" else self.sv


class ScaleLabel(Strict):
    value: int
    label: Text


class Scale(Strict):
    min: int = 0
    max: int
    labels: list[ScaleLabel]
    dont_know: Text

    def label(self, value: int, lang: str) -> str:
        for item in self.labels:
            if item.value == value:
                return item.label(lang)
        return str(value)

    @property
    def values(self) -> list[int]:
        return list(range(self.min, self.max + 1))

    def percent(self, mean: float) -> float:
        """A rating (or a mean of ratings) as its position on the scale, 0-100: min is 0, max is 100.

        Not ``mean / max``: on a 1-5 scale the lowest answer must score 0, not 20.
        """
        return (mean - self.min) / (self.max - self.min) * 100


class Level(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: Text
    description: Text
    optional: bool = False


class Step(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: Text
    description: Text


class Tool(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: Text
    description: Text


class Cell(Strict):
    step: str
    level: str
    tools: list[Tool] = Field(min_length=1)


class Statement(Strict):
    id: str = Field(pattern=ID_PATTERN)
    text: Text
    side: StatementSide = "both"


class Principle(Strict):
    id: str = Field(pattern=ID_PATTERN)
    name: Text
    description: Text
    statements: list[Statement] = Field(min_length=1)


class Framework(Strict):
    """The whole matrix.yaml, validated."""

    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    version: int = 1
    title: Text
    scale: Scale
    levels: list[Level] = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)
    cells: list[Cell]
    principles: list[Principle] = Field(min_length=1)

    # Lookups, built once per loaded framework.
    @cached_property
    def level_by_id(self) -> dict[str, Level]:
        return {level.id: level for level in self.levels}

    @cached_property
    def step_by_id(self) -> dict[str, Step]:
        return {step.id: step for step in self.steps}

    @cached_property
    def cell_by_key(self) -> dict[tuple[str, str], Cell]:
        return {(cell.step, cell.level): cell for cell in self.cells}

    @cached_property
    def principle_by_id(self) -> dict[str, Principle]:
        return {p.id: p for p in self.principles}

    @cached_property
    def statement_by_key(self) -> dict[str, tuple[Principle, Statement]]:
        """Statements by their stable full id, e.g. ``independence.criticism``."""
        return {statement_key(p, s): (p, s) for p in self.principles for s in p.statements}

    def active_levels(self, extensions: tuple[str, ...] | list[str] = ()) -> list[Level]:
        """The levels in order; optional ones only when switched on."""
        return [lv for lv in self.levels if not lv.optional or lv.id in extensions]

    @property
    def optional_levels(self) -> list[Level]:
        return [lv for lv in self.levels if lv.optional]

    def level_rank(self, level_id: str) -> int:
        """0 for 'none', 1 for the first level, and so on."""
        if level_id == "none":
            return 0
        return [lv.id for lv in self.levels].index(level_id) + 1

    def cell(self, step_id: str, level_id: str) -> Cell | None:
        return self.cell_by_key.get((step_id, level_id))

    @property
    def statement_keys(self) -> list[str]:
        return list(self.statement_by_key)


def statement_key(principle: Principle, statement: Statement) -> str:
    return f"{principle.id}.{statement.id}"


def _check_references(fw: Framework, lines: LineMap) -> list[Problem]:
    """Checks pydantic cannot express per field: ids, references, coverage, scale."""
    problems: list[Problem] = []
    problems += duplicate_ids(fw.levels, ("levels",), "level", lines).values()
    problems += duplicate_ids(fw.steps, ("steps",), "step", lines).values()
    problems += duplicate_ids(fw.principles, ("principles",), "principle", lines).values()
    for pi, principle in enumerate(fw.principles):
        problems += duplicate_ids(principle.statements, ("principles", pi, "statements"), "statement", lines).values()
    if fw.levels[0].optional if fw.levels else False:
        problems.append(lines.problem(("levels", 0, "optional"), "the first level cannot be optional"))

    level_ids = {lv.id for lv in fw.levels}
    step_ids = {st.id for st in fw.steps}
    if "none" in level_ids:
        i = [lv.id for lv in fw.levels].index("none")
        problems.append(lines.problem(("levels", i, "id"), "'none' is reserved for 'no participation'"))
    seen_cells: dict[tuple[str, str], int] = {}
    tools_in_step: dict[str, dict[str, tuple[int, int]]] = {}
    for ci, cell in enumerate(fw.cells):
        if cell.step not in step_ids:
            problems.append(lines.problem(("cells", ci, "step"),
                                          f"unknown step '{cell.step}' (steps are: {', '.join(s.id for s in fw.steps)})"))
        if cell.level not in level_ids:
            problems.append(lines.problem(("cells", ci, "level"),
                                          f"unknown level '{cell.level}' (levels are: {', '.join(lv.id for lv in fw.levels)})"))
        key = (cell.step, cell.level)
        if key in seen_cells:
            problems.append(lines.problem(("cells", ci),
                                          f"duplicate cell for step '{cell.step}' and level '{cell.level}' "
                                          f"(already given as cells[{seen_cells[key]}])"))
        else:
            seen_cells[key] = ci
        # Answers store tool ids per step, so a tool id must be unique across a step's cells.
        for ti, tool in enumerate(cell.tools):
            first = tools_in_step.setdefault(cell.step, {}).setdefault(tool.id, (ci, ti))
            if first != (ci, ti):
                problems.append(lines.problem(
                    ("cells", ci, "tools", ti, "id"),
                    f"duplicate tool id '{tool.id}' in step '{cell.step}' "
                    f"(already used by cells[{first[0]}].tools[{first[1]}])"))
    for level in fw.levels:
        if level.optional:
            continue
        for step in fw.steps:
            if (step.id, level.id) not in seen_cells:
                problems.append(lines.problem(("cells",),
                                              f"missing cell for step '{step.id}' and level '{level.id}'"))

    scale = fw.scale
    if scale.max == scale.min:
        problems.append(lines.problem(("scale", "max"),
                                      f"the scale has one value only (min = max = {scale.max}): a score is the "
                                      "answer's position between min and max, so max must be greater than min"))
    elif scale.max < scale.min:
        problems.append(lines.problem(("scale", "max"),
                                      f"scale max ({scale.max}) must be greater than min ({scale.min})"))
    else:
        wanted = set(range(scale.min, scale.max + 1))
        given: dict[int, int] = {}
        for i, item in enumerate(scale.labels):
            if item.value in given:
                problems.append(lines.problem(("scale", "labels", i, "value"),
                                              f"duplicate label for value {item.value}"))
            elif item.value not in wanted:
                problems.append(lines.problem(("scale", "labels", i, "value"),
                                              f"value {item.value} is outside the scale {scale.min}-{scale.max}"))
            given.setdefault(item.value, i)
        for value in sorted(wanted - set(given)):
            problems.append(lines.problem(("scale", "labels"), f"no label for scale value {value}"))
    return problems


def load_framework(path: str | Path | None = None) -> Framework:
    """Load and validate a matrix file; raises SourceError listing every problem."""
    return _framework(*read_yaml(Path(path) if path else matrix_path()))


def parse_framework(text: str, source: str) -> Framework:
    """A matrix from YAML text (e.g. a region's own copy); raises SourceError like load_framework."""
    return _framework(*load_yaml(text, source))


def _framework(data: object, lines: LineMap) -> Framework:
    if not isinstance(data, dict):
        raise SourceError([lines.problem((), "the file must be a mapping with levels, steps, cells and principles")])
    if data.get("version", MATRIX_VERSIONS[-1]) not in MATRIX_VERSIONS:
        raise SourceError([lines.problem(("version",), version_message(data["version"], MATRIX_VERSIONS,
                                                                        "matrix version"))])
    framework = parse_model(Framework, data, lines)
    problems = _check_references(framework, lines)
    if problems:
        raise SourceError(problems)
    return framework


def matrix_path() -> Path:
    """The matrix in use: ASSESSMENT_MATRIX if set, else the shipped matrix.yaml."""
    return Path(os.environ.get("ASSESSMENT_MATRIX") or DEFAULT_MATRIX)


@lru_cache(maxsize=8)
def _cached(path: str, mtime_ns: int) -> Framework:
    return load_framework(path)


def get_framework(path: str | Path | None = None) -> Framework:
    """The framework, loaded once per file version (reloaded when the file changes)."""
    path = Path(path) if path else matrix_path()
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return load_framework(path)  # raises a located "file not found"
    return _cached(str(path), mtime)
