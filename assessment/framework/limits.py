"""Limits on every file that comes in, and the bounded reading that enforces them.

A matrix, deck, agreement, response file or export may come from anyone: an upload on
a page, a file handed to the command line. Each limit is checked before the work it
bounds is done, so a hostile file is refused at once and nothing is written: the size
before the file is read or parsed; YAML nesting and alias expansion while the document
is composed from parser events, before any Python object is built; JSON nesting before
``json.loads``; rows while they are read. A breach raises ``LimitError`` with one line
saying what and which limit; the parsers turn it into a located ``SourceError``.

The limits are generous for real files (figures measured on the shipped ones).
"""

from __future__ import annotations

import itertools
import json
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

MB = 1024 * 1024

YAML_MAX_BYTES = 1 * MB  # a hand-edited YAML file: matrix, deck, agreement, response (matrix.yaml: 65 kB)
YAML_MAX_VALUES = 100_000  # values in a YAML document, aliases expanded (matrix.yaml: about 2 000)
MAX_DEPTH = 32  # nesting of YAML and JSON (the deepest format, a JSON export, uses 8)
# One export file, JSON or CSV: a response is about 2.6 kB as JSON, 8 kB as CSV, so this holds
# about 7 500 responses as JSON, 2 500 as CSV (one municipality's ten years: about 1 MB).
IMPORT_MAX_BYTES = 20 * MB
# Rows of an export file, counted as CSV rows (a unit, an assessment, a response, each answer, a
# follow-up): a response with every answer is 43 rows, so a full-size JSON file is about 330 000.
IMPORT_MAX_ROWS = 400_000
# The largest file any page accepts: server.maxUploadSize in .streamlit/config.toml (megabytes).
UPLOAD_MAX_MB = max(YAML_MAX_BYTES, IMPORT_MAX_BYTES) // MB


class LimitError(ValueError):
    """A file went over a limit. The message says what and which limit; the caller adds the file."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.line = line


def size_text(size: int) -> str:
    """A byte count as people read it: '1 MB', '3.2 MB', '812 kB'."""
    if size >= MB:
        return f"{size / MB:.1f}".removesuffix(".0") + " MB"
    return f"{max(1, round(size / 1024))} kB"


def number_text(count: int) -> str:
    """A count with a space between thousands, readable in Swedish and English: '100 000'."""
    return f"{count:,}".replace(",", " ")


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise LimitError(f"the file is larger than {size_text(limit)}, the most this program reads "
                         f"(it is {size_text(size)})")


def read_bounded(path: str | Path, limit: int) -> bytes:
    """The bytes of a file of at most `limit` bytes; never reads more than one byte beyond it
    (a pipe or a device reports no size)."""
    with open(path, "rb") as handle:
        data = handle.read(limit + 1)
    check_size(len(data), limit)
    return data


def check_count(count: int, limit: int, what: str, line: int | None = None) -> None:
    """Raise when a file holds more than `limit` of `what` (e.g. 'data rows')."""
    if count > limit:
        raise LimitError(f"more than {number_text(limit)} {what}, the most one file may hold", line)


def version_message(got: Any, supported: Iterable[Any], what: str = "version") -> str:
    """The message for a format version this build cannot read."""
    known = ", ".join(str(v) for v in supported)
    return f"unknown {what} {got!r}: this program reads {what} {known}"


# --- YAML: composed from parser events, counting as it goes ------------------------------------

YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present (40x faster)


@dataclass
class _Open:
    """A sequence or mapping being composed."""

    node: yaml.Node
    anchor: str | None
    size: int = 1  # values in it, aliases expanded, itself included
    height: int = 1  # nesting levels in it, itself included
    key: yaml.Node | None = None  # a mapping's key waiting for its value
    items: list = field(default_factory=list)


def _line(event: yaml.Event) -> int | None:
    return event.start_mark.line + 1 if event.start_mark else None


def compose_yaml(text: str) -> yaml.Node | None:
    """The node tree of a one-document YAML text, like ``yaml.compose``, within the limits.

    Aliases stay shared nodes (as in yaml.compose); what counts is their size once expanded,
    since that is what reading the tree costs. Raises ``LimitError`` for too much nesting, too
    many values or an alias of a value that contains it, ``yaml.YAMLError`` for bad syntax.
    Iterative: no recursion, however deep the text nests.
    """
    check_size(len(text.encode("utf-8", "surrogatepass")), YAML_MAX_BYTES)
    loader = YAML_LOADER(text)
    try:
        return _compose(loader)
    finally:
        loader.dispose()


def _compose(loader: Any) -> yaml.Node | None:
    loader.get_event()  # stream start
    if loader.check_event(yaml.StreamEndEvent):
        return None
    loader.get_event()  # document start
    anchors: dict[str, tuple[yaml.Node, int, int] | None] = {}  # None: still open
    stack: list[_Open] = []
    total = 0
    root: yaml.Node | None = None

    def place(node: yaml.Node, size: int, height: int, event: yaml.Event) -> None:
        nonlocal root
        if len(stack) + height > MAX_DEPTH:
            raise LimitError(f"nested deeper than {MAX_DEPTH} levels", _line(event))
        if not stack:
            root = node
            return
        parent = stack[-1]
        parent.size += size
        parent.height = max(parent.height, height + 1)
        if isinstance(parent.node, yaml.MappingNode):
            if parent.key is None:
                parent.key = node
            else:
                parent.items.append((parent.key, node))
                parent.key = None
        else:
            parent.items.append(node)

    def count(size: int, event: yaml.Event) -> None:
        nonlocal total
        total += size
        if total > YAML_MAX_VALUES:
            raise LimitError(f"more than {number_text(YAML_MAX_VALUES)} values (an alias counts as often as it "
                             "is used), the most one file may hold", _line(event))

    def open_anchor(event: yaml.Event) -> None:
        if event.anchor is None:
            return
        if event.anchor in anchors:
            raise yaml.composer.ComposerError(None, None, f"anchor '&{event.anchor}' is defined twice",
                                              event.start_mark)
        anchors[event.anchor] = None  # an alias of it before its end is a loop

    while not loader.check_event(yaml.DocumentEndEvent):
        event = loader.get_event()
        if isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:
                raise yaml.composer.ComposerError(None, None, f"alias '*{event.anchor}' names no anchor "
                                                  f"('&{event.anchor}') given before it", event.start_mark)
            target = anchors[event.anchor]
            if target is None:
                raise LimitError(f"alias '*{event.anchor}' is used inside the value it names (a loop)",
                                 _line(event))
            count(target[1], event)
            place(*target, event)
        elif isinstance(event, yaml.ScalarEvent):
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
            node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)
            open_anchor(event)
            if event.anchor:
                anchors[event.anchor] = (node, 1, 0)
            count(1, event)
            place(node, 1, 0, event)
        elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            kind = yaml.SequenceNode if isinstance(event, yaml.SequenceStartEvent) else yaml.MappingNode
            tag = event.tag
            if tag is None or tag == "!":
                tag = loader.resolve(kind, None, event.implicit)
            if len(stack) + 1 > MAX_DEPTH:
                raise LimitError(f"nested deeper than {MAX_DEPTH} levels", _line(event))
            open_anchor(event)
            count(1, event)
            stack.append(_Open(kind(tag, [], event.start_mark, None, flow_style=event.flow_style), event.anchor))
        else:  # the end of a sequence or mapping
            done = stack.pop()
            done.node.value = done.items
            done.node.end_mark = event.end_mark
            if done.anchor:
                anchors[done.anchor] = (done.node, done.size, done.height)
            place(done.node, done.size, done.height, event)
    loader.get_event()  # document end
    if not loader.check_event(yaml.StreamEndEvent):
        event = loader.get_event()
        raise yaml.composer.ComposerError(None, None, "a second document ('---'): a file holds one",
                                          event.start_mark)
    return root


# --- JSON: nesting measured before parsing --------------------------------------------------

_NOT_STRUCTURE = bytes(set(range(256)) - set(b'"[]{}'))
_PARENS = bytes.maketrans(b"[{]}", b"(())")  # only the depth counts here; the parser checks the pairs
_STRING = re.compile(rb'"[^"]*"')
_RUN = re.compile(rb"\(+|\)+")
_TOO_DEEP = b"(" * (MAX_DEPTH + 1)


def json_too_deep(data: bytes) -> bool:
    """Whether JSON nests deeper than MAX_DEPTH, found without parsing and without a Python loop
    over the text (a hostile file has 20 MB of brackets).

    Strings are removed, leaving brackets. Stripping every innermost pair ("()") takes exactly
    one level off the depth of what is left, so it is repeated while it removes much (a bytes
    replace, C speed); the deep rest has few peaks, and its runs of openers and closers are
    walked. A run of more openers than the limit is too deep at once (also when unbalanced: the
    parser then reports the syntax, reading no deeper than the limit)."""
    # Escaped backslashes and quotes go first, so that what is left of a string is "...".
    structure = data.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    # Nearly every string holds no bracket and is now "": a plain replace is 15x faster than the regex.
    brackets = _STRING.sub(b"", structure.replace(b'""', b"")).translate(_PARENS, b'"')
    stripped = 0
    while brackets:
        if _TOO_DEEP in brackets:
            return True
        inner = brackets.replace(b"()", b"")
        if len(inner) * 10 > len(brackets) * 9:  # under a tenth removed: few peaks left to walk
            break
        brackets, stripped = inner, stripped + 1
    return _deepest(brackets) + stripped > MAX_DEPTH


def _deepest(brackets: bytes) -> int:
    """The deepest nesting of a string of parentheses, in C-level iterator steps: its maximal runs
    alternate, so the depth after each run of openers is the openers so far minus the closers."""
    runs = _RUN.findall(brackets)
    if not runs:
        return 0
    if runs[0][:1] == b")":
        runs = [b"", *runs]  # unbalanced: closers first
    opened = itertools.accumulate(map(len, runs[0::2]))
    closed = itertools.chain((0,), itertools.accumulate(map(len, runs[1::2])))
    return max(map(operator.sub, opened, closed))


def loads_json(data: bytes | str, raw: bytes | None = None) -> Any:
    """json.loads within MAX_DEPTH (measured on `raw`, the bytes of `data` when the caller has
    them). Raises LimitError, or json.JSONDecodeError for bad syntax (also for a number too long
    to convert, which json.loads reports as a bare ValueError)."""
    if raw is None:
        raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if json_too_deep(raw):
        raise LimitError(f"nested deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(data)
    except RecursionError:  # not reached after the check above; never let it through
        raise LimitError(f"nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # e.g. 'Exceeds the limit (4300 digits) for integer string conversion'
        raise json.JSONDecodeError(" ".join(str(exc).split()), data if isinstance(data, str) else "", 0) from None
