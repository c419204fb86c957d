"""The questionnaire: one respondent's answers, saved on every change.

Each widget's callback saves its one answer (store.answers.Answers) before the page
is drawn again, so a reload or a closed tab loses nothing; answers whose callback
Streamlit dropped are saved at the start of the next run. A widget gets its stored
value when it first appears (first visit, or coming back to a step). The session
keeps a copy of the response as saved, so a rerun reads nothing from the database.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from assessment.access import links
from assessment.access import permissions as p
from assessment.access.permissions import Resource, allowed
from assessment.framework.responses import DONT_KNOW, NO_LEVEL, StepAnswer
from assessment.framework.step_answer import (choice, level_choices, level_of, raise_level, tools_above_level,
                                              untick_tools_above)
from assessment.i18n import markdown_literal, t
from assessment.scoring.scores import progress
from assessment.store.answers import Answers
from assessment.store.responses import Responses
from assessment.store.tokens import digest
from views.access import KEY_PARAM, current_actor, link_held, require
from views.autosave import Autosave
from views.common import (app_url, find_response, framework, lang, lang_params, repository, show_flash,
                          stop_with)

L = lang()
fw = framework()
answers = repository(Answers)
PARTS = ("matrix", "principles")


token = (st.query_params.get("r") or "").strip()
if not token:
    stop_with(t("q.error.no_token", L))
actor = current_actor()
require(actor, p.ANSWER, Resource(response=digest(token)), refusal="q.error.unknown_token")
KEY = f"q:{token}:"  # widget keys carry the token: two responses never share state

# The response as this session last saved it. Loaded from the database once per
# session (a reload starts a new session, so it reads the database again); every
# save below also updates this copy, so a rerun needs no database read.
info = st.session_state.get(f"{KEY}info") or find_response(repository(Responses), token)
if info is None:
    stop_with(t("q.error.unknown_token", L))
st.session_state[f"{KEY}info"] = info
response = info.response
assessment = info.assessment
levels = fw.active_levels(response.extensions)
SCALE_OPTIONS = [*fw.scale.values, DONT_KNOW]

# Every answer widget is drawn through `autosave`: it gets its stored value when it first
# appears (never overwriting the user's), and an answer whose callback Streamlit dropped
# is saved at the start of the next run (save_unsaved, at the bottom).
autosave = Autosave(KEY)


def guarded(save, *args) -> bool:
    """Run a save; a database failure becomes a message, not a traceback."""
    try:
        save(token, *args)
        return True
    except (SQLAlchemyError, LookupError, ValueError) as exc:
        reason = type(exc).__name__ if isinstance(exc, SQLAlchemyError) else str(exc)
        st.session_state["_save_error"] = t("q.error.save", L, reason=reason)
        return False


# --- keys and saves ----------------------------------------------------------------------

def level_key(step_id: str) -> str:
    return f"{KEY}level:{step_id}"


def tool_key(step_id: str, level_id: str, tool_id: str) -> str:
    return f"{KEY}tool:{step_id}:{level_id}:{tool_id}"


def rating_key(statement_key: str) -> str:
    return f"{KEY}rating:{statement_key}"


def comment_key(item: str) -> str:
    return f"{KEY}comment:{item}"


def step_keys(step_id: str) -> list[str]:
    return [level_key(step_id)] + [tool_key(step_id, level.id, tool.id) for level in levels
                                   if (cell := fw.cell(step_id, level.id)) for tool in cell.tools]


def checked_tools(step_id: str) -> list[str]:
    stored = response.steps.get(step_id)
    tools: list[str] = []
    for level in levels:
        cell = fw.cell(step_id, level.id)
        for tool in cell.tools if cell else ():
            ticked = st.session_state.get(tool_key(step_id, level.id, tool.id),
                                          stored is not None and tool.id in stored.tools)
            if ticked and tool.id not in tools:
                tools.append(tool.id)
    return tools


def chosen_level(step_id: str) -> str | None:
    """The level chosen on this step's radio: its choices name the step (core: step_answer)."""
    return level_of(step_id, st.session_state.get(level_key(step_id)))


def save_step(step_id: str) -> None:
    level = chosen_level(step_id)
    tools = checked_tools(step_id)
    if level is not None and guarded(answers.save_step, step_id, level, tools):
        response.steps[step_id] = StepAnswer(level=level, tools=tools)
        autosave.mark_saved(*step_keys(step_id))
        st.session_state["_saved_step"] = step_id  # the page says so if another step ends up shown


def settle_step(step_id: str, settle) -> None:
    """Settle a step whose ticked tools and level reached disagree, the way the respondent chose."""
    answer = response.steps[step_id]
    disagreement = tools_above_level(fw, step_id, answer, response.extensions)
    if disagreement is None:
        return
    settled = settle(answer, disagreement)
    st.session_state[level_key(step_id)] = choice(step_id, settled.level)
    for level in levels:
        for tool in (cell.tools if (cell := fw.cell(step_id, level.id)) else ()):
            st.session_state[tool_key(step_id, level.id, tool.id)] = tool.id in settled.tools
    save_step(step_id)


def save_rating(statement_key: str) -> None:
    value = st.session_state.get(rating_key(statement_key))
    if value is not None and guarded(answers.save_rating, statement_key, value):
        response.ratings[statement_key] = value
        autosave.mark_saved(rating_key(statement_key))


def save_comment(item: str) -> None:
    text = (st.session_state.get(comment_key(item)) or "").strip()
    if guarded(answers.save_comment, item, text):
        if text:
            response.comments[item] = text
        else:
            response.comments.pop(item, None)
        autosave.mark_saved(comment_key(item))


# --- navigation: part, then one step or principle at a time ------------------------------
# The page shown is plain session state (AT_KEY), not a widget's value: the browser sends every
# widget's value with each click, and a click that arrives just after "Next" would otherwise
# carry the old step back in the step control's value. The step and part controls are keyed
# with a generation that "Next" and "Previous" bump, so they are drawn anew at the page they
# moved to, and a value sent for an earlier one is not theirs. A button's target is absolute,
# so a click Streamlit replays after an interrupted run moves nowhere further.

AT_KEY, GENERATION_KEY = "q:at", "q:generation"
STEP_IDS = [s.id for s in fw.steps]
PRINCIPLE_IDS = [p.id for p in fw.principles]
PAGES = [("matrix", s) for s in STEP_IDS] + [("principles", p) for p in PRINCIPLE_IDS]


def current_page() -> int:
    return st.session_state.get(AT_KEY, 0)


def show(index: int) -> None:
    index = max(0, min(len(PAGES) - 1, index))
    st.session_state[AT_KEY] = index
    part, item = PAGES[index]
    st.session_state[f"q:last:{part}"] = item  # a part is opened again where it was left


def go_to(index: int) -> None:
    """The previous and next buttons: show that page, with the controls drawn anew there."""
    show(index)
    st.session_state[GENERATION_KEY] = st.session_state.get(GENERATION_KEY, 0) + 1


def choose_part(key: str) -> None:
    part = st.session_state.get(key)
    # Streamlit may call this for a control of an earlier generation whose value the browser sent
    # again with a later click: only the control drawn now moves the page.
    if key == control_key("part") and part in PARTS:
        first = STEP_IDS[0] if part == "matrix" else PRINCIPLE_IDS[0]
        show(PAGES.index((part, st.session_state.get(f"q:last:{part}") or first)))


def choose_item(key: str, part: str) -> None:
    item = st.session_state.get(key)
    if key == control_key(part) and (part, item) in PAGES:
        show(PAGES.index((part, item)))


def control_key(name: str) -> str:
    return f"q:{name}#{st.session_state.get(GENERATION_KEY, 0)}"


# --- the page ----------------------------------------------------------------------------

def step_title(step_id: str) -> str:
    return f"{STEP_IDS.index(step_id) + 1}. {fw.step_by_id[step_id].name(L)}"


def header() -> None:
    case = f" – {markdown_literal(assessment.case)}" if assessment.case else ""
    st.title(t("q.title", L, unit=markdown_literal(assessment.unit), year=assessment.year, case=case))
    show_flash()
    role = f" ({markdown_literal(response.role)})" if response.role else ""
    st.caption(t("q.you_answer_as", L, side=t(f"common.side.{response.side}", L), role=role))
    if message := st.session_state.pop("_save_error", None):
        st.error(message)
    done, total = progress(fw, response)
    st.progress(done / total if total else 0.0, text=t("q.progress", L, done=done, total=total))
    # Links are stored only as digests: shown here only to whoever holds them in this session.
    invite = link_held(links.INVITE_LINK, assessment.id)
    coordinator = link_held(links.COORDINATOR_LINK, assessment.id)
    with st.expander(t("q.links.title", L), icon="🔗", expanded=coordinator is not None):
        st.markdown(t("q.links.personal", L))
        st.code(app_url("questionnaire", r=token, **lang_params()), language=None)
        if invite:
            st.markdown(t("q.links.share", L))
            st.code(app_url("", a=invite, **lang_params()), language=None)
        else:
            st.caption(t("q.links.ask_coordinator", L))
        if coordinator:
            st.markdown(t("q.links.coordinator", L))
            st.code(app_url("coordinate", c=coordinator, **lang_params()), language=None)


def level_name(level_id: str) -> str:
    return t("q.level.none", L) if level_id == NO_LEVEL else fw.level_by_id[level_id].name(L)


def saved_elsewhere(shown_step: str | None) -> None:
    """A click on a step still on screen while the next one was drawn is saved for the step it
    was given on: say so when that step is not the one now shown."""
    saved = st.session_state.pop("_saved_step", None)
    if saved is not None and saved != shown_step:
        st.toast(t("q.saved_for_step", L, step=step_title(saved)), icon="💾")


def step_page(step_id: str) -> None:
    step = fw.step_by_id[step_id]
    stored = response.steps.get(step_id)
    st.subheader(step_title(step_id))
    st.markdown(step.description(L))
    left, right = st.columns([2, 3], gap="large")
    with left:
        # Every choice names this step, and the label says which step: a click on this radio while
        # the next step is being drawn counts for this step, where it was given.
        options = level_choices(fw, step_id, response.extensions)
        stored_choice = choice(step_id, stored.level) if stored is not None else None
        saving = autosave.widget(level_key(step_id), stored_choice if stored_choice in options else None,
                                 save_step, step_id, seed=True)
        st.radio(t("q.level.question", L, step=step.name(L)), options, index=None, **saving,
                 format_func=lambda c: level_name(level_of(step_id, c)),
                 captions=[t("q.level.none.caption", L), *[lv.description(L) for lv in levels]])
    with right:
        st.markdown(f"**{t('q.tools.question', L, step=step.name(L))}**")
        chosen = chosen_level(step_id)
        if chosen is None:
            st.caption(t("q.tools.choose_level_first", L))
        for level in levels:
            cell = fw.cell(step_id, level.id)
            if cell is None:
                continue
            st.markdown(f"*{level.name(L)}*")
            for tool in cell.tools:
                box = tool_key(step_id, level.id, tool.id)
                saving = autosave.widget(box, stored is not None and tool.id in stored.tools,
                                         save_step, step_id, seed=True)
                # Checkbox labels do not wrap, so the description goes in a caption of its own.
                # Plain text: the label is also the box's aria-label, read out by screen readers.
                st.checkbox(tool.name(L), disabled=chosen is None, **saving)
                st.caption(tool.description(L))
    if stored is not None:
        disagreement(step_id, stored)


def disagreement(step_id: str, answer: StepAnswer) -> None:
    """Ticked tools above the level reached: say so, and offer both ways to settle it."""
    found = tools_above_level(fw, step_id, answer, response.extensions)
    if found is None:
        return
    names = ", ".join(tool.name(L) for level in levels if (cell := fw.cell(step_id, level.id))
                      for tool in cell.tools if tool.id in found.tools)
    st.warning(t("q.mismatch", L, level=level_name(found.level_id), higher=level_name(found.highest_level_id),
                 tools=names), icon="⚠️")
    raise_to, untick = st.columns(2)
    raise_to.button(t("q.mismatch.raise", L, higher=level_name(found.highest_level_id)), key=f"{KEY}raise:{step_id}",
                    on_click=settle_step, args=(step_id, raise_level), width="stretch")
    untick.button(t("q.mismatch.untick", L, level=level_name(found.level_id)), key=f"{KEY}untick:{step_id}",
                  on_click=settle_step, args=(step_id, untick_tools_above), width="stretch")


def principle_page(principle_id: str) -> None:
    principle = fw.principle_by_id[principle_id]
    st.subheader(f"{PRINCIPLE_IDS.index(principle_id) + 1}. {principle.name(L)}")
    st.markdown(principle.description(L))
    for statement in principle.statements:
        full = f"{principle.id}.{statement.id}"
        key = rating_key(full)
        value = response.ratings.get(full)
        saving = autosave.widget(key, value if value in SCALE_OPTIONS else None, save_rating, full, seed=True)
        st.radio(statement.text(L), SCALE_OPTIONS, index=None, horizontal=True, **saving,
                 help=t(f"q.commitment.{statement.side}", L),
                 format_func=lambda v: fw.scale.dont_know(L) if v == DONT_KNOW else fw.scale.label(v, L))
    key = comment_key(principle.id)
    saving = autosave.widget(key, response.comments.get(principle.id, ""), save_comment, principle.id, seed=True)
    st.text_area(t("q.comment", L), **saving,
                 placeholder=t("q.comment.placeholder", L), height=90)


def navigation() -> None:
    page = current_page()
    back, forward, results = st.columns([1, 1, 2])
    back.button(t("q.previous", L), on_click=go_to, args=(page - 1,), disabled=page == 0, icon="⬅️",
                width="stretch", key="q:back")
    if page < len(PAGES) - 1:
        forward.button(t("q.next", L), on_click=go_to, args=(page + 1,), type="primary", icon="➡️",
                       width="stretch", key="q:next")
    if allowed(actor, p.VIEW_RESULTS, Resource.of_assessment(assessment)):
        results.page_link("views/results.py", label=t("q.to_results", L), icon="📊",
                          query_params={KEY_PARAM: assessment.token, **lang_params()})


autosave.save_unsaved(save_step, save_rating, save_comment)
header()
part, item = PAGES[current_page()]
key = control_key("part")
st.segmented_control(t("q.part", L), PARTS, key=key, default=part, required=True, label_visibility="collapsed",
                     format_func=lambda p: t(f"q.part.{p}", L), on_change=choose_part, args=(key,))
key = control_key(part)
if part == "matrix":
    st.markdown(t("q.matrix.help", L))
    st.segmented_control(t("q.step", L), STEP_IDS, key=key, default=item, required=True,
                         format_func=lambda s: fw.step_by_id[s].name(L), on_change=choose_item, args=(key, part))
    step_page(item)
    saved_elsewhere(item)
else:
    st.markdown(t("q.principles.help", L))
    st.segmented_control(t("q.principle", L), PRINCIPLE_IDS, key=key, default=item, required=True,
                         format_func=lambda p: fw.principle_by_id[p].name(L), on_change=choose_item, args=(key, part))
    principle_page(item)
    saved_elsewhere(None)
st.divider()
navigation()
