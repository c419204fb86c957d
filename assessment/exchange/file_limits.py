"""The limits of assessment.framework.limits applied to export files, before they are checked:
the size before anything is decoded, the rows counted (as CSV rows) before any is checked."""

from __future__ import annotations

import csv
import io
import itertools
from pathlib import Path
from typing import Any

from ..framework.limits import IMPORT_MAX_BYTES, IMPORT_MAX_ROWS, check_count, check_size, read_bounded
from ..framework.yamlsource import Problem, SourceError, within_limits

ROWS = "rows (units, assessments, responses and their answers, follow-ups)"


def read_export_file(path: str | Path) -> bytes:
    """The bytes of an export file, at most IMPORT_MAX_BYTES of them; SourceError otherwise."""
    path = Path(path)
    try:
        with within_limits(path.name):
            return read_bounded(path, IMPORT_MAX_BYTES)
    except FileNotFoundError:
        raise SourceError([Problem(str(path), (), None, "file not found")]) from None
    except OSError as exc:
        raise SourceError([Problem(str(path), (), None, f"cannot read file: {exc.strerror}")]) from None


def check_export_size(data: bytes, source: str) -> None:
    with within_limits(source):
        check_size(len(data), IMPORT_MAX_BYTES)


def check_json_rows(raw: dict, source: str) -> None:
    with within_limits(source):
        check_count(_json_rows(raw), IMPORT_MAX_ROWS, ROWS)


def check_csv_rows(text: str, delimiter: str, source: str) -> None:
    with within_limits(source):
        check_count(_csv_rows(text, delimiter), IMPORT_MAX_ROWS, ROWS)


def _json_rows(raw: dict) -> int:
    """What a JSON export would be as CSV rows, counted before anything is checked: units,
    assessments, responses and each answer, agreements and their commitments, follow-ups."""
    def items(value: Any) -> list:
        return value if isinstance(value, list) else []

    def size(value: Any) -> int:
        return len(value) if isinstance(value, (dict, list)) else 0

    rows = len(items(raw.get("units"))) + len(items(raw.get("followups")))
    for agreement in items(raw.get("agreements")):
        rows += 1 + (size(agreement.get("commitments")) if isinstance(agreement, dict) else 0)
    for assessment in items(raw.get("assessments")):
        rows += 1
        for response in items(assessment.get("responses") if isinstance(assessment, dict) else None):
            rows += 1
            if isinstance(response, dict):
                rows += size(response.get("steps")) + size(response.get("ratings")) + size(response.get("comments"))
    return rows


def _csv_rows(text: str, delimiter: str) -> int:
    """Data rows (blank ones not counted), counted before any is checked: at most one beyond the
    limit. Counting lines is enough when there are few of them (a row has at least one)."""
    if text.count("\n") <= IMPORT_MAX_ROWS:
        return 0
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows = 0
    try:
        for values in itertools.islice(reader, 1, None):
            rows += any(v.strip() for v in values)
            if rows > IMPORT_MAX_ROWS:
                break
    except csv.Error:
        pass  # the row-by-row reading reports where
    return rows
