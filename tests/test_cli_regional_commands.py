"""The regional commands through assessment.cli.main: import, export, compare, report."""

from __future__ import annotations

import json

import pytest

from assessment.cli.main import main
from assessment.exchange.export import export_data, export_json
from assessment.regional import compare
from assessment.regional.demo import demo_responses
from assessment.store.assessments import Assessments
from assessment.store.engine import make_engine
from assessment.store.responses import Responses

UNITS = ("Exempelstad (fiktiv)", "Sjöby kommun (fiktiv)", "Skogsbygdens kommun (fiktiv)")


@pytest.fixture
def db_file(tmp_path, framework):
    """A SQLite database with three fictional units' demo answers for 2025 and 2026."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = make_engine(url)
    assessments = Assessments(engine, framework)
    for unit in UNITS:
        assessments.ensure_unit(unit, region="Mellanlands län (fiktivt)")
    Responses(engine, framework).add_responses([r for r in demo_responses(framework)
                                                if r.unit in UNITS and r.year >= 2025])
    return url, engine


def fresh_db(tmp_path, name):
    return f"sqlite:///{tmp_path / name}"


def test_export_then_import_into_another_database(db_file, tmp_path, framework, capsys):
    url, engine = db_file
    out = tmp_path / "region.json"
    assert main(["export", "--db", url, "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    other = fresh_db(tmp_path, "other.db")
    assert main(["import", "--db", other, str(out)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("region.json: 48 responses added")
    # Same data on both sides.
    exported = json.loads(out.read_bytes())
    again = export_data(make_engine(other), framework)
    assert again["assessments"] == exported["assessments"] and again["units"] == exported["units"]
    # A second import adds nothing.
    assert main(["import", "--db", other, str(out)]) == 0
    assert "0 responses added, 0 replaced, 48 unchanged" in capsys.readouterr().out


def test_export_csv_with_semicolons_for_one_unit_and_year(db_file, tmp_path, capsys):
    url, _ = db_file
    out = tmp_path / "sjoby.csv"
    assert main(["export", "--db", url, "--unit", UNITS[1], "--year", "2026", "--out", str(out),
                 "--delimiter", ";"]) == 0
    text = out.read_bytes().decode("utf-8-sig")
    rows = text.splitlines()
    assert rows[0].startswith("unit;kind;region;year")
    assert all(r.startswith(f"{UNITS[1]};") for r in rows[1:])
    assert {r.split(";")[3] for r in rows[1:]} == {"2026"}


def test_compare_prints_the_core_numbers(db_file, framework, capsys):
    url, engine = db_file
    assert main(["compare", "--db", url, "--units", ",".join(UNITS[:2]), "--year", "2026",
                 "--side", "public"]) == 0
    out = capsys.readouterr().out.splitlines()
    expected = compare.compare(engine, framework, units=UNITS[:2], years=[2026], side="public")
    header, rows = compare.comparison_table(framework, expected, "en", year=2026)
    assert out[0].split("  ")[0].strip() == header[0]
    for unit in UNITS[:2]:
        line = next(line for line in out if line.startswith(unit))
        scores = [s.score for s in expected.scores[2026][unit]]
        cells = line[len(unit):].split()
        assert [float(c) for c in cells[0::2]] == pytest.approx(scores, abs=0.05)
    assert any(line.startswith("Group median") for line in out)


def test_compare_json(db_file, framework, capsys):
    url, engine = db_file
    assert main(["compare", "--db", url, "--year", "2025", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = compare.compare(engine, framework, years=[2025])
    assert sorted(data["scores"]) == sorted(UNITS)
    for unit, scores in data["scores"].items():
        assert [s["score"] for s in scores] == [s.score for s in expected.scores[2025][unit]]
    assert data["region"]["quality"]["median"] == expected.stats[2025]["quality"].median
    assert [r["unit"] for r in data["rankings"]["quality"]] == [r.unit for r in expected.rankings["quality"]]


def test_report_html_and_pdf(db_file, tmp_path, capsys):
    url, _ = db_file
    html = tmp_path / "rapport.html"
    assert main(["report", "--db", url, "--unit", UNITS[0], "--year", "2026", "--out", str(html),
                 "--lang", "en"]) == 0
    assert UNITS[0] in html.read_text(encoding="utf-8")
    pdf = tmp_path / "rapport.pdf"
    assert main(["report", "--db", url, "--unit", UNITS[0], "--year", "2026", "--out", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF")


def one_error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("error: ")
    return err[0]


@pytest.mark.parametrize("args,words", [
    (["compare", "--units", "Atlantis", "--year", "2026"], "--units: unknown unit 'Atlantis'"),
    (["compare", "--year", "1999"], "no answers for any unit in 1999"),
    (["export", "--out", "data.xlsx"], "must end in .json or .csv"),
    (["export", "--out", "data.json", "--delimiter", ";"], "--delimiter applies to .csv files only"),
    (["export", "--unit", "Atlantis", "--out", "x.json"], "no unit called 'Atlantis'"),
    (["report", "--unit", "Atlantis", "--year", "2026", "--out", "r.pdf"], "Atlantis"),
    (["report", "--unit", UNITS[0], "--year", "2026", "--out", "r.docx"], "must end in .pdf or .html"),
    (["import", "no-such-file.json"], "no-such-file.json: file not found"),
])
def test_errors_are_one_line_with_exit_2(db_file, tmp_path, monkeypatch, capsys, args, words):
    url, _ = db_file
    monkeypatch.chdir(tmp_path)
    assert main([*args, "--db", url]) == 2
    assert words in one_error(capsys)


def test_bad_database_url(capsys):
    assert main(["compare", "--db", "mysql://x/y", "--year", "2026"]) == 2
    assert "unsupported database 'mysql'" in one_error(capsys)


def test_import_checks_every_file_before_writing_any(db_file, tmp_path, framework, capsys):
    url, engine = db_file
    good = tmp_path / "good.json"
    good.write_bytes(export_json(engine, framework))
    bad = tmp_path / "bad.json"
    data = json.loads(good.read_bytes())
    data["assessments"][1]["responses"][0]["side"] = "nobody"
    data["assessments"][2]["year"] = "last year"
    bad.write_text(json.dumps(data), encoding="utf-8")
    other = fresh_db(tmp_path, "empty.db")
    assert main(["import", "--db", other, str(good), str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: bad.json: assessments[1].responses[0].side: Input should be 'public' or 'civil_society' (got 'nobody')",
        "error: bad.json: assessments[2].year: Input should be a valid integer, unable to parse string as an "
        "integer (got 'last year')",
    ]
    assert Assessments(make_engine(other)).list_assessments() == []
