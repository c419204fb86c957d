"""Results of one assessment: radar of the principles, levels per step, advice, tables, gaps.

Building Altair charts costs far more than drawing them, so chart specifications
are cached per assessment, language and a fingerprint of the answers: a rerun
with unchanged answers only reads the database and draws.
"""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import streamlit as st

from assessment import charts
from assessment.gaps import gap_table
from assessment.i18n import t
from assessment.responses import NO_LEVEL, dump_response, response_to_dict
from assessment.scoring import advice, by_side, principle_scores, statement_scores, step_levels
from views.common import app_url, find_assessment, find_response, framework, get_store, lang, lang_params

L = lang()
fw = framework()
store = get_store()
SIDES = ("public", "civil_society")


def stop_with(message: str) -> None:
    st.error(message)
    st.page_link("views/home.py", label=t("common.back_home", L), icon="🏠", query_params=lang_params())
    st.stop()


def load_assessment():
    a_token = (st.query_params.get("a") or "").strip()
    r_token = (st.query_params.get("r") or "").strip()
    if a_token:
        return find_assessment(store, a_token) or stop_with(t("results.error.unknown", L))
    if r_token:
        info = find_response(store, r_token)
        return info.assessment if info else stop_with(t("results.error.unknown", L))
    stop_with(t("results.error.no_token", L))


def fingerprint(responses) -> str:
    text = json.dumps([response_to_dict(r) for r in responses], sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()


def series_name(side: str | None, count: int) -> str:
    label = t(f"common.side.{side}", L) if side else t("results.everyone", L)
    return f"{label} ({count})"


@st.cache_data(show_spinner=False, max_entries=200)
def chart_specs(_responses, _band_responses, token: str, language: str, extensions: tuple[str, ...],
                answers: str, band_answers: str) -> dict[str, dict]:
    """Vega-Lite specs of the radar and the heatmaps (keyed by the fingerprints, not the objects)."""
    groups = by_side(_responses)
    series = {series_name(None, len(_responses)): principle_scores(fw, _responses)}
    if all(groups[side] for side in SIDES):
        for side in SIDES:
            series[series_name(side, len(groups[side]))] = principle_scores(fw, groups[side])
    band = None
    if _band_responses:
        by_unit: dict[tuple, list] = {}
        for response in _band_responses:
            by_unit.setdefault((response.unit, response.year, response.case), []).append(response)
        band = charts.quartile_band(fw, [principle_scores(fw, rs) for rs in by_unit.values()])
    specs = {"radar": charts.radar_chart(fw, series, language, band=band).to_dict()}
    specs["heatmap"] = charts.level_heatmap(fw, step_levels(fw, _responses), language, extensions).to_dict()
    for side in SIDES:
        if groups[side]:
            specs[f"heatmap:{side}"] = charts.level_heatmap(fw, step_levels(fw, groups[side]), language,
                                                            extensions).to_dict()
    return specs


def summary(scores, side_scores) -> str:
    """A few sentences beside the radar: strongest and weakest principle, largest difference."""
    name = {p.id: p.name(L) for p in fw.principles}
    scored = [s for s in scores if s.score is not None]
    if not scored:
        return t("results.summary.none", L)
    best, worst = max(scored, key=lambda s: s.score), min(scored, key=lambda s: s.score)
    lines = [t("results.summary.best", L, principle=name[best.principle_id], score=f"{best.score:.0f}"),
             t("results.summary.worst", L, principle=name[worst.principle_id], score=f"{worst.score:.0f}")]
    pairs = [(p.principle_id, p.score - c.score) for p, c in zip(side_scores["public"], side_scores["civil_society"])
             if p.score is not None and c.score is not None]
    principle_id, difference = max(pairs, key=lambda pair: abs(pair[1])) if pairs else ("", 0.0)
    if abs(difference) >= 1:
        key = "results.summary.gap_public" if difference >= 0 else "results.summary.gap_civil"
        lines.append(t(key, L, principle=name[principle_id], points=f"{abs(difference):.0f}"))
    return "\n".join(f"- {line}" for line in lines)


def table(rows: list[dict], wide: str, width: str = "large", signed: str | None = None) -> None:
    """A read-only table: the `wide` text column gets the room, scores show as whole numbers."""
    frame = pd.DataFrame(rows)
    config = {}
    for name in frame.columns:
        if name == wide:
            config[name] = st.column_config.TextColumn(width=width)
        elif pd.api.types.is_numeric_dtype(frame[name]) or frame[name].isna().all():
            config[name] = st.column_config.NumberColumn(format="%+.0f" if name == signed else "%.0f",
                                                         width="small")
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config)


def image_download(column, spec: dict, name: str, fmt: str) -> None:
    def render() -> bytes | str:
        import vl_convert as vlc  # only when the button is pressed

        text = json.dumps(spec)
        return vlc.vegalite_to_png(text, scale=2) if fmt == "png" else vlc.vegalite_to_svg(text)

    column.download_button(f"{t(f'results.download.{name}', L)} ({fmt.upper()})", render,
                           file_name=f"{file_stem}-{name}.{fmt}",
                           mime="image/png" if fmt == "png" else "image/svg+xml", key=f"dl:{name}:{fmt}",
                           on_click="ignore", icon="🖼️")


# --- header ------------------------------------------------------------------------------

assessment = load_assessment()
started = store.responses_for(assessment.token)
# Someone who opened the questionnaire but answered nothing is not a respondent (yet).
responses = [r for r in started if r.steps or r.ratings]
groups = by_side(responses)
extensions = tuple(assessment.extensions)
case = f" – {assessment.case}" if assessment.case else ""
file_stem = "".join(c if c.isalnum() else "-" for c in f"{assessment.unit}-{assessment.year}").strip("-").lower()

st.title(t("results.title", L, unit=assessment.unit, year=assessment.year, case=case))
counts = st.columns(3)
counts[0].metric(t("results.respondents", L), len(responses))
for column, side in zip(counts[1:], SIDES):
    column.metric(t(f"common.side.{side}", L), len(groups[side]))
if len(started) > len(responses):
    st.caption(t("results.not_started", L, count=len(started) - len(responses)))
share_link = app_url("", a=assessment.token, **lang_params())
if not responses:
    st.info(t("results.no_answers", L))
    st.code(share_link, language=None)
    st.stop()

# --- charts ------------------------------------------------------------------------------

compare = st.toggle(t("results.compare", L, year=assessment.year), key="results:compare",
                    help=t("results.compare.help", L))
band_responses = []
if compare:
    band_responses = [r for r in store.responses_where(years=[assessment.year])
                      if (r.unit, r.case) != (assessment.unit, assessment.case)]
specs = chart_specs(responses, band_responses, assessment.token, L, extensions,
                    fingerprint(responses), fingerprint(band_responses) if band_responses else "")

scores = principle_scores(fw, responses)
side_scores = {side: principle_scores(fw, groups[side]) for side in SIDES}
st.subheader(t("results.radar", L))
radar_column, summary_column = st.columns([3, 2], gap="large")
with radar_column:
    st.vega_lite_chart(specs["radar"], theme=None, width="content")
    if compare:
        st.caption(t("results.compare.legend", L) if band_responses else t("results.compare.none", L))
with summary_column:
    st.markdown(summary(scores, side_scores))
st.caption(t("results.scores.help", L, scale_max=fw.scale.max))
rows = []
for i, (principle, score) in enumerate(zip(fw.principles, scores)):
    row = {t("results.col.principle", L): principle.name(L), t("results.col.score", L): score.score}
    for side in SIDES:
        if groups[side]:
            row[t(f"common.side.{side}", L)] = side_scores[side][i].score
    row[t("results.col.answered", L)] = score.answered
    row[t("results.col.dont_know", L)] = score.dont_know
    rows.append(row)
table(rows, wide=t("results.col.principle", L), width="medium")

st.subheader(t("results.heatmap", L))
st.caption(t("results.heatmap.help", L))
tab_names = [t("results.everyone", L)] + [t(f"common.side.{side}", L) for side in SIDES if groups[side]]
tabs = st.tabs(tab_names)
with tabs[0]:
    st.vega_lite_chart(specs["heatmap"], theme=None, width="content")
for tab, side in zip(tabs[1:], [side for side in SIDES if groups[side]]):
    with tab:
        st.vega_lite_chart(specs[f"heatmap:{side}"], theme=None, width="content")

# --- advice ------------------------------------------------------------------------------

st.subheader(t("results.advice", L))
levels = step_levels(fw, responses)
for item, tip in zip(levels, advice(fw, levels, extensions)):
    step = fw.step_by_id[item.step_id]
    reached = t("q.level.none", L) if item.level_id == NO_LEVEL else fw.level_by_id[item.level_id].name(L)
    text = f"**{step.name(L)}** – {t('results.advice.reached', L, level=reached, answered=item.answered)}  \n"
    if tip.next_level is None:
        text += t("results.advice.top", L)
    else:
        text += t("results.advice.next", L, level=fw.level_by_id[tip.next_level].name(L)) + "\n\n"
        text += "\n".join(f"- **{tool.name(L)}**: {tool.description(L)}" for tool in tip.tools)
    st.markdown(text)

# --- statements and gaps -----------------------------------------------------------------

st.subheader(t("results.statements", L))
statement_rows = []
side_statements = {side: {s.key: s for s in statement_scores(fw, groups[side])} for side in SIDES}
for score in statement_scores(fw, responses):
    principle, statement = fw.statement_by_key[score.key]
    row = {t("results.col.principle", L): principle.name(L), t("results.col.statement", L): statement.text(L),
           t("results.col.score", L): score.score}
    for side in SIDES:
        if groups[side]:
            row[t(f"common.side.{side}", L)] = side_statements[side][score.key].score
    row[t("results.col.answered", L)] = score.answered
    row[t("results.col.dont_know", L)] = score.dont_know
    statement_rows.append(row)
table(statement_rows, wide=t("results.col.statement", L))

st.subheader(t("results.gaps", L))
if all(groups[side] for side in SIDES):
    st.caption(t("results.gaps.help", L))
    gap_rows = []
    for gap in gap_table(fw, responses):
        if gap.difference is None:
            continue
        if gap.kind == "statement":
            what = fw.statement_by_key[gap.key][1].text(L)
        else:
            what = fw.step_by_id[gap.key].name(L)
        gap_rows.append({t("results.col.kind", L): t(f"results.gap.{gap.kind}", L), t("results.col.what", L): what,
                         t("common.side.public", L): gap.public, t("common.side.civil_society", L): gap.civil_society,
                         t("results.col.difference", L): gap.difference})
    table(gap_rows[:10], wide=t("results.col.what", L), signed=t("results.col.difference", L))
else:
    st.info(t("results.gaps.one_side", L))

# --- downloads ---------------------------------------------------------------------------

st.subheader(t("results.downloads", L))
answers_column, radar_dl, heatmap_dl = st.columns(3)
answers_column.download_button(
    t("results.download.yaml", L), lambda: "".join("---\n" + dump_response(r) for r in responses),
    file_name=f"{file_stem}-responses.yaml", mime="application/yaml", key="dl:yaml", on_click="ignore", icon="📄")
answers_column.download_button(
    t("results.download.json", L), lambda: json.dumps([response_to_dict(r) for r in responses],
                                                      ensure_ascii=False, indent=2),
    file_name=f"{file_stem}-responses.json", mime="application/json", key="dl:json", on_click="ignore", icon="📄")
for fmt in ("png", "svg"):
    image_download(radar_dl, specs["radar"], "radar", fmt)
    image_download(heatmap_dl, specs["heatmap"], "heatmap", fmt)
st.caption(t("results.share", L))
st.code(share_link, language=None)
