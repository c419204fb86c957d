"""Charts: the radar's geometry and the heatmap's cumulative fill, checked on the data behind them."""

from __future__ import annotations

import json
import math

import pytest

from assessment.charts import scores as charts
from assessment.framework.responses import Response, StepAnswer
from assessment.scoring.levels import StepLevel, step_levels
from assessment.scoring.scores import PrincipleScore, principle_scores


def scores_for(fw, values: dict[str, float | None]) -> list[PrincipleScore]:
    return [PrincipleScore(p.id, values.get(p.id), answered=3, dont_know=1, unanswered=0,
                           statements=len(p.statements)) for p in fw.principles]


def test_palette_is_okabe_ito_and_distinct():
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
    assert set(charts.PALETTE) <= okabe_ito
    assert len(set(charts.PALETTE)) == len(charts.PALETTE) >= 3


def test_radar_data_has_one_axis_per_principle_and_one_series_per_input(framework):
    a = scores_for(framework, {p.id: 10.0 * (i + 1) for i, p in enumerate(framework.principles)})
    b = scores_for(framework, {p.id: 50.0 for p in framework.principles})
    data = charts.radar_data(framework, {"A": a, "B": b}, "en")
    assert len(framework.principles) == 6
    assert sorted(data["series"].unique()) == ["A", "B"]
    for name in ("A", "B"):
        rows = data[data["series"] == name]
        assert list(rows["principle_id"]) == [p.id for p in framework.principles]
        assert list(rows["principle"]) == [p.name.en for p in framework.principles]


def test_radar_points_sit_at_the_score_as_radius(framework):
    values = {p.id: 7.5 + 15 * i for i, p in enumerate(framework.principles)}
    values[framework.principles[2].id] = None  # nothing numeric answered: plotted at the centre
    data = charts.radar_data(framework, {"only": scores_for(framework, values)}, "sv")
    n = len(framework.principles)
    for i, row in enumerate(data.itertuples()):
        expected = values[row.principle_id] or 0.0
        assert math.hypot(row.x, row.y) == pytest.approx(expected, abs=1e-4)
        if expected:
            # Spokes clockwise from twelve o'clock, evenly spaced.
            angle = math.pi / 2 - 2 * math.pi * i / n
            assert row.x == pytest.approx(expected * math.cos(angle), abs=1e-4)
            assert row.y == pytest.approx(expected * math.sin(angle), abs=1e-4)
    assert data.loc[2, "score"] is None or math.isnan(data.loc[2, "score"])


def test_radar_from_real_answers_matches_the_scores(framework):
    key = next(iter(framework.statement_by_key))
    principle_id = key.split(".")[0]
    response = Response(unit="Testby", year=2025, side="public", ratings={key: framework.scale.max})
    data = charts.radar_data(framework, {"x": principle_scores(framework, [response])}, "sv")
    row = data[data["principle_id"] == principle_id].iloc[0]
    assert math.hypot(row.x, row.y) == pytest.approx(100.0)
    assert row.answered == 1


def test_grid_rings_sit_at_the_scale_values_as_scores(scaled_framework):
    # One ring per value of a 1-5 scale: the lowest answer at the centre, the highest at 100.
    assert charts.grid_steps(scaled_framework(1, 5)) == [0.0, 25.0, 50.0, 75.0, 100.0]
    assert charts.grid_steps(scaled_framework(0, 10)) == [v * 10.0 for v in range(11)]


def test_grid_follows_the_scale(framework):
    steps = charts.grid_steps(framework)
    low, high = framework.scale.min, framework.scale.max
    assert steps == [(v - low) / (high - low) * 100 for v in framework.scale.values]
    grid = charts.radar_grid(framework)
    assert sorted(grid["ring"].unique()) == [s for s in steps if s > 0]
    for ring, group in grid.groupby("ring"):
        assert len(group) == len(framework.principles)
        for row in group.itertuples():
            assert math.hypot(row.x, row.y) == pytest.approx(ring, abs=1e-4)


def test_band_ring_runs_between_the_quartiles(framework):
    band = {p.id: (20.0 + i, 40.0 + i, 60.0 + i) for i, p in enumerate(framework.principles)}
    ring, medians = charts.band_data(framework, band)
    radii = [round(math.hypot(x, y), 3) for x, y in zip(ring["x"], ring["y"])]
    n = len(framework.principles)
    assert radii[:n] == [60.0 + i for i in range(n)]  # out along the upper quartiles
    inner = {20.0 + i for i in range(n)}
    assert set(radii[n + 1:]) - {60.0} == inner  # back along the lower quartiles
    assert [round(math.hypot(x, y), 3) for x, y in zip(medians["x"], medians["y"])] == [40.0 + i for i in range(n)]


def test_radar_chart_spec_has_series_legend_and_band(framework):
    band = {p.id: (25.0, 50.0, 75.0) for p in framework.principles}
    chart = charts.radar_chart(framework, {"Alla": scores_for(framework, {}),
                                           "Offentlig": scores_for(framework, {p.id: 80.0 for p in framework.principles})},
                               "sv", band=band)
    spec = chart.to_dict()
    text = json.dumps(spec, ensure_ascii=False)
    layers = spec["layer"]
    colour_scales = [layer["encoding"]["color"]["scale"] for layer in layers
                     if "color" in layer.get("encoding", {}) and "field" in layer["encoding"]["color"]]
    assert colour_scales and all(s["domain"] == ["Alla", "Offentlig"] for s in colour_scales)
    assert all(c in charts.PALETTE for s in colour_scales for c in s["range"])
    assert any(layer["mark"].get("strokeDash") for layer in layers if isinstance(layer["mark"], dict))
    assert framework.principles[0].name.sv.split()[0] in text
    without = json.dumps(charts.radar_chart(framework, {"A": scores_for(framework, {})}, "sv").to_dict())
    assert "strokeDash" not in without


def test_quartile_band_of_several_groups(framework):
    groups = [scores_for(framework, {p.id: v for p in framework.principles}) for v in (10.0, 20.0, 30.0, 40.0, 50.0)]
    band = charts.quartile_band(framework, groups)
    assert set(band) == {p.id for p in framework.principles}
    for q1, median, q3 in band.values():
        assert (q1, median, q3) == (20.0, 30.0, 40.0)


# --- heatmap -----------------------------------------------------------------------------------

def test_heatmap_fill_is_cumulative_up_to_the_level_reached(framework):
    core = [lv.id for lv in framework.active_levels()]
    reached = {step.id: (["none"] + core)[i % (len(core) + 1)] for i, step in enumerate(framework.steps)}
    response = Response(unit="Testby", year=2025, side="public",
                        steps={s: StepAnswer(level=lv) for s, lv in reached.items()})
    data = charts.heatmap_data(framework, step_levels(framework, [response]), "en")
    assert list(data["step_id"].unique()) == [s.id for s in framework.steps]
    assert list(data["level_id"].unique()) == core
    for row in data.itertuples():
        rank = framework.level_rank(reached[row.step_id])
        should_fill = framework.level_rank(row.level_id) <= rank
        assert row.filled == should_fill, (row.step_id, row.level_id)
        assert row.count == (1 if should_fill else 0)
        assert (row.text == "✓") == (row.level_id == reached[row.step_id])


def test_heatmap_counts_respondents_per_cell(framework):
    core = [lv.id for lv in framework.active_levels()]
    step = framework.steps[0].id
    answers = [core[0], core[1], core[1], core[-1]]
    responses = [Response(unit="Testby", year=2025, side="civil_society", steps={step: StepAnswer(level=lv)})
                 for lv in answers]
    data = charts.heatmap_data(framework, step_levels(framework, responses), "sv")
    row_of = {row.level_id: row for row in data[data["step_id"] == step].itertuples()}
    for level in core:
        at_least = sum(1 for lv in answers if framework.level_rank(lv) >= framework.level_rank(level))
        assert row_of[level].count == at_least
        assert row_of[level].share == pytest.approx(at_least / len(answers))
        if at_least:
            assert row_of[level].text.startswith(f"{at_least}/{len(answers)}")
    median = step_levels(framework, responses)[0].level_id
    assert row_of[median].text.endswith("✓")
    assert sum(row.text.endswith("✓") for row in row_of.values()) == 1


def test_heatmap_optional_level_only_when_switched_on(framework):
    optional = [lv.id for lv in framework.optional_levels]
    if not optional:
        pytest.skip("the matrix has no optional level")
    levels = [StepLevel(s.id, "none", 0) for s in framework.steps]
    assert optional[0] not in set(charts.heatmap_data(framework, levels, "sv")["level_id"])
    assert optional[0] in set(charts.heatmap_data(framework, levels, "sv", optional)["level_id"])


def test_level_heatmap_spec_uses_framework_texts(framework):
    spec = charts.level_heatmap(framework, step_levels(framework, []), "en").to_dict()
    text = json.dumps(spec, ensure_ascii=False)
    for step in framework.steps:
        assert step.name.en in text
    for level in framework.active_levels():
        assert level.name.en in text


def test_charts_render_to_png_and_svg(framework):
    """The specs are valid for a real Vega renderer (the results page's image downloads)."""
    import vl_convert as vlc

    radar = charts.radar_chart(framework, {"A": scores_for(framework, {p.id: 60.0 for p in framework.principles})},
                               "sv", band={p.id: (40.0, 50.0, 70.0) for p in framework.principles})
    png = vlc.vegalite_to_png(radar.to_json())
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = vlc.vegalite_to_svg(charts.level_heatmap(framework, step_levels(framework, []), "en").to_json())
    assert "<svg" in svg and framework.steps[0].name.en in svg
