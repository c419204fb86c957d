"""The light phone page: one static HTML file with its interface texts, plus its script and styles.

GET /phone answers web/static/phone.html with the texts of the chosen language (``?lang=``,
else Swedish) and the tally bars' styles, vote colours and icons of the presenter screen put
into it, so the page needs no second request before it can draw the join form. The page itself talks to
/phone/api/* (web/phone_api.py).
"""

from __future__ import annotations

import html
import json
from functools import lru_cache
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from assessment.i18n import DEFAULT_LANG, all_keys, t
from assessment.workshop.tallies import GROUPS, ROLES, SIDES, VOTE_VALUES
from assessment.workshop.views_support import (GROUP_ICONS, TALLY_CSS, TEXT_ON, VOTE_COLOURS, VOTE_GLYPHS,
                                               VOTE_ICONS)

STATIC = Path(__file__).resolve().parent / "static"
LANGS = ("sv", "en")
ASSETS = {"phone.js": "text/javascript; charset=utf-8", "phone.css": "text/css; charset=utf-8"}
NO_CACHE = {"Cache-Control": "no-cache"}  # revalidate: a new release reaches every phone at once
# The texts the page uses: its own, the phone texts of the old page, and the shared workshop words.
TEXT_PREFIXES = ("phone.page.", "ws.join.", "ws.vote.", "ws.group.", "ws.tally.", "workshop.side.", "workshop.role.")
TEXT_KEYS = ("ws.fac.position", "ws.matrix.none", "workshop.error.ended", "nav.join")


def page_language(request: Request) -> str:
    lang = request.query_params.get("lang", "")
    return lang if lang in LANGS else DEFAULT_LANG


def page_texts(lang: str) -> dict[str, str]:
    keys = sorted(k for k in all_keys() if k.startswith(TEXT_PREFIXES) or k in TEXT_KEYS)
    return {key: t(key, lang) for key in keys}


def page_look() -> dict:
    """Icons and the order of sides, roles, votes and groups, as the Streamlit pages have them."""
    return {"vote_icons": VOTE_ICONS, "vote_glyphs": VOTE_GLYPHS, "group_icons": GROUP_ICONS,
            "votes": list(VOTE_VALUES), "groups": list(GROUPS), "sides": list(SIDES),
            "roles": {side: list(roles) for side, roles in ROLES.items()}}


def colour_css() -> str:
    """The vote colours of views_support as CSS variables: one source for phone and presenter screen."""
    rules = [f"--vote-{value}: {VOTE_COLOURS[value]}; --on-{value}: {TEXT_ON[value]};" for value in VOTE_VALUES]
    return ":root { " + " ".join(rules) + " }"


def script_json(data: dict) -> str:
    # Inside <script>: "</script>" or "<!--" in a text must not end the element.
    return json.dumps(data, ensure_ascii=False).replace("<", "\\u003c")


@lru_cache(maxsize=len(LANGS))
def page_html(lang: str) -> str:
    template = (STATIC / "phone.html").read_text(encoding="utf-8")
    texts = page_texts(lang)
    payload = {"lang": lang, "texts": texts, "look": page_look()}
    return (template.replace("{{lang}}", lang)
            .replace("{{title}}", html.escape(texts["ws.join.title"]))
            .replace("{{no_script}}", html.escape(texts["phone.page.no_script"]))
            .replace("{{tally_css}}", TALLY_CSS.strip())
            .replace("/*{{colours}}*/", colour_css())
            .replace("{{texts}}", script_json(payload)))


async def phone_page(request: Request) -> Response:
    return HTMLResponse(page_html(page_language(request)), headers=NO_CACHE)


async def phone_asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in ASSETS:  # only the two files: no path ever reaches the file system
        return PlainTextResponse("not found", status_code=404)
    return FileResponse(STATIC / name, media_type=ASSETS[name], headers=NO_CACHE)


def page_routes() -> list[BaseRoute]:
    return [Route("/phone", phone_page, methods=["GET", "HEAD"]),
            Route("/phone/static/{name}", phone_asset, methods=["GET", "HEAD"])]
