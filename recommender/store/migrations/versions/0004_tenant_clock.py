"""Tenants: the evidence clock (its time unit and half-life; NULL: the default, 60 days).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("clock_unit", sa.String(16), nullable=True))
        batch.add_column(sa.Column("clock_half_life", sa.Float, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("clock_half_life")
        batch.drop_column("clock_unit")
