"""The database schema: every table of every area, on one MetaData.

A change to a table here is what a new database gets (``create_all``); an existing
database also needs a migration appended in ``store/migrations.py``. The queries
live with their area: the respondents' data in ``store/``, the workshop's in
``workshop/``, follow-ups and the comparison's summaries in ``regional/``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

# Named constraints, so that later migrations can refer to (and drop) them by name.
metadata = sa.MetaData(naming_convention={
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
})

SIDES = ("public", "civil_society")
UNIT_KINDS = ("municipality", "region", "organisation")
NAME_MAX = 200
KEY_MAX = 128
YEAR_MIN, YEAR_MAX = 1900, 2200  # as in framework.responses.Response

# JSONB on PostgreSQL: binary, indexable; plain JSON text on SQLite.
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
# For nullable columns: Python None is SQL NULL, not the JSON text 'null'.
NullableJson = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
# The answer tables are only ever read by response: cluster them by their key on SQLite.
ANSWER_TABLE = {"sqlite_with_rowid": False}


def _timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


# --- units, assessments, responses and their answers ------------------------------------------

units = sa.Table(
    "units", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(NAME_MAX), nullable=False, unique=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("region", sa.String(NAME_MAX)),
    sa.CheckConstraint(sa.column("kind").in_(UNIT_KINDS), name="kind"),
)

assessments = sa.Table(
    "assessments", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token", sa.String(64), nullable=False, unique=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id", ondelete="CASCADE"), nullable=False),
    sa.Column("year", sa.Integer, nullable=False),
    sa.Column("case", sa.String(NAME_MAX)),
    sa.Column("extensions", Json, nullable=False),
    _timestamp("created_at"),
)
# No case is stored as NULL but compared as '': one assessment per unit, year and case.
case_key = sa.func.coalesce(assessments.c.case, sa.literal_column("''"))
# Also serves lookups by unit and year.
sa.Index("uq_assessments_unit_year_case", assessments.c.unit_id, assessments.c.year, case_key,
         unique=True)

responses = sa.Table(
    "responses", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token", sa.String(64), nullable=False, unique=True),
    sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id", ondelete="CASCADE"),
              nullable=False, index=True),
    sa.Column("side", sa.String(20), nullable=False),
    sa.Column("role", sa.String(NAME_MAX), nullable=False, server_default=""),
    # Set only when an imported response's levels differ from its assessment's.
    sa.Column("extensions", NullableJson),
    _timestamp("created_at"),
    _timestamp("updated_at"),
    _timestamp("submitted_at", nullable=True),
    sa.CheckConstraint(sa.column("side").in_(SIDES), name="side"),
)

step_answers = sa.Table(
    "step_answers", metadata,
    sa.Column("response_id", sa.Integer, sa.ForeignKey("responses.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("step_id", sa.String(KEY_MAX), primary_key=True),
    sa.Column("level", sa.String(KEY_MAX), nullable=False),
    sa.Column("tools", Json, nullable=False),
    **ANSWER_TABLE,
)

ratings = sa.Table(
    "ratings", metadata,
    sa.Column("response_id", sa.Integer, sa.ForeignKey("responses.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("statement_key", sa.String(KEY_MAX), primary_key=True),
    sa.Column("value", sa.Integer),
    sa.Column("dont_know", sa.Boolean(create_constraint=False), nullable=False),
    # Exactly one of: a number, or "don't know".
    sa.CheckConstraint("(value IS NULL) = (dont_know = true)", name="value_or_dont_know"),
    **ANSWER_TABLE,
)

comments = sa.Table(
    "comments", metadata,
    sa.Column("response_id", sa.Integer, sa.ForeignKey("responses.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("key", sa.String(KEY_MAX), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    **ANSWER_TABLE,
)

# --- live workshops (join codes, cards, anonymous participants, votes) -------------------------

workshops = sa.Table(
    "workshops", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(16), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("name", sa.String(300), nullable=False),
    sa.Column("unit", sa.String(300), nullable=False),
    sa.Column("date", sa.Date, nullable=False),
    sa.Column("lang", sa.String(2), nullable=False),
    # The deck as it was when the workshop was created, plus the matrix round's steps and levels:
    # editing a deck file later must not change a workshop in progress or its results.
    sa.Column("deck", sa.JSON, nullable=False),
    sa.Column("current_index", sa.Integer, nullable=False),
    sa.Column("revealed", sa.Boolean, nullable=False),
    sa.Column("phase", sa.String(12), nullable=False),
    sa.Column("version", sa.Integer, nullable=False),  # +1 per facilitator action, for polling
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("phase IN ('statements', 'matrix', 'ended')", name="phase"),
)

workshop_cards = sa.Table(
    "workshop_cards", metadata,
    sa.Column("workshop_id", sa.ForeignKey("workshops.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("card_id", sa.String(200), primary_key=True),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("state", sa.String(8), nullable=False),
    sa.UniqueConstraint("workshop_id", "position"),
    sa.CheckConstraint("state IN ('new', 'open', 'closed')", name="state"),
)

workshop_participants = sa.Table(
    "workshop_participants", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("workshop_id", sa.ForeignKey("workshops.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("side", sa.String(16), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("joined_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("side IN ('public', 'civil_society')", name="side"),
)

workshop_votes = sa.Table(
    "workshop_votes", metadata,
    sa.Column("participant_id", sa.ForeignKey("workshop_participants.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("card_id", sa.String(200), primary_key=True),
    sa.Column("workshop_id", sa.Integer, nullable=False),  # for grouped tallies without a join
    sa.Column("value", sa.String(8), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(["workshop_id", "card_id"],
                            ["workshop_cards.workshop_id", "workshop_cards.card_id"], ondelete="CASCADE"),
    sa.Index("ix_workshop_votes_workshop_card", "workshop_id", "card_id"),
    sa.CheckConstraint("value IN ('agree', 'disagree', 'pass')", name="value"),
)

workshop_placements = sa.Table(
    "workshop_placements", metadata,
    sa.Column("participant_id", sa.ForeignKey("workshop_participants.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("step_id", sa.String(64), primary_key=True),
    sa.Column("workshop_id", sa.ForeignKey("workshops.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("level_id", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# --- agreements and the yearly follow-up of their commitments --------------------------------

agreements_table = sa.Table(
    "agreements", metadata,
    sa.Column("id", sa.String(100), primary_key=True),
    sa.Column("unit", sa.String(200), nullable=False, index=True),
    sa.Column("title_sv", sa.Text, nullable=False),
    sa.Column("title_en", sa.Text, nullable=False),
    # The whole agreement as loaded: a follow-up keeps the wording it was made against.
    sa.Column("snapshot", sa.JSON, nullable=False),
    sa.Column("saved_at", sa.DateTime(timezone=True), nullable=False),
)

followups_table = sa.Table(
    "followups", metadata,
    sa.Column("agreement_id", sa.String(100), sa.ForeignKey("agreements.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("commitment_id", sa.String(100), primary_key=True),
    sa.Column("year", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("note", sa.Text, nullable=False, default=""),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('not_started', 'under_way', 'done', 'not_applicable')", name="status"),
)

# --- the comparison's summaries (derived data: safe to drop, rebuilt on demand) -----------------

_fk = dict(ondelete="CASCADE")
summary_state = sa.Table(
    "cmp_state", metadata,
    sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id", **_fk), primary_key=True),
    sa.Column("fingerprint", sa.String(200), nullable=False),  # responses' count:id sum:last update
    sa.Column("framework", sa.String(40), nullable=False),  # hash of the statement and step ids summed
    sa.Column("settled", sa.Boolean(create_constraint=False), nullable=False),
)
# One row per assessment and side ('public', 'civil_society', and 'all' for both together):
# the sums per principle and the level counts per step, as small JSON texts. A whole-region
# comparison then reads one row per assessment, not one per principle or step.
summary = sa.Table(
    "cmp_summary", metadata,
    sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id", **_fk), primary_key=True),
    sa.Column("side", sa.String(20), primary_key=True),
    sa.Column("respondents", sa.Integer, nullable=False),
    sa.Column("principles", sa.Text, nullable=False),  # {"quality": [answered, value sum, dont_know], ...}
    sa.Column("steps", sa.Text, nullable=False),  # {"agenda": {"dialogue": respondents, ...}, ...}
)
SUMMARY_TABLES = (summary, summary_state)
# "Every summary was up to date when the data looked like this": lets a fresh process (or a
# page after a restart) skip checking each assessment while nothing has changed.
summary_marker = sa.Table(
    "cmp_meta", metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
# The change check reads count, id sum and last update of each assessment's responses from
# this index alone (no table rows). Created with the table on new databases, on first use
# on older ones.
responses_change_index = sa.Index("ix_responses_assessment_updated",
                                  responses.c.assessment_id, responses.c.updated_at)
# data_version's "latest update" in one index lookup instead of a scan.
responses_updated_index = sa.Index("ix_responses_updated", responses.c.updated_at)

# --- who may see and change what (assessment/access/) -------------------------------------------

LINK_KINDS = ("administrator", "coordinator", "results", "invite")
ACTOR_MAX = 200
# Links that grant something; only each token's SHA-256 digest is stored. A coordinator link
# covers one assessment or a whole unit; the administrator's covers the deployment.
access_links = sa.Table(
    "access_links", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("assessment_id", sa.Integer, sa.ForeignKey("assessments.id", ondelete="CASCADE"), index=True),
    sa.Column("unit_id", sa.Integer, sa.ForeignKey("units.id", ondelete="CASCADE"), index=True),
    _timestamp("created_at"),
    sa.Column("created_by", sa.String(ACTOR_MAX), nullable=False),
    _timestamp("revoked_at", nullable=True),
    sa.CheckConstraint(sa.column("kind").in_(LINK_KINDS), name="kind"),
)
# Settings of the deployment (e.g. whether the named comparison is published), values as JSON.
access_settings = sa.Table(
    "access_settings", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
    _timestamp("updated_at"),
)
# Writes that changed other people's data: who (signed-in identity or role), what, when.
audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("actor", sa.String(ACTOR_MAX), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("target", sa.String(300), nullable=False),
    sa.Column("detail", sa.Text, nullable=False, server_default=""),
)
