"""Whole responses: read back (one, an assessment's, or a selection for comparisons) and
written at once (imports, the demo).

Reads rebuild :class:`~assessment.framework.responses.Response` objects; bulk reads use
one query per table, never one per response (see ``store/response_loading.py``).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from ..framework.responses import DONT_KNOW, FORMAT, Response, validate_against
from . import checks
from .assessments import AssessmentInfo, assessment_id, assessment_info
from .engine import aware, bulk_insert, utcnow
from .repository import Repository, insert, new_token
from .tokens import digest, new_key
from .response_loading import build_response, gc_paused, ratings_by_response, steps_by_response
from .tables import KEY_MAX, UNIT_KINDS, assessments, case_key, comments, ratings, responses, step_answers
from .tables import units as unit_table

BATCH = 2000  # responses per executemany batch in add_responses


@dataclass(frozen=True)
class ResponseInfo:
    token: str
    assessment: AssessmentInfo
    response: Response
    created_at: datetime | None = None
    updated_at: datetime | None = None
    submitted_at: datetime | None = None


class Responses(Repository):
    """Whole responses in and out (see Repository for errors and framework checks)."""

    def get_response(self, token: str) -> ResponseInfo:
        """A response as saved so far; LookupError if the token is unknown."""
        token = checks.response_key(token)
        with self._read() as conn:
            loaded = self._load(conn, [responses.c.token == token], with_info=True)
        if not loaded:
            raise LookupError("no response with that personal link")
        return loaded[0]

    def responses_for(self, assessment_token: str) -> list[Response]:
        """All responses to one assessment, in the order they were started."""
        return [info.response for info in self.response_infos(assessment_token)]

    def response_infos(self, assessment_token: str) -> list[ResponseInfo]:
        """All responses to one assessment with their tokens and times."""
        token = checks.token(assessment_token, "assessment")
        with self._read() as conn:
            found = assessment_id(conn, token)
            return self._load(conn, [responses.c.assessment_id == found], with_info=True)

    def responses_where(self, units: Iterable[str] | str | None = None,
                        years: Iterable[int] | int | None = None,
                        side: str | None = None) -> list[Response]:
        """Responses of these units, years and side (None = any), for comparisons."""
        where = []
        if units is not None:
            names = [checks.name(u, "unit name") for u in checks.as_list(units, "units")]
            where.append(unit_table.c.name.in_(names))
        if years is not None:
            where.append(assessments.c.year.in_([checks.year(y) for y in checks.as_list(
                [years] if isinstance(years, int) else years, "years")]))
        if side is not None:
            where.append(responses.c.side == checks.side(side))
        with self._read() as conn, gc_paused():
            return self._load(conn, where, with_info=False)

    def _load(self, conn: Connection, where: list, with_info: bool) -> list:
        """Responses matching `where` (on responses, assessments, units).

        A fixed number of queries whatever the number of responses: ratings and step answers
        come grouped per response (see response_loading).
        """
        base = responses.join(assessments, responses.c.assessment_id == assessments.c.id) \
                        .join(unit_table, assessments.c.unit_id == unit_table.c.id)
        columns = [responses.c.id, unit_table.c.name, assessments.c.year, assessments.c.case,
                   responses.c.side, responses.c.role,
                   # As text: a few distinct values, parsed once each below.
                   sa.cast(responses.c.extensions, sa.Text), sa.cast(assessments.c.extensions, sa.Text)]
        if with_info:
            columns += [responses.c.token, responses.c.created_at, responses.c.updated_at,
                        responses.c.submitted_at, assessments.c.id, assessments.c.token,
                        unit_table.c.kind, unit_table.c.region, assessments.c.created_at]
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

        rating_map = ratings_by_response(conn, per_response)
        step_map = steps_by_response(conn, per_response)
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
            response = build_response({  # stored data was validated when it was written
                "format": FORMAT, "unit": unit, "year": year, "case": case, "side": side, "role": role,
                "extensions": list(extensions or ()), "steps": step_map.pop(rid, None) or {},
                "ratings": rating_map.pop(rid, None) or {}, "comments": comment_map.pop(rid, None) or {}})
            if with_info:
                (token, created, updated, submitted, aid, assessment_token, kind, region,
                 assessment_created) = head[8:]
                assessment = assessment_info((aid, assessment_token, unit, kind, region, year, case,
                                              parsed_extensions[shared], assessment_created))
                out.append(ResponseInfo(token, assessment, response,
                                        aware(created), aware(updated), aware(submitted)))
            else:
                out.append(response)
        return out

    # --- writing whole responses ---------------------------------------------------------------

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
        response.unit = checks.name(response.unit, f"{where}: unit")
        response.case = checks.optional_name(response.case, f"{where}: case")
        checks.role(response.role)
        for what, keys in (("step id", response.steps), ("statement key", response.ratings),
                           ("comment key", response.comments)):
            if not all(type(key) is str and key.strip() == key and 0 < len(key) <= KEY_MAX for key in keys):
                for key in keys:
                    checks.key(key, f"{where}: {what}")  # names the bad one
                    if key != key.strip():
                        raise ValueError(f"{where}: {what} {key!r} has spaces around it")
        for step_id, answer in response.steps.items():
            checks.key(answer.level, f"{where}: step '{step_id}': level")
        if self.framework is not None:
            problems = validate_against(response, self.framework)
            if problems:
                raise ValueError(f"{where} ({response.unit} {response.year}): {checks.problems_text(problems)}")
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
        conn.execute(insert(conn, unit_table).on_conflict_do_nothing(index_elements=["name"]),
                     [{"name": name, "kind": UNIT_KINDS[0], "region": None} for name in names])
        unit_ids = dict(conn.execute(sa.select(unit_table.c.name, unit_table.c.id)
                                     .where(unit_table.c.name.in_(names))).all())
        now = utcnow()
        conn.execute(insert(conn, assessments).on_conflict_do_nothing(), [
            {"token": new_key(), "unit_id": unit_ids[unit], "year": year, "case": r.case,
             "extensions": list(r.extensions), "created_at": now}
            for (unit, year, _), r in first.items()])
        names_by_id = {id_: name for name, id_ in unit_ids.items()}
        found = conn.execute(sa.select(assessments.c.id, assessments.c.unit_id, assessments.c.year,
                                       case_key, assessments.c.extensions)
                             .where(assessments.c.unit_id.in_(list(names_by_id)))).all()
        return {(names_by_id[unit_id], year, case): (id_, list(extensions or ()))
                for id_, unit_id, year, case, extensions in found}

    def _insert_batch(self, conn: Connection, batch: list[Response], tokens: list[str],
                      places: dict) -> None:
        now = utcnow()
        rows = []
        for response, token in zip(batch, tokens):
            aid, assessment_extensions = places[(response.unit, response.year, response.case or "")]
            own = response.extensions if response.extensions != assessment_extensions else None
            rows.append({"token": digest(token), "assessment_id": aid, "side": response.side,
                         "role": checks.role(response.role), "extensions": own,
                         "created_at": now, "updated_at": now, "submitted_at": now})
        ids = {token: id_ for id_, token in conn.execute(
            responses.insert().returning(responses.c.id, responses.c.token,
                                         sort_by_parameter_order=True), rows)}
        steps, rates, notes = [], [], []
        for response, token in zip(batch, tokens):
            rid = ids[digest(token)]
            steps += [(rid, step_id, answer.level, json.dumps(answer.tools))
                      for step_id, answer in response.steps.items()]
            rates += [(rid, key, None, True) if value == DONT_KNOW else (rid, key, value, False)
                      for key, value in response.ratings.items()]
            notes += [(rid, key, text.strip()) for key, text in response.comments.items() if text.strip()]
        bulk_insert(conn, step_answers, ("response_id", "step_id", "level", "tools"), steps)
        bulk_insert(conn, ratings, ("response_id", "statement_key", "value", "dont_know"), rates)
        bulk_insert(conn, comments, ("response_id", "key", "text"), notes)
