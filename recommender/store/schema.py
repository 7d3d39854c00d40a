"""The store's tables (SQLAlchemy Core), one ``MetaData`` shared by the code and the migrations.

Every table except ``tenants`` carries ``tenant_id`` as the first column of its key: every query
the :class:`~recommender.store.Store` runs is scoped by a tenant, and the indexes serve exactly
those scoped lookups.

Times of evidence are kept as integer microseconds since the Unix epoch (UTC), ``observed_us``:
ingest and the mastery refresh move hundreds of thousands of them, and integers cross both
SQLite and PostgreSQL without parsing. Low-volume tables use timezone-aware ``DateTime``.
"""

from __future__ import annotations

import sqlalchemy as sa

__all__ = [
    "metadata",
    "tenants",
    "api_keys",
    "educators",
    "evidence",
    "feedback",
    "mastery",
    "recommendation_lists",
    "coach_sessions",
    "tenant_content",
    "teams",
    "consent_events",
    "served_answers",
    "CONTENT_KINDS",
    "ROLES",
    "FEEDBACK_EVENTS",
]

ROLES = ("platform", "coach", "admin", "educator")
"""API key roles; an ``educator`` key is bound to one educator (``api_keys.educator_id``)."""

FEEDBACK_EVENTS = ("accepted", "declined", "started", "completed", "rated",
                   "pinned", "unpinned", "replaced", "noted")
"""Feedback events; ``pinned``, ``unpinned`` and ``replaced`` are coach overrides; ``noted`` is a
coach's note about an activity (no effect on the ranking)."""

CONTENT_KINDS = ("framework", "catalog")
"""What a tenant may upload a version of (:mod:`recommender.store.content`)."""

metadata = sa.MetaData()

tenants = sa.Table(
    "tenants", metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    # the tenant's evidence clock (recommender.clock.EvidenceClock); NULL: the default
    sa.Column("clock_unit", sa.String(16), nullable=True),
    sa.Column("clock_half_life", sa.Float, nullable=True),
)

api_keys = sa.Table(
    "api_keys", metadata,
    sa.Column("key_id", sa.String(16), primary_key=True),
    sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.tenant_id"), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("label", sa.String(200), nullable=False, server_default=""),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    # the one educator an ``educator``-role key may read (migration 0007); NULL for other roles
    sa.Column("educator_id", sa.String(128), nullable=True),
    sa.Index("ix_api_keys_tenant", "tenant_id"),
)

educators = sa.Table(
    "educators", metadata,
    sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
    sa.Column("educator_id", sa.String(128), primary_key=True),
    sa.Column("profile", sa.Text, nullable=False, server_default="{}"),  # JSON object
    sa.Column("goals", sa.Text, nullable=False, server_default="[]"),  # JSON list of ids
    # bumped whenever evidence or feedback of this educator is written: stored mastery computed
    # at an older data_version is stale
    sa.Column("data_version", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

evidence = sa.Table(
    "evidence", metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("evidence_id", sa.String(200), primary_key=True),
    sa.Column("educator_id", sa.String(128), nullable=False),
    sa.Column("competency_id", sa.String(128), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("scale_min", sa.Float, nullable=False),
    sa.Column("scale_max", sa.Float, nullable=False),
    sa.Column("score_norm", sa.Float, nullable=False),
    sa.Column("proficient", sa.Boolean, nullable=False),
    sa.Column("observed_us", sa.BigInteger, nullable=False),
    sa.Column("rater_id", sa.String(128), nullable=True),
    sa.Column("activity_id", sa.String(128), nullable=True),
    sa.Column("ingested_us", sa.BigInteger, nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "educator_id"],
                            ["educators.tenant_id", "educators.educator_id"]),
    sa.Index("ix_evidence_educator", "tenant_id", "educator_id", "observed_us"),
)

feedback = sa.Table(
    "feedback", metadata,
    sa.Column("feedback_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
              primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("educator_id", sa.String(128), nullable=False),
    sa.Column("activity_id", sa.String(128), nullable=False),
    sa.Column("event", sa.String(16), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("rating", sa.Integer, nullable=True),
    sa.Column("replaces", sa.String(128), nullable=True),
    sa.Column("by", sa.String(128), nullable=True),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("key_id", sa.String(16), nullable=True),
    sa.ForeignKeyConstraint(["tenant_id", "educator_id"],
                            ["educators.tenant_id", "educators.educator_id"]),
    sa.Index("ix_feedback_educator", "tenant_id", "educator_id", "at"),
)

mastery = sa.Table(
    "mastery", metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("educator_id", sa.String(128), primary_key=True),
    sa.Column("model_key", sa.String(100), nullable=False),  # e.g. "mastery:3" or "graph-rule"
    sa.Column("data_version", sa.BigInteger, nullable=False),
    sa.Column("evidence_watermark_us", sa.BigInteger, nullable=True),  # newest observed_us used
    sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
    # JSON {"competency_id": [p_mastery, n_evidence], ...}
    sa.Column("table_json", sa.Text, nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "educator_id"],
                            ["educators.tenant_id", "educators.educator_id"]),
)

recommendation_lists = sa.Table(
    # the recommendation log (recommender.store.audit), one row per shown list (migration 0009:
    # before it, one row per shown item in recommendation_log): to whom, by which model and
    # key, when, under which exploration policy (migration 0003) and evidence policy (0007)
    "recommendation_lists", metadata,
    sa.Column("log_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
              primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("request_id", sa.String(36), nullable=False),
    sa.Column("educator_id", sa.String(128), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # recommend | batch | pathway | team
    sa.Column("model_name", sa.String(100), nullable=False),
    sa.Column("model_version", sa.String(50), nullable=True),
    sa.Column("key_id", sa.String(16), nullable=True),
    sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("policy", sa.String(64), nullable=True),
    sa.Column("evidence_policy", sa.String(64), nullable=True),
    # the shown items in shown order, a JSON array of [rank, activity_id, score, propensity,
    # ranker_rank]: propensity, the probability this item was drawn at this rank given the ranks
    # above it (1 when not exploring; null for pathway steps), ranker_rank its rank in the
    # ranker's own order before the draw
    sa.Column("items", sa.Text, nullable=False),
    sa.Index("ix_reclists_educator", "tenant_id", "educator_id", "shown_at"),
)

coach_sessions = sa.Table(
    # a signed-in coach page: the cookie holds a random token, only its SHA-256 is stored; the
    # session dies with its key (revoked keys end sessions), at expiry, or at sign-out
    "coach_sessions", metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("key_id", sa.String(16), sa.ForeignKey("api_keys.key_id"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_coach_sessions_key", "key_id"),
)

tenant_content = sa.Table(
    # a tenant's uploaded framework and catalog versions (migration 0005): the document as
    # JSON, its content hash, who uploaded it and when; at most one active row per (tenant,
    # kind); none: the deployment's default content. Versions are never deleted.
    "tenant_content", metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),  # CONTENT_KINDS
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),  # 1, 2, ...
    sa.Column("document", sa.Text, nullable=False),  # JSON object
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("uploaded_by", sa.String(200), nullable=False, server_default=""),
    sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_tenant_content_active", "tenant_id", "active"),
)

teams = sa.Table(
    # a tenant's named groups of educators (a PLC, a grade-level team; migration 0006): the
    # members as a JSON list of educator ids, in the order given
    "teams", metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("team_id", sa.String(128), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False, server_default=""),
    sa.Column("members", sa.Text, nullable=False, server_default="[]"),  # JSON list of ids
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

consent_events = sa.Table(
    # an educator's consent withdrawals and restorations per evidence source (migration 0007):
    # events, never updated or deleted; the latest per (educator, source) is the current setting
    "consent_events", metadata,
    sa.Column("event_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"),
              primary_key=True, autoincrement=True),
    sa.Column("tenant_id", sa.String(64), nullable=False),
    sa.Column("educator_id", sa.String(128), nullable=False),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("withdrawn", sa.Boolean, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("by", sa.String(200), nullable=False, server_default=""),
    sa.Index("ix_consent_events_educator", "tenant_id", "educator_id"),
)

served_answers = sa.Table(
    # ranked answers as served, computed when an educator's data changes (migration 0008): one
    # row per (educator, query key); valid while the educator's data_version and created stamp
    # are the ones it was computed at (api.answers)
    "served_answers", metadata,
    sa.Column("tenant_id", sa.String(64), primary_key=True),
    sa.Column("educator_id", sa.String(128), primary_key=True),
    sa.Column("query_key", sa.String(40), primary_key=True),  # the model and the query, hashed
    sa.Column("data_version", sa.BigInteger, nullable=False),
    sa.Column("educator_created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("computed_us", sa.BigInteger, nullable=False),  # microseconds since the epoch
    sa.Column("label", sa.String(64), nullable=False),  # the evidence policy it ran under
    sa.Column("items_json", sa.LargeBinary, nullable=False),  # the response's items, serialized
    sa.Column("shown_json", sa.LargeBinary, nullable=False),  # [[rank, activity, score, pinned]]
)
