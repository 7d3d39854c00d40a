"""Feedback: what was done with recommended activities, by the educator or a coach.

Events (:data:`~recommender.store.schema.FEEDBACK_EVENTS`: accepted, declined, started,
completed, rated, and a coach's pins, replacements and notes) are appended and read back oldest
first. Storing events bumps their educators' ``data_version``: feedback feeds the ranking and
the mastery model, so what was computed before is stale.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from recommender.store import schema
from recommender.store.educators import bump_versions
from recommender.store.engine import StoreBase, aware, chunks, retrying

__all__ = ["FeedbackStore"]


class FeedbackStore(StoreBase):
    """The feedback events of :class:`recommender.store.Store`."""

    def add_feedback(self, tenant_id: str, events: Sequence[Mapping[str, Any]]) -> int:
        """Store feedback events (all of one tenant) in one transaction; returns how many.

        Each event is ``{educator_id, activity_id, event, at, rating?, replaces?, by?, note?,
        key_id?}``; the educators must exist. Bumps their ``data_version`` (locked in id order;
        retried on a deadlock or serialization failure, see
        :func:`recommender.store.engine.retrying`).
        """
        if not events:
            return 0
        t = schema.feedback
        rows = [{"tenant_id": tenant_id, "educator_id": e["educator_id"],
                 "activity_id": e["activity_id"], "event": e["event"], "at": e["at"],
                 "rating": e.get("rating"), "replaces": e.get("replaces"), "by": e.get("by"),
                 "note": e.get("note"), "key_id": e.get("key_id")} for e in events]
        ids = sorted({r["educator_id"] for r in rows})

        def write(conn: Connection) -> None:
            conn.execute(t.insert(), rows)
            bump_versions(conn, tenant_id, ids)  # in id order, as every write path

        retrying(self.engine, write)
        return len(rows)

    def feedback_rows(self, tenant_id: str, educator_ids: Iterable[str]) -> list[dict]:
        """Feedback of these educators, oldest first, as dicts: ``educator_id, activity_id,
        event, at, rating, replaces, by``."""
        t = schema.feedback
        ids = list(dict.fromkeys(educator_ids))
        cols = [t.c.educator_id, t.c.activity_id, t.c.event, t.c.at, t.c.rating, t.c.replaces,
                t.c.by, t.c.feedback_id]
        rows: list = []
        with self.engine.connect() as conn:
            for part in chunks(ids):
                rows.extend(conn.execute(sa.select(*cols).where(
                    (t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part))).all())
        out = [{"educator_id": r[0], "activity_id": r[1], "event": r[2], "at": aware(r[3]),
                "rating": r[4], "replaces": r[5], "by": r[6], "_id": r[7]} for r in rows]
        out.sort(key=lambda r: (r["at"], r["_id"]))
        for r in out:
            del r["_id"]
        return out

    def feedback_frame(self, tenant_id: str, educator_ids: Iterable[str]) -> pd.DataFrame:
        """:meth:`feedback_rows` as a DataFrame (``at`` as ``datetime64[us, UTC]``)."""
        cols = ["educator_id", "activity_id", "event", "at", "rating", "replaces", "by"]
        frame = pd.DataFrame(self.feedback_rows(tenant_id, educator_ids), columns=cols)
        frame["at"] = pd.to_datetime(frame["at"], utc=True).astype("datetime64[us, UTC]")
        return frame
