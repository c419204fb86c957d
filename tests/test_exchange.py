"""Export and import: round trips on SQLite and PostgreSQL, idempotent re-imports, and
malformed files that are each rejected with their own located message and change nothing."""

from __future__ import annotations

import copy
import csv
import io
import json

import pytest
import sqlalchemy as sa

from assessment.exchange.export import export_csv, export_data, export_json
from assessment.exchange.importer import bulk_load, import_bytes
from assessment.exchange.records import CSV_COLUMNS
from assessment.framework.responses import Response, StepAnswer
from assessment.framework.yamlsource import SourceError
from assessment.regional import aggregates, compare
from assessment.regional import followup as fs
from assessment.regional import summaries
from assessment.regional.agreements import AGREEMENTS_DIR, load_agreement
from assessment.regional.demo import demo_responses
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments
from assessment.store.responses import Responses
from assessment.store.tables import agreements_table, metadata


def fill(engine, fw):
    """Two fictional units over two years, one assessment with an optional level, an agreement."""
    assessments, answers = Assessments(engine, fw), Answers(engine, fw)
    assessments.ensure_unit("Exempelstad (fiktiv)", kind="municipality", region="Mellanlands län (fiktivt)")
    assessments.ensure_unit("Förening Öst (fiktiv)", kind="organisation")
    sample = [r for r in demo_responses(fw) if r.unit == "Exempelstad (fiktiv)" and r.year in (2024, 2025)]
    Responses(engine, fw).add_responses(sample[:6] + sample[-4:])
    info = assessments.create_assessment("Förening Öst (fiktiv)", 2025, case="Lokalt kulturstöd",
                                         extensions=["mobilisation"])
    token = answers.start_response(info.token, "civil_society", role="Ordförande, \"Öst\"; styrelse")
    answers.save_step(token, "agenda", "mobilisation", [])
    answers.save_rating(token, fw.statement_keys[0], 3)
    answers.save_rating(token, fw.statement_keys[1], "dont_know")
    answers.save_comment(token, "general", "Flera rader,\nmed semikolon; och \"citat\".")
    answers.start_response(info.token, "public")  # empty: started, nothing answered
    agreement = load_agreement(AGREEMENTS_DIR / "orebro.yaml", fw)
    fs.save_agreement(engine, agreement)
    fs.set_status(engine, "orebro", "easy_contact", 2024, "done", "Kontaktsida klar")
    fs.set_status(engine, "orebro", "seek_dialogue", 2025, "under_way")
    return engine


def wipe(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(metadata.tables["units"]))
        conn.execute(sa.delete(agreements_table))


def row_counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                for t in metadata.sorted_tables}


def without_time(data: dict) -> dict:
    data = dict(data)
    data.pop("exported_at")
    return data


def test_json_round_trip_gives_identical_data(engine, framework):
    fill(engine, framework)
    first = export_json(engine, framework)
    original = json.loads(first)
    scores_before = compare.compare(engine, framework).scores
    counts_before = row_counts(engine)
    wipe(engine)
    assert row_counts(engine)["responses"] == 0

    summary = import_bytes(engine, framework, first, "all.json")
    assert summary.responses_added == sum(len(a["responses"]) for a in original["assessments"]) == 12
    assert (summary.agreements, summary.followups) == (1, 2)
    again = json.loads(export_json(engine, framework))
    assert without_time(again) == without_time(original)
    assert compare.compare(engine, framework).scores == scores_before
    for name in ("units", "assessments", "responses", "ratings", "step_answers", "comments", "followups"):
        assert row_counts(engine)[name] == counts_before[name], name


def test_csv_round_trip_gives_identical_data(engine, framework):
    fill(engine, framework)
    first = export_csv(engine, framework, delimiter=";")
    before = json.loads(export_json(engine, framework))
    wipe(engine)
    summary = import_bytes(engine, framework, first, "all.csv")
    assert summary.responses_added == 12
    assert export_csv(engine, framework, delimiter=";") == first
    after = json.loads(export_json(engine, framework))
    # CSV carries no timestamps and no agreements; everything else is the same.
    strip = {"created_at", "updated_at", "submitted_at"}
    for a, b in zip(before["assessments"], after["assessments"]):
        assert {k: v for k, v in a.items() if k not in strip | {"responses"}} == \
            {k: v for k, v in b.items() if k not in strip | {"responses"}}
        assert [{k: v for k, v in r.items() if k not in strip} for r in a["responses"]] == \
            [{k: v for k, v in r.items() if k not in strip} for r in b["responses"]]
    assert before["units"] == after["units"]


def test_importing_the_same_file_twice_adds_nothing(engine, framework):
    fill(engine, framework)
    summaries.refresh_summaries(engine, framework)  # derived rows too: an import leaves them as they were
    for name, payload in (("all.json", export_json(engine, framework)),
                          ("all.csv", export_csv(engine, framework))):
        before = row_counts(engine)
        summary = import_bytes(engine, framework, payload, name)
        assert (summary.responses_added, summary.responses_replaced, summary.responses_unchanged) == (0, 0, 12)
        assert summary.units_added == summary.assessments_added == 0
        assert row_counts(engine) == before


def test_reimport_of_an_edited_file_replaces_that_response(sqlite_engine, framework):
    engine = fill(sqlite_engine, framework)
    data = json.loads(export_json(engine, framework))
    response = data["assessments"][0]["responses"][0]
    key = next(iter(response["ratings"]))
    response["ratings"][key] = 0 if response["ratings"][key] != 0 else 4
    before = row_counts(sqlite_engine)
    summary = import_bytes(engine, framework, json.dumps(data).encode(), "edited.json")
    assert (summary.responses_added, summary.responses_replaced, summary.responses_unchanged) == (0, 1, 11)
    assert row_counts(sqlite_engine)["ratings"] == before["ratings"]
    exported = json.loads(export_json(engine, framework))
    tokens = {r["token"]: r for a in exported["assessments"] for r in a["responses"]}
    assert tokens[response["token"]]["ratings"][key] == response["ratings"][key]
    # The comparison sees the replaced answer.
    year = data["assessments"][0]["year"]
    fresh = aggregates.aggregate_responses(framework, Responses(engine).responses_where(years=[year]))
    assert compare.compare(engine, framework, years=[year]).scores[year] == \
        aggregates.unit_scores(framework, fresh, year)


def test_export_selection_and_csv_encoding(sqlite_engine, framework):
    engine = fill(sqlite_engine, framework)
    one_unit = export_data(engine, framework, unit="Förening Öst (fiktiv)")
    assert [u["name"] for u in one_unit["units"]] == ["Förening Öst (fiktiv)"]
    assert [a["case"] for a in one_unit["assessments"]] == ["Lokalt kulturstöd"]
    assert one_unit["agreements"] == []  # the Örebro agreement belongs to another unit
    one_year = export_data(engine, framework, year=2024)
    assert {a["year"] for a in one_year["assessments"]} == {2024}
    assert [f["year"] for f in one_year["followups"]] == [2024]
    with pytest.raises(LookupError, match="no unit called 'Nowhere'"):
        export_data(engine, framework, unit="Nowhere")

    raw = export_csv(engine, framework, unit="Förening Öst (fiktiv)", delimiter=";")
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline=""), delimiter=";"))
    comment = next(r for r in rows if r["item_type"] == "comment")
    assert comment["text"] == "Flera rader,\nmed semikolon; och \"citat\"."
    assert {r["item_type"] for r in rows} == {"assessment", "response", "step", "rating", "comment"}
    assert next(r for r in rows if r["item_type"] == "assessment")["extensions"] == "mobilisation"
    with pytest.raises(ValueError, match="delimiter"):
        export_csv(engine, framework, delimiter="\t")


# --- malformed files ------------------------------------------------------------------------------

def json_case(mutate):
    def build(valid_json: dict, valid_csv: str) -> tuple[str, bytes]:
        data = copy.deepcopy(valid_json)
        result = mutate(data)
        return "bad.json", result if isinstance(result, bytes) else json.dumps(data, ensure_ascii=False).encode()
    return build


def csv_case(mutate, encoding="utf-8-sig"):
    def build(valid_json: dict, valid_csv: str) -> tuple[str, bytes]:
        lines = valid_csv.split("\r\n")
        result = mutate(lines)
        text = result if isinstance(result, str) else "\r\n".join(lines)
        return "bad.csv", text.encode(encoding)
    return build


def first_response(d):
    return next(r for a in d["assessments"] for r in a["responses"] if r["ratings"] and r["steps"])


def first_rating_key(d):
    return next(iter(first_response(d)["ratings"]))


def path_of_first_response(d):
    for i, a in enumerate(d["assessments"]):
        for j, r in enumerate(a["responses"]):
            if r["ratings"] and r["steps"]:
                return f"assessments[{i}].responses[{j}]"


def csv_line(lines, item_type):
    """(index in lines, 1-based file line) of the first row of that item type."""
    for i, line in enumerate(lines):
        if i and f",{item_type}," in line:  # not the header
            return i, i + 1
    raise AssertionError(item_type)


def replace_field(lines, item_type, column, value):
    i, line_no = csv_line(lines, item_type)
    fields = next(csv.reader([lines[i]]))
    fields[CSV_COLUMNS.index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    lines[i] = buf.getvalue()
    return line_no


def set_first(field, value):
    def mutate(d):
        first_response(d)[field] = value
    return mutate


MALFORMED = [
    # name, builder, expected location (JSON path or "line:column"), words in the message
    ("wrong version", json_case(lambda d: d.update(version=2)), "version", "unknown version 2: this program reads version 1"),
    ("not an export", json_case(lambda d: d.update(format="something-else")), "format", "not an assessment export"),
    ("missing year", json_case(lambda d: d["assessments"][0].pop("year")), "assessments[0].year",
     "required field is missing"),
    ("year out of range", json_case(lambda d: d["assessments"][0].update(year=1800)), "assessments[0].year",
     "greater than or equal to 1900"),
    ("year not a number", json_case(lambda d: d["assessments"][0].update(year="tjugo")), "assessments[0].year",
     "integer"),
    ("unknown statement", json_case(lambda d: first_response(d)["ratings"].update({"quality.nope": 2})),
     "{r}.ratings.quality.nope", "unknown statement 'quality.nope'"),
    ("rating off scale", json_case(lambda d: first_response(d)["ratings"].update({first_rating_key(d): 9})),
     "{r}.ratings.{k}", "outside the scale"),
    ("rating true", json_case(lambda d: first_response(d)["ratings"].update({first_rating_key(d): True})),
     "{r}.ratings.{k}", "a rating must be a whole number"),
    ("bad side", json_case(set_first("side", "both")), "{r}.side", "'public' or 'civil_society'"),
    ("unknown step", json_case(lambda d: first_response(d)["steps"].update({"voting": {"level": "none"}})),
     "{r}.steps.voting", "unknown step 'voting'"),
    ("unknown level", json_case(lambda d: first_response(d)["steps"].update({"agenda": {"level": "shouting"}})),
     "{r}.steps.agenda.level", "unknown level 'shouting'"),
    ("unknown field", json_case(set_first("mood", "good")), "{r}.mood", "unknown key"),
    ("duplicate response", json_case(lambda d: d["assessments"][0]["responses"].append(
        copy.deepcopy(d["assessments"][0]["responses"][0]))), "assessments[0].responses[", "duplicate response token"),
    ("unknown unit kind", json_case(lambda d: d["units"][0].update(kind="county")), "units[0].kind",
     "unknown kind 'county'"),
    ("follow-up status", json_case(lambda d: d["followups"][0].update(status="finished")), "followups[0].status",
     "unknown status 'finished'"),
    ("follow-up commitment", json_case(lambda d: d["followups"][0].update(commitment="nothing")),
     "followups[0].commitment", "has no commitment 'nothing'"),
    ("agreement principle", json_case(lambda d: d["agreements"][0]["commitments"][0].update(principles=["x"])),
     "agreements[0].commitments[0].principles[0]", "unknown principle 'x'"),
    ("truncated JSON", json_case(lambda d: json.dumps(d).encode()[:300]), ":1:", "truncated"),
    ("JSON not an object", json_case(lambda d: b"[1, 2, 3]"), "", "expected a JSON object"),
    ("JSON not UTF-8", json_case(lambda d: json.dumps(d, ensure_ascii=False).encode("latin-1")), "", "not UTF-8"),
    ("empty file", json_case(lambda d: b"   \n"), "", "the file is empty"),
    ("CSV tab-separated", csv_case(lambda lines: "\r\n".join(line.replace(",", "\t") for line in lines)),
     ":1:", "header: expected the columns"),
    ("CSV in Latin-1", csv_case(lambda lines: None, encoding="latin-1"), "", "not UTF-8"),
    ("CSV in UTF-16", csv_case(lambda lines: None, encoding="utf-16"), "", "UTF-16"),
    ("CSV rating off scale", csv_case(lambda lines: replace_field(lines, "rating", "value", "7")), "rating:value",
     "rating 7 is outside the scale"),
    ("CSV rating not a number", csv_case(lambda lines: replace_field(lines, "rating", "value", "fyra")),
     "rating:value", "a rating must be a whole number"),
    ("CSV unknown statement", csv_case(lambda lines: replace_field(lines, "rating", "item", "quality.nope")),
     "rating:item", "unknown statement 'quality.nope'"),
    ("CSV bad side", csv_case(lambda lines: replace_field(lines, "response", "side", "kommunen")),
     "response:side", "unknown side 'kommunen'"),
    ("CSV bad year", csv_case(lambda lines: replace_field(lines, "assessment", "year", "20x5")), "assessment:year",
     "year must be a whole number"),
    ("CSV duplicate row", csv_case(lambda lines: lines.insert(csv_line(lines, "rating")[0] + 1,
                                                              lines[csv_line(lines, "rating")[0]])),
     "rating+1:item", "duplicate row"),
    ("CSV missing field", csv_case(lambda lines: lines.__setitem__(
        csv_line(lines, "step")[0], lines[csv_line(lines, "step")[0]].rsplit(",", 1)[0])), "step:", "expected 16 fields"),
    ("CSV unknown item type", csv_case(lambda lines: replace_field(lines, "step", "item_type", "vote")),
     "step:item_type", "unknown item type 'vote'"),
    ("CSV missing response id", csv_case(lambda lines: replace_field(lines, "step", "response", "")),
     "step:response", "missing"),
    ("CSV header only", csv_case(lambda lines: lines[0]), ":1:", "no data rows"),
    ("CSV unclosed quote", csv_case(lambda lines: "\r\n".join(lines[:3]) + '\r\n"Exempelstad,municipality'),
     "", "broken CSV"),
]


@pytest.fixture
def filled(sqlite_engine, framework):
    engine = fill(sqlite_engine, framework)
    return engine, json.loads(export_json(engine, framework)), \
        export_csv(engine, framework).decode("utf-8-sig")


@pytest.mark.parametrize("name,build,where,words", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_is_rejected_with_its_own_message_and_changes_nothing(
        filled, framework, name, build, where, words):
    engine, valid_json, valid_csv = filled
    filename, payload = build(valid_json, valid_csv)
    before = row_counts(engine)
    with pytest.raises(SourceError) as caught:
        import_bytes(engine, framework, payload, filename)
    message = str(caught.value)
    assert message.startswith(filename), message
    assert words in message, message
    lines = valid_csv.split("\r\n")
    if ":" in where and filename.endswith(".csv") and not where.startswith(":"):
        # "item_type:column": the line of the first such row (+1 when a row was inserted before it).
        item, column = where.split(":")
        offset = 1 if item.endswith("+1") else 0
        line_no = csv_line(lines, item.removesuffix("+1"))[1] + offset
        assert f"{filename}:{line_no}: {column}".rstrip() in message, message
    else:
        expected = where.format(r=path_of_first_response(valid_json), k=first_rating_key(valid_json))
        assert expected in message, message
    assert row_counts(engine) == before


def test_conflict_with_the_database_is_found_before_anything_is_written(filled, framework):
    engine, valid_json, _csv = filled
    data = copy.deepcopy(valid_json)
    # A known assessment token claimed for another year, plus a new response that would be added.
    data["assessments"][0]["year"] = 2019
    data["assessments"][0]["responses"].append({**copy.deepcopy(data["assessments"][0]["responses"][0]),
                                                "token": "brand-new-token"})
    data["units"].append({"name": "Ny kommun", "kind": "municipality", "region": None})
    before = row_counts(engine)
    with pytest.raises(SourceError) as caught:
        import_bytes(engine, framework, json.dumps(data).encode(), "conflict.json")
    assert "conflict.json: assessments[0].token: assessment" in str(caught.value)
    assert "already exists in the database" in str(caught.value)
    assert row_counts(engine) == before


def test_many_problems_are_listed_together(filled, framework):
    engine, valid_json, _csv = filled
    data = copy.deepcopy(valid_json)
    data["assessments"][0]["year"] = 1700
    data["units"][0]["kind"] = "planet"
    with pytest.raises(SourceError) as caught:
        import_bytes(engine, framework, json.dumps(data).encode(), "two.json")
    paths = {p.path for p in caught.value.problems}
    assert ("assessments", 0, "year") in paths and ("units", 0, "kind") in paths


def test_bulk_load_writes_what_a_store_reads_back(engine, framework):
    sqlite_engine = engine  # both databases: SQLite executemany, PostgreSQL COPY
    tool = framework.cell("agenda", "consultation").tools[0].id
    items = [Response(unit="Bulkby", year=2030, side="public", ratings={framework.statement_keys[0]: 2},
                      steps={"agenda": StepAnswer(level="consultation", tools=[tool])},
                      comments={"general": "hej; \"tab\"\there\nrad två"}),
             Response(unit="Bulkby", year=2030, side="civil_society", ratings={framework.statement_keys[1]: "dont_know"})]
    assert bulk_load(sqlite_engine, framework, items, unit_info={"Bulkby": ("region", "Län Z")}) == 2
    back = Responses(sqlite_engine).responses_where(units=["Bulkby"])
    assert [(r.side, r.ratings, {k: (v.level, v.tools) for k, v in r.steps.items()}, r.comments) for r in back] == \
        [(r.side, r.ratings, {k: (v.level, v.tools) for k, v in r.steps.items()}, r.comments) for r in items]
    assert summaries.unit_info(engine)["Bulkby"] == ("region", "Län Z")
