"""The core commands: validate, score, demo; errors are lines on stderr with exit 2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from assessment.cli.main import main
from assessment.framework.matrix import DEFAULT_MATRIX, load_framework
from assessment.framework.responses import read_response
from assessment.scoring.scores import principle_scores

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "response.yaml"


def test_validate_ok(capsys):
    assert main(["validate", str(DEFAULT_MATRIX)]) == 0
    assert "ok" in capsys.readouterr().out


def test_validate_bad_matrix_exit_2_with_error_lines(tmp_path, capsys):
    data = yaml.safe_load(DEFAULT_MATRIX.read_text(encoding="utf-8"))
    data["steps"][1]["name"]["sv"] = " "
    data["levels"][0]["name"].pop("en")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert main(["validate", str(bad)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2
    assert all(line.startswith("error: bad.yaml:") for line in err)
    assert any("levels[0].name.en: required field is missing" in line for line in err)
    assert any("steps[1].name.sv" in line for line in err)


def test_validate_uses_environment_matrix(tmp_path, monkeypatch, capsys):
    copy = tmp_path / "region.yaml"
    copy.write_text(DEFAULT_MATRIX.read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("ASSESSMENT_MATRIX", str(copy))
    assert main(["validate"]) == 0
    assert str(copy) in capsys.readouterr().out


def test_score_json_matches_core(capsys):
    fw = load_framework()
    assert main(["score", str(EXAMPLE), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    expected = principle_scores(fw, [read_response(EXAMPLE, fw)])
    assert [p["score"] for p in report["principles"]] == [s.score for s in expected]
    assert len(report["advice"]) == len(fw.steps)


def test_score_table(capsys):
    assert main(["score", str(EXAMPLE), "--lang", "sv"]) == 0
    out = capsys.readouterr().out
    fw = load_framework()
    assert all(p.name.sv in out for p in fw.principles)


def test_score_bad_file(tmp_path, capsys):
    bad = tmp_path / "svar.yaml"
    bad.write_text("unit: X\nyear: nineteen\nside: public\n", encoding="utf-8")
    assert main(["score", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "svar.yaml:2: year:" in err and "Traceback" not in err


def test_score_missing_file(capsys):
    assert main(["score", "does-not-exist.yaml"]) == 2
    assert "file not found" in capsys.readouterr().err


def test_demo_is_idempotent(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ASSESSMENT_DB", str(tmp_path / "demo.db"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["demo"]) == 0
    first = capsys.readouterr().out
    assert main(["demo"]) == 0
    assert "already loaded" in capsys.readouterr().out
    assert "responses added" in first

    from assessment.regional import followup
    from assessment.regional.demo import DEMO_AGREEMENT_ID, DEMO_UNITS, FOLLOWUP_YEARS, demo_responses
    from assessment.store.assessments import Assessments
    from assessment.store.migrations import open_database
    from assessment.store.responses import Responses

    engine = open_database()
    fw = load_framework()
    assert len(Responses(engine).responses_where()) == len(demo_responses(fw))
    assert all("fiktiv" in unit.name for unit in Assessments(engine).list_units())
    agreement = followup.get_agreement(engine, DEMO_AGREEMENT_ID)
    assert agreement.unit == DEMO_UNITS[0].name
    recorded = followup.statuses(engine, DEMO_AGREEMENT_ID, FOLLOWUP_YEARS[-1])
    assert set(recorded) == {c.id for c in agreement.commitments}


def test_console_script_no_traceback(tmp_path):
    bad = tmp_path / "m.yaml"
    bad.write_text("levels: [\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-m", "assessment.cli.main", "validate", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: m.yaml:") and "Traceback" not in proc.stderr


@pytest.mark.parametrize("url,words", [
    ("mysql://x", "unsupported database 'mysql'"),
    ("postgresql://nobody@127.0.0.1:1/x", "cannot connect"),
])
def test_bad_database_url_is_one_line(monkeypatch, capsys, url, words):
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["demo"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: DATABASE_URL") and words in err[0]
