"""The one permission function: may this actor do this action on this resource?

In the manner of Datasette's ``allowed(actor, action, resource)``: who is asking (an
:class:`Actor`, built by the pages from the links the session holds and the signed-in
identity), what they want to do (one of the action constants below) and on what (a
:class:`Resource`, or None for "on anything at all", which decides whether a page is
offered). Every page and endpoint asks before it reads or writes; the default rules are
the table :data:`RULES`, readable in one place.

The command line works on the local database as the machine's user and asks nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

# --- roles (what an actor is called in messages and the audit log) ------------------------------
ADMINISTRATOR = "administrator"
COORDINATOR = "coordinator"
RESULTS_READER = "results_reader"
RESPONDENT = "respondent"
FACILITATOR = "facilitator"
PARTICIPANT = "participant"
ANONYMOUS = "anonymous"
ROLES = (ADMINISTRATOR, COORDINATOR, RESULTS_READER, RESPONDENT, FACILITATOR, PARTICIPANT, ANONYMOUS)

# --- actions -------------------------------------------------------------------------------------
VIEW_HOME = "view-home"                  # the start page and its forms
START_ASSESSMENT = "start-assessment"    # create a new assessment, becoming its coordinator
JOIN_ASSESSMENT = "join-assessment"      # answer an assessment through its invite link
ANSWER = "answer"                        # read and change one's own answers (personal link)
VIEW_RESULTS = "view-results"            # an assessment's scores and charts (no comments)
READ_COMMENTS = "read-comments"          # respondents' free-text comments
COORDINATE = "coordinate"                # an assessment's links: invite, results, coordinator
COMPARE_REGION = "compare-region"        # the region as median and quartiles, other units unnamed
COMPARE_NAMED = "compare-named"          # every unit by name, the ranking
EXPORT_DATA = "export-data"              # download answers (all, a unit's, an assessment's)
IMPORT_DATA = "import-data"              # import files that add or replace answers
FOLLOW_UP = "follow-up"                  # read and record an agreement's yearly follow-up
MANAGE_AGREEMENTS = "manage-agreements"  # upload or replace an agreement
MAKE_REPORT = "make-report"              # the council report of a unit and year
ADMINISTER = "administer"                # coordinators, links, the audit log, publishing
RUN_WORKSHOP = "run-workshop"            # create a workshop; run one with its secret
JOIN_WORKSHOP = "join-workshop"          # take part in a workshop with its join code


@dataclass(frozen=True)
class Actor:
    """Who is asking: what this browser session holds.

    Built afresh on every page run from the links in the session (each one checked
    against the database, so a revoked link stops working at once) and the signed-in
    identity mapped in the access file.
    """

    administrator: bool = False
    identity: str | None = None  # signed-in e-mail address
    units: frozenset[str] = frozenset()  # units coordinated (signed in, or a unit coordinator link)
    coordinates: frozenset[int] = frozenset()  # assessment ids: coordinator link
    results: frozenset[int] = frozenset()  # assessment ids: results link
    invited: frozenset[int] = frozenset()  # assessment ids: invite link
    responses: frozenset[str] = frozenset()  # response keys: personal links
    facilitates: frozenset[str] = frozenset()  # workshop codes: facilitator secret
    participates: frozenset[str] = frozenset()  # workshop codes: participant link
    named_comparison_published: bool = False  # a setting of the deployment, carried for the rules

    @property
    def role(self) -> str:
        """The strongest role held."""
        if self.administrator:
            return ADMINISTRATOR
        if self.units or self.coordinates:
            return COORDINATOR
        if self.results:
            return RESULTS_READER
        if self.responses or self.invited:
            return RESPONDENT
        if self.facilitates:
            return FACILITATOR
        if self.participates:
            return PARTICIPANT
        return ANONYMOUS

    @property
    def who(self) -> str:
        """How the audit log names this actor: the signed-in identity, else the role."""
        return self.identity or self.role


ANONYMOUS_ACTOR = Actor()


@dataclass(frozen=True)
class Resource:
    """What an action is on: an assessment (with its unit), a unit, a response, a workshop."""

    assessment: int | None = None
    unit: str | None = None
    response: str | None = None  # response key
    workshop: str | None = None  # join code

    @classmethod
    def of_assessment(cls, info) -> Resource:
        """From a storage AssessmentInfo."""
        return cls(assessment=info.id, unit=info.unit)


# --- the default rules ---------------------------------------------------------------------------
# Each rule answers for an actor who is not the administrator (who may do everything but
# answer or vote in someone else's name). `r` is None when the question is "on anything?".

Rule = Callable[[Actor, "Resource | None"], bool]


def _everyone(a: Actor, r: Resource | None) -> bool:
    return True


def _coordinator(a: Actor, r: Resource | None) -> bool:
    """The coordinator of this assessment (its link) or of its unit."""
    if r is None:
        return bool(a.units or a.coordinates)
    return (r.assessment is not None and r.assessment in a.coordinates) or (r.unit is not None and r.unit in a.units)


def _unit_coordinator(a: Actor, r: Resource | None) -> bool:
    """A coordinator of the resource's unit (not only of one assessment)."""
    return bool(a.units) if r is None else r.unit in a.units


def _results_reader(a: Actor, r: Resource | None) -> bool:
    return _coordinator(a, r) or (bool(a.results) if r is None else r.assessment in a.results)


def _page_or(check: Callable[[Actor, Resource], bool]) -> Rule:
    """Anyone may open the page (the link arrives with it); the resource needs `check`."""
    return lambda a, r: r is None or check(a, r)


def _named(a: Actor, r: Resource | None) -> bool:
    return a.named_comparison_published and _coordinator(a, r)


def _nobody(a: Actor, r: Resource | None) -> bool:
    return False


RULES: dict[str, Rule] = {
    VIEW_HOME: _everyone,
    START_ASSESSMENT: _everyone,
    JOIN_ASSESSMENT: _page_or(lambda a, r: r.assessment in a.invited),
    ANSWER: _page_or(lambda a, r: r.response in a.responses),
    VIEW_RESULTS: _results_reader,
    READ_COMMENTS: _coordinator,
    COORDINATE: _coordinator,
    COMPARE_REGION: _coordinator,
    COMPARE_NAMED: _named,
    EXPORT_DATA: _coordinator,
    IMPORT_DATA: _nobody,
    FOLLOW_UP: _unit_coordinator,
    MANAGE_AGREEMENTS: _nobody,
    MAKE_REPORT: _unit_coordinator,
    ADMINISTER: _nobody,
    RUN_WORKSHOP: _page_or(lambda a, r: r.workshop in a.facilitates),
    JOIN_WORKSHOP: _everyone,
}
ACTIONS = tuple(RULES)

# Personal: the administrator may see everything but not answer or vote as someone else.
PERSONAL = frozenset({ANSWER, JOIN_ASSESSMENT})


def allowed(actor: Actor, action: str, resource: Resource | None = None) -> bool:
    """Whether `actor` may do `action` on `resource` (None: on anything at all).

    An unknown action is refused: a new page that names no known action shows nothing.
    """
    rule = RULES.get(action)
    if rule is None:
        return False
    if actor.administrator and action not in PERSONAL:
        return True
    return rule(actor, resource)
