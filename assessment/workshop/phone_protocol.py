"""The phone protocol without the web server: read request bodies, build the state JSON,
turn refusals into HTTP answers.

The endpoints (web/phone_api.py) only move bytes; everything that decides is here, so it
is tested directly. Bodies are small JSON objects with string fields; every refusal is a
WorkshopError whose key names its code (``workshop.error.card_closed`` -> ``card_closed``).
The state a phone reads is the same dict for the state endpoint and the event stream (where
``me`` is null): built from ``WorkshopVoting.state`` and serialized once per change.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from typing import Any

from ..framework.matrix import Framework
from ..framework.responses import NO_LEVEL
from ..i18n import t
from .errors import InvalidInput, UnknownParticipant, WorkshopError
from .tallies import GROUPS
from .voting import ParticipantView

MAX_BODY_BYTES = 2048
LANGS = ("sv", "en")
DEFAULT_ERROR_LANG = "sv"
# The longest token we look up: ours are 24 characters; anything far longer is not one.
MAX_TOKEN_CHARS = 200

# No field of the protocol holds control characters (PostgreSQL refuses NUL outright).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

# HTTP status per error code; codes not listed are 400.
STATUS = {
    "bad_json": 400, "bad_field": 400, "bad_lang": 400,
    "unknown_participant": 401, "forbidden": 403,
    "unknown_code": 404, "not_found": 404,
    "method_not_allowed": 405,
    "card_closed": 409, "ended": 409, "not_matrix": 409, "unknown_card": 409, "not_current": 409,
    "too_large": 413, "unsupported_media_type": 415,
    "bad_value": 422, "bad_side": 422, "bad_role": 422, "bad_step": 422, "bad_level": 422,
    "too_many_requests": 429, "server_error": 500,
}


class ProtocolError(WorkshopError):
    """A request the protocol cannot read (its message under ``phone.error.<code>``)."""

    def __init__(self, code: str, english: str, **values: Any):
        super().__init__(f"phone.error.{code}", english, **values)


def error_code(err: WorkshopError) -> str:
    return err.key.rsplit(".", 1)[-1]


def error_parts(err: BaseException, lang: str | None) -> tuple[int, str, str]:
    """(HTTP status, code, one human sentence in lang) for a refusal; anything that is not a
    WorkshopError is a server error whose details stay in the log."""
    lang = lang if lang in LANGS else DEFAULT_ERROR_LANG
    if not isinstance(err, WorkshopError):
        return 500, "server_error", t("phone.error.server_error", lang)
    code = error_code(err)
    # Formatted here, not by t(): a refusal's values may hold a 'lang' of their own (bad_lang).
    return STATUS.get(code, 400), code, t(err.key, lang).format(**err.values)


def error_body(code: str, message: str) -> bytes:
    return dumps({"error": {"code": code, "message": message}})


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- requests ------------------------------------------------------------------------------

def parse_lang(value: str | None) -> str | None:
    """The ``lang`` query parameter: sv, en or absent (then the workshop's language)."""
    if value is None or value == "":
        return None
    if value not in LANGS:
        raise InvalidInput("workshop.error.bad_lang", "the language must be sv or en (got {lang})",
                           lang=value[:20])
    return value


def check_content_type(content_type: str | None) -> None:
    media = (content_type or "").split(";", 1)[0].strip().lower()
    if media != "application/json":
        raise ProtocolError("unsupported_media_type", "send the request as application/json")


def check_length(declared: str | None) -> None:
    """Refuse by the Content-Length header before reading anything."""
    if declared is None:
        return
    try:
        length = int(declared)
    except ValueError:
        raise ProtocolError("bad_json", "the request must be a JSON object") from None
    if length > MAX_BODY_BYTES:
        raise too_large()


def too_large() -> ProtocolError:
    return ProtocolError("too_large", "the request is too large (at most {limit} bytes)", limit=MAX_BODY_BYTES)


def parse_object(raw: bytes) -> dict[str, Any]:
    """A request body: at most MAX_BODY_BYTES of UTF-8 JSON holding one object."""
    if len(raw) > MAX_BODY_BYTES:
        raise too_large()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("bad_json", "the request must be a JSON object") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_json", "the request must be a JSON object")
    return data


def text_field(body: dict[str, Any], name: str, required: bool = True) -> str:
    """A string field; optional ones may be absent or null (then "")."""
    value = body.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or _CONTROL.search(value):
        raise InvalidInput("workshop.error.bad_field", "{field} is missing or invalid", field=name)
    return value.strip()


def parse_join(raw: bytes) -> tuple[str, str, str]:
    """(code, side, role) of a join request."""
    body = parse_object(raw)
    return text_field(body, "code"), text_field(body, "side"), text_field(body, "role", required=False)


def parse_vote(raw: bytes) -> tuple[str, str]:
    """(card_id, value) of a vote."""
    body = parse_object(raw)
    return text_field(body, "card_id"), text_field(body, "value")


def parse_place(raw: bytes) -> tuple[str, str]:
    """(step_id, level_id) of a placement in the matrix round."""
    body = parse_object(raw)
    return text_field(body, "step_id"), text_field(body, "level_id")


def bearer_token(authorization: str | None, required: bool = True) -> str | None:
    """The participant token from ``Authorization: Bearer <token>``."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
        if authorization is None and not required:
            return None
        raise UnknownParticipant()
    return token


# --- the state -----------------------------------------------------------------------------

_names_cache: dict[tuple[int, tuple[str, ...], tuple[str, ...], str], dict[str, Any]] = {}
_names_lock = threading.Lock()


def matrix_names(fw: Framework, steps: list[str], levels: list[str], lang: str) -> dict[str, Any]:
    """Steps and levels (with 'none' first) with their names in lang, built once per
    framework, matrix and language."""
    key = (id(fw), tuple(steps), tuple(levels), lang)
    cached = _names_cache.get(key)
    if cached is None:
        step_list = []
        for step_id in steps:
            step = fw.step_by_id.get(step_id)
            step_list.append({"id": step_id, "name": step.name(lang) if step else step_id,
                              "description": step.description(lang) if step else ""})
        level_list = [{"id": NO_LEVEL, "name": t("ws.matrix.none", lang)}]
        for level_id in levels:
            level = fw.level_by_id.get(level_id)
            level_list.append({"id": level_id, "name": level.name(lang) if level else level_id})
        cached = {"steps": step_list, "levels": level_list, "fw": fw}  # fw: keeps id(fw) unique
        with _names_lock:
            _names_cache[key] = cached
    return cached


def _counts(counts) -> dict[str, int]:
    return {"agree": counts.agree, "disagree": counts.disagree, "pass": counts.passed, "total": counts.total}


def state_dict(view: ParticipantView, fw: Framework, lang: str | None = None,
               with_me: bool = True) -> dict[str, Any]:
    """What a phone shows, as the protocol's JSON object (README: the phone protocol)."""
    lang = lang or view.lang
    card = None
    if view.card is not None:
        card = {"id": view.card.id, "index": view.card_index, "count": view.card_count,
                "text": view.card.text(lang), "status": view.card_status}
    tally = None
    if view.tally is not None:
        tally = {group: _counts(view.tally.side(group)) for group in GROUPS}
    matrix = None
    if view.phase == "matrix":
        names = matrix_names(fw, view.steps, view.levels, lang)
        result = None
        if view.matrix is not None:
            result = [{"step_id": item.step_id, "level_id": item.level_id, "answered": item.answered}
                      for item in view.matrix.get("overall", [])]
        matrix = {"steps": names["steps"], "levels": names["levels"], "result": result}
    me = None
    if with_me and view.my_side is not None:
        me = {"side": view.my_side, "role": view.my_role, "votes": dict(view.my_votes),
              "placements": dict(view.my_placements)}
    return {"code": view.code, "name": view.name, "unit": view.unit, "lang": lang, "phase": view.phase,
            "version": view.version, "card": card, "revealed": view.revealed, "tally": tally,
            "matrix": matrix, "me": me}


def sse_frame(state_json: bytes) -> bytes:
    """One Server-Sent Event carrying the state (JSON has no raw newlines: one data line)."""
    return b"event: state\ndata: " + state_json + b"\n\n"


KEEP_ALIVE_FRAME = b": keep-alive\n\n"


# --- flood control -------------------------------------------------------------------------

class TokenBuckets:
    """Per key (a token, an address) at most `burst` requests at once, refilled at `per_second`.

    ``take(key)`` is 0 when allowed, else the whole seconds to wait. Full buckets are
    forgotten when the table grows past `max_keys`, so forged keys cannot fill memory.
    """

    def __init__(self, burst: float, per_second: float, max_keys: int = 50_000, clock=time.monotonic):
        self.burst, self.per_second, self.max_keys, self.clock = burst, per_second, max_keys, clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)

    def take(self, key: str) -> int:
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.per_second)
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / self.per_second))
        self._buckets[key] = (tokens - 1, now)
        if len(self._buckets) > self.max_keys:
            self._forget_full(now)
        return 0

    def _forget_full(self, now: float) -> None:
        for key, (tokens, at) in list(self._buckets.items()):
            if tokens + (now - at) * self.per_second >= self.burst:
                del self._buckets[key]


def too_many_requests(seconds: int) -> ProtocolError:
    return ProtocolError("too_many_requests", "too many requests; wait {seconds} seconds", seconds=seconds)
