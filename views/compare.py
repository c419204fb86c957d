"""Comparison across units and years, and the council report.

The administrator (and coordinators, once the named comparison is published) sees every
unit by name and the ranking. Otherwise a coordinator sees their own units against the
region drawn as median and quartiles over all units, other units unnamed: the views
that name or rank units are not offered.

Filters (region, units, years, side) apply to every view below them. Only the
chosen view is built on each rerun, and the numbers come from the core's SQL
aggregates (assessment.compare), so the page stays quick with hundreds of units.
"""

from __future__ import annotations

import functools
import re

import pandas as pd
import streamlit as st

from assessment.access import permissions as p
from assessment.access.permissions import Resource, allowed
from assessment.charts import comparison as cc
from assessment.i18n import LANGUAGE_NAMES, markdown_literal, t
from assessment.regional import aggregates, compare, summaries, summary_freshness
from assessment.report.render import build_report
from assessment.store.assessments import Assessments
from views.access import coordinated_units, current_actor
from views.common import database, framework, lang, repository

PAGE_SIZE = 48  # small multiples per page
VIEWS = ("profiles", "unit", "ranking", "steps", "trends", "report")
UNNAMED_VIEWS = ("unit", "steps", "report")  # own units only, the region as a band
SIDES = (None, "public", "civil_society")

L = lang()
fw = framework()
engine = database()
actor = current_actor()
named = allowed(actor, p.COMPARE_NAMED)
own = None if named else coordinated_units(repository(Assessments), actor)  # None: every unit by name
st.title(t("reg.compare.title", L))
st.caption(t("reg.compare.intro", L) if named else t("reg.compare.intro_unnamed", L))


# Kept as live objects (cache_resource), not pickled copies (cache_data): the page only reads
# them, and unpickling a region's comparison (tens of thousands of small objects) on every
# rerun also set off a full garbage collection of the heap every rerun or two (100-400 ms at
# 290 units). A region's comparison is ~10 MB in memory, hence few entries; an hour at most.
@st.cache_resource(show_spinner=False, max_entries=16, ttl=3600)
def _comparison(units: tuple[str, ...] | None, years: tuple[int, ...] | None, side: str | None,
                region: str | None, version: tuple) -> compare.Comparison:
    # `version` (summary_freshness.data_version) changes with the data, so an import is never hidden by the cache.
    return compare.compare(engine, fw, units=list(units) if units is not None else None,
                           years=list(years) if years else None, side=side, region=region)


@st.cache_resource(show_spinner=False, max_entries=16, ttl=3600)
def _heatmap(units: tuple[str, ...] | None, year: int, side: str | None, region: str | None,
             version: tuple) -> list[compare.HeatCell]:
    agg = aggregates.load_aggregates(engine, fw, units=list(units) if units is not None else None,
                                  years=[year], side=side, region=region)
    return compare.heatmap(fw, agg, year)


@st.cache_data(show_spinner=False, max_entries=8)
def _catalogue(version: tuple) -> tuple[dict[str, tuple[str, str | None]], list[int], list[str]]:
    """Every unit's (kind, region), the years with assessments, and units with assessments."""
    found = Assessments(engine).list_assessments()
    return summaries.unit_info(engine), sorted({a.year for a in found}), sorted({a.unit for a in found})


def side_label(side: str | None) -> str:
    return t("regional.side.all" if side is None else f"regional.side.{side}", L)


def file_stem(*parts: object) -> str:
    """A download's file name: words joined by '_', no spaces or brackets."""
    return "_".join(re.sub(r"[^\w.-]+", "_", str(p)).strip("_") for p in parts)


def download_chart(chart, name: str, key: str) -> None:
    """PNG and SVG buttons; the file is made only when clicked (with the export font and decimal comma)."""
    left, right, _ = st.columns([1, 1, 8])
    left.download_button(t("reg.download.png", L), data=functools.partial(cc.chart_png, chart, L),
                         file_name=f"{file_stem(name)}.png", mime="image/png", key=f"png_{key}", on_click="ignore")
    right.download_button(t("reg.download.svg", L), data=functools.partial(cc.chart_svg, chart, L),
                          file_name=f"{file_stem(name)}.svg", mime="image/svg+xml", key=f"svg_{key}", on_click="ignore")


# --- filters ----------------------------------------------------------------------------

version = summary_freshness.data_version(engine)
unit_info, all_years, assessed = _catalogue(version)
if not assessed:
    st.info(t("reg.compare.empty", L))
    st.stop()

regions = sorted({info[1] for info in unit_info.values() if info[1]})
with st.container(border=True):
    c1, c2, c3, c4 = st.columns([2, 3, 2, 2])
    region = c1.selectbox(t("reg.filter.region", L), [None, *regions], key="cmp_region",
                          format_func=lambda r: t("reg.filter.all_regions", L) if r is None else r)
    in_region = [u for u in assessed if (region is None or unit_info.get(u, (None, None))[1] == region)
                 and (own is None or u in own)]
    chosen = c2.multiselect(t("reg.filter.units", L), in_region, key="cmp_units",
                            placeholder=t("reg.filter.units_all", L, n=len(in_region)))
    years = c3.multiselect(t("reg.filter.years", L), all_years, key="cmp_years",
                           placeholder=t("reg.filter.years_all", L))
    side = c4.radio(t("reg.filter.side", L), SIDES, format_func=side_label, key="cmp_side")

# No units chosen = every unit of the region (or of the database).
unit_key = tuple(sorted(chosen)) if chosen else None
if own is not None:  # the region's band is made of every unit; only one's own are shown
    unit_key = tuple(sorted(chosen or in_region))
comparison = _comparison(unit_key if own is None else None, tuple(sorted(years)) or None, side, region, version)
if not comparison.scores:
    st.info(t("reg.compare.no_data", L))
    st.stop()

available_years = sorted(comparison.scores)
year = st.select_slider(t("reg.filter.year_shown", L), available_years, value=available_years[-1],
                        key="cmp_year") if len(available_years) > 1 else available_years[0]
scores = comparison.scores[year]
stats = comparison.stats[year]
region_n = len(scores)  # the band is made of them all, also when only one's own are shown
group_note = t("reg.compare.group", L, n=region_n, year=year, side=side_label(side).lower())
st.caption(group_note)
if own is not None:
    scores = {unit: values for unit, values in scores.items() if unit in unit_key}
    if not scores:
        st.info(t("reg.compare.own_none", L, year=year))
        st.stop()

views = VIEWS if own is None else [v for v in UNNAMED_VIEWS if v != "report" or allowed(actor, p.MAKE_REPORT)]
view = st.radio(t("reg.compare.view", L), views, horizontal=True, key="cmp_view",
                format_func=lambda v: t(f"reg.view.{v}", L), label_visibility="collapsed")

# --- the chosen view -----------------------------------------------------------------------

if view == "profiles":
    names = sorted(scores)
    if len(names) <= cc.MAX_OVERLAY:
        chart = cc.comparison_radar(fw, {u: scores[u] for u in names}, L)
        st.altair_chart(chart, width="content")
    else:
        pages = (len(names) + PAGE_SIZE - 1) // PAGE_SIZE
        page = 1
        if pages > 1:
            page = st.columns([1, 4])[0].number_input(t("reg.compare.page", L, pages=pages), 1, pages, 1,
                                                      key="cmp_page")
        shown = names[(page - 1) * PAGE_SIZE:page * PAGE_SIZE]
        st.caption(t("reg.compare.multiples", L, n=len(names),
                     order=", ".join(p.name(L) for p in fw.principles)))
        chart = cc.small_multiples(fw, {u: scores[u] for u in shown}, L)
        st.altair_chart(chart, width="content")
    download_chart(chart, f"profiles_{year}", "profiles")

elif view == "unit":
    names = sorted(scores)
    kept = st.session_state.get("cmp_focus_kept")
    focus = st.selectbox(t("reg.compare.focus", L), names, key="cmp_focus",
                         index=names.index(kept) if kept in names else 0)
    st.session_state["cmp_focus_kept"] = focus  # widget state is dropped while the view is hidden
    band = compare.band_for_radar(stats)
    chart = cc.unit_in_region(fw, focus, scores[focus], band, L)
    st.caption(t("reg.compare.band_note", L, n=region_n))
    st.altair_chart(chart, width="content")
    rows = []
    for s in scores[focus]:
        b = stats.get(s.principle_id)
        rows.append({t("reg.col.principle", L): fw.principle_by_id[s.principle_id].name(L),
                     focus: s.score, t("reg.stat.q1", L): b.q1 if b else None,
                     t("reg.stat.median", L): b.median if b else None, t("reg.stat.q3", L): b.q3 if b else None})
    st.dataframe(pd.DataFrame(rows), hide_index=True)
    download_chart(chart, f"{focus}_{year}", "unit")

elif view == "ranking":
    rankings = compare.rankings(fw, scores)
    header, rows = compare.comparison_table(fw, comparison, L, year=year)
    principle = st.selectbox(t("reg.col.principle", L), [p.id for p in fw.principles], key="cmp_principle",
                             format_func=lambda pid: fw.principle_by_id[pid].name(L))
    band = stats.get(principle)
    # The unit last looked at in "unit vs region" stands out.
    focus = st.session_state.get("cmp_focus_kept")
    chart = cc.ranking_bars(fw, principle, rankings[principle], L, median=band.median if band else None,
                            highlight=[focus] if focus else ())
    st.altair_chart(chart, width="stretch")
    download_chart(chart, f"ranking_{principle}_{year}", "ranking")
    st.subheader(t("reg.compare.table", L))
    # The core's table alternates score and rank per principle: shown as two tables.
    show_ranks = st.toggle(t("reg.compare.show_ranks", L), key="cmp_ranks")
    pick = [0] + list(range(2 if show_ranks else 1, len(header), 2))
    kept = [row for row in rows if not show_ranks or any(row[i] is not None for i in pick[1:])]
    st.dataframe(pd.DataFrame([[row[i] for i in pick] for row in kept],
                              columns=[header[0]] + [header[i - 1 if show_ranks else i] for i in pick[1:]]),
                 hide_index=True)

elif view == "steps":
    cells = _heatmap(unit_key, year, side, region, version)
    if not cells:
        st.info(t("reg.compare.no_steps", L))
    else:
        chart = cc.level_heatmap_across(fw, cells, L)
        st.altair_chart(chart, width="content")
        download_chart(chart, f"steps_{year}", "steps")

elif view == "trends":
    candidates = sorted({p.unit for p in comparison.trends})
    default = candidates if len(candidates) <= cc.MAX_OVERLAY else []
    highlight = st.multiselect(t("reg.compare.highlight", L), candidates, default=default,
                               max_selections=cc.MAX_OVERLAY, key="cmp_highlight",
                               placeholder=t("reg.compare.highlight_hint", L))
    st.caption(t("reg.compare.trend_note", L))
    if len(comparison.stats) < 2:
        st.info(t("reg.compare.one_year", L))
    chart = cc.trend_chart(fw, comparison.trends, comparison.stats, L, highlight)
    st.altair_chart(chart, width="content")
    download_chart(chart, "trends", "trends")

else:  # the council report
    st.caption(t("reg.report.intro", L))
    c1, c2, c3 = st.columns(3)
    report_unit = c1.selectbox(t("reg.report.unit", L), [u for u in sorted(scores)
                                                         if allowed(actor, p.MAKE_REPORT, Resource(unit=u))],
                               key="rep_unit")
    report_year = c2.selectbox(t("reg.report.year", L), available_years[::-1], key="rep_year")
    report_lang = c3.radio(t("reg.report.language", L), list(LANGUAGE_NAMES), format_func=LANGUAGE_NAMES.get,
                           index=list(LANGUAGE_NAMES).index(L), horizontal=True, key="rep_lang")
    wanted = (report_unit, report_year, report_lang)
    if st.button(t("reg.report.make", L), type="primary", key="rep_make"):
        try:
            with st.spinner(t("reg.report.making", L)):
                made = {fmt: build_report(engine, fw, report_unit, report_year, report_lang, fmt)
                        for fmt in ("pdf", "html")}
            st.session_state["report"] = (wanted, made)
        except (LookupError, ValueError, RuntimeError) as exc:  # RuntimeError: no Unicode font installed
            st.session_state.pop("report", None)
            st.error(t("reg.report.failed", L, reason=str(exc)))
    ready = st.session_state.get("report")
    if ready and ready[0] == wanted:
        base = file_stem(report_unit, report_year, report_lang)
        d1, d2, _ = st.columns([1, 1, 3])
        d1.download_button(t("reg.report.pdf", L), ready[1]["pdf"], file_name=f"{base}.pdf",
                           mime="application/pdf", key="rep_pdf", on_click="ignore")
        d2.download_button(t("reg.report.html", L), ready[1]["html"], file_name=f"{base}.html",
                           mime="text/html", key="rep_html", on_click="ignore")
        st.success(t("reg.report.ready", L, unit=markdown_literal(report_unit), year=report_year))
