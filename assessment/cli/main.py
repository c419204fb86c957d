"""Command line: ``assessment validate|score|demo|import|export|report|compare|admin-link``.

Each area registers its commands from its own module (see COMMAND_MODULES), so
the entry point stays small. Errors are one readable line each on stderr, exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# Modules with a ``register(subparsers)`` function adding their commands.
COMMAND_MODULES = ("assessment.cli.core_commands", "assessment.cli.regional_commands",
                   "assessment.cli.access_commands")


class UsageError(Exception):
    """A problem to show the user as one or more plain lines, exit code 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="assessment",
        description="Assess cooperation between public bodies and civil society.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ..framework.yamlsource import SourceError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except SourceError as exc:
        for problem in exc.problems:
            print(f"error: {problem}", file=sys.stderr)
        return 2
    except (UsageError, ValueError, LookupError, OSError) as exc:
        # The core raises these with a message meant for people (bad DATABASE_URL, unknown unit...).
        for line in str(exc).splitlines():
            print(f"error: {line}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
