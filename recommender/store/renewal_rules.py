"""A tenant's licensure-renewal rules in the store (docs/renewal.md).

Kept in the ``tenant_content`` table (migration 0005; no migration of its own) under the kind
``renewal``, one row per version (1, 2, ...), the validated document as JSON. The current rules
are the **newest** version; rows are written with ``active`` false, so the content machinery
(:meth:`~recommender.store.content.ContentStore.active_content`, which resolves a tenant's
framework and catalog from its active rows) never sees them. Unlike a framework or catalog
upload, new rules change no mastery: no educator's ``data_version`` is bumped. Versions are
never deleted. The store keeps documents as given; :func:`recommender.renewal.build_rules`
validates them first (the API does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from recommender.store import schema
from recommender.store.engine import StoreBase, aware, insert_on_conflict, now, retrying

__all__ = ["KIND", "StoredRules", "put_renewal_rules", "renewal_rules"]

KIND = "renewal"
"""The ``tenant_content.kind`` of renewal-rule rows."""


@dataclass(frozen=True)
class StoredRules:
    """The tenant's current rules document and its version."""

    version: int
    document: dict[str, Any]
    uploaded_by: str
    uploaded_at: datetime | None


def renewal_rules(store: StoreBase, tenant_id: str) -> StoredRules | None:
    """The tenant's newest rules (None: it set none)."""
    t = schema.tenant_content
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(t).where((t.c.tenant_id == tenant_id) & (t.c.kind == KIND))
                           .order_by(t.c.version.desc()).limit(1)).first()
    if row is None:
        return None
    return StoredRules(int(row.version), orjson.loads(row.document), row.uploaded_by,
                       aware(row.uploaded_at))


def put_renewal_rules(store: StoreBase, tenant_id: str, document: Mapping, content_hash: str,
                      *, by: str = "") -> int:
    """Store ``document`` as the tenant's newest rules (creating the tenant if needed); return
    its version."""
    t = schema.tenant_content
    text = orjson.dumps(dict(document)).decode()

    def write(conn: Connection) -> int:
        conn.execute(insert_on_conflict(store.dialect, schema.tenants).values(
            tenant_id=tenant_id, name="", created_at=now()).on_conflict_do_nothing())
        mine = (t.c.tenant_id == tenant_id) & (t.c.kind == KIND)
        version = int(conn.execute(sa.select(sa.func.max(t.c.version)).where(mine)).scalar()
                      or 0) + 1
        conn.execute(t.insert().values(
            tenant_id=tenant_id, kind=KIND, version=version, document=text,
            content_hash=str(content_hash), active=False, uploaded_by=str(by)[:200],
            uploaded_at=now()))
        return version

    return retrying(store.engine, write)
