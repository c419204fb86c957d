"""Placeholder page, to be built."""

import streamlit as st

st.info("data: under construction")
