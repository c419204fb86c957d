"""The regional pages (compare, followup, data) run headless through AppTest.

Each test has its own SQLite file (ASSESSMENT_DB). The numbers checked on screen are
computed by hand from the answers seeded here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from assessment.exchange.export import export_csv, export_json
from assessment.framework.responses import Response, StepAnswer
from assessment.framework import limits
from assessment.i18n import t
from assessment.regional import followup as fs
from assessment.regional.agreements import AGREEMENTS_DIR, shipped_agreements
from assessment.store.assessments import Assessments
from assessment.store.migrations import open_database
from assessment.store.responses import Responses
from conftest import admin_token

REPO = Path(__file__).resolve().parent.parent
APP = str(REPO / "app.py")
TIMEOUT = 90
REGION = "Testlän"


def answer(fw, unit: str, year: int, side: str, rating: int, level: str = "information") -> Response:
    return Response(unit=unit, year=year, side=side, ratings={key: rating for key in fw.statement_by_key},
                    steps={s.id: StepAnswer(level=level) for s in fw.steps})


def seed(engine, fw, units: int = 2) -> list[str]:
    """Unit 0: public rates 4, civil society 0 (pooled 50); the others rate 2 on both sides; 2025 and 2026."""
    names = [f"Enhet {chr(ord('A') + i)} (test)" for i in range(units)]
    assessments = Assessments(engine, fw)
    for name in names:
        assessments.ensure_unit(name, region=REGION)
    items = []
    for year in (2025, 2026):
        items += [answer(fw, names[0], year, "public", 4, "dialogue"),
                  answer(fw, names[0], year, "civil_society", 0, "information")]
        for name in names[1:]:
            items += [answer(fw, name, year, side, 2, "consultation") for side in ("public", "civil_society")]
    Responses(engine, fw).add_responses(items)
    return names


def open_page(page: str, lang: str = "sv") -> AppTest:
    """The page as the administrator sees it (who else sees what: tests/test_access_pages.py)."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if lang != "sv":
        at.query_params["lang"] = lang
    at.query_params["admin"] = admin_token()
    at.run()
    at.switch_page(page)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def run(target) -> AppTest:
    """Run the app after an interaction (``target`` is the AppTest or a widget of it)."""
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.caption] + [m.value for m in at.title]
    parts += [m.value for m in at.subheader] + [m.value for m in at.error] + [m.value for m in at.info]
    parts += [m.value for m in at.success]
    return "\n".join(parts)


def chart_specs(at: AppTest) -> list[dict]:
    return [json.loads(node.proto.spec) for node in at.get("vega_lite_chart")]


# --- compare ---------------------------------------------------------------------------------

def test_compare_page_on_an_empty_database_explains_what_to_do(db_path):
    at = open_page("views/compare.py")
    assert t("reg.compare.empty", "sv") in texts(at)


@pytest.mark.parametrize("lang", ["sv", "en"])
def test_every_comparison_view_renders(page_engine, framework, lang):
    seed(page_engine, framework)
    at = open_page("views/compare.py", lang)
    assert at.title[0].value == t("reg.compare.title", lang)
    assert t("reg.compare.group", lang, n=2, year=2026, side=t("regional.side.all", lang).lower()) in texts(at)
    for view in ("profiles", "unit", "ranking", "steps", "trends", "report"):
        run(at.radio(key="cmp_view").set_value(view))
        if view != "report":
            assert at.get("vega_lite_chart"), f"no chart in view {view}"


def ranking_score(at: AppTest, fw, unit: str) -> float:
    frame = at.dataframe[-1].value
    row = frame[frame.iloc[:, 0] == unit].iloc[0]
    return float(row[fw.principles[0].name.sv])


def test_side_filter_applies_to_the_ranking_table(page_engine, framework):
    names = seed(page_engine, framework)
    at = open_page("views/compare.py")
    run(at.radio(key="cmp_view").set_value("ranking"))
    assert ranking_score(at, framework, names[0]) == 50.0  # (4 + 0) / 2 / 4 * 100
    run(at.radio(key="cmp_side").set_value("public"))
    assert ranking_score(at, framework, names[0]) == 100.0
    run(at.radio(key="cmp_side").set_value("civil_society"))
    assert ranking_score(at, framework, names[0]) == 0.0
    assert ranking_score(at, framework, names[1]) == 50.0


def test_more_than_six_units_are_drawn_as_small_multiples(page_engine, framework):
    names = seed(page_engine, framework, units=8)
    at = open_page("views/compare.py")
    spec, = chart_specs(at)
    assert spec["facet"]["field"] == "unit"
    run(at.multiselect(key="cmp_units").set_value(names[:3]))
    spec, = chart_specs(at)
    assert "facet" not in spec and "layer" in spec  # one overlay radar
    assert t("reg.compare.group", "sv", n=3, year=2026, side=t("regional.side.all", "sv").lower()) in texts(at)


def test_region_filter_limits_the_units(page_engine, assessments, responses, framework):
    names = seed(page_engine, framework, units=3)
    assessments.ensure_unit("Annanstans (test)", region="Annat län")
    responses.add_response(answer(framework, "Annanstans (test)", 2026, "public", 1))
    at = open_page("views/compare.py")
    assert "Annanstans (test)" in at.multiselect(key="cmp_units").options
    run(at.selectbox(key="cmp_region").set_value(REGION))
    assert at.multiselect(key="cmp_units").options == names
    run(at.radio(key="cmp_view").set_value("ranking"))
    assert "Annanstans (test)" not in set(at.dataframe[-1].value.iloc[:, 0])


def test_make_report_offers_pdf_and_html(page_engine, framework):
    names = seed(page_engine, framework)
    at = open_page("views/compare.py")
    run(at.radio(key="cmp_view").set_value("report"))
    run(at.selectbox(key="rep_unit").set_value(names[0]))
    run(at.button(key="rep_make").click())
    assert not at.error, [e.value for e in at.error]
    labels = {b.label for b in at.get("download_button")}
    assert {t("reg.report.pdf", "sv"), t("reg.report.html", "sv")} <= labels
    _wanted, made = at.session_state["report"]
    assert made["pdf"].startswith(b"%PDF") and b"<svg" in made["html"]


def test_report_for_a_year_without_answers_shows_an_error(page_engine, assessments, responses, framework):
    names = seed(page_engine, framework)
    assessments.ensure_unit("Ny enhet (test)", region=REGION)
    responses.add_response(answer(framework, "Ny enhet (test)", 2026, "public", 3))
    at = open_page("views/compare.py")
    run(at.radio(key="cmp_view").set_value("report"))
    run(at.selectbox(key="rep_unit").set_value("Ny enhet (test)"))
    run(at.selectbox(key="rep_year").set_value(2025))
    run(at.button(key="rep_make").click())
    assert at.error and "Ny enhet (test)" in at.error[0].value and "2025" in at.error[0].value
    assert "report" not in at.session_state
    assert names  # the other units were there all along


# --- follow-up -------------------------------------------------------------------------------

def status_key(agreement_id: str, year: int, commitment_id: str) -> str:
    return f"fu_status_{agreement_id}_{year}_{commitment_id}"


@pytest.mark.parametrize("page", ["views/followup.py", "views/data.py"])
def test_pages_speak_english(page_engine, framework, page):
    seed(page_engine, framework)
    at = open_page(page, "en")
    title = {"views/followup.py": "reg.followup.title", "views/data.py": "reg.data.title"}[page]
    assert at.title[0].value == t(title, "en")


def test_followup_saves_status_and_note_as_given(page_engine, framework):
    at = open_page("views/followup.py")
    agreement_id = at.selectbox(key="fu_agreement").value
    run(at.number_input(key="fu_year").set_value(2025))
    agreement = next(a for a in shipped_agreements(framework) if a.id == agreement_id)
    first = agreement.commitments[0].id
    run(at.radio(key=status_key(agreement_id, 2025, first)).set_value("under_way"))
    saved = fs.statuses(page_engine, agreement_id, 2025)
    assert saved[first].status == "under_way" and saved[first].note == ""
    run(at.text_input(key=f"fu_note_{agreement_id}_2025_{first}").input("Möte bokat i maj"))
    assert fs.statuses(page_engine, agreement_id, 2025)[first].note == "Möte bokat i maj"
    assert len(fs.statuses(page_engine, agreement_id, 2025)) == 1  # nothing else was recorded


def test_followup_status_whose_callback_was_lost_is_saved_on_the_next_run(page_engine, framework):
    """Streamlit drops some on_change callbacks when changes come faster than reruns.

    A status or note set without its callback running (as such a dropped change looks
    to the page) must still be stored on the next run, and counted in the progress.
    """
    at = open_page("views/followup.py")
    agreement_id = at.selectbox(key="fu_agreement").value
    run(at.number_input(key="fu_year").set_value(2025))
    agreement = next(a for a in shipped_agreements(framework) if a.id == agreement_id)
    first, second = agreement.commitments[0].id, agreement.commitments[1].id
    at.session_state[status_key(agreement_id, 2025, first)] = "done"  # the value arrives, no callback runs
    run(at)
    assert {c: f.status for c, f in fs.statuses(page_engine, agreement_id, 2025).items()} == {first: "done"}
    assert at.radio(key=status_key(agreement_id, 2025, first)).value == "done"
    assert at.metric[0].value == f"{100 / len(agreement.commitments):.0f}"
    at.session_state[f"fu_note_{agreement_id}_2025_{first}"] = "Klart i mars"
    run(at)
    assert fs.statuses(page_engine, agreement_id, 2025)[first].note == "Klart i mars"
    # A year whose widgets were never drawn in this session holds nothing of the user's: nothing saved.
    at.session_state[status_key(agreement_id, 2024, second)] = "done"
    run(at)
    assert fs.followup_years(page_engine, agreement_id) == [2025]


def test_followup_progress_and_change_since_last_year(page_engine, framework):
    agreement = shipped_agreements(framework)[0]
    fs.save_agreement(page_engine, agreement)
    first, second = agreement.commitments[0].id, agreement.commitments[1].id
    fs.set_status(page_engine, agreement.id, first, 2025, "under_way")
    fs.set_status(page_engine, agreement.id, first, 2026, "done")
    fs.set_status(page_engine, agreement.id, second, 2026, "done")
    at = open_page("views/followup.py")
    assert at.number_input(key="fu_year").value == 2026  # the latest year followed up
    n = len(agreement.commitments)
    overall = at.metric[0]
    assert overall.value == f"{100 * 2 / n:.0f}"
    assert overall.delta == f"{round(100 * 2 / n, 1) - round(100 * 0.5 / n, 1):+.1f}"
    change = at.dataframe[-1].value
    assert list(change.columns[1:3]) == ["2025", "2026"]
    assert int(change.iloc[0][t("reg.col.newly_done", "sv")]) == 2
    assert t("reg.followup.newly_done", "sv") in texts(at)


def test_bad_agreement_upload_is_explained_and_changes_nothing(page_engine, framework):
    at = open_page("views/followup.py")
    before = fs.list_agreements(page_engine)
    bad = b"id: test\ntitle: {sv: T, en: T}\nunit: X\nadopted: 2020-01-01\nparties:\n" \
          b"  - {id: public, name: {sv: K, en: M}}\ncommitments:\n" \
          b"  - id: c1\n    party: public\n    text: {sv: a, en: a}\n    principles: [opennes]\n"
    at.file_uploader(key="fu_upload").set_value(("min.yaml", bad, "application/x-yaml"))
    run(at)
    assert at.error, "no error shown"
    message = at.error[0].value
    assert "min.yaml:11:" in message and "opennes" in message
    assert fs.list_agreements(page_engine) == before


def test_alias_bomb_upload_is_refused_with_one_line(page_engine, framework):
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10))
    at = open_page("views/followup.py")
    at.file_uploader(key="fu_upload").set_value(("bomb.yaml", bomb.encode(), "application/x-yaml"))
    run(at)
    assert at.error and "bomb.yaml:" in at.error[0].value and "values" in at.error[0].value
    assert fs.list_agreements(page_engine) == []


@pytest.mark.parametrize("page,key,limit", [("views/followup.py", "fu_upload", limits.YAML_MAX_BYTES),
                                            ("views/data.py", "imp_files", limits.IMPORT_MAX_BYTES)])
def test_uploads_are_capped_in_the_page(page_engine, page, key, limit):
    at = open_page(page)
    assert at.file_uploader(key=key).proto.max_upload_size_mb * limits.MB == limit


def test_every_page_with_an_upload_is_capped():
    pages = {path.name for path in (REPO / "views").glob("*.py") if "st.file_uploader(" in path.read_text()}
    assert pages == {"followup.py", "data.py"}  # the two capped above: a new one needs its cap and a test


def test_good_agreement_upload_is_stored_and_selected(page_engine, framework):
    text = (AGREEMENTS_DIR / "orebro.yaml").read_text(encoding="utf-8")
    text = text.replace("id: orebro\n", "id: egen\n", 1).replace("unit: Örebro kommun", "unit: Egen kommun", 1)
    at = open_page("views/followup.py")
    at.file_uploader(key="fu_upload").set_value(("egen.yaml", text.encode(), "application/x-yaml"))
    run(at)
    assert [a.id for a in fs.list_agreements(page_engine)] == ["egen"]
    assert at.selectbox(key="fu_agreement").value == "egen"
    # The page can still switch to another agreement while the file stays in the uploader.
    run(at.selectbox(key="fu_agreement").set_value("orebro"))
    assert at.selectbox(key="fu_agreement").value == "orebro"


# --- data ------------------------------------------------------------------------------------

@pytest.fixture
def export_files(tmp_path, framework):
    """A JSON and a CSV export made by the core from a database of their own."""
    source = open_database(f"sqlite:///{tmp_path / 'source.db'}")
    seed(source, framework)
    return export_json(source, framework), export_csv(source, framework)


def response_count(engine) -> int:
    return len(Responses(engine).responses_where())


def test_bad_file_among_good_ones_imports_nothing_and_names_file_row_and_field(page_engine, framework, export_files):
    good_json, csv_bytes = export_files
    lines = csv_bytes.decode("utf-8-sig").splitlines()
    header = lines[0].split(",")
    row = next(i for i, line in enumerate(lines) if ",rating," in line)
    cells = lines[row].split(",")
    cells[header.index("value")] = "9"
    lines[row] = ",".join(cells)
    bad = ("\n".join(lines) + "\n").encode("utf-8")
    at = open_page("views/data.py")
    at.file_uploader(key="imp_files").set_value([("good.json", good_json, "application/json"),
                                                 ("bad.csv", bad, "text/csv")])
    run(at)
    run(at.button(key="imp_go").click())
    assert at.error, "no error shown"
    message = at.error[0].value
    assert f"bad.csv:{row + 1}" in message and "value" in message
    assert response_count(page_engine) == 0  # not even the good file was imported
    assert Assessments(page_engine).list_assessments() == []


def test_importing_the_same_file_twice_reports_nothing_new(page_engine, framework, export_files):
    good_json, _csv = export_files
    at = open_page("views/data.py")
    at.file_uploader(key="imp_files").set_value(("export.json", good_json, "application/json"))
    run(at)
    run(at.button(key="imp_go").click())
    assert at.success and "export.json" in at.success[0].value
    added = response_count(page_engine)
    assert added == 8
    run(at.button(key="imp_go").click())
    assert not at.success
    assert at.info and at.info[0].value == t("reg.data.nothing_new", "sv", file="export.json", unchanged=added)
    assert response_count(page_engine) == added


def test_json_depth_bomb_upload_is_refused_with_one_line(page_engine):
    at = open_page("views/data.py")
    at.file_uploader(key="imp_files").set_value(("bomb.json", b"[" * 100_000 + b"]" * 100_000, "application/json"))
    run(at)
    run(at.button(key="imp_go").click())
    assert at.error and f"bomb.json: nested deeper than {limits.MAX_DEPTH} levels" in at.error[0].value
    assert not at.exception
    assert response_count(page_engine) == 0


@pytest.mark.parametrize("scope", ["assessment", "unit", "all"])
@pytest.mark.parametrize("fmt", ["json", "csv"])
def test_export_offers_a_download_for_each_scope_and_format(page_engine, framework, scope, fmt):
    seed(page_engine, framework)
    at = open_page("views/data.py")
    run(at.radio(key="exp_scope").set_value(scope))
    run(at.radio(key="exp_format").set_value(fmt))
    if fmt == "csv":
        run(at.radio(key="exp_delimiter").set_value(";"))
    assert [b.label for b in at.get("download_button")] == [t("reg.data.download", "sv")]
