"""Served answers: an educator's ranked answer to one query, kept where every API worker reads it.

The API computes an educator's answer when their data changes (or on the first read after) and
stores it here (:mod:`api.answers`), so a read in any worker is one point read: the educator's
``data_version`` and creation time joined with the answer computed at exactly those. A row
whose educator has moved on (new evidence, feedback, profile, consent, policy or clock: each
bumps ``data_version``) no longer joins and is overwritten by the next answer; writing an
educator's answer deletes their rows of older versions, so a table holds at most the queries
asked since each educator's last change.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from recommender.store import schema
from recommender.store.engine import (
    StoreBase,
    chunks,
    insert_on_conflict,
    retrying,
)
from recommender.store.point_reads import CompiledSelect

__all__ = ["AnswerStore", "StoredAnswer", "AnsweredAt"]

Shown = tuple[tuple[int, str, float, bool], ...]
"""``(rank, activity_id, score, pinned)`` of each item, in rank order."""


class StoredAnswer(NamedTuple):
    """A ranked answer as served: the response's ``items`` serialized, their log rows, the
    evidence policy label it ran under and when it was computed (microseconds, UTC)."""

    items_json: bytes
    shown: Shown
    label: str
    computed_us: int


class AnsweredAt(NamedTuple):
    """The educator data an answer was computed from: their ``data_version`` and creation time
    (an educator removed and created again starts a new history)."""

    data_version: int
    created_at: datetime


def _answer_query(engine: Engine) -> CompiledSelect:
    """The read path's one query: the educator's version and stamp, and the answer to
    ``query_key`` computed at exactly those (NULLs when there is none)."""
    e, a = schema.educators, schema.served_answers
    current = ((a.c.tenant_id == e.c.tenant_id) & (a.c.educator_id == e.c.educator_id)
               & (a.c.query_key == sa.bindparam("query_key"))
               & (a.c.data_version == e.c.data_version)
               & (a.c.educator_created_at == e.c.created_at))
    return CompiledSelect(engine, sa.select(
        e.c.data_version, e.c.created_at, a.c.label, a.c.items_json, a.c.shown_json,
        a.c.computed_us,
    ).select_from(e.outerjoin(a, current)).where(
        (e.c.tenant_id == sa.bindparam("tenant_id"))
        & (e.c.educator_id == sa.bindparam("educator_id"))))


def _answer(row: tuple | None) -> tuple[tuple[int, Any] | None, StoredAnswer | None]:
    """``((data_version, stamp), answer)`` of a row of :func:`_answer_query`."""
    if row is None:
        return None, None
    version = (int(row[0]), row[1])
    if row[2] is None:
        return version, None
    # (rank, activity_id, score, pinned) as written by put_answers: JSON keeps the types
    shown = tuple(map(tuple, orjson.loads(row[4])))
    return version, StoredAnswer(bytes(row[3]), shown, row[2], int(row[5]))


class AnswerStore(StoreBase):
    """The served answers of :class:`recommender.store.Store`."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self._answer_sql = _answer_query(engine)

    def read_answer(self, tenant_id: str, educator_id: str, query_key: str
                    ) -> tuple[tuple[int, Any] | None, StoredAnswer | None]:
        """``((data_version, stamp), answer)`` in one point read: ``(None, None)`` when the
        educator does not exist, ``answer`` None when none is stored for their current data.

        ``stamp`` is the creation time as the driver returns it (opaque, comparable), as in
        :meth:`recommender.store.educators.EducatorStore.educator_version`.
        """
        return _answer(self._answer_sql.first({"tenant_id": tenant_id, "educator_id": educator_id,
                                               "query_key": query_key}))

    async def read_answer_on_loop(self, tenant_id: str, educator_id: str, query_key: str
                                  ) -> tuple[tuple[int, Any] | None, StoredAnswer | None]:
        """:meth:`read_answer`, read on the running event loop's own connection
        (:meth:`recommender.store.point_reads.CompiledSelect.first_on_loop`): the API's read path."""
        return _answer(await self._answer_sql.first_on_loop({
            "tenant_id": tenant_id, "educator_id": educator_id, "query_key": query_key}))

    def put_answers(self, tenant_id: str, query_key: str,
                    answers: Mapping[str, tuple[AnsweredAt, StoredAnswer]]) -> None:
        """Store each educator's answer to ``query_key`` as computed at ``AnsweredAt``, in one
        transaction, and delete the educator's answers of older versions (any query).

        An answer is only overwritten by one computed at the same or a newer version, so a slow
        writer never replaces a fresher answer.
        """
        if not answers:
            return
        t = schema.served_answers
        rows = [{"tenant_id": tenant_id, "educator_id": e, "query_key": query_key,
                 "data_version": at.data_version, "educator_created_at": at.created_at,
                 "computed_us": answer.computed_us, "label": answer.label,
                 "items_json": answer.items_json,
                 "shown_json": orjson.dumps([list(r) for r in answer.shown])}
                for e, (at, answer) in sorted(answers.items())]  # id order: the lock order
        stmt = insert_on_conflict(self.dialect, t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.tenant_id, t.c.educator_id, t.c.query_key],
            set_={c: stmt.excluded[c] for c in ("data_version", "educator_created_at",
                                                "computed_us", "label", "items_json",
                                                "shown_json")},
            where=t.c.data_version <= stmt.excluded.data_version)
        older = t.delete().where((t.c.tenant_id == tenant_id)
                                 & (t.c.educator_id == sa.bindparam("e"))
                                 & (t.c.data_version < sa.bindparam("v")))

        def write(conn: Connection) -> None:
            for part in chunks(rows, 500):
                conn.execute(older, [{"e": r["educator_id"], "v": r["data_version"]}
                                     for r in part])
                conn.execute(stmt, part)

        retrying(self.engine, write)
