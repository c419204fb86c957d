"""Regional commands: import and export data, the council report, comparisons.

Every problem is raised as SourceError (located in a file) or UsageError (one
plain line) so that ``assessment.cli.main`` prints it on stderr and exits 2.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from pathlib import Path

import sqlalchemy.exc

from ..framework.matrix import get_framework
from ..framework.yamlsource import SourceError

SIDES = ("public", "civil_society")


def _usage_error(message: str) -> Exception:
    from .main import UsageError

    return UsageError(message)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("import", help="import .json or .csv exports into the database")
    p.add_argument("files", nargs="+", metavar="FILE")
    _db_option(p)
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser("export", help="export the database, a unit or a year as .json or .csv")
    p.add_argument("--unit", help="only this unit (name)")
    p.add_argument("--year", type=int, help="only this year")
    p.add_argument("--assessment", help="only the assessment with this token")
    p.add_argument("--out", required=True, help="file to write; .json or .csv")
    p.add_argument("--delimiter", choices=(",", ";"), default=None,
                   help="CSV field separator (';' for Swedish Excel; default ',')")
    _db_option(p)
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("report", help="the council report of a unit and year as PDF or HTML")
    p.add_argument("--unit", required=True)
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--out", required=True, help="file to write; .pdf or .html")
    p.add_argument("--lang", choices=("sv", "en"), default="sv")
    _db_option(p)
    p.set_defaults(handler=cmd_report)

    p = sub.add_parser("compare", help="principle scores of units side by side, with region quartiles")
    p.add_argument("--units", help="comma-separated unit names (default: every unit with answers)")
    p.add_argument("--region", help="only units of this region")
    p.add_argument("--year", type=int, required=True)
    p.add_argument("--side", choices=SIDES, help="only answers from this side (default: both)")
    p.add_argument("--lang", choices=("sv", "en"), default="en")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _db_option(p)
    p.set_defaults(handler=cmd_compare)


def _db_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--db", metavar="URL", help="database URL (default: DATABASE_URL or ./data/assessment.db)")


def _message(exc: Exception) -> str:
    # str() of a KeyError quotes its message; the argument itself reads better.
    return str(exc.args[0]) if exc.args else str(exc)


def _database(args: argparse.Namespace):
    """The engine of --db (default: DATABASE_URL or the SQLite file), its schema current."""
    from ..store.migrations import open_database

    try:
        return open_database(args.db)
    except ValueError as exc:
        raise _usage_error(str(exc)) from None
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise _usage_error(f"cannot open the database: {exc.__class__.__name__}: "
                           f"{str(exc.orig if hasattr(exc, 'orig') else exc).splitlines()[0]}") from None


# --- import / export -------------------------------------------------------------------------------

def cmd_import(args: argparse.Namespace) -> int:
    from ..exchange.file_limits import read_export_file
    from ..exchange.importer import apply_bundle
    from ..exchange.parse import parse_import

    fw = get_framework()
    # Check every file before writing any, so one bad file in a batch leaves the database as it was.
    bundles, problems = [], []
    for name in args.files:
        path = Path(name)
        try:
            bundles.append(parse_import(read_export_file(path), path.name, fw))
        except SourceError as exc:
            problems += exc.problems
    if problems:
        raise SourceError(problems)
    engine = _database(args)
    for bundle in bundles:
        print(apply_bundle(engine, fw, bundle).line())
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..exchange.export import write_export

    out = Path(args.out)
    suffix = out.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise _usage_error(f"--out {args.out}: the file name must end in .json or .csv")
    if args.delimiter and suffix != ".csv":
        raise _usage_error("--delimiter applies to .csv files only")
    engine = _database(args)
    fw = get_framework()
    try:
        write_export(engine, fw, out, unit=args.unit, year=args.year, assessment=args.assessment,
                              delimiter=args.delimiter or ",")
    except LookupError as exc:
        raise _usage_error(_message(exc)) from None
    except OSError as exc:
        raise _usage_error(f"--out {args.out}: cannot write the file ({exc.strerror or exc})") from None
    print(f"exported to {out}")
    return 0


# --- report ---------------------------------------------------------------------------------------

def cmd_report(args: argparse.Namespace) -> int:
    out = Path(args.out)
    fmt = out.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "html"):
        raise _usage_error(f"--out {args.out}: the file name must end in .pdf or .html")
    from ..report.render import build_report

    engine = _database(args)
    fw = get_framework()
    try:
        payload = build_report(engine, fw, args.unit, args.year, args.lang, fmt)
    except (LookupError, ValueError) as exc:
        raise _usage_error(_message(exc)) from None
    try:
        out.write_bytes(payload)
    except OSError as exc:
        raise _usage_error(f"--out {args.out}: cannot write the file ({exc.strerror or exc})") from None
    print(f"report written to {out}")
    return 0


# --- compare --------------------------------------------------------------------------------------

def cmd_compare(args: argparse.Namespace) -> int:
    from ..regional import compare, summaries

    engine = _database(args)
    fw = get_framework()
    names = None
    if args.units is not None:
        names = [n.strip() for n in args.units.split(",") if n.strip()]
        if not names:
            raise _usage_error("--units: give at least one unit name")
        known = summaries.unit_info(engine)
        unknown = [n for n in names if n not in known]
        if unknown:
            hint = ", ".join(sorted(known)) or "none; import or enter some data first"
            raise _usage_error(f"--units: unknown unit {', '.join(repr(u) for u in unknown)} (units: {hint})")
    result = compare.compare(engine, fw, units=names, years=[args.year], side=args.side, region=args.region)
    if args.year not in result.scores:
        who = "these units" if names else ("this region" if args.region else "any unit")
        side = f" from side {args.side}" if args.side else ""
        raise _usage_error(f"no answers{side} for {who} in {args.year}")
    if args.json:
        print(json.dumps({
            "year": args.year, "side": args.side,
            "scores": {u: [asdict(s) for s in ss] for u, ss in result.scores[args.year].items()},
            "region": {pid: asdict(b) for pid, b in result.stats[args.year].items()},
            "rankings": {pid: [asdict(r) for r in rows] for pid, rows in result.rankings.items()},
        }, ensure_ascii=False, indent=2))
        return 0
    header, rows = compare.comparison_table(fw, result, args.lang, year=args.year)
    print(_table(header, rows))
    return 0


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _table(header: list[str], rows: list[list]) -> str:
    cells = [header] + [[_cell(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = []
    for n, row in enumerate(cells):
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
