"""Ranked answers: computed once per change of an educator's data, read by every worker in one
point read.

An educator's ranked answer to a query (:class:`AnswerQuery`) depends on their data (evidence,
feedback, profile and goals, consent, the tenant's policy and clock: every change bumps the
educator's ``data_version``), on the served model and content, and on time (a decline ageing
out, a cool-down ending). So:

- **Stored answers** (queries without ``available``: the ones many requests share) live in the
  store (:class:`recommender.store.answers.AnswerStore`), where every worker reads them. A read
  is one point read, the educator's version joined with the answer computed at that version
  (:meth:`AnswerService.lookup`), plus the response; a miss computes and stores the answer.
- **Computed when data changes**: after the mastery refresh behind a write
  (:class:`RefreshAndAnswer`, run by :class:`api.refresh.MasteryRefresher` once no refresh is
  queued, or in the request with ``PDREC_MASTERY_REFRESH=on_write``), the default query's answer
  (:data:`DEFAULT_QUERY`) of the refreshed educators is computed and stored in batches, so the
  next read is already a hit.
- Queries naming ``available`` (arbitrary sets, rarely repeated) are kept per process in an
  :class:`AnswerCache`, keyed the same way.

An answer older than ``PDREC_ANSWER_CACHE_TTL`` seconds is computed again (time-based changes);
an answer is never served once the educator's data has changed. The answer is the same wherever
it was computed: the key names the model by ``ModelState.key`` (model, version, estimate format,
tenant content), never by a worker's load time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
import time
from collections.abc import Hashable, Iterable
from typing import TYPE_CHECKING, Any, Protocol

import orjson
import pandas as pd
from cachetools import TTLCache

from api.model_state import ModelState
from api.refresh import take_batch
from recommender.explain import Recommendation, cite_recommendations
from recommender.firewall import EvidenceFirewall, reader_of
from recommender.ranking import EducatorContext, RankingRequest, rank_activities
from recommender.serving import mastery_frame
from recommender.store import EducatorRecord, StoredMastery
from recommender.store.answers import AnsweredAt, StoredAnswer
from recommender.store.coach import evidence_records

if TYPE_CHECKING:
    import networkx as nx

    from api.metrics import Metrics
    from recommender.store import Store

__all__ = ["AnswerQuery", "AnswerCache", "AnswerService", "DEFAULT_QUERY", "RefreshAndAnswer",
           "only_available", "ranked_rows", "ranked_with_citations"]

log = logging.getLogger("pdrec.api")


@dataclasses.dataclass(frozen=True)
class AnswerQuery:
    """A recommendations query, normalized: what the answer depends on besides the educator's
    data and the model. ``reader`` is the policy reader of the caller's role when explaining
    (explanations cite only sources it may read), else None."""

    k: int = 5
    max_hours: float | None = None
    explain: bool = False
    available: frozenset[str] | None = None
    reader: str | None = None

    @classmethod
    def of(cls, k: int, max_hours: float | None, explain: bool,
           available: frozenset[str] | None, role: str) -> AnswerQuery:
        return cls(k, max_hours, explain, available, reader_of(role) if explain else None)

    @property
    def stored(self) -> bool:
        """Kept in the store for every worker (no ``available`` set: shared by many reads)."""
        return self.available is None

    @property
    def request(self) -> RankingRequest:
        return RankingRequest(k=self.k, max_hours=self.max_hours)

    def key(self, state: ModelState) -> str:
        """The stored answer's key: this query under ``state``'s model and content, hashed."""
        parts = [state.key, state.name, state.version, state.run_id, self.k, self.max_hours,
                 self.explain, self.reader,
                 None if self.available is None else sorted(self.available)]
        return hashlib.sha1(orjson.dumps(parts)).hexdigest()


DEFAULT_QUERY = AnswerQuery()
"""``GET /v1/educators/{id}/recommendations`` with no parameters: computed ahead of reads."""


class AnswerCache:
    """Answers of this process (queries with ``available``): a bounded TTL + LRU map
    (``cachetools``) behind a lock; ``maxsize=0`` turns it off. Keys hold the educator's
    ``data_version``, so a cached answer is never served after a write."""

    def __init__(self, maxsize: int, ttl: float):
        self._items: TTLCache | None = (TTLCache(maxsize, ttl, timer=time.monotonic)
                                        if maxsize > 0 else None)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self._items is not None

    def get(self, key: Hashable) -> Any | None:
        if self._items is None:
            return None
        with self._lock:
            return self._items.get(key)

    def put(self, key: Hashable, value: Any) -> None:
        if self._items is not None:
            with self._lock:
                self._items[key] = value

    def clear(self) -> None:
        if self._items is not None:
            with self._lock:
                self._items.clear()


class AnswerService:
    """Looks answers up (:meth:`lookup`: on the event loop, one point read), computes them
    (:meth:`compute`: in a worker thread) and computes the default one ahead of reads
    (:meth:`precompute`)."""

    def __init__(self, services: Services, *, stored: bool, cache_size: int, ttl: float,
                 metrics: Metrics | None = None):
        self.services = services
        self.stored = stored
        self.ttl_us = int(ttl * 1e6)
        self.cache = AnswerCache(cache_size, ttl)
        self.metrics = metrics
        self._counters: dict[bool, Any] | None = None
        self._keys: dict[tuple[AnswerQuery, int], tuple[ModelState, str]] = {}

    def _count(self, hit: bool) -> None:
        if self.metrics is not None:
            if self._counters is None:  # the labelled children, once (labels() validates)
                self._counters = {h: self.metrics.answer_cache.labels("hit" if h else "miss")
                                  for h in (True, False)}
            self._counters[hit].inc()

    def key(self, query: AnswerQuery, state: ModelState) -> str:
        """``query.key(state)``, hashed once per query and served state (a read asks it of
        every request)."""
        held = self._keys.get((query, id(state)))
        if held is not None and held[0] is state:
            return held[1]
        if len(self._keys) >= 256:  # states change on reloads only: forget the old ones
            self._keys.clear()
        key = query.key(state)
        self._keys[(query, id(state))] = (state, key)
        return key

    async def lookup(self, tenant_id: str, educator_id: str, query: AnswerQuery,
                     state: ModelState, *, count_miss: bool = True
                     ) -> tuple[tuple[int, Any] | None, StoredAnswer | None]:
        """``(version, answer)``: the educator's ``(data_version, stamp)`` (None: no such
        educator) and their answer to ``query`` when one is kept for that version and younger
        than the TTL (else None). A hit is counted in the metrics, and a miss unless
        ``count_miss`` is false (a caller that passes the request on to one that looks again:
        :mod:`api.lane`). Awaited on the event loop: one point read on the loop's own
        connection, which does not hold the loop while the database answers."""
        store = self.services.store
        if self.stored and query.stored:
            version, answer = await store.read_answer_on_loop(tenant_id, educator_id,
                                                              self.key(query, state))
            if answer is not None and time.time_ns() // 1000 - answer.computed_us > self.ttl_us:
                answer = None
        else:
            version = await store.educator_version_on_loop(tenant_id, educator_id)
            if version is None or not self.cache.enabled:
                return version, None  # nothing is kept: nothing to count
            answer = self.cache.get((tenant_id, educator_id, *version, query.key(state)))
        if version is not None and (answer is not None or count_miss):
            self._count(answer is not None)
        return version, answer

    def compute(self, tenant_id: str, record: EducatorRecord, query: AnswerQuery,
                state: ModelState, now: pd.Timestamp, version: tuple[int, Any] | None = None
                ) -> StoredAnswer:
        """The answer from the store as of ``now``, kept for the next reads (when ``version``,
        the one :meth:`lookup` read, is still the record's)."""
        services = self.services
        e = record.educator_id
        firewall = services.store.firewall(tenant_id, [e])
        entry = services.mastery.get(tenant_id, {e: record}, state, now=now,
                                     firewall=firewall)[e]
        context = services.contexts(tenant_id, {e: record}, now, state.content.graph)[e]
        answer = self._answer(tenant_id, record, entry, context, firewall, query, state, now)
        if version is not None and version[0] == record.data_version:
            if self.stored and query.stored:
                services.store.put_answers(tenant_id, query.key(state), {e: (
                    AnsweredAt(record.data_version, record.created_at), answer)})
            else:
                self.cache.put((tenant_id, e, *version, query.key(state)), answer)
        return answer

    def _answer(self, tenant_id: str, record: EducatorRecord, entry: StoredMastery,
                context: EducatorContext, firewall: EvidenceFirewall, query: AnswerQuery,
                state: ModelState, now: pd.Timestamp) -> StoredAnswer:
        ranked = ranked_with_citations(self.services, tenant_id, record, entry,
                                       only_available(context, query.available), state,
                                       query.request, query.explain, firewall, query.reader)
        items, shown = ranked_rows(ranked, query.explain)
        return StoredAnswer(orjson.dumps(items, option=orjson.OPT_SERIALIZE_NUMPY, default=str),
                            shown, firewall.label(record.educator_id), now.value // 1000)

    def precompute(self, tenant_id: str, entries: dict[str, StoredMastery],
                   state: ModelState, query: AnswerQuery = DEFAULT_QUERY) -> int:
        """Compute and store ``query``'s answer of the educators whose mastery was just stored
        (``entries``), in one batch: one read of the educators, their feedback and the firewall,
        one write. Educators whose data changed since, or whose mastery another model
        computed, are left to their next read. Returns how many answers were stored."""
        if not (self.stored and query.stored and entries):
            return 0
        services = self.services
        records = services.store.get_educators(tenant_id, entries)
        records = {e: r for e, r in records.items()
                   if r.data_version == entries[e].data_version
                   and entries[e].model_key == state.key}
        if not records:
            return 0
        now = pd.Timestamp.now(tz="UTC")
        firewall = services.store.firewall(tenant_id, records)
        contexts = services.contexts(tenant_id, records, now, state.content.graph)
        answers = {e: (AnsweredAt(r.data_version, r.created_at),
                       self._answer(tenant_id, r, entries[e], contexts[e], firewall, query,
                                    state, now))
                   for e, r in records.items()}
        services.store.put_answers(tenant_id, query.key(state), answers)
        return len(answers)

    def clear(self) -> None:
        """Forget this process's cached answers (stored ones go stale with the data)."""
        self.cache.clear()


class RefreshAndAnswer:
    """The work behind a write: refresh the educators' stored mastery
    (:meth:`api.services.MasteryService.refresh`), then compute their default answer
    (:meth:`AnswerService.precompute`).

    With ``defer`` (what :class:`api.refresh.MasteryRefresher` runs) the answers wait in a
    backlog until no refresh is queued and are computed ``step`` educators at a time
    (:meth:`settle`): a bulk load that touches an educator in every batch computes their answer
    once, after the last. Without it (``PDREC_MASTERY_REFRESH=on_write``, in the request) they
    are computed at once.
    """

    def __init__(self, services: Services, *, defer: bool, step: int = 500):
        self.services = services
        self.defer = defer
        self.step = step
        self._backlog: dict[str, dict[str, StoredMastery]] = {}
        self._lock = threading.Lock()

    def refresh(self, tenant_id: str, educator_ids: Iterable[str], *, trigger: str,
                now: pd.Timestamp | None = None) -> None:
        state = self.services.mastery.resolve(tenant_id)
        entries = self.services.mastery.refresh(tenant_id, educator_ids, state=state,
                                                trigger=trigger, now=now)
        if not self.defer:
            self._answer(tenant_id, entries, state)
            return
        with self._lock:
            self._backlog.setdefault(tenant_id, {}).update(entries)

    def settle(self) -> bool:
        """Compute the answers of up to ``step`` refreshed educators of one tenant; True while
        the backlog holds more."""
        with self._lock:
            if not self._backlog:
                return False
            tenant, batch = take_batch(self._backlog, self.step)
        self._answer(tenant, batch, self.services.mastery.resolve(tenant))
        with self._lock:
            return bool(self._backlog)

    def _answer(self, tenant_id: str, entries: dict[str, StoredMastery],
                state: ModelState) -> None:
        try:
            self.services.answers.precompute(tenant_id, entries, state)
        except Exception:  # noqa: BLE001 - mastery is stored; the next read computes the answer
            log.exception("computing the answers of %d refreshed educators failed; their next "
                          "read computes them", len(entries))


class Services(Protocol):
    """What answers are computed from (:class:`api.services.Services`: a protocol, as that
    module imports this one)."""

    store: Store
    mastery: Any  # api.services.MasteryService: get, inputs, influence, refresh, resolve

    def contexts(self, tenant_id: str, records: dict[str, EducatorRecord],
                 now: pd.Timestamp | None = None, graph: nx.DiGraph | None = None
                 ) -> dict[str, EducatorContext]:
        """Each educator's ranking context as of ``now``."""


_CITED_EVIDENCE_LIMIT = 500
"""How many of an educator's newest records an explanation may cite from."""


def ranked_with_citations(services: Services, tenant_id: str, record: EducatorRecord,
                          entry: StoredMastery, context: EducatorContext, state: ModelState,
                          request: RankingRequest, explain: bool, firewall: EvidenceFirewall,
                          reader: str | None) -> list[Recommendation]:
    """One educator's ranked activities; with ``explain``, each target cites the educator's
    evidence, most influential on the served estimate first, and says what its estimate rests
    on (the newest records with their scales, and the estimator's inputs, read once, for the
    influence and the completions). Records the ``firewall`` excludes are never cited, nor
    records of sources the policy ``reader`` (:func:`recommender.firewall.reader_of` of the
    caller's role) may not read."""
    educator_id = record.educator_id
    mastery = {c: x.p for c, x in entry.table.items()}
    content = state.content
    ranked = rank_activities(content.graph, content.catalog, mastery_frame(entry.table),
                             context=context,
                             request=request, index=state.index, model_version=state.version)
    if not explain or not ranked:
        return ranked
    rows = evidence_records(services.store, tenant_id, educator_id, limit=_CITED_EVIDENCE_LIMIT)
    evidence = pd.DataFrame(rows, columns=["evidence_id", "competency_id", "source", "score",
                                           "scale_min", "scale_max", "proficient",
                                           "observed_at", "rater_id"]).assign(
        educator_id=educator_id)
    citable = firewall.mask(evidence) & evidence["source"].isin(
        firewall.policy.readable(reader)).to_numpy(bool)
    evidence = evidence[citable].reset_index(drop=True)
    # the estimator's inputs once: its completions are the ones the contributions word
    inputs = services.mastery.inputs(tenant_id, {educator_id: record}, [educator_id], state,
                                     firewall=firewall)
    completions = inputs[1]
    moved = services.mastery.influence(tenant_id, record, state, inputs=inputs, now=context.now)
    influence = pd.Series(moved.reindex(evidence["evidence_id"]).to_numpy(float),
                          index=evidence.index)
    return cite_recommendations(ranked, evidence, educator_id, graph=content.graph,
                                mastery=mastery, completions=completions,
                                catalog=content.catalog, influence=influence)


def ranked_rows(ranked: list[Recommendation], explain: bool
                ) -> tuple[list[dict], tuple[tuple[int, str, float, bool], ...]]:
    """A ranked list as served: its items, and ``(rank, activity_id, score, pinned)`` of each
    (what the recommendation log records)."""
    items = [{"rank": i + 1, "activity_id": r.activity_id, "title": r.title,
              "format": r.format, "hours": float(r.hours), "score": float(r.score),
              "reason": r.reason, "pinned": bool(r.pinned),
              "explanation": r.explanation if explain else None} for i, r in enumerate(ranked)]
    shown = tuple((i + 1, r.activity_id, float(r.score), bool(r.pinned))
                  for i, r in enumerate(ranked))
    return items, shown


def only_available(context: EducatorContext, available: frozenset[str] | None
                   ) -> EducatorContext:
    """``context`` limited to the activities the caller says are available (None: all)."""
    return context if available is None else dataclasses.replace(context, available=available)
