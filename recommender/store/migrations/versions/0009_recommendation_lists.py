"""The recommendation log, one row per shown list.

- ``recommendation_lists``: what ``recommendation_log`` held, one row per shown list instead of
  one per shown item: the list's request, educator, kind, model, key, time and policies once,
  its items as a JSON array of ``[rank, activity_id, score, propensity, ranker_rank]``
  (:mod:`recommender.store.audit`; readers still get one row per item).
- ``recommendation_log``: its rows are moved into lists (the consecutive rows, by ``log_id``, of
  one request, educator and kind with equal list columns are one list), then it is dropped.

The move streams the old rows in batches and groups them with the store's own
:func:`~recommender.store.audit.shown_lists` (and the downgrade with
:func:`~recommender.store.audit.item_rows`), so the stored form is defined in one place.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Iterator
from operator import itemgetter

import sqlalchemy as sa
from alembic import op

from recommender.store.audit import ITEM_COLUMNS, LIST_COLUMNS, item_rows, shown_lists

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_BATCH = 10_000
_KEY = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def _item_table(meta: sa.MetaData) -> sa.Table:
    """``recommendation_log`` as migrations 0001, 0003 and 0007 left it."""
    return sa.Table(
        "recommendation_log", meta,
        sa.Column("log_id", _KEY, primary_key=True, autoincrement=True),
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
        sa.Column("propensity", sa.Float, nullable=True),
        sa.Column("policy", sa.String(64), nullable=True),
        sa.Column("ranker_rank", sa.Integer, nullable=True),
        sa.Column("evidence_policy", sa.String(64), nullable=True),
        sa.Index("ix_reclog_educator", "tenant_id", "educator_id", "shown_at"),
    )


def _list_table(meta: sa.MetaData) -> sa.Table:
    return sa.Table(
        "recommendation_lists", meta,
        sa.Column("log_id", _KEY, primary_key=True, autoincrement=True),
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("educator_id", sa.String(128), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("model_name", sa.String(100), nullable=False),
        sa.Column("model_version", sa.String(50), nullable=True),
        sa.Column("key_id", sa.String(16), nullable=True),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("policy", sa.String(64), nullable=True),
        sa.Column("evidence_policy", sa.String(64), nullable=True),
        sa.Column("items", sa.Text, nullable=False),
        sa.Index("ix_reclists_educator", "tenant_id", "educator_id", "shown_at"),
    )


def _batches(conn, select: sa.Select, key) -> Iterator[list[dict]]:
    """The rows of ``select`` in batches of about ``_BATCH``, a batch never splitting the rows
    that share ``key`` (consecutive in the select's order)."""
    pending: list[dict] = []
    for part in conn.execute(select.execution_options(yield_per=_BATCH)).mappings().partitions():
        pending.extend(dict(r) for r in part)
        last = key(pending[-1])
        cut = len(pending)
        while cut and key(pending[cut - 1]) == last:
            cut -= 1
        if cut:
            yield pending[:cut]
            pending = pending[cut:]
    if pending:
        yield pending


def upgrade() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    items, lists = _item_table(meta), _list_table(meta)
    lists.create(conn)
    # a list's rows are one request's, educator's and kind's with equal list columns: ordered by
    # the list's first log_id (lists in the order they were written), then by log_id
    columns = [items.c[c] for c in LIST_COLUMNS]
    first = sa.func.min(items.c.log_id).over(partition_by=columns)
    select = sa.select(items).order_by(first, items.c.log_id)
    for batch in _batches(conn, select, itemgetter(*LIST_COLUMNS)):
        conn.execute(lists.insert(), shown_lists(batch))
    op.drop_index("ix_reclog_educator", "recommendation_log")
    op.drop_table("recommendation_log")


def downgrade() -> None:
    conn = op.get_bind()
    meta = sa.MetaData()
    items, lists = _item_table(meta), _list_table(meta)
    items.create(conn)
    select = sa.select(lists).order_by(lists.c.log_id)
    for batch in _batches(conn, select, itemgetter("log_id")):
        rows = item_rows(batch)
        conn.execute(items.insert(), [{c: r[c] for c in (*LIST_COLUMNS, *ITEM_COLUMNS)}
                                      for r in rows])
    op.drop_index("ix_reclists_educator", "recommendation_lists")
    op.drop_table("recommendation_lists")
