"""Response files: parsing, validation against the framework, YAML/JSON round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assessment.framework.matrix import load_framework
from assessment.framework.responses import Response, StepAnswer, dump_response, parse_response, read_response
from assessment.framework.yamlsource import SourceError

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def fw():
    return load_framework()


def sample(fw) -> Response:
    key = fw.statement_keys[0]
    tool = fw.cell("agenda", "consultation").tools[0].id
    return Response(unit="Exempelstad", year=2025, case="Fritidsgårdar", side="civil_society", role="Ordförande",
                    steps={"agenda": StepAnswer(level="consultation", tools=[tool])},
                    ratings={key: 3, fw.statement_keys[1]: "dont_know"},
                    comments={"general": "Bra dialog, men sent."})


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_round_trip(fw, fmt):
    original = sample(fw)
    again = parse_response(dump_response(original, fmt), f"r.{fmt}", fw)
    assert again == original


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")) + sorted(EXAMPLES.glob("*.json")),
                         ids=lambda p: p.name)
def test_shipped_examples_are_valid(fw, path):
    response = read_response(path, fw)
    assert response.ratings and response.steps


def _problem_for(fw, data: dict) -> str:
    with pytest.raises(SourceError) as caught:
        parse_response(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), "svar.yaml", fw)
    return str(caught.value)


def base(fw) -> dict:
    return yaml.safe_load(dump_response(sample(fw)))


def test_unknown_statement(fw):
    data = base(fw)
    data["ratings"]["independence.nonexistent"] = 2
    message = _problem_for(fw, data)
    assert "svar.yaml:" in message and "ratings.independence.nonexistent" in message
    assert "unknown statement" in message


def test_rating_off_scale(fw):
    data = base(fw)
    data["ratings"][fw.statement_keys[0]] = fw.scale.max + 1
    assert "outside the scale" in _problem_for(fw, data)


def test_rating_as_word(fw):
    data = base(fw)
    data["ratings"][fw.statement_keys[0]] = "maybe"
    assert f"ratings.{fw.statement_keys[0]}" in _problem_for(fw, data)


def test_bad_side(fw):
    data = base(fw)
    data["side"] = "business"
    message = _problem_for(fw, data)
    assert "side" in message and "business" in message


def test_unknown_level_and_tool(fw):
    data = base(fw)
    data["steps"]["agenda"] = {"level": "co_decision", "tools": ["carrier_pigeons"]}
    message = _problem_for(fw, data)
    assert "unknown level 'co_decision'" in message
    assert "'carrier_pigeons' is not a tool of step 'agenda'" in message


def test_optional_level_needs_its_extension(fw):
    optional = [lv.id for lv in fw.optional_levels]
    if not optional:
        pytest.skip("matrix has no optional level")
    data = base(fw)
    data["steps"]["agenda"] = {"level": optional[0], "tools": []}
    assert f"unknown level '{optional[0]}'" in _problem_for(fw, data)
    data["extensions"] = [optional[0]]
    parse_response(yaml.safe_dump(data, allow_unicode=True), "svar.yaml", fw)


def test_missing_unit_and_year(fw):
    data = base(fw)
    del data["unit"], data["year"]
    message = _problem_for(fw, data)
    assert "unit: required field is missing" in message and "year: required field is missing" in message
