"""Charts comparing units and years: radar overlay or small multiples, the region's
band behind a unit, ranking bars, levels reached per step across units, trends.

Every chart is built from plain rows made by a ``*_rows`` helper (tested on its
own), so what a chart shows can be checked without rendering it. The inputs are
the results of ``regional.compare`` (scores, Band, RankRow, HeatCell,
TrendPoint). No streamlit here; the pages and the report both use these.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import altair as alt
import pandas as pd
import vl_convert as vlc

from ..framework.matrix import Framework
from ..i18n import t
from ..scoring.scores import PrincipleScore
from . import text as chart_text
from .scores import GRID_COLOUR, PALETTE, radar_chart, radar_grid, radar_points

MAX_OVERLAY = 6  # more series than this on one radar cannot be told apart
NONE_COLOUR = "#e8e8e8"
# Light to dark blue, readable with every kind of colour blindness (ColorBrewer Blues).
LEVEL_COLOURS = ("#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c", "#08306b")


# --- radars ---------------------------------------------------------------

def radar_rows(fw: Framework, scores_by_unit: Mapping[str, Sequence[PrincipleScore]], lang: str) -> list[dict]:
    """Polygon vertices per unit in the radar's geometry (charts.radar_points, radius = score).

    A principle without a score is left out of the unit's polygon rather than drawn
    at 0, which would read as a very low score.
    """
    return [{"unit": p.series, "kind": "unit", "principle": p.principle, "order": p.order,
             "score": p.score, "x": p.x, "y": p.y}
            for p in radar_points(fw, scores_by_unit, lang, skip_missing=True)]


def _ring_rows(fw: Framework, units: Iterable[str]) -> list[dict]:
    # Repeated per unit: every layer of a faceted chart shares one data set.
    rings = [{"kind": "grid", "ring": r["ring"], "order": r["order"], "x": r["x"], "y": r["y"]}
             for r in radar_grid(fw).to_dict("records")]
    return [{"unit": unit, **ring} for unit in units for ring in rings]


def small_multiples(fw: Framework, scores_by_unit: Mapping[str, Sequence[PrincipleScore]], lang: str,
                    columns: int = 6, size: int = 120) -> alt.FacetChart:
    """One small radar per unit in a single faceted spec (cheap to draw for hundreds of units)."""
    units = list(scores_by_unit)
    data = pd.DataFrame(_ring_rows(fw, units) + radar_rows(fw, scores_by_unit, lang))
    axis = alt.Scale(domain=[-105, 105], nice=False, zero=False)
    common = dict(x=alt.X("x:Q", scale=axis, axis=None), y=alt.Y("y:Q", scale=axis, axis=None), order="order:Q")
    grid = alt.Chart().mark_line(interpolate="linear-closed", color=GRID_COLOUR, strokeWidth=0.8).encode(
        detail="ring:N", **common).transform_filter(alt.datum.kind == "grid")
    shape = alt.Chart().mark_line(interpolate="linear-closed", color=PALETTE[0], fill=PALETTE[0],
                                  fillOpacity=0.25, strokeWidth=1.5).encode(**common) \
        .transform_filter(alt.datum.kind == "unit")
    points = alt.Chart().mark_point(filled=True, size=18, color=PALETTE[0]).encode(
        x=common["x"], y=common["y"],
        tooltip=[alt.Tooltip("unit:N", title=t("reg.chart.unit", lang)),
                 alt.Tooltip("principle:N", title=t("reg.chart.principle", lang)),
                 alt.Tooltip("score:Q", title=t("reg.chart.score", lang), format=".1f")],
    ).transform_filter(alt.datum.kind == "unit")
    description = chart_text.radar(radar_rows(fw, scores_by_unit, lang), [], lang, series="unit")
    return chart_text.labelled(alt.layer(grid, shape, points, data=data).properties(width=size, height=size).facet(
        facet=alt.Facet("unit:N", title=None, sort=units, header=alt.Header(labelLimit=size + 30)),
        columns=columns,
    ).configure_view(stroke=None), description)


def comparison_radar(fw: Framework, scores_by_unit: Mapping[str, Sequence[PrincipleScore]], lang: str,
                     band: Mapping[str, tuple] | None = None, columns: int = 6) -> alt.TopLevelMixin:
    """Overlay radar for up to MAX_OVERLAY units, small multiples beyond."""
    if len(scores_by_unit) <= MAX_OVERLAY:
        chart = radar_chart(fw, {u: list(s) for u, s in scores_by_unit.items()}, lang, band=band)
        # One legend row is wider than the radar with three or more long unit names: wrap it.
        return chart.configure_legend(columns=2) if len(scores_by_unit) > 2 else chart
    return small_multiples(fw, scores_by_unit, lang, columns=columns)


def unit_in_region(fw: Framework, unit: str, scores: Sequence[PrincipleScore],
                   band: Mapping[str, tuple], lang: str) -> alt.TopLevelMixin:
    """A unit's radar with the region's quartile band and median drawn behind it."""
    return radar_chart(fw, {unit: list(scores)}, lang, band=dict(band))


# --- ranking -------------------------------------------------------------

def ranking_rows(rows, highlight: Iterable[str] = ()) -> list[dict]:
    """Bars for one principle: ranked units with a score, best first (RankRow order kept)."""
    marked = set(highlight)
    return [{"unit": r.unit, "score": r.score, "rank": r.rank, "label": f"{r.rank}. {r.unit}",
             "highlight": r.unit in marked} for r in rows if r.score is not None]


def ranking_bars(fw: Framework, principle_id: str, rows, lang: str, median: float | None = None,
                 highlight: Iterable[str] = ()) -> alt.TopLevelMixin:
    """Horizontal bars, best first, with the region's median as a rule."""
    ranked = ranking_rows(rows, highlight)
    data = pd.DataFrame(ranked)
    if data.empty:
        data = pd.DataFrame(columns=["unit", "score", "rank", "label", "highlight"])
    order = list(data["label"])
    bars = alt.Chart(data).mark_bar().encode(
        x=alt.X("score:Q", scale=alt.Scale(domain=[0, 100]), title=t("reg.chart.score", lang)),
        y=alt.Y("label:N", sort=order, title=None, axis=alt.Axis(labelLimit=260)),
        color=alt.condition(alt.datum.highlight, alt.value(PALETTE[1]), alt.value(PALETTE[0])),
        tooltip=[alt.Tooltip("rank:Q", title=t("reg.chart.rank", lang)),
                 alt.Tooltip("unit:N", title=t("reg.chart.unit", lang)),
                 alt.Tooltip("score:Q", title=t("reg.chart.score", lang), format=".1f")],
    )
    # Discrete sizes as alt.Step: a fixed pixel height on a band scale collapses in st.altair_chart.
    principle = fw.principle_by_id[principle_id].name(lang)
    size = dict(height=alt.Step(20), title=principle)
    description = chart_text.ranking(principle, ranked, median, lang)
    if median is None:
        return chart_text.labelled(bars.properties(**size), description)
    rule = alt.Chart(pd.DataFrame([{"median": median, "what": t("reg.stat.median", lang)}])).mark_rule(
        color="black", strokeDash=[4, 3]).encode(
        x="median:Q", tooltip=[alt.Tooltip("what:N", title=""), alt.Tooltip("median:Q", format=".1f", title="")])
    return chart_text.labelled(alt.layer(bars, rule).properties(**size), description)


# --- levels reached per step across units ----------------------------------

def level_order(fw: Framework, lang: str, extensions: Sequence[str] = ()) -> list[str]:
    """Level names from 'none' upwards: the colour scale's domain."""
    return [t("reg.level.none", lang)] + [lv.name(lang) for lv in fw.active_levels(extensions)]


def heatmap_rows(fw: Framework, cells, lang: str) -> list[dict]:
    """One row per (unit, step) with the level's name and rank, in framework step order."""
    step_index = {s.id: i for i, s in enumerate(fw.steps)}
    rows = []
    for cell in cells:
        level_name = (t("reg.level.none", lang) if cell.level_id == "none"
                      else fw.level_by_id[cell.level_id].name(lang))
        spread = ", ".join(
            f"{t('reg.level.none', lang) if lv == 'none' else fw.level_by_id[lv].name(lang)}: {n}"
            for lv, n in sorted(cell.distribution.items(), key=lambda kv: fw.level_rank(kv[0])))
        rows.append({"unit": cell.unit, "step": fw.step_by_id[cell.step_id].name(lang),
                     "step_order": step_index[cell.step_id], "level": level_name, "rank": cell.rank,
                     "answered": cell.answered, "distribution": spread})
    rows.sort(key=lambda r: (r["unit"], r["step_order"]))
    return rows


def level_heatmap_across(fw: Framework, cells, lang: str, extensions: Sequence[str] = ()) -> alt.Chart:
    """Units x steps, coloured by the level reached (median of the unit's respondents)."""
    rows = heatmap_rows(fw, cells, lang)
    used = {lv for c in cells for lv in c.distribution} | {c.level_id for c in cells}
    exts = tuple(extensions) + tuple(lv.id for lv in fw.optional_levels if lv.id in used)
    domain = level_order(fw, lang, exts)
    colours = [NONE_COLOUR, *LEVEL_COLOURS[:len(domain) - 1]]
    units = sorted({r["unit"] for r in rows})
    steps = [s.name(lang) for s in fw.steps]
    data = pd.DataFrame(rows) if rows else pd.DataFrame(
        columns=["unit", "step", "level", "rank", "answered", "distribution"])
    base = alt.Chart(data).encode(
        x=alt.X("step:N", sort=steps, title=None, axis=alt.Axis(labelAngle=-30, labelLimit=140)),
        y=alt.Y("unit:N", sort=units, title=None, axis=alt.Axis(labelLimit=260)),
    )
    rect = base.mark_rect(stroke="white", strokeWidth=1).encode(
        color=alt.Color("level:N", sort=domain, scale=alt.Scale(domain=domain, range=colours),
                        title=t("reg.chart.level", lang)),
        tooltip=[alt.Tooltip("unit:N", title=t("reg.chart.unit", lang)),
                 alt.Tooltip("step:N", title=t("reg.chart.step", lang)),
                 alt.Tooltip("level:N", title=t("reg.chart.level", lang)),
                 alt.Tooltip("answered:Q", title=t("reg.chart.answered", lang)),
                 alt.Tooltip("distribution:N", title=t("reg.chart.distribution", lang))],
    )
    return chart_text.labelled(rect.properties(height=alt.Step(22), width=alt.Step(95)),
                               chart_text.steps_across(rows, lang))


# --- trends --------------------------------------------------------------

def trend_rows(fw: Framework, points, stats_by_year: Mapping[int, Mapping[str, object]], lang: str,
               highlight: Iterable[str] = ()) -> list[dict]:
    """Rows for trend lines: the region's band and median per principle and year, and the highlighted units' scores."""
    names = {p.id: p.name(lang) for p in fw.principles}
    median_label = t("reg.stat.median", lang)
    rows = []
    for year in sorted(stats_by_year):
        for pid, band in stats_by_year[year].items():
            if band.median is None:
                continue
            rows.append({"principle": names[pid], "year": year, "series": median_label, "kind": "region",
                         "score": band.median, "q1": band.q1, "q3": band.q3, "n": band.n})
    marked = set(highlight)
    for p in points:
        if p.unit in marked and p.score is not None:
            rows.append({"principle": names[p.principle_id], "year": p.year, "series": p.unit, "kind": "unit",
                         "score": p.score, "q1": None, "q3": None, "n": None})
    order = {name: i for i, name in enumerate(names.values())}
    rows.sort(key=lambda r: (order[r["principle"]], r["kind"], r["series"], r["year"]))
    return rows


def trend_chart(fw: Framework, points, stats_by_year: Mapping[int, Mapping[str, object]], lang: str,
                highlight: Sequence[str] = (), columns: int = 3) -> alt.FacetChart:
    """One panel per principle: the region's quartile band and median over the years, plus highlighted units."""
    highlight = list(highlight)[:MAX_OVERLAY]
    rows = trend_rows(fw, points, stats_by_year, lang, highlight)
    data = pd.DataFrame(rows)
    median_label = t("reg.stat.median", lang)
    series = [median_label, *highlight]
    colour = alt.Color("series:N", sort=series, title=None,
                       scale=alt.Scale(domain=series, range=["#555555", *PALETTE[:len(highlight)]]),
                       legend=alt.Legend(orient="bottom", direction="horizontal", labelLimit=260, columns=4))
    years = sorted(stats_by_year)
    x = alt.X("year:O", title=t("reg.chart.year", lang), sort=years, axis=alt.Axis(labelAngle=0))
    y = alt.Y("score:Q", scale=alt.Scale(domain=[0, 100]), title=t("reg.chart.score", lang))
    tooltip = [alt.Tooltip("series:N", title=""), alt.Tooltip("year:O", title=t("reg.chart.year", lang)),
               alt.Tooltip("score:Q", format=".1f", title=t("reg.chart.score", lang))]
    band = alt.Chart().mark_area(opacity=0.18, color="#555555").encode(
        x=x, y=alt.Y("q1:Q", scale=alt.Scale(domain=[0, 100])), y2="q3:Q",
    ).transform_filter(alt.datum.kind == "region")
    median = alt.Chart().mark_line(strokeDash=[5, 3], point=True).encode(
        x=x, y=y, color=colour, tooltip=tooltip).transform_filter(alt.datum.kind == "region")
    lines = alt.Chart().mark_line(point=True).encode(
        x=x, y=y, color=colour, tooltip=tooltip).transform_filter(alt.datum.kind == "unit")
    names = [p.name(lang) for p in fw.principles]
    return chart_text.labelled(alt.layer(band, median, lines, data=data).properties(width=220, height=150).facet(
        facet=alt.Facet("principle:N", sort=names, title=None), columns=columns), chart_text.trends(rows, lang))


# --- agreement follow-up ---------------------------------------------------------

STATUS_ORDER = ("done", "under_way", "not_started", "not_applicable")
# Okabe-Ito: bluish green, orange, vermilion; grey for "does not apply".
STATUS_COLOURS = ("#009E73", "#E69F00", "#D55E00", "#BBBBBB")


def progress_rows(progress, name, lang: str) -> list[dict]:
    """Stacked-bar rows per group and status; unrecorded commitments count as not started."""
    rows = []
    for order, p in enumerate(progress):
        for status in STATUS_ORDER:
            count = p.counts.get(status, 0) + (p.counts.get("unrecorded", 0) if status == "not_started" else 0)
            rows.append({"group": name(p.group), "group_order": order, "status": t(f"regional.status.{status}", lang),
                         "status_order": STATUS_ORDER.index(status), "count": count,
                         "share": round(count / p.total, 4) if p.total else 0.0, "score": p.score})
    return rows


def progress_bars(progress, name, lang: str) -> alt.Chart:
    """One stacked bar per group (principle or party): shares of commitments by status."""
    rows = progress_rows(progress, name, lang)
    data = pd.DataFrame(rows) if rows else pd.DataFrame(
        columns=["group", "group_order", "status", "status_order", "count", "share", "score"])
    statuses = [t(f"regional.status.{s}", lang) for s in STATUS_ORDER]
    groups = [name(p.group) for p in progress]
    return chart_text.labelled(alt.Chart(data).mark_bar().encode(
        x=alt.X("share:Q", stack="zero", axis=alt.Axis(format="%"), title=None, scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("group:N", sort=groups, title=None, axis=alt.Axis(labelLimit=260)),
        color=alt.Color("status:N", sort=statuses, scale=alt.Scale(domain=statuses, range=list(STATUS_COLOURS)),
                        title=None, legend=alt.Legend(orient="bottom")),
        order=alt.Order("status_order:Q"),
        tooltip=[alt.Tooltip("group:N", title=""), alt.Tooltip("status:N", title=""),
                 alt.Tooltip("count:Q", title=t("reg.chart.commitments", lang)),
                 alt.Tooltip("share:Q", format=".0%", title=t("reg.chart.share", lang))],
    ).properties(height=alt.Step(28)), chart_text.counts("chart.progress", rows, "group", "status", lang))


# --- deltas and export -------------------------------------------------------

def score_deltas(fw: Framework, before: Sequence[PrincipleScore] | None,
                 after: Sequence[PrincipleScore]) -> list[dict]:
    """Per principle: score before, after and the change (None when either is missing)."""
    old = {s.principle_id: s.score for s in before or ()}
    new = {s.principle_id: s.score for s in after}
    out = []
    for p in fw.principles:
        b, a = old.get(p.id), new.get(p.id)
        out.append({"principle_id": p.id, "before": b, "after": a,
                    "delta": round(a - b, 1) if a is not None and b is not None else None})
    return out


# One font for every exported chart: vl-convert's default has no "✓", and a text
# with a missing glyph falls back to a serif font as a whole.
EXPORT_FONT = "DejaVu Sans, Verdana, Arial, sans-serif"
# DejaVu Sans ships with the package (assessment/fonts), so exports look the same everywhere.
FONT_DIR = Path(__file__).parent.parent / "fonts"


@lru_cache(maxsize=1)
def _export_config() -> dict:
    if FONT_DIR.is_dir():
        vlc.register_font_directory(str(FONT_DIR))
    return {"font": EXPORT_FONT}


def _locale(lang: str) -> str:
    return "sv-SE" if lang == "sv" else "en-US"  # decimal comma in Swedish


def chart_png(chart: alt.TopLevelMixin, lang: str = "sv", scale: float = 2.0) -> bytes:
    """The chart as PNG (for the PDF report and for downloading a chart alone)."""
    return vlc.vegalite_to_png(chart.to_dict(), scale=scale, config=_export_config(), format_locale=_locale(lang))


def chart_svg(chart: alt.TopLevelMixin, lang: str = "sv") -> str:
    """The chart as standalone SVG markup (for the HTML report and downloads)."""
    return vlc.vegalite_to_svg(chart.to_dict(), config=_export_config(), format_locale=_locale(lang))
