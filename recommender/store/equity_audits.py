"""A tenant's equity audits in the store (docs/audit.md): the latest one is what admins read.

Versioned documents of kind ``equity_audit`` (:mod:`recommender.store.documents`), one per
audit, the audit JSON of :func:`pipelines.audit_run.audit_json` as the document: an audit
changes no mastery, and audits are never deleted (the history of what the engine served whom).
"""

from __future__ import annotations

from collections.abc import Mapping

from recommender.store.documents import StoredDocument, latest_document, put_document
from recommender.store.engine import StoreBase

__all__ = ["KIND", "latest_audit", "put_audit"]

KIND = "equity_audit"
"""The ``tenant_content.kind`` of equity-audit rows."""


def latest_audit(store: StoreBase, tenant_id: str) -> StoredDocument | None:
    """The tenant's newest audit (None: never audited): its version, document, who stored it
    (``uploaded_by``) and when (``uploaded_at``)."""
    return latest_document(store, tenant_id, KIND)


def put_audit(store: StoreBase, tenant_id: str, document: Mapping, *, by: str = "") -> int:
    """Store ``document`` as the tenant's newest audit (creating the tenant if needed); return
    its version."""
    return put_document(store, tenant_id, KIND, document, by=by)
