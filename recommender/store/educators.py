"""Educators: profile, goals and the version of their data.

An educator's ``data_version`` counts the changes to what their mastery is computed from (their
profile, evidence and feedback): every write path that changes those bumps it
(:func:`bump_versions`), which marks their stored mastery stale. Educators are created by
:meth:`EducatorStore.put_educator`, or with an empty profile by the first evidence that names
them (:func:`create_educators`). Both lock steps run in id order, the first and the last of the
write paths' lock order (see :mod:`recommender.store.engine`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from recommender.store import schema
from recommender.store.engine import (
    CompiledSelect,
    StoreBase,
    aware,
    chunks,
    insert_on_conflict,
    inserted,
    now,
    retrying,
)

__all__ = ["EducatorRecord", "EducatorStore", "bump_versions", "create_educators",
           "educator_record"]


@dataclass(frozen=True)
class EducatorRecord:
    """An educator of one tenant: profile, goals and the version of their data."""

    tenant_id: str
    educator_id: str
    profile: dict
    goals: list[str]
    data_version: int
    created_at: datetime
    updated_at: datetime


def educator_record(row) -> EducatorRecord:  # noqa: ANN001
    """The :class:`EducatorRecord` of an ``educators`` row (profile and goals decoded)."""
    return EducatorRecord(
        tenant_id=row.tenant_id, educator_id=row.educator_id,
        profile=orjson.loads(row.profile), goals=orjson.loads(row.goals),
        data_version=int(row.data_version), created_at=aware(row.created_at),
        updated_at=aware(row.updated_at),
    )


def create_educators(conn: Connection, tenant_id: str, ids: list[str]) -> set[str]:
    """Create the missing educators among ``ids`` (sorted; empty profile, ``data_version``
    0); returns those this call created.

    In id order, the first of the write paths' lock steps: on PostgreSQL the insert waits
    for any transaction in progress that created or bumped one of these educators.
    """
    t = schema.educators
    at = now()
    stmt = (insert_on_conflict(conn.dialect.name, t).on_conflict_do_nothing()
            .returning(t.c.educator_id))
    return set(inserted(conn, stmt, [
        {"tenant_id": tenant_id, "educator_id": e, "profile": "{}", "goals": "[]",
         "data_version": 0, "created_at": at, "updated_at": at} for e in ids]))


def bump_versions(conn: Connection, tenant_id: str, ids: list[str]) -> None:
    """Add 1 to ``data_version`` of these educators (sorted), locking them in id order.

    The ``SELECT ... ORDER BY educator_id FOR NO KEY UPDATE`` takes the row locks in id
    order before the ``UPDATE``, whose own order follows its plan (a heap scan reads rows
    where they happen to lie); ``NO KEY`` leaves the key-share locks of foreign-key checks
    free. SQLite has no row locks and writes one transaction at a time: it skips the lock.
    """
    t = schema.educators
    for part in chunks(ids):
        key = (t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part)
        if conn.dialect.name == "postgresql":
            conn.execute(sa.select(t.c.educator_id).where(key).order_by(t.c.educator_id)
                         .with_for_update(key_share=True))
        conn.execute(t.update().where(key).values(data_version=t.c.data_version + 1))


def _version_query(engine: Engine) -> CompiledSelect:
    """``data_version`` and ``created_at`` of one educator, compiled once (the read path's
    one query, see :meth:`EducatorStore.educator_version`)."""
    t = schema.educators
    return CompiledSelect(engine, sa.select(t.c.data_version, t.c.created_at).where(
        (t.c.tenant_id == sa.bindparam("tenant_id"))
        & (t.c.educator_id == sa.bindparam("educator_id"))))


class EducatorStore(StoreBase):
    """The educators of :class:`recommender.store.Store`."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self._version_sql = _version_query(engine)

    def put_educator(self, tenant_id: str, educator_id: str, *, profile: Mapping[str, Any],
                     goals: Sequence[str]) -> tuple[EducatorRecord, bool]:
        """Create or replace an educator's profile and goals; returns ``(record, created)``.

        Replacing bumps ``data_version`` (profile features feed the mastery model). The insert
        is ``ON CONFLICT DO NOTHING``: when another writer creates the same educator meanwhile,
        this one waits for it and then replaces, instead of failing on the primary key.
        """
        t = schema.educators
        key = (t.c.tenant_id == tenant_id) & (t.c.educator_id == educator_id)
        values = {"profile": orjson.dumps(dict(profile)).decode(),
                  "goals": orjson.dumps(list(goals)).decode()}

        def write(conn: Connection) -> tuple[Any, bool]:
            at = now()
            created = conn.execute(
                insert_on_conflict(self.dialect, t).values(
                    tenant_id=tenant_id, educator_id=educator_id, data_version=0,
                    created_at=at, updated_at=at, **values)
                .on_conflict_do_nothing().returning(t.c.educator_id)).first() is not None
            if not created:
                conn.execute(t.update().where(key).values(
                    **values, data_version=t.c.data_version + 1, updated_at=at))
            return conn.execute(sa.select(t).where(key)).one(), created

        row, created = retrying(self.engine, write)
        return educator_record(row), created

    def get_educator(self, tenant_id: str, educator_id: str) -> EducatorRecord | None:
        """The educator's record, None if absent."""
        t = schema.educators
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(
                (t.c.tenant_id == tenant_id) & (t.c.educator_id == educator_id))).first()
        return None if row is None else educator_record(row)

    def educator_version(self, tenant_id: str, educator_id: str) -> tuple[int, Any] | None:
        """``(data_version, stamp)`` of an educator, None if absent: the read path's one query.

        ``stamp`` is the creation time as the driver returns it (an opaque, comparable value):
        together they identify the educator's data, for cache keys. The statement is compiled
        once and run on the pooled driver connection, skipping SQLAlchemy's per-execution work
        (a few times cheaper than :meth:`get_educator`, which decodes the whole row).
        """
        row = self._version_sql.first({"tenant_id": tenant_id, "educator_id": educator_id})
        return None if row is None else (int(row[0]), row[1])

    def get_educators(self, tenant_id: str, educator_ids: Iterable[str]) -> dict[str, EducatorRecord]:
        """The existing educators among ``educator_ids`` (others are simply absent)."""
        t = schema.educators
        ids = list(dict.fromkeys(educator_ids))
        out: dict[str, EducatorRecord] = {}
        with self.engine.connect() as conn:
            for part in chunks(ids):
                for row in conn.execute(sa.select(t).where(
                        (t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part))):
                    out[row.educator_id] = educator_record(row)
        return out

    def list_educators(self, tenant_id: str, *, limit: int = 100, after: str | None = None
                       ) -> list[EducatorRecord]:
        """Educators of a tenant in id order, ``limit`` at a time after ``after``."""
        t = schema.educators
        q = sa.select(t).where(t.c.tenant_id == tenant_id)
        if after is not None:
            q = q.where(t.c.educator_id > after)
        q = q.order_by(t.c.educator_id).limit(limit)
        with self.engine.connect() as conn:
            return [educator_record(r) for r in conn.execute(q)]
