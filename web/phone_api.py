"""The phone protocol's endpoints (JSON over HTTP, live state as Server-Sent Events).

Thin by design: reading and deciding live in assessment.workshop.phone_protocol, the
votes' group commit in vote_queue, the live state in feed. Store calls run in the thread
pool so the event loop keeps serving thousands of open streams. Every answer that is not
a success is the protocol's JSON error body, unexpected failures included (logged here).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import AsyncIterator, Awaitable, Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from assessment.store.engine import database_url
from assessment.store.migrations import open_database
from assessment.workshop import phone_protocol as protocol
from assessment.workshop.errors import UnknownWorkshop, WorkshopError
from assessment.workshop.feed import WorkshopFeed
from assessment.workshop.repository import normalize_code
from assessment.workshop.vote_queue import VoteQueue
from assessment.workshop.voting import WorkshopVoting

API = "/phone/api"
ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
KEEP_ALIVE_S = 15.0
# Reconnect quickly after a dropped connection (EventSource's default is a few seconds).
SSE_RETRY = b"retry: 1000\n\n"
JOINS_PER_MINUTE_ENV = "ASSESSMENT_PHONE_JOINS_PER_MINUTE"
# A cinema's phones may share one address (one Wi-Fi, one NAT): generous per address.
JOINS_PER_MINUTE = 600
WRITES_BURST, WRITES_PER_SECOND = 20, 2.0  # per token: about 20 votes or placements in 10 s

SERVER_ERROR_BODY = protocol.error_body("server_error", "Server error. / Serverfel.")

log = logging.getLogger(__name__)
Handler = Callable[[Request, "str | None"], Awaitable[Response]]


@dataclass
class Services:
    """One per process: the store, the votes' writer, the live feed."""

    voting: WorkshopVoting
    votes: VoteQueue
    feed: WorkshopFeed


_services: Services | None = None
_services_lock = threading.Lock()


def _open_services() -> Services:
    global _services
    with _services_lock:
        if _services is None:
            voting = WorkshopVoting(open_database(database_url()))
            voting.fw  # load the framework now, not inside the event loop later
            _services = Services(voting, VoteQueue(voting), WorkshopFeed(voting))
        return _services


async def services() -> Services:
    return _services or await run_in_threadpool(_open_services)


def _joins_per_minute() -> float:
    raw = os.environ.get(JOINS_PER_MINUTE_ENV, "").strip()
    try:
        value = float(raw) if raw else JOINS_PER_MINUTE
    except ValueError:
        raise ValueError(f"{JOINS_PER_MINUTE_ENV}={raw!r} is not a number of joins per minute") from None
    if value <= 0:
        raise ValueError(f"{JOINS_PER_MINUTE_ENV}={raw!r} must be above 0")
    return value


_JOINS_PER_MINUTE = _joins_per_minute()
_joins = protocol.TokenBuckets(burst=_JOINS_PER_MINUTE, per_second=_JOINS_PER_MINUTE / 60)
_writes = protocol.TokenBuckets(burst=WRITES_BURST, per_second=WRITES_PER_SECOND)


def _limit(buckets: protocol.TokenBuckets, key: str) -> None:
    wait_s = buckets.take(key)
    if wait_s:
        raise protocol.too_many_requests(wait_s)


def json_response(data: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(protocol.dumps(data), status, headers={"Cache-Control": "no-store", **(headers or {})},
                    media_type="application/json")


def error_response(err: BaseException, lang: str | None, headers: dict[str, str] | None = None) -> Response:
    status, code, message = protocol.error_parts(err, lang)
    if code == "too_many_requests":
        headers = {**(headers or {}), "Retry-After": str(err.values["seconds"])}
    return Response(protocol.error_body(code, message), status, media_type="application/json",
                    headers={"Cache-Control": "no-store", **(headers or {})})


async def read_body(request: Request) -> bytes:
    """The JSON body, never more than MAX_BODY_BYTES read into memory."""
    protocol.check_content_type(request.headers.get("content-type"))
    protocol.check_length(request.headers.get("content-length"))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > protocol.MAX_BODY_BYTES:
            raise protocol.too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def api_route(path: str, handler: Handler, methods: tuple[str, ...]) -> Route:
    """A route answering every method: the wrong ones get 405 with Allow, in JSON like any error."""
    allowed = ", ".join(methods)

    async def endpoint(request: Request) -> Response:
        lang = None
        try:
            lang = protocol.parse_lang(request.query_params.get("lang"))
            if request.method not in methods:
                return error_response(protocol.ProtocolError(
                    "method_not_allowed", "the method {method} does not work here; use {allowed}",
                    method=request.method, allowed=allowed), lang, {"Allow": allowed})
            return await handler(request, lang)
        except Exception as exc:
            if not isinstance(exc, WorkshopError):
                log.exception("%s %s failed", request.method, request.url.path)
            try:
                return error_response(exc, lang)
            except Exception:  # even then: the JSON error body, never a traceback
                log.exception("answering %s %s with an error failed", request.method, request.url.path)
                return Response(SERVER_ERROR_BODY, 500, media_type="application/json")

    return Route(path, endpoint, methods=ALL_METHODS)


# --- endpoints -----------------------------------------------------------------------------

async def join(request: Request, lang: str | None) -> Response:
    _limit(_joins, request.client.host if request.client else "")
    code, side, role = protocol.parse_join(await read_body(request))
    found = await services()
    token = await run_in_threadpool(found.voting.join, code, side, role)
    return json_response({"token": token, "code": normalize_code(code)}, 201)


async def state(request: Request, lang: str | None) -> Response:
    token = protocol.bearer_token(request.headers.get("authorization"), required=False)
    found = await services()
    view = await run_in_threadpool(found.voting.state, request.query_params.get("code"), token)
    return json_response(protocol.state_dict(view, found.voting.fw, lang))


async def events(request: Request, lang: str | None) -> Response:
    code = request.query_params.get("code") or ""
    if not normalize_code(code):
        raise UnknownWorkshop(code="''")
    found = await services()
    listening = found.feed.listen(code, lang)
    stream = await listening.__aenter__()  # an unknown code raises here, before the stream starts

    async def frames():
        yield SSE_RETRY + stream.current()
        while True:
            frame = await stream.next(KEEP_ALIVE_S)
            if stream.closed:  # the server is stopping; the phone reconnects to the next one
                return
            yield protocol.KEEP_ALIVE_FRAME if frame is None else frame

    return EventStream(listening, frames())


class EventStream(StreamingResponse):
    """Server-Sent Events that stop listening however the response ends: also when the phone
    leaves before the first frame (a generator's own `finally` would never run then)."""

    def __init__(self, listening, frames):
        super().__init__(frames, media_type="text/event-stream",
                         headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self._listening = listening

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._listening.__aexit__(None, None, None)


async def vote(request: Request, lang: str | None) -> Response:
    token = protocol.bearer_token(request.headers.get("authorization"))
    _limit(_writes, token)
    card_id, value = protocol.parse_vote(await read_body(request))
    found = await services()
    await found.votes.submit(token, card_id, value)
    return json_response({"card_id": card_id, "value": value, "saved": True})


async def place(request: Request, lang: str | None) -> Response:
    token = protocol.bearer_token(request.headers.get("authorization"))
    _limit(_writes, token)
    step_id, level_id = protocol.parse_place(await read_body(request))
    found = await services()
    await run_in_threadpool(found.voting.place, token, step_id, level_id)
    return json_response({"step_id": step_id, "level_id": level_id, "saved": True})


async def not_found(request: Request, lang: str | None) -> Response:
    raise protocol.ProtocolError("not_found", "there is no address {path}", path=request.url.path[:200])


# --- the server's start and stop ----------------------------------------------------------

def _end_streams_on_exit_signals(loop: asyncio.AbstractEventLoop) -> None:
    """Chain onto the server's SIGINT/SIGTERM handlers: end the event streams at once, or the
    server would wait for them (they never finish by themselves) before stopping."""
    if threading.current_thread() is not threading.main_thread():
        return
    for number in (signal.SIGINT, signal.SIGTERM):
        previous = signal.getsignal(number)
        if not callable(previous):
            continue

        def on_exit(signum, frame, previous=previous):
            if _services is not None:
                loop.call_soon_threadsafe(_services.feed.close)
            previous(signum, frame)

        signal.signal(number, on_exit)


@asynccontextmanager
async def lifespan(_app) -> AsyncIterator[None]:
    """For st.App: streams end when the server is asked to stop; waiting votes still commit."""
    _end_streams_on_exit_signals(asyncio.get_running_loop())
    yield None
    if _services is not None:
        _services.feed.close()
        await run_in_threadpool(_services.votes.stop)


def api_routes() -> list[Route]:
    return [
        api_route(f"{API}/join", join, ("POST",)),
        api_route(f"{API}/state", state, ("GET", "HEAD")),
        api_route(f"{API}/events", events, ("GET",)),
        api_route(f"{API}/vote", vote, ("POST",)),
        api_route(f"{API}/place", place, ("POST",)),
        api_route(API + "/{rest:path}", not_found, tuple(ALL_METHODS)),
    ]
