"""The shipped matrix.yaml: complete, in the documented order, and adaptable without code.

The expected ids and Swedish names below are the contract other modules and the
documentation rely on (README.md, docs/architecture.md), not computed results.
"""

from __future__ import annotations

import copy
from collections import Counter

import pytest
import yaml

from assessment.framework.matrix import DEFAULT_MATRIX, get_framework, load_framework, statement_key
from assessment.framework.yamlsource import SourceError
from assessment.scoring.levels import StepLevel, advice
from assessment.scoring.scores import principle_scores

CORE_LEVELS = ["information", "consultation", "dialogue", "partnership"]
STEPS = {
    "agenda": "Fastställande av agendan",
    "drafting": "Formulering",
    "decision": "Beslut",
    "implementation": "Genomförande",
    "monitoring": "Granskning",
    "reformulation": "Omformulering",
}
PRINCIPLES = ["independence", "dialogue", "quality", "long_term", "openness", "diversity"]
SIDES = {"public", "civil_society", "both"}


@pytest.fixture(scope="module")
def fw():
    return load_framework(DEFAULT_MATRIX)


@pytest.fixture()
def raw():
    return yaml.safe_load(DEFAULT_MATRIX.read_text(encoding="utf-8"))


def _write(tmp_path, data) -> str:
    path = tmp_path / "region.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


# --- levels and steps -------------------------------------------------------

def test_core_levels_in_order_then_optional_mobilisation(fw):
    assert [lv.id for lv in fw.levels] == CORE_LEVELS + ["mobilisation"]
    assert not any(lv.optional for lv in fw.levels[:4])
    assert [lv.id for lv in fw.optional_levels] == ["mobilisation"]
    assert [lv.id for lv in fw.active_levels()] == CORE_LEVELS
    assert [lv.id for lv in fw.active_levels(["mobilisation"])] == CORE_LEVELS + ["mobilisation"]


def test_swedish_level_names(fw):
    names = [lv.name.sv for lv in fw.levels]
    assert names == ["Information", "Samråd", "Dialog", "Partnerskap", "Mobilisering"]


def test_six_steps_in_order_with_swedish_names(fw):
    assert [st.id for st in fw.steps] == list(STEPS)
    assert {st.id: st.name.sv for st in fw.steps} == STEPS


def test_english_step_names(fw):
    assert [st.name.en for st in fw.steps] == [
        "Agenda setting", "Drafting", "Decision", "Implementation", "Monitoring", "Reformulation"]


def test_scale_zero_to_four_with_a_label_each_and_dont_know(fw):
    assert (fw.scale.min, fw.scale.max) == (0, 4)
    assert sorted(item.value for item in fw.scale.labels) == [0, 1, 2, 3, 4]
    assert fw.scale.label(0, "en") == "Not at all true"
    assert fw.scale.label(4, "sv") == "Stämmer helt"
    assert fw.scale.dont_know.sv == "Vet inte"


# --- cells and tools --------------------------------------------------------

def test_every_core_cell_exists_with_tools(fw):
    for step in STEPS:
        for level in CORE_LEVELS:
            cell = fw.cell(step, level)
            assert cell is not None, (step, level)
            assert len(cell.tools) >= 1, (step, level)


def test_mobilisation_has_a_cell_for_every_step(fw):
    # So switching the extension on always offers advice at the top of the ladder.
    for step in STEPS:
        cell = fw.cell(step, "mobilisation")
        assert cell is not None and cell.tools, step


def test_no_cells_outside_the_grid(fw):
    keys = Counter((c.step, c.level) for c in fw.cells)
    assert set(keys) == {(s, lv) for s in STEPS for lv in CORE_LEVELS + ["mobilisation"]}
    assert max(keys.values()) == 1


def test_every_tool_is_named_and_described_in_both_languages(fw):
    for cell in fw.cells:
        for tool in cell.tools:
            for text in (tool.name, tool.description):
                assert text.sv.strip() and text.en.strip(), (cell.step, cell.level, tool.id)
            # A description left untranslated would show English to Swedish users.
            assert tool.description.sv != tool.description.en, tool.id


def test_tool_ids_differ_within_each_cell_and_each_step(fw):
    for cell in fw.cells:
        ids = [t.id for t in cell.tools]
        assert len(ids) == len(set(ids)), (cell.step, cell.level)
    # Answers store the tools used per step, across levels: an id must name one tool.
    for step in STEPS:
        ids = [t.id for c in fw.cells if c.step == step for t in c.tools]
        assert [i for i, n in Counter(ids).items() if n > 1] == [], step


# --- principles and statements ---------------------------------------------

def test_six_principles_in_order_with_enough_statements(fw):
    assert [p.id for p in fw.principles] == PRINCIPLES
    for principle in fw.principles:
        assert len(principle.statements) >= 4, principle.id
    assert fw.principles[0].name.sv == "Självständighet och oberoende"
    assert fw.principle_by_id["openness"].name.sv == "Öppenhet och insyn"


def test_statement_sides_are_valid_and_each_side_is_represented(fw):
    sides = Counter()
    for principle in fw.principles:
        for statement in principle.statements:
            assert statement.side in SIDES, statement_key(principle, statement)
            sides[statement.side] += 1
            assert statement.text.sv.strip() and statement.text.en.strip()
            assert statement.text.sv != statement.text.en
    assert set(sides) == SIDES


def test_documented_statement_keys_exist(fw):
    # Named in the docs and the workshop material.
    _, criticism = fw.statement_by_key["independence.criticism"]
    assert criticism.side == "both"
    assert fw.statement_by_key["openness.contact_points"][1].side == "public"
    assert "dialogue.yearly_meeting" in fw.statement_by_key


def test_all_ids_unique(fw):
    groups = {
        "levels": [lv.id for lv in fw.levels],
        "steps": [st.id for st in fw.steps],
        "principles": [p.id for p in fw.principles],
        "statement keys": fw.statement_keys,
    }
    for principle in fw.principles:
        groups[f"statements of {principle.id}"] = [s.id for s in principle.statements]
    for name, ids in groups.items():
        assert len(ids) == len(set(ids)), name


def test_header_comment_explains_adaptation():
    head = []
    for line in DEFAULT_MATRIX.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        head.append(line)
    text = "\n".join(head)
    assert "ASSESSMENT_MATRIX" in text and "optional" in text and "statement" in text


# --- adapting a copy needs no code change ----------------------------------

def test_added_statement_appears_in_loaded_framework(tmp_path, raw):
    data = copy.deepcopy(raw)
    openness = next(p for p in data["principles"] if p["id"] == "openness")
    before = len(openness["statements"])
    openness["statements"].append({
        "id": "open_data",
        "side": "public",
        "text": {"sv": "Kommunen publicerar föreningsregistret som öppna data",
                 "en": "The municipality publishes the register of associations as open data"},
    })
    fw = load_framework(_write(tmp_path, data))
    assert "openness.open_data" in fw.statement_keys
    principle, statement = fw.statement_by_key["openness.open_data"]
    assert principle.id == "openness" and statement.text("en").startswith("The municipality publishes")
    score = next(s for s in principle_scores(fw, []) if s.principle_id == "openness")
    assert score.statements == before + 1


def test_added_core_level_appears_in_loaded_framework(tmp_path, raw):
    data = copy.deepcopy(raw)
    at = [lv["id"] for lv in data["levels"]].index("partnership") + 1
    data["levels"].insert(at, {
        "id": "co_creation",
        "name": {"sv": "Medskapande", "en": "Co-creation"},
        "description": {"sv": "Parterna skapar tillsammans.", "en": "The parties create together."},
    })
    for step in STEPS:
        data["cells"].append({"step": step, "level": "co_creation", "tools": [{
            "id": f"co_creation_lab_{step}",
            "name": {"sv": "Medskapandeverkstad", "en": "Co-creation lab"},
            "description": {"sv": "En gemensam verkstad.", "en": "A joint workshop."},
        }]})
    fw = load_framework(_write(tmp_path, data))
    assert [lv.id for lv in fw.active_levels()] == CORE_LEVELS + ["co_creation"]
    assert fw.level_rank("co_creation") == fw.level_rank("partnership") + 1
    assert fw.cell("decision", "co_creation").tools[0].id == "co_creation_lab_decision"
    # Advice for a step at partnership now points at the new level's tools.
    (tip,) = advice(fw, [StepLevel("agenda", "partnership", answered=1)])
    assert tip.next_level == "co_creation" and tip.tools[0].id == "co_creation_lab_agenda"


def test_added_core_level_without_cells_is_rejected(tmp_path, raw):
    data = copy.deepcopy(raw)
    data["levels"].append({"id": "co_creation", "name": {"sv": "Medskapande", "en": "Co-creation"},
                           "description": {"sv": "Tillsammans.", "en": "Together."}})
    with pytest.raises(SourceError, match="missing cell for step 'agenda' and level 'co_creation'"):
        load_framework(_write(tmp_path, data))


def test_mobilisation_switched_on_for_every_assessment_by_dropping_optional(tmp_path, raw):
    data = copy.deepcopy(raw)
    mobilisation = next(lv for lv in data["levels"] if lv["id"] == "mobilisation")
    del mobilisation["optional"]
    fw = load_framework(_write(tmp_path, data))
    assert fw.optional_levels == []
    assert [lv.id for lv in fw.active_levels()] == CORE_LEVELS + ["mobilisation"]


def test_assessment_matrix_points_at_a_copy(tmp_path, raw, monkeypatch):
    data = copy.deepcopy(raw)
    data["title"] = {"sv": "Skånes självskattning", "en": "Skåne self-assessment"}
    monkeypatch.setenv("ASSESSMENT_MATRIX", str(_write(tmp_path, data)))
    assert get_framework().title.en == "Skåne self-assessment"
