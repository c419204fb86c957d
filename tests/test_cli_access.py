"""`assessment admin-link`: a fresh administrator link, the earlier one revoked; none with sign-in set up."""

from __future__ import annotations

import re

from assessment.access import links
from assessment.cli import access_commands as cli_access
from assessment.cli import main as cli
from assessment.store import audit
from assessment.store.assessments import Assessments


def admin_link(capsys, *args: str) -> str:
    assert cli.main(["admin-link", *args]) == 0
    return capsys.readouterr().out


def test_admin_link_is_fresh_each_time_and_only_its_digest_is_stored(sqlite_url, capsys, monkeypatch, tmp_path):
    monkeypatch.setattr(cli_access, "SECRETS_FILES", (tmp_path / "none.toml",))
    first = admin_link(capsys, "--db", sqlite_url, "--url", "http://example.org:8501/")
    token = re.search(r"http://example\.org:8501/\?admin=(\S+)", first).group(1)
    store = Assessments.open(sqlite_url)
    assert links.resolve(store, token).kind == links.ADMIN_LINK
    second = re.search(r"admin=(\S+)", admin_link(capsys, "--db", sqlite_url)).group(1)
    assert second != token
    assert links.resolve(store, token) is None  # rotated: the old link opens nothing
    assert links.resolve(store, second).kind == links.ADMIN_LINK
    assert token not in str(audit.entries(store)) and second not in str(audit.entries(store))


def test_no_admin_link_when_sign_in_is_set_up(sqlite_url, capsys, monkeypatch, tmp_path):
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "http://localhost:8501/oauth2callback"\n', encoding="utf-8")
    monkeypatch.setattr(cli_access, "SECRETS_FILES", (secrets,))
    out = admin_link(capsys, "--db", sqlite_url)
    assert "admin=" not in out and "Sign-in is set up" in out
    assert links.links_of(Assessments.open(sqlite_url), kind=links.ADMIN_LINK) == []
