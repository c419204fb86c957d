"""Assess cooperation between public bodies and civil society.

The functional core, one package per area: framework, scoring, store, workshop,
regional, exchange, charts, report, cli (docs/architecture.md draws the layers).
Never imports streamlit; the UI lives in app.py and views/.
"""

__version__ = "0.1.0"
