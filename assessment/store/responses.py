"""Core tables and the Store: units, assessments, and respondents' answers as they are given.

Every save is its own short transaction and an idempotent upsert, so a respondent who
reloads the page loses nothing and a repeated click changes nothing. Reads rebuild
:class:`~assessment.responses.Response` objects; bulk reads (comparison across units and
years) use one query per table, never one per response.
"""

from __future__ import annotations

import gc
import json
import secrets
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Sequence

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from ..framework.matrix import Framework
from ..framework.responses import DONT_KNOW, FORMAT, Response, StepAnswer, validate_against
from . import engine as db

SIDES = ("public", "civil_society")
UNIT_KINDS = ("municipality", "region", "organisation")
NAME_MAX = 200
KEY_MAX = 128
YEAR_MIN, YEAR_MAX = 1900, 2200  # as in responses.Response
BATCH = 2000  # responses per executemany batch in add_responses

# JSONB on PostgreSQL: binary, indexable; plain JSON text on SQLite.
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# For nullable columns: Python None is SQL NULL, not the JSON text 'null'.
NullableJson = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
# The answer tables are only ever read by response: cluster them by their key on SQLite.
ANSWER_TABLE = {"sqlite_with_rowid": False}


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


units = sa.Table(
    "units", db.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(NAME_MAX), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("region", sa.String(NAME_MAX)),
    sa.CheckConstraint(sa.column("kind").in_(UNIT_KINDS), name="kind"),
)

_units = units  # Store.responses_where has a parameter called `units`

assessments = sa.Table(
    "assessments", db.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token", sa.String(64), nullable=False, unique=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id", ondelete="CASCADE"), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("case", sa.String(NAME_MAX)),
    sa.Column("extensions", Json, nullable=False),
    _timestamp("created_at"),
)
# No case is stored as NULL but compared as '': one assessment per unit, year and case.
_case_key = sa.func.coalesce(assessments.c.case, sa.literal_column("''"))
# Also serves lookups by unit and year.
sa.Index("uq_assessments_unit_year_case", assessments.c.unit_id, assessments.c.year, _case_key,
         unique=True)

responses = sa.Table(
    "responses", db.metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token", sa.String(64), nullable=False, unique=True),
    sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("side", sa.String(20), nullable=False),
    sa.Column("role", sa.String(NAME_MAX), nullable=False, server_default=""),
    # Set only when an imported response's levels differ from its assessment's.
    sa.Column("extensions", NullableJson),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    _timestamp("submitted_at", nullable=True),
    sa.CheckConstraint(sa.column("side").in_(SIDES), name="side"),
)

step_answers = sa.Table(
    "step_answers", db.metadata,
    sa.Column("response_id", sa.Integer, sa.ForeignKey("responses.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("step_id", sa.String(KEY_MAX), primary_key=True),
    sa.Column("level", sa.String(KEY_MAX), nullable=False),
    sa.Column("tools", Json, nullable=False),
    **ANSWER_TABLE,
)

ratings = sa.Table(
    "ratings", db.metadata,
    sa.Column("response_id", sa.Integer, sa.ForeignKey("responses.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("statement_key", sa.String(KEY_MAX), primary_key=True),
    sa.Column("value", sa.Integer),
    sa.Column("dont_know", sa.Boolean(create_constraint=False), nullable=False),
    # Exactly one of: a number, or "don't know".
    sa.CheckConstraint("(value IS NULL) = (dont_know = true)", name="value_or_dont_know"),
    **ANSWER_TABLE,
)

comments = sa.Table(
    "comments", db.metadata,
    sa.Column("response_id", sa.Integer, sa.ForeignKey("responses.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("key", sa.String(KEY_MAX), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    **ANSWER_TABLE,
)


# --- value objects -------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class ResponseInfo:
    token: str
    assessment: AssessmentInfo
    response: Response
    created_at: datetime | None = None
    updated_at: datetime | None = None
    submitted_at: datetime | None = None


def new_token() -> str:
    return secrets.token_urlsafe(16)


def _aware(value: datetime | None) -> datetime | None:
    # SQLite keeps no time zone; everything is written in UTC.
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


# --- input checks (before any transaction, so nothing is half-written) ---------------------------

def _name(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty text (got {value!r})")
    value = value.strip()
    if len(value) > NAME_MAX:
        raise ValueError(f"{what} is longer than {NAME_MAX} characters: {value[:40]!r}...")
    return value


def _optional_name(value: Any, what: str) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return _name(value, what)


def _role(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"role must be a text (got {value!r})")
    if len(value.strip()) > NAME_MAX:
        raise ValueError(f"role is longer than {NAME_MAX} characters: {value[:40]!r}...")
    return value.strip()


def _key(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{what} must be a non-empty id (got {value!r})")
    if len(value) > KEY_MAX:
        raise ValueError(f"{what} is longer than {KEY_MAX} characters: {value[:40]!r}...")
    return value.strip()


def _side(value: Any) -> str:
    if value not in SIDES:
        raise ValueError(f"unknown side {value!r} (use one of: {', '.join(SIDES)})")
    return value


def _kind(value: Any) -> str:
    if value not in UNIT_KINDS:
        raise ValueError(f"unknown unit kind {value!r} (use one of: {', '.join(UNIT_KINDS)})")
    return value


def _year(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not YEAR_MIN <= value <= YEAR_MAX:
        raise ValueError(f"year must be a whole number from {YEAR_MIN} to {YEAR_MAX} (got {value!r})")
    return value


def _id_list(values: Any, what: str) -> list[str]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValueError(f"{what} must be a list of ids (got {values!r})")
    out: list[str] = []
    for value in values:
        value = _key(value, what)
        if value not in out:
            out.append(value)
    return out


def _token(value: Any, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise LookupError(f"no {what} with token {value!r}")
    return value


def _rating(value: Any) -> tuple[int | None, bool] | None:
    """(value, dont_know) to store, or None to clear."""
    if value is None:
        return None
    if value == DONT_KNOW:
        return None, True
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"a rating must be a whole number, '{DONT_KNOW}' or empty (got {value!r})")
    return value, False


def _as_list(values: Any, what: str) -> list:
    if values is None:
        return []
    if isinstance(values, str):
        return [values]
    try:
        return list(values)
    except TypeError:
        raise ValueError(f"{what} must be a list (got {values!r})") from None


def _problems_text(problems) -> str:
    return "; ".join(str(p.message) for p in problems)


# --- upserts ---------------------------------------------------------------------------------------

def _insert(conn: Connection, table: sa.Table):
    dialect = conn.dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise ValueError(f"unsupported database '{dialect}'")


def _upsert(conn: Connection, table: sa.Table, row: dict, keys: Sequence[str]) -> None:
    """Insert `row`, or update its non-key columns when a row with the same `keys` exists."""
    stmt = _insert(conn, table).values(row)
    stmt = stmt.on_conflict_do_update(
        index_elements=list(keys),
        set_={name: stmt.excluded[name] for name in row if name not in keys})
    conn.execute(stmt)


# --- the store -----------------------------------------------------------------------------------

class Store:
    """Units, assessments and responses in one database (SQLite or PostgreSQL).

    With a `framework`, answers are also checked against it (known steps, levels, tools,
    statements, ratings on the scale); without one only their form is checked.
    Unknown tokens raise LookupError, bad values ValueError; either way nothing is written.
    """

    def __init__(self, engine: Engine, framework: Framework | None = None):
        if engine.dialect.name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database '{engine.dialect.name}' (use SQLite or PostgreSQL)")
        self.engine = engine
        self.framework = framework
        self._writer = db.writer(engine)
        # Several SELECTs must see one snapshot (SQLite's BEGIN already gives one).
        self._reader = (engine.execution_options(isolation_level="REPEATABLE READ")
                        if engine.dialect.name == "postgresql" else engine)
        db.ensure_schema(engine)

    @classmethod
    def open(cls, url: str | None = None, framework: Framework | None = None) -> Store:
        """The store on `url` (default: db.database_url()), sharing the process's engine."""
        return cls(db.get_engine(url), framework)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._writer.begin() as conn:
            yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._reader.connect() as conn:
            yield conn

    # --- units ---------------------------------------------------------------------------------

    def ensure_unit(self, name: str, kind: str = "municipality", region: str | None = None) -> int:
        """The id of the unit called `name`, created with kind and region if missing.

        An existing unit is returned unchanged (see update_unit).
        """
        name, kind, region = _name(name, "unit name"), _kind(kind), _optional_name(region, "region")
        with self._write() as conn:
            return self._ensure_unit(conn, name, kind, region)

    @staticmethod
    def _ensure_unit(conn: Connection, name: str, kind: str = "municipality",
                     region: str | None = None) -> int:
        conn.execute(_insert(conn, units).values(name=name, kind=kind, region=region)
                     .on_conflict_do_nothing(index_elements=["name"]))
        return conn.execute(sa.select(units.c.id).where(units.c.name == name)).scalar_one()

    def update_unit(self, name: str, kind: str | None = None, region: str | None = None) -> UnitInfo:
        """Change a unit's kind and/or region (None leaves it; '' clears the region)."""
        name = _name(name, "unit name")
        values: dict[str, Any] = {}
        if kind is not None:
            values["kind"] = _kind(kind)
        if region is not None:
            values["region"] = _optional_name(region, "region")
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

    _assessment_columns = (assessments.c.id, assessments.c.token, units.c.name.label("unit"),
                           units.c.kind, units.c.region, assessments.c.year, assessments.c.case,
                           assessments.c.extensions, assessments.c.created_at)

    @classmethod
    def _assessment_query(cls) -> sa.Select:
        return sa.select(*cls._assessment_columns).select_from(
            assessments.join(units, assessments.c.unit_id == units.c.id))

    @staticmethod
    def _assessment_info(row: Sequence) -> AssessmentInfo:
        """From the values of _assessment_columns, in order."""
        *values, extensions, created_at = row
        return AssessmentInfo(*values, tuple(extensions or ()), _aware(created_at))

    def create_assessment(self, unit: str, year: int, case: str | None = None,
                          extensions: Iterable[str] = ()) -> AssessmentInfo:
        """A new assessment of `unit` (created if missing) for `year` and optional `case`.

        ValueError if that unit, year and case already has one (see find_assessment).
        """
        unit, year = _name(unit, "unit name"), _year(year)
        case = _optional_name(case, "case")
        extensions = _id_list(extensions, "extensions")
        self._check_extensions(extensions)
        token = new_token()
        exists = ValueError(f"{unit} already has an assessment for {year}"
                            + (f" (case {case!r})" if case else ""))
        try:
            with self._write() as conn:
                unit_id = self._ensure_unit(conn, unit)
                if self._find_assessment_id(conn, unit_id, year, case) is not None:
                    raise exists
                conn.execute(assessments.insert().values(
                    token=token, unit_id=unit_id, year=year, case=case, extensions=extensions,
                    created_at=db.utcnow()))
                row = conn.execute(self._assessment_query().where(assessments.c.token == token)).one()
        except sa.exc.IntegrityError:
            raise exists from None  # created concurrently (PostgreSQL; SQLite writers queue)
        return self._assessment_info(row)

    @staticmethod
    def _find_assessment_id(conn: Connection, unit_id: int, year: int, case: str | None) -> int | None:
        return conn.execute(sa.select(assessments.c.id).where(
            assessments.c.unit_id == unit_id, assessments.c.year == year,
            _case_key == (case or ""))).scalar()

    def get_assessment(self, token: str) -> AssessmentInfo:
        """The assessment with `token`; LookupError if there is none."""
        token = _token(token, "assessment")
        with self._read() as conn:
            row = conn.execute(self._assessment_query().where(assessments.c.token == token)).first()
        if row is None:
            raise LookupError(f"no assessment with token {token!r}")
        return self._assessment_info(row)

    def find_assessment(self, unit: str, year: int, case: str | None = None) -> AssessmentInfo | None:
        """The assessment of `unit` for `year` and `case`, or None."""
        unit, year, case = _name(unit, "unit name"), _year(year), _optional_name(case, "case")
        with self._read() as conn:
            row = conn.execute(self._assessment_query().where(
                units.c.name == unit, assessments.c.year == year,
                _case_key == (case or ""))).first()
        return self._assessment_info(row) if row else None

    def list_assessments(self, unit: str | None = None, year: int | None = None) -> list[AssessmentInfo]:
        """Assessments, optionally of one unit and/or year: by unit, then newest year first."""
        query = self._assessment_query()
        if unit is not None:
            query = query.where(units.c.name == _name(unit, "unit name"))
        if year is not None:
            query = query.where(assessments.c.year == _year(year))
        query = query.order_by(units.c.name, assessments.c.year.desc(), _case_key)
        with self._read() as conn:
            return [self._assessment_info(row) for row in conn.execute(query)]

    def delete_assessment(self, token: str) -> None:
        """Delete an assessment with all its responses."""
        token = _token(token, "assessment")
        with self._write() as conn:
            if conn.execute(sa.delete(assessments).where(assessments.c.token == token)).rowcount == 0:
                raise LookupError(f"no assessment with token {token!r}")

    def response_counts(self, assessment_token: str) -> dict[str, int]:
        """Responses per side ({'public': n, 'civil_society': m})."""
        token = _token(assessment_token, "assessment")
        with self._read() as conn:
            assessment_id = self._assessment_id(conn, token)
            rows = conn.execute(sa.select(responses.c.side, sa.func.count())
                                .where(responses.c.assessment_id == assessment_id)
                                .group_by(responses.c.side)).all()
        counts = dict.fromkeys(SIDES, 0)
        counts.update({side: n for side, n in rows})
        return counts

    @staticmethod
    def _assessment_id(conn: Connection, token: str) -> int:
        found = conn.execute(sa.select(assessments.c.id).where(assessments.c.token == token)).scalar()
        if found is None:
            raise LookupError(f"no assessment with token {token!r}")
        return found

    # --- responses, answer by answer --------------------------------------------------------------

    def start_response(self, assessment_token: str, side: str, role: str = "") -> str:
        """A new, empty response to the assessment; returns its token."""
        token = _token(assessment_token, "assessment")
        side = _side(side)
        role = _role(role)
        response_token = new_token()
        now = db.utcnow()
        with self._write() as conn:
            assessment_id = self._assessment_id(conn, token)
            conn.execute(responses.insert().values(
                token=response_token, assessment_id=assessment_id, side=side, role=role,
                created_at=now, updated_at=now))
        return response_token

    def _touch(self, conn: Connection, token: str) -> tuple[int, tuple[str, ...]]:
        """Mark the response updated; (response id, its active extensions). LookupError if none."""
        row = conn.execute(
            sa.update(responses).where(responses.c.token == token).values(updated_at=db.utcnow())
            .returning(responses.c.id, responses.c.extensions, responses.c.assessment_id)).first()
        if row is None:
            raise LookupError(f"no response with token {token!r}")
        extensions = row.extensions
        if extensions is None and self.framework is not None:
            extensions = conn.execute(sa.select(assessments.c.extensions)
                                      .where(assessments.c.id == row.assessment_id)).scalar()
        return row.id, tuple(extensions or ())

    def _check(self, extensions: Sequence[str] = (), **answers) -> None:
        """Check answers against the framework, if the store has one."""
        if self.framework is None:
            return
        probe = Response.model_construct(unit="-", year=YEAR_MIN, side="public",
                                         extensions=list(extensions), **answers)
        problems = validate_against(probe, self.framework)
        if problems:
            raise ValueError(_problems_text(problems))

    def _check_extensions(self, extensions: Sequence[str]) -> None:
        self._check(extensions=extensions)

    def save_step(self, response_token: str, step_id: str, level: str, tools: Iterable[str] = ()) -> None:
        """Save (or overwrite) the level reached and tools used at one decision step."""
        token = _token(response_token, "response")
        step_id = _key(step_id, "step id")
        level = _key(level, f"step '{step_id}': level")
        try:
            answer = StepAnswer(level=level, tools=_as_list(tools, "tools"))
        except ValidationError as exc:
            raise ValueError(f"step '{step_id}': " + "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
        answer.tools = list(dict.fromkeys(answer.tools))  # a tool counts once
        with self._write() as conn:
            response_id, extensions = self._touch(conn, token)
            self._check(extensions, steps={step_id: answer})
            _upsert(conn, step_answers, {"response_id": response_id, "step_id": step_id,
                                         "level": answer.level, "tools": answer.tools},
                    ("response_id", "step_id"))

    def clear_step(self, response_token: str, step_id: str) -> None:
        """Forget the answer for one step (unanswered again)."""
        token, step_id = _token(response_token, "response"), _key(step_id, "step id")
        with self._write() as conn:
            response_id, _ = self._touch(conn, token)
            conn.execute(sa.delete(step_answers).where(step_answers.c.response_id == response_id,
                                                       step_answers.c.step_id == step_id))

    def save_rating(self, response_token: str, key: str, value: int | str | None) -> None:
        """Save a statement's rating: a number, 'dont_know', or None to clear it."""
        token, key = _token(response_token, "response"), _key(key, "statement key")
        stored = _rating(value)
        with self._write() as conn:
            response_id, _ = self._touch(conn, token)
            if stored is None:
                conn.execute(sa.delete(ratings).where(ratings.c.response_id == response_id,
                                                      ratings.c.statement_key == key))
                return
            self._check(ratings={key: value})
            number, dont_know = stored
            _upsert(conn, ratings, {"response_id": response_id, "statement_key": key,
                                    "value": number, "dont_know": dont_know},
                    ("response_id", "statement_key"))

    def save_comment(self, response_token: str, key: str, text: str | None) -> None:
        """Save a comment on a step, a statement or 'general'; empty text deletes it."""
        token, key = _token(response_token, "response"), _key(key, "comment key")
        if text is not None and not isinstance(text, str):
            raise ValueError(f"a comment must be a text (got {text!r})")
        text = (text or "").strip()
        with self._write() as conn:
            response_id, _ = self._touch(conn, token)
            if not text:
                conn.execute(sa.delete(comments).where(comments.c.response_id == response_id,
                                                       comments.c.key == key))
                return
            _upsert(conn, comments, {"response_id": response_id, "key": key, "text": text},
                    ("response_id", "key"))

    def submit_response(self, response_token: str) -> datetime:
        """Mark a response as submitted (the first time counts); returns when."""
        token = _token(response_token, "response")
        with self._write() as conn:
            self._touch(conn, token)
            conn.execute(sa.update(responses).where(responses.c.token == token,
                                                    responses.c.submitted_at.is_(None))
                         .values(submitted_at=db.utcnow()))
            when = conn.execute(sa.select(responses.c.submitted_at)
                                .where(responses.c.token == token)).scalar_one()
        return _aware(when)

    def delete_response(self, response_token: str) -> None:
        token = _token(response_token, "response")
        with self._write() as conn:
            if conn.execute(sa.delete(responses).where(responses.c.token == token)).rowcount == 0:
                raise LookupError(f"no response with token {token!r}")

    # --- whole responses ----------------------------------------------------------------------------

    def add_response(self, response: Response) -> str:
        """Store a whole response in one transaction (import, demo); returns its token.

        The unit and the assessment (found by unit, year and case) are created when missing.
        """
        return self.add_responses([response])[0]

    def add_responses(self, items: Iterable[Response]) -> list[str]:
        """Store many whole responses in one transaction; their tokens, in order.

        All are checked before anything is written: one bad response writes none.
        """
        checked = [self._checked_response(i, item) for i, item in enumerate(items)]
        tokens = [new_token() for _ in checked]
        with self._write() as conn:
            places = self._places(conn, checked)
            for start in range(0, len(checked), BATCH):
                self._insert_batch(conn, checked[start:start + BATCH], tokens[start:start + BATCH], places)
        return tokens

    def _checked_response(self, index: int, response: Any) -> Response:
        where = f"response {index + 1}"
        if not isinstance(response, Response):
            raise ValueError(f"{where}: expected a Response, got {type(response).__name__}")
        try:
            # Revalidate (a copy): model_construct or assignments may have skipped the checks.
            response = Response.model_validate(
                {**response.__dict__, "steps": {key: dict(answer.__dict__)
                                                for key, answer in response.steps.items()}})
        except (ValidationError, AttributeError, TypeError) as exc:
            details = ("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
                       if isinstance(exc, ValidationError) else str(exc))
            raise ValueError(f"{where}: {details}") from None
        response.unit = _name(response.unit, f"{where}: unit")
        response.case = _optional_name(response.case, f"{where}: case")
        _role(response.role)
        for what, keys in (("step id", response.steps), ("statement key", response.ratings),
                           ("comment key", response.comments)):
            if not all(type(key) is str and key.strip() == key and 0 < len(key) <= KEY_MAX for key in keys):
                for key in keys:
                    _key(key, f"{where}: {what}")  # names the bad one
                    if key != key.strip():
                        raise ValueError(f"{where}: {what} {key!r} has spaces around it")
        for step_id, answer in response.steps.items():
            _key(answer.level, f"{where}: step '{step_id}': level")
        if self.framework is not None:
            problems = validate_against(response, self.framework)
            if problems:
                raise ValueError(f"{where} ({response.unit} {response.year}): {_problems_text(problems)}")
        return response

    @staticmethod
    def _places(conn: Connection, items: list[Response]) -> dict[tuple, tuple[int, list[str]]]:
        """{(unit, year, case or ''): (assessment id, its extensions)}, creating what is missing.

        A few statements for all of them: one round trip per assessment made big imports slow.
        ON CONFLICT DO NOTHING: a concurrent import may create the same unit or assessment.
        """
        first: dict[tuple, Response] = {}
        for response in items:
            first.setdefault((response.unit, response.year, response.case or ""), response)
        if not first:
            return {}
        names = sorted({unit for unit, _, _ in first})
        conn.execute(_insert(conn, units).on_conflict_do_nothing(index_elements=["name"]),
                     [{"name": name, "kind": UNIT_KINDS[0], "region": None} for name in names])
        unit_ids = dict(conn.execute(sa.select(units.c.name, units.c.id).where(units.c.name.in_(names))).all())
        now = db.utcnow()
        conn.execute(_insert(conn, assessments).on_conflict_do_nothing(), [
            {"token": new_token(), "unit_id": unit_ids[unit], "year": year, "case": r.case,
             "extensions": list(r.extensions), "created_at": now}
            for (unit, year, _), r in first.items()])
        names_by_id = {id_: name for name, id_ in unit_ids.items()}
        found = conn.execute(sa.select(assessments.c.id, assessments.c.unit_id, assessments.c.year,
                                       _case_key, assessments.c.extensions)
                             .where(assessments.c.unit_id.in_(list(names_by_id)))).all()
        return {(names_by_id[unit_id], year, case): (id_, list(extensions or ()))
                for id_, unit_id, year, case, extensions in found}

    def _insert_batch(self, conn: Connection, batch: list[Response], tokens: list[str],
                      places: dict) -> None:
        now = db.utcnow()
        rows = []
        for response, token in zip(batch, tokens):
            assessment_id, assessment_extensions = places[(response.unit, response.year, response.case or "")]
            own = response.extensions if response.extensions != assessment_extensions else None
            rows.append({"token": token, "assessment_id": assessment_id, "side": response.side,
                         "role": _role(response.role), "extensions": own,
                         "created_at": now, "updated_at": now, "submitted_at": now})
        ids = {token: id_ for id_, token in conn.execute(
            responses.insert().returning(responses.c.id, responses.c.token,
                                         sort_by_parameter_order=True), rows)}
        steps, rates, notes = [], [], []
        for response, token in zip(batch, tokens):
            rid = ids[token]
            steps += [(rid, step_id, answer.level, json.dumps(answer.tools))
                      for step_id, answer in response.steps.items()]
            rates += [(rid, key, None, True) if value == DONT_KNOW else (rid, key, value, False)
                      for key, value in response.ratings.items()]
            notes += [(rid, key, text.strip()) for key, text in response.comments.items() if text.strip()]
        db.bulk_insert(conn, step_answers, ("response_id", "step_id", "level", "tools"), steps)
        db.bulk_insert(conn, ratings, ("response_id", "statement_key", "value", "dont_know"), rates)
        db.bulk_insert(conn, comments, ("response_id", "key", "text"), notes)

    # --- reading ----------------------------------------------------------------------------------

    def get_response(self, token: str) -> ResponseInfo:
        """A response as saved so far; LookupError if the token is unknown."""
        token = _token(token, "response")
        with self._read() as conn:
            loaded = self._load(conn, [responses.c.token == token], with_info=True)
        if not loaded:
            raise LookupError(f"no response with token {token!r}")
        return loaded[0]

    def responses_for(self, assessment_token: str) -> list[Response]:
        """All responses to one assessment, in the order they were started."""
        return [info.response for info in self.response_infos(assessment_token)]

    def response_infos(self, assessment_token: str) -> list[ResponseInfo]:
        """All responses to one assessment with their tokens and times."""
        token = _token(assessment_token, "assessment")
        with self._read() as conn:
            assessment_id = self._assessment_id(conn, token)
            return self._load(conn, [responses.c.assessment_id == assessment_id], with_info=True)

    def responses_where(self, units: Iterable[str] | str | None = None,
                        years: Iterable[int] | int | None = None,
                        side: str | None = None) -> list[Response]:
        """Responses of these units, years and side (None = any), for comparisons."""
        where = []
        if units is not None:
            names = [_name(u, "unit name") for u in _as_list(units, "units")]
            where.append(_units.c.name.in_(names))
        if years is not None:
            where.append(assessments.c.year.in_([_year(y) for y in _as_list(
                [years] if isinstance(years, int) else years, "years")]))
        if side is not None:
            where.append(responses.c.side == _side(side))
        with self._read() as conn, _gc_paused():
            return self._load(conn, where, with_info=False)

    def _load(self, conn: Connection, where: list, with_info: bool) -> list:
        """Responses matching `where` (on responses, assessments, units).

        A fixed number of queries whatever the number of responses: ratings and step answers
        come grouped per response (see _ratings_by_response and _steps_by_response).
        """
        base = responses.join(assessments, responses.c.assessment_id == assessments.c.id) \
                        .join(units, assessments.c.unit_id == units.c.id)
        columns = [responses.c.id, units.c.name, assessments.c.year, assessments.c.case,
                   responses.c.side, responses.c.role,
                   # As text: a few distinct values, parsed once each below.
                   sa.cast(responses.c.extensions, sa.Text), sa.cast(assessments.c.extensions, sa.Text)]
        if with_info:
            columns += [responses.c.token, responses.c.created_at, responses.c.updated_at,
                        responses.c.submitted_at, assessments.c.id, assessments.c.token,
                        units.c.kind, units.c.region, assessments.c.created_at]
        heads = conn.execute(sa.select(*columns).select_from(base).where(*where)
                             .order_by(responses.c.id)).all()
        if not heads:
            return []

        def per_response(table: sa.Table, *cols) -> sa.Select:
            """SELECT response_id, *cols FROM table, for the responses matching `where`."""
            query = sa.select(table.c.response_id, *cols)
            if where:
                query = query.select_from(table.join(base, table.c.response_id == responses.c.id)) \
                             .where(*where)
            return query

        rating_map = _ratings_by_response(conn, per_response)
        step_map = _steps_by_response(conn, per_response)
        comment_map: dict[int, dict] = defaultdict(dict)
        for rid, key, text in conn.execute(per_response(comments, comments.c.key, comments.c.text)):
            comment_map[rid][key] = text

        parsed_extensions: dict[str | None, list[str] | None] = {None: None}
        out = []
        for head in heads:
            rid, unit, year, case, side, role, own, shared = head[:8]
            for text in (own, shared):
                if text not in parsed_extensions:
                    parsed_extensions[text] = json.loads(text)
            extensions = parsed_extensions[own]
            if extensions is None:  # the response follows its assessment
                extensions = parsed_extensions[shared]
            response = _response({  # stored data was validated when it was written
                "format": FORMAT, "unit": unit, "year": year, "case": case, "side": side, "role": role,
                "extensions": list(extensions or ()), "steps": step_map.pop(rid, None) or {},
                "ratings": rating_map.pop(rid, None) or {}, "comments": comment_map.pop(rid, None) or {}})
            if with_info:
                (token, created, updated, submitted, assessment_id, assessment_token, kind, region,
                 assessment_created) = head[8:]
                assessment = self._assessment_info((assessment_id, assessment_token, unit, kind, region,
                                                    year, case, parsed_extensions[shared],
                                                    assessment_created))
                out.append(ResponseInfo(token, assessment, response,
                                        _aware(created), _aware(updated), _aware(submitted)))
            else:
                out.append(response)
        return out


# --- bulk reading ------------------------------------------------------------------------------
# Comparisons load ~100,000 responses with ~30 ratings each. Per-row work in Python dominated,
# so the database groups the answers per response, in the form each driver reads fastest.

JSON_BATCH = 20_000  # response rows per json.loads call


def _ratings_by_response(conn: Connection, per_response) -> dict[int, dict]:
    """{response id: {statement key: value or 'dont_know'}}."""
    if conn.dialect.name == "postgresql":
        # Two arrays per response (psycopg parses them in C); NULL value means "don't know",
        # as the ratings' CHECK constraint guarantees.
        rows = conn.execute(per_response(ratings, _array_agg(ratings.c.statement_key), _array_agg(ratings.c.value))
                            .group_by(ratings.c.response_id).order_by(ratings.c.response_id)).all()
        out = {}
        for rid, keys, values in rows:
            found = dict(zip(keys, values))
            if None in values:
                for key, value in found.items():
                    if value is None:
                        found[key] = DONT_KNOW
            out[rid] = found
        return out
    # SQLite builds each response's JSON object in C; json.loads parses a whole batch at once.
    value = sa.case((ratings.c.dont_know, sa.literal_column(f"'{DONT_KNOW}'")), else_=ratings.c.value)
    return _json_objects(conn, per_response(ratings, sa.func.json_group_object(ratings.c.statement_key, value))
                         .group_by(ratings.c.response_id))


def _steps_by_response(conn: Connection, per_response) -> dict[int, dict[str, StepAnswer]]:
    """{response id: {step id: StepAnswer}}."""
    if conn.dialect.name == "postgresql":
        rows = conn.execute(per_response(step_answers, _array_agg(step_answers.c.step_id),
                                         _array_agg(step_answers.c.level),
                                         _array_agg(sa.cast(step_answers.c.tools, sa.Text)))
                            .group_by(step_answers.c.response_id).order_by(step_answers.c.response_id)).all()
        parsed: dict[str, list[str]] = {}  # tool lists repeat: parse each text once, copy it
        out = {}
        for rid, step_ids, levels, tool_texts in rows:
            answers = {}
            for step_id, level, text in zip(step_ids, levels, tool_texts):
                tools = parsed.get(text)
                if tools is None:
                    tools = parsed[text] = json.loads(text)
                answers[step_id] = _step_answer({"level": level, "tools": list(tools)})
            out[rid] = answers
        return out
    level, tools = sa.literal_column("'level'"), sa.literal_column("'tools'")
    answer = sa.func.json_object(level, step_answers.c.level, tools, sa.func.json(step_answers.c.tools))
    objects = _json_objects(conn, per_response(step_answers, sa.func.json_group_object(step_answers.c.step_id, answer))
                            .group_by(step_answers.c.response_id))
    return {rid: {step_id: _step_answer(values) for step_id, values in answers.items()}
            for rid, answers in objects.items()}


def _array_agg(column) -> sa.ColumnElement:
    # Untyped: psycopg already returns Python lists; SQLAlchemy's ARRAY processing only costs.
    return sa.func.array_agg(column, type_=sa.types.NullType())


def _json_objects(conn: Connection, query: sa.Select) -> dict[int, dict]:
    """{response id: object} from rows of (response id, JSON object text)."""
    out: dict[int, dict] = {}
    for part in conn.execute(query.execution_options(yield_per=JSON_BATCH)).partitions():
        # One json.loads per batch runs at C speed and makes each key string once per batch.
        objects = json.loads("[" + ",".join([row[1] for row in part]) + "]")
        out.update(zip([row[0] for row in part], objects))
    return out


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many objects (none form cycles).

    Otherwise the millions of new dicts trigger one full collection after another,
    which made loading 2-3 times slower.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _trusted_constructor(model: type, sample: dict[str, Any]):
    """A constructor for `model` from a dict of every field's stored, already valid value.

    It sets what model_construct sets, without its per-field alias and default handling,
    which cost more than the database when loading millions of answers. Checked once
    against model_construct: should pydantic build models differently, that is used instead.
    """
    fields = frozenset(model.model_fields)
    # Shared by all instances: every field is set, so assigning one adds nothing to it;
    # one set per instance cost ~200 bytes times a million step answers.
    all_set = set(fields)
    new, set_attribute = model.__new__, object.__setattr__

    def construct(values: dict) -> Any:
        instance = new(model)
        set_attribute(instance, "__dict__", values)
        set_attribute(instance, "__pydantic_fields_set__", all_set)
        set_attribute(instance, "__pydantic_extra__", None)
        set_attribute(instance, "__pydantic_private__", None)
        return instance

    reference = model.model_construct(**sample)
    try:
        probe = construct(dict(sample))
        same = (not model.__pydantic_post_init__ and set(sample) == fields and probe == reference
                and all(getattr(probe, name) == getattr(reference, name) for name in
                        ("__dict__", "__pydantic_fields_set__", "__pydantic_extra__", "__pydantic_private__")))
    except Exception:  # noqa: BLE001 - any difference means: use the documented way
        same = False
    return construct if same else (lambda values: model.model_construct(**values))


_step_answer = _trusted_constructor(StepAnswer, {"level": "dialogue", "tools": ["t"]})
_response = _trusted_constructor(Response, {
    "format": FORMAT, "unit": "u", "year": 2024, "case": None, "side": "public", "role": "",
    "extensions": [], "steps": {}, "ratings": {"a.b": 1}, "comments": {}})
