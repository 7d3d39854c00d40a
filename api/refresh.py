"""Mastery refreshed behind the write: a deduplicating queue drained by one background thread.

With ``PDREC_MASTERY_REFRESH=background`` (the default) an evidence or completion write only
queues its educators; this thread recomputes their stored mastery in batches. An educator
written to ten times while a batch runs is recomputed once afterwards, so a bulk load costs one
model pass per *distinct* educator per drain instead of one per request that touched them.

Work that can wait (the refreshed educators' answers, :mod:`api.answers`) is deferred until no
refresh is queued (:meth:`Refreshes.settle`, one bounded step at a time, so a new write's refresh
never waits long behind it): during a bulk load each educator's answer is computed once, at the
end, not once per batch that touched them.

Nothing is ever served stale: stored mastery carries the ``data_version`` it was computed from,
and a read that finds it older than the educator's current version recomputes it in the request
(:meth:`api.services.MasteryService.get`) -- the queue only makes that rare. A refresh that fails
is logged and left to the next read; the evidence itself was committed before it was queued.
"""

from __future__ import annotations

import itertools
import logging
import threading
from collections.abc import Iterable
from typing import Protocol

__all__ = ["MasteryRefresher", "Refreshes", "SETTLE", "take_batch"]

log = logging.getLogger("pdrec.api")

SETTLE = "settle"
"""What :meth:`MasteryRefresher._take` hands out when only deferred work is left."""


def take_batch(pending: dict[str, dict], size: int) -> tuple[str, dict]:
    """The first queued tenant and up to ``size`` of its first entries, taken out of ``pending``
    (``tenant -> {educator: value}``, insertion-ordered; a tenant left with none is dropped).

    >>> pending = {"t": {"A": 1, "B": 2, "C": 3}}
    >>> take_batch(pending, 2), pending
    (('t', {'A': 1, 'B': 2}), {'t': {'C': 3}})
    """
    tenant = next(iter(pending))
    queued = pending[tenant]
    batch = {e: queued.pop(e) for e in list(itertools.islice(queued, size))}
    if not queued:
        del pending[tenant]
    return tenant, batch


class Refreshes(Protocol):
    """What the refresher needs: recompute and store a batch of educators' mastery
    (:meth:`api.services.MasteryService.refresh`), and work deferred until no refresh is queued
    (:class:`api.answers.RefreshAndAnswer`: their answers; a protocol, as :mod:`api.services`
    imports this module)."""

    def refresh(self, tenant_id: str, educator_ids: Iterable[str], *, trigger: str) -> object:
        """Recompute and store these educators' mastery; ``trigger`` labels the metric."""

    def settle(self) -> bool:
        """One bounded step of the deferred work; True while some is left."""


class MasteryRefresher:
    """Queue ``(tenant, educator)`` pairs; a daemon thread refreshes them in batches.

    Parameters
    ----------
    mastery : Refreshes
        Does the work (:meth:`api.services.MasteryService.refresh`).
    batch_size : int
        Educators per refresh call (one evidence read and one model pass each).
    """

    def __init__(self, mastery: Refreshes, *, batch_size: int = 2000):
        self.mastery = mastery
        self.batch_size = batch_size
        self._pending: dict[str, dict[str, None]] = {}  # tenant -> ordered set of educators
        self._cond = threading.Condition()
        self._busy = False
        self._unsettled = False  # deferred work left (run when no refresh is queued)
        self._stop = False
        self._thread = threading.Thread(target=self._run, name="pdrec-mastery-refresh",
                                        daemon=True)
        self._thread.start()

    def enqueue(self, tenant_id: str, educator_ids: Iterable[str]) -> None:
        """Queue these educators of ``tenant_id`` (repeats collapse into one refresh)."""
        with self._cond:
            self._pending.setdefault(tenant_id, {}).update(dict.fromkeys(educator_ids))
            self._cond.notify()

    @property
    def pending(self) -> int:
        """Educators queued and not yet taken by the thread."""
        with self._cond:
            return sum(len(ids) for ids in self._pending.values())

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until the queue is empty, no batch runs and no deferred work is left; False
        if ``timeout`` ran out."""
        with self._cond:
            return self._cond.wait_for(
                lambda: not self._pending and not self._busy and not self._unsettled, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Finish what is queued (up to ``timeout``), then stop the thread."""
        self.wait_idle(timeout)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout)

    def _take(self) -> tuple[str, list[str]] | str | None:
        """The next batch to refresh; :data:`SETTLE` when none is queued but deferred work is
        left; None when stopping."""
        with self._cond:
            self._cond.wait_for(lambda: self._pending or self._unsettled or self._stop)
            if not self._pending:
                if self._unsettled and not self._stop:
                    self._busy = True
                    return SETTLE
                return None
            tenant, batch = take_batch(self._pending, self.batch_size)
            self._busy = True
            return tenant, list(batch)

    def _run(self) -> None:
        while (work := self._take()) is not None:
            unsettled = True
            try:
                if work is SETTLE:
                    unsettled = self.mastery.settle()
                else:
                    tenant, batch = work
                    self.mastery.refresh(tenant, batch, trigger="background")
            except Exception:  # noqa: BLE001 - evidence is stored; the next read recomputes
                log.exception("background refresh failed (%s); what it left undone is "
                              "recomputed on the next read", "deferred work" if work is SETTLE
                              else f"{len(work[1])} educators")
                unsettled = work is not SETTLE
            finally:
                with self._cond:
                    self._busy = False
                    self._unsettled = unsettled
                    self._cond.notify_all()
