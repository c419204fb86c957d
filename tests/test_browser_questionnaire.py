"""The questionnaire in real Chromium: clicks during a step change, and the keyboard alone.

While the page draws the next step, the previous step's level radio is still on screen for a
moment (Streamlit marks it stale) and can be clicked. Such a click must count for the step
whose radio it was (the radio's label names the step), never for the step drawn next; the
test clicks during the step change and then finds every answer where it was given. (A click
that reaches the server after that radio's run has ended is dropped by Streamlit: it is
saved nowhere, which the test allows for the later clicks only.) A second test answers the
whole questionnaire with the keyboard alone.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from assessment.i18n import t
from assessment.store.answers import Answers
from assessment.store.assessments import Assessments
from assessment.store.responses import Responses
from browser_runs import WAIT_MS, AppRuns

L = "sv"

# Click "Next", then (in the same task, or after `delay` ms) the option `option` of the level
# radio on screen at that moment; returns that radio's label, which names its step.
CLICK_DURING_STEP_CHANGE = """async ([next, option, delay]) => {
    next.click();
    if (delay) await new Promise(done => setTimeout(done, delay));
    const groups = [...document.querySelectorAll('[role=radiogroup]')].filter(group =>
        [...group.querySelectorAll('label')].some(label => label.innerText.trim().startsWith(option)));
    const group = groups[groups.length - 1];
    const name = group.getAttribute('aria-label') ||
        document.getElementById(group.getAttribute('aria-labelledby') || '')?.innerText || '';
    [...group.querySelectorAll('label')].find(label => label.innerText.trim().startsWith(option)).click();
    return name.trim();
}"""


def open_questionnaire(page: Page, server, framework) -> tuple[Responses, str, AppRuns]:
    """A new response's questionnaire, open; returns the repository its answers are read back from."""
    url = f"sqlite:///{server.db_path}"
    assessment = Assessments.open(url, framework).create_assessment("Klickby kommun", 2026)
    token = Answers.open(url, framework).start_response(assessment.token, "public", "Handläggare")
    page.set_default_timeout(WAIT_MS)
    runs = AppRuns(page)
    runs.act(lambda: page.goto(f"{server.url}/questionnaire?r={token}"), "opening the questionnaire")
    return Responses.open(url, framework), token, runs


def level_question(step) -> str:
    return t("q.level.question", L, step=step.name.sv)


def level_radio(page: Page, step):
    return page.get_by_role("radiogroup", name=level_question(step), exact=True)


def levels_saved(store: Responses, token: str) -> dict[str, str]:
    return {step: answer.level for step, answer in store.get_response(token).response.steps.items()}


def shown_step(page: Page, framework) -> str:
    """The step whose heading the page shows."""
    headings = {f"{i + 1}. {step.name.sv}": step.id for i, step in enumerate(framework.steps)}
    for heading in page.get_by_role("heading").all_inner_texts():
        if heading.strip() in headings:
            return headings[heading.strip()]
    raise AssertionError("no step heading on the page")


def test_a_click_during_the_step_change_counts_where_it_was_given(streamlit_server, page, framework):
    store, token, runs = open_questionnaire(page, streamlit_server, framework)
    levels = framework.active_levels()
    step_of_label = {level_question(step): step.id for step in framework.steps}
    given: dict[str, str] = {}
    for i, step in enumerate(framework.steps[:-1]):
        following = framework.steps[i + 1]
        assert shown_step(page, framework) == step.id
        first = levels[i % len(levels)]
        runs.act(lambda: level_radio(page, step).locator(
            "label", has=page.get_by_role("radio", name=first.name.sv, exact=True)).click(), f"{step.id}: {first.id}")
        given[step.id] = first.id
        # Next, and a click on a level the moment after: at once (on this step's radio, still on
        # screen), or a little later (on whichever step's radio is on screen by then).
        late = levels[(i + 2) % len(levels)]
        next_button = page.get_by_role("button", name=t("q.next", L)).element_handle()
        clicked = {}
        runs.act(lambda: clicked.update(label=page.evaluate(CLICK_DURING_STEP_CHANGE,
                                                            [next_button, late.name.sv, 0 if i % 2 == 0 else 60])),
                 f"{step.id}: next, and a click on {late.id}")
        runs.settle()  # Next and the click may make two runs
        where = step_of_label[clicked["label"]]
        assert where in (step.id, following.id), clicked["label"]
        saved_before = dict(given)
        given[where] = late.id
        # Saved as given (the last run may still be writing it when the page looks settled).
        for _attempt in range(50):
            if levels_saved(store, token) == given:
                break
            page.wait_for_timeout(100)
        saved = levels_saved(store, token)
        if i % 2 and where == step.id and saved == saved_before:
            # The later click hit this step's radio after its run had ended on the server, before
            # the browser replaced it: Streamlit drops such a click. Nothing is saved, anywhere.
            given = saved_before
        assert saved == given, f"after {step.id}: clicked on {where}"
        # "Next" took the page to the next step, whatever the click did.
        assert shown_step(page, framework) == following.id
        if where == step.id and given == saved and given[step.id] == late.id:
            # Not the step now shown: the page says where the answer went; this step is unanswered.
            expect(page.get_by_test_id("stToast").filter(
                has_text=t("q.saved_for_step", L, step=f"{i + 1}. {step.name.sv}"))).to_be_visible()
            expect(level_radio(page, following).get_by_role("radio", checked=True)).to_have_count(0)

    # Every step shows, when visited again, exactly the answer given on it.
    for step in framework.steps:
        if step.id not in given:
            continue
        runs.act(lambda: page.get_by_role("radio", name=step.name.sv, exact=True).click(), f"back to {step.id}")
        level = framework.level_by_id[given[step.id]]
        expect(level_radio(page, step).get_by_role("radio", name=level.name.sv, exact=True)).to_be_checked()
    assert levels_saved(store, token) == given


# --- the keyboard alone ----------------------------------------------------------------------

FOCUSED = "element => element === document.activeElement || element.contains(document.activeElement)"


def tab_to(page: Page, target, what: str, presses: int = 120) -> None:
    """Press Tab until `target` has the keyboard focus (reading the focus is the test's only look)."""
    element = target.element_handle()
    for _ in range(presses):
        if element.evaluate(FOCUSED):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {what}")


def test_the_whole_questionnaire_with_the_keyboard_alone(streamlit_server, page, framework):
    store, token, runs = open_questionnaire(page, streamlit_server, framework)
    keyboard = page.keyboard
    total = len(framework.steps) + len(framework.statement_keys)
    first_level = framework.active_levels()[0]
    for i, step in enumerate(framework.steps):
        radio = level_radio(page, step)
        expect(radio).to_be_visible()
        # Into the radio group (its first option, 'no participation'), choose it, then one down.
        tab_to(page, radio.get_by_role("radio").first, f"{step.id}: the level question")
        runs.act(lambda: keyboard.press("Space"), f"{step.id}: no participation")
        runs.act(lambda: keyboard.press("ArrowDown"), f"{step.id}: {first_level.id}")
        expect(radio.get_by_role("radio", name=first_level.name.sv, exact=True)).to_be_checked()
        tool = framework.cell(step.id, first_level.id).tools[0]
        box = page.get_by_role("checkbox", name=tool.name.sv, exact=True)
        expect(box).to_be_enabled()
        tab_to(page, box, f"{step.id}: the tool {tool.id}")
        runs.act(lambda: keyboard.press("Space"), f"{step.id}: tick {tool.id}")
        expect(box).to_be_checked()
        tab_to(page, page.get_by_role("button", name=t("q.next", L)), f"{step.id}: Next")
        runs.act(lambda: keyboard.press("Enter"), f"{step.id}: next")

    lowest = framework.scale.label(framework.scale.min, L)
    for i, principle in enumerate(framework.principles):
        expect(page.get_by_role("heading", name=f"{i + 1}. {principle.name.sv}", exact=True)).to_be_visible()
        for statement in principle.statements:
            group = page.get_by_role("radiogroup", name=statement.text.sv, exact=True)
            tab_to(page, group.get_by_role("radio").first, f"{principle.id}.{statement.id}")
            runs.act(lambda: keyboard.press("Space"), f"{principle.id}.{statement.id}: {lowest}")
            expect(group.get_by_role("radio", name=lowest, exact=True)).to_be_checked()
        if i == 0:
            comment = page.get_by_label(t("q.comment", L))
            tab_to(page, comment, "the comment")
            keyboard.type("Skrivet med tangentbordet.")
            runs.act(lambda: keyboard.press("Tab"), "leaving the comment")  # a text area saves on leaving
        if i < len(framework.principles) - 1:
            tab_to(page, page.get_by_role("button", name=t("q.next", L)), f"{principle.id}: Next")
            runs.act(lambda: keyboard.press("Enter"), f"{principle.id}: next")

    expect(page.get_by_test_id("stProgress")).to_contain_text(
        re.compile(rf"(?<!\d){re.escape(t('q.progress', L, done=total, total=total))}"))
    saved = store.get_response(token).response
    assert {s: (a.level, a.tools) for s, a in saved.steps.items()} == {
        s.id: (first_level.id, [framework.cell(s.id, first_level.id).tools[0].id]) for s in framework.steps}
    assert saved.ratings == {key: framework.scale.min for key in framework.statement_keys}
    assert saved.comments == {framework.principles[0].id: "Skrivet med tangentbordet."}
