"""Reading export files: JSON and CSV checked completely into a neutral form.

Nothing here touches the database. Every problem is located: the file and the JSON
path (``export.json: assessments[0].responses[2].side: ...``) or the CSV line and
column (``data.csv:14: value: rating 7 is outside the scale 0-4``), and all of them
are reported together (up to MAX_PROBLEMS).
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..framework.matrix import Framework, Side
from ..framework.responses import DONT_KNOW, Response, StepAnswer, validate_against
from ..framework.yamlsource import LineMap, Problem, SourceError, format_path, pydantic_problems
from ..regional import followup as fs
from ..regional.agreements import Agreement, agreement_from_data
from ..store.tables import KEY_MAX, NAME_MAX, UNIT_KINDS, YEAR_MAX, YEAR_MIN

FORMAT = "assessment-export"
VERSION = 1
TOKEN_MAX = 64
DELIMITERS = (",", ";")
CSV_COLUMNS = ("unit", "kind", "region", "year", "case", "assessment", "response", "side", "role",
               "extensions", "item_type", "item", "level", "tools", "value", "text")
ITEM_TYPES = ("assessment", "response", "step", "rating", "comment")
LIST_SEP = "|"  # inside a CSV cell: extensions and tools
MAX_PROBLEMS = 50


# --- the neutral form both formats are read into ---------------------------------------------------

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
    followups: list[fs.FollowUp] = field(default_factory=list)
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


def aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def iso(value: Any) -> str | None:
    value = aware(value)
    return value.astimezone(timezone.utc).isoformat() if value else None


# --- JSON import ---------------------------------------------------------------------------------

class _Loose(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _UnitIn(_Loose):
    name: str = Field(min_length=1, max_length=NAME_MAX)
    kind: str = "municipality"
    region: str | None = Field(default=None, max_length=NAME_MAX)


class _ResponseHead(_Loose):
    token: str = Field(min_length=1, max_length=TOKEN_MAX)
    side: Side
    role: str = Field(default="", max_length=NAME_MAX)
    extensions: list[str] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    submitted_at: datetime | None = None
    steps: dict[str, Any] = Field(default_factory=dict)
    ratings: dict[str, Any] = Field(default_factory=dict)
    comments: dict[str, Any] = Field(default_factory=dict)


class _AssessmentIn(_Loose):
    token: str | None = Field(default=None, min_length=1, max_length=TOKEN_MAX)
    unit: str = Field(min_length=1, max_length=NAME_MAX)
    year: int = Field(ge=YEAR_MIN, le=YEAR_MAX)
    case: str | None = Field(default=None, max_length=NAME_MAX)
    extensions: list[str] = Field(default_factory=list)
    created_at: datetime | None = None
    responses: list[dict] = Field(default_factory=list)


class _FollowUpIn(_Loose):
    agreement: str = Field(min_length=1)
    commitment: str = Field(min_length=1)
    year: int = Field(ge=YEAR_MIN, le=YEAR_MAX)
    status: str
    note: str = ""
    updated_at: datetime | None = None


class _ExportIn(_Loose):
    format: str
    version: int
    exported_at: datetime | None = None
    units: list[dict] = Field(default_factory=list)
    assessments: list[dict] = Field(default_factory=list)
    agreements: list[dict] = Field(default_factory=list)
    followups: list[dict] = Field(default_factory=list)


def _model(model: type[BaseModel], data: Any, path: tuple, problems: ProblemList) -> Any:
    """Validate `data` as `model`; problems are located under `path`. None when invalid."""
    if not isinstance(data, dict):
        problems.add(path, f"must be an object (got {type(data).__name__})")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems.extend(pydantic_problems(exc, LineMap(problems.source), path))
        return None


def parse_json(data: bytes, source: str, fw: Framework) -> ImportBundle:
    problems = ProblemList(source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError([Problem(source, (), None, f"not UTF-8 text (byte {exc.start})")]) from None
    if not text.strip():
        raise SourceError([Problem(source, (), None, "the file is empty")])
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        cut = "; the file ends too early (truncated?)" if not text.rstrip().endswith(("}", "]")) else ""
        raise SourceError([Problem(source, (), exc.lineno,
                                   f"invalid JSON at column {exc.colno}: {exc.msg}{cut}")]) from None
    if not isinstance(raw, dict):
        raise SourceError([Problem(source, (), None, f"expected a JSON object with \"format\": \"{FORMAT}\"")])
    if raw.get("format") != FORMAT:
        raise SourceError([Problem(source, ("format",), None,
                                   f"not an assessment export: format must be '{FORMAT}' (got {raw.get('format')!r})")])
    if raw.get("version") != VERSION:
        raise SourceError([Problem(source, ("version",), None,
                                   f"unsupported version {raw.get('version')!r}: this program reads version {VERSION}")])
    top = _model(_ExportIn, raw, (), problems)
    problems.raise_if_any()
    bundle = ImportBundle(source)
    for i, item in enumerate(top.units):
        u = _model(_UnitIn, item, ("units", i), problems)
        if u is None:
            continue
        if u.kind not in UNIT_KINDS:
            problems.add(("units", i, "kind"), f"unknown kind {u.kind!r} (use one of: {', '.join(UNIT_KINDS)})")
        bundle.units.append(UnitRecord(u.name.strip(), u.kind, (u.region or "").strip() or None))
    for i, item in enumerate(top.assessments):
        a = _model(_AssessmentIn, item, ("assessments", i), problems)
        if a is None:
            continue
        record = AssessmentRecord(a.token, a.unit.strip(), a.year, (a.case or "").strip() or None,
                                  list(a.extensions), aware(a.created_at), path=("assessments", i))
        _check_extensions(fw, a.extensions, ("assessments", i, "extensions"), problems)
        for j, r in enumerate(a.responses):
            path = ("assessments", i, "responses", j)
            head = _model(_ResponseHead, r, path, problems)
            if head is None:
                continue
            checked = _checked_answers(fw, record, head.side, head.role, head.extensions, head.steps,
                                       head.ratings, head.comments, path, problems)
            if checked is None:
                continue
            record.responses.append(ResponseRecord(
                head.token, head.side, head.role.strip(), head.extensions, checked.steps, checked.ratings,
                checked.comments, aware(head.created_at), aware(head.updated_at), aware(head.submitted_at),
                path=path))
        bundle.assessments.append(record)
    for i, item in enumerate(top.agreements):
        try:
            bundle.agreements.append(agreement_from_data(item, fw, source))
        except SourceError as exc:
            for p in exc.problems:
                problems.add(("agreements", i) + tuple(p.path), p.message)
    for i, item in enumerate(top.followups):
        f = _model(_FollowUpIn, item, ("followups", i), problems)
        if f is not None:
            bundle.followups.append(fs.FollowUp(f.agreement, f.commitment, f.year, f.status, f.note,
                                                aware(f.updated_at)))
            bundle.followup_paths.append(("followups", i))
    problems.raise_if_any()
    return bundle


def _check_extensions(fw: Framework, extensions: Sequence[str], path: tuple, problems: ProblemList,
                      line: int | None = None) -> None:
    optional = {lv.id for lv in fw.optional_levels}
    for k, ext in enumerate(extensions):
        if ext not in optional:
            known = ", ".join(sorted(optional)) or "none"
            problems.add(path + (k,) if line is None else path,
                         f"'{ext}' is not an optional level of the matrix (optional levels: {known})", line)


def _checked_answers(fw: Framework, assessment: AssessmentRecord, side: str, role: str,
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


# --- CSV import ----------------------------------------------------------------------------------

_CSV_FIELDS = {"steps": "item", "ratings": "value", "comments": "text", "extensions": "extensions",
               "side": "side", "role": "role"}


def _decode_csv(data: bytes, source: str) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SourceError([Problem(source, (), None,
                                   "the file is UTF-16; save it as 'CSV UTF-8' (Excel: Save as > CSV UTF-8)")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise SourceError([Problem(source, (), line,
                                   f"not UTF-8 text (byte {exc.start}); save it as 'CSV UTF-8' "
                                   "(Excel: Save as > CSV UTF-8)")]) from None


def _detect_delimiter(header: str, source: str) -> str:
    for delimiter in DELIMITERS:
        names = next(csv.reader([header], delimiter=delimiter))
        if tuple(n.strip() for n in names) == CSV_COLUMNS:
            return delimiter
    expected = ",".join(CSV_COLUMNS)
    raise SourceError([Problem(source, (), 1,
                               f"header: expected the columns {expected} separated by ',' or ';' "
                               f"(found: {header[:120]!r})")])


def parse_csv(data: bytes, source: str, fw: Framework) -> ImportBundle:
    text = _decode_csv(data, source)
    if not text.strip():
        raise SourceError([Problem(source, (), None, "the file is empty")])
    header = text.splitlines()[0]
    delimiter = _detect_delimiter(header, source)
    problems = ProblemList(source)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    next(reader)
    bundle = ImportBundle(source)
    assessments_: dict[tuple, AssessmentRecord] = {}  # (token or (unit, year, case)) -> record
    units_: dict[str, UnitRecord] = {}
    responses_: dict[str, dict] = {}  # token -> working dict
    seen_items: dict[tuple, int] = {}
    rows = 0
    try:
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            rows += 1
            if len(values) != len(CSV_COLUMNS):
                problems.add((), f"expected {len(CSV_COLUMNS)} fields separated by '{delimiter}', "
                                 f"found {len(values)}", line)
                continue
            row = {c: v.strip() for c, v in zip(CSV_COLUMNS, values)}
            _csv_row(fw, row, line, problems, bundle, units_, assessments_, responses_, seen_items)
    except csv.Error as exc:
        problems.add((), f"broken CSV: {exc}", reader.line_num)
    if not rows and not problems.items:
        problems.add((), "no data rows after the header", 1)
    for token, work in responses_.items():
        record = work["assessment"]
        checked = _checked_answers(fw, record, work["side"], work["role"], work["extensions"], work["steps"],
                                   work["ratings"], work["comments"], (), problems, work["line"], _CSV_FIELDS)
        if checked is not None:
            record.responses.append(ResponseRecord(token, work["side"], work["role"], work["extensions"],
                                                   checked.steps, checked.ratings, checked.comments,
                                                   path=("response",), line=work["line"]))
    problems.raise_if_any()
    bundle.units = list(units_.values())
    bundle.assessments = list(assessments_.values())
    return bundle


def _csv_row(fw: Framework, row: dict, line: int, problems: ProblemList, bundle: ImportBundle,
             units_: dict, assessments_: dict, responses_: dict, seen_items: dict) -> None:
    before = len(problems.items) + problems.extra
    kind = row["item_type"]
    if kind not in ITEM_TYPES:
        problems.add(("item_type",), f"unknown item type {kind!r} (use one of: {', '.join(ITEM_TYPES)})", line)
        return
    if not row["unit"]:
        problems.add(("unit",), "missing: every row names its unit", line)
    elif len(row["unit"]) > NAME_MAX:
        problems.add(("unit",), f"longer than {NAME_MAX} characters", line)
    unit_kind = row["kind"] or "municipality"
    if unit_kind not in UNIT_KINDS:
        problems.add(("kind",), f"unknown kind {unit_kind!r} (use one of: {', '.join(UNIT_KINDS)})", line)
    if not re.fullmatch(r"\d{4}", row["year"]) or not YEAR_MIN <= int(row["year"]) <= YEAR_MAX:
        problems.add(("year",), f"year must be a whole number from {YEAR_MIN} to {YEAR_MAX} (got {row['year']!r})",
                     line)
    for col, limit in (("case", NAME_MAX), ("region", NAME_MAX), ("assessment", TOKEN_MAX),
                       ("response", TOKEN_MAX), ("role", NAME_MAX)):
        if len(row[col]) > limit:
            problems.add((col,), f"longer than {limit} characters", line)
    if len(problems.items) + problems.extra > before:
        return
    year, case = int(row["year"]), row["case"] or None
    unit = units_.setdefault(row["unit"], UnitRecord(row["unit"], unit_kind, row["region"] or None))
    if (unit.kind, unit.region) != (unit_kind, row["region"] or None):
        problems.add(("kind",) if unit.kind != unit_kind else ("region",),
                     f"unit '{unit.name}' is given with another kind or region on an earlier row", line)
        return
    key = ("token", row["assessment"]) if row["assessment"] else ("place", row["unit"], year, case)
    record = assessments_.get(key)
    if record is None:
        record = assessments_[key] = AssessmentRecord(row["assessment"] or None, row["unit"], year, case, [],
                                                      path=("assessment",), line=line)
    elif (record.unit, record.year, record.case) != (row["unit"], year, case):
        problems.add(("assessment",), f"assessment '{row['assessment']}' is given for "
                                      f"{record.unit} {record.year} on line {record.line}", line)
        return
    extensions = [e for e in row["extensions"].split(LIST_SEP) if e] if row["extensions"] != "-" else []
    if kind == "assessment":
        if ("assessment", key) in seen_items:
            problems.add(("item_type",), f"duplicate assessment row (first on line {seen_items[('assessment', key)]})",
                         line)
            return
        seen_items[("assessment", key)] = line
        _check_extensions(fw, extensions, ("extensions",), problems, line)
        record.extensions = extensions
        return
    token = row["response"]
    if not token:
        problems.add(("response",), "missing: every response row needs the response id", line)
        return
    if row["side"] not in ("public", "civil_society"):
        problems.add(("side",), f"unknown side {row['side']!r} (use public or civil_society)", line)
        return
    work = responses_.get(token)
    if work is None:
        work = responses_[token] = {"assessment": record, "side": row["side"], "role": row["role"],
                                    "extensions": None, "steps": {}, "ratings": {}, "comments": {}, "line": line}
    elif work["assessment"] is not record or work["side"] != row["side"] or work["role"] != row["role"]:
        problems.add(("response",), f"response '{token}' is given with another assessment, side or role "
                                    f"on line {work['line']}", line)
        return
    item = row["item"]
    seen_key = (token, kind, item)
    if seen_key in seen_items:
        what = f"{kind} '{item}'" if item else kind
        problems.add(("item",), f"duplicate row: {what} of response '{token}' is already on line "
                                f"{seen_items[seen_key]}", line)
        return
    seen_items[seen_key] = line
    if kind == "response":
        if row["extensions"]:
            _check_extensions(fw, extensions, ("extensions",), problems, line)
            work["extensions"] = extensions
        return
    if not item:
        problems.add(("item",), f"missing: a {kind} row names its {'step' if kind == 'step' else 'key'}", line)
        return
    if kind == "step":
        work["steps"][item] = {"level": row["level"] or "none",
                               "tools": [t for t in row["tools"].split(LIST_SEP) if t]}
        if item not in fw.step_by_id:
            problems.add(("item",), f"unknown step '{item}' (steps are: {', '.join(fw.step_by_id)})", line)
            work["steps"].pop(item)
    elif kind == "rating":
        value = row["value"]
        if value == DONT_KNOW:
            work["ratings"][item] = DONT_KNOW
        elif re.fullmatch(r"-?\d+", value):
            work["ratings"][item] = int(value)
        else:
            problems.add(("value",), f"a rating must be a whole number or '{DONT_KNOW}' (got {value!r})", line)
            return
        if item not in fw.statement_by_key:
            problems.add(("item",), f"unknown statement '{item}'", line)
            work["ratings"].pop(item)
        elif work["ratings"][item] != DONT_KNOW and not fw.scale.min <= work["ratings"][item] <= fw.scale.max:
            problems.add(("value",), f"rating {value} is outside the scale {fw.scale.min}-{fw.scale.max}", line)
            work["ratings"].pop(item)
    else:  # comment
        if not row["text"]:
            problems.add(("text",), "an empty comment", line)
            return
        work["comments"][item] = row["text"]


# --- reading a file ------------------------------------------------------------------------------

def parse_import(data: bytes, filename: str, fw: Framework) -> ImportBundle:
    """Read and check a .json or .csv export completely; SourceError lists every problem."""
    source = Path(filename).name
    suffix = Path(filename).suffix.lower()
    if suffix == ".json":
        return parse_json(data, source, fw)
    if suffix == ".csv":
        return parse_csv(data, source, fw)
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{"):
        return parse_json(data, source, fw)
    raise SourceError([Problem(source, (), None, "unknown file type: the name must end in .json or .csv")])


def check_duplicates(bundle: ImportBundle, problems: ProblemList) -> None:
    """Keys given twice in one file."""
    def where(record) -> str:
        return f"line {record.line}" if record.line else format_where(record.path)

    def field_path(record, name: str) -> tuple:
        return record.path if record.line else record.path + (name,)

    tokens: dict[str, AssessmentRecord] = {}
    places: dict[tuple, AssessmentRecord] = {}
    seen: dict[str, ResponseRecord] = {}
    for record in bundle.assessments:
        if record.token:
            if record.token in tokens:
                problems.add(field_path(record, "token"), f"duplicate assessment token '{record.token}' "
                                                         f"(also {where(tokens[record.token])})", record.line)
            tokens.setdefault(record.token, record)
        place = (record.unit, record.year, record.case or "")
        if place in places:
            problems.add(record.path, f"a second assessment for {record.unit} {record.year}"
                                      + (f" case '{record.case}'" if record.case else "")
                                      + f" (also {where(places[place])})", record.line)
        places.setdefault(place, record)
        for r in record.responses:
            if r.token in seen:
                problems.add(field_path(r, "token"), f"duplicate response token '{r.token}' "
                                                     f"(also {where(seen[r.token])})", r.line)
            seen.setdefault(r.token, r)
    names: dict[str, int] = {}
    for i, unit in enumerate(bundle.units):
        if unit.name in names:
            problems.add(("units", i, "name"), f"duplicate unit '{unit.name}' (also units[{names[unit.name]}])")
        names.setdefault(unit.name, i)
    ids: dict[str, int] = {}
    for i, agreement in enumerate(bundle.agreements):
        if agreement.id in ids:
            problems.add(("agreements", i, "id"), f"duplicate agreement id '{agreement.id}' "
                                                  f"(also agreements[{ids[agreement.id]}])")
        ids.setdefault(agreement.id, i)
    keys: dict[tuple, tuple] = {}
    for item, path in zip(bundle.followups, bundle.followup_paths):
        key = (item.agreement_id, item.commitment_id, item.year)
        if key in keys:
            problems.add(path, f"duplicate follow-up for '{item.commitment_id}' in {item.year} "
                               f"(also {format_where(keys[key])})")
        keys.setdefault(key, path)


def format_where(path: tuple) -> str:
    return format_path(path)
