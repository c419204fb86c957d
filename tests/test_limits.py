"""Bounded reading of every file that comes in (assessment.framework.limits): each limit is hit by a
hostile file, which is refused with one line naming the file and the limit, and changes nothing."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from assessment.access.permissions import Actor
from assessment.access.writes import Refused, import_file, upload_agreement
from assessment.cli.main import main
from assessment.exchange.file_limits import read_export_file
from assessment.exchange.importer import import_bytes
from assessment.exchange.parse import parse_import
from assessment.exchange.records import CSV_COLUMNS
from assessment.framework import limits
from assessment.framework.limits import IMPORT_MAX_BYTES, IMPORT_MAX_ROWS, MAX_DEPTH, YAML_MAX_BYTES, YAML_MAX_VALUES
from assessment.framework.matrix import parse_framework
from assessment.framework.responses import parse_response, read_response
from assessment.framework.yamlsource import SourceError, load_yaml, read_yaml
from assessment.regional.agreements import parse_agreement
from assessment.workshop.decks import parse_deck
from conftest import database_rows

REPO = Path(__file__).resolve().parent.parent


def laughs(levels: int = 9) -> str:
    """The YAML 'billion laughs': nine aliases of nine aliases ... of nine values (9^9 values)."""
    lines = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def nested_block(depth: int) -> str:
    """Mappings nested by indentation, `depth` levels."""
    return "".join("  " * i + f"k{i}:\n" for i in range(depth - 1)) + "  " * (depth - 1) + "k: v\n"


def only_line(exc: SourceError, source: str) -> str:
    """The one problem of a refused file, checked to be one line about `source`."""
    text = str(exc)
    assert len(exc.problems) == 1 and "\n" not in text, text
    assert text.startswith(f"{source}:"), text
    return text


HOSTILE_YAML = [
    ("billion laughs", laughs(), f"more than {limits.number_text(YAML_MAX_VALUES)} values"),
    ("deep flow nesting", "a: " + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "\n", f"nested deeper than {MAX_DEPTH} levels"),
    ("deep block nesting", nested_block(MAX_DEPTH + 1), f"nested deeper than {MAX_DEPTH} levels"),
    ("alias deepening past the limit", "a: &a " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\nb: [*a]\n",
     f"nested deeper than {MAX_DEPTH} levels"),
    ("alias loop", "a: &a [1, *a]\n", "a loop"),
    ("too large", "a: " + "x" * YAML_MAX_BYTES + "\n", f"larger than {limits.size_text(YAML_MAX_BYTES)}"),
]


def yaml_parsers(fw):
    return {
        "matrix": parse_framework,
        "deck": parse_deck,
        "agreement": lambda text, source: parse_agreement(text, source, fw),
        "agreement upload": lambda text, source: parse_agreement(text.encode(), source, fw),
        "response": lambda text, source: parse_response(text, source, fw),
    }


@pytest.mark.parametrize("kind", ["matrix", "deck", "agreement", "agreement upload", "response"])
@pytest.mark.parametrize("name,text,words", HOSTILE_YAML, ids=[c[0] for c in HOSTILE_YAML])
def test_hostile_yaml_is_refused_by_every_parser(framework, kind, name, text, words):
    with pytest.raises(SourceError) as caught:
        yaml_parsers(framework)[kind](text, "hostile.yaml")
    assert words in only_line(caught.value, "hostile.yaml")


def test_aliases_within_the_limits_still_work():
    data, _ = load_yaml("texts: &t {sv: Ja tack, en: Yes please}\nagain: *t\n", "ok.yaml")
    assert data["again"] == data["texts"] == {"sv": "Ja tack", "en": "Yes please"}
    deepest = "a: " + "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1) + "\n"
    assert load_yaml(deepest, "ok.yaml")[0]["a"] is not None  # exactly MAX_DEPTH levels


@pytest.mark.parametrize("text,words", [
    ("a: " + "1" * 5000 + "\n", "cannot read the value"),  # beyond Python's int conversion limit
    ("a: 2026-02-30\n", "day is out of range"),
    ("a: !!int abc\n", "cannot read the value"),
    ("a: &x 1\nb: &x 2\n", "anchor '&x' is defined twice"),
    ("a: *nowhere\n", "alias '*nowhere' names no anchor"),
    ("a: 1\n---\nb: 2\n", "a second document"),
    ("a: \x00\n", "control characters are not allowed"),
])
def test_odd_yaml_values_are_one_line_errors(text, words):
    with pytest.raises(SourceError) as caught:
        load_yaml(text, "odd.yaml")
    assert words in only_line(caught.value, "odd.yaml")


def test_the_billion_laughs_matrix_is_refused_by_validate(tmp_path, capsys):
    bomb = tmp_path / "region.yaml"
    bomb.write_text(laughs(), encoding="utf-8")
    assert main(["validate", str(bomb)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: region.yaml:") and "values" in err[0]


def test_files_are_read_no_further_than_the_limit(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"a: " + b"x" * YAML_MAX_BYTES)
    for read in (read_yaml, lambda path: read_response(path, None)):
        with pytest.raises(SourceError) as caught:
            read(big)
        assert "larger than 1 MB" in only_line(caught.value, "big.yaml")
    # A device reports no size: reading stops one byte past the limit instead of never.
    with pytest.raises(limits.LimitError):
        limits.read_bounded("/dev/zero", YAML_MAX_BYTES)
    huge = tmp_path / "huge.json"
    with open(huge, "wb") as handle:  # sparse: no disk used
        handle.truncate(IMPORT_MAX_BYTES + 1)
    with pytest.raises(SourceError) as caught:
        read_export_file(huge)
    assert f"larger than {limits.size_text(IMPORT_MAX_BYTES)}" in only_line(caught.value, "huge.json")


# --- JSON and CSV imports ----------------------------------------------------------------------

def export_with(**fields) -> bytes:
    return json.dumps({"format": "assessment-export", "version": 1, **fields}).encode()


def csv_rows(n: int) -> bytes:
    """A CSV export of `n` short data rows (each names a unit and nothing else)."""
    return (",".join(CSV_COLUMNS) + "\n" + ("x" + "," * (len(CSV_COLUMNS) - 1) + "\n") * n).encode()


HOSTILE_IMPORTS = [
    ("depth bomb", "bomb.json", b"[" * 100_000 + b"]" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
    ("unclosed depth bomb", "bomb.json", b"[" * 100_000, f"nested deeper than {MAX_DEPTH} levels"),
    ("deep inside an export", "deep.json",
     export_with(units=[{"name": "x", "kind": json.loads("[" * MAX_DEPTH + "]" * MAX_DEPTH)}]),
     f"nested deeper than {MAX_DEPTH} levels"),
    ("a number of 5 000 digits", "long.json", export_with().replace(b"1}", b"1" * 5000 + b"}"), "invalid JSON"),
    ("too many answers", "rows.json", export_with(assessments=[{"unit": "x", "year": 2026, "responses": [
        {"token": "r", "side": "public", "ratings": {f"k{i}": 1 for i in range(IMPORT_MAX_ROWS)}}]}]),
     f"more than {limits.number_text(IMPORT_MAX_ROWS)} rows"),
    ("too many CSV rows", "rows.csv", csv_rows(IMPORT_MAX_ROWS + 1),
     f"more than {limits.number_text(IMPORT_MAX_ROWS)} rows"),
    ("too large JSON", "big.json", b" " * (IMPORT_MAX_BYTES + 1), f"larger than {limits.size_text(IMPORT_MAX_BYTES)}"),
    ("too large CSV", "big.csv", b" " * (IMPORT_MAX_BYTES + 1), f"larger than {limits.size_text(IMPORT_MAX_BYTES)}"),
    ("unknown export version", "v2.json", export_with().replace(b'"version": 1', b'"version": 2'),
     "unknown version 2: this program reads version 1"),
]


# An import from the command line goes to the core; one uploaded on the data page goes through the
# administrator's write (assessment.access.writes), which must read it within the same limits.
ADMINISTRATOR = Actor(administrator=True, identity="admin@region.se")
IMPORTERS = {
    "core": import_bytes,
    "administrator's upload": lambda engine, fw, data, source: import_file(engine, fw, ADMINISTRATOR, data, source),
}


@pytest.mark.parametrize("through", list(IMPORTERS))
@pytest.mark.parametrize("name,source,data,words", HOSTILE_IMPORTS, ids=[c[0] for c in HOSTILE_IMPORTS])
def test_hostile_import_is_refused_and_changes_nothing(sqlite_engine, framework, name, source, data, words, through):
    before = database_rows(sqlite_engine)
    with pytest.raises(SourceError) as caught:
        IMPORTERS[through](sqlite_engine, framework, data, source)
    assert words in only_line(caught.value, source)
    assert database_rows(sqlite_engine) == before  # the audit log included


@pytest.mark.parametrize("name,text,words", HOSTILE_YAML, ids=[c[0] for c in HOSTILE_YAML])
def test_hostile_agreement_upload_is_refused_and_changes_nothing(sqlite_engine, framework, name, text, words):
    before = database_rows(sqlite_engine)
    with pytest.raises(SourceError) as caught:
        upload_agreement(sqlite_engine, framework, ADMINISTRATOR, text.encode(), "hostile.yaml")
    assert words in only_line(caught.value, "hostile.yaml")
    assert database_rows(sqlite_engine) == before


def test_an_upload_by_someone_not_allowed_is_refused_before_it_is_read(sqlite_engine, framework):
    coordinator = Actor(units=frozenset({"Exempelstad"}))
    before = database_rows(sqlite_engine)
    with pytest.raises(Refused):  # not SourceError: the bytes were never parsed
        upload_agreement(sqlite_engine, framework, coordinator, laughs().encode(), "bomb.yaml")
    with pytest.raises(Refused):
        import_file(sqlite_engine, framework, coordinator, b"[" * 100_000, "bomb.json")
    assert database_rows(sqlite_engine) == before


def test_counts_up_to_the_limit_pass():
    limits.check_count(IMPORT_MAX_ROWS, IMPORT_MAX_ROWS, "rows")
    with pytest.raises(limits.LimitError, match="more than 400 000 rows, the most one file may hold"):
        limits.check_count(IMPORT_MAX_ROWS + 1, IMPORT_MAX_ROWS, "rows")


@pytest.mark.parametrize("depth,too_deep", [(MAX_DEPTH - 1, False), (MAX_DEPTH, False), (MAX_DEPTH + 1, True)])
def test_json_depth_is_measured_exactly(depth, too_deep):
    value: object = "x"
    for level in range(depth):
        value = [value] if level % 2 else {"k": value}
    assert limits.json_too_deep(json.dumps(value).encode()) is too_deep


def test_brackets_inside_strings_do_not_count():
    text = json.dumps({"a": "[" * 100 + '\\"{{{' + "\\" * 3, "b": ["]]]"]}).encode()
    assert limits.json_too_deep(text) is False
    assert limits.loads_json(text)["b"] == ["]]]"]


# --- versions and the server ---------------------------------------------------------------------

def test_unknown_response_format_lists_what_this_build_reads(framework):
    text = "format: assessment-response/2\nunit: X\nyear: 2026\nside: public\n"
    with pytest.raises(SourceError) as caught:
        parse_response(text, "answer.yaml", framework)
    assert only_line(caught.value, "answer.yaml") == (
        "answer.yaml:1: format: unknown format 'assessment-response/2': this program reads format "
        "assessment-response/1")


def test_server_upload_cap_is_the_largest_limit():
    config = tomllib.loads((REPO / ".streamlit" / "config.toml").read_text(encoding="utf-8"))
    assert config["server"]["maxUploadSize"] == limits.UPLOAD_MAX_MB
    assert limits.UPLOAD_MAX_MB * limits.MB >= max(YAML_MAX_BYTES, IMPORT_MAX_BYTES)
