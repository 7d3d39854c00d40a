"""Alembic environment: run by :func:`recommender.store.migrate` (and the ``alembic`` CLI).

The caller passes an open connection in ``config.attributes["connection"]``; without one, the
URL comes from ``sqlalchemy.url`` or the ``DATABASE_URL`` environment variable.
"""

from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import context

from recommender.store.schema import metadata

config = context.config
target_metadata = metadata


def _run(connection) -> None:
    context.configure(connection=connection, target_metadata=target_metadata,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or os.environ["DATABASE_URL"]
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        _run(conn)


if context.is_offline_mode():  # pragma: no cover - SQL script generation
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=metadata,
                      literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    run_migrations_online()
