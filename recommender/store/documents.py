"""Per-tenant documents kept as versions in the ``tenant_content`` table, beside the frameworks
and catalogs (migration 0005), but never active: the renewal rules
(:mod:`recommender.store.renewal_rules`) and the equity audits
(:mod:`recommender.store.equity_audits`).

Each ``kind`` has versions 1, 2, ...; the newest is the one in force. Rows are written with
``active`` false, so the content machinery (which resolves a tenant's framework and catalog
from its active rows) never sees them, and no educator's ``data_version`` is bumped. Versions
are never deleted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from recommender.store import schema
from recommender.store.engine import StoreBase, aware, insert_on_conflict, now, retrying

__all__ = ["StoredDocument", "latest_document", "put_document", "write_document"]


@dataclass(frozen=True)
class StoredDocument:
    """One stored version of a tenant's document of some kind."""

    version: int
    document: dict[str, Any]
    uploaded_by: str
    uploaded_at: datetime | None


def latest_document(store: StoreBase, tenant_id: str, kind: str) -> StoredDocument | None:
    """The tenant's newest document of ``kind`` (None: it has none)."""
    t = schema.tenant_content
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(t).where((t.c.tenant_id == tenant_id) & (t.c.kind == kind))
                           .order_by(t.c.version.desc()).limit(1)).first()
    if row is None:
        return None
    return StoredDocument(int(row.version), orjson.loads(row.document), row.uploaded_by,
                          aware(row.uploaded_at))


def put_document(store: StoreBase, tenant_id: str, kind: str, document: Mapping, *,
                 by: str = "") -> int:
    """Store ``document`` as the tenant's newest of ``kind`` (creating the tenant if needed);
    return its version. The content hash column holds the SHA-256 of its key-sorted JSON."""
    return retrying(store.engine,
                    lambda conn: write_document(conn, tenant_id, kind, document, by=by))


def write_document(conn: Connection, tenant_id: str, kind: str, document: Mapping, *,
                   by: str = "") -> int:
    """:func:`put_document` inside the caller's write transaction (a caller that must change
    other rows with it, atomically); return the new version."""
    t = schema.tenant_content
    text = orjson.dumps(dict(document), option=orjson.OPT_SORT_KEYS).decode()
    digest = hashlib.sha256(text.encode()).hexdigest()
    conn.execute(insert_on_conflict(conn.dialect.name, schema.tenants).values(
        tenant_id=tenant_id, name="", created_at=now()).on_conflict_do_nothing())
    mine = (t.c.tenant_id == tenant_id) & (t.c.kind == kind)
    version = int(conn.execute(sa.select(sa.func.max(t.c.version)).where(mine)).scalar()
                  or 0) + 1
    conn.execute(t.insert().values(
        tenant_id=tenant_id, kind=kind, version=version, document=text,
        content_hash=digest, active=False, uploaded_by=str(by)[:200], uploaded_at=now()))
    return version
