"""Loading many responses fast, for comparisons across units and years.

Comparisons load ~100,000 responses with ~30 ratings each. Per-row work in Python
dominated, so the database groups the answers per response, in the form each driver
reads fastest, and the stored (already valid) answers become pydantic models without
being validated again.
"""

from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from typing import Any, Iterator

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..framework.responses import DONT_KNOW, FORMAT, Response, StepAnswer
from .tables import ratings, step_answers

JSON_BATCH = 20_000  # response rows per json.loads call


def ratings_by_response(conn: Connection, per_response) -> dict[int, dict]:
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


def steps_by_response(conn: Connection, per_response) -> dict[int, dict[str, StepAnswer]]:
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
                answers[step_id] = build_step_answer({"level": level, "tools": list(tools)})
            out[rid] = answers
        return out
    level, tools = sa.literal_column("'level'"), sa.literal_column("'tools'")
    answer = sa.func.json_object(level, step_answers.c.level, tools, sa.func.json(step_answers.c.tools))
    objects = _json_objects(conn, per_response(step_answers, sa.func.json_group_object(step_answers.c.step_id, answer))
                            .group_by(step_answers.c.response_id))
    return {rid: {step_id: build_step_answer(values) for step_id, values in answers.items()}
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
def gc_paused() -> Iterator[None]:
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


def trusted_constructor(model: type, sample: dict[str, Any]):
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


build_step_answer = trusted_constructor(StepAnswer, {"level": "dialogue", "tools": ["t"]})
build_response = trusted_constructor(Response, {
    "format": FORMAT, "unit": "u", "year": 2024, "case": None, "side": "public", "role": "",
    "extensions": [], "steps": {}, "ratings": {"a.b": 1}, "comments": {}})
