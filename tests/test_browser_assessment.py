"""One whole self-assessment in real Chromium: start, answer everything, reload midway, results."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from assessment.i18n import t
from assessment.storage import Store

UNIT = "Webbstads kommun"


def option(page: Page, group: str, label: str):
    """The option `label` of the radio group whose question is `group`."""
    return page.get_by_role("radiogroup", name=group, exact=True).get_by_role("radio", name=label, exact=True)


def choose(page: Page, group: str, label: str) -> None:
    # The input itself is visually hidden; the user clicks its label.
    page.get_by_role("radiogroup", name=group, exact=True).locator(
        "label", has=page.get_by_role("radio", name=label, exact=True)).click()
    expect(option(page, group, label)).to_be_checked()


def heading(page: Page, text: str):
    return page.get_by_role("heading", name=text, exact=True)


def test_whole_assessment_in_the_browser(streamlit_server, page, framework):
    sv = lambda key, **values: t(key, "sv", **values)  # noqa: E731
    levels = framework.active_levels()
    scale = [item.label.sv for item in framework.scale.labels] + [framework.scale.dont_know.sv]

    # --- home: start a new assessment, typing a unit that does not exist yet ---
    page.goto(streamlit_server.url)
    expect(heading(page, sv("home.title"))).to_be_visible()
    unit_box = page.locator("[data-testid=stSelectbox]").filter(has_text=sv("home.unit"))
    unit_box.locator("input").click()
    unit_box.locator("input").fill(UNIT)
    unit_box.locator("input").press("Enter")
    choose(page, sv("home.side"), sv("common.side.public"))
    page.get_by_role("button", name=sv("home.start.submit")).click()
    page.wait_for_url(re.compile(r"/questionnaire\?.*r="))
    expect(page.get_by_role("heading", name=re.compile(re.escape(UNIT)))).to_be_visible()
    personal_url = page.url

    # --- part 1: every decision step, level and one tool ---
    chosen = {}
    for i, step in enumerate(framework.steps):
        expect(heading(page, f"{i + 1}. {step.name.sv}")).to_be_visible()
        level = levels[i % len(levels)]
        choose(page, sv("q.level.question"), level.name.sv)
        tool = framework.cell(step.id, level.id).tools[0]
        box = page.get_by_role("checkbox", name=tool.name.sv, exact=True)
        expect(box).to_be_enabled()
        page.locator("[data-testid=stCheckbox]").filter(
            has=page.get_by_role("checkbox", name=tool.name.sv, exact=True)).locator("label").click()
        expect(box).to_be_checked()
        chosen[step.id] = (level, tool)
        if i == 2:
            # Reload midway: a new session, answers come back from the database.
            page.reload()
            expect(heading(page, f"1. {framework.steps[0].name.sv}")).to_be_visible()
            first_level, first_tool = chosen[framework.steps[0].id]
            expect(option(page, sv("q.level.question"), first_level.name.sv)).to_be_checked()
            expect(page.get_by_role("checkbox", name=first_tool.name.sv, exact=True)).to_be_checked()
            page.get_by_role("radio", name=framework.steps[i + 1].name.sv, exact=True).click()
            continue
        page.get_by_role("button", name=sv("q.next")).click()

    # --- part 2: every statement of every principle ---
    total = len(framework.steps) + len(framework.statement_keys)
    ratings = {}
    for i, principle in enumerate(framework.principles):
        expect(heading(page, f"{i + 1}. {principle.name.sv}")).to_be_visible()
        for j, statement in enumerate(principle.statements):
            label = scale[(i + j) % len(scale)]
            choose(page, statement.text.sv, label)
            ratings[f"{principle.id}.{statement.id}"] = label
        if i == 0:
            page.get_by_label(sv("q.comment")).fill("Webbtest: kommentar.")
            page.get_by_label(sv("q.comment")).blur()
        if i < len(framework.principles) - 1:
            page.get_by_role("button", name=sv("q.next")).click()
    # Each answer is a rerun; the last ones may still be on their way.
    expect(page.get_by_test_id("stProgress")).to_contain_text(sv("q.progress", done=total, total=total),
                                                              timeout=30_000)

    # Reload once more: the principles' answers are there too.
    page.goto(personal_url)
    page.get_by_role("radio", name=sv("q.part.principles"), exact=True).click()
    first = framework.principles[0]
    for statement in first.statements:
        expect(option(page, statement.text.sv, ratings[f"{first.id}.{statement.id}"])).to_be_checked()
    expect(page.get_by_label(sv("q.comment"))).to_have_value("Webbtest: kommentar.")

    # The database holds the whole response.
    store = Store.open(f"sqlite:///{streamlit_server.db_path}", framework)
    token = re.search(r"r=([^&]+)", personal_url).group(1)
    saved = store.get_response(token).response
    assert {s: a.level for s, a in saved.steps.items()} == {s: lv.id for s, (lv, _) in chosen.items()}
    assert {s: a.tools for s, a in saved.steps.items()} == {s: [tool.id] for s, (_, tool) in chosen.items()}
    assert len(saved.ratings) == len(framework.statement_keys)

    # --- results: radar, heatmaps and advice ---
    page.get_by_role("link", name=sv("q.to_results")).click()
    page.wait_for_url(re.compile(r"/results\?.*a="))
    expect(page.get_by_role("heading", name=sv("results.advice"))).to_be_visible()
    expect(page.locator(".vega-embed").first).to_be_visible()
    page.wait_for_function("document.querySelectorAll('.vega-embed canvas, .vega-embed svg.marks').length >= 2")
    assert page.locator(".vega-embed").count() >= 2
    first_step = framework.steps[0]
    expect(page.get_by_text(first_step.name.sv, exact=True).first).to_be_visible()
    next_level = levels[1].name.sv  # the first step reached level 1, so level 2 is advised
    expect(page.get_by_text(re.compile(re.escape(next_level))).first).to_be_visible()
