"""Results of one assessment: radar of the principles, levels per step, advice, tables, gaps.

Everything derived from the answers (scores, tables, advice, chart specifications)
is built once per assessment, language and fingerprint of the answers and cached
(views/results_content.py); building Altair charts costs far more than drawing
them. A rerun with unchanged answers only reads the database and draws.
"""

from __future__ import annotations

import streamlit as st

from assessment.access import links
from assessment.access import permissions as p
from assessment.access.permissions import Resource, allowed
from assessment.i18n import markdown_literal, t
from assessment.scoring.scores import by_side
from assessment.store.assessments import Assessments
from assessment.store.responses import Responses
from views.access import (COORDINATOR_PARAM, INVITE_PARAM, KEY_PARAM, PERSONAL_PARAM, RESULTS_PARAM,
                          current_actor, held_assessment, require)
from views.common import find_assessment, framework, lang, lang_params, repository, stop_with
from views.results_content import content, fingerprint

L = lang()
fw = framework()
all_responses = repository(Responses)
assessments = repository(Assessments)
actor = current_actor()
SIDES = ("public", "civil_society")


def load_assessment():
    """The assessment a results or coordinator link (or, in a session allowed to, a key) names."""
    param = lambda name: (st.query_params.get(name) or "").strip()  # noqa: E731
    for name in (RESULTS_PARAM, COORDINATOR_PARAM):
        link = links.resolve(assessments, param(name)) if param(name) else None
        if param(name) and link is None:
            stop_with(t("results.error.unknown", L))
        if link is not None and link.assessment_id is not None:  # a unit's coordinator link names no assessment
            return assessments.assessment_by_id(link.assessment_id) or stop_with(t("results.error.unknown", L))
    if param(KEY_PARAM):
        return find_assessment(assessments, param(KEY_PARAM)) or stop_with(t("results.error.unknown", L))
    held = held_assessment(actor, "coordinates", "results")  # opened from the menu
    if held is not None and not (param(INVITE_PARAM) or param(PERSONAL_PARAM)):
        return assessments.assessment_by_id(held) or stop_with(t("results.error.unknown", L))
    if param(INVITE_PARAM) or param(PERSONAL_PARAM):  # a link to answer is not a link to the results
        stop_with(t("access.refused.view-results", L))
    stop_with(t("results.error.no_token", L))


# --- drawing -------------------------------------------------------------------------------

def table(ready: dict) -> None:
    if ready.get("static"):  # long texts: a plain table wraps them, a data grid cuts them off
        st.table(ready["data"], hide_index=True)
    else:
        st.dataframe(ready["data"], hide_index=True, width="stretch", column_config=ready["config"])


def image_download(column, spec_json: str, name: str, fmt: str) -> None:
    def render() -> bytes | str:
        import vl_convert as vlc  # only when the button is pressed

        return vlc.vegalite_to_png(spec_json, scale=2) if fmt == "png" else vlc.vegalite_to_svg(spec_json)

    column.download_button(f"{t(f'results.download.{name}', L)} ({fmt.upper()})", render,
                           file_name=f"{file_stem}-{name}.{fmt}",
                           mime="image/png" if fmt == "png" else "image/svg+xml", key=f"dl:{name}:{fmt}",
                           on_click="ignore", icon="🖼️")


# --- header ------------------------------------------------------------------------------

assessment = load_assessment()
here = Resource.of_assessment(assessment)
require(actor, p.VIEW_RESULTS, here)
started = all_responses.responses_for(assessment.token)
with_comments = allowed(actor, p.READ_COMMENTS, here)
if not with_comments:  # free text is the coordinator's to read: not in charts' data nor in downloads
    started = [r.model_copy(update={"comments": {}}) for r in started]
# Someone who opened the questionnaire but answered nothing is not a respondent (yet).
responses = [r for r in started if r.steps or r.ratings]
groups = by_side(responses)
case = f" – {markdown_literal(assessment.case)}" if assessment.case else ""
file_stem = "".join(c if c.isalnum() else "-" for c in f"{assessment.unit}-{assessment.year}").strip("-").lower()

st.title(t("results.title", L, unit=markdown_literal(assessment.unit), year=assessment.year, case=case))
counts = st.columns(3)
counts[0].metric(t("results.respondents", L), len(responses))
for column, side in zip(counts[1:], SIDES):
    column.metric(t(f"common.side.{side}", L), len(groups[side]))
if len(started) > len(responses):
    st.caption(t("results.not_started", L, count=len(started) - len(responses)))
if not responses:
    st.info(t("results.no_answers", L))
    st.stop()

compare = st.toggle(t("results.compare", L, year=assessment.year), key="results:compare",
                    help=t("results.compare.help", L))
band_responses = []
if compare:
    band_responses = [r for r in all_responses.responses_where(years=[assessment.year])
                      if (r.unit, r.case) != (assessment.unit, assessment.case) and (r.steps or r.ratings)]
page = content(fw, responses, band_responses, id(fw), assessment.token, L, tuple(assessment.extensions),
               fingerprint(responses), fingerprint(band_responses) if band_responses else "")

# --- principles --------------------------------------------------------------------------

st.subheader(t("results.radar", L))
radar_column, summary_column = st.columns([3, 2], gap="large")
with radar_column:
    st.vega_lite_chart(page["charts"]["radar"], theme=None, width="content")
    if compare:
        st.caption(t("results.compare.legend", L) if band_responses else t("results.compare.none", L))
with summary_column:
    st.markdown(page["summary"])
st.caption(t("results.scores.help", L, scale_min=fw.scale.min, scale_max=fw.scale.max))
table(page["scores"])

# --- decision steps ----------------------------------------------------------------------

st.subheader(t("results.heatmap", L))
st.caption(t("results.heatmap.help", L))
answered_sides = [side for side in SIDES if groups[side]]
tabs = st.tabs([t("results.everyone", L)] + [t(f"common.side.{side}", L) for side in answered_sides])
for tab, name in zip(tabs, ["heatmap"] + [f"heatmap:{side}" for side in answered_sides]):
    with tab:
        st.vega_lite_chart(page["charts"][name], theme=None, width="content")

st.subheader(t("results.advice", L))
advice_columns = st.columns(3, gap="medium")
for i, text in enumerate(page["advice"]):
    with advice_columns[i % 3].container(border=True):
        st.markdown(text)

# --- statements and gaps -----------------------------------------------------------------

st.subheader(t("results.statements", L))
with st.expander(t("results.statements.all", L, count=len(fw.statement_keys))):
    table(page["statements"])

st.subheader(t("results.gaps", L))
if page["gaps"] is not None:
    st.caption(t("results.gaps.help", L))
    table(page["gaps"])
else:
    st.info(t("results.gaps.one_side", L))

# --- downloads ---------------------------------------------------------------------------

st.subheader(t("results.downloads", L))
answers_column, radar_column, heatmap_column = st.columns(3)
answers_column.download_button(t("results.download.yaml", L), lambda: page["yaml"], file_name=f"{file_stem}-responses.yaml",
                               mime="application/yaml", key="dl:yaml", on_click="ignore", icon="📄")
answers_column.download_button(t("results.download.json", L), lambda: page["json"], file_name=f"{file_stem}-responses.json",
                               mime="application/json", key="dl:json", on_click="ignore", icon="📄")
for fmt in ("png", "svg"):
    image_download(radar_column, page["chart_json"]["radar"], "radar", fmt)
    image_download(heatmap_column, page["chart_json"]["heatmap"], "heatmap", fmt)
if with_comments:
    st.subheader(t("results.comments", L))
    st.caption(t("results.comments.help", L))
    rows = [{t("results.col.what", L): fw.step_by_id[key].name(L) if key in fw.step_by_id else
             fw.principle_by_id[key].name(L) if key in fw.principle_by_id else t("results.comments.general", L),
             t("results.col.side", L): t(f"common.side.{r.side}", L), t("results.comments", L): text}
            for r in responses for key, text in r.comments.items()]
    if rows:
        st.table(rows, hide_index=True)
    else:
        st.info(t("results.comments.none", L))
if allowed(actor, p.COORDINATE, here):
    st.caption(t("results.share", L))
    st.page_link("views/coordinate.py", label=t("nav.coordinate", L), icon="🔑",
                 query_params={KEY_PARAM: assessment.token, **lang_params()})
