"""The recommendation log (audit trail), written behind the request in batches.

Every answer that shows activities (recommendations, batch, pathway) appends its rows here: to
whom, which activities at which rank, by which model version and key, and when (``shown_at`` is
the time of the request, not of the write). A background thread commits what is pending in one
transaction every ``PDREC_AUDIT_FLUSH_SECONDS`` (default 0.025 s), so a read request no
longer opens a write transaction of its own: on SQLite those serialize every worker on the
database lock, and under load a waiting writer sleeps in SQLite's busy handler, which is what set
the read path's tail latency. The interval is short because the flush is the read path's one
burst of work beside the requests: the smaller each flush, the less a burst stretches the reads
it lands on (docs/benchmarks.md, API: recommendations p99 / ``/healthz`` p99 1.73 on average at
0.025 s against 2.05 at 0.1 s, 2.45 at 0.5 s). The store keeps each shown list as one row
(:mod:`recommender.store.audit`): the rows the database inserts, not the Python that builds
them, were what the flush cost the reads.

Durability, stated plainly:

- normal operation and a graceful shutdown (SIGTERM/SIGINT: the lifespan ends and
  :meth:`AuditLog.close` flushes) lose nothing: every shown list is in the log;
- a crash of a worker (SIGKILL, out of memory, power loss) loses the rows it had not flushed yet,
  at most the last ``PDREC_AUDIT_FLUSH_SECONDS`` of that worker's answers;
- a failed write (database unreachable) keeps the rows and retries at the next interval; once
  ``PDREC_AUDIT_MAX_PENDING`` rows wait, requests write synchronously, so when the database stays
  down they fail instead of showing lists the log cannot record;
- ``PDREC_AUDIT_FLUSH_SECONDS=0`` writes in the request, before the answer is sent (the old
  behaviour), for deployments that need every shown list committed before it is returned.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from recommender.store import Store

__all__ = ["AuditLog"]

log = logging.getLogger("pdrec.api")


class AuditLog:
    """Buffer recommendation-log rows and write them in batches from a background thread.

    Parameters
    ----------
    store : Store
        Where the rows go: one insert per flush, on the connection of its
        :meth:`Store.recommendation_log_writer` (:meth:`Store.log_recommendations` when
        synchronous).
    flush_seconds : float
        Interval between flushes; 0 writes every call synchronously (no thread).
    max_pending : int
        Rows held at most; a call that finds more pending flushes in the caller's thread.
    """

    def __init__(self, store: Store, *, flush_seconds: float = 0.025, max_pending: int = 50_000):
        self.store = store
        self.flush_seconds = flush_seconds
        self.max_pending = max_pending
        self._pending: list[Mapping[str, Any]] = []
        self._in_flight = 0  # rows taken by a flush and not committed yet
        self._lock = threading.Lock()  # guards _pending and _in_flight
        self._write_lock = threading.Lock()  # one flush at a time: rows keep their order
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._writer = None  # the batches' writer, on a connection it keeps (one at a time)
        if flush_seconds > 0:
            self._writer = store.recommendation_log_writer()
            self._thread = threading.Thread(target=self._run, name="pdrec-audit-log",
                                            daemon=True)
            self._thread.start()

    @property
    def pending(self) -> int:
        """Rows not committed yet: queued, or taken by a flush that has not finished."""
        with self._lock:
            return len(self._pending) + self._in_flight

    def record(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Queue these rows (or write them now when synchronous or too many are pending)."""
        if not rows:
            return
        if self._thread is None:
            self.store.log_recommendations(rows)
            return
        with self._lock:
            self._pending.extend(rows)
            full = len(self._pending) >= self.max_pending
        if full:
            self.flush()  # backpressure; raises when the database is down

    def flush(self) -> int:
        """Write every pending row now, in one transaction; return how many were written.

        On failure the rows are put back (ahead of newer ones) and the error is raised.
        """
        with self._write_lock:
            with self._lock:
                rows, self._pending = self._pending, []
                self._in_flight = len(rows)
            if not rows:
                return 0
            try:
                self._writer.write(rows)
            except BaseException:
                with self._lock:
                    self._pending[:0] = rows
                raise
            finally:
                with self._lock:
                    self._in_flight = 0
            return len(rows)

    def close(self) -> None:
        """Stop the thread and write what is pending (called when the app shuts down)."""
        self._stop.set()
        if self._thread is None:
            return  # every row was written in its request
        self._thread.join(timeout=30)
        try:
            self.flush()
        finally:
            self._writer.close()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception:  # noqa: BLE001 - rows are kept; retried at the next interval
                log.exception("writing the recommendation log failed; %d rows kept for retry",
                              self.pending)
