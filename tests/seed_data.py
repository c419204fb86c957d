"""Answers for the browser tests' databases, stored through the repositories as the app stores them."""

from __future__ import annotations

from assessment.framework.responses import Response, StepAnswer
from assessment.store.assessments import Assessments
from assessment.store.responses import Responses


def answered_units(db_path, fw, units, region: str, years=(2025, 2026)) -> None:
    """Each unit (in `region`) answered once per side and year: every statement rated alike with a
    rating that differs by unit, year and side; every step at a level that differs by unit."""
    url = f"sqlite:///{db_path}"
    assessments = Assessments.open(url, fw)
    levels = [lv.id for lv in fw.active_levels()]
    items = []
    for i, unit in enumerate(units):
        assessments.ensure_unit(unit, region=region)
        for year in years:
            for side in ("public", "civil_society"):
                rating = (i + (year - years[0]) + (side == "public")) % (fw.scale.max + 1)
                items.append(Response(unit=unit, year=year, side=side,
                                      ratings={key: rating for key in fw.statement_by_key},
                                      steps={s.id: StepAnswer(level=levels[i % len(levels)]) for s in fw.steps}))
    Responses.open(url, fw).add_responses(items)
