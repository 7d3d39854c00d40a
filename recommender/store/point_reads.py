"""Point reads compiled once: :class:`CompiledSelect`, read on a pooled connection or, on an
asyncio event loop (an API worker's), on a connection the loop keeps for them.

On PostgreSQL the loop's reads do not block it: they go through libpq's pipeline on a socket
the loop watches (:class:`_PipelinedReads`), so the loop serves other requests while the server
answers. On SQLite they are read inline (:class:`_LocalReads`): a local file's read is shorter
than any hand-off.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

__all__ = ["CompiledSelect"]

logger = logging.getLogger(__name__)


class CompiledSelect:
    """A read-only SELECT compiled once for the engine's dialect, run on the raw DB-API cursor.

    For hot point reads only: no SQLAlchemy type processing of the results (values come back
    as the driver returns them).

    :meth:`first` reads on a pooled connection, from any thread. :meth:`first_on_loop` is the
    read of a coroutine on an asyncio event loop (an API worker's): the loop keeps one
    connection of its own for it instead of taking one from the pool each time. On SQLite the
    checkout and the return's reset were about half of a read's cost, on the loop every request
    waits for; on PostgreSQL they were two of a read's three round trips to the server (the
    pool's ping and its rollback). The kept connection is in autocommit mode (SQLite's always
    are: :func:`make_engine`), so a read leaves no transaction open behind it and sees every
    commit. On PostgreSQL the loop does not wait for the server: reads are sent through libpq's
    pipeline and awaited (:class:`_PipelinedReads`). A kept connection the server dropped is
    replaced once, and the read retried on the new one (what the pool's ping does for pooled
    ones); a second failure is raised.
    """

    def __init__(self, engine: Engine, stmt: sa.Select):
        self.engine = engine
        compiled = stmt.compile(dialect=engine.dialect)
        self.sql = compiled.string
        self.positional = compiled.positiontup if compiled.positional else None
        if engine.dialect.name == "postgresql":  # libpq's own placeholders, $1 ... $n
            numbered = stmt.compile(dialect=type(engine.dialect)(paramstyle="numeric_dollar"))
            self._prepared = (numbered.string, list(numbered.positiontup))
        self._loop_held = threading.local()

    def first(self, params: Mapping[str, Any]) -> tuple | None:
        """The first row for these bind parameters (by name), None when there is none; read
        on a pooled connection."""
        conn = self.engine.raw_connection()  # pooled; no Connection object (10 of 26 us)
        try:
            return self._fetch(conn, params)
        finally:
            conn.close()  # back to the pool, reset as the pool resets every connection

    async def first_on_loop(self, params: Mapping[str, Any]) -> tuple | None:
        """:meth:`first`, read on the running event loop's own connection (opened at its first
        read); on PostgreSQL the loop serves other requests while the server answers."""
        read = self._kept_read()
        try:
            return await read(params)
        except self.engine.dialect.loaded_dbapi.OperationalError:
            if read.lost is None:
                raise  # the server answered: the error is the read's, not the connection's
            logger.warning("a kept read connection was closed by the server; reconnecting")
        return await self._kept_read()(params)  # a second failure is raised

    def open_on_loop(self) -> None:
        """Open the running event loop's kept connection now (and prepare the statement on
        it), instead of at its first read: a worker calls it at start-up, so its first
        requests do not wait for a connection, a prepare and a fresh server process. Raises
        as that first read would when the database cannot be reached."""
        self._kept_read()

    def _kept_read(self) -> _PipelinedReads | _LocalReads:
        """This thread's kept read for the running loop: opened when there is none, when it
        was another loop's, or when its connection was lost (the old one is closed)."""
        held = self._loop_held
        loop = asyncio.get_running_loop()
        read = getattr(held, "read", None)
        if read is not None and read.loop is loop and read.lost is None:
            return read
        if read is not None:
            read.close()
        held.read = None
        conn = self.engine.raw_connection()
        conn.detach()  # out of the pool: closed when replaced, or when the thread goes
        try:
            held.read = (_PipelinedReads(conn, *self._prepared, loop)
                         if self.engine.dialect.name == "postgresql"
                         else _LocalReads(conn, self._fetch, loop))
        except BaseException:
            conn.close()  # the statement could not be prepared: nothing is kept
            raise
        return held.read

    def _fetch(self, conn: Any, params: Mapping[str, Any]) -> tuple | None:
        """The first row for ``params`` (by name) through a DB-API cursor of ``conn``."""
        args = (tuple(params[k] for k in self.positional) if self.positional is not None
                else dict(params))
        cursor = conn.cursor()
        try:
            cursor.execute(self.sql, args)
            return cursor.fetchone()
        finally:
            cursor.close()


class _LocalReads:
    """Reads of a loop on a SQLite connection it keeps: run inline, since a local file's read
    is shorter than any hand-off to another thread. A SQLite connection is never lost."""

    lost = None

    def __init__(self, conn: Any, fetch: Callable[[Any, Mapping[str, Any]], tuple | None],
                 loop: asyncio.AbstractEventLoop):
        self.conn, self.fetch, self.loop = conn, fetch, loop

    async def __call__(self, params: Mapping[str, Any]) -> tuple | None:
        return self.fetch(self.conn, params)

    def close(self) -> None:
        self.conn.close()


class _PipelinedReads:
    """Point reads on a psycopg connection an event loop keeps for them alone, sent without
    waiting for the server: each read is queued in libpq's pipeline as the prepared statement
    (prepared once) and gives a future; the reads queued in one pass of the loop go to the
    server together, behind one sync, at the pass's end; the loop's reader on the socket
    (registered once) settles the futures in the order their reads were sent as the results
    arrive. The loop serves other requests meanwhile: a blocking read held it for the whole
    round trip (a median of 136-157 us, against 29-37 us of its own CPU, in the API benchmark).
    Results come in binary format (no hex text for a ``bytea`` answer of about 2 kB). With 16
    reads in flight, a read costs 38-47 us of client CPU and 35-40 us of the server's (45-51
    and 41-48 with text results; 67-75 and 59-66 with text and a sync per read).

    Rows are loaded by psycopg's own loaders (the same values a cursor returns). The connection
    is in autocommit mode, so a read leaves no transaction open and sees every commit. A read
    the server refuses raises psycopg's error for it; the server skips the rest of its batch
    (``PIPELINE_ABORTED``), and those reads are sent again. When the connection is lost (the
    socket fails, or the server ends the session: SQLSTATE classes 08 and 57P), ``lost`` holds
    the error, every read in flight raises it (an ``OperationalError``) and the reader leaves
    the socket.
    """

    _NAME = b"pdrec_kept_read"

    def __init__(self, conn: Any, sql: str, names: list[str], loop: asyncio.AbstractEventLoop):
        """``conn`` a detached pool connection; ``sql`` with ``$n`` placeholders, for the
        parameters ``names`` in that order."""
        import psycopg
        from psycopg.adapt import PyFormat, Transformer

        self._psycopg = psycopg
        self._status = psycopg.pq.ExecStatus
        self._BINARY = psycopg.pq.Format.BINARY
        self.conn = conn
        connection = conn.dbapi_connection
        connection.autocommit = True
        self.encoding = connection.info.encoding
        self.pgconn = pgconn = connection.pgconn
        self.names = names
        self.formats = [PyFormat.TEXT] * len(names)
        self.transformer = Transformer(connection)
        prepared = pgconn.prepare(self._NAME, sql.encode())  # once, before the pipeline
        if prepared.status != self._status.COMMAND_OK:
            raise self._error(prepared)
        pgconn.nonblocking = 1
        pgconn.enter_pipeline_mode()
        self.loop = loop
        self.fd = pgconn.socket
        self.waiting: collections.deque[tuple[asyncio.Future, list]] = (
            collections.deque())  # the reads sent, in order, and their dumped parameters
        self.result: Any = None  # the result of the read at the head of ``waiting``
        self.syncing = self.writing = False
        self.lost: Exception | None = None
        loop.add_reader(self.fd, self._readable)

    def __call__(self, args: Mapping[str, Any]) -> asyncio.Future:
        """Send the read of ``args`` (by name); the future of its first row (None if none)."""
        if self.lost is not None:
            raise self.lost
        future = self.loop.create_future()
        self._send(future, self.transformer.dump_sequence([args[n] for n in self.names],
                                                          self.formats))
        return future

    def _send(self, future: asyncio.Future, values: list) -> None:
        """Queue the read of ``values`` (its parameters, dumped) in libpq; the reads queued in
        one pass of the loop go together, with one sync, at its end (:meth:`_sync`)."""
        try:
            self.pgconn.send_query_prepared(self._NAME, values, result_format=self._BINARY)
        except self._psycopg.OperationalError as exc:
            self._lose(exc)
            future.set_exception(self.lost)
            return
        self.waiting.append((future, values))
        if not self.syncing:
            self.syncing = True
            self.loop.call_soon(self._sync)

    def _sync(self) -> None:
        self.syncing = False
        try:
            self.pgconn.pipeline_sync()
            self._flush()
        except self._psycopg.OperationalError as exc:
            self._lose(exc)

    def _flush(self) -> None:
        """Send what libpq holds; what the socket does not take now goes when it is writable."""
        if self.pgconn.flush() and not self.writing:
            self.loop.add_writer(self.fd, self._writable)
            self.writing = True

    def _writable(self) -> None:
        try:
            if self.pgconn.flush() == 0:
                self.loop.remove_writer(self.fd)
                self.writing = False
        except self._psycopg.OperationalError as exc:
            self._lose(exc)

    def _readable(self) -> None:
        """Take what the server sent and settle every read whose result is complete."""
        pgconn = self.pgconn
        status = self._status
        try:
            pgconn.consume_input()
            while self.lost is None and not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # a read's results end here, or nothing is left
                    if self.result is None:
                        return
                    done, self.result = self.result, None
                    future, values = self.waiting.popleft()
                    if done.status == status.PIPELINE_ABORTED:  # behind a failed read
                        if not future.done():
                            self._send(future, values)  # of its batch: read it again
                    else:
                        self._settle(future, done)
                elif result.status == status.FATAL_ERROR and (result.error_field(
                        self._psycopg.pq.DiagnosticField.SQLSTATE) or b"").startswith(
                            _SESSION_ENDED):
                    self._lose(self._error(result))  # the server ends the session
                    return
                elif result.status != status.PIPELINE_SYNC:
                    self.result = result
        except self._psycopg.OperationalError as exc:
            self._lose(exc)

    def _settle(self, future: asyncio.Future, result: Any) -> None:
        if future.done():  # the request went away (cancelled)
            return
        if result.status != self._status.TUPLES_OK:
            future.set_exception(self._error(result))
        elif not result.ntuples:
            future.set_result(None)
        else:
            self.transformer.set_pgresult(result)
            future.set_result(self.transformer.load_row(0, tuple))

    def _error(self, result: Any) -> Exception:
        """psycopg's error for a failed ``result``."""
        return self._psycopg.errors.error_from_result(result, encoding=self.encoding)

    def _lose(self, exc: Exception) -> None:
        """The connection is gone: every read in flight raises ``OperationalError``."""
        self.lost = (exc if isinstance(exc, self._psycopg.OperationalError) else
                     self._psycopg.OperationalError(f"the kept read connection was lost: {exc}"))
        self._leave()
        while self.waiting:
            future, _ = self.waiting.popleft()
            if not future.done():
                future.set_exception(self.lost)

    def _leave(self) -> None:
        """Leave the socket (the loop may have ended already)."""
        if not self.loop.is_closed():
            self.loop.remove_reader(self.fd)
            if self.writing:
                self.loop.remove_writer(self.fd)
        self.writing = False

    def close(self) -> None:
        """Leave the socket and close the connection (replaced, or its loop ended)."""
        self._leave()
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - a lost connection may fail to close; it is gone
            logger.debug("closing a kept read connection failed", exc_info=True)


_SESSION_ENDED = (b"08", b"57P")
"""How the SQLSTATEs that end a session begin: class 08 (connection exception) and 57P (the
server shutting down or terminating it; 57014, a cancelled statement, leaves it open)."""
