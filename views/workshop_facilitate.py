"""The facilitator's page: create a live workshop, then run it from the presenter view.

Access is the link ``?w=<code>&s=<secret>`` given at creation. Opening it stores the secret
in a cookie for this browser session and leaves ``/facilitate?w=<code>`` in the address bar
(web/facilitator_link.py), so the projected screen never shows it; a workshop created or
reopened on this page is held in the session. Without the right secret the page says so
and shows nothing else. Only the live part (tally or matrix heatmap) reruns every second,
in a fragment; the controls rerun the whole page. A change made from another window (a
second screen) bumps the workshop's version, which the fragment notices and answers with
a full rerun.
"""

from __future__ import annotations

import html
from datetime import date

import streamlit as st

from assessment.access import permissions as p
from assessment.access.permissions import Resource, allowed
from assessment.charts import scores as charts
from assessment.framework.yamlsource import SourceError
from assessment.i18n import LANGUAGE_NAMES, t
from assessment.workshop.control import FacilitatorView, WorkshopControl
from assessment.workshop.decks import deck_from_framework, list_decks
from assessment.workshop.qr import qr_png, qr_svg
from assessment.workshop.repository import normalize_code
from assessment.workshop.results import WorkshopResults
from assessment.workshop.tallies import GROUPS, ORDERS
from assessment.workshop.views_support import facilitator_url, join_url, spaced_code, tally_chart, tally_html
from views.access import current_actor, facilitator_cookie, facilitator_secret, hold_facilitator
from views.common import framework, lang, token_from
from views.workshop_common import RECOVERABLE, base_url, error_text, inject_css, workshop_repository

L = lang()
fw = framework()
control = workshop_repository(WorkshopControl)
results = workshop_repository(WorkshopResults)

PRESENTER_CSS = """
.ws-statement { font-size: 2.6rem; line-height: 1.22; font-weight: 700; margin: 0.3rem 0 1rem 0; }
.ws-position { font-size: 1.3rem; color: #444; }
.ws-code { font-size: 3rem; font-weight: 800; letter-spacing: 0.25rem; font-family: monospace; }
.ws-code-huge { font-size: 5.5rem; font-weight: 800; letter-spacing: 0.4rem; font-family: monospace;
                text-align: center; }
.ws-join-url { font-size: 1.15rem; overflow-wrap: anywhere; }
.ws-join-url-big { font-size: 1.8rem; text-align: center; overflow-wrap: anywhere; }
.ws-state { display: inline-block; padding: 0.2rem 0.7rem; border-radius: 1rem; font-weight: 700;
            font-size: 1.1rem; border: 2px solid #333; }
"""


def show_error(exc: Exception) -> None:
    st.error(error_text(exc, L))


# --- create or open ------------------------------------------------------------------------

def available_decks():
    try:
        return list_decks(fw)
    except SourceError as exc:  # a broken deck file: say where, keep the built-in deck usable
        st.error(t("ws.create.deck_error", L, problems=str(exc)))
        return [deck_from_framework(fw)]


def create_page() -> None:
    st.title(t("ws.fac.create_title", L))
    st.markdown(t("ws.fac.create_intro", L))
    decks = {deck.id: deck for deck in available_decks()}
    with st.form("ws_create"):
        name = st.text_input(t("ws.create.name", L), placeholder=t("ws.create.name_example", L), key="ws_name")
        unit = st.text_input(t("ws.create.unit", L), placeholder="Burlövs kommun", key="ws_unit")
        day = st.date_input(t("ws.create.date", L), value=date.today(), key="ws_date", format="YYYY-MM-DD")
        workshop_lang = st.radio(t("ws.create.lang", L), list(LANGUAGE_NAMES), format_func=LANGUAGE_NAMES.get,
                                 horizontal=True, index=list(LANGUAGE_NAMES).index(L), key="ws_lang")
        deck_id = st.radio(t("ws.create.deck", L), list(decks), key="ws_deck",
                           format_func=lambda i: t("ws.create.deck_option", L, title=decks[i].title(L),
                                                   n=len(decks[i].cards)))
        extensions = [level.id for level in fw.optional_levels
                      if st.checkbox(t("ws.create.extension", L, level=level.name(L)), key=f"ws_ext_{level.id}")]
        submitted = st.form_submit_button(t("ws.create.submit", L), type="primary")
    if submitted:
        if not name.strip():
            st.error(t("ws.create.need_name", L))
            return
        try:
            code, secret = control.create_workshop(name, unit, day, workshop_lang, decks[deck_id], extensions)
        except RECOVERABLE as exc:
            show_error(exc)
            return
        st.session_state["ws_created"] = code
        hold_facilitator(code, secret)
        st.query_params["w"] = code
        st.rerun()

    st.divider()
    st.subheader(t("ws.fac.reopen_title", L))
    link = st.text_input(t("ws.fac.reopen_label", L), key="ws_reopen", type="password")
    if st.button(t("ws.fac.reopen_submit", L), key="ws_reopen_go"):
        code, secret = normalize_code(token_from(link, "w")), token_from(link, "s")
        if not code or not secret:
            st.error(t("ws.fac.reopen_bad", L))
            return
        hold_facilitator(code, secret)  # held, never put in the address
        st.query_params["w"] = code
        st.rerun()


# --- controls ------------------------------------------------------------------------------

def act(code: str, secret: str, method: str, *args) -> None:
    """Button callback: one facilitator action; a refusal is shown after the rerun."""
    try:
        getattr(control, method)(code, secret, *args)
    except RECOVERABLE as exc:
        st.session_state["ws_action_error"] = error_text(exc, L)


def control_button(label: str, key: str, method: str, *args, disabled: bool = False, primary: bool = False):
    st.button(label, key=key, on_click=act, args=(code, secret, method, *args), disabled=disabled,
              type="primary" if primary else "secondary", width="stretch")


def reveal_toggle(revealed: bool) -> None:
    """Show the results to the participants, or hide them again."""
    if revealed:
        control_button(t("ws.ctl.hide", L), "ws_hide", "hide")
    else:
        control_button(t("ws.ctl.reveal", L), "ws_reveal", "reveal")


def statement_controls(view) -> None:
    info = view.info
    last = info.current_index >= info.card_count - 1
    row = st.columns(4)
    with row[0]:
        control_button(t("ws.ctl.previous", L), "ws_prev", "previous_card", disabled=info.current_index == 0)
    with row[1]:
        if view.card_open:
            control_button(t("ws.ctl.close", L), "ws_close", "close_card", primary=True)
        else:
            control_button(t("ws.ctl.open", L), "ws_open", "open_card", primary=True)
    with row[2]:
        reveal_toggle(info.revealed)
    with row[3]:
        control_button(t("ws.ctl.next", L), "ws_next", "next_card", disabled=last)
    row = st.columns(4)
    with row[0]:
        if info.steps:
            control_button(t("ws.ctl.matrix", L), "ws_matrix", "start_matrix")
    with row[1]:
        end_control()
    with st.expander(t("ws.fac.all_cards", L)):
        for index, card in enumerate(info.deck.cards):
            state = t(f"workshop.card_state.{view.card_states[card.id]}", L)
            here = " 👉" if index == info.current_index else ""
            cols = st.columns([6, 2, 2])
            cols[0].markdown(f"**{index + 1}.**{here} {card.text(L)}")
            cols[1].caption(state)
            with cols[2]:
                control_button(t("ws.ctl.go", L), f"ws_go_{index}", "go_to_card", index,
                               disabled=index == info.current_index)


def end_control() -> None:
    with st.popover(t("ws.ctl.end", L), width="stretch"):
        st.markdown(t("ws.ctl.end_confirm_text", L))
        control_button(t("ws.ctl.end_confirm", L), "ws_end", "end", primary=True)


# --- presenter view ------------------------------------------------------------------------

def join_box(join_link: str, big: bool) -> None:
    if big:
        st.html(f'<div class="ws-position" style="text-align:center">{t("ws.fac.join_at", L)}</div>'
                f'<div class="ws-join-url-big">{html.escape(join_link).replace("?", "<wbr>?")}</div>'
                f'<div class="ws-code-huge">{spaced_code(code)}</div>')
        left, middle, right = st.columns([1, 2, 1])
        middle.image(qr_png(join_link, scale=16), width="stretch", alt=t("ws.fac.qr_alt", L, link=join_link))
    else:
        st.html(f'<div class="ws-position">{t("ws.fac.join_at", L)}</div>'
                f'<div class="ws-join-url">{html.escape(join_link).replace("?", "<wbr>?")}</div>'
                f'<div class="ws-code">{spaced_code(code)}</div>')
        st.image(qr_png(join_link, scale=10), width="stretch", alt=t("ws.fac.qr_alt", L, link=join_link))


def participants_line(participants: dict[str, int]) -> str:
    return t("ws.fac.participants", L, n=sum(participants.values()), public=participants.get("public", 0),
             civil_society=participants.get("civil_society", 0))


def live_state(rendered_version: int) -> FacilitatorView | None:
    """The workshop's state for a self-refreshing fragment, with the participant count drawn.

    None when it could not be read (the error is shown).
    """
    try:
        view = control.facilitator_state(code, secret)
    except RECOVERABLE as exc:
        show_error(exc)
        return None
    if view.info.version != rendered_version:
        st.rerun()  # changed from another window: redraw the whole page
    st.markdown(participants_line(view.participants))
    return view


@st.fragment(run_every=1)
def live_tally(rendered_version: int) -> None:
    """The only part that refreshes by itself: votes as they come in."""
    view = live_state(rendered_version)
    if view is None or view.tally is None:
        return
    st.markdown(t("ws.fac.votes_on_card", L, n=view.votes_on_card))
    if st.session_state.get("ws_show_tally", True):
        st.html(tally_html(view.tally, L, big=True))


@st.fragment(run_every=1)
def live_matrix(rendered_version: int) -> None:
    view = live_state(rendered_version)
    if view is None:
        return
    group = st.session_state.get("ws_matrix_group") or "overall"
    levels = view.matrix.get(group, [])
    placed = max((item.answered for item in levels), default=0)
    st.markdown(t("ws.fac.matrix_placed", L, n=placed, group=t(f"ws.group.{group}", L)))
    st.altair_chart(charts.level_heatmap(fw, levels, L, view.info.extensions), width="content")


def header(info) -> None:
    st.markdown(f"### {info.name}")
    parts = [info.unit, info.date.isoformat(), t(f"workshop.phase.{info.phase}", L)]
    st.caption(" · ".join(part for part in parts if part))


def facilitator_link_panel(info) -> None:
    just_created = st.session_state.get("ws_created") == code
    with st.expander(t("ws.fac.secret_title", L), expanded=just_created):
        if just_created:
            st.success(t("ws.fac.created", L, code=code))
        st.warning(t("ws.fac.secret_warning", L))
        link = facilitator_url(base_url(), code, secret, L)
        st.code(link, language=None)
        if not facilitator_cookie(code):
            # Held only by this session: opening the link sets the cookie, so a reload keeps access.
            st.link_button(t("ws.fac.keep_access", L), link, key="ws_keep_access")


def statements_view(view, join_link: str) -> None:
    info = view.info
    if "ws_big_qr" not in st.session_state:  # start on the join screen until the first card opens
        st.session_state["ws_big_qr"] = all(state == "new" for state in view.card_states.values())
    big_qr = st.toggle(t("ws.fac.big_qr", L), key="ws_big_qr")
    if big_qr:
        join_box(join_link, big=True)
        live_tally(info.version)
    else:
        main, side = st.columns([5, 2], gap="large")
        with main:
            state = "open" if view.card_open else view.card_states[view.card.id]
            visibility = t("ws.fac.revealed" if info.revealed else "ws.fac.hidden", L)
            st.html(f'<div class="ws-position">{t("ws.fac.position", L, n=info.current_index + 1, of=info.card_count)}'
                    f' &nbsp; <span class="ws-state">{t(f"workshop.card_state.{state}", L)}</span>'
                    f' &nbsp; {visibility}</div>'
                    f'<div class="ws-statement">{html.escape(view.card.text(L))}</div>')
            live_tally(info.version)
        with side:
            join_box(join_link, big=False)
    st.toggle(t("ws.fac.show_tally", L), value=True, key="ws_show_tally")
    statement_controls(view)


def matrix_view(view) -> None:
    info = view.info
    st.html(f'<div class="ws-statement">{t("ws.fac.matrix_title", L)}</div>')
    st.markdown(t("ws.fac.matrix_help", L))
    st.segmented_control(t("ws.fac.matrix_group", L), list(GROUPS), key="ws_matrix_group", default="overall",
                         format_func=lambda g: t(f"ws.group.{g}", L))
    live_matrix(info.version)
    row = st.columns(4)
    with row[0]:
        control_button(t("ws.ctl.back_to_cards", L), "ws_back", "go_to_card", info.current_index)
    with row[1]:
        reveal_toggle(info.revealed)
    with row[2]:
        end_control()


def summary_view(info) -> None:
    st.subheader(t("ws.summary.title", L))
    try:
        participants = results.participant_counts(code)
    except RECOVERABLE as exc:
        show_error(exc)
        return
    st.markdown(participants_line(participants))
    order = st.segmented_control(t("ws.summary.order", L), list(ORDERS), default="deck", key="ws_order",
                                 format_func=lambda o: t(f"ws.summary.order.{o}", L)) or "deck"
    try:
        tallies = results.summary(code, order)
    except RECOVERABLE as exc:
        show_error(exc)
        return
    for tally in tallies:
        card = info.deck.card(tally.card_id)
        position = info.deck.card_ids.index(tally.card_id) + 1
        st.markdown(f"**{position}. {card.text(L) if card else tally.card_id}**")
        if tally.gap is not None:
            st.caption(t("ws.summary.gap", L, gap=f"{tally.gap:+.0f}"))
        st.altair_chart(tally_chart(tally, L), width="content")
    if info.steps:
        st.subheader(t("ws.summary.matrix", L))
        matrix = results.matrix_distribution(code)
        for tab, group in zip(st.tabs([t(f"ws.group.{g}", L) for g in GROUPS]), GROUPS):
            with tab:
                st.altair_chart(charts.level_heatmap(fw, matrix[group], L, info.extensions),
                                width="content")


def export_buttons(info) -> None:
    stem = f"workshop_{code}_{info.date.isoformat()}"
    cols = st.columns(2)
    try:
        cols[0].download_button(t("ws.export.csv", L), results.export_csv(code, L), f"{stem}.csv", "text/csv",
                                key="ws_export_csv", width="stretch")
        cols[1].download_button(t("ws.export.json", L), results.export_json(code, L), f"{stem}.json",
                                "application/json", key="ws_export_json", width="stretch")
    except RECOVERABLE as exc:
        show_error(exc)


# --- page ----------------------------------------------------------------------------------

code = normalize_code(st.query_params.get("w", ""))
actor = current_actor()  # also takes a stray ?s= out of the address
secret = facilitator_secret(code)
inject_css(PRESENTER_CSS)

if not code:
    create_page()
    st.stop()

if not allowed(actor, p.RUN_WORKSHOP, Resource(workshop=code)):
    try:
        control.get_workshop(code)  # an unknown code has a message of its own
        st.error(t("workshop.error.forbidden", L))
    except RECOVERABLE as exc:
        show_error(exc)
    st.stop()
try:
    view = control.facilitator_state(code, secret)
except RECOVERABLE as exc:
    show_error(exc)  # wrong secret or unknown code: the message and nothing else
    st.stop()

info = view.info
action_error = st.session_state.pop("ws_action_error", None)
header(info)
if action_error:
    st.error(action_error)
join_link = join_url(base_url(), code, info.lang)
if info.phase == "statements":
    statements_view(view, join_link)
elif info.phase == "matrix":
    matrix_view(view)
else:
    st.success(t("ws.fac.ended", L))
    summary_view(info)

st.divider()
facilitator_link_panel(info)
with st.expander(t("ws.fac.join_panel", L)):
    st.markdown(t("ws.fac.join_help", L, url=join_link, code=code))
    st.download_button(t("ws.export.qr_svg", L), qr_svg(join_link), f"join_{code}.svg", "image/svg+xml",
                       key="ws_qr_svg")
with st.expander(t("ws.fac.results_panel", L), expanded=info.phase == "ended"):
    if info.phase != "ended":
        st.caption(t("ws.fac.results_help", L))
    export_buttons(info)
