"""The web layer beside the Streamlit pages: the phones' light page and JSON API, and the
middleware that keeps the facilitator's secret out of the address bar (served by serve.py)."""
