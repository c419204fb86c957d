"""The Store on SQLite and on a real PostgreSQL server: answers saved as given, read back whole."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
import yaml

from assessment.framework.responses import DONT_KNOW, Response, StepAnswer, dump_response
from assessment.store import engine as db
from assessment.store.engine import init_db, make_engine
from assessment.store.responses import (Store, assessments, comments, ratings, responses, step_answers,
                                        units)


@pytest.fixture
def store(engine):
    return Store(engine)


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {table.name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()
                for table in (units, assessments, responses, step_answers, ratings, comments)}


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

def test_answers_saved_one_by_one_read_back_whole(store):
    assessment = store.create_assessment("Burlöv", 2023, case="Workshop", extensions=["mobilisation"])
    official = store.start_response(assessment.token, "public", role="tjänsteperson")
    association = store.start_response(assessment.token, "civil_society")

    store.save_step(official, "agenda", "consultation", ["surveys"])
    store.save_step(official, "agenda", "dialogue", ["citizens_forums", "citizens_forums"])  # overwrite
    store.save_step(official, "drafting", "information", [])
    store.save_rating(official, "independence.criticism", 2)
    store.save_rating(official, "independence.criticism", 4)  # upsert
    store.save_rating(official, "openness.documents", DONT_KNOW)
    store.save_rating(official, "quality.follow_up", 1)
    store.save_rating(official, "quality.follow_up", None)  # cleared
    store.save_comment(official, "general", "  Första kommentaren  ")
    store.save_comment(official, "agenda", "tas bort")
    store.save_comment(official, "agenda", "")  # empty deletes
    store.save_rating(association, "independence.criticism", 1)

    expected = Response(unit="Burlöv", year=2023, case="Workshop", side="public", role="tjänsteperson",
                        extensions=["mobilisation"],
                        steps={"agenda": StepAnswer(level="dialogue", tools=["citizens_forums"]),
                               "drafting": StepAnswer(level="information", tools=[])},
                        ratings={"independence.criticism": 4, "openness.documents": DONT_KNOW},
                        comments={"general": "Första kommentaren"})
    info = store.get_response(official)
    assert info.response == expected
    assert info.token == official
    assert info.assessment == assessment
    assert info.created_at <= info.updated_at
    assert info.submitted_at is None

    other = store.get_response(association).response
    assert other.side == "civil_society"
    assert other.ratings == {"independence.criticism": 1}
    assert other.steps == {} and other.comments == {}
    assert row_counts(store.engine)["ratings"] == 3  # overwrites and clears left no stray rows


def test_saving_the_same_answer_twice_changes_nothing(store):
    assessment = store.create_assessment("Lund", 2022)
    token = store.start_response(assessment.token, "public")
    for _ in range(2):
        store.save_step(token, "agenda", "information", ["websites"])
        store.save_rating(token, "diversity.reach", 3)
        store.save_comment(token, "general", "samma")
        store.save_rating(token, "diversity.none", None)  # clearing what is not there is fine
    counts = row_counts(store.engine)
    assert (counts["step_answers"], counts["ratings"], counts["comments"]) == (1, 1, 1)
    assert store.get_response(token).response.ratings == {"diversity.reach": 3}


def test_clear_step_and_submit(store):
    assessment = store.create_assessment("Lund", 2022)
    token = store.start_response(assessment.token, "public")
    store.save_step(token, "agenda", "information", [])
    store.save_step(token, "decision", "dialogue", [])
    store.clear_step(token, "agenda")
    assert set(store.get_response(token).response.steps) == {"decision"}
    first = store.submit_response(token)
    assert store.submit_response(token) == first  # the first submission counts
    assert store.get_response(token).submitted_at == first


def test_responses_for_an_assessment_in_start_order(store):
    first = store.create_assessment("Malmö", 2024)
    second = store.create_assessment("Malmö", 2025)
    tokens = [store.start_response(first.token, side) for side in ("public", "civil_society", "public")]
    store.start_response(second.token, "public")
    store.save_rating(tokens[1], "independence.criticism", 2)

    infos = store.response_infos(first.token)
    assert [info.token for info in infos] == tokens
    assert [r.side for r in store.responses_for(first.token)] == ["public", "civil_society", "public"]
    assert store.responses_for(first.token)[1].ratings == {"independence.criticism": 2}
    assert store.response_counts(first.token) == {"public": 2, "civil_society": 1}


# --- assessments and units ---------------------------------------------------------------------

def test_assessments_found_by_unit_year_and_case(store):
    plain = store.create_assessment("Örebro kommun", 2024)
    with_case = store.create_assessment("Örebro kommun", 2024, case="Bidrag")
    store.create_assessment("Region Örebro län", 2024)

    assert store.find_assessment("Örebro kommun", 2024) == plain
    assert store.find_assessment("Örebro kommun", 2024, case="Bidrag") == with_case
    assert store.find_assessment("Örebro kommun", 2023) is None
    assert store.get_assessment(with_case.token) == with_case
    assert {a.token for a in store.list_assessments(unit="Örebro kommun")} == {plain.token, with_case.token}
    assert len(store.list_assessments(year=2024)) == 3
    with pytest.raises(ValueError, match="already has an assessment for 2024"):
        store.create_assessment("Örebro kommun", 2024)
    with pytest.raises(ValueError, match="already has an assessment"):
        store.create_assessment("Örebro kommun", 2024, case="Bidrag")


def test_units_created_once_and_updated_explicitly(store):
    first = store.ensure_unit("Region Skåne", kind="region")
    assert store.ensure_unit("Region Skåne") == first  # unchanged, not turned into a municipality
    assert store.ensure_unit("  Region Skåne ") == first
    updated = store.update_unit("Region Skåne", region="Skåne")
    assert (updated.kind, updated.region) == ("region", "Skåne")
    assert [(u.name, u.kind, u.region) for u in store.list_units()] == [("Region Skåne", "region", "Skåne")]
    with pytest.raises(LookupError, match="no unit called"):
        store.update_unit("Nowhere", region="x")


def test_delete_response_and_assessment_cascade(store):
    assessment = store.create_assessment("Lund", 2022)
    token = store.start_response(assessment.token, "public")
    store.save_rating(token, "diversity.reach", 3)
    store.delete_response(token)
    with pytest.raises(LookupError):
        store.get_response(token)
    token = store.start_response(assessment.token, "public")
    store.save_step(token, "agenda", "information", [])
    store.delete_assessment(assessment.token)
    counts = row_counts(store.engine)
    assert counts["assessments"] == counts["responses"] == counts["step_answers"] == counts["ratings"] == 0


# --- whole responses --------------------------------------------------------------------------

def test_add_response_round_trip(store):
    original = sample_response()
    token = store.add_response(original)
    info = store.get_response(token)
    assert info.response == original
    assert info.submitted_at is not None
    assert (info.assessment.unit, info.assessment.year, info.assessment.case) == \
        ("Örebro kommun", 2024, "Föreningsbidrag")

    # A second response to the same unit, year and case joins the same assessment.
    again = store.add_response(sample_response(side="public", ratings={"independence.criticism": 1}))
    assert store.get_response(again).assessment.token == info.assessment.token
    assert len(store.list_assessments()) == 1
    assert store.responses_for(info.assessment.token) == [original, store.get_response(again).response]


def test_loaded_responses_behave_like_validated_ones(store):
    """Bulk loading skips validation; the objects must still dump, compare and change normally."""
    original = sample_response()
    store.add_response(original)
    loaded = store.responses_where()[0]
    assert loaded.model_dump() == original.model_dump()
    assert yaml.safe_load(dump_response(loaded)) == yaml.safe_load(dump_response(original))  # key order aside
    assert Response.model_validate_json(loaded.model_dump_json()) == original
    loaded.steps["agenda"].tools.append("key_contact_points")  # its own lists, not shared ones
    assert store.responses_where()[0] == original


def test_add_response_keeps_its_own_levels(store):
    store.create_assessment("Lund", 2022, extensions=[])
    extended = sample_response(unit="Lund", year=2022, case=None, extensions=["mobilisation"])
    plain = sample_response(unit="Lund", year=2022, case=None, extensions=[])
    tokens = store.add_responses([extended, plain])
    assert [store.get_response(t).response for t in tokens] == [extended, plain]


def test_add_responses_is_all_or_nothing(store):
    good = sample_response()
    bad = Response.model_construct(**{**sample_response().__dict__, "side": "press"})
    before = row_counts(store.engine)
    with pytest.raises(ValueError, match="response 2"):
        store.add_responses([good, bad])
    with pytest.raises(ValueError, match="unit"):
        store.add_response(sample_response(unit="   "))
    assert row_counts(store.engine) == before


# --- comparison queries ------------------------------------------------------------------------

def test_responses_where_filters_units_years_and_side(store):
    data = [("Lund", 2022, "public"), ("Lund", 2023, "civil_society"), ("Lund", 2023, "public"),
            ("Malmö", 2023, "public"), ("Malmö", 2024, "civil_society")]
    for i, (unit, year, side) in enumerate(data):
        store.add_response(sample_response(unit=unit, year=year, side=side, case=None,
                                           ratings={"independence.criticism": i}))

    def picked(**filters):
        return sorted((r.unit, r.year, r.side, r.ratings["independence.criticism"])
                      for r in store.responses_where(**filters))

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
    assert store.responses_where(units=["Malmö"], years=[2024])[0] == sample_response(
        unit="Malmö", year=2024, side="civil_society", case=None, ratings={"independence.criticism": 4})


# --- bad input ---------------------------------------------------------------------------------

def test_unknown_tokens_raise_lookup_error_and_write_nothing(store):
    assessment = store.create_assessment("Lund", 2022)
    before = row_counts(store.engine)
    for call in (lambda: store.get_response("nope"),
                 lambda: store.save_step("nope", "agenda", "information", []),
                 lambda: store.save_rating("nope", "independence.criticism", 1),
                 lambda: store.save_rating("nope", "independence.criticism", None),
                 lambda: store.save_comment("nope", "general", "x"),
                 lambda: store.submit_response("nope"),
                 lambda: store.delete_response("nope"),
                 lambda: store.start_response("nope", "public"),
                 lambda: store.get_assessment("nope"),
                 lambda: store.responses_for("nope")):
        with pytest.raises(LookupError, match="no (response|assessment) with token 'nope'"):
            call()
    assert row_counts(store.engine) == before
    assert store.get_assessment(assessment.token) == assessment


def test_bad_values_raise_value_error_and_write_nothing(store):
    assessment = store.create_assessment("Lund", 2022)
    token = store.start_response(assessment.token, "public")
    store.save_rating(token, "independence.criticism", 2)
    before = row_counts(store.engine)
    cases = [
        (lambda: store.start_response(assessment.token, "press"), "unknown side 'press'"),
        (lambda: store.create_assessment("  ", 2024), "unit name must be a non-empty text"),
        (lambda: store.create_assessment("Lund", 1492), "year must be a whole number"),
        (lambda: store.create_assessment("Lund", "2024"), "year must be a whole number"),
        (lambda: store.ensure_unit("Lund", kind="country"), "unknown unit kind 'country'"),
        (lambda: store.save_rating(token, "independence.criticism", True), "a rating must be"),
        (lambda: store.save_rating(token, "independence.criticism", "4"), "a rating must be"),
        (lambda: store.save_rating(token, "independence.criticism", 2.5), "a rating must be"),
        (lambda: store.save_rating(token, "", 2), "statement key must be a non-empty id"),
        (lambda: store.save_step(token, "agenda", "", []), "step 'agenda'"),
        (lambda: store.save_step(token, "agenda", "dialogue", [1, 2]), "step 'agenda'"),
        (lambda: store.save_comment(token, "general", 42), "a comment must be a text"),
        (lambda: store.responses_where(side="both"), "unknown side 'both'"),
        (lambda: store.responses_where(years=["2024"]), "year must be"),
    ]
    for call, message in cases:
        with pytest.raises(ValueError, match=message):
            call()
    assert row_counts(store.engine) == before
    assert store.get_response(token).response.ratings == {"independence.criticism": 2}


def test_store_with_framework_checks_answers(engine, framework):
    store = Store(engine, framework)
    first_step = framework.steps[0].id
    dialogue_tool = framework.cell(first_step, "dialogue").tools[0].id
    optional = framework.optional_levels[0].id
    key = framework.statement_keys[0]

    plain = store.create_assessment("Lund", 2022)
    token = store.start_response(plain.token, "public")
    store.save_step(token, first_step, "dialogue", [dialogue_tool])
    store.save_rating(token, key, framework.scale.max)
    before = row_counts(engine)
    for call, message in [
        (lambda: store.save_step(token, "no_such_step", "dialogue", []), "unknown step 'no_such_step'"),
        (lambda: store.save_step(token, first_step, "shouting", []), "unknown level 'shouting'"),
        # An optional level only counts where the assessment switched it on.
        (lambda: store.save_step(token, first_step, optional, []), f"unknown level '{optional}'"),
        (lambda: store.save_step(token, first_step, "dialogue", ["kazoo"]), "'kazoo' is not a tool"),
        (lambda: store.save_rating(token, key, framework.scale.max + 1), "outside the scale"),
        (lambda: store.save_rating(token, "no.such", 1), "unknown statement 'no.such'"),
        (lambda: store.create_assessment("Lund", 2030, extensions=["turbo"]), "'turbo' is not an optional"),
        (lambda: store.add_response(sample_response(ratings={key: 99})), "response 1 .*outside the scale"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
    assert row_counts(engine) == before

    extended = store.create_assessment("Lund", 2023, extensions=[optional])
    token = store.start_response(extended.token, "civil_society")
    store.save_step(token, first_step, optional, [])
    assert store.get_response(token).response.steps[first_step].level == optional


# --- durability and schema ----------------------------------------------------------------------

def test_second_store_on_the_same_sqlite_file_sees_the_writes(sqlite_url):
    writer_engine = make_engine(sqlite_url)
    try:
        store = Store(writer_engine)
        assessment = store.create_assessment("Lund", 2022)
        token = store.start_response(assessment.token, "civil_society")
        store.save_rating(token, "independence.criticism", 3)
        store.save_comment(token, "general", "sparat")
        expected = store.get_response(token).response
    finally:
        writer_engine.dispose()
    # A fresh engine, as after a restart of the app.
    reader_engine = make_engine(sqlite_url)
    try:
        assert Store(reader_engine).get_response(token).response == expected
    finally:
        reader_engine.dispose()


def test_concurrent_saves_all_arrive(db_url):
    """Many respondents answering at once (a workshop): no lost or locked-out writes."""
    engines = [make_engine(db_url) for _ in range(2)]  # two app processes on one database
    try:
        stores = [Store(engine) for engine in engines]
        assessment = stores[0].create_assessment("Burlöv", 2023)
        tokens = [stores[0].start_response(assessment.token, "civil_society") for _ in range(8)]
        errors: list[BaseException] = []

        def answer(i: int, token: str) -> None:
            store = stores[i % 2]
            try:
                for n in range(15):
                    store.save_rating(token, f"p.s{n}", n % 5)
                    store.save_step(token, f"step{n % 3}", "information", [])
            except BaseException as exc:  # reported below; a thread cannot fail the test itself
                errors.append(exc)

        threads = [threading.Thread(target=answer, args=(i, t)) for i, t in enumerate(tokens)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        for response in stores[1].responses_for(assessment.token):
            assert response.ratings == {f"p.s{n}": n % 5 for n in range(15)}
            assert set(response.steps) == {"step0", "step1", "step2"}
    finally:
        for engine in engines:
            engine.dispose()


def current_versions(engine) -> list[int]:
    with engine.connect() as conn:
        return conn.execute(sa.select(db.schema_version.c.version)
                            .order_by(db.schema_version.c.version)).scalars().all()


def test_init_db_is_idempotent_and_records_the_version(engine):
    assert current_versions(engine) == [len(db.MIGRATIONS)]
    store = Store(engine)
    token = store.add_response(sample_response())
    assert init_db(engine) == len(db.MIGRATIONS)
    init_db(engine)
    assert current_versions(engine) == [len(db.MIGRATIONS)]
    assert store.get_response(token).response == sample_response()


def test_pending_migrations_run_once_in_order(engine, monkeypatch):
    latest = len(db.MIGRATIONS)
    calls: list[int] = []

    def add_note_column(conn):
        calls.append(latest + 1)
        db.add_column(conn, "units", sa.Column("note", sa.String(100), nullable=True))

    def fill_note(conn):
        calls.append(latest + 2)
        conn.execute(sa.text("UPDATE units SET note = 'migrated'"))

    store = Store(engine)
    store.ensure_unit("Lund")
    monkeypatch.setattr(db, "MIGRATIONS", [*db.MIGRATIONS, add_note_column, fill_note])
    assert init_db(engine) == latest + 2
    assert init_db(engine) == latest + 2
    assert calls == [latest + 1, latest + 2]  # each once, in order
    assert current_versions(engine) == [latest, latest + 1, latest + 2]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT note FROM units")).scalars().all() == ["migrated"]


def test_failed_migration_changes_nothing(engine, monkeypatch):
    latest = len(db.MIGRATIONS)

    def half_done(conn):
        db.add_column(conn, "units", sa.Column("note", sa.String(100), nullable=True))
        raise RuntimeError("migration bug")

    monkeypatch.setattr(db, "MIGRATIONS", [*db.MIGRATIONS, half_done])
    with pytest.raises(RuntimeError, match="migration bug"):
        init_db(engine)
    assert current_versions(engine) == [latest]
    with engine.connect() as conn:
        assert "note" not in {c["name"] for c in sa.inspect(conn).get_columns("units")}


def test_newer_schema_than_the_program_is_refused(engine):
    with engine.begin() as conn:
        conn.execute(db.schema_version.insert().values(version=len(db.MIGRATIONS) + 5,
                                                       applied_at=db.utcnow()))
    with pytest.raises(RuntimeError, match="newer than this program"):
        init_db(engine)
