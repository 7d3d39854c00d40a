"""A tenant's own content in the store: versions of its framework and its catalog.

One row per uploaded version (``tenant_content``, migration 0005): the document as JSON (the
mapping :func:`recommender.graph.load_framework` / :func:`recommender.catalog.load_catalog`
read), its content hash, who uploaded it and when, its number (1, 2, ... per tenant and kind),
and whether it is the active one. A tenant without an active row of a kind uses the
deployment's default of that kind. Versions are never deleted: an upload deactivates the
previous one, :meth:`ContentStore.activate_content` brings an older one back.

The store keeps documents as given; :mod:`recommender.tenant_content` validates them before they
are written (the API and the CLI both go through it). Writing a version changes what every
stored mastery row of the tenant was computed from, so it bumps every educator's
``data_version`` in the same transaction, as setting the evidence clock does
(:mod:`recommender.store.tenant_settings`): each process recomputes on the next read.
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
from recommender.store.educators import bump_versions
from recommender.store.engine import (
    StoreBase,
    aware,
    insert_on_conflict,
    now,
    retrying,
)

__all__ = ["ContentStore", "ContentVersion"]


@dataclass(frozen=True)
class ContentVersion:
    """One stored version of a tenant's framework or catalog (``document`` None when listed
    without it)."""

    tenant_id: str
    kind: str
    version: int
    content_hash: str
    active: bool
    uploaded_by: str
    uploaded_at: datetime | None
    document: dict[str, Any] | None = None


def _check_kind(kind: str) -> None:
    if kind not in schema.CONTENT_KINDS:
        raise ValueError(f"kind must be one of {list(schema.CONTENT_KINDS)}, got {kind!r}")


def _version(row, with_document: bool) -> ContentVersion:  # noqa: ANN001
    return ContentVersion(
        tenant_id=row.tenant_id, kind=row.kind, version=int(row.version),
        content_hash=row.content_hash, active=bool(row.active), uploaded_by=row.uploaded_by,
        uploaded_at=aware(row.uploaded_at),
        document=orjson.loads(row.document) if with_document else None)


def _bump_tenant(conn: Connection, tenant_id: str) -> int:
    """Bump every educator of the tenant (in id order, as every writer); return how many."""
    e = schema.educators
    ids = [r[0] for r in conn.execute(sa.select(e.c.educator_id).where(
        e.c.tenant_id == tenant_id).order_by(e.c.educator_id))]
    bump_versions(conn, tenant_id, ids)
    return len(ids)


class ContentStore(StoreBase):
    """The tenants' framework and catalog versions of :class:`recommender.store.Store`."""

    def active_content(self, tenant_id: str) -> dict[str, tuple[int, str]]:
        """``{kind: (version, content_hash)}`` of the tenant's active versions (one indexed
        read, no documents: the API's per-request check); a kind absent uses the default."""
        t = schema.tenant_content
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.kind, t.c.version, t.c.content_hash).where(
                (t.c.tenant_id == tenant_id) & t.c.active)).all()
        return {r.kind: (int(r.version), r.content_hash) for r in rows}

    def content_version(self, tenant_id: str, kind: str, version: int | None = None
                        ) -> ContentVersion | None:
        """One version with its document: ``version``, or the active one when None (None:
        no such version, or no active one, i.e. the default)."""
        _check_kind(kind)
        t = schema.tenant_content
        where = (t.c.tenant_id == tenant_id) & (t.c.kind == kind)
        where &= t.c.active if version is None else (t.c.version == int(version))
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(where)).first()
        return None if row is None else _version(row, True)

    def content_versions(self, tenant_id: str, kind: str) -> list[ContentVersion]:
        """Every stored version of this kind, newest first, without their documents."""
        _check_kind(kind)
        t = schema.tenant_content
        cols = [c for c in t.c if c.name != "document"]
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(*cols).where(
                (t.c.tenant_id == tenant_id) & (t.c.kind == kind))
                .order_by(t.c.version.desc())).all()
        return [_version(r, False) for r in rows]

    def put_content(self, tenant_id: str, documents: Mapping[str, tuple[Mapping, str]], *,
                    by: str = "") -> tuple[dict[str, int], int]:
        """Store new active versions, ``{kind: (document, content_hash)}``, in one transaction
        (a framework and the catalog that fits it land together), creating the tenant if
        needed, and bump its educators' ``data_version``. Returns ``({kind: version}, number of
        educators marked stale)``."""
        for kind in documents:
            _check_kind(kind)
        texts = {k: (orjson.dumps(dict(doc)).decode(), str(h)) for k, (doc, h) in
                 documents.items()}
        t = schema.tenant_content

        def write(conn: Connection) -> tuple[dict[str, int], int]:
            conn.execute(insert_on_conflict(self.dialect, schema.tenants).values(
                tenant_id=tenant_id, name="", created_at=now()).on_conflict_do_nothing())
            versions = {}
            for kind, (text, digest) in sorted(texts.items()):
                mine = (t.c.tenant_id == tenant_id) & (t.c.kind == kind)
                top = conn.execute(sa.select(sa.func.max(t.c.version)).where(mine)).scalar()
                versions[kind] = int(top or 0) + 1
                conn.execute(t.update().where(mine & t.c.active).values(active=False))
                conn.execute(t.insert().values(
                    tenant_id=tenant_id, kind=kind, version=versions[kind], document=text,
                    content_hash=digest, active=True, uploaded_by=str(by)[:200],
                    uploaded_at=now()))
            return versions, _bump_tenant(conn, tenant_id)

        return retrying(self.engine, write)

    def activate_content(self, tenant_id: str, kind: str, version: int | None) -> int:
        """Make a stored version the active one (None: back to the default), bump the tenant's
        educators; return how many. Raises ``KeyError`` for a version that does not exist."""
        _check_kind(kind)
        t = schema.tenant_content
        mine = (t.c.tenant_id == tenant_id) & (t.c.kind == kind)

        def write(conn: Connection) -> int:
            if version is not None and conn.execute(sa.select(t.c.version).where(
                    mine & (t.c.version == int(version)))).first() is None:
                raise KeyError(f"tenant {tenant_id!r} has no {kind} version {version}")
            conn.execute(t.update().where(mine & t.c.active).values(active=False))
            if version is not None:
                conn.execute(t.update().where(mine & (t.c.version == int(version)))
                             .values(active=True))
            return _bump_tenant(conn, tenant_id)

        return retrying(self.engine, write)

    def evidence_by_competency(self, tenant_id: str) -> dict[str, tuple[int, int]]:
        """``{competency_id: (records, educators)}`` of the tenant's stored evidence (one
        grouped query): what a framework change is checked against."""
        ev = schema.evidence
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(
                ev.c.competency_id, sa.func.count(),
                sa.func.count(sa.distinct(ev.c.educator_id)))
                .where(ev.c.tenant_id == tenant_id).group_by(ev.c.competency_id)).all()
        return {str(r[0]): (int(r[1]), int(r[2])) for r in rows}
