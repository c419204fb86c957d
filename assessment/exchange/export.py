"""Export: an assessment, a unit or the whole database, as JSON or CSV.

JSON (``{"format": "assessment-export", "version": 1, ...}``) carries everything:
units, assessments with their responses, agreements and follow-ups. CSV is for
spreadsheets: one row per response and step, rating or comment, UTF-8 with a BOM
and ``,`` or ``;`` between fields (Swedish Excel expects ``;``). Records keep their
natural keys (unit name, assessment and response tokens, agreement id, agreement +
commitment + year), so that importing an export again adds nothing.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import sqlalchemy as sa

from ..framework.matrix import Framework
from ..framework.responses import DONT_KNOW
from ..regional import followup as fs
from ..store import audit
from ..store.engine import engine_of, utcnow
from ..store.tables import assessments, comments, ratings, responses, step_answers
from ..store.tables import units as unit_table
from ..store.tokens import record_key
from .records import CSV_COLUMNS, DELIMITERS, FORMAT, LIST_SEP, VERSION, chunks, iso

# Where an export may hold personal data (free text people wrote, e-mail addresses), said in the
# export itself. In CSV: the columns `role` and `text`.
PERSONAL_DATA = {
    "assessments[].responses[].role": "a respondent's role, free text",
    "assessments[].responses[].comments": "respondents' free-text comments",
    "followups[].note": "free-text notes on commitments",
    "audit[].actor": "signed-in people's e-mail addresses",
}


def _selection(unit: str | None, year: int | None, assessment: str | None) -> list:
    where = []
    if unit is not None:
        where.append(unit_table.c.name == unit)
    if year is not None:
        where.append(assessments.c.year == year)
    if assessment is not None:
        # The key, or a plain token from before keys were digests.
        where.append(assessments.c.token.in_([assessment, record_key(assessment)]))
    return where


def _ordered(keys: Iterable[str], order: Sequence[str]) -> list[str]:
    rank = {k: i for i, k in enumerate(order)}
    return sorted(keys, key=lambda k: (rank.get(k, len(rank)), k))


def export_data(db: Any, fw: Framework, unit: str | None = None, year: int | None = None,
                assessment: str | None = None, agreements: bool = True) -> dict:
    """The selected data as a JSON-ready dict (see the module docstring for the format).

    LookupError when the selection names a unit or assessment that does not exist.
    """
    engine = engine_of(db)
    where = _selection(unit, year, assessment)
    base = assessments.join(unit_table, unit_table.c.id == assessments.c.unit_id)
    with engine.connect() as conn:
        if unit is not None and conn.execute(sa.select(unit_table.c.id).where(unit_table.c.name == unit)).first() is None:
            raise LookupError(f"no unit called '{unit}'")
        if assessment is not None and conn.execute(
                sa.select(assessments.c.id).where(*_selection(None, None, assessment))).first() is None:
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
        for chunk in chunks(ids, 500):
            _export_responses(conn, fw, chunk, by_assessment)
        data = {
            "format": FORMAT, "version": VERSION, "exported_at": iso(utcnow()),
            "units": [{"name": n, "kind": k, "region": r} for n, k, r in unit_rows],
            "assessments": [{"token": h.token, "unit": h.name, "year": h.year, "case": h.case,
                             "extensions": list(h.extensions or []), "created_at": iso(h.created_at),
                             "responses": by_assessment[h.id]} for h in heads],
            "agreements": [], "followups": [], "personal_data": PERSONAL_DATA,
        }
    if agreements and assessment is None:
        chosen = [a for a in fs.list_agreements(engine) if unit is None or a.unit == unit]
        data["agreements"] = [a.to_data() for a in chosen]
        ids_ = {a.id for a in chosen}
        data["followups"] = [
            {"agreement": f.agreement_id, "commitment": f.commitment_id, "year": f.year, "status": f.status,
             "note": f.note, "updated_at": iso(f.updated_at)}
            for f in fs.followups(engine) if f.agreement_id in ids_ and (year is None or f.year == year)]
    if unit is None and year is None and assessment is None:  # everything: the audit log comes along
        data["audit"] = [entry.to_data() for entry in audit.entries(engine)]
    return data


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
    for chunk in chunks(ids, 2000):
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
            "created_at": iso(h.created_at), "updated_at": iso(h.updated_at),
            "submitted_at": iso(h.submitted_at),
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
