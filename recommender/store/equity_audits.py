"""A tenant's equity audits in the store (docs/audit.md): the latest one is what admins read.

Versioned documents of kind ``equity_audit`` (:mod:`recommender.store.documents`), one per
audit, the audit JSON of :func:`pipelines.audit_run.audit_json` as the document: an audit
changes no mastery, and audits are never deleted (the history of what the engine served whom).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from recommender.store.documents import latest_document, put_document
from recommender.store.engine import StoreBase

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
    found = latest_document(store, tenant_id, KIND)
    return None if found is None else StoredAudit(found.version, found.document,
                                                  found.uploaded_by, found.uploaded_at)


def put_audit(store: StoreBase, tenant_id: str, document: Mapping, *, by: str = "") -> int:
    """Store ``document`` as the tenant's newest audit (creating the tenant if needed); return
    its version."""
    return put_document(store, tenant_id, KIND, document, by=by)
