"""The neutral form both export formats are read into, and what reading them shares: the
located problem list, the checks of answers against the framework, ISO times, chunks.

Nothing here touches the database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from pydantic import ValidationError

from ..framework.matrix import Framework
from ..framework.responses import DONT_KNOW, Response, StepAnswer, validate_against
from ..framework.yamlsource import LineMap, Problem, SourceError, pydantic_problems
from ..regional.agreements import Agreement
from ..regional.followup import FollowUp
from ..store.engine import aware
from ..store.tables import KEY_MAX

FORMAT = "assessment-export"
VERSION = 1
TOKEN_MAX = 64
DELIMITERS = (",", ";")
CSV_COLUMNS = ("unit", "kind", "region", "year", "case", "assessment", "response", "side", "role",
               "extensions", "item_type", "item", "level", "tools", "value", "text")
ITEM_TYPES = ("assessment", "response", "step", "rating", "comment")
LIST_SEP = "|"  # inside a CSV cell: extensions and tools
MAX_PROBLEMS = 50


@dataclass
class UnitRecord:
    name: str
    kind: str = "municipality"
    region: str | None = None


@dataclass
class ResponseRecord:
    token: str
    side: str
    role: str
    extensions: list[str] | None  # own levels when they differ from the assessment's
    steps: dict[str, StepAnswer]
    ratings: dict[str, int | str]
    comments: dict[str, str]
    created_at: datetime | None = None
    updated_at: datetime | None = None
    submitted_at: datetime | None = None
    path: tuple = ()  # where it was given: JSON path, or CSV column
    line: int | None = None  # CSV line


@dataclass
class AssessmentRecord:
    token: str | None
    unit: str
    year: int
    case: str | None
    extensions: list[str]
    created_at: datetime | None = None
    responses: list[ResponseRecord] = field(default_factory=list)
    path: tuple = ()  # where it was given: JSON path, or CSV column
    line: int | None = None  # CSV line


@dataclass
class ImportBundle:
    source: str
    units: list[UnitRecord] = field(default_factory=list)
    assessments: list[AssessmentRecord] = field(default_factory=list)
    agreements: list[Agreement] = field(default_factory=list)
    followups: list[FollowUp] = field(default_factory=list)
    followup_paths: list[tuple] = field(default_factory=list)  # JSON path of each follow-up

    @property
    def response_count(self) -> int:
        return sum(len(a.responses) for a in self.assessments)


@dataclass(frozen=True)
class ImportSummary:
    source: str
    units_added: int = 0
    assessments_added: int = 0
    responses_added: int = 0
    responses_replaced: int = 0
    responses_unchanged: int = 0
    agreements: int = 0
    followups: int = 0

    def line(self) -> str:
        return (f"{self.source}: {self.responses_added} responses added, {self.responses_replaced} replaced, "
                f"{self.responses_unchanged} unchanged ({self.assessments_added} new assessments, "
                f"{self.units_added} new units); {self.agreements} agreements, {self.followups} follow-ups")


class ProblemList:
    """Collects problems; stops collecting (but counts) after MAX_PROBLEMS."""

    def __init__(self, source: str):
        self.source = source
        self.items: list[Problem] = []
        self.extra = 0

    def add(self, path: Sequence, message: str, line: int | None = None) -> None:
        if len(self.items) >= MAX_PROBLEMS:
            self.extra += 1
            return
        self.items.append(Problem(self.source, tuple(path), line, message))

    def extend(self, problems: Iterable[Problem]) -> None:
        for p in problems:
            self.add(p.path, p.message, p.line)

    def raise_if_any(self) -> None:
        if self.items:
            items = list(self.items)
            if self.extra:
                items.append(Problem(self.source, (), None, f"... and {self.extra} more problems"))
            raise SourceError(items)


def iso(value: Any) -> str | None:
    value = aware(value)
    return value.astimezone(timezone.utc).isoformat() if value else None


def chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    """`items` in slices of `size` (SQL IN lists stay short)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


# --- checks both readers make ------------------------------------------------------------------

def check_extensions(fw: Framework, extensions: Sequence[str], path: tuple, problems: ProblemList,
                     line: int | None = None) -> None:
    optional = {lv.id for lv in fw.optional_levels}
    for k, ext in enumerate(extensions):
        if ext not in optional:
            known = ", ".join(sorted(optional)) or "none"
            problems.add(path + (k,) if line is None else path,
                         f"'{ext}' is not an optional level of the matrix (optional levels: {known})", line)


def checked_answers(fw: Framework, assessment: AssessmentRecord, side: str, role: str,
                    extensions: list[str] | None, steps: dict, ratings_: dict, comments_: dict,
                    path: tuple, problems: ProblemList, line: int | None = None,
                    columns: dict[str, str] | None = None) -> Response | None:
    """The answers as a Response checked against the framework; None (problems added) if invalid.

    `columns` maps a Response field to the CSV column to name in messages.
    """
    for what, keys in (("step id", steps), ("statement key", ratings_), ("comment key", comments_)):
        for key in keys:
            if len(key) > KEY_MAX:
                problems.add(path, f"{what} is longer than {KEY_MAX} characters: {key[:40]!r}...", line)
                return None
    try:
        response = Response(unit=assessment.unit, year=assessment.year, case=assessment.case, side=side,
                            role=role, extensions=extensions if extensions is not None else assessment.extensions,
                            steps=steps, ratings=ratings_, comments=comments_)
    except ValidationError as exc:
        for p in pydantic_problems(exc, LineMap(problems.source)):
            where = path + p.path if columns is None else path + (columns.get(str(p.path[0]), str(p.path[0])),)
            problems.add(where, p.message, line)
        return None
    for key, value in response.ratings.items():
        if isinstance(ratings_[key], bool):
            problems.add(path + (("ratings", key) if columns is None else (columns["ratings"],)),
                         f"a rating must be a whole number or '{DONT_KNOW}' (got {ratings_[key]!r})", line)
            return None
    found = validate_against(response, fw)
    if found:
        for p in found:
            where = path + p.path if columns is None else path + (columns.get(str(p.path[0]), str(p.path[0])),)
            problems.add(where, p.message, line)
        return None
    return response
