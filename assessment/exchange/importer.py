"""Import: a parsed export file written in one transaction, or many trusted responses
bulk-loaded (benchmarks, generated data).

An import is checked completely before anything is written (``parse``), then written
in one transaction: a bad file changes nothing, and a conflict with the database (an
assessment token known for another unit, say) is found inside that transaction and
rolls it back. Records keep their natural keys, so importing the same file twice adds
nothing the second time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Sequence

import sqlalchemy as sa

from ..framework.matrix import Framework
from ..framework.responses import DONT_KNOW, Response
from ..regional import followup as fs
from ..regional import summaries
from ..regional.agreements import Agreement
from ..store.engine import bulk_insert, engine_of, utcnow, writer
from ..store.tokens import new_key, record_key
from ..store.tables import agreements_table, assessments, comments, ratings, responses, step_answers, summary_state
from ..store.tables import units as unit_table
from .file_limits import read_export_file
from .parse import check_duplicates, parse_import
from .records import AssessmentRecord, ImportBundle, ImportSummary, ProblemList, ResponseRecord, UnitRecord, chunks

BATCH = 5000  # responses per insert batch


def import_bytes(db: Any, fw: Framework, data: bytes, filename: str) -> ImportSummary:
    """Check the whole file, then write it in one transaction (nothing on any problem)."""
    bundle = parse_import(data, filename, fw)
    return apply_bundle(db, fw, bundle)


def _resum(engine: sa.Engine, fw: Framework) -> None:
    # Sum the new answers for the comparison now, so the next comparison page is quick.
    summaries.refresh_summaries(engine, fw)


def import_file(db: Any, fw: Framework, path: str | Path) -> ImportSummary:
    path = Path(path)
    return import_bytes(db, fw, read_export_file(path), path.name)


# --- writing an import -----------------------------------------------------------------------------

def _existing_answers(conn: sa.Connection, ids: Sequence[int]) -> dict[int, tuple]:
    """(steps, ratings, comments) of stored responses, as plain dicts, by response id."""
    out: dict[int, tuple] = {i: ({}, {}, {}) for i in ids}
    for chunk in chunks(list(ids), 2000):
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
    engine = engine_of(db)
    problems = ProblemList(bundle.source)
    counts = dict(units_added=0, assessments_added=0, responses_added=0, responses_replaced=0,
                  responses_unchanged=0)
    check_duplicates(bundle, problems)
    problems.raise_if_any()
    _tokens_to_keys(bundle)
    with writer(engine).begin() as conn:
        unit_ids = _ensure_units(conn, bundle, counts)
        touched: set[int] = set()
        new_rows: list[tuple[ResponseRecord, int]] = []
        for record in bundle.assessments:
            aid = _assessment_id(conn, record, unit_ids, problems, counts)
            if aid is None:
                continue
            tokens = [r.token for r in record.responses]
            stored = {}
            for chunk in chunks(tokens, 1000):
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
            for chunk in chunks(sorted(touched), 500):
                conn.execute(summary_state.delete().where(summary_state.c.assessment_id.in_(list(chunk))))
    _resum(engine, fw)
    return ImportSummary(bundle.source, agreements=agreements_written, followups=followups_written, **counts)


def _tokens_to_keys(bundle: ImportBundle) -> None:
    """Files carry stored keys, or plain tokens (older exports): match and store keys only."""
    for record in bundle.assessments:
        record.token = record_key(record.token) if record.token else None
        for r in record.responses:
            r.token = record_key(r.token)


def _ensure_units(conn: sa.Connection, bundle: ImportBundle, counts: dict) -> dict[str, int]:
    wanted = {u.name: u for u in bundle.units}
    for record in bundle.assessments:
        wanted.setdefault(record.unit, UnitRecord(record.unit))
    ids: dict[str, int] = {}
    for chunk in chunks(sorted(wanted), 500):
        ids.update({n: i for i, n in conn.execute(
            sa.select(unit_table.c.id, unit_table.c.name).where(unit_table.c.name.in_(list(chunk))))})
    missing = [wanted[n] for n in sorted(wanted) if n not in ids]
    if missing:
        # Existing units are kept as they are: the database is the authority on kind and region.
        conn.execute(unit_table.insert(), [{"name": u.name, "kind": u.kind, "region": u.region} for u in missing])
        counts["units_added"] += len(missing)
        for chunk in chunks([u.name for u in missing], 500):
            ids.update({n: i for i, n in conn.execute(
                sa.select(unit_table.c.id, unit_table.c.name).where(unit_table.c.name.in_(list(chunk))))})
    return ids


def _assessment_id(conn: sa.Connection, record: AssessmentRecord, unit_ids: dict[str, int],
                   problems: ProblemList, counts: dict) -> int | None:
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
    token = record.token or new_key()
    conn.execute(assessments.insert().values(
        token=token, unit_id=unit_id, year=record.year, case=record.case, extensions=list(record.extensions),
        created_at=record.created_at or utcnow()))
    counts["assessments_added"] += 1
    return conn.execute(sa.select(assessments.c.id).where(assessments.c.token == token)).scalar_one()


def _insert_responses(conn: sa.Connection, rows: list[tuple[ResponseRecord, int]]) -> None:
    now = utcnow()
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
        bulk_insert(conn, table, columns, values)


def _write_agreements(conn: sa.Connection, bundle: ImportBundle, problems: ProblemList) -> tuple[int, int]:
    for agreement in bundle.agreements:
        fs.save_agreement(None, agreement, conn=conn)
    in_file = {a.id: a for a in bundle.agreements}
    cache: dict[str, Agreement | None] = {}
    items = []
    for item, where in zip(bundle.followups, bundle.followup_paths):
        agreement = in_file.get(item.agreement_id)
        if agreement is None:
            if item.agreement_id not in cache:
                snapshot = conn.execute(sa.select(agreements_table.c.snapshot)
                                        .where(agreements_table.c.id == item.agreement_id)).scalar()
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
    engine = engine_of(db)
    now = utcnow()
    total = 0
    unit_info = unit_info or {}
    with writer(engine).begin() as conn:
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
                    token = new_key()
                    conn.execute(assessments.insert().values(token=token, unit_id=unit_ids[r.unit], year=r.year,
                                                             case=r.case, extensions=list(r.extensions),
                                                             created_at=now))
                    assessment_ids[place] = conn.execute(sa.select(assessments.c.id)
                                                         .where(assessments.c.token == token)).scalar_one()
            heads = [{"token": new_key(), "assessment_id": assessment_ids[(r.unit, r.year, r.case or None)],
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
