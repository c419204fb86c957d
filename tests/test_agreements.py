"""Agreement files: the shipped Örebro agreement, and malformed files with located errors."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from assessment.framework.yamlsource import SourceError
from assessment.regional.agreements import AGREEMENTS_DIR, load_agreement, parse_agreement, shipped_agreements

OREBRO = AGREEMENTS_DIR / "orebro.yaml"
SEEDS = Path(__file__).resolve().parent.parent.parent / "shared" / "seeds"
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<path>\S+): (?P<message>.*)$")


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def test_orebro_has_every_commitment_of_both_parties(framework):
    agreement = load_agreement(OREBRO, framework)
    assert agreement.unit == "Örebro kommun"
    # The brochure lists 13 municipal and 8 civil-society commitments (pages 8-11).
    assert len(agreement.commitments_for("public")) == 13
    assert len(agreement.commitments_for("civil_society")) == 8
    assert all(c.principles for c in agreement.commitments)
    assert {p for c in agreement.commitments for p in c.principles} <= set(framework.principle_by_id)


def test_orebro_swedish_texts_are_the_source_texts(framework):
    seed = next(iter(SEEDS.glob("002_*.txt")), None)
    if seed is None:
        pytest.skip(f"the Örebro source document is not in {SEEDS}")
    source = squash(seed.read_text(encoding="utf-8"))
    agreement = load_agreement(OREBRO, framework)
    missing = [c.id for c in agreement.commitments if squash(c.text.sv) not in source]
    assert missing == []


def test_orebro_principles_follow_the_brackets_in_the_source(framework):
    by_id = load_agreement(OREBRO, framework).commitment_by_id
    # (principen om öppenhet, om dialog och om mångfald) etc., as printed after each commitment.
    assert by_id["development_centre"].principles == ["openness", "dialogue", "diversity"]
    assert by_id["support_information"].principles == ["openness", "diversity"]
    assert by_id["seek_dialogue"].principles == ["openness", "dialogue"]
    assert by_id["long_term_forms"].principles == ["long_term"]
    assert by_id["assert_identity"].principles == ["independence"]


def test_shipped_agreements_all_load(framework):
    ids = [a.id for a in shipped_agreements(framework)]
    assert "orebro" in ids and ids == sorted(ids)


BASE = yaml.safe_load(OREBRO.read_text(encoding="utf-8"))


def _set(path, value):
    def mutate(d):
        *head, last = path
        for part in head:
            d = d[part]
        d[last] = value
    return mutate


def _del(path):
    def mutate(d):
        *head, last = path
        for part in head:
            d = d[part]
        del d[last]
    return mutate


MALFORMED = [
    ("unknown principle", _set(("commitments", 2, "principles", 0), "qualityy"),
     "commitments[2].principles[0]", "unknown principle 'qualityy'"),
    ("unknown party", _set(("commitments", 0, "party"), "region"), "commitments[0].party", "'public'"),
    ("party not among the parties", lambda d: d["parties"].pop(1),
     "commitments[13].party", "not listed under parties"),
    ("duplicate commitment id", _set(("commitments", 1, "id"), "easy_contact"),
     "commitments[1].id", "duplicate commitment id 'easy_contact'"),
    ("missing English title", _del(("title", "en")), "title.en", "required field is missing"),
    ("bad adoption date", _set(("adopted",), "april 2009"), "adopted", "date"),
    ("no principles", _set(("commitments", 4, "principles"), []), "commitments[4].principles", "at least 1"),
    ("unknown key", _set(("commitments", 3, "weight"), 2), "commitments[3].weight", "unknown key"),
    ("bad id", _set(("id",), "Örebro 2009"), "id", "pattern"),
    ("principle twice", _set(("commitments", 0, "principles"), ["openness", "openness"]),
     "commitments[0].principles", "listed twice"),
]


@pytest.mark.parametrize("name,mutate,path,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_agreement_names_file_line_and_path(framework, name, mutate, path, words):
    data = copy.deepcopy(BASE)
    mutate(data)
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    with pytest.raises(SourceError) as caught:
        parse_agreement(text, "bad.yaml", framework)
    lines = str(caught.value).splitlines()
    matches = [LINE.match(line) for line in lines]
    assert all(matches), lines
    hit = [m for m in matches if m["path"] == path]
    assert hit, lines
    assert words in hit[0]["message"]
    # The line is in the file we wrote, at the offending key (or its parent when it is missing,
    # or the list item).
    line_text = text.splitlines()[int(hit[0]["line"]) - 1]
    assert any(part in line_text for part in re.findall(r"[a-z_]+", path)) or line_text.lstrip().startswith("-")


def test_yaml_syntax_error_is_located(framework):
    with pytest.raises(SourceError) as caught:
        parse_agreement("id: x\ntitle: [unclosed\n", "broken.yaml", framework)
    assert str(caught.value).startswith("broken.yaml:")
    assert "YAML syntax error" in str(caught.value)


def test_missing_file(framework, tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        load_agreement(tmp_path / "nope.yaml", framework)
