"""Placeholder page, to be built."""

import streamlit as st

st.info("results: under construction")
