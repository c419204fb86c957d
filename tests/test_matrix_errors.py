"""Malformed matrix files: each gives its own precise error (file, line, YAML path, what)."""

from __future__ import annotations

import copy
import re

import pytest
import yaml

from assessment.framework.matrix import DEFAULT_MATRIX, load_framework
from assessment.framework.yamlsource import SourceError

BASE = yaml.load(DEFAULT_MATRIX.read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)


def dump(data) -> str:
    return yaml.dump(data, Dumper=yaml.CSafeDumper, allow_unicode=True, sort_keys=False)
LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+): (?P<path>\S+): (?P<message>.*)$")


def _parent(d, path):
    for part in path:
        d = d[part]
    return d


def _del(path):
    def mutate(d):
        del _parent(d, path[:-1])[path[-1]]
    return mutate


def _set(path, value):
    def mutate(d):
        _parent(d, path[:-1])[path[-1]] = value
    return mutate


def _append(path, make):
    def mutate(d):
        _parent(d, path).append(make(d))
    return mutate


# (case id, mutation, expected YAML path, words in the message, text on the reported line)
CASES = [
    ("unknown top-level key", _set(("colour",), "red"), "colour", "unknown key", "colour:"),
    ("unknown key in a level", _set(("levels", 1, "weight"), 3), "levels[1].weight", "unknown key", "weight:"),
    ("missing level name", _del(("levels", 0, "name")), "levels[0].name", "required", "id: information"),
    ("missing English translation", _del(("steps", 2, "name", "en")), "steps[2].name.en", "required", "name:"),
    ("blank Swedish text", _set(("steps", 1, "name", "sv"), "   "), "steps[1].name.sv", "blank", "sv:"),
    ("unsupported language", _set(("principles", 0, "name", "de"), "Unabhängigkeit"),
     "principles[0].name.de", "unknown key", "de:"),
    ("duplicate level id", _set(("levels", 1, "id"), "information"), "levels[1].id",
     "duplicate level id 'information'", "id: information"),
    ("duplicate step id", _set(("steps", 3, "id"), "agenda"), "steps[3].id", "duplicate step id 'agenda'", "id: agenda"),
    ("duplicate principle id", _set(("principles", 2, "id"), "independence"), "principles[2].id",
     "duplicate principle id", "id: independence"),
    ("duplicate statement id", lambda d: d["principles"][1]["statements"][1].update(
        id=d["principles"][1]["statements"][0]["id"]), "principles[1].statements[1].id",
     "duplicate statement id", "id:"),
    ("duplicate tool id", lambda d: d["cells"][0]["tools"].append(copy.deepcopy(d["cells"][0]["tools"][0])),
     "cells[0].tools[", "duplicate tool id", "id:"),
    ("cell names an unknown step", _set(("cells", 0, "step"), "voting"), "cells[0].step", "unknown step 'voting'",
     "step: voting"),
    ("cell names an unknown level", _set(("cells", 5, "level"), "cooperation"), "cells[5].level",
     "unknown level 'cooperation'", "level: cooperation"),
    ("missing cell", lambda d: d["cells"].pop(next(i for i, c in enumerate(d["cells"])
                                                   if (c["step"], c["level"]) == ("decision", "dialogue"))),
     "cells", "missing cell for step 'decision' and level 'dialogue'", "cells:"),
    ("duplicate cell", _append(("cells",), lambda d: copy.deepcopy(d["cells"][0])), "cells[",
     "duplicate cell", "step:"),
    ("id with capitals", _set(("steps", 0, "id"), "Agenda"), "steps[0].id", "should match pattern", "id: Agenda"),
    ("statement side not allowed", _set(("principles", 0, "statements", 0, "side"), "everyone"),
     "principles[0].statements[0].side", "'public', 'civil_society' or 'both'", "side: everyone"),
    ("scale with one value", _set(("scale", "max"), 0), "scale.max", "the scale has one value only", "max: 0"),
    ("scale max below min", lambda d: d["scale"].update(min=3, max=1), "scale.max", "must be greater than min (3)",
     "max: 1"),
    ("scale value without label", lambda d: d["scale"]["labels"].pop(), "scale.labels", "no label for scale value",
     "labels:"),
    ("scale label outside scale", _set(("scale", "labels", 0, "value"), 9), "scale.labels[0].value",
     "outside the scale", "value: 9"),
    ("scale label given twice", _set(("scale", "labels", 1, "value"), 0), "scale.labels[1].value",
     "duplicate label for value 0", "value: 0"),
    ("scale max not a number", _set(("scale", "max"), "four"), "scale.max", "valid integer", "max: four"),
    ("missing don't-know label", _del(("scale", "dont_know")), "scale.dont_know", "required", "scale:"),
    ("no principles", _set(("principles",), []), "principles", "at least 1", "principles:"),
    ("principle without statements", _set(("principles", 4, "statements"), []), "principles[4].statements",
     "at least 1", "statements:"),
    ("cell without tools", _set(("cells", 3, "tools"), []), "cells[3].tools", "at least 1", "tools:"),
    ("tool without description", _del(("cells", 2, "tools", 0, "description")), "cells[2].tools[0].description",
     "required", "id:"),
    ("levels as a mapping", _set(("levels",), {"information": "x"}), "levels", "valid list", "levels:"),
    ("reserved level id none", _set(("levels", 3, "id"), "none"), "levels[3].id", "reserved", "id: none"),
    ("first level optional", _set(("levels", 0, "optional"), True), "levels[0].optional", "cannot be optional",
     "optional: true"),
    ("optional flag not a boolean", _set(("levels", 1, "optional"), "maybe"), "levels[1].optional",
     "valid boolean", "optional: maybe"),
    ("version not a number", _set(("version",), "one"), "version", "unknown matrix version 'one'", "version: one"),
    ("version this program does not read", _set(("version",), 42), "version",
     "unknown matrix version 42: this program reads matrix version 1", "version: 42"),
    ("statement text missing", _del(("principles", 3, "statements", 2, "text")), "principles[3].statements[2].text",
     "required", "id:"),
]


@pytest.mark.parametrize("name,mutate,path,words,line_text", CASES, ids=[c[0] for c in CASES])
def test_malformed_matrix_gives_located_error(tmp_path, name, mutate, path, words, line_text):
    data = copy.deepcopy(BASE)
    mutate(data)
    text = dump(data)
    file = tmp_path / "matrix.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_framework(file)
    matching = [str(p) for p in caught.value.problems if p.message and words in str(p)]
    assert matching, f"no error mentions {words!r}: {caught.value}"
    parsed = LINE.match(matching[0])
    assert parsed, matching[0]
    assert parsed["file"] == "matrix.yaml"
    assert parsed["path"].startswith(path)
    reported_line = text.splitlines()[int(parsed["line"]) - 1]
    assert line_text in reported_line, f"line {parsed['line']} is {reported_line!r}"


def test_the_cases_are_distinct_errors(tmp_path):
    messages = set()
    for name, mutate, *_ in CASES:
        data = copy.deepcopy(BASE)
        mutate(data)
        file = tmp_path / "m.yaml"
        file.write_text(dump(data), encoding="utf-8")
        with pytest.raises(SourceError) as caught:
            load_framework(file)
        messages.add(str(caught.value).split(": ", 1)[1])
    assert len(messages) == len(CASES)


def _write(tmp_path, text: str):
    file = tmp_path / "matrix.yaml"
    file.write_text(text, encoding="utf-8")
    return file


def test_yaml_syntax_error_names_line(tmp_path):
    lines = DEFAULT_MATRIX.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("steps:"))
    lines.insert(at + 1, "  - id: [unclosed")
    with pytest.raises(SourceError) as caught:
        load_framework(_write(tmp_path, "\n".join(lines)))
    problem = caught.value.problems[0]
    assert "YAML syntax error" in problem.message
    assert problem.line is not None and abs(problem.line - (at + 2)) <= 2


def test_duplicate_yaml_key_is_an_error_not_silently_overwritten(tmp_path):
    text = DEFAULT_MATRIX.read_text(encoding="utf-8")
    text = text.replace("\nlevels:", "\nversion: 2\nlevels:", 1)
    with pytest.raises(SourceError) as caught:
        load_framework(_write(tmp_path, text))
    assert "duplicate key 'version'" in str(caught.value)
    dup_line = next(i for i, line in enumerate(text.splitlines(), 1) if line == "version: 2")
    assert caught.value.problems[0].line == dup_line


def test_empty_file(tmp_path):
    with pytest.raises(SourceError, match="the file is empty"):
        load_framework(_write(tmp_path, "# nothing here\n"))


def test_top_level_list(tmp_path):
    with pytest.raises(SourceError, match="must be a mapping"):
        load_framework(_write(tmp_path, "- levels\n- steps\n"))


def test_missing_file(tmp_path):
    with pytest.raises(SourceError, match="file not found"):
        load_framework(tmp_path / "nope.yaml")


def test_not_utf8(tmp_path):
    file = tmp_path / "latin1.yaml"
    file.write_bytes("title: {sv: Självskattning, en: x}\n".encode("latin-1"))
    with pytest.raises(SourceError, match="not UTF-8"):
        load_framework(file)


def test_every_problem_is_reported_at_once(tmp_path):
    data = copy.deepcopy(BASE)
    data["cells"][0]["step"] = "voting"
    data["levels"][1]["id"] = "information"
    file = tmp_path / "matrix.yaml"
    file.write_text(dump(data), encoding="utf-8")
    with pytest.raises(SourceError) as caught:
        load_framework(file)
    text = str(caught.value)
    assert "unknown step 'voting'" in text and "duplicate level id 'information'" in text
