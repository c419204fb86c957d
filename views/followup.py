"""Yearly follow-up of a local agreement: a status and a note per commitment, and progress.

Each agreement belongs to a unit: its coordinators and the administrator see and record
its follow-up; only the administrator uploads agreements. Every edit is logged.

Each status or note is saved the moment it is given (one short transaction), so
nothing is lost when the page is left half-way; one whose callback Streamlit dropped
is saved at the start of the next run (views.autosave). Progress is computed by the
core (assessment.regional.followup) from what is saved.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from assessment.access.permissions import FOLLOW_UP, MANAGE_AGREEMENTS, Resource, allowed
from assessment.access.writes import Refused, set_followup, upload_agreement
from assessment.charts.comparison import progress_bars
from assessment.framework import limits
from assessment.framework.yamlsource import SourceError
from assessment.i18n import t
from assessment.regional import followup as fs
from assessment.regional.agreements import Agreement, shipped_agreements
from views.access import current_actor
from views.autosave import Autosave
from views.common import database, framework, lang

L = lang()
fw = framework()
engine = database()
actor = current_actor()
st.title(t("reg.followup.title", L))
st.caption(t("reg.followup.intro", L))


def status_label(status: str | None) -> str:
    return t(f"regional.status.{status}", L)


def shipped() -> list[Agreement]:
    try:
        return shipped_agreements(fw)
    except SourceError as exc:  # a broken file in agreements/: say which, keep the page usable
        st.error(t("reg.followup.shipped_error", L, problems=str(exc)))
        return []


# --- which agreement -------------------------------------------------------------------------

def upload_section() -> None:
    upload = st.file_uploader(t("reg.followup.upload_label", L), type=["yaml", "yml"], key="fu_upload",
                              max_upload_size=limits.YAML_MAX_BYTES // limits.MB)
    # The uploader keeps its file across reruns: act on each file once only.
    if upload is not None and st.session_state.get("fu_upload_seen") != upload.file_id:
        st.session_state["fu_upload_seen"] = upload.file_id
        try:
            uploaded = upload_agreement(engine, fw, actor, upload.getvalue(), upload.name)
        except SourceError as exc:
            st.error(t("reg.followup.upload_error", L, file=upload.name) + "\n\n" +
                     "\n".join(f"- `{problem}`" for problem in exc.problems))
        else:
            st.session_state["fu_agreement"] = uploaded.id
            st.success(t("reg.followup.uploaded", L, title=uploaded.title(L),
                         n=len(uploaded.commitments)))


if allowed(actor, MANAGE_AGREEMENTS):  # uploading an agreement is the administrator's
    with st.expander(t("reg.followup.upload", L), expanded=False):
        upload_section()

# Stored agreements (with their follow-ups) come first and keep the wording they were followed
# up with; shipped ones not yet stored are offered after them.
agreements = {a.id: a for a in fs.list_agreements(engine)}
for sample in shipped():
    agreements.setdefault(sample.id, sample)
# Only the agreements of the units this visitor follows up (every one for the administrator).
agreements = {i: a for i, a in agreements.items() if allowed(actor, FOLLOW_UP, Resource(unit=a.unit))}
if not agreements:
    st.info(t("reg.followup.none", L))
    st.stop()

# --- saving: each status and note as given -----------------------------------------------------

autosave = Autosave("fu:")


def status_key(agreement_id: str, year: int, commitment_id: str) -> str:
    return f"fu_status_{agreement_id}_{year}_{commitment_id}"


def note_key(agreement_id: str, year: int, commitment_id: str) -> str:
    return f"fu_note_{agreement_id}_{year}_{commitment_id}"


def save(agreement_id: str, year: int, commitment_id: str) -> None:
    """Store this commitment's status and note as given.

    Everything comes from the arguments, not the page's current choice: a save left
    over from the previous run belongs to the agreement and year drawn then.
    """
    status = st.session_state.get(status_key(agreement_id, year, commitment_id))
    note = st.session_state.get(note_key(agreement_id, year, commitment_id), "")
    if status is None or agreement_id not in agreements:
        return
    try:
        set_followup(engine, actor, agreements[agreement_id], commitment_id, year, status, note or "")
        st.session_state["fu_saved"] = commitment_id
        autosave.mark_saved(status_key(agreement_id, year, commitment_id),
                            note_key(agreement_id, year, commitment_id))
    except ValueError as exc:
        st.session_state["fu_error"] = str(exc)
    except Refused as exc:
        st.session_state["fu_error"] = t(exc.key, L)


autosave.save_unsaved(save)  # before anything is read, so the page shows it saved

ids = sorted(agreements, key=lambda i: agreements[i].title(L))
if st.session_state.get("fu_agreement") not in ids:
    st.session_state["fu_agreement"] = ids[0]
c1, c2 = st.columns([3, 1])
agreement_id = c1.selectbox(t("reg.followup.agreement", L), ids, key="fu_agreement",
                            format_func=lambda i: f"{agreements[i].title(L)} ({agreements[i].unit})")
agreement = agreements[agreement_id]
recorded_years = fs.followup_years(engine, agreement.id)
year = c2.number_input(t("reg.followup.year", L), min_value=1900, max_value=2200, step=1,
                       value=recorded_years[-1] if recorded_years else date.today().year, key="fu_year")
year = int(year)

now = fs.statuses(engine, agreement.id, year)
earlier = [y for y in recorded_years if y < year]
previous_year = earlier[-1] if earlier else None
before = fs.statuses(engine, agreement.id, previous_year) if previous_year else {}


record, overview = st.tabs([t("reg.followup.tab_record", L), t("reg.followup.tab_progress", L)])

# --- recording ---------------------------------------------------------------------------------

with record:
    if error := st.session_state.pop("fu_error", None):
        st.error(t("reg.followup.save_error", L, reason=error))
    st.caption(t("reg.followup.recorded", L, done=len(now), total=len(agreement.commitments), year=year))
    for party in agreement.parties:
        commitments = agreement.commitments_for(party.id)
        if not commitments:
            continue
        st.subheader(party.name(L))
        for commitment in commitments:
            current = now.get(commitment.id)
            with st.container(border=True):
                st.markdown(commitment.text(L))
                st.caption(t("reg.followup.principles", L) + ": " +
                           ", ".join(fw.principle_by_id[p].name(L) for p in commitment.principles))
                left, right = st.columns([3, 2])
                saved_as = (agreement.id, year, commitment.id)
                status = current.status if current else None
                left.radio(t("reg.followup.status", L), fs.STATUSES, horizontal=True,
                           index=fs.STATUSES.index(status) if status else None, format_func=status_label,
                           label_visibility="collapsed",
                           **autosave.widget(status_key(*saved_as), status, save, *saved_as))
                # A note needs a status to belong to: disabled until one is chosen.
                note = current.note if current else ""
                right.text_input(t("reg.followup.note", L), value=note,
                                 **autosave.widget(note_key(*saved_as), note, save, *saved_as),
                                 disabled=current is None, label_visibility="collapsed",
                                 placeholder=t("reg.followup.note_hint" if current is None
                                               else "reg.followup.note", L))

# --- progress ----------------------------------------------------------------------------------

def names(group: str) -> str:
    if group == "all":
        return t("reg.report.all_commitments", L)
    if group in fw.principle_by_id:
        return fw.principle_by_id[group].name(L)
    return agreement.party_name(group, L)


def progress_table(items: list[fs.Progress]) -> pd.DataFrame:
    return pd.DataFrame([{
        "": names(p.group),
        status_label("done"): p.counts.get("done", 0),
        status_label("under_way"): p.counts.get("under_way", 0),
        status_label("not_started"): p.counts.get("not_started", 0) + p.counts.get(fs.UNRECORDED, 0),
        status_label("not_applicable"): p.counts.get("not_applicable", 0),
        t("reg.col.progress", L): p.score,
    } for p in items])


with overview:
    overall = fs.progress_overall(agreement, now)
    by_party = fs.progress_by_party(agreement, now)
    by_principle = fs.progress_by_principle(fw, agreement, now)
    cols = st.columns(1 + len(by_party))
    change = fs.year_change(fw, agreement, before, now) if previous_year else []
    overall_delta = change[0].delta if change else None
    cols[0].metric(t("reg.report.all_commitments", L), "–" if overall.score is None else f"{overall.score:.0f}",
                   delta=None if overall_delta is None else f"{overall_delta:+.1f}")
    for col, p in zip(cols[1:], by_party):
        party_change = fs.year_change(fw, agreement, before, now, party=p.group)[0].delta if previous_year else None
        col.metric(names(p.group), "–" if p.score is None else f"{p.score:.0f}",
                   delta=None if party_change is None else f"{party_change:+.1f}")
    st.caption(t("reg.followup.score_note", L))

    st.subheader(t("reg.followup.by_party", L))
    st.altair_chart(progress_bars(by_party, names, L), width="stretch")
    st.dataframe(progress_table([overall, *by_party]), hide_index=True)
    st.subheader(t("reg.followup.by_principle", L))
    st.altair_chart(progress_bars(by_principle, names, L), width="stretch")
    st.dataframe(progress_table(by_principle), hide_index=True)

    st.subheader(t("reg.followup.change", L))
    if previous_year is None:
        st.info(t("reg.followup.no_previous", L, year=year))
    else:
        text_of = {c.id: c.text(L) for c in agreement.commitments}
        st.caption(t("reg.followup.change_note", L, previous=previous_year, year=year))
        st.dataframe(pd.DataFrame([{
            "": names(c.group), str(previous_year): c.score_before, str(year): c.score_after,
            t("reg.col.change", L): c.delta, t("reg.col.newly_done", L): len(c.newly_done),
            t("reg.col.regressed", L): len(c.regressed),
        } for c in change]), hide_index=True)
        total = change[0]
        if total.newly_done:
            st.markdown(f"**{t('reg.followup.newly_done', L)}**\n\n" +
                        "\n".join(f"- {text_of[i]}" for i in total.newly_done))
        if total.regressed:
            st.markdown(f"**{t('reg.followup.regressed', L)}**\n\n" +
                        "\n".join(f"- {text_of[i]}" for i in total.regressed))
