"""Reading a CSV export (one row per response and item): every row checked, every problem
located by line and column (``data.csv:14: value: rating 7 is outside the scale 0-4``).

UTF-8 with or without a BOM; ``,`` or ``;`` between fields, found from the header.
"""

from __future__ import annotations

import csv
import io
import re

from ..framework.matrix import Framework
from ..framework.responses import DONT_KNOW
from ..framework.yamlsource import Problem, SourceError
from ..store.tables import NAME_MAX, UNIT_KINDS, YEAR_MAX, YEAR_MIN
from .file_limits import check_csv_rows, check_export_size
from .records import (CSV_COLUMNS, DELIMITERS, ITEM_TYPES, LIST_SEP, TOKEN_MAX, AssessmentRecord, ImportBundle,
                      ProblemList, ResponseRecord, UnitRecord, check_extensions, checked_answers)

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
    check_export_size(data, source)
    text = _decode_csv(data, source)
    if not text.strip():
        raise SourceError([Problem(source, (), None, "the file is empty")])
    header = text.splitlines()[0]
    delimiter = _detect_delimiter(header, source)
    check_csv_rows(text, delimiter, source)
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
        checked = checked_answers(fw, record, work["side"], work["role"], work["extensions"], work["steps"],
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
        check_extensions(fw, extensions, ("extensions",), problems, line)
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
            check_extensions(fw, extensions, ("extensions",), problems, line)
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
