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
    StoreBase,
    aware,
    chunks,
    insert_on_conflict,
    inserted,
    now,
    retrying,
)
from recommender.store.point_reads import CompiledSelect

__all__ = ["EducatorRecord", "EducatorStore", "ProfileWrite", "bump_versions",
           "create_educators", "educator_record"]


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


@dataclass(frozen=True)
class ProfileWrite:
    """What :meth:`EducatorStore.merge_profiles` did, educator ids per outcome (sorted)."""

    created: list[str]
    updated: list[str]
    unchanged: list[str]
    stale: list[str]
    missing: list[str]


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


def _version(row: tuple | None) -> tuple[int, Any] | None:
    return None if row is None else (int(row[0]), row[1])


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
        return _version(self._version_sql.first({"tenant_id": tenant_id,
                                                 "educator_id": educator_id}))

    async def educator_version_on_loop(self, tenant_id: str, educator_id: str
                                       ) -> tuple[int, Any] | None:
        """:meth:`educator_version`, read on the running event loop's own connection
        (:meth:`recommender.store.point_reads.CompiledSelect.first_on_loop`)."""
        return _version(await self._version_sql.first_on_loop({"tenant_id": tenant_id,
                                                               "educator_id": educator_id}))

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

    def merge_profiles(self, tenant_id: str, profiles: Mapping[str, Mapping[str, Any]], *,
                       create: bool = True, stamp: str | None = None) -> ProfileWrite:
        """Merge profile values into many educators at once (a roster import); goals are kept.

        The bulk form of :meth:`put_educator` for a source that owns some profile keys only:
        each educator's stored profile is updated with the given keys (a value of None removes
        the key), the other keys and the goals stay. An educator not stored is created with
        these values when ``create`` (else it is ``missing``). One whose merged profile equals
        the stored one is ``unchanged`` and keeps its ``data_version``; the others are
        ``updated`` and bumped, like :meth:`put_educator`. With ``stamp`` (a profile key holding
        ISO 8601 UTC text of one format, so text order is time order), values older than the
        stored stamp are ``stale`` and not applied (a row older than what was imported changes
        nothing); a replayed row has the same stamp and values, so it is ``unchanged``.

        One transaction: creations first (``ON CONFLICT DO NOTHING``: one created meanwhile by
        another writer is merged into instead), then updates, each in id order (the write
        paths' lock order, see :mod:`recommender.store.engine`).
        """
        t = schema.educators
        ids = sorted(profiles)

        def clean(values: Mapping[str, Any]) -> dict:
            return {k: v for k, v in values.items() if v is not None}

        def stored(conn: Connection, which: list[str]) -> dict[str, dict]:
            out = {}
            for part in chunks(which):
                for row in conn.execute(sa.select(t.c.educator_id, t.c.profile).where(
                        (t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part))):
                    out[row.educator_id] = orjson.loads(row.profile)
            return out

        def write(conn: Connection) -> ProfileWrite:
            res = ProfileWrite([], [], [], [], [])
            old = stored(conn, ids)
            fresh = [e for e in ids if e not in old]
            if create and fresh:
                at = now()
                stmt = (insert_on_conflict(conn.dialect.name, t).on_conflict_do_nothing()
                        .returning(t.c.educator_id))
                res.created.extend(sorted(inserted(conn, stmt, [
                    {"tenant_id": tenant_id, "educator_id": e, "goals": "[]", "data_version": 0,
                     "profile": orjson.dumps(clean(profiles[e])).decode(),
                     "created_at": at, "updated_at": at} for e in fresh])))
                old.update(stored(conn, sorted(set(fresh) - set(res.created))))
            changes, created = [], set(res.created)
            for e in ids:
                new, before = profiles[e], old.get(e)
                if e in created:
                    continue
                if before is None:
                    res.missing.append(e)
                elif stamp is not None and new.get(stamp) and str(new[stamp]) < str(
                        before.get(stamp) or ""):
                    res.stale.append(e)
                elif (merged := clean({**before, **new})) == before:
                    res.unchanged.append(e)
                else:
                    res.updated.append(e)
                    changes.append({"e": e, "p": orjson.dumps(merged).decode()})
            if changes:
                conn.execute(t.update().where((t.c.tenant_id == tenant_id)
                                              & (t.c.educator_id == sa.bindparam("e")))
                             .values(profile=sa.bindparam("p"),
                                     data_version=t.c.data_version + 1, updated_at=now()),
                             changes)
            return res

        return retrying(self.engine, write) if ids else ProfileWrite([], [], [], [], [])
