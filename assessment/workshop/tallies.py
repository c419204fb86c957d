"""Live workshop arithmetic: vote counts per side, shares, orderings, matrix levels.

Pure functions shared by the workshop's repositories (which feed them grouped counts
from SQL) and the pages. A card's "agree share" leaves passes out, as green and red
cards do in a room: it is the share of green among those who showed a colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median_low
from typing import Iterable, Sequence

from ..framework.responses import NO_LEVEL
from ..scoring.levels import StepLevel
from .decks import Deck

VOTE_VALUES = ("agree", "disagree", "pass")
SIDES = ("public", "civil_society")
GROUPS = ("overall",) + SIDES
ROLES: dict[str, tuple[str, ...]] = {
    "public": ("politician", "official"),
    "civil_society": ("association", "organisation", "volunteer"),
}
PHASES = ("statements", "matrix", "ended")
CARD_STATES = ("new", "open", "closed")
ORDERS = ("deck", "agreement", "division", "gap")


def _percent(part: int, whole: int) -> float | None:
    return round(part / whole * 100, 1) if whole else None


@dataclass(frozen=True)
class Counts:
    agree: int = 0
    disagree: int = 0
    passed: int = 0  # votes 'pass' ('pass' is a Python keyword)

    @property
    def total(self) -> int:
        return self.agree + self.disagree + self.passed

    def get(self, value: str) -> int:
        if value not in VOTE_VALUES:
            raise ValueError(f"unknown vote value {value!r}")
        return self.passed if value == "pass" else getattr(self, value)

    def share(self, value: str) -> float | None:
        """Percent of all votes (passes included) that were value."""
        return _percent(self.get(value), self.total)

    @property
    def agree_share(self) -> float | None:
        """Percent agree among agree + disagree; None when nobody took a stand."""
        return _percent(self.agree, self.agree + self.disagree)

    def __add__(self, other: "Counts") -> "Counts":
        return Counts(self.agree + other.agree, self.disagree + other.disagree, self.passed + other.passed)

    def as_dict(self) -> dict[str, int | float | None]:
        return {"agree": self.agree, "disagree": self.disagree, "pass": self.passed,
                "total": self.total, "agree_share": self.agree_share}


@dataclass(frozen=True)
class Tally:
    card_id: str
    overall: Counts
    public: Counts
    civil_society: Counts

    def side(self, group: str) -> Counts:
        if group not in GROUPS:
            raise ValueError(f"unknown group {group!r} (use one of {', '.join(GROUPS)})")
        return getattr(self, group)

    @property
    def gap(self) -> float | None:
        """Public agree share minus civil society's; None unless both sides took a stand."""
        public, civil = self.public.agree_share, self.civil_society.agree_share
        return round(public - civil, 1) if public is not None and civil is not None else None


def _counts(values: dict[str, int]) -> Counts:
    return Counts(values.get("agree", 0), values.get("disagree", 0), values.get("pass", 0))


def tally_votes(card_id: str, rows: Iterable[tuple[str, str, int]]) -> Tally:
    """A card's tally from (side, value, count) rows, e.g. a GROUP BY result.

    Rows may repeat a (side, value) pair (their counts add up); 'overall' sums both sides.
    """
    per_side: dict[str, dict[str, int]] = {side: {} for side in SIDES}
    for side, value, count in rows:
        if side not in per_side:
            raise ValueError(f"unknown side {side!r}")
        if value not in VOTE_VALUES:
            raise ValueError(f"unknown vote value {value!r}")
        per_side[side][value] = per_side[side].get(value, 0) + int(count)
    public, civil = _counts(per_side["public"]), _counts(per_side["civil_society"])
    return Tally(card_id, public + civil, public, civil)


def empty_tally(card_id: str) -> Tally:
    return tally_votes(card_id, ())


def summary_order(tallies: Sequence[Tally], by: str = "deck") -> list[Tally]:
    """Cards in an order for discussion; cards without the needed votes go last.

    deck: as given; agreement: most agreed first; division: closest to a 50/50
    split first; gap: largest difference between the sides first.
    """
    if by == "deck":
        return list(tallies)
    if by == "agreement":
        key = lambda t: (t.overall.agree_share is None, -(t.overall.agree_share or 0))
    elif by == "division":
        key = lambda t: (t.overall.agree_share is None, abs((t.overall.agree_share or 0) - 50))
    elif by == "gap":
        key = lambda t: (t.gap is None, -abs(t.gap or 0))
    else:
        raise ValueError(f"unknown order {by!r} (use one of {', '.join(ORDERS)})")
    return sorted(tallies, key=key)  # stable: ties keep deck order


def matrix_levels(steps: Sequence[str], levels: Sequence[str],
                  placements: Iterable[tuple[str, str, int]]) -> list[StepLevel]:
    """Per step, the group's level like scoring.step_levels: the median placement
    (rounded down) with the full distribution, from (step, level, count) rows."""
    order = [NO_LEVEL, *levels]
    counts: dict[str, dict[str, int]] = {step: {} for step in steps}
    for step, level, count in placements:
        if step in counts and level in order:
            counts[step][level] = counts[step].get(level, 0) + int(count)
    out = []
    for step in steps:
        distribution = counts[step]
        ranks = [order.index(level) for level, n in distribution.items() for _ in range(n)]
        level = order[median_low(ranks)] if ranks else NO_LEVEL
        out.append(StepLevel(step, level, sum(distribution.values()), dict(distribution), {}))
    return out


def tallies_to_rows(deck: Deck, tallies: Sequence[Tally], lang: str) -> list[dict[str, object]]:
    """Flat rows (one per card and group) for CSV export and tables."""
    rows = []
    for position, tally in enumerate(tallies, start=1):
        card = deck.card(tally.card_id)
        for group in GROUPS:
            counts = tally.side(group)
            rows.append({"position": position, "card_id": tally.card_id,
                         "text": card.text(lang) if card else "", "side": group,
                         **counts.as_dict()})
    return rows
