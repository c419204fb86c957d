"""Home: what the tool is; start, continue or join an assessment; the assessments so far."""

from __future__ import annotations

import datetime

import pandas as pd
import streamlit as st

from assessment.i18n import t
from assessment.regional.demo import DEMO_UNITS
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments
from assessment.store.responses import Responses
from views.common import (app_url, find_assessment, find_response, flash, framework, lang, lang_params, repository,
                          show_flash, token_from)

SIDES = ("public", "civil_society")
KINDS = ("municipality", "region", "organisation")
DEMO_NAMES = {unit.name for unit in DEMO_UNITS}

L = lang()
fw = framework()
assessments = repository(Assessments)
answers = repository(Answers)
responses = repository(Responses)


def go_to_questionnaire(response_token: str) -> None:
    st.switch_page("views/questionnaire.py", query_params={"r": response_token, **lang_params()})


def side_radio(key: str) -> str | None:
    return st.radio(t("home.side", L), SIDES, index=None, key=key, horizontal=True,
                    format_func=lambda side: t(f"common.side.{side}", L))


def describe(info) -> str:
    case = f" – {info.case}" if info.case else ""
    return f"{info.unit}, {info.year}{case}"


# --- invitation: ?a=<assessment token> ---------------------------------------------------

def join_section(assessment_token: str) -> None:
    info = find_assessment(assessments, assessment_token)
    if info is None:
        st.error(t("home.join.unknown", L))
        return
    with st.container(border=True):
        st.subheader(t("home.join.title", L, assessment=describe(info)))
        st.markdown(t("home.join.help", L))
        with st.form("join"):
            side = side_radio("join_side")
            role = st.text_input(t("home.role", L), key="join_role", placeholder=t("home.role.placeholder", L))
            submitted = st.form_submit_button(t("home.join.submit", L), type="primary")
        if submitted:
            if side is None:
                st.error(t("home.error.side", L))
                return
            go_to_questionnaire(answers.start_response(info.token, side, role.strip()))


# --- start a new assessment --------------------------------------------------------------

def start_section() -> None:
    st.markdown(t("home.start.help", L))
    units = [unit.name for unit in assessments.list_units()]
    with st.form("start"):
        unit = st.selectbox(t("home.unit", L), sorted(units), index=None, accept_new_options=True,
                            placeholder=t("home.unit.placeholder", L), key="start_unit")
        left, right = st.columns(2)
        kind = left.radio(t("home.kind", L), KINDS, key="start_kind", horizontal=True,
                          format_func=lambda k: t(f"home.kind.{k}", L))
        year = right.number_input(t("home.year", L), min_value=1900, max_value=2200, step=1,
                                  value=datetime.date.today().year, key="start_year")
        case = st.text_input(t("home.case", L), key="start_case", placeholder=t("home.case.placeholder", L))
        extensions = [level.id for level in fw.optional_levels
                      if st.checkbox(t("home.extension", L, level=level.name(L)), key=f"start_ext_{level.id}",
                                     help=level.description(L))]
        side = side_radio("start_side")
        role = st.text_input(t("home.role", L), key="start_role", placeholder=t("home.role.placeholder", L))
        submitted = st.form_submit_button(t("home.start.submit", L), type="primary")
    if not submitted:
        return
    # Check everything before writing anything.
    name = (unit or "").strip()
    if not name:
        st.error(t("home.error.unit", L))
        return
    if len(name) > 200:
        st.error(t("home.error.unit_long", L))
        return
    if year is None or not 1900 <= int(year) <= 2200:
        st.error(t("home.error.year", L))
        return
    if side is None:
        st.error(t("home.error.side", L))
        return
    case_text = case.strip() or None
    try:
        existing = assessments.find_assessment(name, int(year), case_text)
        if existing is None:
            assessments.ensure_unit(name, kind=kind)
            existing = assessments.create_assessment(name, int(year), case_text, extensions)
        else:
            # Colleagues who start "the same" assessment end up answering it together.
            flash(t("home.start.joined_existing", L, assessment=describe(existing)))
        response_token = answers.start_response(existing.token, side, role.strip())
    except ValueError as exc:  # the repositories' own checks, e.g. a case name that is too long
        st.error(t("home.error.store", L, reason=str(exc)))
        return
    go_to_questionnaire(response_token)


# --- continue with a personal link -------------------------------------------------------

def continue_section() -> None:
    st.markdown(t("home.continue.help", L))
    with st.form("continue"):
        pasted = st.text_input(t("home.continue.link", L), key="continue_link",
                               placeholder=t("home.continue.placeholder", L))
        submitted = st.form_submit_button(t("home.continue.submit", L), type="primary")
    if not submitted:
        return
    if "a=" in pasted and "r=" not in pasted:  # a colleague's share link: join instead
        st.switch_page("views/home.py", query_params={"a": token_from(pasted, "a"), **lang_params()})
    token = token_from(pasted, "r")
    if not token:
        st.error(t("home.error.link_empty", L))
    elif find_response(responses, token) is None:
        st.error(t("home.error.link_unknown", L))
    else:
        go_to_questionnaire(token)


# --- the assessments so far --------------------------------------------------------------

def list_section() -> None:
    found = assessments.list_assessments()
    if not found:
        st.info(t("home.list.empty", L))
        return
    rows = [{
        "unit": info.unit, "year": info.year, "case": info.case or "",
        "kind": t(f"home.kind.{info.kind}", L) if info.kind in KINDS else info.kind,
        "data": t("home.list.demo", L) if info.unit in DEMO_NAMES else "",
        "results": app_url("results", a=info.token, **lang_params()),
    } for info in found]
    frame = pd.DataFrame(rows).sort_values(["data", "year", "unit"], ascending=[True, False, True])
    if frame["data"].any():
        st.caption(t("home.list.demo_note", L))
    st.dataframe(frame, hide_index=True, width="stretch", column_config={
        "unit": st.column_config.TextColumn(t("home.unit", L)),
        "year": st.column_config.NumberColumn(t("home.year", L), format="%d"),
        "case": st.column_config.TextColumn(t("home.case.short", L)),
        "kind": st.column_config.TextColumn(t("home.kind", L)),
        "data": st.column_config.TextColumn(t("home.list.data", L)),
        "results": st.column_config.LinkColumn(t("home.list.results", L), display_text=t("home.list.open", L)),
    })


st.title(t("home.title", L))
show_flash()
st.markdown(t("home.intro", L))
with st.expander(t("home.frameworks.title", L)):
    st.markdown(t("home.frameworks", L))

invite = st.query_params.get("a")
if invite:
    join_section(invite)

tab_start, tab_continue, tab_list = st.tabs([t("home.tab.start", L), t("home.tab.continue", L),
                                             t("home.tab.list", L)])
with tab_start:
    start_section()
with tab_continue:
    continue_section()
with tab_list:
    list_section()
