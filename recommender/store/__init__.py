"""Persistence: tenants, API keys, educators, evidence, feedback, stored mastery, the audit log.

SQLAlchemy 2 (Core, no ORM: bulk paths stay bulk) over SQLite by default or PostgreSQL by URL.
:func:`open_store` creates the engine, applies the Alembic migrations shipped in
``recommender/store/migrations`` (package data) and returns a :class:`Store`, the one object the
API and the CLI talk to. Every method takes the tenant first and every query is scoped by it:
there is no way to read another tenant's rows through this interface.

SQLite runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout, so readers never block
the single writer and concurrent writers wait instead of failing.

Idempotency of evidence is the primary key ``(tenant_id, evidence_id)``: :meth:`Store.ingest_evidence`
looks the batch's ids up in one query, inserts the new rows with one ``executemany`` inside one
transaction (``ON CONFLICT DO NOTHING`` guards against a concurrent writer of the same ids) and
bumps the ``data_version`` of every educator it touched, which marks their stored mastery stale.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

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
    "EducatorRecord",
    "StoredMastery",
    "Store",
    "open_store",
    "migrate",
    "hash_key",
    "sqlite_url",
]

_CHUNK = 900  # ids per IN (...) list: below SQLite's and any driver's parameter limits
_EVIDENCE_COLUMNS = ("evidence_id", "educator_id", "competency_id", "source", "score_norm",
                     "proficient", "observed_at")


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

        Replacing bumps ``data_version`` (profile features feed the mastery model).
        """
        t = schema.educators
        now = _now()
        key = (t.c.tenant_id == tenant_id) & (t.c.educator_id == educator_id)
        values = {"profile": orjson.dumps(dict(profile)).decode(),
                  "goals": orjson.dumps(list(goals)).decode()}
        with self._write() as conn:
            updated = conn.execute(t.update().where(key).values(
                **values, data_version=t.c.data_version + 1, updated_at=now)).rowcount
            if not updated:
                conn.execute(t.insert().values(tenant_id=tenant_id, educator_id=educator_id,
                                               data_version=0, created_at=now, updated_at=now,
                                               **values))
            row = conn.execute(sa.select(t).where(key)).one()
        return self._educator(row), not updated

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

    def _touch_educators(self, conn: Connection, tenant_id: str, ids: list[str]) -> None:
        """Create missing educators (empty profile) and bump ``data_version`` of all of them."""
        t = schema.educators
        now = _now()
        for part in _chunks(ids):
            conn.execute(
                self._insert(t).on_conflict_do_nothing(),
                [{"tenant_id": tenant_id, "educator_id": e, "profile": "{}", "goals": "[]",
                  "data_version": 0, "created_at": now, "updated_at": now} for e in part],
            )
            conn.execute(t.update().where((t.c.tenant_id == tenant_id)
                                          & t.c.educator_id.in_(part))
                         .values(data_version=t.c.data_version + 1))

    # ------------------------------------------------------------------ evidence
    def existing_evidence_ids(self, tenant_id: str, evidence_ids: Iterable[str],
                              conn: Connection | None = None) -> set[str]:
        """The ids among ``evidence_ids`` already stored for this tenant."""
        t = schema.evidence
        ids = list(dict.fromkeys(str(i) for i in evidence_ids))
        found: set[str] = set()

        def run(c: Connection) -> None:
            for part in _chunks(ids):
                found.update(r[0] for r in c.execute(sa.select(t.c.evidence_id).where(
                    (t.c.tenant_id == tenant_id) & t.c.evidence_id.in_(part))))

        if conn is not None:
            run(conn)
        else:
            with self.engine.connect() as c:
                run(c)
        return found

    def ingest_evidence(self, tenant_id: str, valid: pd.DataFrame) -> tuple[set[str], list[str]]:
        """Store validated evidence; returns ``(duplicate_ids, affected_educator_ids)``.

        ``valid`` is :attr:`recommender.evidence.EvidenceValidation.valid`. In one transaction:
        the ids already stored are looked up (they are duplicates, not inserted), educators not
        seen before are created in the tenant, the new rows are inserted with one
        ``executemany``, and the ``data_version`` of each affected educator is bumped. Any
        failure rolls everything back: nothing is written.
        """
        if valid.empty:
            return set(), []
        now_us = int(pd.Timestamp.now(tz="UTC").value // 1000)
        with self._write() as conn:
            dup = self.existing_evidence_ids(tenant_id, valid["evidence_id"], conn=conn)
            new = valid[~valid["evidence_id"].isin(dup)] if dup else valid
            if new.empty:
                return dup, []
            educators = sorted(pd.unique(new["educator_id"]).tolist())
            self._touch_educators(conn, tenant_id, educators)
            rows = _evidence_rows(tenant_id, new, now_us)
            conn.execute(self._insert(schema.evidence).on_conflict_do_nothing(), rows)
        return dup, educators

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
        key_id?}``; the educators must exist. Bumps their ``data_version``.
        """
        if not events:
            return 0
        t = schema.feedback
        rows = [{"tenant_id": tenant_id, "educator_id": e["educator_id"],
                 "activity_id": e["activity_id"], "event": e["event"], "at": e["at"],
                 "rating": e.get("rating"), "replaces": e.get("replaces"), "by": e.get("by"),
                 "note": e.get("note"), "key_id": e.get("key_id")} for e in events]
        ed = schema.educators
        ids = sorted({r["educator_id"] for r in rows})
        with self._write() as conn:
            conn.execute(t.insert(), rows)
            for part in _chunks(ids):
                conn.execute(ed.update().where((ed.c.tenant_id == tenant_id)
                                               & ed.c.educator_id.in_(part))
                             .values(data_version=ed.c.data_version + 1))
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
                for e, m in entries.items()]
        stmt = self._insert(t)
        stmt = stmt.on_conflict_do_update(
            index_elements=[t.c.tenant_id, t.c.educator_id],
            set_={c: stmt.excluded[c] for c in ("model_key", "data_version", "computed_at",
                                                "evidence_watermark_us", "table_json")},
            where=t.c.data_version <= stmt.excluded.data_version,
        )
        with self._write() as conn:
            for part in _chunks(rows, 500):
                conn.execute(stmt, part)

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
