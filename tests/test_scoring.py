"""Scoring: principle scores, levels reached per step, advice, progress."""

from __future__ import annotations

import pytest

from assessment.framework.matrix import load_framework
from assessment.framework.responses import DONT_KNOW, Response, StepAnswer
from assessment.scoring.levels import advice, next_level, step_levels
from assessment.scoring.scores import by_side, principle_scores, progress, statement_scores


@pytest.fixture(scope="module")
def fw():
    return load_framework()


def keys_of(fw, principle_id):
    p = fw.principle_by_id[principle_id]
    return [f"{p.id}.{s.id}" for s in p.statements]


def make(fw, side="public", ratings=None, steps=None, **kw):
    return Response(unit="Testby", year=2026, side=side, ratings=ratings or {}, steps=steps or {}, **kw)


def score_of(scores, principle_id):
    return next(s for s in scores if s.principle_id == principle_id)


def test_score_is_mean_over_scale_max_times_100(fw):
    k = keys_of(fw, "independence")
    response = make(fw, ratings={k[0]: 4, k[1]: 2, k[2]: 3})
    s = score_of(principle_scores(fw, [response]), "independence")
    assert s.score == pytest.approx((4 + 2 + 3) / 3 / fw.scale.max * 100, abs=0.05)
    assert s.answered == 3
    assert s.unanswered == len(k) - 3


# (scale, ratings of one principle, score worked out by hand as (mean - min) / (max - min) * 100)
SCALES = [
    ((0, 4), [4, 2, 3], 75.0),  # mean 3, three quarters of the way from 0 to 4
    ((1, 5), [1, 1, 1], 0.0),  # the lowest answer scores 0 (not 1/5 = 20)
    ((1, 5), [3, 3, 3], 50.0),  # the middle of the scale (not 3/5 = 60)
    ((1, 5), [5, 5, 5], 100.0),
    ((1, 5), [2, 3, 5], 58.3),  # mean 10/3: (10/3 - 1) / 4 = 0.5833
    ((0, 10), [7, 9, 2], 60.0),
    ((0, 10), [0, 0, 1], 3.3),
]


@pytest.mark.parametrize("scale,ratings,expected", SCALES, ids=[f"{s[0]}-{s[1]}:{r}" for s, r, _ in SCALES])
def test_score_is_the_mean_answers_position_on_the_scale(scaled_framework, scale, ratings, expected):
    fw = scaled_framework(*scale)
    k = keys_of(fw, "independence")
    response = make(fw, ratings=dict(zip(k, ratings)))
    assert score_of(principle_scores(fw, [response]), "independence").score == expected
    single = next(s for s in statement_scores(fw, [response]) if s.key == k[0])
    assert single.score == round((ratings[0] - scale[0]) / (scale[1] - scale[0]) * 100, 1)


def test_scale_percent_ends_and_middle(scaled_framework):
    scale = scaled_framework(1, 5).scale
    assert [scale.percent(v) for v in scale.values] == [0.0, 25.0, 50.0, 75.0, 100.0]


def test_dont_know_is_left_out_and_counted(fw):
    k = keys_of(fw, "dialogue")
    response = make(fw, ratings={k[0]: 1, k[1]: DONT_KNOW, k[2]: DONT_KNOW})
    s = score_of(principle_scores(fw, [response]), "dialogue")
    assert s.score == pytest.approx(1 / fw.scale.max * 100, abs=0.05)
    assert (s.answered, s.dont_know) == (1, 2)


def test_only_dont_know_gives_no_score(fw):
    k = keys_of(fw, "quality")
    s = score_of(principle_scores(fw, [make(fw, ratings={k[0]: DONT_KNOW})]), "quality")
    assert s.score is None and s.answered == 0 and s.dont_know == 1


def test_partial_answers_score_each_principle_separately(fw):
    k = keys_of(fw, "openness")
    scores = principle_scores(fw, [make(fw, ratings={k[0]: 0, k[1]: 4})])
    assert score_of(scores, "openness").score == pytest.approx(50.0)
    others = [s for s in scores if s.principle_id != "openness"]
    assert all(s.score is None and s.answered == 0 for s in others)
    assert [s.principle_id for s in scores] == [p.id for p in fw.principles]


def test_several_respondents_pool_ratings(fw):
    k = keys_of(fw, "diversity")
    a = make(fw, ratings={k[0]: 4, k[1]: 4})
    b = make(fw, side="civil_society", ratings={k[0]: 1})
    s = score_of(principle_scores(fw, [a, b]), "diversity")
    assert s.score == pytest.approx((4 + 4 + 1) / 3 / fw.scale.max * 100, abs=0.05)
    assert s.answered == 3


def test_statement_scores(fw):
    key = keys_of(fw, "long_term")[0]
    a, b = make(fw, ratings={key: 3}), make(fw, ratings={key: DONT_KNOW})
    st = next(s for s in statement_scores(fw, [a, b]) if s.key == key)
    assert st.score == pytest.approx(3 / fw.scale.max * 100, abs=0.05)
    assert (st.answered, st.dont_know) == (1, 1)


def test_step_level_is_the_level_reached(fw):
    response = make(fw, steps={"agenda": StepAnswer(level="dialogue", tools=[]),
                               "decision": StepAnswer(level="none")})
    levels = {lv.step_id: lv for lv in step_levels(fw, [response])}
    assert levels["agenda"].level_id == "dialogue"
    assert levels["decision"].level_id == "none"
    assert levels["monitoring"].level_id == "none" and levels["monitoring"].answered == 0


def test_group_level_is_median_with_distribution(fw):
    answers = ["information", "dialogue", "partnership"]
    responses = [make(fw, steps={"drafting": StepAnswer(level=lv)}) for lv in answers]
    drafting = next(lv for lv in step_levels(fw, responses) if lv.step_id == "drafting")
    assert drafting.level_id == "dialogue"
    assert drafting.distribution == {"information": 1, "dialogue": 1, "partnership": 1}
    assert drafting.answered == 3


def test_tools_used_are_counted_once_per_respondent(fw):
    tool = fw.cell("agenda", "information").tools[0].id
    responses = [make(fw, steps={"agenda": StepAnswer(level="information", tools=[tool, tool])}),
                 make(fw, steps={"agenda": StepAnswer(level="information", tools=[tool])})]
    agenda = step_levels(fw, responses)[0]
    assert agenda.tools_used == {tool: 2}


def test_advice_gives_tools_of_next_level(fw):
    response = make(fw, steps={"agenda": StepAnswer(level="consultation")})
    tips = {a.step_id: a for a in advice(fw, step_levels(fw, [response]))}
    assert tips["agenda"].next_level == "dialogue"
    assert tips["agenda"].tools == tuple(fw.cell("agenda", "dialogue").tools)
    assert tips["implementation"].next_level == fw.active_levels()[0].id


def test_advice_at_top_level_and_with_mobilisation(fw):
    top = fw.active_levels()[-1].id
    response = make(fw, steps={"monitoring": StepAnswer(level=top)})
    levels = step_levels(fw, [response])
    monitoring = next(a for a in advice(fw, levels) if a.step_id == "monitoring")
    assert monitoring.next_level is None and monitoring.tools == ()
    optional = [lv.id for lv in fw.optional_levels]
    if optional:
        with_ext = next(a for a in advice(fw, levels, optional) if a.step_id == "monitoring")
        assert with_ext.next_level == optional[0]
        cell = fw.cell("monitoring", optional[0])
        assert with_ext.tools == (tuple(cell.tools) if cell else ())


def test_next_level_from_none_is_first(fw):
    assert next_level(fw, "none").id == fw.levels[0].id


def test_progress_counts_steps_and_statements(fw):
    k = fw.statement_keys
    response = make(fw, ratings={k[0]: 2, k[1]: DONT_KNOW}, steps={"agenda": StepAnswer()})
    done, total = progress(fw, response)
    assert total == len(fw.steps) + len(k)
    assert done == 3


def test_by_side_groups(fw):
    a, b, c = make(fw), make(fw, side="civil_society"), make(fw)
    groups = by_side([a, b, c])
    assert groups["public"] == [a, c] and groups["civil_society"] == [b]
