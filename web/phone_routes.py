"""Every route serve.py adds to the Streamlit server: the phone page and its API."""

from __future__ import annotations

from starlette.routing import BaseRoute

from web.phone_api import api_routes
from web.phone_page import page_routes


def routes() -> list[BaseRoute]:
    return [*api_routes(), *page_routes()]
