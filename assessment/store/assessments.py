"""Units (municipalities, regions, organisations) and their assessments: one per unit,
year and optional case, found by a random key that opens nothing (the links that open
an assessment are in ``access_links``, see assessment/access/links.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from . import checks
from .engine import aware, utcnow
from .repository import Repository, insert
from .tokens import new_key
from .tables import SIDES, assessments, case_key, responses, units


@dataclass(frozen=True)
class UnitInfo:
    id: int
    name: str
    kind: str
    region: str | None


@dataclass(frozen=True)
class AssessmentInfo:
    id: int
    token: str
    unit: str
    kind: str
    region: str | None
    year: int
    case: str | None
    extensions: tuple[str, ...]
    created_at: datetime


ASSESSMENT_COLUMNS = (assessments.c.id, assessments.c.token, units.c.name.label("unit"),
                      units.c.kind, units.c.region, assessments.c.year, assessments.c.case,
                      assessments.c.extensions, assessments.c.created_at)


def assessment_query() -> sa.Select:
    return sa.select(*ASSESSMENT_COLUMNS).select_from(assessments.join(units, assessments.c.unit_id == units.c.id))


def assessment_info(row: Sequence) -> AssessmentInfo:
    """From the values of ASSESSMENT_COLUMNS, in order."""
    *values, extensions, created_at = row
    return AssessmentInfo(*values, tuple(extensions or ()), aware(created_at))


def assessment_id(conn: Connection, token: str) -> int:
    """The id of the assessment with `token`; LookupError if there is none."""
    found = conn.execute(sa.select(assessments.c.id).where(assessments.c.token == token)).scalar()
    if found is None:
        raise LookupError(f"no assessment with token {token!r}")
    return found


def ensure_unit_row(conn: Connection, name: str, kind: str = "municipality", region: str | None = None) -> int:
    """The id of the unit called `name`, inserted (inside the caller's transaction) if missing."""
    conn.execute(insert(conn, units).values(name=name, kind=kind, region=region)
                 .on_conflict_do_nothing(index_elements=["name"]))
    return conn.execute(sa.select(units.c.id).where(units.c.name == name)).scalar_one()


class Assessments(Repository):
    """Units and their assessments (see Repository for errors and framework checks)."""

    # --- units ---------------------------------------------------------------------------------

    def ensure_unit(self, name: str, kind: str = "municipality", region: str | None = None) -> int:
        """The id of the unit called `name`, created with kind and region if missing.

        An existing unit is returned unchanged (see update_unit).
        """
        name, kind, region = checks.name(name, "unit name"), checks.kind(kind), checks.optional_name(region, "region")
        with self._write() as conn:
            return ensure_unit_row(conn, name, kind, region)

    def update_unit(self, name: str, kind: str | None = None, region: str | None = None) -> UnitInfo:
        """Change a unit's kind and/or region (None leaves it; '' clears the region)."""
        name = checks.name(name, "unit name")
        values: dict[str, Any] = {}
        if kind is not None:
            values["kind"] = checks.kind(kind)
        if region is not None:
            values["region"] = checks.optional_name(region, "region")
        with self._write() as conn:
            if values:
                conn.execute(sa.update(units).where(units.c.name == name).values(**values))
            row = conn.execute(sa.select(units).where(units.c.name == name)).first()
        if row is None:
            raise LookupError(f"no unit called {name!r}")
        return UnitInfo(row.id, row.name, row.kind, row.region)

    def list_units(self) -> list[UnitInfo]:
        with self._read() as conn:
            rows = conn.execute(sa.select(units).order_by(units.c.name)).all()
        return [UnitInfo(r.id, r.name, r.kind, r.region) for r in rows]

    # --- assessments ---------------------------------------------------------------------------

    def create_assessment(self, unit: str, year: int, case: str | None = None,
                          extensions: Iterable[str] = ()) -> AssessmentInfo:
        """A new assessment of `unit` (created if missing) for `year` and optional `case`.

        ValueError if that unit, year and case already has one (see find_assessment).
        """
        unit, year = checks.name(unit, "unit name"), checks.year(year)
        case = checks.optional_name(case, "case")
        extensions = checks.id_list(extensions, "extensions")
        checks.against_framework(self.framework, extensions)
        token = new_key()
        exists = ValueError(f"{unit} already has an assessment for {year}"
                            + (f" (case {case!r})" if case else ""))
        try:
            with self._write() as conn:
                unit_id = ensure_unit_row(conn, unit)
                if self._find_assessment_id(conn, unit_id, year, case) is not None:
                    raise exists
                conn.execute(assessments.insert().values(
                    token=token, unit_id=unit_id, year=year, case=case, extensions=extensions,
                    created_at=utcnow()))
                row = conn.execute(assessment_query().where(assessments.c.token == token)).one()
        except sa.exc.IntegrityError:
            raise exists from None  # created concurrently (PostgreSQL; SQLite writers queue)
        return assessment_info(row)

    @staticmethod
    def _find_assessment_id(conn: Connection, unit_id: int, year: int, case: str | None) -> int | None:
        return conn.execute(sa.select(assessments.c.id).where(
            assessments.c.unit_id == unit_id, assessments.c.year == year,
            case_key == (case or ""))).scalar()

    def get_assessment(self, token: str) -> AssessmentInfo:
        """The assessment with `token`; LookupError if there is none."""
        token = checks.token(token, "assessment")
        with self._read() as conn:
            row = conn.execute(assessment_query().where(assessments.c.token == token)).first()
        if row is None:
            raise LookupError(f"no assessment with token {token!r}")
        return assessment_info(row)

    def assessment_by_id(self, id_: int) -> AssessmentInfo | None:
        """The assessment with this id (as a link names it), or None."""
        with self._read() as conn:
            row = conn.execute(assessment_query().where(assessments.c.id == id_)).first()
        return assessment_info(row) if row else None

    def find_assessment(self, unit: str, year: int, case: str | None = None) -> AssessmentInfo | None:
        """The assessment of `unit` for `year` and `case`, or None."""
        unit, year, case = checks.name(unit, "unit name"), checks.year(year), checks.optional_name(case, "case")
        with self._read() as conn:
            row = conn.execute(assessment_query().where(
                units.c.name == unit, assessments.c.year == year,
                case_key == (case or ""))).first()
        return assessment_info(row) if row else None

    def list_assessments(self, unit: str | None = None, year: int | None = None) -> list[AssessmentInfo]:
        """Assessments, optionally of one unit and/or year: by unit, then newest year first."""
        query = assessment_query()
        if unit is not None:
            query = query.where(units.c.name == checks.name(unit, "unit name"))
        if year is not None:
            query = query.where(assessments.c.year == checks.year(year))
        query = query.order_by(units.c.name, assessments.c.year.desc(), case_key)
        with self._read() as conn:
            return [assessment_info(row) for row in conn.execute(query)]

    def delete_assessment(self, token: str) -> None:
        """Delete an assessment with all its responses."""
        token = checks.token(token, "assessment")
        with self._write() as conn:
            if conn.execute(sa.delete(assessments).where(assessments.c.token == token)).rowcount == 0:
                raise LookupError(f"no assessment with token {token!r}")

    def response_counts(self, assessment_token: str) -> dict[str, int]:
        """Responses per side ({'public': n, 'civil_society': m})."""
        token = checks.token(assessment_token, "assessment")
        with self._read() as conn:
            found = assessment_id(conn, token)
            rows = conn.execute(sa.select(responses.c.side, sa.func.count())
                                .where(responses.c.assessment_id == found)
                                .group_by(responses.c.side)).all()
        counts = dict.fromkeys(SIDES, 0)
        counts.update({side: n for side, n in rows})
        return counts
