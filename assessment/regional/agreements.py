"""Local agreements between a public body and civil society, as hand-edited YAML.

An agreement (like Örebro's 2009 one) lists commitments of each party, each tied
to principles of the national agreement. Files are checked like matrix.yaml:
pydantic for the shape, then cross-references (party, principle ids, duplicate
ids) so every error points at its own line.
"""

from __future__ import annotations

from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field

from ..framework.matrix import ID_PATTERN, Framework, Strict, Text
from ..framework.yamlsource import (LineMap, Problem, SourceError, decode_text, duplicate_ids, load_yaml,
                                    parse_model, read_yaml)

AGREEMENTS_DIR = Path(__file__).resolve().parents[2] / "agreements"
Party = Literal["public", "civil_society"]
PARTIES: tuple[str, ...] = ("public", "civil_society")


class PartyInfo(Strict):
    id: Party
    name: Text


class Commitment(Strict):
    id: str = Field(pattern=ID_PATTERN)
    party: Party
    text: Text
    principles: list[str] = Field(min_length=1)


class Agreement(Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, ignored_types=(cached_property,))

    id: str = Field(pattern=ID_PATTERN)
    title: Text
    unit: str = Field(min_length=1)
    adopted: date
    parties: list[PartyInfo] = Field(min_length=1)
    commitments: list[Commitment] = Field(min_length=1)

    @cached_property
    def commitment_by_id(self) -> dict[str, Commitment]:
        return {c.id: c for c in self.commitments}

    def commitments_for(self, party: str | None = None, principle: str | None = None) -> list[Commitment]:
        return [c for c in self.commitments
                if (party is None or c.party == party) and (principle is None or principle in c.principles)]

    def party_name(self, party_id: str, lang: str) -> str:
        for party in self.parties:
            if party.id == party_id:
                return party.name(lang)
        return party_id

    def to_data(self) -> dict[str, Any]:
        """Plain JSON-ready data that ``agreement_from_data`` reads back unchanged."""
        return self.model_dump(mode="json")


def _check_references(agreement: Agreement, fw: Framework, lines: LineMap) -> list[Problem]:
    problems: list[Problem] = []
    party_ids: dict[str, int] = {}
    for i, party in enumerate(agreement.parties):
        if party.id in party_ids:
            problems.append(lines.problem(("parties", i, "id"),
                                          f"duplicate party '{party.id}' (already given as parties[{party_ids[party.id]}])"))
        party_ids.setdefault(party.id, i)
    known = ", ".join(p.id for p in fw.principles)
    duplicates = duplicate_ids(agreement.commitments, ("commitments",), "commitment", lines)
    for ci, commitment in enumerate(agreement.commitments):
        if ci in duplicates:
            problems.append(duplicates[ci])
        if commitment.party not in party_ids:
            problems.append(lines.problem(
                ("commitments", ci, "party"),
                f"party '{commitment.party}' is not listed under parties ({', '.join(party_ids)})"))
        for pi, principle in enumerate(commitment.principles):
            if principle not in fw.principle_by_id:
                problems.append(lines.problem(("commitments", ci, "principles", pi),
                                              f"unknown principle '{principle}' (principles are: {known})"))
        if len(set(commitment.principles)) != len(commitment.principles):
            problems.append(lines.problem(("commitments", ci, "principles"), "a principle is listed twice"))
    return problems


def agreement_from_data(data: Any, fw: Framework, source: str = "agreement",
                        lines: LineMap | None = None) -> Agreement:
    """Validate plain data as an agreement; raises SourceError listing every problem."""
    lines = lines or LineMap(source)
    if not isinstance(data, dict):
        raise SourceError([lines.problem((), "an agreement must be a mapping with id, title, unit, "
                                             "adopted, parties and commitments")])
    agreement = parse_model(Agreement, data, lines)
    problems = _check_references(agreement, fw, lines)
    if problems:
        raise SourceError(problems)
    return agreement


def parse_agreement(text: str | bytes, source: str, fw: Framework) -> Agreement:
    """An agreement from YAML text, or the bytes of an upload (checked for size and UTF-8 first)."""
    data, lines = load_yaml(decode_text(text, source) if isinstance(text, bytes) else text, source)
    return agreement_from_data(data, fw, source, lines)


def load_agreement(path: str | Path, fw: Framework) -> Agreement:
    data, lines = read_yaml(path)
    return agreement_from_data(data, fw, lines.source, lines)


def shipped_agreements(fw: Framework, directory: Path = AGREEMENTS_DIR) -> list[Agreement]:
    """Every agreement file shipped in agreements/, sorted by id."""
    return sorted((load_agreement(p, fw) for p in sorted(directory.glob("*.yaml"))), key=lambda a: a.id)
