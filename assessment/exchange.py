"""Export and import: an assessment, a unit or the whole database, as JSON or CSV.

JSON (``{"format": "assessment-export", "version": 1, ...}``) carries everything:
units, assessments with their responses, agreements and follow-ups. CSV is for
spreadsheets: one row per response and step, rating or comment, UTF-8 with a BOM
and ``,`` or ``;`` between fields (Swedish Excel expects ``;``).

An import is checked completely before anything is written, and then written in
one transaction: a bad file changes nothing. Every problem names the file and the
JSON path or the CSV line and column. Records keep their natural keys (unit name,
assessment and response tokens, agreement id, agreement + commitment + year), so
importing the same file twice adds nothing the second time.
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

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from . import db as dbmod
from . import followup_store as fs
from .agreements import Agreement, agreement_from_data
from . import compare
from .framework import Framework, Side
from .responses import DONT_KNOW, Response, StepAnswer, validate_against
from .storage import (KEY_MAX, NAME_MAX, UNIT_KINDS, YEAR_MAX, YEAR_MIN, assessments, comments,
                      new_token, ratings, responses, step_answers)
from .storage import units as unit_table
from .yamlsource import LineMap, Problem, SourceError, format_path, pydantic_problems

FORMAT = "assessment-export"
VERSION = 1
TOKEN_MAX = 64
DELIMITERS = (",", ";")
CSV_COLUMNS = ("unit", "kind", "region", "year", "case", "assessment", "response", "side", "role",
               "extensions", "item_type", "item", "level", "tools", "value", "text")
ITEM_TYPES = ("assessment", "response", "step", "rating", "comment")
LIST_SEP = "|"  # inside a CSV cell: extensions and tools
MAX_PROBLEMS = 50
BATCH = 5000


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


class _Problems:
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


def _aware(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _iso(value: Any) -> str | None:
    value = _aware(value)
    return value.astimezone(timezone.utc).isoformat() if value else None


# --- export --------------------------------------------------------------------------------------

def _selection(unit: str | None, year: int | None, assessment: str | None) -> list:
    where = []
    if unit is not None:
        where.append(unit_table.c.name == unit)
    if year is not None:
        where.append(assessments.c.year == year)
    if assessment is not None:
        where.append(assessments.c.token == assessment)
    return where


def _ordered(keys: Iterable[str], order: Sequence[str]) -> list[str]:
    rank = {k: i for i, k in enumerate(order)}
    return sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))


def export_data(db: Any, fw: Framework, unit: str | None = None, year: int | None = None,
                assessment: str | None = None, agreements: bool = True) -> dict:
    """The selected data as a JSON-ready dict (see the module docstring for the format).

    LookupError when the selection names a unit or assessment that does not exist.
    """
    engine = fs.engine_of(db)
    where = _selection(unit, year, assessment)
    base = assessments.join(unit_table, unit_table.c.id == assessments.c.unit_id)
    with engine.connect() as conn:
        if unit is not None and conn.execute(sa.select(unit_table.c.id).where(unit_table.c.name == unit)).first() is None:
            raise LookupError(f"no unit called '{unit}'")
        if assessment is not None and conn.execute(
                sa.select(assessments.c.id).where(assessments.c.token == assessment)).first() is None:
            raise LookupError(f"no assessment with token '{assessment}'")
        heads = conn.execute(
            sa.select(assessments.c.id, assessments.c.token, unit_table.c.name, assessments.c.year,
                      assessments.c.case, assessments.c.extensions, assessments.c.created_at)
            .select_from(base).where(*where)
            .order_by(unit_table.c.name, assessments.c.year, sa.func.coalesce(assessments.c.case, ""))).all()
        unit_query = sa.select(unit_table.c.name, unit_table.c.kind, unit_table.c.region).order_by(unit_table.c.name)
        if unit is not None:
            unit_query = unit_query.where(unit_table.c.name == unit)
        elif where:
            unit_query = unit_query.where(unit_table.c.name.in_(sorted({h.name for h in heads})))
        unit_rows = conn.execute(unit_query).all()
        ids = [h.id for h in heads]
        by_assessment: dict[int, list[dict]] = {i: [] for i in ids}
        for chunk in _chunks(ids, 500):
            _export_responses(conn, fw, chunk, by_assessment)
        data = {
            "format": FORMAT, "version": VERSION, "exported_at": _iso(dbmod.utcnow()),
            "units": [{"name": n, "kind": k, "region": r} for n, k, r in unit_rows],
            "assessments": [{"token": h.token, "unit": h.name, "year": h.year, "case": h.case,
                             "extensions": list(h.extensions or []), "created_at": _iso(h.created_at),
                             "responses": by_assessment[h.id]} for h in heads],
            "agreements": [], "followups": [],
        }
    if agreements and assessment is None:
        chosen = [a for a in fs.list_agreements(engine) if unit is None or a.unit == unit]
        data["agreements"] = [a.to_data() for a in chosen]
        ids_ = {a.id for a in chosen}
        data["followups"] = [
            {"agreement": f.agreement_id, "commitment": f.commitment_id, "year": f.year, "status": f.status,
             "note": f.note, "updated_at": _iso(f.updated_at)}
            for f in fs.followups(engine) if f.agreement_id in ids_ and (year is None or f.year == year)]
    return data


def _chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _export_responses(conn: sa.Connection, fw: Framework, assessment_ids: Sequence[int],
                      out: dict[int, list[dict]]) -> None:
    heads = conn.execute(
        sa.select(responses.c.id, responses.c.assessment_id, responses.c.token, responses.c.side,
                  responses.c.role, responses.c.extensions, responses.c.created_at, responses.c.updated_at,
                  responses.c.submitted_at)
        .where(responses.c.assessment_id.in_(list(assessment_ids)))
        .order_by(responses.c.id)).all()
    ids = [h.id for h in heads]
    steps: dict[int, dict] = {i: {} for i in ids}
    rates: dict[int, dict] = {i: {} for i in ids}
    notes: dict[int, dict] = {i: {} for i in ids}
    for chunk in _chunks(ids, 2000):
        for rid, step_id, level, tools in conn.execute(
                sa.select(step_answers.c.response_id, step_answers.c.step_id, step_answers.c.level,
                          step_answers.c.tools).where(step_answers.c.response_id.in_(list(chunk)))):
            steps[rid][step_id] = {"level": level, "tools": list(tools or [])}
        for rid, key, value, dont_know in conn.execute(
                sa.select(ratings.c.response_id, ratings.c.statement_key, ratings.c.value, ratings.c.dont_know)
                .where(ratings.c.response_id.in_(list(chunk)))):
            rates[rid][key] = DONT_KNOW if dont_know else value
        for rid, key, text in conn.execute(
                sa.select(comments.c.response_id, comments.c.key, comments.c.text)
                .where(comments.c.response_id.in_(list(chunk)))):
            notes[rid][key] = text
    step_order = [s.id for s in fw.steps]
    for h in heads:
        s, r, c = steps[h.id], rates[h.id], notes[h.id]
        out[h.assessment_id].append({
            "token": h.token, "side": h.side, "role": h.role or "",
            "extensions": None if h.extensions is None else list(h.extensions),
            "created_at": _iso(h.created_at), "updated_at": _iso(h.updated_at),
            "submitted_at": _iso(h.submitted_at),
            "steps": {k: s[k] for k in _ordered(s, step_order)},
            "ratings": {k: r[k] for k in _ordered(r, fw.statement_keys)},
            "comments": {k: c[k] for k in sorted(c)},
        })


def export_json(db: Any, fw: Framework, unit: str | None = None, year: int | None = None,
                assessment: str | None = None) -> bytes:
    data = export_data(db, fw, unit, year, assessment)
    return json.dumps(data, ensure_ascii=False, indent=1).encode("utf-8")


def export_csv(db: Any, fw: Framework, unit: str | None = None, year: int | None = None,
               assessment: str | None = None, delimiter: str = ",") -> bytes:
    """CSV with a BOM: one row per assessment, response, step, rating and comment."""
    if delimiter not in DELIMITERS:
        raise ValueError(f"delimiter must be ',' or ';' (got {delimiter!r})")
    data = export_data(db, fw, unit, year, assessment, agreements=False)
    kinds = {u["name"]: (u["kind"], u["region"] or "") for u in data["units"]}
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for a in data["assessments"]:
        kind, region = kinds.get(a["unit"], ("municipality", ""))
        head = {"unit": a["unit"], "kind": kind, "region": region, "year": a["year"], "case": a["case"] or "",
                "assessment": a["token"]}

        def row(**values) -> list:
            merged = {**head, **values}
            return [merged.get(col, "") for col in CSV_COLUMNS]

        writer.writerow(row(item_type="assessment", extensions=LIST_SEP.join(a["extensions"])))
        for r in a["responses"]:
            who = {"response": r["token"], "side": r["side"], "role": r["role"]}
            own = "" if r["extensions"] is None else LIST_SEP.join(r["extensions"]) or "-"
            writer.writerow(row(**who, item_type="response", extensions=own))
            for step_id, answer in r["steps"].items():
                writer.writerow(row(**who, item_type="step", item=step_id, level=answer["level"],
                                    tools=LIST_SEP.join(answer["tools"])))
            for key, value in r["ratings"].items():
                writer.writerow(row(**who, item_type="rating", item=key, value=value))
            for key, text in r["comments"].items():
                writer.writerow(row(**who, item_type="comment", item=key, text=text))
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def write_export(db: Any, fw: Framework, path: str | Path, unit: str | None = None, year: int | None = None,
                 assessment: str | None = None, delimiter: str = ",") -> Path:
    """Export to a .json or .csv file (by suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        payload = export_json(db, fw, unit, year, assessment)
    elif suffix == ".csv":
        payload = export_csv(db, fw, unit, year, assessment, delimiter)
    else:
        raise ValueError(f"{path.name}: the file name must end in .json or .csv")
    path.write_bytes(payload)
    return path


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


def _model(model: type[BaseModel], data: Any, path: tuple, problems: _Problems) -> Any:
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
    problems = _Problems(source)
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
                                  list(a.extensions), _aware(a.created_at), path=("assessments", i))
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
                checked.comments, _aware(head.created_at), _aware(head.updated_at), _aware(head.submitted_at),
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
                                                _aware(f.updated_at)))
            bundle.followup_paths.append(("followups", i))
    problems.raise_if_any()
    return bundle


def _check_extensions(fw: Framework, extensions: Sequence[str], path: tuple, problems: _Problems,
                      line: int | None = None) -> None:
    optional = {lv.id for lv in fw.optional_levels}
    for k, ext in enumerate(extensions):
        if ext not in optional:
            known = ", ".join(sorted(optional)) or "none"
            problems.add(path + (k,) if line is None else path,
                         f"'{ext}' is not an optional level of the matrix (optional levels: {known})", line)


def _checked_answers(fw: Framework, assessment: AssessmentRecord, side: str, role: str,
                     extensions: list[str] | None, steps: dict, ratings_: dict, comments_: dict,
                     path: tuple, problems: _Problems, line: int | None = None,
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
    problems = _Problems(source)
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


def _csv_row(fw: Framework, row: dict, line: int, problems: _Problems, bundle: ImportBundle,
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


def import_bytes(db: Any, fw: Framework, data: bytes, filename: str) -> ImportSummary:
    """Check the whole file, then write it in one transaction (nothing on any problem)."""
    bundle = parse_import(data, filename, fw)
    return apply_bundle(db, fw, bundle)


def _resum(engine: sa.Engine, fw: Framework) -> None:
    # Sum the new answers for the comparison now, so the next comparison page is quick.
    compare.refresh_summaries(engine, fw)


def import_file(db: Any, fw: Framework, path: str | Path) -> ImportSummary:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise SourceError([Problem(str(path), (), None, "file not found")]) from None
    except OSError as exc:
        raise SourceError([Problem(str(path), (), None, f"cannot read file: {exc.strerror}")]) from None
    return import_bytes(db, fw, data, path.name)


# --- writing an import -----------------------------------------------------------------------------

def _existing_answers(conn: sa.Connection, ids: Sequence[int]) -> dict[int, tuple]:
    """(steps, ratings, comments) of stored responses, as plain dicts, by response id."""
    out: dict[int, tuple] = {i: ({}, {}, {}) for i in ids}
    for chunk in _chunks(list(ids), 2000):
        for rid, step_id, level, tools in conn.execute(
                sa.select(step_answers.c.response_id, step_answers.c.step_id, step_answers.c.level,
                          step_answers.c.tools).where(step_answers.c.response_id.in_(chunk))):
            out[rid][0][step_id] = (level, list(tools or []))
        for rid, key, value, dont_know in conn.execute(
                sa.select(ratings.c.response_id, ratings.c.statement_key, ratings.c.value, ratings.c.dont_know)
                .where(ratings.c.response_id.in_(chunk))):
            out[rid][1][key] = DONT_KNOW if dont_know else value
        for rid, key, text in conn.execute(
                sa.select(comments.c.response_id, comments.c.key, comments.c.text)
                .where(comments.c.response_id.in_(chunk))):
            out[rid][2][key] = text
    return out


def _answers_of(r: ResponseRecord) -> tuple:
    return ({k: (a.level, list(dict.fromkeys(a.tools))) for k, a in r.steps.items()}, dict(r.ratings),
            {k: v.strip() for k, v in r.comments.items() if v.strip()})


def apply_bundle(db: Any, fw: Framework, bundle: ImportBundle) -> ImportSummary:
    engine = fs.engine_of(db)
    problems = _Problems(bundle.source)
    counts = dict(units_added=0, assessments_added=0, responses_added=0, responses_replaced=0,
                  responses_unchanged=0)
    _check_duplicates(bundle, problems)
    problems.raise_if_any()
    with dbmod.writer(engine).begin() as conn:
        unit_ids = _ensure_units(conn, bundle, counts)
        touched: set[int] = set()
        new_rows: list[tuple[ResponseRecord, int]] = []
        for record in bundle.assessments:
            aid = _assessment_id(conn, record, unit_ids, problems, counts)
            if aid is None:
                continue
            tokens = [r.token for r in record.responses]
            stored = {}
            for chunk in _chunks(tokens, 1000):
                stored.update({row.token: row for row in conn.execute(
                    sa.select(responses.c.id, responses.c.token, responses.c.assessment_id, responses.c.side,
                              responses.c.role, responses.c.extensions)
                    .where(responses.c.token.in_(list(chunk))))})
            existing = _existing_answers(conn, [row.id for row in stored.values()])
            for r in record.responses:
                old = stored.get(r.token)
                if old is None:
                    new_rows.append((r, aid))
                    continue
                if old.assessment_id != aid:
                    problems.add(r.path + (("token",) if r.line is None else ()),
                                 f"response '{r.token}' already exists in the database under another assessment",
                                 r.line)
                    continue
                same = (old.side, old.role or "", None if old.extensions is None else list(old.extensions)) == \
                    (r.side, r.role, r.extensions) and existing[old.id] == _answers_of(r)
                if same:
                    counts["responses_unchanged"] += 1
                    continue
                # Replace: a new row (new id), so the comparison summaries see the change.
                conn.execute(responses.delete().where(responses.c.id == old.id))
                counts["responses_replaced"] += 1
                new_rows.append((r, aid))
            touched.add(aid)
        problems.raise_if_any()  # rolls the transaction back
        counts["responses_added"] = len(new_rows) - counts["responses_replaced"]
        _insert_responses(conn, new_rows)
        agreements_written, followups_written = _write_agreements(conn, bundle, problems)
        problems.raise_if_any()
        if touched:
            for chunk in _chunks(sorted(touched), 500):
                conn.execute(compare.summary_state.delete().where(
                    compare.summary_state.c.assessment_id.in_(list(chunk))))
    _resum(engine, fw)
    return ImportSummary(bundle.source, agreements=agreements_written, followups=followups_written, **counts)


def _check_duplicates(bundle: ImportBundle, problems: _Problems) -> None:
    """Keys given twice in one file."""
    def where(record) -> str:
        return f"line {record.line}" if record.line else _fmt(record.path)

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
                               f"(also {_fmt(keys[key])})")
        keys.setdefault(key, path)


def _fmt(path: tuple) -> str:
    return format_path(path)


def _ensure_units(conn: sa.Connection, bundle: ImportBundle, counts: dict) -> dict[str, int]:
    wanted = {u.name: u for u in bundle.units}
    for record in bundle.assessments:
        wanted.setdefault(record.unit, UnitRecord(record.unit))
    ids: dict[str, int] = {}
    for chunk in _chunks(sorted(wanted), 500):
        ids.update({n: i for i, n in conn.execute(
            sa.select(unit_table.c.id, unit_table.c.name).where(unit_table.c.name.in_(list(chunk))))})
    missing = [wanted[n] for n in sorted(wanted) if n not in ids]
    if missing:
        # Existing units are kept as they are: the database is the authority on kind and region.
        conn.execute(unit_table.insert(), [{"name": u.name, "kind": u.kind, "region": u.region} for u in missing])
        counts["units_added"] += len(missing)
        for chunk in _chunks([u.name for u in missing], 500):
            ids.update({n: i for i, n in conn.execute(
                sa.select(unit_table.c.id, unit_table.c.name).where(unit_table.c.name.in_(list(chunk))))})
    return ids


def _assessment_id(conn: sa.Connection, record: AssessmentRecord, unit_ids: dict[str, int],
                   problems: _Problems, counts: dict) -> int | None:
    unit_id = unit_ids[record.unit]
    case_key = sa.func.coalesce(assessments.c.case, sa.literal_column("''"))
    if record.token:
        row = conn.execute(sa.select(assessments.c.id, assessments.c.unit_id, assessments.c.year, assessments.c.case)
                           .where(assessments.c.token == record.token)).first()
        if row is not None:
            if (row.unit_id, row.year, row.case or None) != (unit_id, record.year, record.case):
                problems.add(record.path + (() if record.line else ("token",)),
                             f"assessment '{record.token}' already exists in the database for another "
                             f"unit, year or case", record.line)
                return None
            return row.id
    found = conn.execute(sa.select(assessments.c.id).where(
        assessments.c.unit_id == unit_id, assessments.c.year == record.year,
        case_key == (record.case or ""))).scalar()
    if found is not None:
        return found  # same unit, year and case under another token: merge into it
    token = record.token or new_token()
    conn.execute(assessments.insert().values(
        token=token, unit_id=unit_id, year=record.year, case=record.case, extensions=list(record.extensions),
        created_at=record.created_at or dbmod.utcnow()))
    counts["assessments_added"] += 1
    return conn.execute(sa.select(assessments.c.id).where(assessments.c.token == token)).scalar_one()


def _insert_responses(conn: sa.Connection, rows: list[tuple[ResponseRecord, int]]) -> None:
    now = dbmod.utcnow()
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        heads = [{"token": r.token, "assessment_id": aid, "side": r.side, "role": r.role,
                  "extensions": r.extensions, "created_at": r.created_at or now,
                  "updated_at": r.updated_at or now, "submitted_at": r.submitted_at} for r, aid in batch]
        ids = {token: id_ for id_, token in conn.execute(
            responses.insert().returning(responses.c.id, responses.c.token, sort_by_parameter_order=True), heads)}
        _insert_answers(conn, [(ids[r.token], r.steps, r.ratings, r.comments) for r, _aid in batch])


def _insert_answers(conn: sa.Connection, items: Iterable[tuple[int, dict, dict, dict]]) -> None:
    steps, rates, notes = [], [], []
    for rid, steps_, ratings_, comments_ in items:
        steps += [(rid, k, a.level, json.dumps(list(dict.fromkeys(a.tools)))) for k, a in steps_.items()]
        rates += [(rid, k, None, True) if v == DONT_KNOW else (rid, k, v, False) for k, v in ratings_.items()]
        notes += [(rid, k, v.strip()) for k, v in comments_.items() if v.strip()]
    for table, columns, values in ((step_answers, ("response_id", "step_id", "level", "tools"), steps),
                                   (ratings, ("response_id", "statement_key", "value", "dont_know"), rates),
                                   (comments, ("response_id", "key", "text"), notes)):
        if values:
            _executemany(conn, table, columns, values)


def _executemany(conn: sa.Connection, table: sa.Table, columns: Sequence[str], rows: list[tuple]) -> None:
    """Plain DB-API executemany of tuples: millions of ratings without SQLAlchemy's per-row
    parameter processing. JSON values are passed as JSON text (cast to jsonb on PostgreSQL)."""
    pg = conn.dialect.name == "postgresql"
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    quote = conn.dialect.identifier_preparer.quote
    marks = [f"CAST({mark} AS jsonb)" if pg and isinstance(table.c[c].type, sa.JSON) else mark for c in columns]
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
           f"VALUES ({', '.join(marks)})")
    conn.exec_driver_sql(sql, rows)


def _write_agreements(conn: sa.Connection, bundle: ImportBundle, problems: _Problems) -> tuple[int, int]:
    for agreement in bundle.agreements:
        fs.save_agreement(None, agreement, conn=conn)
    in_file = {a.id: a for a in bundle.agreements}
    cache: dict[str, Agreement | None] = {}
    items = []
    for item, where in zip(bundle.followups, bundle.followup_paths):
        agreement = in_file.get(item.agreement_id)
        if agreement is None:
            if item.agreement_id not in cache:
                snapshot = conn.execute(sa.select(fs.agreements_table.c.snapshot)
                                        .where(fs.agreements_table.c.id == item.agreement_id)).scalar()
                cache[item.agreement_id] = None if snapshot is None else fs._from_snapshot(snapshot, None)
            agreement = cache[item.agreement_id]
        for name, message in fs.check_followup(agreement, item.agreement_id, item.commitment_id, item.year,
                                               item.status):
            problems.add(where + (name,), message)
        items.append(item)
    if not problems.items:
        fs.upsert_followups(conn, items)
    return len(bundle.agreements), len(items)


# --- bulk loading (benchmarks, large imports of generated data) ---------------------------------

def bulk_load(db: Any, fw: Framework, items: Iterable[Response], batch_size: int = BATCH,
              unit_info: dict[str, tuple[str, str | None]] | None = None, summarise: bool = True) -> int:
    """Insert many responses fast (executemany per table, one transaction); returns how many.

    Responses are trusted: only pydantic's checks apply, not the framework's (use an import for
    untrusted files). Units ({name: (kind, region)}) and assessments are created when missing.
    The comparison summaries are brought up to date afterwards (unless `summarise` is false).
    """
    engine = fs.engine_of(db)
    now = dbmod.utcnow()
    total = 0
    unit_info = unit_info or {}
    with dbmod.writer(engine).begin() as conn:
        unit_ids: dict[str, int] = dict(conn.execute(sa.select(unit_table.c.name, unit_table.c.id)).all())
        assessment_ids: dict[tuple, int] = {}
        for (name, year, case, aid) in conn.execute(
                sa.select(unit_table.c.name, assessments.c.year, assessments.c.case, assessments.c.id)
                .select_from(assessments.join(unit_table, unit_table.c.id == assessments.c.unit_id))):
            assessment_ids[(name, year, case or None)] = aid
        batch: list[Response] = []

        def flush() -> None:
            nonlocal total
            for r in batch:
                if r.unit not in unit_ids:
                    kind, region = unit_info.get(r.unit, ("municipality", None))
                    conn.execute(unit_table.insert().values(name=r.unit, kind=kind, region=region))
                    unit_ids[r.unit] = conn.execute(sa.select(unit_table.c.id)
                                                    .where(unit_table.c.name == r.unit)).scalar_one()
                place = (r.unit, r.year, r.case or None)
                if place not in assessment_ids:
                    token = new_token()
                    conn.execute(assessments.insert().values(token=token, unit_id=unit_ids[r.unit], year=r.year,
                                                             case=r.case, extensions=list(r.extensions),
                                                             created_at=now))
                    assessment_ids[place] = conn.execute(sa.select(assessments.c.id)
                                                         .where(assessments.c.token == token)).scalar_one()
            heads = [{"token": new_token(), "assessment_id": assessment_ids[(r.unit, r.year, r.case or None)],
                      "side": r.side, "role": r.role, "extensions": None, "created_at": now, "updated_at": now,
                      "submitted_at": now} for r in batch]
            ids = [row[0] for row in conn.execute(
                responses.insert().returning(responses.c.id, sort_by_parameter_order=True), heads)]
            _insert_answers(conn, [(rid, r.steps, r.ratings, r.comments) for rid, r in zip(ids, batch)])
            total += len(batch)
            batch.clear()

        for item in items:
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
        if batch:
            flush()
    if summarise:
        _resum(engine, fw)
    return total
