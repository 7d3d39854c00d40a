"""Recommendation log: each shown item's propensity, the exploration policy and the ranker's rank,
for off-policy evaluation (nullable: rows logged before have none).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recommendation_log") as batch:
        batch.add_column(sa.Column("propensity", sa.Float, nullable=True))
        batch.add_column(sa.Column("policy", sa.String(64), nullable=True))
        batch.add_column(sa.Column("ranker_rank", sa.Integer, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recommendation_log") as batch:
        batch.drop_column("ranker_rank")
        batch.drop_column("policy")
        batch.drop_column("propensity")
