"""The database under the store: engine, migrations, write transactions and their retry.

SQLAlchemy 2 (Core, no ORM: bulk paths stay bulk) over SQLite by default or PostgreSQL by URL.
:func:`make_engine` creates the engine and :func:`migrate` applies the Alembic migrations shipped
in ``recommender/store/migrations`` (package data); :func:`recommender.store.open_store` does
both. SQLite runs in WAL mode with ``synchronous=NORMAL`` and a busy timeout, so readers never
block the single writer and concurrent writers wait instead of failing.

Every write goes through :func:`write_transaction` (``BEGIN IMMEDIATE`` on SQLite), and the
write paths of several statements through :func:`retrying`. Writers never deadlock, because
every write transaction takes its row locks in one global order: educators by id (created with
``INSERT ... ON CONFLICT DO NOTHING`` in id order, which also waits for any writer in progress
on the same educators, :func:`recommender.store.educators.create_educators`), then evidence by
id, then the ``data_version`` bumps, locked by a ``SELECT ... ORDER BY educator_id FOR NO KEY
UPDATE`` before the ``UPDATE`` (:func:`recommender.store.educators.bump_versions`; an ``UPDATE
... WHERE educator_id IN (...)`` locks rows in whatever order its plan reads them). Should
PostgreSQL still report a deadlock or a serialization failure, the whole transaction is retried
(:data:`WRITE_ATTEMPTS` times): a batch is never lost to another writer. SQLite has one writer
at a time (``BEGIN IMMEDIATE``), so the same statements give the same answers there.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from importlib import resources
from operator import itemgetter
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

__all__ = [
    "WRITE_ATTEMPTS",
    "StoreBase",
    "aware",
    "chunks",
    "insert_on_conflict",
    "inserted",
    "make_engine",
    "migrate",
    "now",
    "retrying",
    "sqlite_url",
    "write_transaction",
]

_CHUNK = 900  # ids per IN (...) list: below SQLite's and any driver's parameter limits

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


def now() -> datetime:
    """The current time, UTC-aware: what the store stamps rows with."""
    return datetime.now(UTC)


def aware(ts: datetime | None) -> datetime | None:
    """``ts`` as UTC-aware (None stays None).

    SQLite returns naive datetimes; every time the store hands out is UTC-aware.
    """
    if ts is None:
        return None
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def chunks(items: Sequence, size: int = _CHUNK):
    """``items`` in slices of at most ``size``: one ``IN (...)`` list or insert batch each.

    The default keeps every statement below SQLite's and any driver's parameter limits.
    """
    for i in range(0, len(items), size):
        yield items[i:i + size]


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


def make_engine(url: str, *, pool_size: int = 8) -> Engine:
    """An engine for ``url`` (``sqlite:///...``, ``postgresql://...`` or ``postgres://...``).

    PostgreSQL URLs are pointed at the psycopg 3 driver. SQLite connections get the pragmas of
    the module docstring and foreign keys on; their transactions begin with ``BEGIN IMMEDIATE``
    when opened by :func:`write_transaction`, so two read-then-write transactions never
    deadlock on the upgrade of their locks.
    """
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


def write_transaction(engine: Engine) -> _WriteTx:
    """A write transaction on a pooled connection of ``engine``, as a context manager that gives
    the connection, commits when the block ends and rolls back when it raises (``BEGIN
    IMMEDIATE`` on SQLite: the write lock is taken up front)."""
    conn = engine.connect()
    conn.info["write"] = True
    return _WriteTx(conn)


def retrying(engine: Engine, work: Callable[[Connection], T]) -> T:
    """Run ``work`` in a write transaction; run it again when PostgreSQL aborted it as a
    deadlock victim or for a serialization failure (rolled back, so nothing half-done stays).

    The lock order of the write paths (module docstring) makes deadlocks impossible among this
    store's own writers; the retry covers whatever else holds locks on the same rows. After
    :data:`WRITE_ATTEMPTS` attempts, or on any other error, the error reaches the caller.
    """
    attempt = 1
    while True:
        try:
            with write_transaction(engine) as conn:
                return work(conn)
        except sa.exc.DBAPIError as exc:
            if (attempt == WRITE_ATTEMPTS
                    or getattr(exc.orig, "sqlstate", None) not in _TRANSIENT_SQLSTATES):
                raise
        time.sleep(random.uniform(0, 0.01 * 2 ** attempt))  # let the winner finish
        attempt += 1


def inserted(conn: Connection, stmt: sa.Insert, rows: list[dict]) -> list:
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
    dialect = conn.dialect
    if dialect.name != "postgresql":
        return [v for part in chunks(rows) for v in conn.execute(stmt, part).scalars()]
    sql = stmt.compile(dialect=dialect, column_keys=list(rows[0])).string
    cursor = conn.connection.dbapi_connection.cursor()
    out: list = []
    try:
        cursor.executemany(sql, rows, returning=True)
        while True:
            out.extend(r[0] for r in cursor.fetchall())
            if not cursor.nextset():
                return out
    except dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error) from exc
    finally:
        cursor.close()


def insert_on_conflict(dialect: str, table: sa.Table):
    """An ``INSERT`` into ``table`` of the ``dialect`` (an engine's ``dialect.name``), the kind
    that has ``on_conflict_do_nothing`` / ``on_conflict_do_update`` (both back ends spell them
    the same)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    else:  # pragma: no cover - only the two documented back ends are supported
        raise RuntimeError(f"unsupported database dialect {dialect!r}")
    return insert(table)


class CompiledInsert:
    """An ``INSERT`` of every column of ``table`` but its autoincrement key, compiled once for
    the engine's dialect and run with the driver's ``executemany`` on rows given as mappings
    (a missing column is NULL).

    For hot append-only writes (the recommendation log): SQLAlchemy's per-row parameter
    processing cost about 12 µs a row, most of a flush of thousands of rows, held under the
    GIL while the event loop waited. Here the columns are processed once each (bind
    processors, such as SQLite's datetime-to-text, once per distinct value). On PostgreSQL the
    rows go in by ``COPY ... FROM STDIN`` (psycopg adapts each row in C) instead of one
    pipelined ``INSERT`` a row, whose per-row Python work in the driver was about 40% of a kept
    read's CPU in the API benchmark. Driver errors are raised as SQLAlchemy's, like every other
    statement of the store.
    """

    def __init__(self, engine: Engine, table: sa.Table):
        dialect = engine.dialect
        self.columns = [c.name for c in table.columns
                        if not (c.primary_key and c.autoincrement is True)]
        stmt = table.insert().values({c: sa.bindparam(c, type_=table.c[c].type)
                                      for c in self.columns})
        compiled = stmt.compile(dialect=dialect)
        self.sql = compiled.string
        self.positional = compiled.positiontup if compiled.positional else None
        self.order = list(self.positional or self.columns)  # the parameters' order
        self._row = itemgetter(*self.order) if len(self.order) > 1 else (
            lambda r: (r[self.order[0]],))
        self.processors = [(i, proc) for i, c in enumerate(self.order) if (
            proc := table.c[c].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
        self._dbapi_error = dialect.loaded_dbapi.Error
        quote = dialect.identifier_preparer
        self.copy_sql = None
        if dialect.name == "postgresql":
            self.copy_sql = (f"COPY {quote.format_table(table)} "
                             f"({', '.join(quote.quote(c) for c in self.order)}) FROM STDIN")
            # COPY's rows are text the server parses for the column's type: a time as ISO
            # 8601 text, made once per distinct value (psycopg's dumper took 3.5 of a log
            # row's 6 us, for the one time all rows of a request share)
            self.processors += [(i, datetime.isoformat) for i, c in enumerate(self.order)
                                if isinstance(table.c[c].type, sa.DateTime)]

    def run(self, conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` on ``conn`` (inside its transaction)."""
        self.run_on_driver(conn.connection.dbapi_connection, rows)

    def run_in_transaction(self, engine: Engine, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` in a write transaction of their own on a pooled connection."""
        if rows:
            with write_transaction(engine) as conn:
                self.run(conn, rows)

    def run_on_driver(self, dbapi_connection: Any, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` on a DB-API connection of the engine (:class:`KeptWriter`'s)."""
        if not rows:
            return
        try:  # one C call a row (gathering column by column cost 5.6 of a row's 9 us)
            table = list(map(self._row, rows))
        except KeyError:  # some row lacks a column: NULL there
            table = [tuple(r.get(c) for c in self.order) for r in rows]
        if self.processors:
            columns = list(zip(*table, strict=True))
            for i, proc in self.processors:
                seen: dict = {}
                columns[i] = [v if v is None else seen[v] if v in seen
                              else seen.setdefault(v, proc(v)) for v in columns[i]]
            table = list(zip(*columns, strict=True))
        cursor = dbapi_connection.cursor()
        try:
            if self.copy_sql is not None:
                with cursor.copy(self.copy_sql) as copy:
                    for row in table:
                        copy.write_row(row)
            else:
                cursor.executemany(self.sql, table if self.positional is not None else [
                    dict(zip(self.order, row, strict=True)) for row in table])
        except self._dbapi_error as exc:
            raise sa.exc.DBAPIError.instance(self.copy_sql or self.sql, None, exc,
                                             self._dbapi_error) from exc
        finally:
            cursor.close()


class KeptWriter:
    """Batches of one :class:`CompiledInsert` written by one writer at a time (the caller
    serializes them: the API's recommendation-log thread) on a connection kept for them.

    On PostgreSQL the connection is in autocommit mode and a batch is one ``COPY``, atomic on
    its own: no pool checkout and ping, no ``BEGIN``, ``COMMIT`` or reset around it. Those were
    about half of a batch's cost at the API's rates (two alternating runs, CPU per batch, the
    writer's / all the server's processes): 5 rows 1.0-1.7 / 1.4-2.3 ms through a pooled
    transaction, 0.6 / 0.6-1.0 ms this way; 125 rows 2.1-2.5 / 3.4 ms against 0.9-1.1 /
    2.0-2.4 ms. A batch that fails raises the driver's error (as SQLAlchemy's), writes nothing,
    and the connection is closed: the next batch opens a new one (so a connection the server
    dropped costs one failed batch, which the log keeps and writes again). On SQLite each batch
    is a write transaction of its own (:meth:`CompiledInsert.run_in_transaction`: in
    autocommit mode ``executemany`` would commit row by row).
    """

    def __init__(self, engine: Engine, insert: CompiledInsert):
        self.engine = engine
        self.insert = insert
        self._conn: Any = None

    def write(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` in one atomic batch."""
        if self.engine.dialect.name != "postgresql":
            self.insert.run_in_transaction(self.engine, rows)
            return
        if not rows:
            return
        if self._conn is None:
            conn = self.engine.raw_connection()
            conn.detach()  # out of the pool: closed by close(), or after a failed batch
            conn.dbapi_connection.autocommit = True
            self._conn = conn
        try:
            self.insert.run_on_driver(self._conn.dbapi_connection, rows)
        except sa.exc.DBAPIError:
            self.close()
            raise

    def close(self) -> None:
        """Close the kept connection, if any."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()


class StoreBase:
    """What every part of :class:`recommender.store.Store` stands on: one engine (share one
    per process) and its dialect name.

    Parameters
    ----------
    engine : sqlalchemy.engine.Engine
        Created by :func:`make_engine` and migrated (:func:`recommender.store.open_store`).
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self.dialect = engine.dialect.name

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
