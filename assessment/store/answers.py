"""One respondent answering, answer by answer, as the questionnaire saves them.

Every save is its own short transaction and an idempotent upsert, so a respondent who
reloads the page loses nothing and a repeated click changes nothing. Each save also
bumps the response's ``updated_at``, which is how the comparison's summaries notice it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from ..framework.responses import StepAnswer
from . import checks
from .assessments import assessment_id
from .engine import aware, utcnow
from .repository import Repository, new_token, upsert
from .tables import assessments, comments, ratings, responses, step_answers
from .tokens import digest


class Answers(Repository):
    """Start a response, save its answers one by one, submit or delete it
    (see Repository for errors and framework checks)."""

    def start_response(self, assessment_token: str, side: str, role: str = "") -> str:
        """A new, empty response to the assessment; returns its token."""
        token = checks.token(assessment_token, "assessment")
        side = checks.side(side)
        role = checks.role(role)
        response_token = new_token()
        now = utcnow()
        with self._write() as conn:
            found = assessment_id(conn, token)
            conn.execute(responses.insert().values(
                token=digest(response_token), assessment_id=found, side=side, role=role,
                created_at=now, updated_at=now))
        return response_token

    def _touch(self, conn: Connection, token: str) -> tuple[int, tuple[str, ...]]:
        """Mark the response updated; (response id, its active extensions). LookupError if none."""
        row = conn.execute(
            sa.update(responses).where(responses.c.token == token).values(updated_at=utcnow())
            .returning(responses.c.id, responses.c.extensions, responses.c.assessment_id)).first()
        if row is None:
            raise LookupError("no response with that personal link")
        extensions = row.extensions
        if extensions is None and self.framework is not None:
            extensions = conn.execute(sa.select(assessments.c.extensions)
                                      .where(assessments.c.id == row.assessment_id)).scalar()
        return row.id, tuple(extensions or ())

    def save_step(self, response_token: str, step_id: str, level: str, tools: Iterable[str] = ()) -> None:
        """Save (or overwrite) the level reached and tools used at one decision step."""
        token = checks.response_key(response_token)
        step_id = checks.key(step_id, "step id")
        level = checks.key(level, f"step '{step_id}': level")
        try:
            answer = StepAnswer(level=level, tools=checks.as_list(tools, "tools"))
        except ValidationError as exc:
            raise ValueError(f"step '{step_id}': " + "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())) from None
        answer.tools = list(dict.fromkeys(answer.tools))  # a tool counts once
        with self._write() as conn:
            response_id, extensions = self._touch(conn, token)
            checks.against_framework(self.framework, extensions, steps={step_id: answer})
            upsert(conn, step_answers, {"response_id": response_id, "step_id": step_id,
                                        "level": answer.level, "tools": answer.tools},
                   ("response_id", "step_id"))

    def clear_step(self, response_token: str, step_id: str) -> None:
        """Forget the answer for one step (unanswered again)."""
        token, step_id = checks.response_key(response_token), checks.key(step_id, "step id")
        with self._write() as conn:
            response_id, _ = self._touch(conn, token)
            conn.execute(sa.delete(step_answers).where(step_answers.c.response_id == response_id,
                                                       step_answers.c.step_id == step_id))

    def save_rating(self, response_token: str, key: str, value: int | str | None) -> None:
        """Save a statement's rating: a number, 'dont_know', or None to clear it."""
        token, key = checks.response_key(response_token), checks.key(key, "statement key")
        stored = checks.rating(value)
        with self._write() as conn:
            response_id, _ = self._touch(conn, token)
            if stored is None:
                conn.execute(sa.delete(ratings).where(ratings.c.response_id == response_id,
                                                      ratings.c.statement_key == key))
                return
            checks.against_framework(self.framework, ratings={key: value})
            number, dont_know = stored
            upsert(conn, ratings, {"response_id": response_id, "statement_key": key,
                                   "value": number, "dont_know": dont_know},
                   ("response_id", "statement_key"))

    def save_comment(self, response_token: str, key: str, text: str | None) -> None:
        """Save a comment on a step, a statement or 'general'; empty text deletes it."""
        token, key = checks.response_key(response_token), checks.key(key, "comment key")
        if text is not None and not isinstance(text, str):
            raise ValueError(f"a comment must be a text (got {text!r})")
        text = (text or "").strip()
        with self._write() as conn:
            response_id, _ = self._touch(conn, token)
            if not text:
                conn.execute(sa.delete(comments).where(comments.c.response_id == response_id,
                                                       comments.c.key == key))
                return
            upsert(conn, comments, {"response_id": response_id, "key": key, "text": text},
                   ("response_id", "key"))

    def submit_response(self, response_token: str) -> datetime:
        """Mark a response as submitted (the first time counts); returns when."""
        token = checks.response_key(response_token)
        with self._write() as conn:
            self._touch(conn, token)
            conn.execute(sa.update(responses).where(responses.c.token == token,
                                                    responses.c.submitted_at.is_(None))
                         .values(submitted_at=utcnow()))
            when = conn.execute(sa.select(responses.c.submitted_at)
                                .where(responses.c.token == token)).scalar_one()
        return aware(when)

    def delete_response(self, response_token: str) -> None:
        token = checks.response_key(response_token)
        with self._write() as conn:
            if conn.execute(sa.delete(responses).where(responses.c.token == token)).rowcount == 0:
                raise LookupError("no response with that personal link")
