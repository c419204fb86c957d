"""The self-assessment pages (home, questionnaire, results) run headless through AppTest.

Each test has its own SQLite file (ASSESSMENT_DB); the pages' cached repositories are keyed by
the database URL, so tests do not see each other's data.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from assessment.access import links
from assessment.framework.step_answer import choice
from assessment.i18n import markdown_literal, t
from conftest import open_app_page

APP = str(Path(__file__).resolve().parent.parent / "app.py")
TIMEOUT = 60


def open_page(page: str, **params: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in params.items():
        at.query_params[key] = value
    return open_app_page(at, page)


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.caption] + [m.value for m in at.title]
    parts += [m.value for m in at.subheader] + [m.value for m in at.error] + [m.value for m in at.info]
    return "\n".join(parts)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_home_renders_in_both_languages(db_path, lang):
    at = open_page("views/home.py", **({"lang": lang} if lang == "en" else {}))
    assert at.title[0].value == t("home.title", lang)
    assert t("home.tab.start", lang) in [tab.label for tab in at.tabs]
    assert at.button(key="FormSubmitter:start-" + t("home.start.submit", lang)) is not None
    other = "en" if lang == "sv" else "sv"
    assert t("home.title", other) not in texts(at)


def test_home_lists_demo_assessments_as_fictional(assessments, framework):
    from assessment.regional.demo import DEMO_UNITS

    unit = DEMO_UNITS[0].name
    assessments.create_assessment(unit, 2025)
    assessments.create_assessment("Riktiga kommunen", 2025)
    at = open_page("views/home.py", admin=links.rotate_admin_token(assessments))
    frame = at.dataframe[0].value
    rows = {row["unit"]: row for _, row in frame.iterrows()}
    assert rows[unit]["data"] == t("home.list.demo", "sv")
    assert rows["Riktiga kommunen"]["data"] == ""
    assert "admin" not in at.query_params  # the administrator token left the address
    at.selectbox(key="list_choice").set_value(assessments.find_assessment(unit, 2025).token)
    at.button(key="list_results").click()
    at.run()
    assert markdown_literal(unit) in at.title[0].value  # the results page, in the same (administrator's) session


def fill_start_form(at: AppTest, unit: str | None, side: str | None, year: int = 2025, case: str = "") -> None:
    if unit is not None:
        at.selectbox(key="start_unit").set_value(unit)
    at.number_input(key="start_year").set_value(year)
    at.text_input(key="start_case").input(case)
    if side is not None:
        at.radio(key="start_side").set_value(side)
    at.text_input(key="start_role").input("Handläggare")
    at.button(key="FormSubmitter:start-" + t("home.start.submit", "sv")).click()
    at.run()


def unit_coordinator(assessments, unit: str) -> str:
    """A coordinator link for the unit (AppTest cannot type a new unit; its coordinator may pick it)."""
    assessments.ensure_unit(unit)
    return links.create_link(assessments, links.COORDINATOR_LINK, "test", unit=unit)


def test_starting_an_assessment_creates_a_response_and_sets_the_link(assessments, responses):
    at = open_page("views/home.py", c=unit_coordinator(assessments, "Testby kommun"))
    fill_start_form(at, "Testby kommun", "civil_society", case="Fritidsplan")
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    token = at.query_params["r"][0] if isinstance(at.query_params["r"], list) else at.query_params["r"]
    info = responses.get_response(token)
    assert info.assessment.unit == "Testby kommun"
    assert info.assessment.case == "Fritidsplan"
    assert info.response.side == "civil_society"
    assert info.response.role == "Handläggare"
    # We are on the questionnaire now, for that assessment.
    assert "Testby kommun" in at.title[0].value
    # The invite and coordinator links on the page open this assessment, the personal link the response.
    codes = [c.value for c in at.code]
    invite = next(c for c in codes if "a=" in c).split("a=")[1].split("&")[0]
    coordinator = next(c for c in codes if "c=" in c).split("c=")[1].split("&")[0]
    assert links.resolve(assessments, invite).kind == links.INVITE_LINK
    assert links.resolve(assessments, coordinator).assessment_id == info.assessment.id
    assert any(f"r={token}" in c for c in codes)


@pytest.mark.parametrize("unit, side, field_key", [("", "public", "home.error.unit"),
                                                   ("Testby kommun", None, "home.error.side")])
def test_start_form_errors_name_the_field_and_write_nothing(assessments, unit, side, field_key):
    at = open_page("views/home.py", c=unit_coordinator(assessments, "Testby kommun"))
    fill_start_form(at, unit or None, side)
    assert [e.value for e in at.error] == [t(field_key, "sv")]
    assert "r" not in at.query_params
    assert assessments.list_assessments() == []


def test_an_anonymous_visitor_sees_no_stored_unit_and_cannot_start_in_one(assessments):
    assessments.create_assessment("Befintliga kommunen", 2025)
    at = open_page("views/home.py")
    assert at.selectbox(key="start_unit").options == []  # no stored unit offered
    assert len(at.tabs) == 2  # start and continue: no list of assessments
    assert "Befintliga kommunen" not in texts(at)


def test_join_by_share_link_gives_a_response_of_ones_own(assessments, answers, responses):
    assessment = assessments.create_assessment("Delby", 2025)
    first = answers.start_response(assessment.token, "public")
    invite = links.create_link(assessments, links.INVITE_LINK, "test", assessment_id=assessment.id)
    at = open_page("views/home.py", a=invite)
    at.radio(key="join_side").set_value("civil_society")
    at.button(key="FormSubmitter:join-" + t("home.join.submit", "sv")).click()
    at.run()
    assert not at.exception and not at.error
    token = at.query_params["r"]
    token = token[0] if isinstance(token, list) else token
    assert token != first
    assert responses.get_response(token).assessment.token == assessment.token
    assert len(responses.responses_for(assessment.token)) == 2


def test_continue_with_a_pasted_link(assessments, answers):
    assessment = assessments.create_assessment("Fortsättby", 2025)
    token = answers.start_response(assessment.token, "public")
    at = open_page("views/home.py")
    at.text_input(key="continue_link").input(f"http://example.org/questionnaire?r={token}&lang=sv")
    at.button(key="FormSubmitter:continue-" + t("home.continue.submit", "sv")).click()
    at.run()
    assert not at.error
    assert "Fortsättby" in at.title[0].value
    at = open_page("views/home.py")
    at.text_input(key="continue_link").input("not-a-token")
    at.button(key="FormSubmitter:continue-" + t("home.continue.submit", "sv")).click()
    at.run()
    assert [e.value for e in at.error] == [t("home.error.link_unknown", "sv")]


@pytest.mark.parametrize("params, message", [({"r": "no-such-token"}, "q.error.unknown_token"),
                                             ({}, "q.error.no_token")])
def test_questionnaire_with_bad_token_shows_an_error(db_path, params, message):
    at = open_page("views/questionnaire.py", **params)
    assert [e.value for e in at.error] == [t(message, "sv")]
    assert not at.radio(key="lang_switch") is None
    assert len(at.radio) == 1  # only the language switch: no questionnaire


def test_answering_through_the_widgets_is_stored(assessments, answers, responses, framework):
    assessment = assessments.create_assessment("Svarsby", 2025)
    token = answers.start_response(assessment.token, "public")
    at = open_page("views/questionnaire.py", r=token)

    step = framework.steps[0]
    level = framework.active_levels()[1]
    at.radio(key=f"q:{token}:level:{step.id}").set_value(choice(step.id, level.id))
    at.run()
    tool = framework.cell(step.id, level.id).tools[0]
    at.checkbox(key=f"q:{token}:tool:{step.id}:{level.id}:{tool.id}").check()
    at.run()

    at.segmented_control(key="q:part#0").set_value("principles")
    at.run()
    principle = framework.principles[0]
    key = f"{principle.id}.{principle.statements[0].id}"
    at.radio(key=f"q:{token}:rating:{key}").set_value(3)
    at.run()
    other = f"{principle.id}.{principle.statements[1].id}"
    at.radio(key=f"q:{token}:rating:{other}").set_value("dont_know")
    at.text_area(key=f"q:{token}:comment:{principle.id}").input("Bra möten i år.")
    at.run()
    assert not at.exception and not at.error

    saved = responses.get_response(token).response  # read back from the database
    assert saved.steps[step.id].level == level.id
    assert saved.steps[step.id].tools == [tool.id]
    assert saved.ratings == {key: 3, other: "dont_know"}
    assert saved.comments == {principle.id: "Bra möten i år."}
    assert at.get("progress")[0].proto.value == round(100 * 3 / (len(framework.steps) + len(framework.statement_keys)))

    # A new session (a reload) shows the stored answers in the widgets.
    again = open_page("views/questionnaire.py", r=token)
    assert again.radio(key=f"q:{token}:level:{step.id}").value == choice(step.id, level.id)
    assert again.checkbox(key=f"q:{token}:tool:{step.id}:{level.id}:{tool.id}").value is True
    again.segmented_control(key="q:part#0").set_value("principles")
    again.run()
    assert again.radio(key=f"q:{token}:rating:{key}").value == 3
    assert again.radio(key=f"q:{token}:rating:{other}").value == "dont_know"


@pytest.mark.parametrize("settle,level,tools", [("raise", "partnership", "both"), ("untick", "consultation", "within")])
def test_tools_above_the_level_reached_are_shown_and_settled_as_chosen(assessments, answers, responses, framework, settle, level,
                                                                       tools):
    token = answers.start_response(assessments.create_assessment("Bockby", 2025).token, "public")
    step = framework.steps[1]
    within = framework.cell(step.id, "information").tools[0]
    above = framework.cell(step.id, "partnership").tools[0]
    answers.save_step(token, step.id, "consultation", [within.id, above.id])
    at = open_page("views/questionnaire.py", r=token)
    at.button(key="q:next").click()
    at.run()
    assert at.warning and above.name.sv in at.warning[0].value and within.name.sv not in at.warning[0].value
    at.button(key=f"q:{token}:{settle}:{step.id}").click()
    at.run()
    saved = responses.get_response(token).response.steps[step.id]
    assert saved.level == level
    assert saved.tools == ([within.id, above.id] if tools == "both" else [within.id])
    assert at.radio(key=f"q:{token}:level:{step.id}").value == choice(step.id, level)
    assert at.checkbox(key=f"q:{token}:tool:{step.id}:partnership:{above.id}").value is (tools == "both")
    assert not at.warning and not at.exception


def test_a_level_choice_is_saved_for_the_step_it_names_only(assessments, answers, responses, framework):
    token = answers.start_response(assessments.create_assessment("Bindby", 2025).token, "public")
    first, second = framework.steps[0].id, framework.steps[1].id
    at = open_page("views/questionnaire.py", r=token)
    # The first step's radio, changed in the same run as "Next": saved for the first step.
    at.radio(key=f"q:{token}:level:{first}").set_value(choice(first, "dialogue"))
    at.button(key="q:next").click()
    at.run()
    assert at.subheader[0].value == f"2. {framework.steps[1].name.sv}"
    assert {k: a.level for k, a in responses.get_response(token).response.steps.items()} == {first: "dialogue"}
    assert at.radio(key=f"q:{token}:level:{second}").value is None
    assert at.radio(key=f"q:{token}:level:{second}").label == t("q.level.question", "sv",
                                                                  step=framework.steps[1].name.sv)
    # The respondent is told where the answer went, since another step is now shown.
    assert [toast.value for toast in at.toast] == [
        t("q.saved_for_step", "sv", step=f"1. {framework.steps[0].name.sv}")]


def test_next_and_previous_walk_through_all_steps_and_principles(assessments, answers, framework):
    assessment = assessments.create_assessment("Stegby", 2025)
    token = answers.start_response(assessment.token, "public")
    at = open_page("views/questionnaire.py", r=token)
    seen = []
    for _ in range(len(framework.steps) + len(framework.principles) - 1):
        seen.append(at.subheader[0].value)
        at.button(key="q:next").click()
        at.run()
    seen.append(at.subheader[0].value)
    expected = [f"{i + 1}. {s.name.sv}" for i, s in enumerate(framework.steps)] + \
               [f"{i + 1}. {p.name.sv}" for i, p in enumerate(framework.principles)]
    assert seen == expected
    at.button(key="q:back").click()
    at.run()
    assert at.subheader[0].value == expected[-2]


def test_each_part_opens_again_where_it_was_left(assessments, answers, framework):
    token = answers.start_response(assessments.create_assessment("Delby", 2025).token, "public")
    at = open_page("views/questionnaire.py", r=token)
    for _ in range(2):
        at.button(key="q:next").click()
        at.run()
    assert at.subheader[0].value == f"3. {framework.steps[2].name.sv}"
    at.segmented_control(key="q:part#2").set_value("principles")  # drawn anew after each Next
    at.run()
    assert at.subheader[0].value == f"1. {framework.principles[0].name.sv}"
    at.segmented_control(key="q:principles#2").set_value(framework.principles[3].id)
    at.run()
    at.segmented_control(key="q:part#2").set_value("matrix")
    at.run()
    assert at.subheader[0].value == f"3. {framework.steps[2].name.sv}"
    at.segmented_control(key="q:part#2").set_value("principles")
    at.run()
    assert at.subheader[0].value == f"4. {framework.principles[3].name.sv}"


def make_answers(answers, framework, assessment_token: str) -> None:
    """Two public and one civil-society respondent, answered one answer at a time."""
    core = [lv.id for lv in framework.active_levels()]
    keys = framework.statement_keys
    for n, (side, rating, reach) in enumerate([("public", 4, 3), ("public", 3, 2), ("civil_society", 1, 1)]):
        token = answers.start_response(assessment_token, side, f"roll {n}")
        for step in framework.steps:
            answers.save_step(token, step.id, core[reach - 1], [])
        for key in keys:
            answers.save_rating(token, key, rating)


def test_results_page_draws_radar_heatmaps_advice_and_gaps(assessments, answers, framework):
    assessment = assessments.create_assessment("Resultatby", 2025)
    make_answers(answers, framework, assessment.token)
    at = open_page("views/results.py", v=links.create_link(assessments, links.RESULTS_LINK, "test",
                                                           assessment_id=assessment.id))
    assert "Resultatby" in at.title[0].value
    metrics = [m.value for m in at.metric]
    assert metrics == ["3", "2", "1"]
    charts = at.get("vega_lite_chart")
    assert len(charts) == 4  # radar + heatmap overall and per side
    radar = json.loads(charts[0].proto.spec)
    legends = [layer["encoding"]["color"]["scale"]["domain"] for layer in radar["layer"]
               if "field" in layer.get("encoding", {}).get("color", {})]
    assert legends[0] == ["Alla (3)", "Offentlig sektor (2)", "Civilsamhället (1)"]
    text = texts(at)
    assert t("results.advice", "sv") in text
    first_step_next = framework.active_levels()[2].name.sv  # median reach is level 2 -> next is level 3
    assert first_step_next in text
    # The gap table lists statements where the sides differ (4/3 against 1).
    gaps = at.table[-1].value  # statements first (in an expander), then the gaps
    assert len(gaps) > 0
    assert gaps.iloc[0][t("results.col.kind", "sv")] == t("results.gap.statement", "sv")
    assert abs(float(gaps.iloc[0][t("results.col.difference", "sv")])) > 0
    assert len(at.get("download_button")) == 6


def test_results_page_refuses_answer_links_and_bad_tokens(assessments, answers, framework):
    assessment = assessments.create_assessment("Länkby", 2025)
    token = answers.start_response(assessment.token, "public")
    at = open_page("views/results.py", v=links.create_link(assessments, links.RESULTS_LINK, "test",
                                                           assessment_id=assessment.id))
    assert "Länkby" in at.title[0].value
    assert t("results.no_answers", "sv") in texts(at)
    for params in ({"r": token}, {"a": links.create_link(assessments, links.INVITE_LINK, "t", assessment_id=assessment.id)}):
        refused = open_page("views/results.py", **params)
        assert [e.value for e in refused.error] == [t("access.refused.view-results", "sv")]
        assert "Länkby" not in texts(refused)
    bad = open_page("views/results.py", v="nope")  # a link that opens nothing: refused by navigation
    assert [e.value for e in bad.error] == [t("access.refused.view-results", "sv")]


def test_an_answer_whose_callback_was_lost_is_saved_on_the_next_run(assessments, answers, responses, framework):
    """Streamlit drops some on_change callbacks when answers come faster than reruns.

    Setting the widget's value without its callback (as such a dropped change looks
    to the page) must still end up in the database on the next run.
    """
    assessment = assessments.create_assessment("Tappby", 2025)
    token = answers.start_response(assessment.token, "public")
    at = open_page("views/questionnaire.py", r=token)
    at.segmented_control(key="q:part#0").set_value("principles")
    at.run()
    principle = framework.principles[0]
    key = f"{principle.id}.{principle.statements[-1].id}"
    at.session_state[f"q:{token}:rating:{key}"] = 2  # the value arrives, no callback runs
    at.run()
    assert responses.get_response(token).response.ratings == {key: 2}
    step = framework.steps[-1]
    at.session_state[f"q:{token}:level:{step.id}"] = choice(step.id, framework.active_levels()[0].id)
    at.run()  # that step was never drawn in this session: no widget of the user's, nothing saved
    assert responses.get_response(token).response.steps == {}


def test_every_text_of_these_pages_exists_in_both_languages():
    import re

    import yaml

    from assessment.i18n import STRINGS_DIR

    strings = yaml.safe_load((STRINGS_DIR / "core.yaml").read_text(encoding="utf-8"))
    views = Path(APP).parent / "views"
    source = "".join((views / name).read_text(encoding="utf-8")
                     for name in ("home.py", "questionnaire.py", "results.py", "results_content.py", "common.py"))
    used = set(re.findall(r"\bt\(\s*\"([a-z_]+\.[a-z_.]+)\"", source))
    assert len(used) > 50
    for key in sorted(used - {k for k in used if k.split(".")[0] in ("nav", "access")}):  # their own files
        assert key.split(".")[0] in ("home", "q", "results", "common"), key
        assert key in strings, f"{key} is used but not in core.yaml"
        assert strings[key]["sv"].strip() and strings[key]["en"].strip(), key
    for key, texts in strings.items():
        # Same placeholders in both languages, or one of them would fail to format.
        assert set(re.findall(r"\{(\w+)\}", texts["sv"])) == set(re.findall(r"\{(\w+)\}", texts["en"])), key


def test_mobilisation_switched_on_at_start_is_offered_as_a_level(assessments, responses, framework):
    optional = framework.optional_levels
    if not optional:
        pytest.skip("the matrix has no optional level")
    at = open_page("views/home.py", c=unit_coordinator(assessments, "Mobby"))
    at.checkbox(key=f"start_ext_{optional[0].id}").check()
    fill_start_form(at, "Mobby", "public")
    token = at.query_params["r"]
    token = token[0] if isinstance(token, list) else token
    assert responses.get_response(token).assessment.extensions == (optional[0].id,)
    level_radio = at.radio(key=f"q:{token}:level:{framework.steps[0].id}")
    assert level_radio.options[-1] == optional[0].name.sv  # offered, as the top rung
