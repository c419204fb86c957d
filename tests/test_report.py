"""The council report: what it says (against hand-computed numbers) and that PDF and HTML render."""

from __future__ import annotations

import pypdfium2 as pdfium
import pytest

from assessment.framework.responses import Response, StepAnswer
from assessment.i18n import t
from assessment.regional import followup as fs
from assessment.regional.agreements import shipped_agreements
from assessment.report.content import Figure, Table, collect_report, number, report_blocks
from assessment.report.render import build_report, render_html, unicode_font
from assessment.store.assessments import Assessments
from assessment.store.responses import Responses

UNIT, NEIGHBOUR, ELSEWHERE = "Åby kommun", "Bäcka kommun", "Öby kommun"
REGION = "Testlän"


def answer(fw, unit: str, year: int, side: str, rating: int, level: str) -> Response:
    return Response(unit=unit, year=year, side=side, ratings={key: rating for key in fw.statement_by_key},
                    steps={s.id: StepAnswer(level=level) for s in fw.steps})


@pytest.fixture
def database(engine, framework):
    """On SQLite and PostgreSQL.

    Åby: 2026 public rates 3 and civil society 1 (pooled 2 -> 50); 2025 all 1 (-> 25).
    Bäcka (same region) 2026 all 4 (-> 100). Öby (another region) 2026 all 0.
    """
    assessments, responses = Assessments(engine, framework), Responses(engine, framework)
    assessments.ensure_unit(UNIT, region=REGION)
    assessments.ensure_unit(NEIGHBOUR, region=REGION)
    assessments.ensure_unit(ELSEWHERE, region="Annat län")
    for response in (answer(framework, UNIT, 2026, "public", 3, "dialogue"),
                     answer(framework, UNIT, 2026, "civil_society", 1, "information"),
                     answer(framework, UNIT, 2025, "public", 1, "information"),
                     answer(framework, NEIGHBOUR, 2026, "public", 4, "partnership"),
                     answer(framework, ELSEWHERE, 2026, "public", 0, "none")):
        responses.add_response(response)
    return engine


@pytest.fixture
def agreement(database, framework):
    """The Örebro agreement, adopted by Åby: 2025 one commitment under way; 2026 it is done, another n/a."""
    agreement = shipped_agreements(framework)[0].model_copy(update={"unit": UNIT})
    fs.save_agreement(database, agreement)
    first, second = agreement.commitments[0].id, agreement.commitments[1].id
    fs.set_status(database, agreement.id, first, 2025, "under_way")
    fs.set_status(database, agreement.id, first, 2026, "done", "klart")
    fs.set_status(database, agreement.id, second, 2026, "not_applicable")
    return agreement


def test_collected_numbers_match_hand_computed_values(database, framework, agreement):
    data = collect_report(database, framework, UNIT, 2026)
    assert {s.score for s in data.scores} == {50.0}
    assert {s.score for s in data.side_scores["public"]} == {75.0}
    assert {s.score for s in data.side_scores["civil_society"]} == {25.0}
    assert data.respondents == {"public": 1, "civil_society": 1}
    # Region = Åby (50) and Bäcka (100); Öby is in another region. Inclusive quartiles of [50, 100].
    assert data.region_units == 2
    band = data.region_stats[framework.principles[0].id]
    assert (band.q1, band.median, band.q3) == (62.5, 75.0, 87.5)
    assert data.previous_year == 2025
    assert {s.score for s in data.previous_scores} == {25.0}
    # Levels: public 'dialogue' (rank 3), civil society 'information' (rank 1): median_low -> information.
    assert {lv.level_id for lv in data.levels} == {"information"}
    assert {a.next_level for a in data.advice} == {"consultation"}
    section, = data.followups
    n = len(agreement.commitments)
    assert section.recorded == 2
    assert section.overall.score == round(100 * 1 / (n - 1), 1)  # one done, one not applicable
    assert section.previous_year == 2025
    overall_change = section.changes[0]
    assert overall_change.score_before == round(100 * 0.5 / n, 1)
    assert overall_change.newly_done == (agreement.commitments[0].id,)


@pytest.mark.parametrize("lang, delta", [("sv", "+25,0"), ("en", "+25.0")])
def test_previous_year_table_shows_the_change_in_the_language(database, framework, lang, delta):
    blocks = report_blocks(collect_report(database, framework, UNIT, 2026), framework, lang)
    last_table = [b for b in blocks if isinstance(b, Table)][-1]
    assert last_table.header[1:3] == ["2025", "2026"]
    assert [row[-1] for row in last_table.rows] == [delta] * len(framework.principles)


def test_numbers_use_the_language_s_decimal_mark():
    assert number(62.34, "sv") == "62,3"
    assert number(-3.5, "en", signed=True) == "−3.5"
    assert number(None, "sv") == "–"


def pdf_text_and_first_page(pdf_bytes: bytes):
    pdf = pdfium.PdfDocument(pdf_bytes)
    try:
        text = "\n".join(pdf[i].get_textpage().get_text_range() for i in range(len(pdf)))
        image = pdf[0].render(scale=1).to_pil().convert("L")
        return text, image, len(pdf)
    finally:
        pdf.close()


@pytest.mark.parametrize("lang, other", [("sv", "en"), ("en", "sv")])
def test_pdf_report_renders_with_text_and_charts(database, framework, agreement, lang, other):
    pdf_bytes = build_report(database, framework, UNIT, 2026, lang, "pdf")
    assert pdf_bytes.startswith(b"%PDF")
    text, image, pages = pdf_text_and_first_page(pdf_bytes)
    assert UNIT in text  # å ä ö survive: the Unicode font is embedded
    assert t("reg.report.principles", lang) in text
    assert t("reg.report.principles", other) not in text
    assert t("reg.report.followup", lang, title=agreement.title(lang)).split(":")[0] in text
    # The first page is not blank: the radar and the table ink a good part of it.
    histogram = image.histogram()
    dark = sum(histogram[:200]) / (image.width * image.height)
    assert dark > 0.02, f"first page looks blank ({dark:.3%} non-white)"
    assert pages >= 2


def test_html_report_is_self_contained_with_inline_svg(database, framework, agreement):
    html = build_report(database, framework, UNIT, 2026, "en", "html").decode("utf-8")
    assert html.startswith("<!DOCTYPE html>") and '<html lang="en">' in html
    assert html.count("<svg") >= 2  # radar and step matrix
    assert "<script" not in html and "src=\"http" not in html and "href=\"http" not in html
    assert t("reg.report.title", "en", unit=UNIT, year=2026) in html
    assert t("reg.report.previous", "en", previous=2025) in html
    assert agreement.title("en") in html


def test_report_without_agreement_or_earlier_year(database, framework):
    data = collect_report(database, framework, NEIGHBOUR, 2026)
    assert data.followups == [] and data.previous_year is None
    html = render_html(report_blocks(data, framework, "sv"), "sv", "x").decode()
    assert t("reg.report.no_previous", "sv") in html
    assert "Uppföljning:" not in html


def test_charts_in_the_report_carry_the_region_band(database, framework):
    blocks = report_blocks(collect_report(database, framework, UNIT, 2026), framework, "sv")
    radar = next(b for b in blocks if isinstance(b, Figure))
    rows = [r for rows in radar.chart.to_dict()["datasets"].values() for r in rows]
    assert {r["median"] for r in rows if "median" in r and "q1" in r} == {75.0}


@pytest.mark.parametrize("unit, year, message", [
    ("Ingenstans", 2026, "no assessment for unit 'Ingenstans'"),
    (UNIT, 2019, "years with answers: 2025, 2026"),
])
def test_nothing_to_report_is_a_readable_lookup_error(database, framework, unit, year, message):
    with pytest.raises(LookupError, match=message):
        build_report(database, framework, unit, year, "sv", "pdf")


def test_bad_format_or_language_is_refused(database, framework):
    with pytest.raises(ValueError, match="pdf or html"):
        build_report(database, framework, UNIT, 2026, "sv", "docx")
    with pytest.raises(ValueError, match="sv or en"):
        build_report(database, framework, UNIT, 2026, "de", "pdf")


def test_the_pdf_font_is_a_unicode_truetype_font():
    regular, bold = unicode_font()
    for path in (regular, bold):
        assert path.read_bytes()[:4] in (b"\x00\x01\x00\x00", b"true")
    from fpdf import FPDF
    pdf = FPDF()
    pdf.add_font("X", "", str(regular))
    pdf.add_page()
    pdf.set_font("X", size=12)
    pdf.cell(text="åäö ÅÄÖ")
    text, _image, _pages = pdf_text_and_first_page(bytes(pdf.output()))
    assert "åäö ÅÄÖ" in text
