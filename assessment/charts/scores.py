"""Charts of scores and levels, as Altair (Vega-Lite) specifications; no streamlit.

Vega-Lite has no polar line chart, so the radar is drawn in plain x/y: each
principle is a spoke at a fixed angle and a score of s (0-100) sits at radius s
on it. The data helpers (`radar_points`, `radar_data`, `heatmap_data`) return the
computed points and frames, so the geometry can be tested without rendering anything.
"""

from __future__ import annotations

import math
import statistics
from typing import Iterator, Mapping, NamedTuple, Sequence

import altair as alt
import pandas as pd

from ..framework.matrix import Framework
from ..framework.responses import NO_LEVEL
from ..i18n import t
from ..scoring.levels import StepLevel
from ..scoring.scores import PrincipleScore
from . import text as chart_text

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common
# colour-vision deficiency. Black is left out: it is used for text.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442")
BAND_COLOUR = "#999999"
GRID_COLOUR = "#d0d0d0"
MAX_RADIUS = 100.0
LABEL_RADIUS = 112.0
# The drawing area in radar units (a score of 100 = radius 100): room for the labels
# beside the spokes, less above and below where labels are short. Same scale on x and y.
VIEW_X = (-158.0, 158.0)
VIEW_Y = (-130.0, 140.0)
WIDTH = 500
HEIGHT = round(WIDTH * (VIEW_Y[1] - VIEW_Y[0]) / (VIEW_X[1] - VIEW_X[0]))

_LABELS = {
    "series": {"sv": "Serie", "en": "Series"},
    "principle": {"sv": "Princip", "en": "Principle"},
    "score": {"sv": "Poäng (0-100)", "en": "Score (0-100)"},
    "answered": {"sv": "Besvarade", "en": "Answered"},
    "dont_know": {"sv": "Vet ej", "en": "Don't know"},
    "band": {"sv": "Jämförelse (kvartiler)", "en": "Comparison (quartiles)"},
    "median": {"sv": "Median", "en": "Median"},
    "q1": {"sv": "Nedre kvartil", "en": "Lower quartile"},
    "q3": {"sv": "Övre kvartil", "en": "Upper quartile"},
    "step": {"sv": "Steg", "en": "Step"},
    "level": {"sv": "Nivå", "en": "Level"},
    "reached": {"sv": "Har nått nivån", "en": "Reached this level"},
    "respondents": {"sv": "Svarande", "en": "Respondents"},
    "share": {"sv": "Andel", "en": "Share"},
}


def _label(key: str, lang: str) -> str:
    return _LABELS[key]["en" if lang == "en" else "sv"]


def _level_name(fw: Framework, level_id: str, lang: str) -> str:
    return t("reg.level.none", lang) if level_id == NO_LEVEL else fw.level_by_id[level_id].name(lang)


# --- Radar ---------------------------------------------------------------------

def axis_angles(fw: Framework) -> list[float]:
    """Angle (radians, maths convention) of each principle's spoke: first at the top, clockwise."""
    n = len(fw.principles)
    return [math.pi / 2 - 2 * math.pi * i / n for i in range(n)]


def polar(radius: float, angle: float) -> tuple[float, float]:
    # Rounded so that tests and the JSON spec see clean numbers.
    return round(radius * math.cos(angle), 6), round(radius * math.sin(angle), 6)


def grid_steps(fw: Framework) -> list[float]:
    """Radii of the concentric gridlines: each scale value as a score (min -> 0, max -> 100)."""
    return [round(fw.scale.percent(v), 6) for v in fw.scale.values]


class RadarPoint(NamedTuple):
    """Where one series' score for one principle sits on the radar."""
    series: str
    principle_id: str
    principle: str  # the principle's name in the chart's language
    order: int  # the spoke's index, clockwise from the top
    item: PrincipleScore | None  # the series' score entry, if it has one
    score: float | None
    x: float
    y: float


def radar_points(fw: Framework, series: Mapping[str, Sequence[PrincipleScore]], lang: str,
                 skip_missing: bool = False) -> Iterator[RadarPoint]:
    """Each series' point on each principle's spoke (radius = score).

    A principle without a score sits at the centre, or with `skip_missing` is left out.
    """
    angles = axis_angles(fw)
    for name, scores in series.items():
        by_id = {s.principle_id: s for s in scores}
        for order, (principle, angle) in enumerate(zip(fw.principles, angles)):
            item = by_id.get(principle.id)
            score = item.score if item else None
            if score is None and skip_missing:
                continue
            x, y = polar(score or 0.0, angle)
            yield RadarPoint(name, principle.id, principle.name(lang), order, item, score, x, y)


def radar_data(fw: Framework, series: Mapping[str, Sequence[PrincipleScore]], lang: str) -> pd.DataFrame:
    """One row per (series, principle) with the point's x/y; no score plots at the centre."""
    rows = [{"series": p.series, "principle_id": p.principle_id, "principle": p.principle,
             "order": p.order, "score": p.score, "radius": p.score or 0.0, "x": p.x, "y": p.y,
             "answered": p.item.answered if p.item else 0, "dont_know": p.item.dont_know if p.item else 0}
            for p in radar_points(fw, series, lang)]
    return pd.DataFrame(rows, columns=["series", "principle_id", "principle", "order", "score", "radius",
                                       "x", "y", "answered", "dont_know"])


def radar_axes(fw: Framework, lang: str) -> pd.DataFrame:
    """Spokes (centre to 100) and where each principle's name is written."""
    rows = []
    for principle, angle in zip(fw.principles, axis_angles(fw)):
        x2, y2 = polar(MAX_RADIUS, angle)
        lx, ly = polar(LABEL_RADIUS, angle)
        cos, sin = math.cos(angle), math.sin(angle)
        # Labels grow away from the radar: leftwards on the left, upwards at the top.
        align = "center" if abs(cos) < 0.2 else ("left" if cos > 0 else "right")
        baseline = "middle" if abs(sin) < 0.8 else ("bottom" if sin > 0 else "top")
        rows.append({"principle_id": principle.id, "label": "\n".join(_wrap(principle.name(lang))),
                     "x": 0.0, "y": 0.0, "x2": x2, "y2": y2, "lx": lx, "ly": ly, "align": align,
                     "baseline": baseline})
    return pd.DataFrame(rows)


def radar_grid(fw: Framework) -> pd.DataFrame:
    """Concentric polygons (not circles: straight edges read better between spokes)."""
    angles = axis_angles(fw)
    rows = []
    for radius in grid_steps(fw):
        if radius <= 0:
            continue
        for order, angle in enumerate(angles):
            x, y = polar(radius, angle)
            rows.append({"ring": radius, "order": order, "x": x, "y": y})
    return pd.DataFrame(rows)


def band_data(fw: Framework, band: Mapping[str, tuple[float, float, float]],
              lang: str = "sv") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The quartile band as one ring-shaped path, and the median polygon.

    The ring runs round the upper quartiles clockwise and back round the lower
    quartiles anticlockwise; with the non-zero fill rule the inside stays empty.
    """
    angles = axis_angles(fw)
    quartiles = [(p, angle, band.get(p.id)) for p, angle in zip(fw.principles, angles)]
    quartiles = [(p, angle, q) for p, angle, q in quartiles if q is not None]
    if not quartiles:
        return pd.DataFrame(columns=["order", "x", "y"]), pd.DataFrame(columns=["order", "x", "y"])
    outer = [polar(q[2], angle) for _p, angle, q in quartiles]
    inner = [polar(q[0], angle) for _p, angle, q in quartiles]
    path = outer + [outer[0]] + [inner[0]] + inner[:0:-1] + [inner[0], outer[0]]
    ring = pd.DataFrame([{"order": i, "x": x, "y": y} for i, (x, y) in enumerate(path)])
    medians = []
    for i, (p, angle, q) in enumerate(quartiles):
        x, y = polar(q[1], angle)
        medians.append({"order": i, "x": x, "y": y, "principle": p.name(lang), "q1": q[0],
                        "median": q[1], "q3": q[2]})
    return ring, pd.DataFrame(medians)


def quartile_band(fw: Framework, groups: Sequence[Sequence[PrincipleScore]]) -> dict[str, tuple[float, float, float]]:
    """Per principle, (lower quartile, median, upper quartile) of the groups' scores.

    Used to draw how a set of other assessments spread behind one radar.
    Principles with no score in any group are left out.
    """
    band: dict[str, tuple[float, float, float]] = {}
    for principle in fw.principles:
        values = sorted(s.score for scores in groups for s in scores
                        if s.principle_id == principle.id and s.score is not None)
        if not values:
            continue
        if len(values) == 1:
            band[principle.id] = (values[0], values[0], values[0])
            continue
        q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
        band[principle.id] = (round(q1, 1), round(q2, 1), round(q3, 1))
    return band


def _wrap(text: str, width: int = 14) -> list[str]:
    """Split a long axis label over lines, so that it fits beside the radar."""
    words, lines, current = text.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    lines.append(current)
    return lines


def _xy(field_x: str = "x", field_y: str = "y") -> dict:
    return {"x": alt.X(f"{field_x}:Q", scale=alt.Scale(domain=list(VIEW_X), nice=False, zero=False), axis=None),
            "y": alt.Y(f"{field_y}:Q", scale=alt.Scale(domain=list(VIEW_Y), nice=False, zero=False), axis=None)}


def radar_chart(fw: Framework, series: Mapping[str, Sequence[PrincipleScore]], lang: str,
                band: Mapping[str, tuple[float, float, float]] | None = None) -> alt.LayerChart:
    """Radar of principle scores: one closed polygon per series, optional quartile band behind."""
    names = list(series)
    colour = alt.Color("series:N", title=None, scale=alt.Scale(domain=names, range=list(PALETTE[:len(names)])),
                       legend=alt.Legend(orient="bottom", direction="horizontal", labelLimit=260))
    layers: list[alt.Chart] = []

    grid = radar_grid(fw)
    layers.append(alt.Chart(grid).mark_line(interpolate="linear-closed", color=GRID_COLOUR, strokeWidth=1)
                  .encode(**_xy(), detail="ring:N", order="order:Q"))
    # Ring values written between the first two spokes, clear of the axis labels.
    between = (axis_angles(fw)[0] + axis_angles(fw)[1]) / 2 if len(fw.principles) > 1 else 0.0
    ticks = pd.DataFrame([{"x": polar(r, between)[0], "y": polar(r, between)[1], "text": f"{r:g}"}
                          for r in grid_steps(fw) if r > 0])

    medians = pd.DataFrame()
    if band:
        ring, medians = band_data(fw, band, lang)
        if not ring.empty:
            layers.append(alt.Chart(ring).mark_line(interpolate="linear", filled=True, fill=BAND_COLOUR,
                                                    fillOpacity=0.25, strokeOpacity=0)
                          .encode(**_xy(), order="order:Q"))
            median_line = alt.Chart(medians).encode(**_xy(), order="order:Q")
            layers.append(median_line.mark_line(interpolate="linear-closed", color="#555",
                                                strokeDash=[5, 4], strokeWidth=1.5))
            layers.append(median_line.mark_point(shape="diamond", size=30, color="#555", filled=True).encode(
                tooltip=[alt.Tooltip("principle:N", title=_label("principle", lang)),
                         alt.Tooltip("q1:Q", title=_label("q1", lang), format=".0f"),
                         alt.Tooltip("median:Q", title=_label("median", lang), format=".0f"),
                         alt.Tooltip("q3:Q", title=_label("q3", lang), format=".0f")]))

    axes = radar_axes(fw, lang)
    layers.append(alt.Chart(axes).mark_rule(color=GRID_COLOUR).encode(**_xy(), x2="x2:Q", y2="y2:Q"))
    # Alignment is a mark property, not an encoding: one text layer per combination in use.
    for (align, baseline), part in axes.groupby(["align", "baseline"], sort=False):
        layers.append(alt.Chart(part).mark_text(align=align, baseline=baseline, fontSize=12, fontWeight="bold",
                                                lineBreak="\n")
                      .encode(**_xy("lx", "ly"), text="label"))

    data = radar_data(fw, series, lang)
    if not data.empty:
        tooltip = [alt.Tooltip("series:N", title=_label("series", lang)),
                   alt.Tooltip("principle:N", title=_label("principle", lang)),
                   alt.Tooltip("score:Q", title=_label("score", lang), format=".0f"),
                   alt.Tooltip("answered:Q", title=_label("answered", lang)),
                   alt.Tooltip("dont_know:Q", title=_label("dont_know", lang))]
        base = alt.Chart(data)
        layers.append(base.mark_line(interpolate="linear-closed", filled=True, fillOpacity=0.12,
                                     strokeWidth=2.5)
                      .encode(**_xy(), order="order:Q", color=colour, fill=colour, stroke=colour))
        layers.append(base.mark_point(filled=True, size=70, opacity=1)
                      .encode(**_xy(), color=colour, tooltip=tooltip))

    # Ring values last, so no polygon hides them.
    layers.append(alt.Chart(ticks).mark_text(align="left", baseline="bottom", dx=3, fontSize=10, color="#555")
                  .encode(**_xy(), text="text:N"))
    description = chart_text.radar(data.to_dict("records"), medians.to_dict("records"), lang)
    return chart_text.labelled(alt.layer(*layers).properties(width=WIDTH, height=HEIGHT)
                               .configure_view(stroke=None), description)


# --- Level heatmap -------------------------------------------------------------

def heatmap_data(fw: Framework, levels: Sequence[StepLevel], lang: str,
                 extensions: Sequence[str] = ()) -> pd.DataFrame:
    """One row per (step, active level): how many respondents reached at least that level.

    Reaching a level implies the ones below it (partnership includes dialogue),
    so a cell counts everyone whose answer ranks at or above it: the fill is cumulative.
    """
    active = fw.active_levels(extensions)
    known = {lv.id for lv in fw.levels} | {NO_LEVEL}
    by_step = {item.step_id: item for item in levels}
    rows = []
    for step_order, step in enumerate(fw.steps):
        item = by_step.get(step.id)
        answered = item.answered if item else 0
        distribution = item.distribution if item else {}
        reached_level = item.level_id if item else NO_LEVEL
        reached_rank = fw.level_rank(reached_level) if reached_level in known else 0
        several = answered > 1
        for level_order, level in enumerate(active):
            rank = fw.level_rank(level.id)
            count = sum(n for lid, n in distribution.items() if lid in known and fw.level_rank(lid) >= rank)
            share = count / answered if answered else 0.0
            is_reached = level.id == reached_level
            if several:
                text = f"{count}/{answered}" + (" ✓" if is_reached else "") if count else ""
            else:
                text = "✓" if is_reached else ""
            rows.append({
                "step_id": step.id, "step": step.name(lang), "step_order": step_order,
                "level_id": level.id, "level": level.name(lang), "level_order": level_order,
                "count": count, "answered": answered, "share": round(share, 4),
                "filled": rank <= reached_rank and answered > 0, "reached": is_reached, "text": text,
            })
    return pd.DataFrame(rows)


def level_heatmap(fw: Framework, levels: Sequence[StepLevel], lang: str,
                  extensions: Sequence[str] = ()) -> alt.LayerChart:
    """Steps (rows) by levels (columns); cells shaded up to the level reached."""
    data = heatmap_data(fw, levels, lang, extensions)
    step_names = [s.name(lang) for s in fw.steps]
    level_names = [lv.name(lang) for lv in fw.active_levels(extensions)]
    x = alt.X("level:N", sort=level_names, title=None,
              axis=alt.Axis(orient="top", labelAngle=0, labelFontSize=12, labelFontWeight="bold",
                            labelLimit=160, domain=False, ticks=False))
    y = alt.Y("step:N", sort=step_names, title=None,
              axis=alt.Axis(labelFontSize=12, labelLimit=200, domain=False, ticks=False))
    tooltip = [alt.Tooltip("step:N", title=_label("step", lang)),
               alt.Tooltip("level:N", title=_label("level", lang)),
               alt.Tooltip("count:Q", title=_label("reached", lang)),
               alt.Tooltip("answered:Q", title=_label("respondents", lang)),
               alt.Tooltip("share:Q", title=_label("share", lang), format=".0%")]
    base = alt.Chart(data).encode(x=x, y=y)
    background = base.mark_rect(color="#f2f2f2", stroke="white", strokeWidth=2)
    # Opacity by the share of respondents who got this far: 1 respondent -> 0 or 1.
    filled = base.transform_filter("datum.count > 0").mark_rect(color=PALETTE[0], stroke="white", strokeWidth=2) \
        .encode(opacity=alt.Opacity("share:Q", scale=alt.Scale(domain=[0, 1], range=[0.15, 1]), legend=None),
                tooltip=tooltip)
    text = base.mark_text(fontSize=14).encode(
        text="text:N",
        color=alt.condition("datum.share > 0.55", alt.value("white"), alt.value("#222")),
        tooltip=tooltip)
    width = max(140 * len(level_names), 420)
    reached = {item.step_id: item for item in levels}
    answered = {step.id: reached[step.id].answered if step.id in reached else 0 for step in fw.steps}
    description = chart_text.level_heatmap(
        [(step.name(lang), _level_name(fw, reached[step.id].level_id, lang) if answered[step.id] else "–",
          answered[step.id]) for step in fw.steps], lang)
    return chart_text.labelled(alt.layer(background, filled, text)
                               .properties(width=width, height=48 * len(step_names))
                               .configure_view(stroke=None), description)
