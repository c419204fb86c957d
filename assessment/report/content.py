"""What a report for a council meeting says: one unit and year, in Swedish or English.

The content is gathered once (``collect_report``) and turned into a list of
language-resolved blocks (``report_blocks``: headings, text, tables, charts);
``render`` only lays those blocks out as PDF or HTML. So the PDF and the HTML say
the same thing, and what the report says can be tested without rendering it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Sequence

import altair as alt

from ..charts.comparison import score_deltas
from ..charts.scores import level_heatmap, radar_chart
from ..framework.matrix import Framework
from ..framework.responses import Response
from ..i18n import number, t
from ..regional import aggregates, compare, followup
from ..regional.agreements import Agreement
from ..scoring.levels import Advice, StepLevel, advice, step_levels
from ..scoring.scores import PrincipleScore, by_side, principle_scores
from ..store.assessments import Assessments
from ..store.engine import engine_of
from ..store.responses import Responses

SIDES = ("public", "civil_society")


# --- what the report says ------------------------------------------------------------------

@dataclass(frozen=True)
class FollowupSection:
    agreement: Agreement
    year: int
    recorded: int  # commitments with a status for the year
    overall: followup.Progress
    by_party: list[followup.Progress]
    by_principle: list[followup.Progress]
    previous_year: int | None
    changes: list[followup.Change]


@dataclass(frozen=True)
class ReportData:
    unit: str
    kind: str
    region: str | None
    year: int
    respondents: dict[str, int]  # side -> respondents
    scores: list[PrincipleScore]  # both sides pooled
    side_scores: dict[str, list[PrincipleScore]]
    region_stats: dict[str, compare.Band]
    region_units: int  # units with answers in the comparison group that year
    levels: list[StepLevel]
    extensions: tuple[str, ...]
    advice: list[Advice]
    previous_year: int | None
    previous_scores: list[PrincipleScore] | None
    followups: list[FollowupSection] = field(default_factory=list)
    made_on: date = field(default_factory=date.today)


def collect_report(db: Any, fw: Framework, unit: str, year: int, today: date | None = None) -> ReportData:
    """Everything the report shows (`db`: an Engine); LookupError with a readable message when
    there is nothing to report."""
    engine = engine_of(db)
    assessments = Assessments(engine)
    infos = assessments.list_assessments(unit=unit)
    if not infos:
        known = sorted({a.unit for a in assessments.list_assessments()})
        shown = ", ".join(known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
        hint = f" (units with assessments: {shown})" if known else " (the database has no assessments)"
        raise LookupError(f"no assessment for unit '{unit}'{hint}")
    responses = Responses(engine).responses_where(units=[unit])
    by_year: dict[int, list[Response]] = {}
    for response in responses:
        by_year.setdefault(response.year, []).append(response)
    if not by_year.get(year):
        years = ", ".join(str(y) for y in sorted(by_year)) or "none"
        raise LookupError(f"no answers for '{unit}' in {year} (years with answers: {years})")

    info = next((a for a in infos if a.year == year), infos[0])
    current = by_year[year]
    earlier = [y for y in by_year if y < year]
    previous_year = max(earlier) if earlier else None

    extensions = tuple(sorted({e for r in current for e in r.extensions}))
    levels = step_levels(fw, current)
    stats, group_size = _region_stats(engine, fw, info.region, year)
    sides = by_side(current)
    return ReportData(
        unit=unit, kind=info.kind, region=info.region, year=year,
        respondents={side: len(sides.get(side, [])) for side in SIDES},
        scores=principle_scores(fw, current),
        side_scores={side: principle_scores(fw, sides.get(side, [])) for side in SIDES},
        region_stats=stats, region_units=group_size,
        levels=levels, extensions=extensions, advice=advice(fw, levels, extensions),
        previous_year=previous_year,
        previous_scores=principle_scores(fw, by_year[previous_year]) if previous_year else None,
        followups=_followups(engine, fw, unit, year),
        made_on=today or date.today(),
    )


def _region_stats(engine: Any, fw: Framework, region: str | None, year: int) -> tuple[dict, int]:
    """Quartiles over the units of the same region (every unit when the unit has no region)."""
    agg = aggregates.load_aggregates(engine, fw, years=[year])
    scores = aggregates.unit_scores(fw, agg, year)
    if region is not None:
        scores = {u: s for u, s in scores.items() if agg.unit_info.get(u, (None, None))[1] == region}
    return compare.region_stats(fw, scores), len(scores)


def _followups(engine: Any, fw: Framework, unit: str, year: int) -> list[FollowupSection]:
    out = []
    for agreement in followup.list_agreements(engine, unit=unit):
        now = followup.statuses(engine, agreement.id, year)
        before_years = [y for y in followup.followup_years(engine, agreement.id) if y < year]
        previous = max(before_years) if before_years else None
        before = followup.statuses(engine, agreement.id, previous) if previous else {}
        out.append(FollowupSection(
            agreement=agreement, year=year, recorded=len(now),
            overall=followup.progress_overall(agreement, now),
            by_party=followup.progress_by_party(agreement, now),
            by_principle=followup.progress_by_principle(fw, agreement, now),
            previous_year=previous,
            changes=followup.year_change(fw, agreement, before, now) if previous else [],
        ))
    return out


# --- blocks: the report in one language --------------------------------------------------------

@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Paragraph:
    text: str
    small: bool = False


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[str]]
    widths: tuple[float, ...]  # relative column widths
    numeric_from: int = 1  # columns from here on are right-aligned


@dataclass(frozen=True)
class Figure:
    chart: alt.TopLevelMixin
    alt_text: str
    width_mm: float  # width in the PDF


Block = Heading | Paragraph | Table | Figure


def level_name(fw: Framework, level_id: str | None, lang: str) -> str:
    if level_id is None:
        return "–"
    if level_id == "none":
        return t("reg.level.none", lang)
    return fw.level_by_id[level_id].name(lang)


def report_title(data: ReportData, lang: str) -> str:
    return t("reg.report.title", lang, unit=data.unit, year=data.year)


def report_blocks(data: ReportData, fw: Framework, lang: str) -> list[Block]:
    """The report's content, in reading order."""
    blocks: list[Block] = [Heading(report_title(data, lang), 1)]
    blocks.append(Paragraph(t("reg.report.respondents", lang, public=data.respondents["public"],
                              civil=data.respondents["civil_society"])))
    blocks.append(Paragraph(t("reg.report.made", lang, date=data.made_on.isoformat()), small=True))
    blocks += _principle_blocks(data, fw, lang)
    blocks += _step_blocks(data, fw, lang)
    blocks += _advice_blocks(data, fw, lang)
    for section in data.followups:
        blocks += _followup_blocks(section, fw, lang)
    blocks += _previous_year_blocks(data, fw, lang)
    return blocks


def _group_label(data: ReportData, lang: str) -> str:
    if data.region:
        return t("reg.report.group_region", lang, region=data.region, n=data.region_units)
    return t("reg.report.group_all", lang, n=data.region_units)


def _principle_blocks(data: ReportData, fw: Framework, lang: str) -> list[Block]:
    band = compare.band_for_radar(data.region_stats)
    by_side_score = {side: {s.principle_id: s.score for s in scores} for side, scores in data.side_scores.items()}
    rows = []
    for score in data.scores:
        stat = data.region_stats.get(score.principle_id)
        rows.append([fw.principle_by_id[score.principle_id].name(lang), number(score.score, lang),
                     number(by_side_score["public"].get(score.principle_id), lang),
                     number(by_side_score["civil_society"].get(score.principle_id), lang),
                     number(stat.median if stat else None, lang),
                     f"{number(stat.q1, lang)}–{number(stat.q3, lang)}" if stat and stat.q1 is not None else "–"])
    header = [t("reg.col.principle", lang), t("reg.col.score", lang), t("regional.side.public", lang),
              t("regional.side.civil_society", lang), t("reg.stat.median", lang), t("reg.stat.quartiles", lang)]
    return [
        Heading(t("reg.report.principles", lang)),
        Paragraph(t("reg.report.principles_intro", lang, group=_group_label(data, lang))),
        Figure(radar_chart(fw, {data.unit: data.scores}, lang, band=band),
               t("reg.report.radar_alt", lang, unit=data.unit), 125),
        Table(header, rows, (3.2, 1.2, 1.4, 1.6, 1.4, 1.6)),
    ]


def _step_blocks(data: ReportData, fw: Framework, lang: str) -> list[Block]:
    return [
        Heading(t("reg.report.steps", lang)),
        Paragraph(t("reg.report.steps_intro", lang)),
        Figure(level_heatmap(fw, data.levels, lang, data.extensions), t("reg.report.heatmap_alt", lang), 170),
    ]


def _advice_blocks(data: ReportData, fw: Framework, lang: str) -> list[Block]:
    rows = []
    for item in data.advice:
        tools = ", ".join(tool.name(lang) for tool in item.tools) if item.tools else t("reg.report.top_reached", lang)
        rows.append([fw.step_by_id[item.step_id].name(lang), level_name(fw, item.current_level, lang),
                     level_name(fw, item.next_level, lang), tools])
    header = [t("reg.col.step", lang), t("reg.col.reached", lang), t("reg.col.next", lang), t("reg.col.tools", lang)]
    return [Heading(t("reg.report.advice", lang)), Paragraph(t("reg.report.advice_intro", lang)),
            Table(header, rows, (2.2, 1.6, 1.6, 4.6), numeric_from=99)]


def _progress_rows(progress: Sequence[followup.Progress], name, lang: str) -> list[list[str]]:
    rows = []
    for p in progress:
        c = p.counts
        rows.append([name(p.group), str(c.get("done", 0)), str(c.get("under_way", 0)),
                     str(c.get("not_started", 0) + c.get("unrecorded", 0)), str(c.get("not_applicable", 0)),
                     number(p.score, lang)])
    return rows


def _followup_blocks(section: FollowupSection, fw: Framework, lang: str) -> list[Block]:
    agreement = section.agreement
    blocks: list[Block] = [Heading(t("reg.report.followup", lang, title=agreement.title(lang)))]
    if not section.recorded:
        return blocks + [Paragraph(t("reg.report.no_followup", lang, year=section.year))]
    blocks.append(Paragraph(t("reg.report.followup_intro", lang, recorded=section.recorded,
                              total=section.overall.total, year=section.year)))
    header = ["", *(t(f"regional.status.{s}", lang) for s in ("done", "under_way", "not_started", "not_applicable")),
              t("reg.col.progress", lang)]
    widths = (3.0, 1.4, 1.2, 1.4, 1.4, 1.4)
    party_rows = _progress_rows([section.overall], lambda _g: t("reg.report.all_commitments", lang), lang)
    party_rows += _progress_rows(section.by_party, lambda g: agreement.party_name(g, lang), lang)
    blocks.append(Paragraph(t("reg.report.per_party", lang)))
    blocks.append(Table([t("reg.col.party", lang), *header[1:]], party_rows, widths))
    blocks.append(Paragraph(t("reg.report.per_principle", lang)))
    principle_rows = _progress_rows(section.by_principle, lambda g: fw.principle_by_id[g].name(lang), lang)
    blocks.append(Table([t("reg.col.principle", lang), *header[1:]], principle_rows, widths))
    if section.previous_year is not None:
        blocks.append(Paragraph(t("reg.report.followup_change", lang, previous=section.previous_year)))
        rows = []
        for change in section.changes:
            name = (t("reg.report.all_commitments", lang) if change.group == "all"
                    else fw.principle_by_id[change.group].name(lang))
            rows.append([name, number(change.score_before, lang), number(change.score_after, lang),
                         number(change.delta, lang, signed=True), str(len(change.newly_done)),
                         str(len(change.regressed))])
        blocks.append(Table([t("reg.col.principle", lang), str(section.previous_year), str(section.year),
                             t("reg.col.change", lang), t("reg.col.newly_done", lang), t("reg.col.regressed", lang)],
                            rows, (3.4, 1.1, 1.1, 1.2, 1.4, 1.4)))
    return blocks


def _previous_year_blocks(data: ReportData, fw: Framework, lang: str) -> list[Block]:
    if data.previous_year is None:
        return [Heading(t("reg.report.previous_none_heading", lang)),
                Paragraph(t("reg.report.no_previous", lang))]
    rows = [[fw.principle_by_id[d["principle_id"]].name(lang), number(d["before"], lang), number(d["after"], lang),
             number(d["delta"], lang, signed=True)]
            for d in score_deltas(fw, data.previous_scores, data.scores)]
    return [Heading(t("reg.report.previous", lang, previous=data.previous_year)),
            Table([t("reg.col.principle", lang), str(data.previous_year), str(data.year), t("reg.col.change", lang)],
                  rows, (3.6, 1.2, 1.2, 1.2))]
