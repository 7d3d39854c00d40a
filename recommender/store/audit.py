"""The recommendation log: the audit trail of what was shown, to whom, by which model version.

Rows are only ever appended: the log answers later what a user saw and why.

Callers write and read it one row per shown item (``rank``, ``activity_id``, ``score``,
``propensity``, ``ranker_rank`` beside the list's request, educator, model, key and time), as
they always have. It is stored one row per shown list (``recommendation_lists``, migration
0009): the list's columns once and its items as one JSON array. A kept recommendations read
shows five items; stored one row each, the database's work for the log (a row, a key and an
index entry each) was what stretched the API's slowest reads on two cores (docs/benchmarks.md,
API runs 58-62): one row per list is a fifth of the rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from operator import itemgetter
from typing import Any

import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from recommender.store import schema
from recommender.store.engine import CompiledInsert, KeptWriter, StoreBase

__all__ = ["AuditStore", "ITEM_COLUMNS", "LIST_COLUMNS", "LOG_COLUMNS", "item_rows",
           "shown_lists"]

LIST_COLUMNS = ("tenant_id", "request_id", "educator_id", "kind", "model_name", "model_version",
                "key_id", "shown_at", "policy", "evidence_policy")
"""What one shown list's items share: stored once per list."""
ITEM_COLUMNS = ("rank", "activity_id", "score", "propensity", "ranker_rank")
"""What each shown item has of its own: an element ``[rank, activity_id, ...]`` of the list's
``items`` array, in this order."""
LOG_COLUMNS = ("log_id", "tenant_id", "request_id", "educator_id", "kind", "rank", "activity_id",
               "score", "model_name", "model_version", "key_id", "shown_at", "propensity",
               "policy", "ranker_rank", "evidence_policy")
"""The columns of :meth:`AuditStore.recommendation_log`'s frame, one row per shown item
(``log_id`` is the list's: the items of one list share it)."""

_list_of = itemgetter(*LIST_COLUMNS)
_item_of = itemgetter(*ITEM_COLUMNS)


def shown_lists(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Item rows as stored rows, one per shown list: each run of consecutive rows whose list
    columns are equal is one list (an answer's rows are written together), its items a JSON
    array in row order. A column a row lacks is NULL.

    >>> [r["items"] for r in shown_lists([
    ...     {"request_id": "r1", "rank": 1, "activity_id": "A", "score": 0.9},
    ...     {"request_id": "r1", "rank": 2, "activity_id": "B", "score": 0.5}])]
    ['[[1,"A",0.9,null,null],[2,"B",0.5,null,null]]']
    """
    try:  # one C call a row
        lists, items = list(map(_list_of, rows)), list(map(_item_of, rows))
    except KeyError:  # some row lacks a column: NULL there
        lists = [tuple(r.get(c) for c in LIST_COLUMNS) for r in rows]
        items = [tuple(r.get(c) for c in ITEM_COLUMNS) for r in rows]
    return [{**dict(zip(LIST_COLUMNS, key, strict=True)),
             "items": orjson.dumps([item for _, item in run],
                                   option=orjson.OPT_SERIALIZE_NUMPY).decode()}
            for key, run in groupby(zip(lists, items, strict=True), key=itemgetter(0))]


def item_rows(stored: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stored lists (mappings with ``log_id``, the list columns and ``items``) as item rows, one
    per shown item, in list then item order: :func:`shown_lists` undone, ``log_id`` added."""
    stored = list(stored)
    every = orjson.loads("[" + ",".join(s["items"] for s in stored) + "]")  # one parse
    return [{"log_id": s["log_id"], **{c: s[c] for c in LIST_COLUMNS},
             **dict(zip(ITEM_COLUMNS, item, strict=True))}
            for s, items in zip(stored, every, strict=True) for item in items]


class AuditStore(StoreBase):
    """The recommendation log of :class:`recommender.store.Store`."""

    def __init__(self, engine: Engine):
        super().__init__(engine)
        self._list_insert = CompiledInsert(engine, schema.recommendation_lists)

    def log_recommendations(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append item rows (what was shown, to whom, by which model version) to the log in
        one transaction: one stored row per shown list (:func:`shown_lists`)."""
        self._list_insert.run_in_transaction(self.engine, shown_lists(rows))

    def recommendation_log_writer(self) -> ListWriter:
        """A writer of item-row batches for one thread at a time, on a connection it keeps
        (the API's log thread writes a batch every few milliseconds); ``close()`` it when
        done."""
        return ListWriter(self.engine, self._list_insert)

    def recommendation_log(self, tenant_id: str, educator_id: str | None = None) -> pd.DataFrame:
        """The tenant's log (or one educator's), one row per shown item (:data:`LOG_COLUMNS`),
        oldest list first, each list's items in their shown order."""
        t = schema.recommendation_lists
        q = sa.select(t).where(t.c.tenant_id == tenant_id)
        if educator_id is not None:
            q = q.where(t.c.educator_id == educator_id)
        with self.engine.connect() as conn:
            stored = conn.execute(q.order_by(t.c.log_id)).mappings().all()
        return pd.DataFrame(item_rows(stored), columns=list(LOG_COLUMNS))


class ListWriter(KeptWriter):
    """A :class:`~recommender.store.engine.KeptWriter` of the stored lists, given item rows
    (:func:`shown_lists`)."""

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert the lists of these item rows in one atomic batch."""
        super().write(shown_lists(rows))
