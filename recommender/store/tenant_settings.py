"""A tenant's settings: its evidence clock (the time unit and half-life its evidence ages by).

Stored on the tenant's row (``clock_unit``, ``clock_half_life``; NULL: the default clock). The
store keeps the two values as given; :class:`recommender.clock.EvidenceClock` checks them at the
boundary (the API, the CLI) before they are written, and again when they are read.

Setting a clock changes what every one of the tenant's stored mastery rows was computed from, so
it bumps every educator's ``data_version`` in the same transaction: each process (whatever it
has cached) then recomputes an educator's mastery, and drops its cached answers, on their next
read, as after a write of their evidence.
"""

from __future__ import annotations

import sqlalchemy as sa

from recommender.store import schema
from recommender.store.educators import bump_versions
from recommender.store.engine import StoreBase, insert_on_conflict, now, write_transaction

__all__ = ["TenantSettingsStore"]


class TenantSettingsStore(StoreBase):
    """The tenant settings of :class:`recommender.store.Store`."""

    def evidence_clock(self, tenant_id: str) -> tuple[str, float] | None:
        """The tenant's ``(unit, half_life)``; None when it set none (or does not exist)."""
        t = schema.tenants
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.c.clock_unit, t.c.clock_half_life)
                               .where(t.c.tenant_id == tenant_id)).first()
        if row is None or row.clock_unit is None or row.clock_half_life is None:
            return None
        return str(row.clock_unit), float(row.clock_half_life)

    def set_evidence_clock(self, tenant_id: str, clock: tuple[str, float] | None) -> int:
        """Store the tenant's ``(unit, half_life)`` (None: back to the default), creating the
        tenant if needed, and bump its educators' ``data_version``; return how many."""
        unit, half_life = (None, None) if clock is None else (str(clock[0]), float(clock[1]))
        t, e = schema.tenants, schema.educators
        with write_transaction(self.engine) as conn:
            conn.execute(insert_on_conflict(self.dialect, t).values(
                tenant_id=tenant_id, name="", created_at=now()).on_conflict_do_nothing())
            conn.execute(t.update().where(t.c.tenant_id == tenant_id).values(
                clock_unit=unit, clock_half_life=half_life))
            ids = [r[0] for r in conn.execute(sa.select(e.c.educator_id).where(
                e.c.tenant_id == tenant_id).order_by(e.c.educator_id))]
            bump_versions(conn, tenant_id, ids)  # row locks in id order, as every writer
        return len(ids)
