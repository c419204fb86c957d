"""Comparison charts: the rows behind each chart against hand-computed values, and the exports."""

from __future__ import annotations

import math

import altair as alt
import pytest

from assessment.charts import comparison as cc
from assessment.framework.responses import Response, StepAnswer
from assessment.i18n import t
from assessment.regional.aggregates import aggregate_responses, unit_scores
from assessment.regional.compare import Band, HeatCell, RankRow, TrendPoint, heatmap
from assessment.regional.followup import Progress
from assessment.scoring.scores import PrincipleScore


def scores_for(fw, values: dict[str, float | None]) -> list[PrincipleScore]:
    return [PrincipleScore(p.id, values.get(p.id), 3, 0, 0, len(p.statements)) for p in fw.principles]


def spec_rows(chart: alt.TopLevelMixin) -> list[dict]:
    """All inline data rows of a chart's Vega-Lite spec."""
    spec = chart.to_dict()
    return [row for rows in spec.get("datasets", {}).values() for row in rows]


# --- radar geometry ------------------------------------------------------------------------

def test_radar_rows_put_each_score_on_its_spoke(framework):
    first, second, fourth = (framework.principles[i].id for i in (0, 1, 3))
    rows = cc.radar_rows(framework, {"A": scores_for(framework, {first: 50.0, second: 100.0, fourth: 20.0})}, "sv")
    by_principle = {r["principle"]: r for r in rows}
    # Six spokes, the first at twelve o'clock, clockwise: the second is 60 degrees to the right.
    top = by_principle[framework.principles[0].name.sv]
    assert (top["x"], top["y"]) == pytest.approx((0.0, 50.0), abs=1e-6)
    right = by_principle[framework.principles[1].name.sv]
    assert (right["x"], right["y"]) == pytest.approx((100 * math.cos(math.radians(30)), 50.0), abs=1e-4)
    bottom = by_principle[framework.principles[3].name.sv]
    assert (bottom["x"], bottom["y"]) == pytest.approx((0.0, -20.0), abs=1e-6)


def test_radar_rows_leave_out_principles_without_a_score(framework):
    values = {p.id: 40.0 for p in framework.principles}
    values[framework.principles[2].id] = None
    rows = cc.radar_rows(framework, {"A": scores_for(framework, values)}, "en")
    assert len(rows) == len(framework.principles) - 1
    assert framework.principles[2].name.en not in {r["principle"] for r in rows}
    assert all(math.hypot(r["x"], r["y"]) == pytest.approx(40.0, abs=1e-4) for r in rows)


def test_up_to_six_units_overlay_more_become_small_multiples(framework):
    units = {f"U{i}": scores_for(framework, {p.id: 10.0 * i for p in framework.principles}) for i in range(1, 8)}
    six = dict(list(units.items())[:cc.MAX_OVERLAY])
    overlay = cc.comparison_radar(framework, six, "sv").to_dict()
    assert "facet" not in overlay
    series = {r["series"] for r in spec_rows(cc.comparison_radar(framework, six, "sv")) if "series" in r}
    assert series == set(six)
    multiples = cc.comparison_radar(framework, units, "sv")
    spec = multiples.to_dict()
    assert spec["facet"]["field"] == "unit" and spec["columns"] == 6
    shapes = [r for r in spec_rows(multiples) if r.get("kind") == "unit"]
    assert {r["unit"] for r in shapes} == set(units)
    # Every unit panel carries its own grid (layers of a facet share one data set).
    grid_units = {r["unit"] for r in spec_rows(multiples) if r.get("kind") == "grid"}
    assert grid_units == set(units)


def test_unit_in_region_draws_the_band_behind_the_unit(framework):
    band = {p.id: (40.0, 50.0, 60.0) for p in framework.principles}
    chart = cc.unit_in_region(framework, "Åby", scores_for(framework, {p.id: 70.0 for p in framework.principles}),
                              band, "sv")
    rows = spec_rows(chart)
    medians = [r for r in rows if "median" in r and "q1" in r]
    assert len(medians) == len(framework.principles)
    assert all(math.hypot(r["x"], r["y"]) == pytest.approx(50.0, abs=1e-4) for r in medians)
    assert {r["series"] for r in rows if "series" in r} == {"Åby"}


# --- ranking, heatmap, trends, progress --------------------------------------------------------

def test_ranking_rows_keep_order_and_ties_and_drop_units_without_score():
    rows = [RankRow(1, "B", 80.0), RankRow(2, "A", 70.0), RankRow(2, "C", 70.0), RankRow(None, "D", None)]
    out = cc.ranking_rows(rows, highlight=["C"])
    assert [r["label"] for r in out] == ["1. B", "2. A", "2. C"]
    assert [r["highlight"] for r in out] == [False, False, True]


def test_ranking_bars_draw_the_median_rule(framework):
    pid = framework.principles[0].id
    chart = cc.ranking_bars(framework, pid, [RankRow(1, "B", 80.0), RankRow(2, "A", 60.0)], "en", median=70.0)
    rows = spec_rows(chart)
    assert {"median": 70.0, "what": t("reg.stat.median", "en")} in rows
    assert [r["unit"] for r in rows if "unit" in r] == ["B", "A"]


def test_heatmap_rows_name_levels_and_order_steps(framework):
    steps = [s.id for s in framework.steps]
    levels = [lv.id for lv in framework.active_levels()]
    cells = [HeatCell("Åby", steps[1], levels[1], 2, 3, {levels[1]: 2, "none": 1}),
             HeatCell("Åby", steps[0], "none", 0, 1, {"none": 1})]
    rows = cc.heatmap_rows(framework, cells, "sv")
    assert [r["step"] for r in rows] == [framework.step_by_id[steps[0]].name.sv, framework.step_by_id[steps[1]].name.sv]
    assert rows[0]["level"] == t("reg.level.none", "sv")
    assert rows[1]["level"] == framework.level_by_id[levels[1]].name.sv
    # The distribution reads from 'none' upwards.
    assert rows[1]["distribution"] == (f"{t('reg.level.none', 'sv')}: 1, "
                                       f"{framework.level_by_id[levels[1]].name.sv}: 2")


def test_heatmap_from_answers_shows_the_median_level(framework):
    steps = [s.id for s in framework.steps]
    levels = [lv.id for lv in framework.active_levels()]
    answers = [levels[0], levels[2], levels[3]]  # median_low of ranks 1, 3, 4 -> 3
    responses = [Response(unit="Åby", year=2025, side="public", steps={steps[0]: StepAnswer(level=lv)})
                 for lv in answers]
    cells = heatmap(framework, aggregate_responses(framework, responses), 2025)
    rows = cc.heatmap_rows(framework, cells, "en")
    assert rows == [{"unit": "Åby", "step": framework.steps[0].name.en, "step_order": 0,
                     "level": framework.level_by_id[levels[2]].name.en, "rank": 3, "answered": 3,
                     "distribution": ", ".join(f"{framework.level_by_id[lv].name.en}: 1" for lv in answers)}]


def test_heatmap_legend_shows_the_optional_level_only_when_used(framework):
    optional = [lv.id for lv in framework.optional_levels]
    assert optional, "the matrix has an optional level (mobilisation)"
    step = framework.steps[0].id
    plain = cc.level_heatmap_across(framework, [HeatCell("A", step, "information", 1, 1, {"information": 1})], "en")
    domain = plain.to_dict()["encoding"]["color"]["scale"]["domain"]
    assert framework.level_by_id[optional[0]].name.en not in domain
    used = cc.level_heatmap_across(framework, [HeatCell("A", step, optional[0], 5, 1, {optional[0]: 1})], "en")
    assert framework.level_by_id[optional[0]].name.en in used.to_dict()["encoding"]["color"]["scale"]["domain"]


def test_trend_rows_have_the_band_per_year_and_only_highlighted_units(framework):
    pid = framework.principles[0].id
    stats = {2024: {pid: Band(40.0, 50.0, 60.0, 3)}, 2025: {pid: Band(45.0, 55.0, 65.0, 3)}}
    points = [TrendPoint("A", pid, 2024, 42.0), TrendPoint("A", pid, 2025, 48.0), TrendPoint("B", pid, 2025, 90.0)]
    rows = cc.trend_rows(framework, points, stats, "sv", highlight=["A"])
    region = [(r["year"], r["q1"], r["score"], r["q3"]) for r in rows if r["kind"] == "region"]
    assert region == [(2024, 40.0, 50.0, 60.0), (2025, 45.0, 55.0, 65.0)]
    units = [(r["series"], r["year"], r["score"]) for r in rows if r["kind"] == "unit"]
    assert units == [("A", 2024, 42.0), ("A", 2025, 48.0)]


def test_trend_chart_matches_scores_from_answers(framework):
    key = next(iter(framework.statement_by_key))
    pid = key.split(".")[0]
    responses = [Response(unit="A", year=y, side="public", ratings={key: v}) for y, v in ((2024, 1), (2025, 3))]
    agg = aggregate_responses(framework, responses)
    points = [TrendPoint("A", s.principle_id, y, s.score) for y in (2024, 2025)
              for s in unit_scores(framework, agg, y)["A"]]
    rows = cc.trend_rows(framework, points, {}, "en", highlight=["A"])
    mine = [(r["year"], r["score"]) for r in rows if r["principle"] == framework.principle_by_id[pid].name.en]
    assert mine == [(2024, 1 / framework.scale.max * 100), (2025, 3 / framework.scale.max * 100)]


def test_progress_rows_count_unrecorded_as_not_started():
    p = Progress("dialogue", 5, {"done": 1, "under_way": 1, "not_started": 1, "not_applicable": 0, "unrecorded": 2},
                 score=30.0)
    rows = cc.progress_rows([p], lambda g: g.upper(), "sv")
    by_status = {r["status"]: r for r in rows}
    not_started = by_status[t("regional.status.not_started", "sv")]
    assert (not_started["count"], not_started["share"]) == (3, 0.6)
    assert by_status[t("regional.status.done", "sv")]["share"] == 0.2
    assert sum(r["count"] for r in rows) == 5
    assert {r["group"] for r in rows} == {"DIALOGUE"}


def test_score_deltas_are_after_minus_before(framework):
    a, b = framework.principles[0].id, framework.principles[1].id
    before = scores_for(framework, {a: 50.0, b: None})
    after = scores_for(framework, {a: 62.5, b: 40.0})
    deltas = {d["principle_id"]: d for d in cc.score_deltas(framework, before, after)}
    assert deltas[a]["delta"] == 12.5
    assert deltas[b]["delta"] is None and deltas[b]["after"] == 40.0
    assert all(d["before"] is None for d in cc.score_deltas(framework, None, after))


# --- export ----------------------------------------------------------------------------------

def test_charts_export_as_png_and_svg_with_swedish_letters(framework):
    chart = cc.comparison_radar(framework, {"Åby": scores_for(framework, {p.id: 60.0 for p in framework.principles})},
                                "sv")
    png = cc.chart_png(chart, "sv", scale=1)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = (int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big"))
    assert width > 200 and height > 200
    svg = cc.chart_svg(chart, "sv")
    assert svg.lstrip().startswith("<svg")
    assert "Åby" in svg
    assert framework.principle_by_id["long_term"].name.sv in svg


def test_swedish_exports_use_a_decimal_comma():
    chart = alt.Chart(alt.Data(values=[{"v": 2.5}])).mark_text().encode(text=alt.Text("v:Q", format=".1f"))
    assert ">2,5<" in cc.chart_svg(chart, "sv")
    assert ">2.5<" in cc.chart_svg(chart, "en")
