"""Helpers shared by the two live workshop pages: the repositories, errors, links, styles."""

from __future__ import annotations

import os
from typing import TypeVar

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from assessment.i18n import t
from assessment.store.engine import database_url
from assessment.store.migrations import open_database
from assessment.workshop.errors import WorkshopError
from assessment.workshop.repository import WorkshopRepository
from assessment.workshop.views_support import PUBLIC_URL_ENV, TALLY_CSS, public_base_url
from views.common import lang

RepositoryKind = TypeVar("RepositoryKind", bound=WorkshopRepository)


@st.cache_resource(show_spinner=False)
def _workshop_repository(kind: type, url: str):
    # One per kind and database for the whole server, on one engine (pool): 200 phones poll it
    # every second. WorkshopVoting also keeps its prepared statements between reruns.
    return kind(open_database(url))


def workshop_repository(kind: type[RepositoryKind]) -> RepositoryKind:
    """WorkshopControl, WorkshopVoting or WorkshopResults on the configured database."""
    try:
        return _workshop_repository(kind, database_url())
    except (ValueError, SQLAlchemyError) as exc:  # bad DATABASE_URL or unreachable server
        st.error(t("common.db_error", lang(), reason=str(exc)))
        st.stop()


def error_text(exc: Exception, language: str) -> str:
    """One human sentence for a refusal from the workshop repositories or a database failure."""
    if isinstance(exc, WorkshopError):
        try:
            return t(exc.key, language, **exc.values)
        except (KeyError, IndexError):
            return str(exc)
    return t("ws.error.db", language, reason=type(exc).__name__)


RECOVERABLE = (WorkshopError, SQLAlchemyError)


def base_url() -> str:
    """Address for the join link: ASSESSMENT_PUBLIC_URL, else the Host the facilitator used."""
    try:
        headers = st.context.headers
        host, scheme = headers.get("Host"), headers.get("X-Forwarded-Proto")
    except Exception:  # no browser session (bare mode)
        host = scheme = None
    prefix = st.get_option("server.baseUrlPath") or ""
    if not host:
        port = st.get_option("server.port") or 8501
        host = f"localhost:{port}"
    try:
        return public_base_url(os.environ.get(PUBLIC_URL_ENV), host, scheme, prefix)
    except ValueError as exc:
        st.warning(t("ws.error.public_url", lang(), reason=str(exc)))
        return public_base_url(None, host, scheme, prefix)


def inject_css(extra: str = "") -> None:
    st.html(TALLY_CSS + (f"<style>{extra}</style>" if extra else ""))
