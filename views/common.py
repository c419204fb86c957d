"""Helpers shared by all pages: language, framework, store."""

from __future__ import annotations

import streamlit as st

from assessment.i18n import DEFAULT_LANG, LANGUAGE_NAMES, t


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
