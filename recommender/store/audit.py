"""The recommendation log: the audit trail of what was shown, to whom, by which model version.

Rows are only ever appended: the log answers later what a user saw and why.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from recommender.store import schema
from recommender.store.engine import CompiledInsert, KeptWriter, StoreBase

__all__ = ["AuditStore"]


class AuditStore(StoreBase):
    """The recommendation log of :class:`recommender.store.Store`."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self._log_insert = CompiledInsert(engine, schema.recommendation_log)

    def log_recommendations(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append rows to the recommendation log with one insert (what was shown, to whom, by
        which model version), run by the driver (:class:`CompiledInsert`: the API writes
        thousands of rows a second)."""
        self._log_insert.run_in_transaction(self.engine, rows)

    def recommendation_log_writer(self) -> KeptWriter:
        """A writer of recommendation-log batches for one thread at a time, on a connection it
        keeps (:class:`~recommender.store.engine.KeptWriter`: the API's log thread writes a
        batch every few milliseconds); ``close()`` it when done."""
        return KeptWriter(self.engine, self._log_insert)

    def recommendation_log(self, tenant_id: str, educator_id: str | None = None) -> pd.DataFrame:
        """The tenant's log (or one educator's), oldest first, one column per stored column."""
        t = schema.recommendation_log
        q = sa.select(t).where(t.c.tenant_id == tenant_id)
        if educator_id is not None:
            q = q.where(t.c.educator_id == educator_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(t.c.log_id)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows],
                            columns=[c.name for c in t.columns])
