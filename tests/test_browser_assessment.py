"""One whole self-assessment in real Chromium: start, answer everything, reload midway, results.

Every change to a widget makes Streamlit run the page again on the server and redraw it in the
browser. Until that run has finished, the browser still shows elements of the previous run
(marked stale): right after "Next", the new step's heading can sit above the previous step's
level radio and tool boxes. Clicking those answers the previous step (seen under CPU load: the
level meant for step 5 was saved for step 4). So every action that reruns the app goes through
`AppRuns.act`, which waits until the server has finished the run and the page has drawn all of
it; only then does the test look at or touch the page again.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from assessment.framework.responses import DONT_KNOW
from assessment.i18n import t
from assessment.store.responses import Responses
from browser_runs import WAIT_MS, AppRuns

UNIT = "Webbstads kommun"


def radiogroup(page: Page, group: str):
    return page.get_by_role("radiogroup", name=group, exact=True)


def option(page: Page, group: str, label: str):
    """The option `label` of the radio group whose question is `group`."""
    return radiogroup(page, group).get_by_role("radio", name=label, exact=True)


def click_option(page: Page, group: str, label: str) -> None:
    # The input itself is visually hidden; the user clicks its label.
    radiogroup(page, group).locator("label", has=page.get_by_role("radio", name=label, exact=True)).click()


def heading(page: Page, text: str):
    return page.get_by_role("heading", name=text, exact=True)


def progress_is(page: Page, text: str) -> None:
    # (?<!\d): "1 av 41" must not match "11 av 41".
    expect(page.get_by_test_id("stProgress")).to_contain_text(re.compile(rf"(?<!\d){re.escape(text)}"),
                                                              timeout=WAIT_MS)


def test_whole_assessment_in_the_browser(streamlit_server, page, framework):
    sv = lambda key, **values: t(key, "sv", **values)  # noqa: E731
    levels = framework.active_levels()
    scale = [item.label.sv for item in framework.scale.labels] + [framework.scale.dont_know.sv]

    def level_question(step) -> str:
        """The level radio's label names its step, so it never matches another step's radio."""
        return sv("q.level.question", step=step.name.sv)
    total = len(framework.steps) + len(framework.statement_keys)
    page.set_default_timeout(WAIT_MS)
    app = AppRuns(page)

    def step_tools(step):
        """The tool column of a step: the columns that hold its level question."""
        columns = page.get_by_test_id("stHorizontalBlock").filter(has=radiogroup(page, level_question(step)))
        return columns.get_by_test_id("stColumn").nth(1)

    # --- home: start a new assessment, typing a unit that does not exist yet ---
    app.act(lambda: page.goto(streamlit_server.url), "opening the home page")
    expect(heading(page, sv("home.title"))).to_be_visible(timeout=WAIT_MS)
    # Inside the start form: these widgets do not rerun the app until the form is sent.
    unit_box = page.locator("[data-testid=stSelectbox]").filter(has_text=sv("home.unit"))
    unit_box.locator("input").click()
    unit_box.locator("input").fill(UNIT)
    unit_box.locator("input").press("Enter")
    click_option(page, sv("home.side"), sv("common.side.public"))
    expect(option(page, sv("home.side"), sv("common.side.public"))).to_be_checked(timeout=WAIT_MS)
    app.act(lambda: page.get_by_role("button", name=sv("home.start.submit")).click(), "starting")
    page.wait_for_url(re.compile(r"/questionnaire\?.*r="))
    expect(page.get_by_role("heading", name=re.compile(re.escape(UNIT)))).to_be_visible(timeout=WAIT_MS)
    personal_url = page.url
    # The starter coordinates the assessment: their coordinator link is shown once, with the others.
    coordinator_url = page.get_by_test_id("stCode").filter(has_text="/coordinate?c=").inner_text().strip()
    progress_is(page, sv("q.progress", done=0, total=total))

    # --- part 1: every decision step, level and one tool ---
    chosen = {}
    for i, step in enumerate(framework.steps):
        expect(heading(page, f"{i + 1}. {step.name.sv}")).to_be_visible(timeout=WAIT_MS)
        level = levels[i % len(levels)]
        expect(option(page, level_question(step), level.name.sv)).not_to_be_checked(timeout=WAIT_MS)
        app.act(lambda: click_option(page, level_question(step), level.name.sv), f"{step.id}: level {level.id}")
        expect(option(page, level_question(step), level.name.sv)).to_be_checked(timeout=WAIT_MS)
        progress_is(page, sv("q.progress", done=i + 1, total=total))

        tool = framework.cell(step.id, level.id).tools[0]
        tool_box = page.get_by_role("checkbox", name=tool.name.sv, exact=True)
        box = step_tools(step).locator(tool_box)
        # Drawn once on the whole page, and usable now that a level is chosen.
        expect(tool_box).to_have_count(1, timeout=WAIT_MS)
        expect(box).to_be_enabled(timeout=WAIT_MS)
        expect(box).not_to_be_checked(timeout=WAIT_MS)
        # The input itself is visually hidden; the user clicks its label.
        app.act(lambda: step_tools(step).get_by_test_id("stCheckbox").filter(has=tool_box).locator("label").click(),
                f"{step.id}: tool {tool.id}")
        expect(box).to_be_checked(timeout=WAIT_MS)
        chosen[step.id] = (level, tool)

        if i == 2:
            # Reload midway: a new session, answers come back from the database.
            app.act(page.reload, "reloading the questionnaire")
            expect(heading(page, f"1. {framework.steps[0].name.sv}")).to_be_visible(timeout=WAIT_MS)
            progress_is(page, sv("q.progress", done=i + 1, total=total))
            first_level, first_tool = chosen[framework.steps[0].id]
            expect(option(page, level_question(framework.steps[0]), first_level.name.sv)).to_be_checked(
                timeout=WAIT_MS)
            expect(step_tools(framework.steps[0]).get_by_role("checkbox", name=first_tool.name.sv, exact=True)).to_be_checked(
                timeout=WAIT_MS)
            following = framework.steps[i + 1]
            app.act(lambda: page.get_by_role("radio", name=following.name.sv, exact=True).click(),
                    f"going to step {following.id}")
            continue
        app.act(lambda: page.get_by_role("button", name=sv("q.next")).click(), f"{step.id}: next")

    # --- part 2: every statement of every principle ---
    ratings = {}
    for i, principle in enumerate(framework.principles):
        expect(heading(page, f"{i + 1}. {principle.name.sv}")).to_be_visible(timeout=WAIT_MS)
        for j, statement in enumerate(principle.statements):
            label = scale[(i + j) % len(scale)]
            key = f"{principle.id}.{statement.id}"
            app.act(lambda: click_option(page, statement.text.sv, label), f"{key}: {label}")
            expect(option(page, statement.text.sv, label)).to_be_checked(timeout=WAIT_MS)
            ratings[key] = label
            progress_is(page, sv("q.progress", done=len(framework.steps) + len(ratings), total=total))
        if i == 0:
            comment = page.get_by_label(sv("q.comment"))
            # A text area sends its value when it loses focus.
            app.act(lambda: (comment.fill("Webbtest: kommentar."), comment.blur()), f"{principle.id}: comment")
        if i < len(framework.principles) - 1:
            app.act(lambda: page.get_by_role("button", name=sv("q.next")).click(), f"{principle.id}: next")
    progress_is(page, sv("q.progress", done=total, total=total))

    # Reload once more: the principles' answers are there too.
    app.act(lambda: page.goto(personal_url), "opening the personal link again")
    progress_is(page, sv("q.progress", done=total, total=total))
    app.act(lambda: page.get_by_role("radio", name=sv("q.part.principles"), exact=True).click(),
            "going to the principles")
    first = framework.principles[0]
    expect(heading(page, f"1. {first.name.sv}")).to_be_visible(timeout=WAIT_MS)
    for statement in first.statements:
        expect(option(page, statement.text.sv, ratings[f"{first.id}.{statement.id}"])).to_be_checked(
            timeout=WAIT_MS)
    expect(page.get_by_label(sv("q.comment"))).to_have_value("Webbtest: kommentar.", timeout=WAIT_MS)

    # The database holds the whole response.
    responses = Responses.open(f"sqlite:///{streamlit_server.db_path}", framework)
    token = re.search(r"r=([^&]+)", personal_url).group(1)
    saved = responses.get_response(token).response
    assert {s: a.level for s, a in saved.steps.items()} == {s: lv.id for s, (lv, _) in chosen.items()}
    assert {s: a.tools for s, a in saved.steps.items()} == {s: [tool.id] for s, (_, tool) in chosen.items()}
    shown = {DONT_KNOW: framework.scale.dont_know.sv,
             **{value: framework.scale.label(value, "sv") for value in framework.scale.values}}
    assert {key: shown[value] for key, value in saved.ratings.items()} == ratings
    assert saved.comments == {first.id: "Webbtest: kommentar."}

    # --- results, through the coordinator link (a reload began a new session): radar, heatmaps, advice ---
    app.act(lambda: page.goto(coordinator_url), "opening the coordinator link")
    app.act(lambda: page.get_by_role("link", name=sv("q.to_results")).click(), "opening the results")
    page.wait_for_url(re.compile(r"/results\?.*c="))
    expect(page.get_by_role("heading", name=sv("results.advice"))).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(".vega-embed").first).to_be_visible(timeout=WAIT_MS)
    # Vega draws in the browser after the run: wait for two drawn charts (radar and heatmap).
    page.wait_for_function("document.querySelectorAll('.vega-embed canvas, .vega-embed svg.marks').length >= 2",
                           timeout=WAIT_MS)
    assert page.locator(".vega-embed").count() >= 2
    first_step = framework.steps[0]
    expect(page.get_by_text(first_step.name.sv, exact=True).first).to_be_visible(timeout=WAIT_MS)
    next_level = levels[1].name.sv  # the first step reached level 1, so level 2 is advised
    expect(page.get_by_text(re.compile(re.escape(next_level))).first).to_be_visible(timeout=WAIT_MS)
