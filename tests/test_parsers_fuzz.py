"""Property-based fuzzing of every parser of incoming files (Hypothesis).

Random bytes, random YAML and JSON trees, and mutations of the real files (the matrix, the
Burlöv deck, the Örebro agreement, the example response, a JSON and a CSV export) go into
each parser. The property: a file is either read, or refused with the documented error,
``SourceError`` (one or more located problems); nothing else escapes, and a refused import
leaves the database exactly as it was. The number of examples is set by the Hypothesis
profile in conftest.py (moderate in ``make test``; HYPOTHESIS_PROFILE=thorough for more).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from assessment.exchange.export import export_csv, export_json
from assessment.exchange.importer import bulk_load, import_bytes
from assessment.framework.matrix import DEFAULT_MATRIX, load_framework, parse_framework
from assessment.framework.responses import Response, StepAnswer, parse_response
from assessment.framework.yamlsource import SourceError, load_yaml
from assessment.regional import followup as fs
from assessment.regional.agreements import AGREEMENTS_DIR, load_agreement, parse_agreement
from assessment.store.engine import make_engine
from assessment.store.migrations import init_db
from assessment.workshop.decks import DECKS_DIR, parse_deck
from conftest import database_rows

REPO = Path(__file__).resolve().parent.parent
FW = load_framework()
MATRIX = DEFAULT_MATRIX.read_text(encoding="utf-8")
DECK = (DECKS_DIR / "burlov.yaml").read_text(encoding="utf-8")
AGREEMENT = (AGREEMENTS_DIR / "orebro.yaml").read_text(encoding="utf-8")
RESPONSE_YAML = (REPO / "examples" / "response.yaml").read_text(encoding="utf-8")
RESPONSE_JSON = (REPO / "examples" / "response.json").read_text(encoding="utf-8")

YAML_PARSERS = {
    "matrix": (parse_framework, MATRIX),
    "deck": (parse_deck, DECK),
    "agreement": (lambda text, source: parse_agreement(text, source, FW), AGREEMENT),
    "response": (lambda text, source: parse_response(text, source, FW), RESPONSE_YAML),
    "response as JSON": (lambda text, source: parse_response(text, source, FW), RESPONSE_JSON),
}


def read_or_refuse(parse, *args) -> None:
    """The property: parse reads the input or raises SourceError; anything else fails the test."""
    try:
        parse(*args)
    except SourceError as exc:
        assert exc.problems and all(str(problem) for problem in exc.problems)


# --- strategies ----------------------------------------------------------------------------------

# Pieces that make parsers take unusual paths: anchors, aliases, tags, nesting, documents,
# control characters, numbers beyond int conversion, byte order marks, CSV quoting.
SPECIAL = [b"&a ", b"*a", b"&b [*a, *a, *a]", b"!!int ", b"!!binary ", b"!!python/object ", b"<<: ",
           b"[", b"]", b"{", b"}", b"[[[[[[[[[[", b"\n- ", b"\n  ", b": ", b"---\n", b"...\n", b"\t",
           b"\x00", b"\xef\xbb\xbf", b"\xff", b'"', b"'", b"\\", b"1" * 5000, b"2026-02-30", b"-1",
           b"dont_know", b"none", b"\r\n", b",", b";", b'"a,""b"', b"\xc3\xa5", b"1e999", b"NaN"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=30), st.sampled_from(["dont_know", "none", "public", "civil_society"]))
trees = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=5), st.dictionaries(st.text(max_size=15), inner, max_size=5)), max_leaves=30)


@st.composite
def mutated(draw, original: bytes) -> bytes:
    """The original bytes after one to four edits: cut, insert, replace, repeat, flip."""
    data = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        start = draw(st.integers(0, len(data)))
        end = draw(st.integers(start, min(len(data), start + 300)))
        kind = draw(st.sampled_from(["cut", "insert", "replace", "repeat", "flip"]))
        piece = draw(st.one_of(st.sampled_from(SPECIAL), st.binary(min_size=1, max_size=12)))
        if kind == "cut":
            del data[start:end]
        elif kind == "insert":
            data[start:start] = piece
        elif kind == "replace":
            data[start:end] = piece
        elif kind == "repeat":
            data[start:start] = bytes(data[start:end]) * draw(st.integers(2, 20))
        elif data:
            index = min(start, len(data) - 1)
            data[index] ^= 1 << draw(st.integers(0, 7))
    return bytes(data)


def paths(value, prefix=()):
    """Every place in a tree of dicts and lists, the root first."""
    yield prefix
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from paths(child, prefix + (key,))


@st.composite
def tree_mutated(draw, original):
    """A copy of a real file's data with one place replaced by a random tree."""
    data = json.loads(json.dumps(original, default=str))
    where = draw(st.sampled_from(list(paths(data))))
    if not where:
        return draw(trees)
    parent = data
    for key in where[:-1]:
        parent = parent[key]
    parent[where[-1]] = draw(trees)
    return data


def as_text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


# --- YAML files: matrix, deck, agreement, response ---------------------------------------------

@pytest.mark.parametrize("kind", list(YAML_PARSERS))
@given(data=st.data())
def test_mutated_real_yaml_files_are_read_or_refused(kind, data):
    parse, original = YAML_PARSERS[kind]
    read_or_refuse(parse, as_text(data.draw(mutated(original.encode()))), "fuzz.yaml")


@pytest.mark.parametrize("kind", list(YAML_PARSERS))
@given(data=st.data())
def test_real_yaml_data_with_a_random_subtree_is_read_or_refused(kind, data):
    parse, original = YAML_PARSERS[kind]
    changed = data.draw(tree_mutated(yaml.safe_load(original)))
    read_or_refuse(parse, yaml.safe_dump(changed, allow_unicode=True), "fuzz.yaml")


@given(tree=trees)
def test_random_yaml_and_json_trees_are_read_or_refused(tree):
    for text in (yaml.safe_dump(tree, allow_unicode=True), json.dumps(tree)):
        read_or_refuse(load_yaml, text, "fuzz.yaml")
        for parse, _original in YAML_PARSERS.values():
            read_or_refuse(parse, text, "fuzz.yaml")


@given(raw=st.binary(max_size=2000))
def test_random_bytes_are_read_or_refused(raw):
    read_or_refuse(parse_agreement, raw, "fuzz.yaml", FW)  # an upload: bytes in
    for parse, _original in YAML_PARSERS.values():
        read_or_refuse(parse, as_text(raw), "fuzz.yaml")


@given(text=st.text(max_size=500))
def test_random_text_is_read_or_refused(text):
    for parse, _original in YAML_PARSERS.values():
        read_or_refuse(parse, text, "fuzz.yaml")


# --- imports: JSON and CSV exports, against a real database ----------------------------------

@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """A JSON and a CSV export of a small database (responses, an agreement, a follow-up)."""
    source = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz-source') / 'source.db'}")
    init_db(source)
    levels = [level.id for level in FW.active_levels()]
    keys = FW.statement_keys
    responses = [Response(unit=f"Fuzzby {i % 2}", year=2025 + i % 2, side=("public", "civil_society")[i % 2],
                          role="tjänsteperson", ratings={key: (i + n) % 5 for n, key in enumerate(keys[:8])},
                          steps={step.id: StepAnswer(level=levels[i % len(levels)]) for step in FW.steps[:3]},
                          comments={"general": "Bra, men; \"citat\", och radbrytning\nhär"})
                 for i in range(4)]
    bulk_load(source, FW, responses)
    agreement = load_agreement(AGREEMENTS_DIR / "orebro.yaml", FW)
    fs.save_agreement(source, agreement)
    fs.set_status(source, agreement.id, agreement.commitments[0].id, 2025, "under_way", "påbörjat")
    yield export_json(source, FW), export_csv(source, FW, delimiter=";")
    source.dispose()


@pytest.fixture(scope="module")
def target(tmp_path_factory):
    """The database imports go into; shared by the examples (a good import may add to it)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('fuzz-target') / 'target.db'}")
    init_db(engine)
    yield engine
    engine.dispose()


def import_or_refuse(engine, data: bytes, filename: str) -> None:
    """The import property: written whole, or refused with SourceError and nothing changed."""
    before = database_rows(engine)
    try:
        import_bytes(engine, FW, data, filename)
    except SourceError as exc:
        assert exc.problems
        assert database_rows(engine) == before, f"a refused import of {filename} changed the database"


@pytest.mark.parametrize("kind", ["json", "csv"])
@given(data=st.data())
def test_mutated_exports_are_imported_whole_or_not_at_all(target, exports, kind, data):
    original = exports[0] if kind == "json" else exports[1]
    import_or_refuse(target, data.draw(mutated(original)), f"fuzz.{kind}")


@given(data=st.data())
def test_export_data_with_a_random_subtree_is_imported_whole_or_not_at_all(target, exports, data):
    changed = data.draw(tree_mutated(json.loads(exports[0])))
    import_or_refuse(target, json.dumps(changed).encode(), "fuzz.json")


@given(tree=trees)
def test_random_json_trees_are_imported_whole_or_not_at_all(target, tree):
    import_or_refuse(target, json.dumps(tree).encode(), "fuzz.json")
    # The same tree presented as an export, so that it gets past the format and version checks.
    framed = {"format": "assessment-export", "version": 1, "assessments": tree if isinstance(tree, list) else [tree]}
    import_or_refuse(target, json.dumps(framed).encode(), "fuzz.json")


@given(raw=st.binary(max_size=2000), name=st.sampled_from(["fuzz.json", "fuzz.csv", "fuzz.txt", "fuzz"]))
def test_random_bytes_are_imported_whole_or_not_at_all(target, raw, name):
    import_or_refuse(target, raw, name)
