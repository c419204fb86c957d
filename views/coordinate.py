"""An assessment's coordinator: its links (invite, results, coordinator), made anew or revoked, its data.

Opened with the coordinator link (``?c=``) or, for the unit's coordinator or the
administrator, with the assessment's key (``?k=``). A new link is shown once, right
after it is made (only its digest is stored), and replaces the old one of its kind;
the list shows links by kind and date, never their tokens.
"""

from __future__ import annotations

import functools

import pandas as pd
import streamlit as st

from assessment.access import links
from assessment.access import permissions as p
from assessment.access.permissions import Resource, allowed
from assessment.access.writes import new_link, revoke_link
from assessment.exchange.export import export_csv, export_json
from assessment.i18n import markdown_literal, t
from assessment.store.assessments import Assessments
from views.access import COORDINATOR_PARAM, KEY_PARAM, current_actor, held_assessment, hold, require
from views.common import app_url, find_assessment, framework, lang, lang_params, repository, stop_with

L = lang()
fw = framework()
assessments = repository(Assessments)
actor = current_actor()
KINDS = (links.INVITE_LINK, links.RESULTS_LINK, links.COORDINATOR_LINK)
LINK_URL = {links.INVITE_LINK: ("", "a"), links.RESULTS_LINK: ("results", "v"),
            links.COORDINATOR_LINK: ("coordinate", COORDINATOR_PARAM)}


def load_assessment():
    token = (st.query_params.get(COORDINATOR_PARAM) or "").strip()
    key = (st.query_params.get(KEY_PARAM) or "").strip()
    link = links.resolve(assessments, token) if token else None
    if token and (link is None or link.kind != links.COORDINATOR_LINK):
        stop_with(t("access.refused.coordinate", L))
    if link is not None and link.assessment_id is not None:  # a unit's coordinator link names no assessment
        return assessments.assessment_by_id(link.assessment_id) or stop_with(t("access.refused.coordinate", L))
    if key:
        return find_assessment(assessments, key) or stop_with(t("results.error.unknown", L))
    held = held_assessment(actor, "coordinates")  # opened from the menu
    if held is not None:
        return assessments.assessment_by_id(held) or stop_with(t("access.refused.coordinate", L))
    stop_with(t("access.refused.coordinate", L))


def link_url(kind: str, token: str) -> str:
    path, param = LINK_URL[kind]
    return app_url(path, **{param: token}, **lang_params())


def make(kind: str) -> None:
    token = new_link(assessments, actor, kind, info)
    st.session_state[f"coord_new:{info.id}:{kind}"] = token
    if kind == links.COORDINATOR_LINK:  # the old one now opens nothing: this session keeps the new one
        hold(token)
        if COORDINATOR_PARAM in st.query_params:
            st.query_params[COORDINATOR_PARAM] = token


def revoke(link_id: int) -> None:
    revoke_link(assessments, actor, link_id, info)


info = load_assessment()
here = Resource.of_assessment(info)
require(actor, p.COORDINATE, here)

case = f" – {markdown_literal(info.case)}" if info.case else ""
st.title(t("coord.title", L, unit=markdown_literal(info.unit), year=info.year, case=case))
st.caption(t("coord.intro", L))
counts = assessments.response_counts(info.token)
columns = st.columns(3)
columns[0].metric(t("results.respondents", L), sum(counts.values()))
for column, side in zip(columns[1:], ("public", "civil_society")):
    column.metric(t(f"common.side.{side}", L), counts[side])
own = (st.query_params.get(COORDINATOR_PARAM) or "").strip()
st.page_link("views/results.py", label=t("q.to_results", L), icon="📊",
             query_params={**({COORDINATOR_PARAM: own} if own else {KEY_PARAM: info.token}), **lang_params()})

st.subheader(t("coord.links", L))
for kind in KINDS:
    with st.container(border=True):
        st.markdown(t(f"coord.link.{kind}", L))
        fresh = st.session_state.get(f"coord_new:{info.id}:{kind}")
        if fresh:
            st.code(link_url(kind, fresh), language=None)
            st.caption(t("coord.shown_once", L))
        st.button(t(f"coord.new.{kind}", L), key=f"coord_make_{kind}", on_click=make, args=(kind,))

listed = links.links_of(assessments, assessment_id=info.id)
active = [link for link in listed if link.active]
st.subheader(t("coord.all_links", L))
st.dataframe(pd.DataFrame([{
    t("coord.col.kind", L): t(f"coord.kind.{link.kind}", L),
    t("coord.col.made", L): link.created_at.strftime("%Y-%m-%d %H:%M"),
    t("coord.col.by", L): link.created_by,
    t("coord.col.state", L): t("coord.active", L) if link.active else
    t("coord.revoked", L, when=link.revoked_at.strftime("%Y-%m-%d %H:%M")),
} for link in listed]), hide_index=True, width="stretch")
if active:
    left, right = st.columns([3, 1])
    chosen = left.selectbox(t("coord.revoke_which", L), [link.id for link in active], key="coord_revoke_choice",
                            format_func=lambda i: next(f"{t(f'coord.kind.{k.kind}', L)}, "
                                                       f"{k.created_at:%Y-%m-%d %H:%M}" for k in active if k.id == i))
    right.button(t("coord.revoke", L), key="coord_revoke", on_click=revoke, args=(chosen,), type="primary")

if allowed(actor, p.EXPORT_DATA, here):
    st.subheader(t("coord.export", L))
    st.caption(t("reg.data.personal_note", L))
    stem = "".join(c if c.isalnum() else "_" for c in f"{info.unit}_{info.year}").strip("_")
    left, right, _ = st.columns([1, 1, 3])
    left.download_button("JSON", functools.partial(export_json, assessments, fw, assessment=info.token),
                         file_name=f"{stem}.json", mime="application/json", key="coord_json", on_click="ignore")
    right.download_button("CSV", functools.partial(export_csv, assessments, fw, assessment=info.token),
                          file_name=f"{stem}.csv", mime="text/csv", key="coord_csv", on_click="ignore")
