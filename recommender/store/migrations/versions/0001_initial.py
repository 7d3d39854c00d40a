"""Initial schema: tenants, API keys, educators, evidence, feedback, mastery, recommendation log.

Revision ID: 0001
Revises:
Create Date: 2025-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.String(16), primary_key=True),
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.tenant_id"), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("label", sa.String(200), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_api_keys_tenant", "api_keys", ["tenant_id"])
    op.create_table(
        "educators",
        sa.Column("tenant_id", sa.String(64), sa.ForeignKey("tenants.tenant_id"), primary_key=True),
        sa.Column("educator_id", sa.String(128), primary_key=True),
        sa.Column("profile", sa.Text, nullable=False, server_default="{}"),
        sa.Column("goals", sa.Text, nullable=False, server_default="[]"),
        sa.Column("data_version", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "evidence",
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
    )
    op.create_index("ix_evidence_educator", "evidence", ["tenant_id", "educator_id", "observed_us"])
    op.create_table(
        "feedback",
        sa.Column("feedback_id", _ID, primary_key=True, autoincrement=True),
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
    )
    op.create_index("ix_feedback_educator", "feedback", ["tenant_id", "educator_id", "at"])
    op.create_table(
        "mastery",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("educator_id", sa.String(128), primary_key=True),
        sa.Column("model_key", sa.String(100), nullable=False),
        sa.Column("data_version", sa.BigInteger, nullable=False),
        sa.Column("evidence_watermark_us", sa.BigInteger, nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("table_json", sa.Text, nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "educator_id"],
                                ["educators.tenant_id", "educators.educator_id"]),
    )
    op.create_table(
        "recommendation_log",
        sa.Column("log_id", _ID, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("educator_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("activity_id", sa.String(128), nullable=False),
        sa.Column("score", sa.Float, nullable=True),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("model_version", sa.String(50), nullable=True),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_reclog_educator", "recommendation_log",
                    ["tenant_id", "educator_id", "shown_at"])


def downgrade() -> None:
    op.drop_index("ix_reclog_educator", "recommendation_log")
    op.drop_table("recommendation_log")
    op.drop_table("mastery")
    op.drop_index("ix_feedback_educator", "feedback")
    op.drop_table("feedback")
    op.drop_index("ix_evidence_educator", "evidence")
    op.drop_table("evidence")
    op.drop_table("educators")
    op.drop_index("ix_api_keys_tenant", "api_keys")
    op.drop_table("api_keys")
    op.drop_table("tenants")
