"""Access commands: a fresh administrator link (as ``make run`` prints at every start).

The command line works on the local database as the machine's user: it asks no
permission, and the link it prints is the only key to the web pages' administration.
"""

from __future__ import annotations

import argparse
import tomllib
from pathlib import Path

SECRETS_FILES = (Path(".streamlit") / "secrets.toml", Path.home() / ".streamlit" / "secrets.toml")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("admin-link", help="make a new administrator link (every earlier one stops working)")
    p.add_argument("--url", default="http://localhost:8501", help="the app's address (default: %(default)s)")
    p.add_argument("--db", metavar="URL", help="database URL (default: DATABASE_URL or ./data/assessment.db)")
    p.set_defaults(handler=cmd_admin_link)


def sign_in_configured() -> Path | None:
    """The secrets file with an [auth] section (sign-in set up), if any."""
    for path in SECRETS_FILES:
        try:
            if "auth" in tomllib.loads(path.read_text(encoding="utf-8")):
                return path
        except (OSError, tomllib.TOMLDecodeError):
            continue
    return None


def cmd_admin_link(args: argparse.Namespace) -> int:
    from ..access import links
    from .regional_commands import _database

    secrets = sign_in_configured()
    if secrets is not None:
        print(f"Sign-in is set up ([auth] in {secrets}): administrators sign in as named in the access file; "
              "no administrator link is made.")
        return 0
    token = links.rotate_admin_token(_database(args), by="command line")
    print(f"Administrator link (opening it makes that browser session administrator; keep it private):\n"
          f"    {args.url.rstrip('/')}/?admin={token}")
    return 0
