"""Names people type are shown as typed: Markdown in a unit's name or a case is not rendered.

Pages put such values into titles and sentences that Streamlit renders as Markdown; a unit
called 'Förening_*Vi*_' would otherwise turn into emphasis, '[x](y)' into a link.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from assessment.access import links
from assessment.i18n import markdown_literal
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments

TRICKY = "Förening_*Vi*_ [läs](https://x.se) `kod` $1+1$ #2 <b>fet</b> :red[röd] ~~bort~~"


def unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


@pytest.mark.parametrize("value", [TRICKY, "Burlövs kommun", "a\\b", "", "100 % – 2026"])
def test_escaping_is_undone_by_the_markdown_reader(value):
    assert unescape(markdown_literal(value)) == value


def test_every_character_markdown_reads_is_escaped():
    escaped = markdown_literal(TRICKY)
    # Outside backslash pairs no character is left that Markdown would read as syntax.
    bare = re.sub(r"\\.", "", escaped)
    assert not set(bare) & set("\\`*_[]()#<>~$:")
    assert markdown_literal("plain words åäö 2026") == "plain words åäö 2026"


def test_line_breaks_do_not_start_new_markdown_blocks():
    assert "\n" not in markdown_literal("Kommun\n# rubrik")


def test_a_unit_name_with_markdown_is_shown_as_typed(streamlit_server, page, framework):
    url = f"sqlite:///{streamlit_server.db_path}"
    store, answers = Assessments.open(url, framework), Answers.open(url, framework)
    assessment = store.create_assessment(TRICKY, 2026, case="Fall *ett*")
    answers.start_response(assessment.token, "public")
    results = links.create_link(store, links.RESULTS_LINK, "test", assessment_id=assessment.id)
    page.goto(f"{streamlit_server.url}/results?v={results}")
    title = page.get_by_role("heading", level=1)
    expect(title).to_contain_text(TRICKY, timeout=60_000)
    expect(title).to_contain_text("Fall *ett*")
    # No emphasis, code, strike-through or HTML made from the name, and "[läs](…)" is no link
    # (a bare address inside a name may still be linked by the browser's Markdown reader).
    text = title.locator("[data-heading-text]")
    expect(text.locator("em, strong, code, b, del")).to_have_count(0)
    expect(page.get_by_role("link", name="läs")).to_have_count(0)
