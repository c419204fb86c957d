"""The participant's phone: join with the code on the screen, then vote on each statement.

Anonymous: a side (and optionally a role), no name. The participant token stays in
the URL (``?code=ABC234&p=<token>``), so a reload or a locked phone keeps the same
identity, side and vote; a link with only ``?p=`` finds its workshop from the token. The live part is one fragment that follows the facilitator every
1.5 s; a vote is shown as saved only once the database has committed it.
"""

from __future__ import annotations

import html

import streamlit as st

from assessment.framework.responses import NO_LEVEL
from assessment.i18n import t
from assessment.workshop.repository import normalize_code
from assessment.workshop.tallies import ROLES, SIDES, VOTE_VALUES
from assessment.workshop.views_support import VOTE_COLOURS, tally_html, vote_label
from assessment.workshop.voting import WorkshopVoting
from views.common import framework, lang
from views.workshop_common import RECOVERABLE, error_text, inject_css, workshop_repository

st.set_page_config(layout="centered")  # a phone page: one narrow column
L = lang()
fw = framework()
voting = workshop_repository(WorkshopVoting)
REFRESH_SECONDS = 2  # ~213 phones polling: 2 s keeps up with the room at half the load of 1 s

VOTE_KEYS = ", ".join(f".st-key-ws_vote_{value} button" for value in VOTE_VALUES)


def button_colours(value: str, background: str, border: str, text: str) -> str:
    # !important and every state: a tapped button keeps Streamlit's hover/focus look on phones.
    selector = ", ".join(f".st-key-ws_vote_{value} button{state}"
                         for state in ("", ":hover", ":focus", ":active", ":focus-visible"))
    return (f"{selector} {{ background: {background} !important; border: 2px solid {border} !important; }}"
            f".st-key-ws_vote_{value} button p {{ color: {text} !important; }}")


PHONE_CSS = f"""
[data-testid="stMainBlockContainer"] {{ max-width: 560px; padding-top: 4rem; }}
.ws-phone-statement {{ font-size: 1.45rem; line-height: 1.3; font-weight: 700; margin: 0.2rem 0 0.8rem 0; }}
.ws-phone-position {{ font-size: 1rem; color: #444; }}
{VOTE_KEYS}, .st-key-ws_join_submit button {{ min-height: 4.2rem; border-radius: 0.8rem; }}
.st-key-ws_vote_agree button p, .st-key-ws_vote_disagree button p, .st-key-ws_vote_pass button p,
.st-key-ws_join_submit button p {{ font-size: 1.35rem; font-weight: 700; }}
{button_colours("agree", VOTE_COLOURS["agree"], VOTE_COLOURS["agree"], "#ffffff")}
{button_colours("disagree", VOTE_COLOURS["disagree"], VOTE_COLOURS["disagree"], "#ffffff")}
{button_colours("pass", "#f0f0f0", "#777777", "#111111")}
[data-testid="stRadio"] label p {{ font-size: 1.1rem; }}
[data-testid="stRadio"] label {{ padding: 0.35rem 0; }}
"""


def chosen_css(value: str | None) -> str:
    """Mark the chosen button with a thick outline (the text line below says it in words)."""
    if not value:
        return ""
    return (f".st-key-ws_vote_{value} button {{ outline: 5px solid #111111 !important; outline-offset: 3px; }}"
            f".st-key-ws_vote_{value} button p::after {{ content: '  ✔'; }}")


def leave() -> None:
    """Forget the token and go back to the join form (keeps the code)."""
    st.query_params.pop("p", None)


# --- join ----------------------------------------------------------------------------------

def join_form(code: str) -> None:
    st.title(t("ws.join.title", L))
    # value= rather than seeding session state: a tap that lands before the first run has
    # finished must not lose the code that came with the QR link.
    typed = normalize_code(st.text_input(t("ws.join.code", L), value=code, key="ws_join_code", max_chars=12,
                                         placeholder="ABC 234"))
    workshop = None
    if typed:
        try:
            workshop = voting.get_workshop(typed)
        except RECOVERABLE as exc:
            st.error(error_text(exc, L))
            return
        st.info(t("ws.join.workshop", L, name=workshop.name, unit=workshop.unit or "–"))
        if workshop.phase == "ended":
            st.warning(t("workshop.error.ended", L))
            return
    side = st.radio(t("ws.join.side", L), list(SIDES), index=None, key="ws_join_side",
                    format_func=lambda s: t(f"workshop.side.{s}", L))
    role = None
    if side:
        role = st.pills(t("ws.join.role", L), list(ROLES[side]), key=f"ws_join_role_{side}",
                        format_func=lambda r: t(f"workshop.role.{r}", L))
    st.caption(t("ws.join.anonymous", L))
    if st.button(t("ws.join.submit", L), key="ws_join_submit", type="primary", width="stretch"):
        if not typed:
            st.error(t("ws.join.need_code", L))
            return
        if not side:
            st.error(t("ws.join.need_side", L))
            return
        try:
            token = voting.join(typed, side, role or "")
        except RECOVERABLE as exc:
            st.error(error_text(exc, L))
            return
        st.query_params["code"] = typed
        st.query_params["p"] = token
        st.rerun()


# --- voting --------------------------------------------------------------------------------

def cast(token: str, card_id: str, value: str) -> None:
    try:
        voting.vote(token, card_id, value)
        st.session_state.pop("ws_vote_error", None)
    except RECOVERABLE as exc:
        st.session_state["ws_vote_error"] = (card_id, error_text(exc, L))


def place(token: str, step_id: str) -> None:
    level = st.session_state.get(f"ws_place_{step_id}")
    if level is None:
        return
    try:
        voting.place(token, step_id, level)
        st.session_state.pop("ws_place_error", None)
    except RECOVERABLE as exc:
        st.session_state["ws_place_error"] = error_text(exc, L)


def statement_part(token: str, view) -> None:
    card = view.card
    st.html(f'<div class="ws-phone-position">{t("ws.fac.position", L, n=view.card_index + 1, of=view.card_count)}'
            f'</div><div class="ws-phone-statement">{html.escape(card.text(L))}</div>'
            f"<style>{chosen_css(view.my_vote if view.card_open else None)}</style>")
    error = st.session_state.get("ws_vote_error")
    if error and error[0] == card.id:
        st.error(error[1])
    if view.card_status == "open":
        for value in VOTE_VALUES:
            st.button(vote_label(value, L), key=f"ws_vote_{value}", on_click=cast, args=(token, card.id, value),
                      width="stretch")
        if view.my_vote:
            st.success(t("ws.join.your_vote", L, vote=vote_label(view.my_vote, L)))
        else:
            st.info(t("ws.join.please_vote", L))
    elif view.card_status == "pending":
        st.info(t("ws.join.pending", L), icon="⏳")
    else:
        st.warning(t("ws.join.closed", L), icon="🔒")
        if view.my_vote:
            st.markdown(t("ws.join.your_vote_closed", L, vote=vote_label(view.my_vote, L)))
    if view.revealed and view.tally is not None:
        st.markdown(f"**{t('ws.join.results', L)}**")
        st.html(tally_html(view.tally, L))


def level_name(level_id: str) -> str:
    if level_id == NO_LEVEL:
        return t("ws.matrix.none", L)
    level = fw.level_by_id.get(level_id)
    return level.name(L) if level else level_id


def matrix_part(token: str, view) -> None:
    st.subheader(t("ws.join.matrix_title", L))
    st.markdown(t("ws.join.matrix_help", L))
    error = st.session_state.pop("ws_place_error", None)
    if error:
        st.error(error)
    options = [NO_LEVEL, *view.levels]
    for number, step_id in enumerate(view.steps, start=1):
        step = fw.step_by_id.get(step_id)
        saved = view.my_placements.get(step_id)
        st.radio(f"{number}. {step.name(L) if step else step_id}", options, key=f"ws_place_{step_id}", format_func=level_name,
                 index=options.index(saved) if saved in options else None,
                 on_change=place, args=(token, step_id),
                 help=step.description(L) if step else None)
        if saved:
            st.caption(t("ws.join.placed", L, level=level_name(saved)))
    if view.revealed and view.matrix:
        # A text list rather than the heatmap: its level columns do not fit 390 px.
        st.markdown(f"**{t('ws.join.results', L)}**")
        lines = [t("ws.join.matrix_result", L, n=number, step=fw.step_by_id[item.step_id].name(L)
                   if item.step_id in fw.step_by_id else item.step_id,
                   level=level_name(item.level_id), answered=item.answered)
                 for number, item in enumerate(view.matrix["overall"], start=1)]
        st.markdown("\n".join(lines))  # "1. …" lines: a numbered list


def who_you_are(side: str, role: str | None) -> str:
    """'du röstar som offentlig sektor (tjänsteperson)': from the database, so it survives a reload."""
    side_name = t(f"ws.group.{side}", L).lower()
    if role:
        return t("ws.join.you_are_role", L, side=side_name, role=t(f"workshop.role.{role}", L).lower())
    return t("ws.join.you_are", L, side=side_name)


@st.fragment(run_every=REFRESH_SECONDS)
def live(code: str, token: str) -> None:
    try:
        view = voting.state(code, token)
    except RECOVERABLE as exc:
        st.error(error_text(exc, L))
        st.button(t("ws.join.again", L), key="ws_again_live", on_click=leave)
        return
    who = f" · {who_you_are(view.my_side, view.my_role)}" if view.my_side else ""
    st.caption(f"{view.name}{' · ' + view.unit if view.unit else ''}{who}")
    if view.phase == "ended":
        st.success(t("ws.join.ended", L))
    elif view.phase == "matrix":
        matrix_part(token, view)
    elif view.card is not None:
        statement_part(token, view)


# --- page ----------------------------------------------------------------------------------

inject_css(PHONE_CSS)
code = normalize_code(st.query_params.get("code", ""))
token = (st.query_params.get("p") or "").strip()

if token:
    try:
        # Without a code the token names its workshop; a wrong code or token: one message, and the way back.
        view = voting.state(code or None, token)
    except RECOVERABLE as exc:
        st.error(error_text(exc, L))
        st.button(t("ws.join.again", L), key="ws_again", on_click=leave, type="primary", width="stretch")
        st.stop()
    if not code:
        code = view.code
        st.query_params["code"] = code  # complete the link: "join again" then keeps the code
    live(code, token)
else:
    join_form(code)
