"""A live workshop's results: tallies per card and side, the matrix round's distribution,
and exports as CSV or JSON. Aggregates only: never a token, a secret or a single vote."""

from __future__ import annotations

import csv
import io
import json

from ..scoring.levels import StepLevel
from .errors import Refused
from .repository import WorkshopRepository
from .tallies import GROUPS, Tally, summary_order, tallies_to_rows


class WorkshopResults(WorkshopRepository):
    """Read models of one workshop, by its join code."""

    def tally(self, code: str, card_id: str) -> Tally:
        with self._read() as conn:
            row = self._workshop_row(conn, code)
            if self._info(row).deck.card(card_id) is None:
                raise Refused("workshop.error.unknown_card", "the statement {card} is not part of the workshop",
                              card=card_id)
            return self._tally(conn, row["id"], card_id)

    def summary(self, code: str, order: str = "deck") -> list[Tally]:
        """A tally for every card of the deck (cards nobody voted on included)."""
        with self._read() as conn:
            return summary_order(self._summary(conn, self._workshop_row(conn, code)), order)

    def participant_counts(self, code: str) -> dict[str, int]:
        with self._read() as conn:
            return self._participant_counts(conn, self._workshop_row(conn, code)["id"])

    def matrix_distribution(self, code: str) -> dict[str, list[StepLevel]]:
        """Per group ('overall', 'public', 'civil_society') the StepLevels for charts.level_heatmap."""
        with self._read() as conn:
            row = self._workshop_row(conn, code)
            return self._matrix(conn, row["id"], self._info(row))

    def export_json(self, code: str, lang: str | None = None) -> str:
        """Aggregated results as JSON: counts per card and side, matrix distribution; no tokens."""
        with self._read() as conn:
            row = self._workshop_row(conn, code)
            info = self._info(row)
            tallies = self._summary(conn, row)
            participants = self._participant_counts(conn, row["id"])
            matrix = self._matrix(conn, row["id"], info)
        lang = lang or info.lang
        cards = []
        for position, tally in enumerate(tallies, start=1):
            card = info.deck.card(tally.card_id)
            cards.append({"position": position, "card_id": tally.card_id,
                          "text": card.text.model_dump(), "gap": tally.gap,
                          **{group: tally.side(group).as_dict() for group in GROUPS}})
        data = {
            "format": "assessment-workshop-results/1",
            "workshop": {"code": info.code, "name": info.name, "unit": info.unit,
                         "date": info.date.isoformat(), "lang": lang, "deck_id": info.deck.id,
                         "deck_title": info.deck.title(lang), "phase": info.phase},
            "participants": {**participants, "overall": sum(participants.values())},
            "cards": cards,
            "matrix": {group: {level.step_id: {"level": level.level_id, "answered": level.answered,
                                               "distribution": level.distribution}
                               for level in levels}
                       for group, levels in matrix.items()} if info.steps else {},
        }
        return json.dumps(data, ensure_ascii=False, indent=2)

    def export_csv(self, code: str, lang: str | None = None) -> bytes:
        """Counts per card and side as CSV, UTF-8 with BOM so spreadsheet programs read å, ä, ö."""
        with self._read() as conn:
            row = self._workshop_row(conn, code)
            info = self._info(row)
            tallies = self._summary(conn, row)
        rows = tallies_to_rows(info.deck, tallies, lang or info.lang)
        out = io.StringIO()
        columns = ["position", "card_id", "text", "side", "agree", "disagree", "pass", "total", "agree_share"]
        writer_ = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n")
        writer_.writeheader()
        for item in rows:
            writer_.writerow({**item, "agree_share": "" if item["agree_share"] is None else item["agree_share"]})
        return ("\ufeff" + out.getvalue()).encode("utf-8")
