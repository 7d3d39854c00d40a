"""A tenant's equity audits in the store (docs/audit.md): the latest one is what admins read.

Kept in the ``tenant_content`` table (migration 0005; no migration of its own, as the renewal
rules) under the kind ``equity_audit``, one row per audit (version 1, 2, ...), the audit JSON
of :func:`pipelines.audit_run.audit_json` as the document. Rows are written with ``active``
false, so the content machinery (which resolves a tenant's framework and catalog from its active
rows) never sees them, and no educator's ``data_version`` is bumped: an audit changes no
mastery. Audits are never deleted (the history of what the engine served whom).
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

__all__ = ["KIND", "StoredAudit", "latest_audit", "put_audit"]

KIND = "equity_audit"
"""The ``tenant_content.kind`` of equity-audit rows."""


@dataclass(frozen=True)
class StoredAudit:
    """One stored audit: its version, document and who ran it when."""

    version: int
    document: dict[str, Any]
    created_by: str
    created_at: datetime | None


def latest_audit(store: StoreBase, tenant_id: str) -> StoredAudit | None:
    """The tenant's newest audit (None: never audited)."""
    t = schema.tenant_content
    with store.engine.connect() as conn:
        row = conn.execute(sa.select(t).where((t.c.tenant_id == tenant_id) & (t.c.kind == KIND))
                           .order_by(t.c.version.desc()).limit(1)).first()
    if row is None:
        return None
    return StoredAudit(int(row.version), orjson.loads(row.document), row.uploaded_by,
                       aware(row.uploaded_at))


def put_audit(store: StoreBase, tenant_id: str, document: Mapping, *, by: str = "") -> int:
    """Store ``document`` as the tenant's newest audit (creating the tenant if needed); return
    its version. The content hash column holds the document's SHA-256."""
    t = schema.tenant_content
    text = orjson.dumps(dict(document), option=orjson.OPT_SORT_KEYS).decode()
    digest = hashlib.sha256(text.encode()).hexdigest()

    def write(conn: Connection) -> int:
        conn.execute(insert_on_conflict(store.dialect, schema.tenants).values(
            tenant_id=tenant_id, name="", created_at=now()).on_conflict_do_nothing())
        mine = (t.c.tenant_id == tenant_id) & (t.c.kind == KIND)
        version = int(conn.execute(sa.select(sa.func.max(t.c.version)).where(mine)).scalar()
                      or 0) + 1
        conn.execute(t.insert().values(
            tenant_id=tenant_id, kind=KIND, version=version, document=text,
            content_hash=digest, active=False, uploaded_by=str(by)[:200], uploaded_at=now()))
        return version

    return retrying(store.engine, write)
