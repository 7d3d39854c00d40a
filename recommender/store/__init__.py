"""Persistence: tenants, API keys, educators, evidence, feedback, stored mastery, the audit log.

:func:`open_store` creates the engine over SQLite (by default) or PostgreSQL (by URL), applies
the Alembic migrations and returns a :class:`Store`, the one object the API and the CLI talk
to. Every method takes the tenant first and every query is scoped by it.

One module per concept: :mod:`~recommender.store.engine` (engine, migrations, write
transactions, their retry and the lock order every write path follows),
:mod:`~recommender.store.keys` (tenants, API keys), :mod:`~recommender.store.educators`,
:mod:`~recommender.store.evidence` (idempotent ingest), :mod:`~recommender.store.feedback`,
:mod:`~recommender.store.mastery`, :mod:`~recommender.store.audit` (the recommendation log),
:mod:`~recommender.store.store` (the :class:`Store` made of them), :mod:`~recommender.store.schema`
(the tables); and the queries of the coach page (:mod:`~recommender.store.coach`), xAPI
completions (:mod:`~recommender.store.completions`) and ``pdrec repair``
(:mod:`~recommender.store.repair`).
"""

from recommender.store.educators import EducatorRecord
from recommender.store.engine import WRITE_ATTEMPTS, migrate, sqlite_url
from recommender.store.evidence import Difference, EvidenceWrite
from recommender.store.keys import ApiKey, hash_key
from recommender.store.mastery import NO_MASTERY, MasteryCell, StoredMastery
from recommender.store.schema import FEEDBACK_EVENTS, ROLES
from recommender.store.store import Store, open_store

__all__ = [
    "ROLES",
    "FEEDBACK_EVENTS",
    "ApiKey",
    "Difference",
    "EducatorRecord",
    "EvidenceWrite",
    "StoredMastery",
    "MasteryCell",
    "NO_MASTERY",
    "Store",
    "open_store",
    "migrate",
    "hash_key",
    "sqlite_url",
    "WRITE_ATTEMPTS",
]
