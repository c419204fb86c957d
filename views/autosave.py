"""Widgets that save on change, with a guard for the changes whose callback never ran.

Streamlit drops some on_change callbacks when a user changes widgets faster than the
reruns complete (streamlit#8365, #10102): the widget shows the new value, but its save
never ran. A page therefore draws each saving widget through `Autosave.widget`, which
remembers the value last known to be stored for it and the save its callback runs;
`Autosave.save_unsaved`, called at the start of every run, runs that save for each
widget whose value differs from it.
"""

from __future__ import annotations

from typing import Any, Callable

import streamlit as st

MISSING = object()


class Autosave:
    """The saving widgets of one page (or one response on a page), kept in the session.

    Saves are remembered by function name and arguments, not as functions: a function
    belongs to the run that defined it, and each run defines its own.
    """

    def __init__(self, scope: str) -> None:
        # The same dicts in every run, so a save run by a Streamlit callback (a function of
        # the previous run) marks what it saved where this run looks.
        self._synced: dict[str, Any] = st.session_state.setdefault(f"{scope}synced", {})
        self._saves: dict[str, tuple[str, tuple]] = st.session_state.setdefault(f"{scope}saves", {})

    def widget(self, key: str, stored: Any, save: Callable[..., None], *args: Any,
               seed: bool = False) -> dict[str, Any]:
        """Widget keyword arguments (key, on_change, args) for a widget saved by ``save(*args)``.

        ``stored`` is the widget's value in the database. A widget without a value yet (first
        drawn, or drawn again after being away) shows that value: with ``seed`` it is set
        here, otherwise the caller passes it as the widget's default.
        """
        # .get, not "in": Streamlit answers "in" by building the whole filtered state.
        if st.session_state.get(key, MISSING) is MISSING:
            if seed and stored is not None:
                st.session_state[key] = stored
            self._synced[key] = stored
        self._saves[key] = (save.__name__, args)
        return {"key": key, "on_change": save, "args": args}

    def mark_saved(self, *keys: str) -> None:
        """Record the widgets' current values as stored (call after a save succeeded)."""
        for key in keys:
            value = st.session_state.get(key, MISSING)
            if value is not MISSING:
                self._synced[key] = value

    def save_unsaved(self, *saves: Callable[..., None]) -> None:
        """Run the save of every widget whose value was not saved, once per save and arguments.

        ``saves`` are this run's versions of the functions the widgets were drawn with.
        """
        pending: list[tuple[str, tuple]] = []
        for key, route in list(self._saves.items()):
            value = st.session_state.get(key, MISSING)
            if value is MISSING:  # not drawn last run: Streamlit dropped it; drawn again, it starts afresh
                del self._saves[key]
                self._synced.pop(key, None)
            elif value != self._synced.get(key) and route not in pending:
                pending.append(route)
        if not pending:
            return
        by_name = {save.__name__: save for save in saves}
        for name, args in pending:
            by_name[name](*args)
