"""Placeholder page, to be built."""

import streamlit as st

st.info("workshop_join: under construction")
