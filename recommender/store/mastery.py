"""Stored mastery: each educator's estimates as last computed, kept to serve reads fast.

A row records the ``data_version`` of the educator it was computed at: once the version has
moved on (new evidence, feedback or profile), the row is stale and the caller recomputes it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from recommender.store import schema
from recommender.store.engine import StoreBase, aware, chunks, insert_on_conflict, retrying

__all__ = ["MasteryCell", "MasteryStore", "StoredMastery"]


class MasteryCell(NamedTuple):
    """One competency of a stored mastery table."""

    p: float
    """The mastery level (``p_mastery``)."""
    n_evidence: int
    p_bound: float
    """The lower bound that decides "mastered" (:mod:`recommender.ranking.mastery`); equal to
    ``p`` for estimates without one and for rows stored before bounds were."""


NO_MASTERY = MasteryCell(0.0, 0, 0.0)
"""The cell of a competency a table does not have (the ranker reads it as P = 0)."""


@dataclass(frozen=True)
class StoredMastery:
    """Mastery of one educator as computed and stored: ``{competency_id: MasteryCell}``."""

    model_key: str
    data_version: int
    computed_at: datetime
    evidence_watermark_us: int | None
    table: dict[str, MasteryCell]


class MasteryStore(StoreBase):
    """The stored mastery of :class:`recommender.store.Store`."""

    def get_mastery(self, tenant_id: str, educator_ids: Iterable[str]) -> dict[str, StoredMastery]:
        """Stored mastery of these educators (absent when never computed)."""
        t = schema.mastery
        ids = list(dict.fromkeys(educator_ids))
        out: dict[str, StoredMastery] = {}
        with self.engine.connect() as conn:
            for part in chunks(ids):
                for r in conn.execute(sa.select(t).where((t.c.tenant_id == tenant_id)
                                                         & t.c.educator_id.in_(part))):
                    out[r.educator_id] = StoredMastery(
                        model_key=r.model_key, data_version=int(r.data_version),
                        computed_at=aware(r.computed_at),
                        evidence_watermark_us=r.evidence_watermark_us,
                        table={c: _cell(v) for c, v in orjson.loads(r.table_json).items()},
                    )
        return out

    def put_mastery(self, tenant_id: str, entries: Mapping[str, StoredMastery]) -> None:
        """Upsert stored mastery, one row per educator, in one transaction.

        A row is only overwritten by one computed at the same or a newer ``data_version``, so a
        slow refresh never replaces a fresher one.
        """
        if not entries:
            return
        t = schema.mastery
        rows = [{"tenant_id": tenant_id, "educator_id": e, "model_key": m.model_key,
                 "data_version": m.data_version, "computed_at": m.computed_at,
                 "evidence_watermark_us": m.evidence_watermark_us,
                 "table_json": orjson.dumps({c: list(v) for c, v in m.table.items()}).decode()}
                for e, m in sorted(entries.items())]  # id order: the store's lock order
        stmt = insert_on_conflict(self.dialect, t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.tenant_id, t.c.educator_id],
            set_={c: stmt.excluded[c] for c in ("model_key", "data_version", "computed_at",
                                                "evidence_watermark_us", "table_json")},
            where=t.c.data_version <= stmt.excluded.data_version,
        )
        def write(conn: Connection) -> None:
            for part in chunks(rows, 500):
                conn.execute(stmt, part)

        retrying(self.engine, write)


def _cell(stored: list) -> MasteryCell:
    """A stored ``[p, n]`` (before bounds) or ``[p, n, p_bound]`` as a :class:`MasteryCell`."""
    p = float(stored[0])
    return MasteryCell(p, int(stored[1]), float(stored[2]) if len(stored) > 2 else p)
