"""Streamlit pages. Each page only reads state, calls assessment/ and draws."""
