"""The process-wide services the routers use: store, content, model, stored mastery, contexts.

One :class:`Services` object is built by the app's lifespan and reached through the
dependencies in :mod:`api.deps`. It holds:

- the :class:`~recommender.store.Store` (one engine and connection pool per process);
- a :class:`~api.content.ContentService`: each tenant's framework and catalog (the default, or
  its uploaded versions), and the served model adapted to them (:meth:`Services.serve`);
- a :class:`ModelService`: the champion predictor (or none), its version, learned gains and the
  ranking index built from them (:func:`recommender.ranking.prepare`), as one immutable
  :class:`ModelState` that a reload replaces in a single reference swap, so a request that
  already read the state finishes with it while new requests see the new one; plus the states
  of tenants promoted a champion of their own (:meth:`ModelService.for_tenant`);
- a :class:`MasteryService`: stored mastery per educator, computed when evidence or feedback
  arrives and recomputed on read when it is stale (written at an older ``data_version`` of the
  educator, or by another model than the one served now; this is also how a model reload is
  handled: old rows are recomputed lazily, educator by educator, on their next read);
- an :class:`~api.answers.AnswerService`: ranked answers kept in the store for every worker,
  valid for the educator's ``data_version`` and the model, computed after each mastery refresh,
  so a read costs one point read and no ranking (a change of the evidence policy or of an
  educator's consent bumps ``data_version``: :mod:`recommender.store.consents`);
- the :class:`~api.audit.AuditLog` (the recommendation log, written behind the request).
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from api.answers import AnswerService, RefreshAndAnswer
from api.audit import AuditLog
from api.content import ContentService
from api.key_cache import KeyCache
from api.limits import FailureThrottle
from api.metrics import Metrics
from api.model_state import MASTERY_FORMAT, Loader, ModelState, TenantLoader
from api.refresh import MasteryRefresher
from api.settings import Settings
from recommender.clock import DEFAULT_CLOCK, EvidenceClock, with_clock
from recommender.estimate import MasteryEstimator
from recommender.exploration import ExplorationPolicy
from recommender.firewall import EvidenceFirewall
from recommender.graph.framework import read_mapping
from recommender.ranking import EducatorContext, RankingIndex, prepare
from recommender.serving import (
    completions_from_feedback,
    estimate_mastery,
    evidence_influence,
    feedback_context,
    mastery_frame,
    profiles_frame,
)
from recommender.store import EducatorRecord, MasteryCell, Store, StoredMastery
from recommender.tenant_content import TenantContent, default_content

__all__ = ["MASTERY_FORMAT", "Loader", "TenantLoader", "ModelState", "ModelService",
           "MasteryService", "Services"]

log = logging.getLogger("pdrec.api")


class ModelService:
    """Holds the served :class:`ModelState` and the tenants' own; :meth:`reload` swaps them.

    ``index_builder`` (gains -> :class:`~recommender.ranking.RankingIndex`) is called once per
    installed state, before the swap, so requests never build one.

    Tenant champions are loaded lazily: a tenant's first request (:meth:`for_tenant`) asks the
    ``tenant_loader`` once; a tenant without one of its own is remembered as served the default
    until the next reload. At most ``max_tenants`` tenant models are kept, least recently used
    first out (an evicted tenant's model is loaded again on its next request); 0 turns tenant
    champions off. :meth:`reload` reloads the default and every tenant model kept, and forgets
    which tenants had none (they are asked again on their next request).
    """

    def __init__(self, loader: Loader | None, metrics: Metrics | None = None, *,
                 index_builder: Callable[[pd.DataFrame | None], RankingIndex] | None = None,
                 estimator_builder: Callable[[ModelState], MasteryEstimator] | None = None,
                 tenant_loader: TenantLoader | None = None, max_tenants: int = 8):
        self.loader = loader
        self.tenant_loader = tenant_loader if max_tenants > 0 else None
        self.max_tenants = max_tenants
        self._tenants: OrderedDict[str, ModelState] = OrderedDict()
        self._on_default: frozenset[str] = frozenset()
        self._lru = threading.Lock()
        self.metrics = metrics
        self.index_builder = index_builder
        self.estimator_builder = estimator_builder
        self._state = self._indexed(ModelState(
            reason="no model loader (PDREC_LOAD_MODEL=false, or an app built without one)"
            if loader is None else "not loaded yet"))
        self._lock = threading.Lock()
        self._publish()

    def _indexed(self, state: ModelState) -> ModelState:
        if state.index is None and self.index_builder is not None:
            state = replace(state, index=self.index_builder(state.gains))
        if state.estimator is None and self.estimator_builder is not None:
            state = replace(state, estimator=self.estimator_builder(state))
        return state

    @property
    def state(self) -> ModelState:
        return self._state

    def reload(self) -> ModelState:
        """Build the new states fully (the default, then each tenant model kept), then swap the
        references; on any failure keep serving the old ones."""
        if self.loader is None:
            return self._state
        with self._lock:
            new = self._indexed(self.loader())  # may raise: the old state stays in place
            tenants = OrderedDict()
            for tenant in list(self._tenants):
                state = self._load_tenant(tenant)  # may raise, as above
                if state is not None:
                    tenants[tenant] = state
            with self._lru:
                self._state, self._tenants, self._on_default = new, tenants, frozenset()
            self._publish()
            return new

    @property
    def tenant_models(self) -> int:
        """How many tenants are served a champion of their own now."""
        return len(self._tenants)

    def known(self, tenant_id: str) -> ModelState | None:
        """The tenant's state when it needs no load (None: call :meth:`for_tenant`)."""
        if self.tenant_loader is None:
            return self._state
        with self._lru:
            state = self._tenants.get(tenant_id)
            if state is not None:
                self._tenants.move_to_end(tenant_id)
                return state
            return self._state if tenant_id in self._on_default else None

    def for_tenant(self, tenant_id: str) -> ModelState:
        """The state serving this tenant: its own champion, else the default; loads the
        tenant's on its first request (blocking: call it from a worker thread)."""
        state = self.known(tenant_id)
        if state is not None:
            return state
        with self._lock:  # one load at a time, and never across a reload's swap
            state = self.known(tenant_id)
            if state is not None:
                return state
            try:
                state = self._load_tenant(tenant_id)
            except Exception:  # noqa: BLE001 - the tenant is served the default, said in logs
                log.exception("champion of tenant %r failed to load; serving it the default "
                              "until the next reload", tenant_id)
                state = None
            with self._lru:
                if state is None:
                    self._on_default = self._on_default | {tenant_id}
                    return self._state
                self._tenants[tenant_id] = state
                while len(self._tenants) > self.max_tenants:
                    self._tenants.popitem(last=False)
            return state

    def _load_tenant(self, tenant_id: str) -> ModelState | None:
        state = self.tenant_loader(tenant_id)
        return None if state is None else self._indexed(replace(state, scope="tenant"))

    def serve_fallback(self, reason: str) -> ModelState:
        """Serve the evidence filter alone, saying why (the champion failed to load)."""
        with self._lock:
            self._state = self._indexed(ModelState(reason=reason, scope="none"))
            self._publish()
            return self._state

    def _publish(self) -> None:
        if self.metrics is not None:
            s = self._state
            self.metrics.set_model(s.name, s.version, s.fallback)


class MasteryService:
    """Stored mastery: computed on write, recomputed on read when stale."""

    def __init__(self, store: Store, models: ModelService, metrics: Metrics | None = None):
        self.store = store
        self.models = models
        self.metrics = metrics
        # the tenant's state on its content when a caller passes none (Services sets it)
        self.resolve: Callable[[str], ModelState] = models.for_tenant
        self._clocked: dict[tuple[MasteryEstimator, EvidenceClock], MasteryEstimator] = {}
        self._clocked_lock = threading.Lock()

    def clock(self, tenant_id: str) -> EvidenceClock:
        """The tenant's evidence clock, read from the store (one point read: a clock set in
        another process holds here at once); none set: the default."""
        stored = self.store.evidence_clock(tenant_id)
        return DEFAULT_CLOCK if stored is None else EvidenceClock(*stored)

    def estimator(self, tenant_id: str, state: ModelState) -> MasteryEstimator:
        """The served estimator with the tenant's evidence clock
        (:func:`recommender.clock.with_clock`; the default clock: the state's own), one per
        (estimator, clock), kept while its model is served."""
        clock = self.clock(tenant_id)
        if clock == DEFAULT_CLOCK:
            return state.estimator
        key = (state.estimator, clock)
        with self._clocked_lock:
            found = self._clocked.get(key)
            if found is None:
                if len(self._clocked) >= 64:  # reloads leave old models' entries behind
                    self._clocked.clear()
                found = self._clocked[key] = with_clock(state.estimator, clock)
        return found

    def refresh(self, tenant_id: str, educator_ids: Iterable[str], *,
                records: dict[str, EducatorRecord] | None = None,
                state: ModelState | None = None, trigger: str = "write",
                now: pd.Timestamp | None = None,
                firewall: EvidenceFirewall | None = None) -> dict[str, StoredMastery]:
        """Recompute and store the mastery of these educators (one batch) as of ``now`` (the
        request's time; None, for a write or background refresh: the clock now), return it.

        The educators' ``data_version`` is read *before* their evidence, so a row stored here is
        never newer than the data it was computed from.
        """
        now = pd.Timestamp.now(tz="UTC") if now is None else now
        state = state or self.resolve(tenant_id)
        ids = list(dict.fromkeys(educator_ids))
        if records is None:
            records = self.store.get_educators(tenant_id, ids)
        ids = [e for e in ids if e in records]
        if not ids:
            return {}
        evidence, completions, educators = self.inputs(tenant_id, records, ids, state,
                                                       firewall=firewall)
        # the clock is read after the educators' data_version: a clock set meanwhile bumped it
        long = estimate_mastery(self.estimator(tenant_id, state), evidence, ids, as_of=now,
                                completions=completions, educators=educators)
        if len(evidence):
            us = evidence["observed_at"].astype("datetime64[us, UTC]").astype("int64")
            watermark = us.groupby(evidence["educator_id"].to_numpy()).max().to_dict()
        else:
            watermark = {}
        tables: dict[str, dict[str, MasteryCell]] = {e: {} for e in ids}
        # one dict(zip(...)) per educator over a stable grouping (a Python loop over every
        # (educator, competency) row cost a tenth of a bulk refresh)
        codes, uniques = pd.factorize(long["educator_id"])
        order = np.argsort(codes, kind="stable")
        comps = long["competency_id"].to_numpy(object)[order].tolist()
        bound = long["p_bound"] if "p_bound" in long.columns else long["p_mastery"]
        values = list(map(MasteryCell._make, zip(
            long["p_mastery"].to_numpy(float)[order].tolist(),
            long["n_evidence"].to_numpy(np.int64)[order].tolist(),
            bound.to_numpy(float)[order].tolist(), strict=True)))
        ends = np.cumsum(np.bincount(codes, minlength=len(uniques))).tolist()
        for e, a, b in zip(uniques.tolist(), [0, *ends[:-1]], ends, strict=True):
            tables[e] = dict(zip(comps[a:b], values[a:b], strict=True))
        entries = {
            e: StoredMastery(model_key=state.key, data_version=records[e].data_version,
                             computed_at=now.to_pydatetime(),
                             evidence_watermark_us=watermark.get(e),
                             table=tables[e])
            for e in ids
        }
        self.store.put_mastery(tenant_id, entries)
        if self.metrics is not None:
            self.metrics.mastery_refreshed.labels(trigger).inc(len(ids))
        return entries

    def influence(self, tenant_id: str, record: EducatorRecord,
                  state: ModelState | None = None,
                  inputs: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None] | None = None,
                  now: pd.Timestamp | None = None) -> pd.Series:
        """How far each of the educator's records moved its belief (logits), by evidence id, as
        of ``now`` (None: the clock now): :func:`recommender.serving.evidence_influence` on the
        inputs :meth:`refresh` reads (``inputs``, when the caller has already read them with
        :meth:`inputs`)."""
        state = state or self.resolve(tenant_id)
        e = record.educator_id
        evidence, completions, educators = inputs or self.inputs(tenant_id, {e: record}, [e],
                                                                 state)
        return evidence_influence(self.estimator(tenant_id, state), evidence, e,
                                  as_of=pd.Timestamp.now(tz="UTC") if now is None else now,
                                  completions=completions, educators=educators)

    def inputs(self, tenant_id: str, records: Mapping[str, EducatorRecord], ids: list[str],
               state: ModelState, firewall: EvidenceFirewall | None = None
               ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame | None]:
        """The estimator's inputs for these educators: stored evidence, completions, and the
        profiles when the model reads them. Under a tenant's own framework, evidence on a
        replaced competency counts for its successor and evidence on a retired one is left out
        (:meth:`recommender.tenant_content.TenantContent.usable`; the store keeps it), and so is
        evidence the evidence firewall excludes (the tenant's policy, the educators' withdrawn
        consent: :mod:`recommender.firewall`; stored, never used). ``firewall``: the one the
        caller read for (at least) these educators after their ``data_version``; None: read it
        here."""
        firewall = firewall or self.store.firewall(tenant_id, ids)
        evidence = firewall.used(self.store.evidence_frame(tenant_id, ids))
        if state.content is not None and not state.content.default:
            evidence = state.content.usable(evidence)
        completions = completions_from_feedback(self.store.feedback_frame(tenant_id, ids))
        educators = (profiles_frame({e: records[e].profile for e in ids})
                     if state.predictor is not None else None)
        return evidence, completions, educators

    def get(self, tenant_id: str, records: dict[str, EducatorRecord],
            state: ModelState | None = None, now: pd.Timestamp | None = None,
            firewall: EvidenceFirewall | None = None) -> dict[str, StoredMastery]:
        """Current mastery of these (existing) educators: stored when fresh, else recomputed
        as of ``now`` (:meth:`refresh`; ``firewall``: as :meth:`inputs` takes it)."""
        state = state or self.resolve(tenant_id)
        stored = self.store.get_mastery(tenant_id, records)
        stale = [e for e, rec in records.items()
                 if (m := stored.get(e)) is None or m.data_version != rec.data_version
                 or m.model_key != state.key]
        if stale:
            stored.update(self.refresh(tenant_id, stale,
                                       records={e: records[e] for e in stale}, state=state,
                                       trigger="read", now=now, firewall=firewall))
        return stored

    @staticmethod
    def frame(entry: StoredMastery) -> pd.DataFrame:
        """A mastery table for the ranker: indexed by competency, ``p_mastery, n_evidence,
        p_bound``."""
        return mastery_frame(entry.table)


@functools.lru_cache(maxsize=8)
def _default_content(framework: str, catalog: Path | None) -> TenantContent:
    """The deployment's framework and catalog, parsed once per process (read-only after)."""
    return default_content(framework, catalog)


def _estimator(content: TenantContent, state: ModelState) -> MasteryEstimator:
    """The mastery estimator of a model state on a content: its predictor, gains and rater
    severity over the content's graph and catalog."""
    severity = (None if state.severity is None
                else state.severity.set_index("rater_id")["severity"])
    return MasteryEstimator(content.graph, content.catalog, predictor=state.predictor,
                            gains=state.gains, severity=severity)


class Services:
    """Everything the routers need, built once per process by the lifespan."""

    def __init__(self, settings: Settings, store: Store, *, model_loader: Loader | None = None,
                 tenant_loader: TenantLoader | None = None, metrics: Metrics | None = None):
        self.settings = settings
        self.store = store
        self.metrics = metrics or Metrics()
        self.key_cache = KeyCache(settings.key_cache_ttl)
        self.auth_throttle = FailureThrottle(settings.auth_failures_per_minute)
        default = _default_content(settings.framework, settings.catalog)
        # the default content, for code that has no tenant (health, the badges route)
        self.graph, self.catalog = default.graph, default.catalog
        self.activity_targets = default.activity_targets
        self.iri_map: dict[str, str] = {}
        if settings.xapi_iri_map is not None:
            self.iri_map = {str(k): str(v) for k, v in read_mapping(settings.xapi_iri_map).items()}
        self.models = ModelService(model_loader, self.metrics,
                                   index_builder=functools.partial(prepare, default.graph,
                                                                   default.catalog),
                                   estimator_builder=functools.partial(_estimator, default),
                                   tenant_loader=tenant_loader,
                                   max_tenants=settings.tenant_models)
        self.content = ContentService(
            store, default, fallback=ModelState, max_contents=settings.tenant_contents,
            index_builder=lambda c, gains: prepare(c.graph, c.catalog, gains),
            estimator_builder=_estimator)
        self.mastery = MasteryService(store, self.models, self.metrics)
        self.mastery.resolve = lambda tenant: self.serve(tenant, self.content.for_tenant(tenant))
        self.refresher = (MasteryRefresher(RefreshAndAnswer(self, defer=True))
                          if settings.mastery_refresh == "background" else None)
        # ranked answers: stored for every worker, computed after each refresh (api.answers)
        self.answers = AnswerService(self, stored=settings.stored_answers,
                                     cache_size=settings.answer_cache_size,
                                     ttl=settings.answer_cache_ttl, metrics=self.metrics)
        self.audit = AuditLog(store, flush_seconds=settings.audit_flush_seconds,
                              max_pending=settings.audit_max_pending)
        # the draw of the shown order and its propensities (api.exploring)
        self.exploration = ExplorationPolicy(settings.explore,
                                             temperature=settings.explore_temperature,
                                             epsilon=settings.explore_epsilon)

    def serve(self, tenant_id: str, content: TenantContent) -> ModelState:
        """The state serving this tenant on ``content`` (its champion or the default one,
        :meth:`ModelService.for_tenant`, adapted by :meth:`api.content.ContentService.serve`);
        may load the tenant's champion: call it from a worker thread."""
        return self.content.serve(content, self.models.for_tenant(tenant_id))

    def known(self, tenant_id: str, content: TenantContent) -> ModelState | None:
        """As :meth:`serve` when nothing needs loading or building (None: call :meth:`serve`
        from a worker thread)."""
        state = self.models.known(tenant_id)
        return None if state is None else self.content.served(content, state)

    def close(self) -> None:
        """Finish queued mastery refreshes and write the pending recommendation log (called
        when the app shuts down)."""
        if self.refresher is not None:
            self.refresher.close()
        self.audit.close()

    def mastery_changed(self, tenant_id: str, educator_ids: list[str],
                        now: pd.Timestamp | None = None) -> None:
        """Evidence or completions of these educators were committed: bring their stored
        mastery up to date as ``PDREC_MASTERY_REFRESH`` says (``background``: queue them, for
        the refresher's clock; ``on_write``: now, in this request, as of ``now``, the request's
        time; ``on_read``: leave it to their next read)."""
        if not educator_ids:
            return
        if self.refresher is not None:
            self.refresher.enqueue(tenant_id, educator_ids)
        elif self.settings.mastery_refresh == "on_write":
            try:
                RefreshAndAnswer(self, defer=False).refresh(tenant_id, educator_ids,
                                                            trigger="write", now=now)
            except Exception:  # noqa: BLE001 - the data is stored; the next read recomputes
                log.exception("mastery refresh after a write failed; it will run on read")

    def contexts(self, tenant_id: str, records: dict[str, EducatorRecord],
                 now: pd.Timestamp | None = None, graph: nx.DiGraph | None = None
                 ) -> dict[str, EducatorContext]:
        """Each educator's ranking context from their goals and feedback (one query), as of
        ``now`` (the request's time: cool-downs and decline windows; None: the clock now);
        goals outside ``graph`` (the tenant's framework; None: the default) are dropped."""
        now = pd.Timestamp.now(tz="UTC") if now is None else now
        groups: dict[str, list[dict]] = {}
        for row in self.store.feedback_rows(tenant_id, records):
            groups.setdefault(row["educator_id"], []).append(row)
        goals_ok = self.graph if graph is None else graph
        return {
            e: feedback_context(groups.get(e, ()),
                                goals=[g for g in rec.goals if g in goals_ok],
                                decline_days=self.settings.decline_days, now=now)
            for e, rec in records.items()
        }
