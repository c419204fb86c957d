"""Core commands: validate a matrix, score a response file, load the demo."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from ..framework.matrix import get_framework, load_framework, matrix_path
from ..framework.responses import read_response
from ..scoring.levels import advice, step_levels
from ..scoring.scores import principle_scores


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="check a matrix file (default: the one in use)")
    p.add_argument("matrix", nargs="?", help="path to a matrix YAML file")
    p.set_defaults(handler=cmd_validate)

    p = sub.add_parser("score", help="scores of a response file (YAML or JSON)")
    p.add_argument("file")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--lang", choices=("sv", "en"), default="en")
    p.add_argument("--matrix", help="matrix file to score against")
    p.set_defaults(handler=cmd_score)

    p = sub.add_parser("demo", help="load the fictional demo data into the database")
    p.set_defaults(handler=cmd_demo)


def cmd_validate(args: argparse.Namespace) -> int:
    path = args.matrix or matrix_path()
    fw = load_framework(path)
    print(f"{path}: ok ({len(fw.levels)} levels, {len(fw.steps)} steps, {len(fw.cells)} cells, "
          f"{len(fw.principles)} principles, {len(fw.statement_by_key)} statements)")
    return 0


def score_report(fw, response) -> dict:
    """Scores, levels and advice of one response, as plain data."""
    levels = step_levels(fw, [response])
    return {
        "unit": response.unit, "year": response.year, "case": response.case, "side": response.side,
        "principles": [asdict(s) for s in principle_scores(fw, [response])],
        "steps": [{"step_id": lv.step_id, "level_id": lv.level_id} for lv in levels],
        "advice": [{"step_id": a.step_id, "next_level": a.next_level, "tools": [t.id for t in a.tools]}
                   for a in advice(fw, levels, response.extensions)],
    }


def cmd_score(args: argparse.Namespace) -> int:
    fw = load_framework(args.matrix) if args.matrix else get_framework()
    response = read_response(args.file, fw)
    report = score_report(fw, response)
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    lang = args.lang
    print(f"{response.unit} {response.year}" + (f" - {response.case}" if response.case else ""))
    for s in report["principles"]:
        name = fw.principle_by_id[s["principle_id"]].name(lang)
        score = "-" if s["score"] is None else f"{s['score']:.1f}"
        print(f"  {name:<32} {score:>6}  ({s['answered']} answered, {s['dont_know']} don't know)")
    for item, tip in zip(report["steps"], report["advice"]):
        step = fw.step_by_id[item["step_id"]].name(lang)
        level = "none" if item["level_id"] == "none" else fw.level_by_id[item["level_id"]].name(lang)
        nxt = fw.level_by_id[tip["next_level"]].name(lang) if tip["next_level"] else "-"
        print(f"  {step:<32} {level:<14} next: {nxt}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from ..regional.demo import load_demo
    from ..store.migrations import open_database

    added = load_demo(open_database(), get_framework())
    print(f"demo data: {added} responses added" if added else "demo data: already loaded")
    return 0
