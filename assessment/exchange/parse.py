"""Reading an export file: JSON here (CSV in ``parse_csv``), checked completely into the
neutral form of ``records``. Every problem is located: the file and the JSON path
(``export.json: assessments[0].responses[2].side: ...``) or the CSV line and column, and
all of them are reported together (up to MAX_PROBLEMS). Nothing here touches the database.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..framework.matrix import Framework, Side
from ..framework.limits import loads_json, version_message
from ..framework.yamlsource import LineMap, Problem, SourceError, format_path, pydantic_problems, within_limits
from ..regional.agreements import agreement_from_data
from ..regional.followup import FollowUp
from ..store.engine import aware
from ..store.tables import NAME_MAX, UNIT_KINDS, YEAR_MAX, YEAR_MIN
from .file_limits import check_export_size, check_json_rows
from .parse_csv import parse_csv
from .records import (FORMAT, TOKEN_MAX, VERSION, AssessmentRecord, ImportBundle, ProblemList, ResponseRecord,
                      UnitRecord, check_extensions, checked_answers)


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


# --- JSON ---------------------------------------------------------------------------------------

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
    # Written by exports, not imported: the audit log stays with the deployment that wrote it.
    personal_data: dict = Field(default_factory=dict)
    audit: list[dict] = Field(default_factory=list)


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
    check_export_size(data, source)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError([Problem(source, (), None, f"not UTF-8 text (byte {exc.start})")]) from None
    if not text.strip():
        raise SourceError([Problem(source, (), None, "the file is empty")])
    try:
        with within_limits(source):
            raw = loads_json(text, data)
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
        raise SourceError([Problem(source, ("version",), None, version_message(raw.get("version"), [VERSION]))])
    check_json_rows(raw, source)
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
        check_extensions(fw, a.extensions, ("assessments", i, "extensions"), problems)
        for j, r in enumerate(a.responses):
            path = ("assessments", i, "responses", j)
            head = _model(_ResponseHead, r, path, problems)
            if head is None:
                continue
            checked = checked_answers(fw, record, head.side, head.role, head.extensions, head.steps,
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
            bundle.followups.append(FollowUp(f.agreement, f.commitment, f.year, f.status, f.note,
                                                aware(f.updated_at)))
            bundle.followup_paths.append(("followups", i))
    problems.raise_if_any()
    return bundle


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
