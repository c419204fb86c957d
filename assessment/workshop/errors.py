"""Refusals of the live workshop, each with a message for people.

Pages show ``t(err.key, lang, **err.values)`` from ``strings/workshop.yaml``; ``str(err)``
is the English sentence (for logs and the command line).
"""

from __future__ import annotations

from typing import Any


class WorkshopError(Exception):
    """A refusal with a message for people: ``t(err.key, lang, **err.values)``."""

    key = "workshop.error.bad_field"
    english = "invalid input"

    def __init__(self, key: str | None = None, english: str | None = None, **values: Any):
        self.key = key or self.key
        self.values = values
        super().__init__((english or self.english).format(**values))


class Forbidden(WorkshopError):
    key = "workshop.error.forbidden"
    english = "wrong or missing facilitator secret"


class UnknownWorkshop(WorkshopError):
    key = "workshop.error.unknown_code"
    english = "there is no workshop with the code {code}"


class UnknownParticipant(WorkshopError):
    key = "workshop.error.unknown_participant"
    english = "unknown participant token; join again"


class Refused(WorkshopError):
    """The workshop's state does not allow this now (card closed, workshop ended...)."""


VoteRefused = Refused


class InvalidInput(WorkshopError):
    pass


def ended() -> Refused:
    return Refused("workshop.error.ended", "the workshop has ended")
