"""Teams: a tenant's named groups of educators (a PLC, a grade-level team, a school's staff).

A team is a name and an ordered list of member educator ids, stored as one row of ``teams``
(migration 0006). Members are ids, not foreign keys: a team may name an educator the platform
has not sent yet (the API reports such members as not found when it ranks for the team).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from recommender.store import schema
from recommender.store.engine import StoreBase, aware, insert_on_conflict, now, retrying

__all__ = ["TeamRecord", "TeamStore"]


@dataclass(frozen=True)
class TeamRecord:
    """A team of one tenant."""

    tenant_id: str
    team_id: str
    name: str
    members: list[str]
    created_at: datetime
    updated_at: datetime


def _record(row: Any) -> TeamRecord:
    return TeamRecord(row.tenant_id, row.team_id, row.name, list(orjson.loads(row.members)),
                      aware(row.created_at), aware(row.updated_at))


class TeamStore(StoreBase):
    """The teams of :class:`recommender.store.Store`."""

    def put_team(self, tenant_id: str, team_id: str, *, name: str,
                 members: Sequence[str]) -> tuple[TeamRecord, bool]:
        """Create or replace a team's name and members; returns ``(record, created)``."""
        t = schema.teams
        key = (t.c.tenant_id == tenant_id) & (t.c.team_id == team_id)
        values = {"name": name, "members": orjson.dumps(list(members)).decode()}

        def write(conn: Connection) -> tuple[Any, bool]:
            at = now()
            created = conn.execute(
                insert_on_conflict(self.dialect, t).values(
                    tenant_id=tenant_id, team_id=team_id, created_at=at, updated_at=at,
                    **values)
                .on_conflict_do_nothing().returning(t.c.team_id)).first() is not None
            if not created:
                conn.execute(t.update().where(key).values(**values, updated_at=at))
            return conn.execute(sa.select(t).where(key)).one(), created

        row, created = retrying(self.engine, write)
        return _record(row), created

    def get_team(self, tenant_id: str, team_id: str) -> TeamRecord | None:
        """The team, None if the tenant has none of that id."""
        t = schema.teams
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(
                (t.c.tenant_id == tenant_id) & (t.c.team_id == team_id))).first()
        return None if row is None else _record(row)

    def list_teams(self, tenant_id: str, *, limit: int = 100, offset: int = 0
                   ) -> tuple[list[TeamRecord], int]:
        """A page of the tenant's teams in team id order, and how many it has in all."""
        if limit < 1 or offset < 0:
            raise ValueError(f"limit must be at least 1 and offset at least 0; got limit={limit}"
                             f", offset={offset}")
        t = schema.teams
        mine = t.c.tenant_id == tenant_id
        with self.engine.connect() as conn:
            total = conn.execute(sa.select(sa.func.count()).select_from(t).where(mine)).scalar()
            rows = conn.execute(sa.select(t).where(mine).order_by(t.c.team_id)
                                .limit(limit).offset(offset)).all()
        return [_record(r) for r in rows], int(total or 0)
