"""The administrator of the deployment: coordinators, the named comparison, sign-in, the audit log.

Coordinator links for a whole unit (or one assessment) are made here and shown once;
active ones can be revoked. Signed-in coordinators and administrators come from the
access file (shown here as read). The audit log lists the writes that changed other
people's data, newest first.
"""

from __future__ import annotations

import csv
import io

import pandas as pd
import streamlit as st

from assessment.access import links
from assessment.store import audit
from assessment.store.assessments import Assessments
from assessment.access.signin import access_file
from assessment.i18n import markdown_literal, t
from views.access import access_map, auth_configured, current_actor
from views.common import app_url, lang, lang_params, repository

L = lang()
assessments = repository(Assessments)
actor = current_actor()  # navigation has checked ADMINISTER; every write below names this actor
AUDIT_SHOWN = 500

st.title(t("admin.title", L))

# --- the named comparison -------------------------------------------------------------------------

st.subheader(t("admin.named.title", L))
published = bool(links.setting(assessments, links.NAMED_COMPARISON, False))
if st.toggle(t("admin.named.toggle", L), value=published, key="admin_named",
             help=t("admin.named.help", L)) != published:
    links.set_setting(assessments, links.NAMED_COMPARISON, not published, actor.who)
    st.rerun()

# --- coordinators ---------------------------------------------------------------------------------

st.subheader(t("admin.coordinators", L))
st.caption(t("admin.coordinators.help", L))
units = [unit.name for unit in assessments.list_units()]
if units:
    left, right = st.columns([3, 1])
    unit = left.selectbox(t("admin.unit", L), units, key="admin_unit")
    if right.button(t("admin.new_unit_link", L), key="admin_make_unit_link"):
        token = links.create_link(assessments, links.COORDINATOR_LINK, actor.who, unit=unit, replace=True)
        st.session_state["admin_new_link"] = (unit, token)
    fresh = st.session_state.get("admin_new_link")
    if fresh:
        st.markdown(t("admin.new_link_for", L, unit=markdown_literal(fresh[0])))
        st.code(app_url("home", c=fresh[1], **lang_params()), language=None)
        st.caption(t("coord.shown_once", L))
active = [link for link in links.links_of(assessments, kind=links.COORDINATOR_LINK) if link.active and link.unit]
if active:
    st.dataframe(pd.DataFrame([{t("admin.unit", L): link.unit, t("coord.col.made", L): f"{link.created_at:%Y-%m-%d %H:%M}",
                                t("coord.col.by", L): link.created_by} for link in active]), hide_index=True)
    left, right = st.columns([3, 1])
    chosen = left.selectbox(t("coord.revoke_which", L), [link.id for link in active], key="admin_revoke_choice",
                            format_func=lambda i: next(f"{k.unit}, {k.created_at:%Y-%m-%d %H:%M}"
                                                       for k in active if k.id == i))
    if right.button(t("coord.revoke", L), key="admin_revoke"):
        links.revoke(assessments, chosen, actor.who)
        st.rerun()
st.caption(t("admin.assessment_links", L))

# --- sign-in ----------------------------------------------------------------------------------------

st.subheader(t("admin.signin", L))
if auth_configured():
    mapping = access_map()
    st.markdown(t("admin.signin.on", L, file=access_file().name))
    rows = [{t("admin.who", L): who, t("admin.role", L): t("access.role.administrator", L)}
            for who in sorted(mapping.administrators.emails) + [f"group: {g}" for g in sorted(mapping.administrators.groups)]]
    rows += [{t("admin.who", L): who, t("admin.role", L): f"{t('access.role.coordinator', L)}: {unit}"}
             for unit, members in mapping.coordinators
             for who in sorted(members.emails) + [f"group: {g}" for g in sorted(members.groups)]]
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
else:
    st.markdown(t("admin.signin.off", L))

# --- audit log ----------------------------------------------------------------------------------------

st.subheader(t("admin.audit", L))
entries = audit.entries(assessments)
if not entries:
    st.info(t("admin.audit.empty", L))
else:
    st.caption(t("admin.audit.help", L, shown=min(len(entries), AUDIT_SHOWN), total=len(entries)))
    st.dataframe(pd.DataFrame([{t("admin.audit.at", L): f"{e.at:%Y-%m-%d %H:%M:%S}", t("admin.audit.actor", L): e.actor,
                                t("admin.audit.action", L): e.action, t("admin.audit.target", L): e.target,
                                t("admin.audit.detail", L): e.detail} for e in entries[:AUDIT_SHOWN]]),
                 hide_index=True, width="stretch")
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["at", "actor", "action", "target", "detail"], lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(entry.to_data() for entry in entries)
    st.download_button(t("admin.audit.download", L), ("\ufeff" + out.getvalue()).encode("utf-8"),
                       file_name="audit_log.csv", mime="text/csv", key="admin_audit_csv")
