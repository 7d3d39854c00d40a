"""Persistence: tenants, API keys, educators, evidence, feedback, stored mastery, the audit log.

SQLAlchemy 2 (Core, no ORM: bulk paths stay bulk) over SQLite by default or PostgreSQL by URL.
:func:`open_store` creates the engine, applies the Alembic migrations shipped in
``recommender/store/migrations`` (package data) and returns a :class:`Store`, the one object the
API and the CLI talk to. Every method takes the tenant first and every query is scoped by it:
there is no way to read another tenant's rows through this interface.

SQLite runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout, so readers never block
the single writer and concurrent writers wait instead of failing.

Idempotency of evidence is the primary key ``(tenant_id, evidence_id)``, and what a writer is
told comes from the database, not from a look-up made before the insert (another writer can
store the same id in between): :meth:`Store.ingest_evidence` inserts with ``ON CONFLICT DO
NOTHING RETURNING evidence_id``, so each writer learns exactly which rows it stored, and compares
the others with the stored records (the same content: a duplicate; other content: a conflict).

Writers never deadlock, because every write transaction takes its row locks in one global order:
educators by id (created with ``INSERT ... ON CONFLICT DO NOTHING`` in id order, which also waits
for any writer in progress on the same educators), then evidence by id, then the ``data_version``
bumps, locked by a ``SELECT ... ORDER BY educator_id FOR NO KEY UPDATE`` before the ``UPDATE``
(an ``UPDATE ... WHERE educator_id IN (...)`` locks rows in whatever order its plan reads them).
Should PostgreSQL still report a deadlock or a serialization failure, the whole transaction is
retried (:data:`WRITE_ATTEMPTS` times): a batch is never lost to another writer. SQLite has one
writer at a time (``BEGIN IMMEDIATE``), so the same statements give the same answers there.
"""

from __future__ import annotations

import hashlib
import random
import secrets
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from recommender.store import schema
from recommender.store.schema import FEEDBACK_EVENTS, ROLES

__all__ = [
    "ROLES",
    "FEEDBACK_EVENTS",
    "ApiKey",
    "Difference",
    "EducatorRecord",
    "EvidenceWrite",
    "StoredMastery",
    "Store",
    "open_store",
    "migrate",
    "hash_key",
    "sqlite_url",
    "WRITE_ATTEMPTS",
]

_CHUNK = 900  # ids per IN (...) list: below SQLite's and any driver's parameter limits
_EVIDENCE_COLUMNS = ("evidence_id", "educator_id", "competency_id", "source", "score_norm",
                     "proficient", "observed_at")
_CONTENT = ("educator_id", "competency_id", "source", "score", "scale_min", "scale_max",
            "observed_us", "rater_id", "activity_id")
"""The stored columns that make up what a record says (``score_norm`` and ``proficient`` follow
from them; ``ingested_us`` is when, not what): two records under one id are the same when these
are equal."""

WRITE_ATTEMPTS = 5
"""Attempts of a write transaction that PostgreSQL aborted as a deadlock victim (``40P01``) or
for a serialization failure (``40001``) before the error reaches the caller."""
_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01"})

T = TypeVar("T")


def sqlite_url(data_dir: str | Path) -> str:
    """The default store: ``DATA_DIR/pdrec.db`` (the folder is created)."""
    folder = Path(data_dir).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'pdrec.db'}"


def hash_key(key: str) -> str:
    """SHA-256 of an API key, hex. Keys are 256-bit random secrets, so a fast hash suffices."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(ts: datetime | None) -> datetime | None:
    """SQLite returns naive datetimes; every time the store hands out is UTC-aware."""
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _chunks(items: Sequence, size: int = _CHUNK):
    for i in range(0, len(items), size):
        yield items[i:i + size]


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


@dataclass(frozen=True)
class EducatorRecord:
    """An educator of one tenant: profile, goals and the version of their data."""

    tenant_id: str
    educator_id: str
    profile: dict
    goals: list[str]
    data_version: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StoredMastery:
    """Mastery of one educator as computed and stored: ``{competency_id: (p, n_evidence)}``."""

    model_key: str
    data_version: int
    computed_at: datetime
    evidence_watermark_us: int | None
    table: dict[str, tuple[float, int]]


@dataclass(frozen=True)
class Difference:
    """A field on which a record sent under a stored ``evidence_id`` differs from the stored one.

    ``field`` is the API's name (``observed_at``, not the column ``observed_us``); ``stored`` and
    ``sent`` are the two values as the store holds them (``observed_at`` as a UTC
    :class:`~pandas.Timestamp`).
    """

    field: str
    stored: Any
    sent: Any


@dataclass(frozen=True)
class EvidenceWrite:
    """What :meth:`Store.ingest_evidence` did with each evidence id of a batch.

    Every id of the batch is in exactly one of ``accepted`` (stored by this call),
    ``duplicates`` (already stored, by anyone, with the same content) and ``conflicts`` (already
    stored with other content; the differences, in :data:`_CONTENT` order). ``educators`` are
    the educators whose ``data_version`` this call bumped (those with an accepted record), in id
    order.
    """

    accepted: set[str]
    duplicates: set[str]
    conflicts: dict[str, list[Difference]]
    educators: list[str]


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration up to head (a no-op when the schema is current)."""
    from alembic import command
    from alembic.config import Config

    location = resources.files("recommender.store").joinpath("migrations")
    cfg = Config()
    cfg.set_main_option("script_location", str(location))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def _make_engine(url: str, *, pool_size: int = 8) -> Engine:
    if url.startswith("postgres://"):  # the scheme Heroku-style URLs use
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30},
            pool_size=pool_size, max_overflow=pool_size,
        )

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            if ":memory:" not in url:
                cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(conn):  # noqa: ANN001
            # take the write lock up front: no deadlock between two read-then-write transactions
            conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")

        # let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit one is off)
        @sa.event.listens_for(engine, "connect")
        def _autocommit(dbapi_conn, _record):  # noqa: ANN001
            dbapi_conn.isolation_level = None

        return engine
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


def open_store(url: str, *, run_migrations: bool = True, pool_size: int = 8) -> Store:
    """Connect to ``url`` (``sqlite:///...`` or ``postgresql://...``) and migrate to head."""
    engine = _make_engine(url, pool_size=pool_size)
    if run_migrations:
        migrate(engine)
    return Store(engine)


class Store:
    """Tenant-scoped persistence over one SQLAlchemy engine (share one per process).

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Created by :func:`open_store`, which also migrates the schema.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name
        t = schema.educators
        self._version_sql = _Compiled(engine, sa.select(t.c.data_version, t.c.created_at).where(
            (t.c.tenant_id == sa.bindparam("tenant_id"))
            & (t.c.educator_id == sa.bindparam("educator_id"))))

    # ------------------------------------------------------------------ plumbing
    def _write(self):
        """A write transaction (``BEGIN IMMEDIATE`` on SQLite)."""
        conn = self.engine.connect()
        conn.info["write"] = True
        return _WriteTx(conn)

    def _retrying(self, work: Callable[[Connection], T]) -> T:
        """Run ``work`` in a write transaction; run it again when PostgreSQL aborted it as a
        deadlock victim or for a serialization failure (rolled back, so nothing half-done stays).

        The lock order of the write paths makes deadlocks impossible among this store's own
        writers; the retry covers whatever else holds locks on the same rows.
        """
        attempt = 1
        while True:
            try:
                with self._write() as conn:
                    return work(conn)
            except sa.exc.DBAPIError as exc:
                if (attempt == WRITE_ATTEMPTS
                        or getattr(exc.orig, "sqlstate", None) not in _TRANSIENT_SQLSTATES):
                    raise
            time.sleep(random.uniform(0, 0.01 * 2 ** attempt))  # let the winner finish
            attempt += 1

    def _inserted(self, conn: Connection, stmt: sa.Insert, rows: list[dict]) -> list:
        """Run ``stmt`` (``INSERT ... ON CONFLICT DO NOTHING RETURNING <one column>``) for each
        of ``rows`` in order; the returned values, those of the rows actually inserted.

        On PostgreSQL the one-row statement goes through psycopg's pipelined ``executemany``
        (parsed and prepared once, one result per row). SQLAlchemy would render a multi-row
        ``VALUES`` statement per 1,000 rows instead, which psycopg parses anew every time: for
        a 5,000-record batch, over twice the time of the whole insert without ``RETURNING``.
        Driver errors are raised as SQLAlchemy's, like every other statement of the store.
        """
        if not rows:
            return []
        if self.dialect != "postgresql":
            return [v for part in _chunks(rows) for v in conn.execute(stmt, part).scalars()]
        sql = stmt.compile(dialect=self.engine.dialect, column_keys=list(rows[0])).string
        cursor = conn.connection.dbapi_connection.cursor()
        out: list = []
        try:
            cursor.executemany(sql, rows, returning=True)
            while True:
                out.extend(r[0] for r in cursor.fetchall())
                if not cursor.nextset():
                    return out
        except self.engine.dialect.loaded_dbapi.Error as exc:
            raise sa.exc.DBAPIError.instance(sql, None, exc,
                                              self.engine.dialect.loaded_dbapi.Error) from exc
        finally:
            cursor.close()

    def _insert(self, table: sa.Table):
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        elif self.dialect == "sqlite":
            from sqlalchemy.dialects.sqlite import insert
        else:  # pragma: no cover - only the two documented back ends are supported
            raise RuntimeError(f"unsupported database dialect {self.dialect!r}")
        return insert(table)

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    # ------------------------------------------------------------------ tenants and keys
    def ensure_tenant(self, tenant_id: str, name: str = "") -> None:
        """Create the tenant if it does not exist."""
        stmt = self._insert(schema.tenants).values(
            tenant_id=tenant_id, name=name, created_at=_now()
        ).on_conflict_do_nothing()
        with self._write() as conn:
            conn.execute(stmt)

    def tenants(self) -> list[str]:
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
                        created_at=_now())
        with self._write() as conn:
            conn.execute(schema.api_keys.insert().values(
                key_id=key_id, tenant_id=tenant_id, role=role, key_hash=hash_key(secret),
                label=label, created_at=record.created_at,
            ))
        return secret, record

    def _key(self, row) -> ApiKey:
        return ApiKey(key_id=row.key_id, tenant_id=row.tenant_id, role=row.role, label=row.label,
                      created_at=_aware(row.created_at), revoked_at=_aware(row.revoked_at))

    def key_by_hash(self, key_hash: str) -> ApiKey | None:
        """The key record with this hash, revoked or not; None if there is none."""
        t = schema.api_keys
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(t.c.key_hash == key_hash)).first()
        return None if row is None else self._key(row)

    def list_keys(self, tenant_id: str | None = None) -> list[ApiKey]:
        """Keys (of one tenant, or all), oldest first."""
        t = schema.api_keys
        q = sa.select(t).order_by(t.c.created_at, t.c.key_id)
        if tenant_id is not None:
            q = q.where(t.c.tenant_id == tenant_id)
        with self.engine.connect() as conn:
            return [self._key(r) for r in conn.execute(q)]

    def revoke_key(self, key_id: str, tenant_id: str | None = None) -> ApiKey | None:
        """Revoke a key by id (within ``tenant_id`` when given); None if no such key."""
        t = schema.api_keys
        cond = t.c.key_id == key_id
        if tenant_id is not None:
            cond &= t.c.tenant_id == tenant_id
        with self._write() as conn:
            conn.execute(t.update().where(cond & t.c.revoked_at.is_(None)).values(
                revoked_at=_now()))
            row = conn.execute(sa.select(t).where(cond)).first()
        return None if row is None else self._key(row)

    # ------------------------------------------------------------------ educators
    def _educator(self, row) -> EducatorRecord:
        return EducatorRecord(
            tenant_id=row.tenant_id, educator_id=row.educator_id,
            profile=orjson.loads(row.profile), goals=orjson.loads(row.goals),
            data_version=int(row.data_version), created_at=_aware(row.created_at),
            updated_at=_aware(row.updated_at),
        )

    def put_educator(self, tenant_id: str, educator_id: str, *, profile: Mapping[str, Any],
                     goals: Sequence[str]) -> tuple[EducatorRecord, bool]:
        """Create or replace an educator's profile and goals; returns ``(record, created)``.

        Replacing bumps ``data_version`` (profile features feed the mastery model). The insert
        is ``ON CONFLICT DO NOTHING``: when another writer creates the same educator meanwhile,
        this one waits for it and then replaces, instead of failing on the primary key.
        """
        t = schema.educators
        key = (t.c.tenant_id == tenant_id) & (t.c.educator_id == educator_id)
        values = {"profile": orjson.dumps(dict(profile)).decode(),
                  "goals": orjson.dumps(list(goals)).decode()}

        def write(conn: Connection) -> tuple[Any, bool]:
            now = _now()
            created = conn.execute(
                self._insert(t).values(tenant_id=tenant_id, educator_id=educator_id,
                                       data_version=0, created_at=now, updated_at=now, **values)
                .on_conflict_do_nothing().returning(t.c.educator_id)).first() is not None
            if not created:
                conn.execute(t.update().where(key).values(
                    **values, data_version=t.c.data_version + 1, updated_at=now))
            return conn.execute(sa.select(t).where(key)).one(), created

        row, created = self._retrying(write)
        return self._educator(row), created

    def get_educator(self, tenant_id: str, educator_id: str) -> EducatorRecord | None:
        t = schema.educators
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t).where(
                (t.c.tenant_id == tenant_id) & (t.c.educator_id == educator_id))).first()
        return None if row is None else self._educator(row)

    def educator_version(self, tenant_id: str, educator_id: str) -> tuple[int, Any] | None:
        """``(data_version, stamp)`` of an educator, None if absent: the read path's one query.

        ``stamp`` is the creation time as the driver returns it (an opaque, comparable value):
        together they identify the educator's data, for cache keys. The statement is compiled
        once and run on the pooled driver connection, skipping SQLAlchemy's per-execution work
        (a few times cheaper than :meth:`get_educator`, which decodes the whole row).
        """
        row = self._version_sql.first({"tenant_id": tenant_id, "educator_id": educator_id})
        return None if row is None else (int(row[0]), row[1])

    def get_educators(self, tenant_id: str, educator_ids: Iterable[str]) -> dict[str, EducatorRecord]:
        """The existing educators among ``educator_ids`` (others are simply absent)."""
        t = schema.educators
        ids = list(dict.fromkeys(educator_ids))
        out: dict[str, EducatorRecord] = {}
        with self.engine.connect() as conn:
            for part in _chunks(ids):
                for row in conn.execute(sa.select(t).where(
                        (t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part))):
                    out[row.educator_id] = self._educator(row)
        return out

    def list_educators(self, tenant_id: str, *, limit: int = 100, after: str | None = None
                       ) -> list[EducatorRecord]:
        """Educators of a tenant in id order, ``limit`` at a time after ``after``."""
        t = schema.educators
        q = sa.select(t).where(t.c.tenant_id == tenant_id)
        if after is not None:
            q = q.where(t.c.educator_id > after)
        q = q.order_by(t.c.educator_id).limit(limit)
        with self.engine.connect() as conn:
            return [self._educator(r) for r in conn.execute(q)]

    def _create_educators(self, conn: Connection, tenant_id: str, ids: list[str]) -> set[str]:
        """Create the missing educators among ``ids`` (sorted; empty profile, ``data_version``
        0); returns those this call created.

        In id order, the first of the write paths' lock steps: on PostgreSQL the insert waits
        for any transaction in progress that created or bumped one of these educators.
        """
        t = schema.educators
        now = _now()
        stmt = self._insert(t).on_conflict_do_nothing().returning(t.c.educator_id)
        return set(self._inserted(conn, stmt, [
            {"tenant_id": tenant_id, "educator_id": e, "profile": "{}", "goals": "[]",
             "data_version": 0, "created_at": now, "updated_at": now} for e in ids]))

    def _bump_versions(self, conn: Connection, tenant_id: str, ids: list[str]) -> None:
        """Add 1 to ``data_version`` of these educators (sorted), locking them in id order.

        The ``SELECT ... ORDER BY educator_id FOR NO KEY UPDATE`` takes the row locks in id
        order before the ``UPDATE``, whose own order follows its plan (a heap scan reads rows
        where they happen to lie); ``NO KEY`` leaves the key-share locks of foreign-key checks
        free. SQLite has no row locks and writes one transaction at a time: it skips the lock.
        """
        t = schema.educators
        for part in _chunks(ids):
            key = (t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part)
            if self.dialect == "postgresql":
                conn.execute(sa.select(t.c.educator_id).where(key).order_by(t.c.educator_id)
                             .with_for_update(key_share=True))
            conn.execute(t.update().where(key).values(data_version=t.c.data_version + 1))

    # ------------------------------------------------------------------ evidence
    def _stored_content(self, conn: Connection, tenant_id: str, ids: Sequence[str]
                        ) -> dict[str, tuple]:
        """``{evidence_id: stored values of _CONTENT}`` for the stored ids among ``ids``."""
        t = schema.evidence
        cols = [t.c.evidence_id, *(t.c[c] for c in _CONTENT)]
        out: dict[str, tuple] = {}
        for part in _chunks(list(ids)):
            for r in conn.execute(sa.select(*cols).where(
                    (t.c.tenant_id == tenant_id) & t.c.evidence_id.in_(part))):
                out[r[0]] = tuple(r[1:])
        return out

    def compare_evidence(self, tenant_id: str, valid: pd.DataFrame) -> dict[str, list[Difference]]:
        """How the records of ``valid`` differ from the stored records under the same ids.

        ``valid`` is validated evidence (see :meth:`ingest_evidence`). Returns, for each of its
        ids that is stored, the list of differences (empty: the same record); ids not stored
        are absent.
        """
        if valid.empty:
            return {}
        rows = _evidence_rows(tenant_id, valid, 0)
        with self.engine.connect() as conn:
            stored = self._stored_content(conn, tenant_id, [r["evidence_id"] for r in rows])
        return {r["evidence_id"]: _differences(stored[r["evidence_id"]], r)
                for r in rows if r["evidence_id"] in stored}

    def ingest_evidence(self, tenant_id: str, valid: pd.DataFrame) -> EvidenceWrite:
        """Store validated evidence; say for each id whether it was stored, a duplicate or a
        conflict (see :class:`EvidenceWrite`).

        ``valid`` is :attr:`recommender.evidence.EvidenceValidation.valid` (one row per id). In
        one transaction, each step in id order (the lock order, see the module docstring): the
        batch's educators are created where missing; the rows are inserted with ``ON CONFLICT
        DO NOTHING RETURNING evidence_id``, which names the rows this call stored (a row another
        writer stores first, even one still in progress, is waited for and not inserted); the
        rows not stored are compared with the stored records; the ``data_version`` of the
        educators of stored rows is bumped, which marks their stored mastery stale; educators
        this call created for records it did not store are removed again (no educator without
        evidence). Any failure rolls everything back; a deadlock or serialization failure is
        retried (:data:`WRITE_ATTEMPTS`).
        """
        if valid.empty:
            return EvidenceWrite(set(), set(), {}, [])
        now_us = int(pd.Timestamp.now(tz="UTC").value // 1000)
        rows = sorted(_evidence_rows(tenant_id, valid, now_us), key=lambda r: r["evidence_id"])
        educators = sorted({r["educator_id"] for r in rows})
        insert = (self._insert(schema.evidence).on_conflict_do_nothing()
                  .returning(schema.evidence.c.evidence_id))

        def write(conn: Connection) -> EvidenceWrite:
            created = self._create_educators(conn, tenant_id, educators)
            accepted = set(self._inserted(conn, insert, rows))
            others = [r for r in rows if r["evidence_id"] not in accepted]
            stored = self._stored_content(conn, tenant_id, [r["evidence_id"] for r in others])
            duplicates: set[str] = set()
            conflicts: dict[str, list[Difference]] = {}
            for r in others:
                if r["evidence_id"] not in stored:  # neither inserted nor there: removed since
                    raise RuntimeError(
                        f"evidence_id {r['evidence_id']!r} was neither inserted nor found in "
                        f"tenant {tenant_id!r}: it was deleted while this batch was written")
                diff = _differences(stored[r["evidence_id"]], r)
                if diff:
                    conflicts[r["evidence_id"]] = diff
                else:
                    duplicates.add(r["evidence_id"])
            touched = sorted({r["educator_id"] for r in rows if r["evidence_id"] in accepted})
            self._bump_versions(conn, tenant_id, touched)
            unused = sorted(created.difference(touched))
            t = schema.educators
            for part in _chunks(unused):  # created by this transaction: nobody else sees them
                conn.execute(t.delete().where((t.c.tenant_id == tenant_id)
                                              & t.c.educator_id.in_(part)))
            return EvidenceWrite(accepted, duplicates, conflicts, touched)

        return self._retrying(write)

    def evidence_frame(self, tenant_id: str, educator_ids: Iterable[str]) -> pd.DataFrame:
        """Validated-evidence frame (the columns the feature builder needs) of these educators."""
        t = schema.evidence
        ids = list(dict.fromkeys(educator_ids))
        cols = [t.c.evidence_id, t.c.educator_id, t.c.competency_id, t.c.source, t.c.score_norm,
                t.c.proficient, t.c.observed_us]
        rows: list = []
        with self.engine.connect() as conn:
            for part in _chunks(ids):
                rows.extend(conn.execute(sa.select(*cols).where(
                    (t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part))).all())
        names = ["evidence_id", "educator_id", "competency_id", "source", "score_norm",
                 "proficient", "observed_us"]
        # one column at a time from the rows (DataFrame.from_records probes every Row object,
        # which cost more than the query itself on large refreshes)
        columns = list(zip(*rows, strict=True)) if rows else [()] * len(names)
        data = dict(zip(names, columns, strict=True))
        return pd.DataFrame({
            "evidence_id": np.asarray(data["evidence_id"], dtype=object),
            "educator_id": np.asarray(data["educator_id"], dtype=object),
            "competency_id": np.asarray(data["competency_id"], dtype=object),
            "source": np.asarray(data["source"], dtype=object),
            "score_norm": np.asarray(data["score_norm"], dtype=float),
            "proficient": np.asarray(data["proficient"], dtype=bool),
            "observed_at": pd.to_datetime(np.asarray(data["observed_us"], dtype=np.int64),
                                          unit="us", utc=True),
        })[list(_EVIDENCE_COLUMNS)]

    def count_evidence(self, tenant_id: str, educator_id: str | None = None) -> int:
        t = schema.evidence
        q = sa.select(sa.func.count()).select_from(t).where(t.c.tenant_id == tenant_id)
        if educator_id is not None:
            q = q.where(t.c.educator_id == educator_id)
        with self.engine.connect() as conn:
            return int(conn.execute(q).scalar_one())

    # ------------------------------------------------------------------ feedback
    def add_feedback(self, tenant_id: str, events: Sequence[Mapping[str, Any]]) -> int:
        """Store feedback events (all of one tenant) in one transaction; returns how many.

        Each event is ``{educator_id, activity_id, event, at, rating?, replaces?, by?, note?,
        key_id?}``; the educators must exist. Bumps their ``data_version`` (locked in id order;
        retried on a deadlock or serialization failure, see :meth:`ingest_evidence`).
        """
        if not events:
            return 0
        t = schema.feedback
        rows = [{"tenant_id": tenant_id, "educator_id": e["educator_id"],
                 "activity_id": e["activity_id"], "event": e["event"], "at": e["at"],
                 "rating": e.get("rating"), "replaces": e.get("replaces"), "by": e.get("by"),
                 "note": e.get("note"), "key_id": e.get("key_id")} for e in events]
        ids = sorted({r["educator_id"] for r in rows})

        def write(conn: Connection) -> None:
            conn.execute(t.insert(), rows)
            self._bump_versions(conn, tenant_id, ids)  # in id order, as every write path

        self._retrying(write)
        return len(rows)

    def feedback_rows(self, tenant_id: str, educator_ids: Iterable[str]) -> list[dict]:
        """Feedback of these educators, oldest first, as dicts: ``educator_id, activity_id,
        event, at, rating, replaces, by``."""
        t = schema.feedback
        ids = list(dict.fromkeys(educator_ids))
        cols = [t.c.educator_id, t.c.activity_id, t.c.event, t.c.at, t.c.rating, t.c.replaces,
                t.c.by, t.c.feedback_id]
        rows: list = []
        with self.engine.connect() as conn:
            for part in _chunks(ids):
                rows.extend(conn.execute(sa.select(*cols).where(
                    (t.c.tenant_id == tenant_id) & t.c.educator_id.in_(part))).all())
        out = [{"educator_id": r[0], "activity_id": r[1], "event": r[2], "at": _aware(r[3]),
                "rating": r[4], "replaces": r[5], "by": r[6], "_id": r[7]} for r in rows]
        out.sort(key=lambda r: (r["at"], r["_id"]))
        for r in out:
            del r["_id"]
        return out

    def feedback_frame(self, tenant_id: str, educator_ids: Iterable[str]) -> pd.DataFrame:
        """:meth:`feedback_rows` as a DataFrame (``at`` as ``datetime64[us, UTC]``)."""
        cols = ["educator_id", "activity_id", "event", "at", "rating", "replaces", "by"]
        frame = pd.DataFrame(self.feedback_rows(tenant_id, educator_ids), columns=cols)
        frame["at"] = pd.to_datetime(frame["at"], utc=True).astype("datetime64[us, UTC]")
        return frame

    # ------------------------------------------------------------------ mastery
    def get_mastery(self, tenant_id: str, educator_ids: Iterable[str]) -> dict[str, StoredMastery]:
        """Stored mastery of these educators (absent when never computed)."""
        t = schema.mastery
        ids = list(dict.fromkeys(educator_ids))
        out: dict[str, StoredMastery] = {}
        with self.engine.connect() as conn:
            for part in _chunks(ids):
                for r in conn.execute(sa.select(t).where((t.c.tenant_id == tenant_id)
                                                         & t.c.educator_id.in_(part))):
                    out[r.educator_id] = StoredMastery(
                        model_key=r.model_key, data_version=int(r.data_version),
                        computed_at=_aware(r.computed_at),
                        evidence_watermark_us=r.evidence_watermark_us,
                        table={c: (float(v[0]), int(v[1]))
                               for c, v in orjson.loads(r.table_json).items()},
                    )
        return out

    def put_mastery(self, tenant_id: str, entries: Mapping[str, StoredMastery]) -> None:
        """Upsert stored mastery, one row per educator, in one transaction.

        A row is only overwritten by one computed at the same or a newer ``data_version``, so a
        slow refresh never replaces a fresher one.
        """
        if not entries:
            return
        t = schema.mastery
        rows = [{"tenant_id": tenant_id, "educator_id": e, "model_key": m.model_key,
                 "data_version": m.data_version, "computed_at": m.computed_at,
                 "evidence_watermark_us": m.evidence_watermark_us,
                 "table_json": orjson.dumps({c: [p, n] for c, (p, n) in m.table.items()}).decode()}
                for e, m in sorted(entries.items())]  # id order: the store's lock order
        stmt = self._insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.tenant_id, t.c.educator_id],
            set_={c: stmt.excluded[c] for c in ("model_key", "data_version", "computed_at",
                                                "evidence_watermark_us", "table_json")},
            where=t.c.data_version <= stmt.excluded.data_version,
        )
        def write(conn: Connection) -> None:
            for part in _chunks(rows, 500):
                conn.execute(stmt, part)

        self._retrying(write)

    # ------------------------------------------------------------------ audit trail
    def log_recommendations(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Append rows to the recommendation log with one insert (what was shown, to whom, by
        which model version)."""
        if rows:
            with self._write() as conn:
                conn.execute(schema.recommendation_log.insert(), list(rows))

    def recommendation_log(self, tenant_id: str, educator_id: str | None = None) -> pd.DataFrame:
        t = schema.recommendation_log
        q = sa.select(t).where(t.c.tenant_id == tenant_id)
        if educator_id is not None:
            q = q.where(t.c.educator_id == educator_id)
        with self.engine.connect() as conn:
            rows = conn.execute(q.order_by(t.c.log_id)).mappings().all()
        return pd.DataFrame([dict(r) for r in rows],
                            columns=[c.name for c in t.columns])


class _Compiled:
    """A read-only SELECT compiled once for the engine's dialect, run on the raw DB-API cursor.

    For hot point reads only: no SQLAlchemy type processing of the results (values come back
    as the driver returns them).
    """

    def __init__(self, engine: Engine, stmt: sa.Select):
        self.engine = engine
        compiled = stmt.compile(dialect=engine.dialect)
        self.sql = compiled.string
        self.positional = compiled.positiontup if compiled.positional else None

    def first(self, params: Mapping[str, Any]) -> tuple | None:
        args = (tuple(params[k] for k in self.positional) if self.positional is not None
                else dict(params))
        with self.engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(self.sql, args)
                return cursor.fetchone()
            finally:
                cursor.close()


class _WriteTx:
    """Context manager: a connection in a write transaction, committed on success."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def __enter__(self) -> Connection:
        self.tx = self.conn.begin()
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.tx.commit()
            else:
                self.tx.rollback()
        finally:
            self.conn.info.pop("write", None)
            self.conn.close()


def _evidence_rows(tenant_id: str, valid: pd.DataFrame, now_us: int) -> list[dict]:
    """Rows for ``executemany``: plain Python values, NaN as None."""
    observed_us = (valid["observed_at"].astype("datetime64[us, UTC]").astype("int64")).tolist()

    def opt(col: str) -> list:
        values = valid[col].astype(object)
        return values.where(values.notna(), None).tolist()

    cols = {
        "evidence_id": valid["evidence_id"].astype(str).tolist(),
        "educator_id": valid["educator_id"].astype(str).tolist(),
        "competency_id": valid["competency_id"].astype(str).tolist(),
        "source": valid["source"].astype(str).tolist(),
        "score": valid["score"].astype(float).tolist(),
        "scale_min": valid["scale_min"].astype(float).tolist(),
        "scale_max": valid["scale_max"].astype(float).tolist(),
        "score_norm": valid["score_norm"].astype(float).tolist(),
        "proficient": valid["proficient"].astype(bool).tolist(),
        "observed_us": observed_us,
        "rater_id": opt("rater_id"),
        "activity_id": opt("activity_id"),
    }
    n = len(valid)
    names = list(cols)
    columns = [cols[k] for k in names]
    return [{"tenant_id": tenant_id, "ingested_us": now_us,
             **dict(zip(names, (c[i] for c in columns), strict=True))} for i in range(n)]


def _differences(stored: tuple, sent: Mapping[str, Any]) -> list[Difference]:
    """The :data:`_CONTENT` fields on which a row for the insert differs from a stored row."""
    out = []
    for name, was in zip(_CONTENT, stored, strict=True):
        now = sent[name]
        if was != now:
            if name == "observed_us":
                out.append(Difference("observed_at", pd.Timestamp(was, unit="us", tz="UTC"),
                                      pd.Timestamp(now, unit="us", tz="UTC")))
            else:
                out.append(Difference(name, was, now))
    return out
