"""The respondents' data (store.assessments, store.answers, store.responses) on SQLite and on a
real PostgreSQL server: answers saved as given, read back whole."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
import yaml

from assessment.framework.responses import DONT_KNOW, Response, StepAnswer, dump_response
from assessment.store import tables
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments
from assessment.store.engine import make_engine
from assessment.store.responses import Responses
from assessment.store.tokens import digest


# Without a framework: only the answers' form is checked (see the framework test below).
@pytest.fixture
def assessments(engine):
    return Assessments(engine)


@pytest.fixture
def answers(engine):
    return Answers(engine)


@pytest.fixture
def responses(engine):
    return Responses(engine)


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                for table in (tables.units, tables.assessments, tables.responses, tables.step_answers,
                              tables.ratings, tables.comments)}


def sample_response(**changes) -> Response:
    data = dict(
        unit="Örebro kommun", year=2024, case="Föreningsbidrag", side="civil_society",
        role="ordförande", extensions=["mobilisation"],
        steps={"agenda": StepAnswer(level="dialogue", tools=["hearings_public_forums", "citizens_forums"]),
               "decision": StepAnswer(level="none", tools=[])},
        ratings={"independence.criticism": 3, "dialogue.early": DONT_KNOW, "quality.follow_up": 0},
        comments={"general": "Bra samarbete, men sent inbjudna.", "agenda": "Hearing i mars"},
    )
    data.update(changes)
    return Response(**data)


# --- answers saved one by one ----------------------------------------------------------------

def test_answers_saved_one_by_one_read_back_whole(engine, assessments, answers, responses):
    assessment = assessments.create_assessment("Burlöv", 2023, case="Workshop", extensions=["mobilisation"])
    official = answers.start_response(assessment.token, "public", role="tjänsteperson")
    association = answers.start_response(assessment.token, "civil_society")

    answers.save_step(official, "agenda", "consultation", ["surveys"])
    answers.save_step(official, "agenda", "dialogue", ["citizens_forums", "citizens_forums"])  # overwrite
    answers.save_step(official, "drafting", "information", [])
    answers.save_rating(official, "independence.criticism", 2)
    answers.save_rating(official, "independence.criticism", 4)  # upsert
    answers.save_rating(official, "openness.documents", DONT_KNOW)
    answers.save_rating(official, "quality.follow_up", 1)
    answers.save_rating(official, "quality.follow_up", None)  # cleared
    answers.save_comment(official, "general", "  Första kommentaren  ")
    answers.save_comment(official, "agenda", "tas bort")
    answers.save_comment(official, "agenda", "")  # empty deletes
    answers.save_rating(association, "independence.criticism", 1)

    expected = Response(unit="Burlöv", year=2023, case="Workshop", side="public", role="tjänsteperson",
                        extensions=["mobilisation"],
                        steps={"agenda": StepAnswer(level="dialogue", tools=["citizens_forums"]),
                               "drafting": StepAnswer(level="information", tools=[])},
                        ratings={"independence.criticism": 4, "openness.documents": DONT_KNOW},
                        comments={"general": "Första kommentaren"})
    info = responses.get_response(official)
    assert info.response == expected
    assert info.token == digest(official)  # its key: the link itself is not stored
    assert info.assessment == assessment
    assert info.created_at <= info.updated_at
    assert info.submitted_at is None

    other = responses.get_response(association).response
    assert other.side == "civil_society"
    assert other.ratings == {"independence.criticism": 1}
    assert other.steps == {} and other.comments == {}
    assert row_counts(engine)["ratings"] == 3  # overwrites and clears left no stray rows


def test_saving_the_same_answer_twice_changes_nothing(engine, assessments, answers, responses):
    assessment = assessments.create_assessment("Lund", 2022)
    token = answers.start_response(assessment.token, "public")
    for _ in range(2):
        answers.save_step(token, "agenda", "information", ["websites"])
        answers.save_rating(token, "diversity.reach", 3)
        answers.save_comment(token, "general", "samma")
        answers.save_rating(token, "diversity.none", None)  # clearing what is not there is fine
    counts = row_counts(engine)
    assert (counts["step_answers"], counts["ratings"], counts["comments"]) == (1, 1, 1)
    assert responses.get_response(token).response.ratings == {"diversity.reach": 3}


def test_clear_step_and_submit(assessments, answers, responses):
    assessment = assessments.create_assessment("Lund", 2022)
    token = answers.start_response(assessment.token, "public")
    answers.save_step(token, "agenda", "information", [])
    answers.save_step(token, "decision", "dialogue", [])
    answers.clear_step(token, "agenda")
    assert set(responses.get_response(token).response.steps) == {"decision"}
    first = answers.submit_response(token)
    assert answers.submit_response(token) == first  # the first submission counts
    assert responses.get_response(token).submitted_at == first


def test_responses_for_an_assessment_in_start_order(assessments, answers, responses):
    first = assessments.create_assessment("Malmö", 2024)
    second = assessments.create_assessment("Malmö", 2025)
    tokens = [answers.start_response(first.token, side) for side in ("public", "civil_society", "public")]
    answers.start_response(second.token, "public")
    answers.save_rating(tokens[1], "independence.criticism", 2)

    infos = responses.response_infos(first.token)
    assert [info.token for info in infos] == [digest(token) for token in tokens]
    assert [r.side for r in responses.responses_for(first.token)] == ["public", "civil_society", "public"]
    assert responses.responses_for(first.token)[1].ratings == {"independence.criticism": 2}
    assert assessments.response_counts(first.token) == {"public": 2, "civil_society": 1}


# --- assessments and units ---------------------------------------------------------------------

def test_assessments_found_by_unit_year_and_case(assessments):
    plain = assessments.create_assessment("Örebro kommun", 2024)
    with_case = assessments.create_assessment("Örebro kommun", 2024, case="Bidrag")
    assessments.create_assessment("Region Örebro län", 2024)

    assert assessments.find_assessment("Örebro kommun", 2024) == plain
    assert assessments.find_assessment("Örebro kommun", 2024, case="Bidrag") == with_case
    assert assessments.find_assessment("Örebro kommun", 2023) is None
    assert assessments.get_assessment(with_case.token) == with_case
    assert {a.token for a in assessments.list_assessments(unit="Örebro kommun")} == {plain.token, with_case.token}
    assert len(assessments.list_assessments(year=2024)) == 3
    with pytest.raises(ValueError, match="already has an assessment for 2024"):
        assessments.create_assessment("Örebro kommun", 2024)
    with pytest.raises(ValueError, match="already has an assessment"):
        assessments.create_assessment("Örebro kommun", 2024, case="Bidrag")


def test_units_created_once_and_updated_explicitly(assessments):
    first = assessments.ensure_unit("Region Skåne", kind="region")
    assert assessments.ensure_unit("Region Skåne") == first  # unchanged, not turned into a municipality
    assert assessments.ensure_unit("  Region Skåne ") == first
    updated = assessments.update_unit("Region Skåne", region="Skåne")
    assert (updated.kind, updated.region) == ("region", "Skåne")
    assert [(u.name, u.kind, u.region) for u in assessments.list_units()] == [("Region Skåne", "region", "Skåne")]
    with pytest.raises(LookupError, match="no unit called"):
        assessments.update_unit("Nowhere", region="x")


def test_delete_response_and_assessment_cascade(engine, assessments, answers, responses):
    assessment = assessments.create_assessment("Lund", 2022)
    token = answers.start_response(assessment.token, "public")
    answers.save_rating(token, "diversity.reach", 3)
    answers.delete_response(token)
    with pytest.raises(LookupError):
        responses.get_response(token)
    token = answers.start_response(assessment.token, "public")
    answers.save_step(token, "agenda", "information", [])
    assessments.delete_assessment(assessment.token)
    counts = row_counts(engine)
    assert counts["assessments"] == counts["responses"] == counts["step_answers"] == counts["ratings"] == 0


# --- whole responses --------------------------------------------------------------------------

def test_add_response_round_trip(assessments, responses):
    original = sample_response()
    token = responses.add_response(original)
    info = responses.get_response(token)
    assert info.response == original
    assert info.submitted_at is not None
    assert (info.assessment.unit, info.assessment.year, info.assessment.case) == \
        ("Örebro kommun", 2024, "Föreningsbidrag")

    # A second response to the same unit, year and case joins the same assessment.
    again = responses.add_response(sample_response(side="public", ratings={"independence.criticism": 1}))
    assert responses.get_response(again).assessment.token == info.assessment.token
    assert len(assessments.list_assessments()) == 1
    assert responses.responses_for(info.assessment.token) == [original, responses.get_response(again).response]


def test_loaded_responses_behave_like_validated_ones(responses):
    """Bulk loading skips validation; the objects must still dump, compare and change normally."""
    original = sample_response()
    responses.add_response(original)
    loaded = responses.responses_where()[0]
    assert loaded.model_dump() == original.model_dump()
    assert yaml.safe_load(dump_response(loaded)) == yaml.safe_load(dump_response(original))  # key order aside
    assert Response.model_validate_json(loaded.model_dump_json()) == original
    loaded.steps["agenda"].tools.append("key_contact_points")  # its own lists, not shared ones
    assert responses.responses_where()[0] == original


def test_add_response_keeps_its_own_levels(assessments, responses):
    assessments.create_assessment("Lund", 2022, extensions=[])
    extended = sample_response(unit="Lund", year=2022, case=None, extensions=["mobilisation"])
    plain = sample_response(unit="Lund", year=2022, case=None, extensions=[])
    tokens = responses.add_responses([extended, plain])
    assert [responses.get_response(t).response for t in tokens] == [extended, plain]


def test_add_responses_is_all_or_nothing(engine, responses):
    good = sample_response()
    bad = Response.model_construct(**{**sample_response().__dict__, "side": "press"})
    before = row_counts(engine)
    with pytest.raises(ValueError, match="response 2"):
        responses.add_responses([good, bad])
    with pytest.raises(ValueError, match="unit"):
        responses.add_response(sample_response(unit="   "))
    assert row_counts(engine) == before


# --- comparison queries ------------------------------------------------------------------------

def test_responses_where_filters_units_years_and_side(responses):
    data = [("Lund", 2022, "public"), ("Lund", 2023, "civil_society"), ("Lund", 2023, "public"),
            ("Malmö", 2023, "public"), ("Malmö", 2024, "civil_society")]
    for i, (unit, year, side) in enumerate(data):
        responses.add_response(sample_response(unit=unit, year=year, side=side, case=None,
                                           ratings={"independence.criticism": i}))

    def picked(**filters):
        return sorted((r.unit, r.year, r.side, r.ratings["independence.criticism"])
                      for r in responses.responses_where(**filters))

    everything = sorted((u, y, s, i) for i, (u, y, s) in enumerate(data))
    assert picked() == everything
    assert picked(units=["Lund"]) == [row for row in everything if row[0] == "Lund"]
    assert picked(units="Malmö") == [row for row in everything if row[0] == "Malmö"]
    assert picked(years=[2023]) == [row for row in everything if row[1] == 2023]
    assert picked(side="public") == [row for row in everything if row[2] == "public"]
    assert picked(units=["Lund", "Malmö"], years=[2023, 2024], side="civil_society") == \
        [("Lund", 2023, "civil_society", 1), ("Malmö", 2024, "civil_society", 4)]
    assert picked(units=[]) == []
    assert picked(units=["Nowhere"]) == []
    # Whole responses, not only ratings.
    assert responses.responses_where(units=["Malmö"], years=[2024])[0] == sample_response(
        unit="Malmö", year=2024, side="civil_society", case=None, ratings={"independence.criticism": 4})


# --- bad input ---------------------------------------------------------------------------------

def test_unknown_tokens_raise_lookup_error_and_write_nothing(engine, assessments, answers, responses):
    assessment = assessments.create_assessment("Lund", 2022)
    before = row_counts(engine)
    for call in (lambda: responses.get_response("nope"),
                 lambda: answers.save_step("nope", "agenda", "information", []),
                 lambda: answers.save_rating("nope", "independence.criticism", 1),
                 lambda: answers.save_rating("nope", "independence.criticism", None),
                 lambda: answers.save_comment("nope", "general", "x"),
                 lambda: answers.submit_response("nope"),
                 lambda: answers.delete_response("nope"),
                 lambda: answers.start_response("nope", "public"),
                 lambda: assessments.get_assessment("nope"),
                 lambda: responses.responses_for("nope")):
        with pytest.raises(LookupError, match="no (response with that personal link|assessment with token 'nope')"):
            call()
    assert row_counts(engine) == before
    assert assessments.get_assessment(assessment.token) == assessment


def test_bad_values_raise_value_error_and_write_nothing(engine, assessments, answers, responses):
    assessment = assessments.create_assessment("Lund", 2022)
    token = answers.start_response(assessment.token, "public")
    answers.save_rating(token, "independence.criticism", 2)
    before = row_counts(engine)
    cases = [
        (lambda: answers.start_response(assessment.token, "press"), "unknown side 'press'"),
        (lambda: assessments.create_assessment("  ", 2024), "unit name must be a non-empty text"),
        (lambda: assessments.create_assessment("Lund", 1492), "year must be a whole number"),
        (lambda: assessments.create_assessment("Lund", "2024"), "year must be a whole number"),
        (lambda: assessments.ensure_unit("Lund", kind="country"), "unknown unit kind 'country'"),
        (lambda: answers.save_rating(token, "independence.criticism", True), "a rating must be"),
        (lambda: answers.save_rating(token, "independence.criticism", "4"), "a rating must be"),
        (lambda: answers.save_rating(token, "independence.criticism", 2.5), "a rating must be"),
        (lambda: answers.save_rating(token, "", 2), "statement key must be a non-empty id"),
        (lambda: answers.save_step(token, "agenda", "", []), "step 'agenda'"),
        (lambda: answers.save_step(token, "agenda", "dialogue", [1, 2]), "step 'agenda'"),
        (lambda: answers.save_comment(token, "general", 42), "a comment must be a text"),
        (lambda: responses.responses_where(side="both"), "unknown side 'both'"),
        (lambda: responses.responses_where(years=["2024"]), "year must be"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    assert row_counts(engine) == before
    assert responses.get_response(token).response.ratings == {"independence.criticism": 2}


def test_repositories_with_a_framework_check_answers(engine, framework):
    assessments, answers = Assessments(engine, framework), Answers(engine, framework)
    responses = Responses(engine, framework)
    first_step = framework.steps[0].id
    dialogue_tool = framework.cell(first_step, "dialogue").tools[0].id
    optional = framework.optional_levels[0].id
    key = framework.statement_keys[0]

    plain = assessments.create_assessment("Lund", 2022)
    token = answers.start_response(plain.token, "public")
    answers.save_step(token, first_step, "dialogue", [dialogue_tool])
    answers.save_rating(token, key, framework.scale.max)
    before = row_counts(engine)
    for call, message in [
        (lambda: answers.save_step(token, "no_such_step", "dialogue", []), "unknown step 'no_such_step'"),
        (lambda: answers.save_step(token, first_step, "shouting", []), "unknown level 'shouting'"),
        # An optional level only counts where the assessment switched it on.
        (lambda: answers.save_step(token, first_step, optional, []), f"unknown level '{optional}'"),
        (lambda: answers.save_step(token, first_step, "dialogue", ["kazoo"]), "'kazoo' is not a tool"),
        (lambda: answers.save_rating(token, key, framework.scale.max + 1), "outside the scale"),
        (lambda: answers.save_rating(token, "no.such", 1), "unknown statement 'no.such'"),
        (lambda: assessments.create_assessment("Lund", 2030, extensions=["turbo"]), "'turbo' is not an optional"),
        (lambda: responses.add_response(sample_response(ratings={key: 99})), "response 1 .*outside the scale"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
    assert row_counts(engine) == before

    extended = assessments.create_assessment("Lund", 2023, extensions=[optional])
    token = answers.start_response(extended.token, "civil_society")
    answers.save_step(token, first_step, optional, [])
    assert responses.get_response(token).response.steps[first_step].level == optional


# --- durability ----------------------------------------------------------------------------

def test_a_second_engine_on_the_same_sqlite_file_sees_the_writes(sqlite_url):
    writer_engine = make_engine(sqlite_url)
    try:
        answers = Answers(writer_engine)
        assessment = Assessments(writer_engine).create_assessment("Lund", 2022)
        token = answers.start_response(assessment.token, "civil_society")
        answers.save_rating(token, "independence.criticism", 3)
        answers.save_comment(token, "general", "sparat")
        expected = Responses(writer_engine).get_response(token).response
    finally:
        writer_engine.dispose()
    # A fresh engine, as after a restart of the app.
    reader_engine = make_engine(sqlite_url)
    try:
        assert Responses(reader_engine).get_response(token).response == expected
    finally:
        reader_engine.dispose()


def test_concurrent_saves_all_arrive(db_url):
    """Many respondents answering at once (a workshop): no lost or locked-out writes."""
    engines = [make_engine(db_url) for _ in range(2)]  # two app processes on one database
    try:
        answers = [Answers(engine) for engine in engines]
        assessment = Assessments(engines[0]).create_assessment("Burlöv", 2023)
        tokens = [answers[0].start_response(assessment.token, "civil_society") for _ in range(8)]
        errors: list[BaseException] = []

        def answer(i: int, token: str) -> None:
            mine = answers[i % 2]
            try:
                for n in range(15):
                    mine.save_rating(token, f"p.s{n}", n % 5)
                    mine.save_step(token, f"step{n % 3}", "information", [])
            except BaseException as exc:  # reported below; a thread cannot fail the test itself
                errors.append(exc)

        threads = [threading.Thread(target=answer, args=(i, t)) for i, t in enumerate(tokens)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for response in Responses(engines[1]).responses_for(assessment.token):
            assert response.ratings == {f"p.s{n}": n % 5 for n in range(15)}
            assert set(response.steps) == {"step0", "step1", "step2"}
    finally:
        for engine in engines:
            engine.dispose()
