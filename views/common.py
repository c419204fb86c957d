"""Helpers shared by all pages: language, framework, database and repositories, links."""

from __future__ import annotations

from typing import TypeVar
from urllib.parse import parse_qs, urlsplit

import streamlit as st
from sqlalchemy.engine import Engine

from assessment.framework.matrix import Framework, get_framework
from assessment.framework.yamlsource import SourceError
from assessment.i18n import DEFAULT_LANG, LANGUAGE_NAMES, t
from assessment.store.assessments import Assessments
from assessment.store.engine import database_url
from assessment.store.migrations import open_database
from assessment.store.repository import Repository
from assessment.store.responses import Responses


def language_switch() -> str:
    """Swedish/English switch in the sidebar; remembered in the URL (?lang=en)."""
    current = st.query_params.get("lang", st.session_state.get("lang", DEFAULT_LANG))
    if current not in LANGUAGE_NAMES:
        current = DEFAULT_LANG
    choice = st.sidebar.radio("Språk / Language", list(LANGUAGE_NAMES), format_func=LANGUAGE_NAMES.get,
                              index=list(LANGUAGE_NAMES).index(current), horizontal=True, key="lang_switch")
    st.session_state["lang"] = choice
    if choice != DEFAULT_LANG:
        st.query_params["lang"] = choice
    elif "lang" in st.query_params:
        del st.query_params["lang"]
    return choice


def lang() -> str:
    return st.session_state.get("lang", DEFAULT_LANG)


def page_title(key: str, language: str) -> str:
    return t(key, language)


# --- framework and database -------------------------------------------------------------

def framework() -> Framework:
    """The framework (cached by file version in the core); a broken matrix stops the page politely."""
    try:
        return get_framework()
    except SourceError as exc:
        st.error(t("common.matrix_error", lang(), problems=str(exc)))
        st.stop()


RepositoryKind = TypeVar("RepositoryKind", bound=Repository)


@st.cache_resource(show_spinner=False)
def _repository(kind: type, url: str, framework_id: int, _framework: Framework):
    # One per kind and database for the whole server, all on the process's one engine
    # (connection pool). The framework lets it refuse answers that do not fit the matrix.
    return kind(open_database(url), _framework)


def repository(kind: type[RepositoryKind]) -> RepositoryKind:
    """The Assessments, Answers or Responses of the configured database (DATABASE_URL /
    ASSESSMENT_DB), made once."""
    fw = framework()
    try:
        return _repository(kind, database_url(), id(fw), fw)
    except ValueError as exc:  # a bad DATABASE_URL: say which and why, no traceback
        st.error(t("common.db_error", lang(), reason=str(exc)))
        st.stop()


def database() -> Engine:
    """The engine of the configured database, its schema current (for the regional core)."""
    try:
        return open_database(database_url())
    except ValueError as exc:
        st.error(t("common.db_error", lang(), reason=str(exc)))
        st.stop()


def find_response(responses: Responses, token: str):
    """The ResponseInfo for a personal token, or None when there is none."""
    try:
        return responses.get_response(token) if token else None
    except LookupError:
        return None


def find_assessment(assessments: Assessments, token: str):
    """The AssessmentInfo for a share token, or None when there is none."""
    try:
        return assessments.get_assessment(token) if token else None
    except LookupError:
        return None


# --- links -----------------------------------------------------------------------------

def app_url(path: str, **params: str) -> str:
    """Absolute link to a page of this app (relative when the server address is unknown).

    `path` is the page's url_path; the default page (home) lives at the root, path "".
    """
    query = "&".join(f"{key}={value}" for key, value in params.items() if value)
    base = ""
    try:
        current = st.context.url
    except Exception:  # not inside a browser session (AppTest, bare mode)
        current = None
    if current:
        parts = urlsplit(current)
        prefix = (st.get_option("server.baseUrlPath") or "").strip("/")
        base = f"{parts.scheme}://{parts.netloc}" + (f"/{prefix}" if prefix else "")
    return f"{base}/{path}" + (f"?{query}" if query else "")


def lang_params() -> dict[str, str]:
    """Query parameters that keep the chosen language when following a link."""
    return {"lang": lang()} if lang() != DEFAULT_LANG else {}


def stop_with(message: str) -> None:
    """Show one error and the way back home, and end the page run."""
    st.error(message)
    st.page_link("views/home.py", label=t("common.back_home", lang()), icon="🏠", query_params=lang_params())
    st.stop()


def token_from(text: str, param: str) -> str:
    """A token from a pasted link (…?r=TOKEN) or from the bare token itself."""
    text = (text or "").strip()
    if "?" in text or "=" in text:
        query = urlsplit(text).query or text.split("?", 1)[-1]
        values = parse_qs(query).get(param)
        return values[0].strip() if values else ""
    return text


def flash(message: str) -> None:
    """A message shown once on the next page drawn (survives st.switch_page)."""
    st.session_state["_flash"] = message


def show_flash() -> None:
    message = st.session_state.pop("_flash", None)
    if message:
        st.success(message)
