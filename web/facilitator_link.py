"""The facilitator's secret leaves the address bar: ``?w=CODE&s=SECRET`` becomes a cookie.

Opening the facilitator link (``/facilitate?w=CODE&s=SECRET``) answers 303 to the same
address without ``s`` and sets ``ws_fac_CODE=SECRET`` for this browser session (no
Max-Age), so a projected screen or a reload never shows the secret; the page reads it
back from ``st.context.cookies``. HttpOnly keeps it from page scripts, SameSite=Strict
from other sites. A plain ASGI middleware: everything else, the phone's event streams
included, passes through untouched, never buffered.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode

from assessment.workshop.control import CODE_ALPHABET, CODE_LENGTH
from assessment.workshop.repository import normalize_code

COOKIE_PREFIX = "ws_fac_"
CODE_PARAM, SECRET_PARAM = "w", "s"
# Streamlit's own traffic, the phone path and static files never carry the facilitator link.
UNTOUCHED_PREFIXES = ("/_stcore", "/phone", "/media", "/static", "/app/static", "/component")
CODE_PATTERN = re.compile(f"[{CODE_ALPHABET}]{{{CODE_LENGTH}}}")
SECRET_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")  # secrets.token_urlsafe, with room to spare


def cookie_name(code: str) -> str:
    """The cookie that holds the secret of workshop `code` (already normalised)."""
    return f"{COOKIE_PREFIX}{code}"


def cookie_pair(code: str | None, secret: str | None) -> tuple[str, str] | None:
    """(cookie name, value) for a link's code and secret; None when either is malformed."""
    code, secret = normalize_code(code), (secret or "").strip()
    if CODE_PATTERN.fullmatch(code) and SECRET_PATTERN.fullmatch(secret):
        return cookie_name(code), secret
    return None


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return ""


def _is_https(scope) -> bool:
    forwarded = _header(scope, b"x-forwarded-proto").split(",")[0].strip().lower()
    return scope.get("scheme") == "https" or forwarded == "https"


def _page_path(scope) -> str:
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    return path[len(root):] if root and path.startswith(root) else path


def _link_in_page_request(scope) -> list[tuple[str, str]] | None:
    """The query of a page request that carries the facilitator link, else None."""
    if scope["type"] != "http" or scope.get("method") != "GET" or _page_path(scope).startswith(UNTOUCHED_PREFIXES):
        return None
    query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    keys = {key for key, _value in query}
    return query if CODE_PARAM in keys and SECRET_PARAM in keys else None


def _redirect_headers(scope, query: list[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    kept = [(key, value) for key, value in query if key != SECRET_PARAM]
    path = scope.get("raw_path") or scope.get("path", "/").encode()
    # One leading slash only: "//evil.example" would send the browser to another host.
    location = b"/" + path.lstrip(b"/\\") + (b"?" + urlencode(kept).encode() if kept else b"")
    headers = [(b"location", location), (b"content-length", b"0"), (b"cache-control", b"no-store"),
               (b"referrer-policy", b"no-referrer")]
    pair = cookie_pair(dict(query).get(CODE_PARAM), dict(query).get(SECRET_PARAM))
    if pair is not None:
        cookie = f"{pair[0]}={pair[1]}; HttpOnly; SameSite=Strict; Path=/"
        if _is_https(scope):
            cookie += "; Secure"
        headers.append((b"set-cookie", cookie.encode()))
    return headers


class FacilitatorLinkMiddleware:
    """ASGI middleware: the facilitator link's secret goes into a session cookie, out of the address."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        query = _link_in_page_request(scope)
        if query is None:
            await self.app(scope, receive, send)
            return
        # A malformed link still loses its secret from the address; it just sets no cookie.
        await send({"type": "http.response.start", "status": 303, "headers": _redirect_headers(scope, query)})
        await send({"type": "http.response.body", "body": b""})
