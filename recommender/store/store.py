"""The :class:`Store`, the one object the API and the CLI talk to, and :func:`open_store`.

:class:`Store` is the sum of one class per kind of row, all over the same engine
(:class:`~recommender.store.engine.StoreBase`): tenants and API keys
(:mod:`~recommender.store.keys`), educators (:mod:`~recommender.store.educators`), evidence
(:mod:`~recommender.store.evidence`), feedback (:mod:`~recommender.store.feedback`), stored
mastery (:mod:`~recommender.store.mastery`), the recommendation log
(:mod:`~recommender.store.audit`), tenant settings (:mod:`~recommender.store.tenant_settings`),
the tenants' framework and catalog versions (:mod:`~recommender.store.content`), their
teams (:mod:`~recommender.store.teams`) and what the evidence firewall reads: the evidence policy
and consent events (:mod:`~recommender.store.consents`).
"""

from __future__ import annotations

from recommender.store.answers import AnswerStore
from recommender.store.audit import AuditStore
from recommender.store.consents import ConsentStore
from recommender.store.content import ContentStore
from recommender.store.educators import EducatorStore
from recommender.store.engine import make_engine, migrate
from recommender.store.evidence import EvidenceStore
from recommender.store.feedback import FeedbackStore
from recommender.store.keys import KeyStore
from recommender.store.mastery import MasteryStore
from recommender.store.teams import TeamStore
from recommender.store.tenant_settings import TenantSettingsStore

__all__ = ["Store", "open_store"]


class Store(KeyStore, EducatorStore, EvidenceStore, FeedbackStore, MasteryStore, AuditStore,
            TenantSettingsStore, ContentStore, TeamStore, ConsentStore, AnswerStore):
    """Tenant-scoped persistence over one SQLAlchemy engine (share one per process).

    Every method that reads or writes a tenant's rows takes the tenant first and every query
    is scoped by it: there is no way to read another tenant's rows through this interface.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Created by :func:`open_store`, which also migrates the schema.
    """

    async def open_loop_reads(self) -> None:
        """Open the running event loop's connections of the API's point reads
        (:meth:`read_answer_on_loop`, :meth:`educator_version_on_loop`) now rather than at
        their first reads. An API worker does it at start-up: on PostgreSQL a first read
        otherwise blocks the loop for a new connection, its server process and a prepare while
        requests queue behind it (the benchmark's first round of recommendations had a p99 of
        56-134 ms against 31-42 ms in the next rounds, docs/benchmarks.md)."""
        self._answer_sql.open_on_loop()
        self._version_sql.open_on_loop()


def open_store(url: str, *, run_migrations: bool = True, pool_size: int = 8) -> Store:
    """Connect to ``url`` (``sqlite:///...`` or ``postgresql://...``) and migrate to head."""
    engine = make_engine(url, pool_size=pool_size)
    if run_migrations:
        migrate(engine)
    return Store(engine)
