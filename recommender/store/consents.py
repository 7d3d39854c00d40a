"""What the evidence firewall reads (docs/firewall.md): the tenant's evidence policy and its
educators' consent events.

The policy is a versioned document of kind ``evidence_policy``
(:mod:`recommender.store.documents`), stored as given after
:func:`recommender.firewall.build_policy` has checked it (the API does). Consent is kept as
events in ``consent_events`` (migration 0007), never updated or deleted: the latest event per
(educator, source) is the current setting, and the earlier ones say who changed what when.

Both change what stored mastery was computed from, so both bump ``data_version`` in the same
transaction as their write, as setting the evidence clock does
(:mod:`recommender.store.tenant_settings`): a new policy bumps every educator of the tenant, a
consent change the one educator. Each process then recomputes that mastery, and drops its
cached answers, on the next read. Locks follow the write paths' order
(:mod:`recommender.store.engine`): educators in id order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from recommender.firewall import DEFAULT_POLICY, EvidenceFirewall, EvidencePolicy, build_policy
from recommender.store import schema
from recommender.store.documents import StoredDocument, latest_document, write_document
from recommender.store.educators import bump_versions
from recommender.store.engine import StoreBase, aware, chunks, now, retrying

__all__ = ["POLICY_KIND", "ConsentSetting", "ConsentStore"]

POLICY_KIND = "evidence_policy"
"""The ``tenant_content.kind`` of evidence-policy rows."""


@dataclass(frozen=True)
class ConsentSetting:
    """An educator's current setting for one source: the latest event about it."""

    source: str
    withdrawn: bool
    changed_at: datetime
    by: str


class ConsentStore(StoreBase):
    """The evidence policy and consent events of :class:`recommender.store.Store`."""

    def evidence_policy_document(self, tenant_id: str) -> StoredDocument | None:
        """The tenant's newest stored policy document (None: the default policy holds)."""
        return latest_document(self, tenant_id, POLICY_KIND)

    def evidence_policy(self, tenant_id: str) -> EvidencePolicy:
        """The policy in force (:data:`recommender.firewall.DEFAULT_POLICY` when none is
        stored); a stored one that no longer validates raises
        :class:`~recommender.firewall.EvidencePolicyError` rather than being ignored."""
        stored = self.evidence_policy_document(tenant_id)
        if stored is None:
            return DEFAULT_POLICY
        return build_policy(stored.document, stored.version)

    def put_evidence_policy(self, tenant_id: str, document: Mapping, *, by: str = ""
                            ) -> tuple[int, int]:
        """Store ``document`` (checked by the caller) as the tenant's newest policy and bump
        every educator's ``data_version`` in the same transaction; return ``(version, how many
        educators)``."""
        e = schema.educators

        def write(conn: Connection) -> tuple[int, int]:
            version = write_document(conn, tenant_id, POLICY_KIND, document, by=by)
            ids = [r[0] for r in conn.execute(sa.select(e.c.educator_id).where(
                e.c.tenant_id == tenant_id).order_by(e.c.educator_id))]
            bump_versions(conn, tenant_id, ids)
            return version, len(ids)

        return retrying(self.engine, write)

    def consent_settings(self, tenant_id: str, educator_ids: Iterable[str]
                         ) -> dict[str, list[ConsentSetting]]:
        """Each educator's current setting per source they ever changed (sources in name
        order; educators without an event are absent): one query per 900 educators."""
        t = schema.consent_events
        ids = list(dict.fromkeys(educator_ids))
        out: dict[str, list[ConsentSetting]] = {}
        with self.engine.connect() as conn:
            for part in chunks(ids):
                mine = (t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part)
                latest = (sa.select(sa.func.max(t.c.event_id)).where(mine)
                          .group_by(t.c.educator_id, t.c.source))
                rows = conn.execute(
                    sa.select(t.c.educator_id, t.c.source, t.c.withdrawn, t.c.at, t.c.by)
                    .where(t.c.event_id.in_(latest))
                    .order_by(t.c.educator_id, t.c.source)).all()
                for r in rows:
                    out.setdefault(r.educator_id, []).append(
                        ConsentSetting(r.source, bool(r.withdrawn), aware(r.at), r.by))
        return out

    def withdrawals(self, tenant_id: str, educator_ids: Iterable[str]
                    ) -> dict[str, frozenset[str]]:
        """The sources each educator has withdrawn consent for now (educators with none are
        absent)."""
        found = {e: frozenset(s.source for s in settings if s.withdrawn)
                 for e, settings in self.consent_settings(tenant_id, educator_ids).items()}
        return {e: sources for e, sources in found.items() if sources}

    def firewall(self, tenant_id: str, educator_ids: Iterable[str]) -> EvidenceFirewall:
        """The policy in force and these educators' withdrawals, read together (read them
        after the educators' ``data_version``: a change made meanwhile has bumped it)."""
        ids = list(educator_ids)
        return EvidenceFirewall(self.evidence_policy(tenant_id),
                                MappingProxyType(self.withdrawals(tenant_id, ids)))

    def set_consent(self, tenant_id: str, educator_id: str, withdrawn: Iterable[str], *,
                    by: str = "") -> list[str]:
        """Make ``withdrawn`` (known sources, checked by the caller) the educator's full list
        of withdrawn sources: one event per source whose setting changes (a withdrawal, or a
        restoration of a source withdrawn now), and a ``data_version`` bump when any did;
        return the changed sources, sorted. The educator must exist (the caller checks)."""
        t, e = schema.consent_events, schema.educators
        wanted = set(withdrawn)

        def write(conn: Connection) -> list[str]:
            key = (e.c.tenant_id == tenant_id) & (e.c.educator_id == educator_id)
            if conn.dialect.name == "postgresql":  # one writer per educator at a time
                conn.execute(sa.select(e.c.educator_id).where(key)
                             .with_for_update(key_share=True))
            mine = (t.c.tenant_id == tenant_id) & (t.c.educator_id == educator_id)
            latest = sa.select(sa.func.max(t.c.event_id)).where(mine).group_by(t.c.source)
            now_withdrawn = {r.source for r in conn.execute(
                sa.select(t.c.source, t.c.withdrawn).where(t.c.event_id.in_(latest)))
                if r.withdrawn}
            changed = sorted(wanted ^ now_withdrawn)
            if changed:
                at = now()
                conn.execute(t.insert(), [
                    {"tenant_id": tenant_id, "educator_id": educator_id, "source": s,
                     "withdrawn": s in wanted, "at": at, "by": str(by)[:200]}
                    for s in changed])
                bump_versions(conn, tenant_id, [educator_id])
            return changed

        return retrying(self.engine, write)
