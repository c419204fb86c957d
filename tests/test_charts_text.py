"""Every chart carries a text alternative: its values in words, as the chart's description
(Vega turns it into the drawn chart's aria-label; tests/test_accessibility.py checks the pages)."""

from __future__ import annotations

from assessment.charts import comparison as cc
from assessment.charts import scores as charts
from assessment.regional.compare import Band, HeatCell, RankRow, TrendPoint
from assessment.regional.followup import Progress
from assessment.scoring.levels import StepLevel
from assessment.scoring.scores import PrincipleScore
from assessment.workshop.tallies import Counts, Tally
from assessment.workshop.views_support import tally_chart


def description(chart) -> str:
    spec = chart.to_dict()
    assert spec["config"]["mark"]["aria"] is False  # marks hidden: the description speaks for them
    text = spec["description"]
    assert text.strip() and "\n" not in text
    return text


def scores(fw, values):
    return [PrincipleScore(p.id, v, 3 if v is not None else 0, 0, 0, len(p.statements))
            for p, v in zip(fw.principles, values)]


def test_radar_reads_every_score_and_the_band(framework):
    first, second = framework.principles[0], framework.principles[1]
    text = description(charts.radar_chart(framework, {"Alla": scores(framework, [62.5, None, 10, 20, 30, 40])},
                                          "sv", band={first.id: (25.0, 50.0, 75.0)}))
    assert f"Alla: {first.name.sv} 62,5, {second.name.sv} –, " in text  # a missing score is a dash
    assert f"{first.name.sv} 25,0–75,0, 50,0" in text  # the band: quartiles, then the median
    english = description(charts.radar_chart(framework, {"All": scores(framework, [62.5] * 6)}, "en"))
    assert f"All: {first.name.en} 62.5" in english and "middle half" not in english


def test_heatmap_reads_the_level_of_every_step(framework):
    steps = framework.steps
    levels = [StepLevel(steps[0].id, "dialogue", 3), StepLevel(steps[1].id, "none", 1), StepLevel(steps[2].id, "none", 0)]
    text = description(charts.level_heatmap(framework, levels, "en"))
    assert f"{steps[0].name.en} Dialogue (3 answers)" in text
    assert f"{steps[1].name.en} None," in text  # answered: no participation
    assert f"{steps[2].name.en} –" in text  # not answered


def test_comparison_charts_read_their_values(framework):
    principle = framework.principles[0]
    many = {f"Kommun {i}": scores(framework, [10.0 * i] * 6) for i in range(1, 9)}
    assert f"Kommun 8: {principle.name.sv} 80,0" in description(cc.comparison_radar(framework, many, "sv"))
    ranked = [RankRow(1, "Bstad", 80.0), RankRow(2, "Astad", 40.0), RankRow(None, "Cby", None)]
    text = description(cc.ranking_bars(framework, principle.id, ranked, "sv", median=60.0))
    assert text.endswith("1. Bstad 80,0, 2. Astad 40,0, Median 60,0.")
    cells = [HeatCell("Astad", framework.steps[0].id, "consultation", 2, 4)]
    assert f"Astad: {framework.steps[0].name.sv} Samråd" in description(cc.level_heatmap_across(framework, cells, "sv"))
    band = {principle.id: Band(40.0, 50.0, 60.0, 3)}
    points = [TrendPoint("Astad", principle.id, 2025, 45.0), TrendPoint("Astad", principle.id, 2026, 55.0)]
    text = description(cc.trend_chart(framework, points, {2025: band, 2026: band}, "en", ["Astad"]))
    assert f"{principle.name.en}: Median 2025 50.0, 2026 50.0, Astad 2025 45.0, 2026 55.0" in text


def test_progress_and_vote_bars_read_their_counts(framework):
    progress = [Progress("public", 4, {"done": 3, "unrecorded": 1}, score=75.0)]
    text = description(cc.progress_bars(progress, lambda group: "Kommunen", "sv"))
    assert "Kommunen: Genomfört 3, Pågår 0, Ej påbörjat 1, Ej aktuellt 0" in text
    tally = Tally("c1", Counts(3, 1, 0), Counts(2, 0, 0), Counts(1, 1, 0))
    text = description(tally_chart(tally, "en"))
    assert "Everyone (n=4): ✅ Agree 3, ❌ Disagree 1, ➖ Pass 0; Public sector (n=2): ✅ Agree 2," in text
    assert "Civil society (n=2): ✅ Agree 1, ❌ Disagree 1, ➖ Pass 0." in text
