"""Completions reported by xAPI statements, stored once each as feedback ``completed`` events.

A completion (:attr:`recommender.xapi.XapiMapping.completions`) is a feedback event like any
other (``event="completed"``, ``by="xapi"``), so the ranker treats the activity as done and the
model counts it, and its ``note`` names the statement (:func:`completion_note`): resending the
statement finds that note and is a duplicate, as resending evidence is. Two clients sending the
same statement at the same instant may both store it; a repeated ``completed`` event changes
nothing the engine computes.
"""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa

from recommender.store import schema
from recommender.store.educators import create_educators
from recommender.store.engine import chunks, write_transaction
from recommender.store.store import Store

__all__ = ["XAPI_BY", "completion_note", "ensure_educators", "recorded_completions"]

XAPI_BY = "xapi"
"""The ``by`` of a completion recorded from an xAPI statement."""


def completion_note(statement_id: str) -> str:
    """The note that ties a stored completion to its statement."""
    return f"xAPI statement {statement_id}"


def recorded_completions(store: Store, tenant_id: str, educator_ids: Iterable[str],
                         statement_ids: Iterable[str]) -> set[str]:
    """The statements among ``statement_ids`` whose completion is already stored."""
    t = schema.feedback
    notes = {completion_note(s): s for s in statement_ids}
    ids = sorted(set(educator_ids))
    found: set[str] = set()
    with store.engine.connect() as conn:
        for part in chunks(ids):
            q = sa.select(t.c.note).where(
                (t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part)
                & (t.c.event == "completed") & (t.c.by == XAPI_BY)
                & t.c.note.in_(list(notes)))
            found.update(notes[n] for (n,) in conn.execute(q) if n in notes)
    return found


def ensure_educators(store: Store, tenant_id: str, educator_ids: Iterable[str]) -> None:
    """Create the educators that do not exist yet (empty profile), in id order (the lock order
    of every write path); existing ones are left untouched."""
    with write_transaction(store.engine) as conn:
        create_educators(conn, tenant_id, sorted(set(educator_ids)))
