"""Load YAML while remembering the line of every value, so errors can say where.

The framework, workshop decks and agreements are all YAML files edited by hand.
A message such as ``matrix.yaml:41: levels[2].name.en: field required`` lets an
editor jump to the mistake; this module supplies the file and line part.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import yaml
from pydantic import BaseModel, ValidationError

from .limits import YAML_LOADER, YAML_MAX_BYTES, LimitError, check_size, compose_yaml, read_bounded

YamlPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in one place of a file."""

    source: str
    path: YamlPath
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        dotted = format_path(self.path)
        return f"{where}: {dotted}: {self.message}" if dotted else f"{where}: {self.message}"


class SourceError(ValueError):
    """Raised when a hand-edited file is invalid; holds every problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


def format_path(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class LineMap:
    """Maps a path inside the document to the line (1-based) where it starts."""

    source: str
    lines: dict[YamlPath, int] = field(default_factory=dict)

    def line_of(self, path: Sequence[str | int]) -> int | None:
        # A missing key has no line of its own: report its nearest parent.
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), None)

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        return Problem(self.source, tuple(path), self.line_of(path), message)


def duplicate_ids(items: Iterable[Any], prefix: YamlPath, what: str, lines: LineMap) -> dict[int, Problem]:
    """A problem for each item whose `id` an earlier item at `prefix` already uses.

    Keyed by the item's index, so a caller checking items one by one can report each in its place.
    """
    first: dict[str, int] = {}
    problems: dict[int, Problem] = {}
    for index, item in enumerate(items):
        earlier = first.setdefault(item.id, index)
        if earlier != index:
            problems[index] = lines.problem(
                prefix + (index, "id"),
                f"duplicate {what} id '{item.id}' (already used by {format_path(prefix + (earlier,))})")
    return problems


def _walk(node: yaml.Node, path: YamlPath, lines: LineMap, problems: list[Problem],
          loader: Any) -> Any:
    lines.lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = _construct(loader, key_node)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                key = str(key)
            child = path + (key,)
            if key in result:
                problems.append(
                    Problem(lines.source, child, key_node.start_mark.line + 1,
                            f"duplicate key '{key}' (first given on line {lines.lines[child]})")
                )
                continue
            lines.lines[child] = key_node.start_mark.line + 1
            result[key] = _walk(value_node, child, lines, problems, loader)
            lines.lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, path + (i,), lines, problems, loader) for i, item in enumerate(node.value)]
    return _construct(loader, node)


def _construct(loader: Any, node: yaml.Node) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, TypeError, OverflowError) as exc:  # e.g. '2026-02-30', a 5 000-digit number
        raise yaml.constructor.ConstructorError(None, None, f"cannot read the value: {one_line(exc)}",
                                                node.start_mark) from None


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def limit_error(source: str, exc: LimitError) -> SourceError:
    """A breached limit as the one located problem of a file."""
    return SourceError([Problem(source, (), exc.line, str(exc))])


@contextmanager
def within_limits(source: str) -> Iterator[None]:
    """Turn a breached limit (assessment.framework.limits) into the SourceError of file `source`."""
    try:
        yield
    except LimitError as exc:
        raise limit_error(source, exc) from None


def load_yaml(text: str, source: str) -> tuple[Any, LineMap]:
    """Parse YAML text, returning the data and a map from paths to lines.

    Raises SourceError for syntax errors, duplicate keys, and files beyond the limits of
    ``framework.limits`` (size, nesting, values with aliases expanded, alias loops).
    """
    lines = LineMap(source)
    problems: list[Problem] = []
    try:
        node = compose_yaml(text)
        # construct_object needs a loader instance; an empty one is enough for scalars.
        data = None if node is None else _walk(node, (), lines, problems, YAML_LOADER(""))
    except LimitError as exc:
        raise limit_error(source, exc) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        reason = one_line(exc.problem or exc.context or "invalid YAML")
        kind = "YAML error" if isinstance(exc, yaml.constructor.ConstructorError) else "YAML syntax error"
        raise SourceError([Problem(source, (), line, f"{kind}: {reason}")]) from None
    except yaml.YAMLError as exc:  # e.g. a control character: pyyaml's reader gives no mark
        raise SourceError([Problem(source, (), None, f"YAML syntax error: {one_line(exc)}")]) from None
    except UnicodeEncodeError:  # text that is not Unicode (lone surrogates); never from a decoded file
        raise SourceError([Problem(source, (), None, "not valid Unicode text")]) from None
    if node is None:
        raise SourceError([Problem(source, (), 1, "the file is empty")])
    if problems:
        raise SourceError(problems)
    return data, lines


def read_text(path: str | Path, limit: int = YAML_MAX_BYTES) -> str:
    """The UTF-8 text of a file (a BOM is dropped) of at most `limit` bytes; SourceError otherwise."""
    path = Path(path)
    try:
        with within_limits(path.name):
            data = read_bounded(path, limit)
    except FileNotFoundError:
        raise SourceError([Problem(str(path), (), None, "file not found")]) from None
    except OSError as exc:
        raise SourceError([Problem(str(path), (), None, f"cannot read file: {exc.strerror}")]) from None
    return decode_text(data, path.name, limit)


def decode_text(data: bytes, source: str, limit: int = YAML_MAX_BYTES) -> str:
    """Bytes (an upload, a file's content) as UTF-8 text, a BOM dropped; SourceError when there
    are more than `limit` of them or they are not UTF-8."""
    with within_limits(source):
        check_size(len(data), limit)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceError([Problem(source, (), None, f"not UTF-8 text (byte {exc.start})")]) from None


def read_yaml(path: str | Path) -> tuple[Any, LineMap]:
    return load_yaml(read_text(path), Path(path).name)


_PYDANTIC_MESSAGES = {
    "missing": "required field is missing",
    "extra_forbidden": "unknown key (not part of the format; check the spelling)",
}


def pydantic_problems(exc: ValidationError, lines: LineMap, prefix: YamlPath = ()) -> list[Problem]:
    """Turn a pydantic ValidationError into located problems, one per error."""
    problems = []
    for err in exc.errors(include_url=False):
        loc = prefix + tuple(part for part in err["loc"] if not _is_union_tag(part))
        message = _PYDANTIC_MESSAGES.get(err["type"], err["msg"])
        if err["type"] not in ("missing", "extra_forbidden") and "input" in err:
            shown = err["input"]
            if isinstance(shown, (str, int, float, bool)) or shown is None:
                message = f"{message} (got {shown!r})"
        problems.append(lines.problem(loc, message))
    return problems


def _is_union_tag(part: str | int) -> bool:
    # pydantic adds the tried member type to locations of union errors, e.g. 'int'.
    return isinstance(part, str) and (part in {"int", "str", "float", "bool"} or "[" in part)


def parse_model(model: type[BaseModel], data: Any, lines: LineMap) -> BaseModel:
    """Validate data as model, raising SourceError with file:line locations."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise SourceError(pydantic_problems(exc, lines)) from None
