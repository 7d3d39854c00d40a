"""Coach page sessions: one row per signed-in browser (the token's hash, its key, its expiry).

Revision ID: 0002
Revises: 0001
Create Date: 2025-11-23
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "coach_sessions",
        sa.Column("session_hash", sa.String(64), primary_key=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), sa.ForeignKey("api_keys.key_id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_coach_sessions_key", "coach_sessions", ["key_id"])


def downgrade() -> None:
    op.drop_index("ix_coach_sessions_key", "coach_sessions")
    op.drop_table("coach_sessions")
