"""Placeholder page, to be built."""

import streamlit as st

st.info("workshop_facilitate: under construction")
