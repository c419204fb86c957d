"""Agreement follow-up: statuses per commitment and year (SQLite and PostgreSQL), progress
per principle and party, year-on-year change. Expected values are worked out by hand."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from assessment.regional import followup as fs
from assessment.regional.agreements import AGREEMENTS_DIR, agreement_from_data, load_agreement


def small_agreement(fw):
    """Four commitments:  c1 public [openness]          c2 public [openness, dialogue]
                          c3 civil  [dialogue]          c4 civil  [openness]"""
    text = {"sv": "Text", "en": "Text"}
    return agreement_from_data({
        "id": "small", "title": {"sv": "Liten", "en": "Small"}, "unit": "Testby", "adopted": "2020-01-01",
        "parties": [{"id": "public", "name": {"sv": "Kommunen", "en": "The municipality"}},
                    {"id": "civil_society", "name": {"sv": "Föreningarna", "en": "The associations"}}],
        "commitments": [
            {"id": "c1", "party": "public", "text": text, "principles": ["openness"]},
            {"id": "c2", "party": "public", "text": text, "principles": ["openness", "dialogue"]},
            {"id": "c3", "party": "civil_society", "text": text, "principles": ["dialogue"]},
            {"id": "c4", "party": "civil_society", "text": text, "principles": ["openness"]},
        ]}, fw)


def by_group(items):
    return {p.group: p for p in items}


def test_progress_per_principle_by_hand(framework):
    agreement = small_agreement(framework)
    statuses = {"c1": "done", "c2": "under_way", "c3": "not_applicable"}  # c4 not reported
    progress = by_group(fs.progress_by_principle(framework, agreement, statuses))
    # Only principles that have commitments, in framework order.
    assert list(progress) == [p.id for p in framework.principles if p.id in ("openness", "dialogue")]
    openness = progress["openness"]  # c1 done (1), c2 under way (0.5), c4 unreported (0): 1.5 / 3
    assert openness.total == 3
    assert openness.score == 50.0
    assert openness.counts["done"] == 1 and openness.counts["under_way"] == 1
    assert openness.counts["unrecorded"] == 1 and openness.counts["not_started"] == 0
    assert openness.shares["done"] == pytest.approx(1 / 3)
    dialogue = progress["dialogue"]  # c2 under way (0.5); c3 not applicable leaves the denominator: 0.5 / 1
    assert dialogue.total == 2 and dialogue.counts["not_applicable"] == 1
    assert dialogue.score == 50.0
    assert dialogue.shares["not_applicable"] == pytest.approx(0.5)


def test_progress_per_party_and_overall_by_hand(framework):
    agreement = small_agreement(framework)
    statuses = {"c1": "done", "c2": "done", "c3": "under_way", "c4": "not_started"}
    parties = by_group(fs.progress_by_party(agreement, statuses))
    assert list(parties) == ["public", "civil_society"]
    assert parties["public"].score == 100.0  # 2 done of 2
    assert parties["civil_society"].score == 25.0  # (0.5 + 0) / 2
    overall = fs.progress_overall(agreement, statuses)
    assert overall.group == "all" and overall.total == 4
    assert overall.score == 62.5  # (1 + 1 + 0.5 + 0) / 4
    only_civil = fs.progress_by_principle(framework, agreement, statuses, party="civil_society")
    assert {p.group: p.score for p in only_civil} == {"dialogue": 50.0, "openness": 0.0}


def test_all_not_applicable_gives_no_score(framework):
    agreement = small_agreement(framework)
    statuses = dict.fromkeys(("c1", "c2", "c3", "c4"), "not_applicable")
    assert fs.progress_overall(agreement, statuses).score is None
    assert fs.progress_overall(agreement, {}).score == 0.0  # nothing reported: no progress shown


def test_year_on_year_change_by_hand(framework):
    agreement = small_agreement(framework)
    before = {"c1": "under_way", "c2": "done", "c3": "not_started", "c4": "not_started"}
    after = {"c1": "done", "c2": "under_way", "c3": "done"}  # c4 not reported this year
    changes = {c.group: c for c in fs.year_change(framework, agreement, before, after)}
    assert list(changes)[0] == "all"
    # all: before (0.5 + 1 + 0 + 0) / 4 = 37.5; after (1 + 0.5 + 1 + 0) / 4 = 62.5
    assert (changes["all"].score_before, changes["all"].score_after, changes["all"].delta) == (37.5, 62.5, 25.0)
    assert changes["all"].newly_done == ("c1", "c3")
    assert changes["all"].regressed == ("c2",)
    # openness (c1, c2, c4): before 1.5 / 3 = 50.0, after 1.5 / 3 = 50.0
    assert changes["openness"].delta == 0.0
    # dialogue (c2, c3): before 1 / 2 = 50.0, after 1.5 / 2 = 75.0
    assert changes["dialogue"].delta == 25.0


def test_statuses_per_year_stored_and_overwritten(engine, framework):
    agreement = load_agreement(AGREEMENTS_DIR / "orebro.yaml", framework)
    fs.save_agreement(engine, agreement)
    fs.save_agreement(engine, agreement)  # idempotent
    fs.set_status(engine, "orebro", "easy_contact", 2023, "under_way", "Ny webbsida planeras")
    fs.set_status(engine, "orebro", "easy_contact", 2024, "done")
    fs.set_status(engine, "orebro", "seek_dialogue", 2024, "not_started")
    fs.set_status(engine, "orebro", "seek_dialogue", 2024, "under_way", "Dialogmöte i mars")  # overwrite

    y2024 = fs.statuses(engine, "orebro", 2024)
    assert {k: v.status for k, v in y2024.items()} == {"easy_contact": "done", "seek_dialogue": "under_way"}
    assert y2024["seek_dialogue"].note == "Dialogmöte i mars"
    assert fs.statuses(engine, "orebro", 2023)["easy_contact"].note == "Ny webbsida planeras"
    assert fs.followup_years(engine, "orebro") == [2023, 2024]
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(fs.followups_table)).scalar() == 3

    stored = fs.get_agreement(engine, "orebro")
    assert stored == agreement
    assert [a.id for a in fs.list_agreements(engine, unit="Örebro kommun")] == ["orebro"]
    assert fs.list_agreements(engine, unit="Elsewhere") == []

    # The municipality's openness commitments: easy_contact done in 2024, nothing else reported.
    openness_public = agreement.commitments_for("public", "openness")
    progress = by_group(fs.progress_by_principle(framework, agreement, y2024, party="public"))
    assert progress["openness"].total == len(openness_public)
    assert progress["openness"].score == round(100 * 1 / len(openness_public), 1)
    over_years = fs.progress_over_years(engine, framework, agreement)
    assert list(over_years) == [2023, 2024]


@pytest.mark.parametrize("args,field", [
    (("orebro", "no_such_commitment", 2024, "done"), "commitment"),
    (("orebro", "easy_contact", 2024, "finished"), "status"),
    (("orebro", "easy_contact", 1850, "done"), "year"),
    (("unknown", "easy_contact", 2024, "done"), "agreement"),
])
def test_bad_status_is_rejected_and_nothing_written(sqlite_engine, framework, args, field):
    fs.save_agreement(sqlite_engine, load_agreement(AGREEMENTS_DIR / "orebro.yaml", framework))
    with pytest.raises(ValueError) as caught:
        fs.set_status(sqlite_engine, *args)
    assert str(caught.value).startswith(f"{field}: ")
    assert fs.followups(sqlite_engine) == []
