"""Scores, levels reached, advice and the gap between the sides: pure functions of the framework and responses."""
