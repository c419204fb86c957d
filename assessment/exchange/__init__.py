"""Data files: export to JSON or CSV, and imports checked whole before anything is written."""
