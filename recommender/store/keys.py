"""Tenants and their API keys.

A tenant is the scope of every row of the store. An API key belongs to one tenant and has one
of :data:`~recommender.store.schema.ROLES`; only the SHA-256 of its secret is stored
(:func:`hash_key`), so a key is shown once, when created, and found again by its hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from recommender.store import schema
from recommender.store.engine import StoreBase, aware, insert_on_conflict, now, write_transaction
from recommender.store.schema import ROLES

__all__ = ["ApiKey", "KeyStore", "api_key_record", "hash_key"]


def hash_key(key: str) -> str:
    """SHA-256 of an API key, hex. Keys are 256-bit random secrets, so a fast hash suffices."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """An API key's record (never the key itself)."""

    key_id: str
    tenant_id: str
    role: str
    label: str
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def api_key_record(row) -> ApiKey:  # noqa: ANN001
    """The :class:`ApiKey` of a row holding the ``api_keys`` columns (a join's row too)."""
    return ApiKey(key_id=row.key_id, tenant_id=row.tenant_id, role=row.role, label=row.label,
                  created_at=aware(row.created_at), revoked_at=aware(row.revoked_at))


class KeyStore(StoreBase):
    """The tenants and API keys of :class:`recommender.store.Store`."""

    def ensure_tenant(self, tenant_id: str, name: str = "") -> None:
        """Create the tenant if it does not exist."""
        stmt = insert_on_conflict(self.dialect, schema.tenants).values(
            tenant_id=tenant_id, name=name, created_at=now()
        ).on_conflict_do_nothing()
        with write_transaction(self.engine) as conn:
            conn.execute(stmt)

    def tenants(self) -> list[str]:
        """Every tenant's id, in id order."""
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(sa.select(schema.tenants.c.tenant_id).order_by(
                schema.tenants.c.tenant_id))]

    def create_key(self, tenant_id: str, role: str, label: str = "") -> tuple[str, ApiKey]:
        """Create an API key (and the tenant if needed); return ``(secret, record)``.

        The secret is ``pdrec_<key_id>_<random>``; only its SHA-256 is stored, so it can be
        shown once and never again.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {list(ROLES)}; got {role!r}")
        if not tenant_id or not str(tenant_id).strip():
            raise ValueError("tenant must be a non-empty name")
        self.ensure_tenant(tenant_id)
        key_id = secrets.token_hex(6)
        secret = f"pdrec_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id=key_id, tenant_id=tenant_id, role=role, label=label,
                        created_at=now())
        with write_transaction(self.engine) as conn:
            conn.execute(schema.api_keys.insert().values(
                key_id=key_id, tenant_id=tenant_id, role=role, key_hash=hash_key(secret),
                label=label, created_at=record.created_at,
            ))
        return secret, record

    def key_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key record with this hash, revoked or not; None if there is none."""
        t = schema.api_keys
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.key_hash == key_hash)).first()
        return None if row is None else api_key_record(row)

    def list_keys(self, tenant_id: str | None = None) -> list[ApiKey]:
        """Keys (of one tenant, or all), oldest first."""
        t = schema.api_keys
        q = sa.select(t).order_by(t.c.created_at, t.c.key_id)
        if tenant_id is not None:
            q = q.where(t.c.tenant_id == tenant_id)
        with self.engine.connect() as conn:
            return [api_key_record(r) for r in conn.execute(q)]

    def revoke_key(self, key_id: str, tenant_id: str | None = None) -> ApiKey | None:
        """Revoke a key by id (within ``tenant_id`` when given); None if no such key."""
        t = schema.api_keys
        cond = t.c.key_id == key_id
        if tenant_id is not None:
            cond &= t.c.tenant_id == tenant_id
        with write_transaction(self.engine) as conn:
            conn.execute(t.update().where(cond & t.c.revoked_at.is_(None)).values(
                revoked_at=now()))
            row = conn.execute(sa.select(t).where(cond)).first()
        return None if row is None else api_key_record(row)
