"""Streamlit entry point: shared chrome (language switch, who you are) and the page list.

Pages live in views/ and are listed, each with the action it needs, in views/registry.py;
navigation offers a page only to whom its action is allowed and refuses it otherwise,
before the page reads anything. Pages read state, call the core in assessment/ and draw.
"""

import streamlit as st

from assessment.access.permissions import allowed
from views.access import actor_for_this_run, end_of_run, identity_panel, require
from views.common import language_switch, page_title
from views.registry import PAGES

st.set_page_config(page_title="Samverkansanalys", page_icon="🤝", layout="wide")
lang = language_switch()
actor = actor_for_this_run()
identity_panel(actor)

sections: dict[str, list] = {}
action_of = {}
for entry in PAGES:
    page = st.Page(entry.script, title=page_title(entry.title_key, lang), icon=entry.icon,
                   url_path=entry.url_path, default=entry.default,
                   visibility="visible" if allowed(actor, entry.action) else "hidden")
    action_of[page.url_path] = entry.action
    sections.setdefault(page_title(entry.section_key, lang), []).append(page)
chosen = st.navigation(sections)
try:
    require(actor, action_of[chosen.url_path])
    chosen.run()
finally:  # the next run (a callback first) works out the actor again
    end_of_run()
