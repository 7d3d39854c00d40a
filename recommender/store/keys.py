"""Tenants and their API keys.

A tenant is the scope of every row of the store. An API key belongs to one tenant and has one
of :data:`~recommender.store.schema.ROLES`; only the SHA-256 of its secret is stored
(:func:`hash_key`), so a key is shown once, when created, and found again by its hash.
An ``educator`` key is bound to one existing educator of its tenant (``educator_id``), whom
alone it may read; keys of the other roles carry no educator.
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
    educator_id: str | None = None
    """The one educator an ``educator`` key may read; None for every other role."""

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def api_key_record(row) -> ApiKey:  # noqa: ANN001
    """The :class:`ApiKey` of a row holding the ``api_keys`` columns (a join's row too)."""
    return ApiKey(key_id=row.key_id, tenant_id=row.tenant_id, role=row.role, label=row.label,
                  created_at=aware(row.created_at), revoked_at=aware(row.revoked_at),
                  educator_id=row.educator_id)


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

    def create_key(self, tenant_id: str, role: str, label: str = "",
                   educator_id: str | None = None) -> tuple[str, ApiKey]:
        """Create an API key (and the tenant if needed); return ``(secret, record)``.

        The secret is ``pdrec_<key_id>_<random>``; only its SHA-256 is stored, so it can be
        shown once and never again. An ``educator`` key needs ``educator_id``, an educator
        already stored in the tenant (a key for nobody, or for an id that a later roster may
        give to someone else, is refused); any other role must not name one.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {list(ROLES)}; got {role!r}")
        if not tenant_id or not str(tenant_id).strip():
            raise ValueError("tenant must be a non-empty name")
        self._check_educator(tenant_id, role, educator_id)
        self.ensure_tenant(tenant_id)
        key_id = secrets.token_hex(6)
        secret = f"pdrec_{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id=key_id, tenant_id=tenant_id, role=role, label=label,
                        created_at=now(), educator_id=educator_id)
        with write_transaction(self.engine) as conn:
            conn.execute(schema.api_keys.insert().values(
                key_id=key_id, tenant_id=tenant_id, role=role, key_hash=hash_key(secret),
                label=label, created_at=record.created_at, educator_id=educator_id,
            ))
        return secret, record

    def _check_educator(self, tenant_id: str, role: str, educator_id: str | None) -> None:
        """An educator key names an educator of the tenant; other roles name none."""
        if role != "educator":
            if educator_id is not None:
                raise ValueError(f"educator must be empty for a {role} key (only educator "
                                 f"keys are bound to one educator); got {educator_id!r}")
            return
        if educator_id is None or not str(educator_id).strip():
            raise ValueError("educator: an educator key needs the id of the educator it "
                             "belongs to; got none")
        t = schema.educators
        with self.engine.connect() as conn:
            found = conn.execute(sa.select(t.c.educator_id).where(
                (t.c.tenant_id == tenant_id) & (t.c.educator_id == educator_id))).first()
        if found is None:
            raise ValueError(f"educator: no educator {educator_id!r} in tenant {tenant_id!r}; "
                             "expected an educator already stored there (load evidence or a "
                             "roster first)")

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
