"""Demo data: fictional units with several years of answers from both sides.

Every unit's name says it is fictional, so nobody mistakes the demo for real
results. The answers are generated from a seeded random generator around a
per-unit profile that improves slowly over the years, so comparisons, trends and
the gap between the two sides show something worth looking at.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..framework.matrix import Framework
from ..framework.responses import DONT_KNOW, NO_LEVEL, Response, StepAnswer
from ..store.assessments import Assessments
from ..store.engine import engine_of
from ..store.responses import Responses
from . import followup
from .agreements import AGREEMENTS_DIR, agreement_from_data, load_agreement

REGION = "Mellanlands län (fiktivt)"
YEARS = (2023, 2024, 2025, 2026)


@dataclass(frozen=True)
class DemoUnit:
    name: str
    kind: str
    base: float  # typical rating, 0..4
    gap: float  # how much more positive the public side is than civil society
    reach: int  # typical participation level reached (rank, 1 = information)


DEMO_UNITS = (
    DemoUnit("Exempelstad (fiktiv)", "municipality", 2.6, 0.8, 2),
    DemoUnit("Sjöby kommun (fiktiv)", "municipality", 2.0, 1.2, 1),
    DemoUnit("Skogsbygdens kommun (fiktiv)", "municipality", 3.0, 0.3, 3),
    DemoUnit("Ängsvik kommun (fiktiv)", "municipality", 1.7, 0.6, 1),
    DemoUnit("Region Mellanland (fiktiv)", "region", 2.3, 0.5, 2),
)
RESPONDENTS_PER_SIDE = 4
ROLES = {"public": ("Tjänsteperson", "Politiker"), "civil_society": ("Föreningsordförande", "Anställd i förening")}


def demo_responses(fw: Framework, seed: int = 2026) -> list[Response]:
    """All demo responses, deterministic for a given framework and seed."""
    rng = random.Random(seed)
    core_levels = [lv.id for lv in fw.active_levels()]
    out = []
    for unit in DEMO_UNITS:
        for y, year in enumerate(YEARS):
            for side in ("public", "civil_society"):
                lean = unit.gap / 2 if side == "public" else -unit.gap / 2
                for i in range(RESPONDENTS_PER_SIDE):
                    ratings: dict[str, int | str] = {}
                    for key in fw.statement_by_key:
                        if rng.random() < 0.06:
                            ratings[key] = DONT_KNOW
                            continue
                        value = rng.gauss(unit.base + lean + 0.15 * y, 0.8)
                        ratings[key] = max(fw.scale.min, min(fw.scale.max, round(value)))
                    steps = {}
                    for s, step in enumerate(fw.steps):
                        # Participation tends to fade after the decision step.
                        rank = unit.reach + (1 if y >= 2 and s < 3 else 0) - (1 if s >= 4 else 0)
                        rank += rng.choice((-1, 0, 0, 1)) + (1 if side == "public" and rng.random() < 0.3 else 0)
                        rank = max(0, min(len(core_levels), rank))
                        level = core_levels[rank - 1] if rank else NO_LEVEL
                        tools = []
                        if rank:
                            cell = fw.cell(step.id, level)
                            tools = [t.id for t in cell.tools if rng.random() < 0.6] if cell else []
                        steps[step.id] = StepAnswer(level=level, tools=tools)
                    out.append(Response(
                        unit=unit.name, year=year, side=side, role=ROLES[side][i % 2],
                        steps=steps, ratings=ratings,
                        comments={"general": "Fiktivt demosvar."} if i == 0 else {},
                    ))
    return out


DEMO_AGREEMENT_ID = "exempelstad_demo"
FOLLOWUP_YEARS = (2024, 2025, 2026)
FOLLOWUP_NOTES = {
    "done": "Genomfört (fiktivt demoexempel).",
    "under_way": "Arbete pågår (fiktivt demoexempel).",
}


def demo_agreement(fw: Framework):
    """A fictional agreement for the first demo unit, worded like Örebro's (shipped sample)."""
    data = load_agreement(AGREEMENTS_DIR / "orebro.yaml", fw).to_data()
    data.update(id=DEMO_AGREEMENT_ID, unit=DEMO_UNITS[0].name, title={
        "sv": "Överenskommelse om samverkan i Exempelstad (fiktivt demoexempel efter Örebros)",
        "en": "Agreement on cooperation in Exempelstad (fictional demo after Örebro's)",
    })
    for party in data["parties"]:
        if party["id"] == "public":
            party["name"] = {"sv": DEMO_UNITS[0].name, "en": DEMO_UNITS[0].name}
    return agreement_from_data(data, fw, source="demo")


def demo_followups(agreement, seed: int = 2026) -> list[tuple[str, int, str, str]]:
    """(commitment, year, status, note): each commitment advances a little each year."""
    rng = random.Random(seed)
    order = ("not_started", "under_way", "done")
    out = []
    for commitment in agreement.commitments:
        stage = rng.choice((0, 0, 1))
        for year in FOLLOWUP_YEARS:
            status = order[min(stage, 2)]
            out.append((commitment.id, year, status, FOLLOWUP_NOTES.get(status, "")))
            stage += rng.choice((0, 1, 1))
    return out


def load_demo(db, fw: Framework) -> int:
    """Load the demo into a database (an Engine) unless it is already there; returns
    responses added."""
    engine = engine_of(db)
    assessments = Assessments(engine)
    first = DEMO_UNITS[0]
    if assessments.find_assessment(first.name, YEARS[0]) is not None:
        return 0
    for unit in DEMO_UNITS:
        assessments.ensure_unit(unit.name, kind=unit.kind, region=REGION)
    responses = demo_responses(fw)
    Responses(engine).add_responses(responses)
    _load_demo_followups(engine, fw)
    return len(responses)


def _load_demo_followups(engine, fw: Framework) -> None:
    agreement = demo_agreement(fw)
    followup.save_agreement(engine, agreement)
    for commitment_id, year, status, note in demo_followups(agreement):
        followup.set_status(engine, agreement.id, commitment_id, year, status, note)
