"""Who a signed-in person is here: e-mail addresses and groups mapped to roles.

With sign-in configured (an ``[auth]`` section in ``.streamlit/secrets.toml``), the identity
provider says who someone is; the access file says what they may do::

    administrators:            # the region or network running the server
      - anna.admin@region.se
      - group: region-admins   # a value of the identity's `groups` claim
    coordinators:              # unit name -> who coordinates it
      Exempelstad (fiktiv):
        - samverkan@exempelstad.se
        - group: exempelstad-samverkan

E-mail addresses compare without regard to case. Anyone signed in but not named here is
treated like an anonymous visitor. The file is ``access.yaml`` beside the app, or the
path in ``ASSESSMENT_ACCESS``; a mistake is reported with file, line and field.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ..framework.yamlsource import parse_model, read_yaml

ACCESS_FILE_ENV = "ASSESSMENT_ACCESS"
DEFAULT_ACCESS_FILE = Path(__file__).resolve().parents[2] / "access.yaml"


class _Group(BaseModel):
    model_config = ConfigDict(extra="forbid")
    group: str = Field(min_length=1)


class _AccessFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    administrators: list[str | _Group] = Field(default_factory=list)
    coordinators: dict[str, list[str | _Group]] = Field(default_factory=dict)

    @field_validator("administrators")
    @classmethod
    def _emails(cls, values):
        for value in values:
            if isinstance(value, str) and "@" not in value:
                raise ValueError(f"{value!r} is not an e-mail address (for a group write `group: {value}`)")
        return values


@dataclass(frozen=True)
class Who:
    """Everyone a list names: e-mail addresses (lower case) and groups."""

    emails: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()

    @classmethod
    def of(cls, entries: Iterable[str | _Group]) -> Who:
        entries = list(entries)
        return cls(frozenset(e.strip().lower() for e in entries if isinstance(e, str)),
                   frozenset(e.group for e in entries if isinstance(e, _Group)))

    def includes(self, email: str | None, groups: Iterable[str]) -> bool:
        return bool(email and email.strip().lower() in self.emails) or bool(self.groups & set(groups))


@dataclass(frozen=True)
class AccessMap:
    administrators: Who = Who()
    coordinators: tuple[tuple[str, Who], ...] = ()  # (unit name, who)

    def roles_for(self, email: str | None, groups: Iterable[str] = ()) -> tuple[bool, frozenset[str]]:
        """(administrator?, the units coordinated) of a signed-in identity."""
        groups = list(groups)
        units = frozenset(unit for unit, who in self.coordinators if who.includes(email, groups))
        return self.administrators.includes(email, groups), units


def access_file() -> Path:
    return Path(os.environ.get(ACCESS_FILE_ENV) or DEFAULT_ACCESS_FILE)


def load_access_map(path: str | Path | None = None) -> AccessMap:
    """The access file's mapping; an empty one when the file does not exist.

    SourceError naming file, line and field when it is wrong.
    """
    path = Path(path) if path is not None else access_file()
    if not path.exists():
        return AccessMap()
    data, lines = read_yaml(path)
    parsed = parse_model(_AccessFile, data or {}, lines)
    return AccessMap(Who.of(parsed.administrators),
                     tuple((unit.strip(), Who.of(who)) for unit, who in parsed.coordinators.items()))


def groups_of(claims: dict) -> list[str]:
    """The identity's groups: the `groups` claim as a list, or one group as text."""
    value = claims.get("groups") or []
    return [value] if isinstance(value, str) else [str(group) for group in value]
