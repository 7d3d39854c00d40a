"""The educator's side: keys bound to one educator, consent withdrawals, and the evidence policy
each logged answer ran under.

- ``api_keys.educator_id``: the educator an ``educator``-role key is bound to (NULL for every
  other role).
- ``consent_events``: an educator's consent withdrawals and restorations per evidence source, as
  events (never updated or deleted; the latest event per source is the current setting).
- ``recommendation_log.evidence_policy``: the version of the tenant's evidence policy and the
  educator's consent state an answer was computed under.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("educator_id", sa.String(128), nullable=True))
    with op.batch_alter_table("recommendation_log") as batch:
        batch.add_column(sa.Column("evidence_policy", sa.String(64), nullable=True))
    op.create_table(
        "consent_events",
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


def downgrade() -> None:
    op.drop_table("consent_events")
    with op.batch_alter_table("recommendation_log") as batch:
        batch.drop_column("evidence_policy")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("educator_id")
