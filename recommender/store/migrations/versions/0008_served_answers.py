"""Ranked answers kept where every API worker reads them.

- ``served_answers``: an educator's ranked answer to one query under one model, computed when the
  educator's data changes (or on the first read after), valid while the educator's
  ``data_version`` and creation stamp are the ones it was computed at (:mod:`api.answers`).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "served_answers",
        sa.Column("tenant_id", sa.String(64), primary_key=True),
        sa.Column("educator_id", sa.String(128), primary_key=True),
        sa.Column("query_key", sa.String(40), primary_key=True),
        sa.Column("data_version", sa.BigInteger, nullable=False),
        sa.Column("educator_created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("computed_us", sa.BigInteger, nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("items_json", sa.LargeBinary, nullable=False),
        sa.Column("shown_json", sa.LargeBinary, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("served_answers")
