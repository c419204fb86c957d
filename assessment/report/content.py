"""A report for a council meeting: one unit and year, in Swedish or English, as PDF or HTML.

The content is gathered once (``collect_report``), turned into a list of
language-resolved blocks (``report_blocks``: headings, text, tables, charts), and
each output format only lays those blocks out. So the PDF and the HTML say the
same thing, and what the report says can be tested without rendering it.

Charts are Altair specs converted by vl-convert: PNG in the PDF, inline SVG in
the (self-contained) HTML. The PDF embeds a Unicode TrueType font so that
å, ä and ö print (fpdf2's built-in fonts are Latin-1 only).
"""

from __future__ import annotations

import html
import io
import struct
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Sequence

import altair as alt

from ..charts.comparison import chart_png, chart_svg, score_deltas
from ..charts.scores import level_heatmap, radar_chart
from ..framework.matrix import Framework
from ..framework.responses import Response
from ..i18n import t
from ..regional import compare
from ..regional import followup
from ..regional.agreements import Agreement
from ..scoring.scores import Advice, PrincipleScore, StepLevel, advice, by_side, principle_scores, step_levels
from ..store.assessments import Assessments
from ..store.engine import engine_of
from ..store.responses import Responses

FORMATS = ("pdf", "html")
SIDES = ("public", "civil_society")
# The bundled copy first (assessment/fonts), so a fresh install needs no system font.
FONT_DIRS = (Path(__file__).parent.parent / "fonts", Path("/usr/share/fonts/truetype/dejavu"))
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")


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
    agg = compare.load_aggregates(engine, fw, years=[year])
    scores = compare.unit_scores(fw, agg, year)
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


def number(value: float | None, lang: str, signed: bool = False) -> str:
    """A score as written in the language: decimal comma in Swedish, a dash when missing."""
    if value is None:
        return "–"
    text = f"{value:+.1f}" if signed else f"{value:.1f}"
    text = text.replace("-", "−")
    return text.replace(".", ",") if lang == "sv" else text


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


# --- HTML ------------------------------------------------------------------------------------

_CSS = """
body{font-family:"DejaVu Sans",Arial,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem;color:#222;
line-height:1.45}h1{font-size:1.7rem;margin-bottom:.2rem}
h2{font-size:1.25rem;border-bottom:2px solid #0072B2;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;margin:.8rem 0;font-size:.92rem}
th,td{border-bottom:1px solid #ddd;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#eef3f8}td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1rem 0;text-align:center}figure svg{max-width:100%;height:auto}
.small{color:#666;font-size:.85rem}@page{size:A4;margin:15mm}
@media print{body{margin:0;max-width:none}h2{break-after:avoid}figure,table{break-inside:avoid}}
"""


def render_html(blocks: Sequence[Block], lang: str, title: str) -> bytes:
    esc = html.escape
    parts = [f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>"]
    for block in blocks:
        if isinstance(block, Heading):
            parts.append(f"<h{block.level}>{esc(block.text)}</h{block.level}>")
        elif isinstance(block, Paragraph):
            parts.append(f'<p{" class=small" if block.small else ""}>{esc(block.text)}</p>')
        elif isinstance(block, Table):
            def cls(i: int) -> str:
                return ' class="num"' if i >= block.numeric_from else ""
            head = "".join(f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(block.header))
            body = "".join("<tr>" + "".join(f"<td{cls(i)}>{esc(c)}</td>" for i, c in enumerate(row)) + "</tr>"
                           for row in block.rows)
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
        elif isinstance(block, Figure):
            svg = chart_svg(block.chart, lang)
            svg = svg.replace("<svg ", f'<svg role="img" aria-label="{esc(block.alt_text)}" ', 1)
            parts.append(f"<figure>{svg}</figure>")
    parts.append("</body></html>\n")
    return "".join(parts).encode("utf-8")


# --- PDF -------------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def unicode_font() -> tuple[Path, Path]:
    """(regular, bold) DejaVu Sans: the bundled copy, the Debian package, else matplotlib's copy."""
    dirs = list(FONT_DIRS)
    spec = find_spec("matplotlib")
    if spec and spec.origin:
        dirs.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    for directory in dirs:
        paths = tuple(directory / name for name in FONT_FILES)
        if all(p.is_file() for p in paths):
            return paths
    raise RuntimeError("no Unicode font for the PDF report: install the Debian package fonts-dejavu-core "
                       f"(looked for {', '.join(FONT_FILES)} in {', '.join(map(str, dirs))})")


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels from the PNG header."""
    return struct.unpack(">II", png[16:24])


def render_pdf(blocks: Sequence[Block], lang: str, title: str, footer: str) -> bytes:
    from fpdf import FPDF, FontFace
    from fpdf.enums import Align, XPos, YPos

    regular, bold = unicode_font()

    class ReportPDF(FPDF):
        def footer(self) -> None:
            self.set_y(-12)
            self.set_font("DejaVu", "", 8)
            self.set_text_color(120)
            self.cell(0, 6, f"{footer} · {self.page_no()}/{{nb}}", align="C")

    pdf = ReportPDF(format="A4")
    pdf.set_margins(15, 15, 15)
    pdf.set_auto_page_break(True, margin=16)
    pdf.add_font("DejaVu", "", str(regular))
    pdf.add_font("DejaVu", "B", str(bold))
    pdf.set_title(title)
    pdf.set_lang(lang)
    pdf.set_creator("Samverkansanalys")
    pdf.add_page()
    width = pdf.epw
    for block in blocks:
        if isinstance(block, Heading):
            size = 18 if block.level == 1 else 13
            if block.level > 1:
                if pdf.will_page_break(40):  # no heading alone at the foot of a page
                    pdf.add_page()
                pdf.ln(4)
            pdf.set_font("DejaVu", "B", size)
            if block.level > 1:
                pdf.set_text_color(0, 0x40, 0x80)
            else:
                pdf.set_text_color(20)
            pdf.multi_cell(width, size * 0.5, block.text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            if block.level > 1:
                pdf.set_draw_color(0, 0x72, 0xB2)
                pdf.line(pdf.l_margin, pdf.get_y() + 0.5, pdf.l_margin + width, pdf.get_y() + 0.5)
            pdf.ln(2.5)
            pdf.set_text_color(30)
        elif isinstance(block, Paragraph):
            pdf.set_font("DejaVu", "", 8.5 if block.small else 10)
            pdf.set_text_color(110 if block.small else 30)
            pdf.multi_cell(width, 5, block.text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            pdf.set_text_color(30)
            pdf.ln(1.5)
        elif isinstance(block, Table):
            pdf.set_font("DejaVu", "", 9)
            align = tuple("RIGHT" if i >= block.numeric_from else "LEFT" for i in range(len(block.header)))
            total = sum(block.widths)
            with pdf.table(col_widths=tuple(w / total * width for w in block.widths), text_align=align,
                           line_height=5, padding=1.2, first_row_as_headings=True,
                           headings_style=FontFace(emphasis="BOLD", fill_color=(0xEE, 0xF3, 0xF8)),
                           borders_layout="HORIZONTAL_LINES", width=width) as table:
                for row in [block.header, *block.rows]:
                    cells = table.row()
                    for cell in row:
                        cells.cell(cell)
            pdf.ln(3)
        elif isinstance(block, Figure):
            png = chart_png(block.chart, lang, scale=2.0)  # about 240 dpi at the printed width
            px_w, px_h = png_size(png)
            w = min(block.width_mm, width)
            h = w * px_h / px_w
            room = pdf.h - pdf.b_margin - 5 - pdf.t_margin
            if h > room:  # taller than a page: shrink to fit
                h, w = room, room * px_w / px_h
            if pdf.will_page_break(h):
                pdf.add_page()
            pdf.image(io.BytesIO(png), x=Align.C, w=w, h=h, alt_text=block.alt_text)
            pdf.ln(3)
    return bytes(pdf.output())


# --- entry point -----------------------------------------------------------------------------

def build_report(db: Any, fw: Framework, unit: str, year: int, lang: str, fmt: str) -> bytes:
    """The council report for a unit and year as PDF or HTML bytes (used by the CLI and the pages)."""
    if lang not in ("sv", "en"):
        raise ValueError(f"unknown language '{lang}' (use sv or en)")
    if fmt not in FORMATS:
        raise ValueError(f"unknown report format '{fmt}' (use pdf or html)")
    data = collect_report(db, fw, unit, year)
    blocks = report_blocks(data, fw, lang)
    title = report_title(data, lang)
    if fmt == "html":
        return render_html(blocks, lang, title)
    return render_pdf(blocks, lang, title, footer=title)
