"""Streamlit entry point: shared chrome (language switch) and the page list.

Pages live in views/; they read state, call the core in assessment/ and draw.
"""

import streamlit as st

from views.common import language_switch, page_title

st.set_page_config(page_title="Samverkansanalys", page_icon="🤝", layout="wide")
lang = language_switch()

pages = {
    page_title("nav.section.assess", lang): [
        st.Page("views/home.py", title=page_title("nav.home", lang), icon="🏠", url_path="home", default=True),
        st.Page("views/questionnaire.py", title=page_title("nav.questionnaire", lang), icon="📝", url_path="questionnaire"),
        st.Page("views/results.py", title=page_title("nav.results", lang), icon="📊", url_path="results"),
    ],
    page_title("nav.section.workshop", lang): [
        st.Page("views/workshop_facilitate.py", title=page_title("nav.facilitate", lang), icon="🎤", url_path="facilitate"),
        st.Page("views/workshop_join.py", title=page_title("nav.join", lang), icon="📱", url_path="join"),
    ],
    page_title("nav.section.region", lang): [
        st.Page("views/compare.py", title=page_title("nav.compare", lang), icon="🗺️", url_path="compare"),
        st.Page("views/followup.py", title=page_title("nav.followup", lang), icon="✅", url_path="followup"),
        st.Page("views/data.py", title=page_title("nav.data", lang), icon="💾", url_path="data"),
    ],
}
st.navigation(pages).run()
