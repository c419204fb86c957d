"""The report laid out: the blocks of ``content`` as self-contained HTML or as a PDF.

Charts are Altair specs converted by vl-convert: PNG in the PDF, inline SVG in the
HTML. The PDF embeds a Unicode TrueType font so that å, ä and ö print (fpdf2's
built-in fonts are Latin-1 only).
"""

from __future__ import annotations

import html
import io
import struct
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Sequence

from ..charts.comparison import chart_png, chart_svg
from ..framework.matrix import Framework
from .content import Block, Figure, Heading, Paragraph, Table, collect_report, report_blocks, report_title

FORMATS = ("pdf", "html")
# The bundled copy first (assessment/fonts), so a fresh install needs no system font.
FONT_DIRS = (Path(__file__).parent.parent / "fonts", Path("/usr/share/fonts/truetype/dejavu"))
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")


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
