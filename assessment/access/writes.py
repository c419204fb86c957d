"""Writes made on someone's behalf: the permission is asked first, the change is logged.

The pages call these rather than the stores directly, so the rule and the audit entry
cannot be forgotten on a page: starting an assessment (which makes its coordinator and
invite links), imports, agreement uploads and follow-up edits. A refusal is
:class:`Refused` with an interface text key, raised before anything is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..exchange.importer import import_bytes
from ..exchange.records import ImportSummary
from ..framework.matrix import Framework
from ..regional import followup as fs
from ..regional.agreements import Agreement, parse_agreement
from ..store import audit
from ..store.answers import Answers
from ..store.assessments import AssessmentInfo, Assessments
from . import links
from . import permissions as p
from .permissions import Actor, Resource, allowed


class Refused(Exception):
    """Not allowed; `key` names the interface text that says why (values fill it in)."""

    def __init__(self, key: str, **values: Any):
        super().__init__(key)
        self.key = key
        self.values = values


def check(actor: Actor, action: str, resource: Resource | None = None) -> None:
    if not allowed(actor, action, resource):
        raise Refused(f"access.refused.{action}")


@dataclass(frozen=True)
class Started:
    assessment: AssessmentInfo
    response_token: str  # the starter's personal link
    coordinator_token: str | None  # None when joining an existing assessment
    invite_token: str | None
    joined_existing: bool


def start_assessment(assessments: Assessments, answers: Answers, actor: Actor, unit: str, year: int, case: str | None, kind: str,
                     extensions: Iterable[str], side: str, role: str) -> Started:
    """A new assessment whose coordinator the starter becomes, with a response of their own.

    An existing assessment (same unit, year and case) is joined only by its coordinator;
    a unit that already has assessments here takes new ones only from its coordinators.
    Anyone else is refused, without being told more than that.
    """
    check(actor, p.START_ASSESSMENT)
    existing = assessments.find_assessment(unit, year, case)
    if existing is not None:
        if not allowed(actor, p.COORDINATE, Resource.of_assessment(existing)):
            raise Refused("home.error.exists")
        return Started(existing, answers.start_response(existing.token, side, role), None, None, True)
    if any(u.name == unit.strip() for u in assessments.list_units()) and \
            not allowed(actor, p.COORDINATE, Resource(unit=unit.strip())):
        raise Refused("home.error.unit_taken")
    assessments.ensure_unit(unit, kind=kind)
    info = assessments.create_assessment(unit, year, case, extensions)
    coordinator = links.create_link(assessments, links.COORDINATOR_LINK, actor.who, assessment_id=info.id)
    invite = links.create_link(assessments, links.INVITE_LINK, actor.who, assessment_id=info.id)
    return Started(info, answers.start_response(info.token, side, role), coordinator, invite, False)


def new_link(db: Any, actor: Actor, kind: str, assessment: AssessmentInfo) -> str:
    """A new invite, results or coordinator link for an assessment; the old one stops working."""
    check(actor, p.COORDINATE, Resource.of_assessment(assessment))
    return links.create_link(db, kind, actor.who, assessment_id=assessment.id, replace=True)


def revoke_link(db: Any, actor: Actor, link_id: int, assessment: AssessmentInfo) -> bool:
    check(actor, p.COORDINATE, Resource.of_assessment(assessment))
    return links.revoke(db, link_id, actor.who, assessment_id=assessment.id)


def import_file(db: Any, fw: Framework, actor: Actor, data: bytes, filename: str) -> ImportSummary:
    """Import one file and log what it did. Read only for someone allowed to, then within the limits
    on incoming files and checked whole before anything is written (exchange.importer.import_bytes)."""
    check(actor, p.IMPORT_DATA)
    summary = import_bytes(db, fw, data, filename)
    audit.record(db, actor.who, "import", filename, summary.line())
    return summary


def upload_agreement(db: Any, fw: Framework, actor: Actor, data: bytes, filename: str) -> Agreement:
    """Store an uploaded agreement and log it. Its bytes are read only for someone allowed to, and
    then within the limits on incoming files (regional.agreements.parse_agreement: size, UTF-8,
    nesting, aliases) and checked against the framework: SourceError naming the file, nothing stored."""
    check(actor, p.MANAGE_AGREEMENTS)
    agreement = parse_agreement(data, filename, fw)
    fs.save_agreement(db, agreement)
    audit.record(db, actor.who, "agreement-saved", f"{agreement.id} ({agreement.unit})",
                 f"{len(agreement.commitments)} commitments")
    return agreement


def set_followup(db: Any, actor: Actor, agreement: Agreement, commitment_id: str, year: int, status: str,
                 note: str = "") -> fs.FollowUp:
    """Record one commitment's status and note for a year (the agreement stored first if need be)."""
    check(actor, p.FOLLOW_UP, Resource(unit=agreement.unit))
    if fs.get_agreement(db, agreement.id) is None:
        fs.save_agreement(db, agreement)
    item = fs.set_status(db, agreement.id, commitment_id, year, status, note)
    audit.record(db, actor.who, "follow-up", f"{agreement.id} / {commitment_id} / {year}",
                 f"{status}: {note}" if note else status)
    return item
