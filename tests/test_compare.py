"""Comparison statistics against values worked out by hand, and the database path
(summary tables on SQLite and PostgreSQL) against the pure path over Response objects."""

from __future__ import annotations

import statistics

import pytest

from assessment.framework.responses import DONT_KNOW, Response, StepAnswer
from assessment.regional import aggregates, compare, summaries, summary_freshness
from assessment.scoring.levels import step_levels
from assessment.scoring.scores import principle_scores
from assessment.store import tables
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments
from assessment.store.responses import Responses


def keys(fw, principle_id):
    p = fw.principle_by_id[principle_id]
    return [f"{p.id}.{s.id}" for s in p.statements]


def resp(fw, unit, year, side="public", quality=(), steps=None, **ratings):
    """A response rating the first statements of 'quality' with the given values."""
    rated = dict(zip(keys(fw, "quality"), quality))
    for principle_id, values in ratings.items():
        rated.update(zip(keys(fw, principle_id), values))
    return Response(unit=unit, year=year, side=side, ratings=rated,
                    steps={k: StepAnswer(level=v) for k, v in (steps or {}).items()})


@pytest.fixture
def region(framework):
    fw = framework
    return [
        resp(fw, "A", 2024, quality=(4, 4), steps={"agenda": "dialogue"}),
        resp(fw, "A", 2024, "civil_society", quality=(0, 0), steps={"agenda": "information"}),
        resp(fw, "A", 2024, "civil_society", steps={"agenda": "none"}),
        resp(fw, "B", 2024, quality=(3, 3)),
        resp(fw, "C", 2024, quality=(3, 3), steps={"agenda": "partnership", "drafting": "consultation"}),
        resp(fw, "D", 2024, quality=(1, 1)),
        resp(fw, "E", 2024, quality=(DONT_KNOW,)),
        resp(fw, "A", 2022, quality=(2, 2)),
        resp(fw, "A", 2023, quality=(3, 3)),
        resp(fw, "B", 2023, quality=(2, 1)),
    ]


def score(scores, unit, principle_id="quality"):
    return next(s.score for s in scores[unit] if s.principle_id == principle_id)


def test_unit_scores_by_hand_and_by_side(framework, region):
    agg = aggregates.aggregate_responses(framework, region)
    public = aggregates.unit_scores(framework, agg, 2024, side="public")
    assert {u: score(public, u) for u in public} == {"A": 100.0, "B": 75.0, "C": 75.0, "D": 25.0, "E": None}
    both = aggregates.unit_scores(framework, agg, 2024)
    assert score(both, "A") == 50.0  # (4 + 4 + 0 + 0) / 4 / 4 * 100: both sides pooled
    civil = aggregates.unit_scores(framework, agg, 2024, side="civil_society")
    assert list(civil) == ["A"] and score(civil, "A") == 0.0
    # E answered "don't know" once: counted beside the score, not in it.
    e = next(s for s in public["E"] if s.principle_id == "quality")
    assert (e.answered, e.dont_know, e.unanswered) == (0, 1, len(keys(framework, "quality")) - 1)


def test_unit_scores_match_scoring_module(framework, region):
    agg = aggregates.aggregate_responses(framework, region)
    for side in (None, "public", "civil_society"):
        scores = aggregates.unit_scores(framework, agg, 2024, side=side)
        for unit, got in scores.items():
            mine = [r for r in region if r.unit == unit and r.year == 2024 and side in (None, r.side)]
            assert got == principle_scores(framework, mine)


def test_region_median_and_quartiles_by_hand(framework, region):
    agg = aggregates.aggregate_responses(framework, region)
    stats = compare.region_stats(framework, aggregates.unit_scores(framework, agg, 2024, side="public"))
    band = stats["quality"]
    # Scores 25, 75, 75, 100 (E has none). Inclusive quartiles: position (n - 1) * p.
    # q1 at 0.75: 25 + 0.75 * (75 - 25) = 62.5; median 75; q3 at 2.25: 75 + 0.25 * (100 - 75) = 81.25.
    assert (band.q1, band.median, band.q3, band.n) == (62.5, 75.0, 81.25, 4)
    assert (band.min, band.max) == (25.0, 100.0)
    assert stats["independence"] == compare.Band(None, None, None, 0)
    assert compare.band_for_radar(stats) == {"quality": (62.5, 75.0, 81.25)}


def test_band_edge_cases():
    assert compare.band_of([40.0]) == compare.Band(40.0, 40.0, 40.0, 1, 40.0, 40.0)
    # Two values: q1 at 0.25, median at 0.5, q3 at 0.75 of the way.
    two = compare.band_of([40.0, 80.0])
    assert (two.q1, two.median, two.q3) == (50.0, 60.0, 70.0)
    values = [12.5, 40.0, 41.7, 66.7, 90.0]
    band = compare.band_of(values)
    expected = statistics.quantiles(values, n=4, method="inclusive")
    assert (band.q1, band.median, band.q3) == tuple(round(x, 2) for x in expected)


def test_ranking_shares_ranks_on_ties_and_puts_missing_last(framework, region):
    agg = aggregates.aggregate_responses(framework, region)
    rows = compare.ranking(aggregates.unit_scores(framework, agg, 2024, side="public"), "quality")
    assert [(r.rank, r.unit, r.score) for r in rows] == [
        (1, "A", 100.0), (2, "B", 75.0), (2, "C", 75.0), (4, "D", 25.0), (None, "E", None)]


def test_heatmap_level_is_median_low_of_respondents(framework, region):
    agg = aggregates.aggregate_responses(framework, region)
    cells = {(c.unit, c.step_id): c for c in compare.heatmap(framework, agg, 2024)}
    # A, agenda: ranks dialogue 3, information 1, none 0 -> sorted 0, 1, 3 -> median_low 1.
    a = cells[("A", "agenda")]
    assert (a.level_id, a.rank, a.answered) == ("information", 1, 3)
    assert a.distribution == {"dialogue": 1, "information": 1, "none": 1}
    assert cells[("C", "drafting")].level_id == "consultation"
    assert ("B", "agenda") not in cells  # B answered no steps
    public = {(c.unit, c.step_id): c.level_id for c in compare.heatmap(framework, agg, 2024, side="public")}
    assert public[("A", "agenda")] == "dialogue"
    # Same as scoring.step_levels for every cell.
    for (unit, step_id), cell in cells.items():
        mine = [r for r in region if r.unit == unit and r.year == 2024]
        expected = next(s for s in step_levels(framework, mine) if s.step_id == step_id)
        assert (cell.level_id, cell.distribution) == (expected.level_id, expected.distribution)


def test_trends_and_region_median_per_year(framework, region):
    agg = aggregates.aggregate_responses(framework, region, side="public")
    points = compare.trends(framework, agg)
    a_quality = [(p.year, p.score) for p in points if p.unit == "A" and p.principle_id == "quality"]
    assert a_quality == [(2022, 50.0), (2023, 75.0), (2024, 100.0)]
    assert compare.trend_change(points, "quality", "A") == 50.0
    assert compare.trend_change(points, "quality", "C") is None  # one year only
    medians = {(p.year, p.principle_id): p.score for p in compare.region_trend(framework, agg)}
    # 2023: A 75.0 and B (2 + 1) / 2 / 4 * 100 = 37.5 -> median 56.25
    assert medians[(2023, "quality")] == 56.25
    assert medians[(2024, "quality")] == 75.0


def test_comparison_bundle_and_table(framework, region):
    agg = aggregates.aggregate_responses(framework, region, side="public")
    result = compare.comparison_from(framework, agg, "public")
    assert result.year == 2024 and result.years == [2022, 2023, 2024]
    assert sorted(result.scores) == [2022, 2023, 2024]
    assert result.rankings["quality"][0].unit == "A"
    header, rows = compare.comparison_table(framework, result, "en")
    quality_col = header.index(framework.principle_by_id["quality"].name("en"))
    by_unit = {row[0]: row for row in rows}
    assert by_unit["C"][quality_col] == 75.0 and by_unit["C"][quality_col + 1] == 2
    assert rows[-2][quality_col] == 75.0  # the group median row


@pytest.mark.parametrize("side", [None, "public", "civil_society"])
def test_comparison_bundle_agrees_with_the_single_functions(framework, region, side):
    agg = aggregates.aggregate_responses(framework, region, side=side)
    result = compare.comparison_from(framework, agg)
    for year in result.years:
        scores = aggregates.unit_scores(framework, agg, year)
        if not scores:
            assert year not in result.scores
            continue
        assert result.scores[year] == scores
        assert result.stats[year] == compare.region_stats(framework, scores)
    assert result.rankings == compare.rankings(framework, result.scores[result.year])
    assert sorted(result.trends, key=lambda p: (p.unit, p.principle_id, p.year)) == compare.trends(framework, agg)
    assert sorted(result.region_trend) == sorted(compare.region_trend(framework, agg))


def test_bad_side_is_rejected(framework, region):
    agg = aggregates.aggregate_responses(framework, region)
    with pytest.raises(ValueError, match="unknown side"):
        aggregates.unit_scores(framework, agg, 2024, side="everyone")


# --- the database path -------------------------------------------------------------------------

def test_database_path_equals_pure_path(engine, framework, region):
    assessments, responses = Assessments(engine), Responses(engine)
    assessments.ensure_unit("A", region="Län X")
    assessments.ensure_unit("B", region="Län X")
    responses.add_responses(region)
    for side in (None, "public", "civil_society"):
        from_db = aggregates.load_aggregates(engine, framework, side=side)
        pure = aggregates.aggregate_responses(framework, region, side=side)
        assert from_db.units == pure.units and from_db.years == pure.years
        for year in pure.years:
            assert aggregates.unit_scores(framework, from_db, year) == aggregates.unit_scores(framework, pure, year)
            assert compare.heatmap(framework, from_db, year) == compare.heatmap(framework, pure, year)
        assert compare.comparison_from(framework, from_db, side).stats == \
            compare.comparison_from(framework, pure, side).stats
    only = compare.compare(engine, framework, units=["A", "D"], years=[2024], side="public")
    assert sorted(only.scores[2024]) == ["A", "D"]
    in_region = compare.compare(engine, framework, region="Län X")
    assert in_region.units == ["A", "B"]
    assert summaries.unit_info(engine)["A"] == ("municipality", "Län X")


def test_database_path_scores_on_a_one_to_five_scale(engine, scaled_framework):
    # The summaries hold sums, not scores: the score is made when read, on the matrix's own scale.
    fw = scaled_framework(1, 5)
    items = [resp(fw, "A", 2024, quality=(1, 1)), resp(fw, "B", 2024, quality=(3, 5)),
             resp(fw, "B", 2024, "civil_society", quality=(5, 5))]
    Responses(engine, fw).add_responses(items)
    public = aggregates.unit_scores(fw, aggregates.load_aggregates(engine, fw, side="public"), 2024)
    assert (score(public, "A"), score(public, "B")) == (0.0, 75.0)  # 1 is 0; mean 4 is 3/4 of 1-5
    from_db = aggregates.load_aggregates(engine, fw)
    assert score(aggregates.unit_scores(fw, from_db, 2024), "B") == 87.5  # both sides: mean 18 / 4 = 4.5
    assert aggregates.score_values(fw, from_db, 2024)["A"][[p.id for p in fw.principles].index("quality")] == 0.0
    for unit in ("A", "B"):
        mine = [r for r in items if r.unit == unit]
        assert aggregates.unit_scores(fw, from_db, 2024)[unit] == principle_scores(fw, mine)


def test_comparison_follows_every_kind_of_change(engine, framework, region):
    assessments, answers, responses = Assessments(engine), Answers(engine), Responses(engine)
    responses.add_responses(region)
    before = compare.compare(engine, framework, years=[2024], side="public")
    assert score(before.scores[2024], "D") == 25.0

    # A new answer through the questionnaire path.
    info = assessments.find_assessment("D", 2024)
    token = answers.start_response(info.token, "public")
    answers.save_rating(token, keys(framework, "quality")[0], 4)
    after = compare.compare(engine, framework, years=[2024], side="public")
    assert score(after.scores[2024], "D") == 50.0  # (1 + 1 + 4) / 3 / 4 * 100
    # A changed rating of an existing response (no new row).
    answers.save_rating(token, keys(framework, "quality")[0], 0)
    assert score(compare.compare(engine, framework, years=[2024], side="public").scores[2024], "D") == \
        round(2 / 3 / 4 * 100, 1)
    # A cleared rating, then a deleted response.
    answers.save_rating(token, keys(framework, "quality")[0], None)
    assert score(compare.compare(engine, framework, years=[2024], side="public").scores[2024], "D") == 25.0
    answers.delete_response(token)
    final = compare.compare(engine, framework, years=[2024], side="public")
    assert final.scores == before.scores
    # Everything matches a fresh computation from the stored responses.
    fresh = aggregates.aggregate_responses(framework, responses.responses_where(years=[2024]), side="public")
    assert aggregates.unit_scores(framework, fresh, 2024) == final.scores[2024]


def test_a_new_process_trusts_the_marker_only_while_nothing_changed(engine, framework, region):
    assessments, answers, responses = Assessments(engine), Answers(engine), Responses(engine)
    responses.add_responses(region)
    compare.compare(engine, framework)  # every summary current; the database remembers it
    summary_freshness.clear_cache()  # as a freshly started process
    quality = [p.id for p in framework.principles].index("quality")
    assert compare.compare(engine, framework, years=[2024], side="public").scores[2024]["B"][quality].score == 75.0
    summary_freshness.clear_cache()
    info = assessments.find_assessment("B", 2024)
    token = answers.start_response(info.token, "public")
    answers.save_rating(token, keys(framework, "quality")[0], 0)  # (3 + 3 + 0) / 3 / 4 * 100 = 50
    assert compare.compare(engine, framework, years=[2024], side="public").scores[2024]["B"][quality].score == 50.0
    summary_freshness.clear_cache()
    answers.delete_response(token)
    assert compare.compare(engine, framework, years=[2024], side="public").scores[2024]["B"][quality].score == 75.0


def test_data_version_changes_with_the_data(sqlite_engine, framework, region):
    assessments, responses = Assessments(sqlite_engine), Responses(sqlite_engine)
    empty = summary_freshness.data_version(sqlite_engine)
    responses.add_responses(region[:2])
    added = summary_freshness.data_version(sqlite_engine)
    assert added != empty
    assert summary_freshness.data_version(sqlite_engine) == added  # stable while nothing changes
    assessments.update_unit("A", region="Län Y")
    assert summary_freshness.data_version(sqlite_engine) != added


def test_summaries_rebuilt_when_dropped(sqlite_engine, framework, region):
    responses = Responses(sqlite_engine)
    responses.add_responses(region)
    first = compare.compare(sqlite_engine, framework)
    with sqlite_engine.begin() as conn:
        for table in tables.SUMMARY_TABLES:
            conn.execute(table.delete())
    summary_freshness.clear_cache()
    assert compare.compare(sqlite_engine, framework) == first
    assert summaries.refresh_summaries(sqlite_engine, framework) == 0  # up to date now
