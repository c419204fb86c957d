"""The old phone address (/join): a pointer to the light phone page (/phone, web/static/phone.html).

Phones vote on a plain HTML page with a small JSON API, not in a Streamlit session each: a
room of 213 phones would otherwise cost one script run per phone per poll. Links and QR
codes printed before the change still lead here, so the code they carry is passed on.
"""

from __future__ import annotations

import streamlit as st

from assessment.i18n import t
from assessment.workshop.repository import normalize_code
from assessment.workshop.views_support import join_url
from views.common import lang
from views.workshop_common import base_url

L = lang()
code = normalize_code(st.query_params.get("code", ""))

st.title(t("ws.join.title", L))
st.markdown(t("phone.page.pointer", L))
st.link_button(t("phone.page.open_phone", L), join_url(base_url(), code, L), type="primary", icon="📱",
               width="stretch")
