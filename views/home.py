"""Home: what the tool is; start, continue or join an assessment; the assessments so far."""

from __future__ import annotations

import datetime

import pandas as pd
import streamlit as st

from assessment.access import links
from assessment.access import permissions as p
from assessment.access.permissions import Resource, allowed
from assessment.access.writes import Refused, start_assessment
from assessment.i18n import t
from assessment.regional.demo import DEMO_UNITS
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments
from assessment.store.responses import Responses
from views.access import KEY_PARAM, current_actor, hold
from views.common import find_response, flash, framework, lang, lang_params, repository, show_flash, token_from

SIDES = ("public", "civil_society")
KINDS = ("municipality", "region", "organisation")
DEMO_NAMES = {unit.name for unit in DEMO_UNITS}

L = lang()
fw = framework()
assessments = repository(Assessments)
answers = repository(Answers)
responses = repository(Responses)
actor = current_actor()


def go_to_questionnaire(response_token: str) -> None:
    st.switch_page("views/questionnaire.py", query_params={"r": response_token, **lang_params()})


def side_radio(key: str) -> str | None:
    return st.radio(t("home.side", L), SIDES, index=None, key=key, horizontal=True,
                    format_func=lambda side: t(f"common.side.{side}", L))


def describe(info) -> str:
    case = f" – {info.case}" if info.case else ""
    return f"{info.unit}, {info.year}{case}"


# --- invitation: ?a=<assessment token> ---------------------------------------------------

def join_section(invite_token: str) -> None:
    link = links.resolve(assessments, invite_token)
    info = assessments.assessment_by_id(link.assessment_id) if link and link.kind == links.INVITE_LINK else None
    if info is None or not allowed(actor, p.JOIN_ASSESSMENT, Resource.of_assessment(info)):
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
            response_token = answers.start_response(info.token, side, role.strip())
            hold(response_token, personal=True)
            go_to_questionnaire(response_token)


# --- start a new assessment --------------------------------------------------------------

def start_section() -> None:
    st.markdown(t("home.start.help", L))
    # Only the units this visitor coordinates are offered: nobody learns the others' names here.
    units = [unit.name for unit in assessments.list_units() if allowed(actor, p.COORDINATE, Resource(unit=unit.name))]
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
    try:
        started = start_assessment(assessments, answers, actor, name, int(year), case.strip() or None, kind,
                                   extensions, side, role.strip())
    except Refused as exc:
        st.error(t(exc.key, L, **exc.values))
        return
    except ValueError as exc:  # the repositories' own checks, e.g. a case name that is too long
        st.error(t("home.error.store", L, reason=str(exc)))
        return
    if started.joined_existing:
        # A coordinator who starts "the same" assessment again answers it with the others.
        flash(t("home.start.joined_existing", L, assessment=describe(started.assessment)))
    else:
        hold(started.coordinator_token)
        hold(started.invite_token)
        flash(t("home.start.coordinator", L, assessment=describe(started.assessment)))
    hold(started.response_token, personal=True)
    go_to_questionnaire(started.response_token)


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

def visible_assessments() -> list:
    """The assessments whose results this visitor may see (none for an anonymous visitor)."""
    if not allowed(actor, p.VIEW_RESULTS):
        return []
    return [info for info in assessments.list_assessments()
            if allowed(actor, p.VIEW_RESULTS, Resource.of_assessment(info))]


def list_section(found: list) -> None:
    rows = [{
        "unit": info.unit, "year": info.year, "case": info.case or "",
        "kind": t(f"home.kind.{info.kind}", L) if info.kind in KINDS else info.kind,
        "data": t("home.list.demo", L) if info.unit in DEMO_NAMES else "",
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
    })
    # Opened within this session (a new tab would not carry an administrator's session).
    by_key = {info.token: info for info in found}
    chosen = st.selectbox(t("home.list.choose", L), list(by_key), key="list_choice",
                          format_func=lambda key: describe(by_key[key]))
    left, right, _ = st.columns([1, 1, 3])
    if left.button(t("home.list.results", L), key="list_results", icon="📊"):
        st.switch_page("views/results.py", query_params={KEY_PARAM: chosen, **lang_params()})
    if allowed(actor, p.COORDINATE, Resource.of_assessment(by_key[chosen])) and \
            right.button(t("nav.coordinate", L), key="list_coordinate", icon="🔑"):
        st.switch_page("views/coordinate.py", query_params={KEY_PARAM: chosen, **lang_params()})


st.title(t("home.title", L))
show_flash()
st.markdown(t("home.intro", L))
with st.expander(t("home.frameworks.title", L)):
    st.markdown(t("home.frameworks", L))

invite = st.query_params.get("a")
if invite:
    join_section(invite)

visible = visible_assessments()
tabs = st.tabs([t("home.tab.start", L), t("home.tab.continue", L)] + ([t("home.tab.list", L)] if visible else []))
with tabs[0]:
    start_section()
with tabs[1]:
    continue_section()
if visible:
    with tabs[2]:
        list_section(visible)
