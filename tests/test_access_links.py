"""Link tokens, links, the audit log, settings, and the migration from plain tokens (SQLite and PostgreSQL)."""

from __future__ import annotations

import sqlalchemy as sa

from assessment.access import links
from assessment.store import audit
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments
from assessment.store.engine import make_engine, utcnow
from assessment.store.migrations import MIGRATIONS, init_db, schema_version
from assessment.store.responses import Responses
from assessment.store.tables import access_links, access_settings, assessments, audit_log, responses
from assessment.store.tokens import digest, matches, new_token, record_key


def test_tokens_are_128_bits_and_stored_as_digests():
    tokens = {new_token() for _ in range(200)}
    assert len(tokens) == 200
    assert all(len(token) >= 22 for token in tokens)  # 16 bytes in URL-safe base64
    token = new_token()
    assert matches(token, digest(token))
    assert not matches(token, digest(token + "x"))
    assert not matches("", digest(""))
    assert record_key(token) == digest(token)  # an old export's plain token
    assert record_key(digest(token)) == digest(token)  # a new export's key


def test_links_resolve_until_revoked_and_list_no_token(engine, framework):
    store = Assessments(engine, framework)
    info = store.create_assessment("Länkstad", 2026)
    token = links.create_link(store, links.RESULTS_LINK, "coordinator", assessment_id=info.id)
    found = links.resolve(store, token)
    assert (found.kind, found.assessment_id) == (links.RESULTS_LINK, info.id)
    assert links.resolve(store, token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert links.resolve(store, "") is None
    listed = links.links_of(store, assessment_id=info.id)
    assert [link.kind for link in listed] == [links.RESULTS_LINK]
    assert token not in repr(listed)
    with engine.connect() as conn:  # the database holds no token
        stored = conn.execute(sa.select(access_links.c.token_hash)).scalars().all()
    assert stored == [digest(token)]

    # A new results link replaces the old one, and that is logged.
    newer = links.create_link(store, links.RESULTS_LINK, "coordinator", assessment_id=info.id, replace=True)
    assert links.resolve(store, token) is None
    assert links.resolve(store, newer).kind == links.RESULTS_LINK
    log = audit.entries(store)
    revoked, = [e for e in log if e.action == "link-revoked"]
    assert (revoked.actor, revoked.target) == ("coordinator", "results link of Länkstad 2026")
    assert token not in str(log) and newer not in str(log)

    # Revoking by id, only within the assessment it belongs to.
    other = store.create_assessment("Annanstad", 2026)
    link_id = links.resolve(store, newer).id
    assert not links.revoke(store, link_id, "coordinator B", assessment_id=other.id)
    assert links.resolve(store, newer) is not None
    assert links.revoke(store, link_id, "administrator")
    assert links.resolve(store, newer) is None


def test_unit_coordinator_links_and_the_admin_token(engine, framework):
    store = Assessments(engine, framework)
    store.ensure_unit("Enhetsby")
    token = links.create_link(store, links.COORDINATOR_LINK, "administrator", unit="Enhetsby")
    assert links.resolve(store, token).unit == "Enhetsby"
    first = links.rotate_admin_token(store)
    second = links.rotate_admin_token(store)
    assert links.resolve(store, first) is None
    assert links.resolve(store, second).kind == links.ADMIN_LINK
    assert [e.target for e in audit.entries(store) if e.action == "link-created"][-1] == "coordinator link of Enhetsby"


def test_settings_are_audited(engine):
    assert links.setting(engine, links.NAMED_COMPARISON, False) is False
    links.set_setting(engine, links.NAMED_COMPARISON, True, "admin@region.se")
    assert links.setting(engine, links.NAMED_COMPARISON, False) is True
    entry, = audit.entries(engine)
    assert (entry.actor, entry.action, entry.target, entry.detail) == (
        "admin@region.se", "setting-changed", links.NAMED_COMPARISON, "true")


def test_a_database_with_plain_tokens_migrates_and_its_links_keep_working(db_url, framework):
    """A running instance from before: its share and personal links still work after the upgrade."""
    engine = make_engine(db_url)
    init_db(engine)
    store, answers = Assessments(engine, framework), Answers(engine, framework)
    info = store.create_assessment("Gamla stan", 2025)
    # Make it look like schema 1: plain tokens, no access tables, version 1.
    share, personal = "oldShareToken_abcdefghij", "oldPersonalToken_abcdefg"
    with engine.begin() as conn:
        conn.execute(sa.update(assessments).values(token=share))
        conn.execute(responses.insert().values(token=personal, assessment_id=info.id, side="public", role="",
                                               created_at=utcnow(), updated_at=utcnow()))
        conn.execute(sa.delete(schema_version))
        conn.execute(schema_version.insert().values(version=1, applied_at=utcnow()))
        for table in (access_links, access_settings, audit_log):
            table.drop(conn)
    engine.dispose()

    engine = make_engine(db_url)
    assert init_db(engine) == len(MIGRATIONS)
    store, answers = Assessments(engine, framework), Answers(engine, framework)
    with engine.connect() as conn:
        stored = set(conn.execute(sa.select(assessments.c.token)).scalars()) | \
            set(conn.execute(sa.select(responses.c.token)).scalars())
    assert stored == {digest(share), digest(personal)}  # no plain token left in the database
    answers.save_rating(personal, "independence.criticism", 3)  # the personal link still answers
    assert Responses(engine, framework).get_response(personal).response.ratings == {"independence.criticism": 3}
    invite = links.resolve(store, share)  # the old share link now invites (no results)
    assert (invite.kind, invite.assessment_id) == (links.INVITE_LINK, info.id)
    assert store.find_assessment("Gamla stan", 2025).token == record_key(share)  # old exports still match
    engine.dispose()


def test_a_whole_export_carries_the_audit_log_and_names_personal_data_and_imports_again(engine, framework):
    import json

    from assessment.exchange.export import export_data, export_json
    from assessment.exchange.importer import import_bytes

    store, answers = Assessments(engine, framework), Answers(engine, framework)
    info = store.create_assessment("Exportby", 2026)
    token = answers.start_response(info.token, "public", "ordförande")
    answers.save_comment(token, "general", "Namn Namnsson tycker till")
    links.set_setting(store, links.NAMED_COMPARISON, True, "admin@region.se")
    data = json.loads(export_json(store, framework))
    assert [(e["actor"], e["action"]) for e in data["audit"]] == [("admin@region.se", "setting-changed")]
    assert "assessments[].responses[].comments" in data["personal_data"]
    assert token not in json.dumps(data)  # keys only: no link in an export
    assert "audit" not in export_data(store, framework, unit="Exportby")  # a unit's export: not the log
    summary = import_bytes(store, framework, json.dumps(data).encode(), "all.json")
    assert (summary.responses_added, summary.responses_unchanged) == (0, 1)  # the same data: nothing new
