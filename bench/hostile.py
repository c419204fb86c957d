"""How fast hostile files are refused, against reading the shipped matrix in the same run.

Layer: the core parsers the pages and the command line call (framework.limits through
yamlsource, responses, agreements and exchange.parse), in this process; no server. Each
hostile file is at (or just past) the size limit it may have: a YAML "billion laughs", YAML
nested by flow and by indentation, a JSON depth bomb of 19 MB, a 19 MB export nested just
within the limit but broken, a JSON export and a CSV export with one row more than allowed,
files one byte over the size limits. Each must be refused with a SourceError; the time is
the best of --repeat runs.

Baseline: reading matrix.yaml (65 kB) through the same YAML path, the work a page does once.
Printed per file: milliseconds and the ratio to the baseline. Last line: ratio=worst/baseline.

    .venv/bin/python bench/hostile.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from assessment.exchange.parse import parse_import  # noqa: E402
from assessment.exchange.records import CSV_COLUMNS  # noqa: E402
from assessment.framework import limits  # noqa: E402
from assessment.framework.matrix import DEFAULT_MATRIX, load_framework, parse_framework  # noqa: E402
from assessment.framework.yamlsource import SourceError  # noqa: E402
from assessment.regional.agreements import parse_agreement  # noqa: E402

MB = limits.MB


def laughs() -> str:
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 9) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    return "\n".join(lines) + "\n"


def hostile_files(fw) -> list[tuple[str, object]]:
    """(name, call that must raise SourceError)."""
    depth = limits.MAX_DEPTH
    block = "".join("  " * i + f"k{i}:\n" for i in range(depth)) + "  " * depth + "k: v\n"
    near_limit = limits.YAML_MAX_BYTES - 100
    export = {"format": "assessment-export", "version": 1}
    rows_json = json.dumps({**export, "assessments": [{"unit": "x", "year": 2026, "responses": [
        {"token": "r", "side": "public", "ratings": {f"k{i}": 1 for i in range(limits.IMPORT_MAX_ROWS + 1)}}]}]})
    rows_csv = ",".join(CSV_COLUMNS) + "\n" + ("x" + "," * (len(CSV_COLUMNS) - 1) + "\n") * (limits.IMPORT_MAX_ROWS + 1)
    unit = b"[" * depth + b"]" * depth + b","
    return [
        ("YAML billion laughs (matrix)", lambda: parse_framework(laughs(), "laughs.yaml")),
        ("YAML flow nesting, 1 MB", lambda: parse_agreement("a: " + "[" * (near_limit // 2), "deep.yaml", fw)),
        ("YAML block nesting past the limit", lambda: parse_framework(block, "block.yaml")),
        ("YAML one byte over 1 MB", lambda: parse_framework("a: " + "x" * limits.YAML_MAX_BYTES, "big.yaml")),
        ("JSON depth bomb, 19 MB", lambda: parse_import(b"[" * (19 * MB), "bomb.json", fw)),
        ("JSON 19 MB nested to the limit", lambda: parse_import(unit * (19 * MB // len(unit)), "near.json", fw)),
        ("JSON export, one row too many", lambda: parse_import(rows_json.encode(), "rows.json", fw)),
        ("CSV export, one row too many", lambda: parse_import(rows_csv.encode(), "rows.csv", fw)),
        ("JSON one byte over 20 MB", lambda: parse_import(b" " * (limits.IMPORT_MAX_BYTES + 1), "big.json", fw)),
    ]


def best(call, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def refused(call) -> None:
    try:
        call()
    except SourceError:
        return
    raise SystemExit("a hostile file was read instead of refused")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    fw = load_framework()
    baseline = best(lambda: load_framework(DEFAULT_MATRIX), args.repeat)
    print(f"machine load (1 min): {os.getloadavg()[0]:.2f}")
    print(f"baseline  matrix.yaml read and checked          {baseline * 1000:8.1f} ms")
    worst = 0.0
    for name, call in hostile_files(fw):
        took = best(lambda: refused(call), args.repeat)
        worst = max(worst, took)
        print(f"refused   {name:<38} {took * 1000:8.1f} ms  ratio={took / baseline:6.1f}")
    print(f"ratio={worst / baseline:.1f}")


if __name__ == "__main__":
    main()
