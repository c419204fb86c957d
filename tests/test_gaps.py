"""Gap table: both sides' views side by side, values worked out by hand."""

from __future__ import annotations

import pytest

from assessment.framework.matrix import Framework
from assessment.framework.responses import Response
from assessment.scoring.gaps import Gap, gap_table, level_percent


def text(word: str) -> dict:
    return {"sv": word, "en": word}


def tiny_framework(low: int = 0, high: int = 4) -> Framework:
    """Two principles (3 statements), two steps, four levels + optional mobilisation; scale 0-4."""
    levels = ["information", "consultation", "dialogue", "partnership"]
    steps = ["agenda", "decision"]
    cells = [{"step": s, "level": lv, "tools": [{"id": f"{lv}_{s}", "name": text("t"), "description": text("t")}]}
             for s in steps for lv in levels]
    return Framework.model_validate({
        "title": text("Tiny"),
        "scale": {"min": low, "max": high, "dont_know": text("?"),
                  "labels": [{"value": v, "label": text(str(v))} for v in range(low, high + 1)]},
        "levels": [{"id": lv, "name": text(lv), "description": text(lv)} for lv in levels]
        + [{"id": "mobilisation", "name": text("m"), "description": text("m"), "optional": True}],
        "steps": [{"id": s, "name": text(s), "description": text(s)} for s in steps],
        "cells": cells,
        "principles": [
            {"id": "independence", "name": text("i"), "description": text("i"),
             "statements": [{"id": "criticism", "text": text("c")}, {"id": "own_goals", "text": text("o")}]},
            {"id": "dialogue", "name": text("d"), "description": text("d"),
             "statements": [{"id": "early", "text": text("e")}]},
        ],
    })


def response(side: str, ratings: dict, steps: dict, extensions=()) -> Response:
    return Response(unit="Burlöv", year=2024, side=side, ratings=ratings,
                    steps={k: {"level": v} for k, v in steps.items()}, extensions=list(extensions))


@pytest.fixture
def fw() -> Framework:
    return tiny_framework()


def test_two_sides_compared_statement_and_step(fw):
    responses = [
        # public: criticism 4 and 2 -> mean 3 -> 75; own_goals 1 -> 25; early dont_know only -> None
        response("public", {"independence.criticism": 4, "independence.own_goals": 1,
                            "dialogue.early": "dont_know"},
                 {"agenda": "partnership", "decision": "consultation"}),
        response("public", {"independence.criticism": 2}, {"agenda": "dialogue"}),
        # civil society: criticism 0 -> 0; own_goals 3 -> 75; early 2 -> 50
        response("civil_society", {"independence.criticism": 0, "independence.own_goals": 3,
                                   "dialogue.early": 2},
                 {"agenda": "information", "decision": "consultation"}),
    ]
    gaps = {(g.kind, g.key): g for g in gap_table(fw, responses)}
    assert gaps[("statement", "independence.criticism")] == Gap("statement", "independence.criticism", 75.0, 0.0, 75.0)
    assert gaps[("statement", "independence.own_goals")] == Gap("statement", "independence.own_goals", 25.0, 75.0, -50.0)
    assert gaps[("statement", "dialogue.early")] == Gap("statement", "dialogue.early", None, 50.0, None)
    # agenda: public ranks [dialogue=3, partnership=4] -> median low 3 -> 3/4*100 = 75; civil: 1 -> 25
    assert gaps[("step", "agenda")] == Gap("step", "agenda", 75.0, 25.0, 50.0)
    # decision: both at consultation (2/4 -> 50)
    assert gaps[("step", "decision")] == Gap("step", "decision", 50.0, 50.0, 0.0)


def test_order_largest_absolute_difference_first_missing_last(fw):
    responses = [
        response("public", {"independence.criticism": 4, "independence.own_goals": 1},
                 {"agenda": "partnership", "decision": "consultation"}),
        response("civil_society", {"independence.criticism": 0, "independence.own_goals": 3,
                                   "dialogue.early": 2},
                 {"agenda": "dialogue", "decision": "consultation"}),
    ]
    order = [(g.kind, g.key, g.difference) for g in gap_table(fw, responses)]
    # criticism 100-0=100, own_goals 25-75=-50, agenda 100-75=25, decision 0, early missing
    assert order == [
        ("statement", "independence.criticism", 100.0),
        ("statement", "independence.own_goals", -50.0),
        ("step", "agenda", 25.0),
        ("step", "decision", 0.0),
        ("statement", "dialogue.early", None),
    ]


def test_one_side_without_any_response(fw):
    responses = [response("civil_society", {"dialogue.early": 4}, {"decision": "partnership"})]
    gaps = gap_table(fw, responses)
    assert all(g.public is None and g.difference is None for g in gaps)
    by_key = {g.key: g for g in gaps}
    assert by_key["dialogue.early"].civil_society == 100.0
    assert by_key["decision"].civil_society == 100.0
    assert by_key["agenda"].civil_society is None  # nobody answered that step
    assert len(gaps) == 3 + 2


def test_step_none_counts_as_zero_and_extensions_share_one_ladder(fw):
    # With mobilisation switched on by anyone, there are five levels for both sides.
    responses = [
        response("public", {}, {"agenda": "none"}),
        response("civil_society", {}, {"agenda": "mobilisation"}, extensions=["mobilisation"]),
        response("civil_society", {}, {"agenda": "partnership"}),
    ]
    agenda = next(g for g in gap_table(fw, responses) if g.key == "agenda")
    # civil ranks [4, 5] -> median low 4 = partnership -> 4/5*100 = 80; public none -> 0
    assert (agenda.public, agenda.civil_society, agenda.difference) == (0.0, 80.0, -80.0)
    assert level_percent(fw, "partnership") == 100.0
    assert level_percent(fw, "partnership", ["mobilisation"]) == 80.0


def test_statement_gap_on_a_one_to_five_scale():
    # 1 and 5 are the ends of the scale: 0 and 100, a gap of 100 points; 3 is the middle, 50.
    fw = tiny_framework(1, 5)
    gaps = gap_table(fw, [response("public", {"independence.criticism": 5, "dialogue.early": 3}, {}),
                          response("civil_society", {"independence.criticism": 1, "dialogue.early": 3}, {})])
    by_key = {g.key: g for g in gaps}
    assert by_key["independence.criticism"] == Gap("statement", "independence.criticism", 100.0, 0.0, 100.0)
    assert by_key["dialogue.early"] == Gap("statement", "dialogue.early", 50.0, 50.0, 0.0)
