"""A tenant's licensure-renewal rules in the store (docs/renewal.md).

Versioned documents of kind ``renewal`` (:mod:`recommender.store.documents`): the current rules
are the newest version; new rules change no mastery. The store keeps documents as given;
:func:`recommender.renewal.build_rules` validates them first (the API does).
"""

from __future__ import annotations

from collections.abc import Mapping

from recommender.store.documents import StoredDocument, latest_document, put_document
from recommender.store.engine import StoreBase

__all__ = ["KIND", "StoredRules", "put_renewal_rules", "renewal_rules"]

KIND = "renewal"
"""The ``tenant_content.kind`` of renewal-rule rows."""

StoredRules = StoredDocument
"""The tenant's current rules document, its version, who stored it and when."""


def renewal_rules(store: StoreBase, tenant_id: str) -> StoredRules | None:
    """The tenant's newest rules (None: it set none)."""
    return latest_document(store, tenant_id, KIND)


def put_renewal_rules(store: StoreBase, tenant_id: str, document: Mapping, *,
                      by: str = "") -> int:
    """Store ``document`` as the tenant's newest rules (creating the tenant if needed); return
    its version."""
    return put_document(store, tenant_id, KIND, document, by=by)
