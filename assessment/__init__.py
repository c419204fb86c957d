"""Assess cooperation between public bodies and civil society.

The functional core: framework models, scoring, storage, workshops, comparison,
import/export, charts. Never imports streamlit; the UI lives in app.py and views/.
"""

__version__ = "0.1.0"
