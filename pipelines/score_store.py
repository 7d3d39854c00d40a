"""Batch scoring of one tenant of the store, partition by partition, on the API's own code path.

A partition is a chunk of the tenant's educator ids in id order (pages of
:meth:`recommender.store.Store.list_educators`, :func:`store_partitions`). Each one is scored by
:func:`score_store_partition` with an :class:`api.services.Services` built as the API builds it
(same settings, the same model states, the same store), so the numbers are the API's by
construction, not by a second copy of its logic:

- mastery is :meth:`api.services.MasteryService.refresh`: the inputs read through the evidence
  firewall, the tenant's content (its framework and catalog, the served model adapted to it),
  the tenant's evidence clock, the served estimator; the rows it computes are keyed by the
  served model's :attr:`~api.services.ModelState.key` and each educator's ``data_version``;
- the top-k is ranked from those tables with the tenant's ranking contexts
  (:meth:`api.services.Services.contexts`: goals, declines, pins) and the served ranking index,
  as :mod:`pipelines.score` does for parquet input (same output columns).

With ``to_store`` the stored mastery is written through :meth:`~recommender.store.Store.put_mastery`
(inside ``refresh``) with each educator's answer to the API's default recommendations query
(:meth:`api.answers.AnswerService.precompute`), so the API's next read of these educators is a
hit; without it the store
is only read (a view of it drops the mastery write). With ``out`` the mastery and recommendations
of each partition are written as ``mastery/<name>.parquet`` and ``recommendations/<name>.parquet``.

On Dask (:func:`score_store_dask`) the :class:`StoreJob` (the URL, the settings, the model
states already loaded) is broadcast once and every worker process opens the store itself from
the URL and builds its services once per run; a worker must reach the store (a SQLite file works
on a :class:`~dask.distributed.LocalCluster`; a real cluster needs PostgreSQL).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from pathlib import Path
from types import MappingProxyType

import numpy as np
import pandas as pd

from api.services import MasteryService, ModelState, Services
from api.settings import Settings
from pipelines.score import (
    MASTERY_OUT,
    PartitionResult,
    Progress,
    explained_frame,
    peak_rss_mb,
    run_local,
    run_on_dask,
    write_partition,
)
from recommender.ranking import RankingRequest, rank_batch
from recommender.store import Store, StoredMastery, open_store

__all__ = ["NoEducators", "StoreJob", "make_job", "release_run", "score_store_dask",
           "score_store_local", "score_store_partition", "served_models", "served_state",
           "store_partitions"]


class NoEducators(LookupError):
    """The tenant has no educators in the store (an unknown tenant id, most often)."""


@dataclass(frozen=True)
class StoreJob:
    """Everything a partition of the store is scored with; pickled once to every worker.

    ``model`` and ``tenant_model`` are the default and the tenant's own champion as the API's
    loaders return them (:func:`served_models`; None: no model loader, the evidence filter);
    ``token`` names the run, so a worker builds its services once per run.
    """

    url: str
    tenant: str
    settings: Settings
    as_of: pd.Timestamp
    model: ModelState | None = None
    tenant_model: ModelState | None = None
    k: int = 5
    explain: bool = True
    out: str | None = None
    to_store: bool = False
    token: str = field(default_factory=lambda: uuid.uuid4().hex)


def _portable(state: ModelState | None) -> ModelState | None:
    """A state that pickles (its ``params`` mapping proxy as a dict), without the index and
    estimator the services build."""
    if state is None:
        return None
    return replace(state, params=dict(state.params), index=None, estimator=None, content=None)


def make_job(url: str, tenant: str, *, as_of, settings: Settings | None = None,
             model: ModelState | None = None, tenant_model: ModelState | None = None,
             k: int = 5, explain: bool = True, out=None, to_store: bool = False) -> StoreJob:
    """A :class:`StoreJob` with ``as_of`` in UTC, ``out`` absolute and the API's settings for
    a batch (mastery computed here, not queued; no recommendation-log thread)."""
    if out is None and not to_store:
        raise ValueError("nothing to write: pass out (a folder for parquet) or to_store=True")
    at = pd.Timestamp(as_of)
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    base = settings or Settings(database_url=url)
    base = base.model_copy(update={"mastery_refresh": "on_read", "audit_flush_seconds": 0.0,
                                   "database_url": url})
    return StoreJob(url, tenant, base, at, _portable(model), _portable(tenant_model), k, explain,
                    None if out is None else str(Path(out).resolve()), to_store)


def served_models(settings: Settings, tenant: str) -> tuple[ModelState | None, ModelState | None]:
    """The default and the tenant's own champion, loaded as ``pdrec serve`` loads them
    (:func:`pipelines.app.model_loaders`). ``(None, None)`` when ``settings.load_model`` is off
    (the evidence filter)."""
    from pipelines.app import model_loaders

    default, tenants = model_loaders(settings)
    if default is None:
        return None, None
    return default(), tenants(tenant)


class _MasteryWritesDropped:
    """The store, with :meth:`put_mastery` doing nothing: a run that writes parquet only leaves
    the store as it found it (:meth:`MasteryService.refresh` computes, then puts)."""

    def __init__(self, store: Store):
        self._store = store

    def put_mastery(self, tenant_id: str, entries: Mapping[str, StoredMastery]) -> None:
        """Dropped (the run was not asked to write the store)."""

    def __getattr__(self, name: str):
        return getattr(self._store, name)


_RUNS: dict[str, Services] = {}
_RUNS_LOCK = threading.Lock()


def _services(job: StoreJob) -> Services:
    """This process's services for the run (built on first use; a new run releases the old)."""
    with _RUNS_LOCK:
        found = _RUNS.get(job.token)
        if found is not None:
            return found
        for token in list(_RUNS):
            _close(_RUNS.pop(token))
        store = open_store(job.url, run_migrations=False, pool_size=2)
        view = store if job.to_store else _MasteryWritesDropped(store)
        loader = tenant_loader = None
        if job.model is not None:
            def loader() -> ModelState:
                return replace(job.model, params=MappingProxyType(dict(job.model.params)))

            def tenant_loader(tenant: str) -> ModelState | None:
                own = job.tenant_model
                if tenant != job.tenant or own is None:
                    return None
                return replace(own, params=MappingProxyType(dict(own.params)))
        services = Services(job.settings, view, model_loader=loader, tenant_loader=tenant_loader)
        if loader is not None:
            services.models.reload()
        _RUNS[job.token] = services
        return services


def _close(services: Services) -> None:
    services.close()
    services.store.dispose()


def release_run(token: str) -> None:
    """Close this process's services of run ``token`` (its store connections), if any."""
    with _RUNS_LOCK:
        services = _RUNS.pop(token, None)
    if services is not None:
        _close(services)


def served_state(job: StoreJob) -> ModelState:
    """The state the tenant is served (its content, its champion or the default): what every
    partition of ``job`` is scored with."""
    return _services(job).mastery.resolve(job.tenant)


def store_partitions(store: Store, tenant: str, size: int) -> list[tuple[str, list[str]]]:
    """The tenant's educator ids in id order, ``size`` a partition: ``[(name, ids), ...]``.

    Raises :class:`NoEducators` naming the tenant when it has none.
    """
    if size < 1:
        raise ValueError(f"partition size must be at least 1, got {size}")
    parts: list[tuple[str, list[str]]] = []
    after = None
    while page := store.list_educators(tenant, limit=size, after=after):
        ids = [r.educator_id for r in page]
        parts.append((f"part-{len(parts):05d}", ids))
        after = ids[-1]
    if not parts:
        raise NoEducators(f"tenant {tenant!r} has no educators in the store; check the tenant "
                          "id (the one its API keys belong to) and DATABASE_URL / --data-dir")
    return parts


def _long(entries: Mapping[str, StoredMastery], ids: Sequence[str]) -> pd.DataFrame:
    """Stored tables as one long frame of :data:`pipelines.score.MASTERY_OUT` columns."""
    tables = [entries[e].table for e in ids]
    sizes = [len(t) for t in tables]
    values = np.array(list(chain.from_iterable(t.values() for t in tables)),
                      dtype=float).reshape(-1, 3)
    return pd.DataFrame({
        "educator_id": np.repeat(np.asarray(ids, dtype=object), sizes),
        "competency_id": np.array(list(chain.from_iterable(tables)), dtype=object),
        "p_mastery": values[:, 0], "p_bound": values[:, 2],
        "n_evidence": values[:, 1].astype(np.int64)}).loc[:, list(MASTERY_OUT)]


def score_store_partition(job: StoreJob, name: str, ids: Sequence[str]) -> PartitionResult:
    """Mastery (the API's :meth:`~api.services.MasteryService.refresh`) and top-k of these
    educators of ``job.tenant``, as of ``job.as_of``; written where the job says. Educators
    deleted since the partitions were listed are skipped. Returns counts only."""
    t0 = time.perf_counter()
    services = _services(job)
    tenant = job.tenant
    records = services.store.get_educators(tenant, ids)
    found = [e for e in ids if e in records]
    state = services.mastery.resolve(tenant)
    entries = services.mastery.refresh(tenant, found, records=records, state=state,
                                       trigger="batch", now=job.as_of)
    if job.to_store:  # the API's default answer too, so each educator's next read is a hit
        services.answers.precompute(tenant, entries, state)
    mastery = _long(entries, found)
    contexts = services.contexts(tenant, records, job.as_of, state.content.graph)
    request = RankingRequest(k=job.k)
    content = state.content
    if job.explain:
        tables = ((e, MasteryService.frame(entries[e])) for e in found)
        recs = explained_frame(content.graph, content.catalog, tables, contexts,
                               request=request, index=state.index, model_version=state.version)
    else:
        recs = rank_batch(content.graph, content.catalog, mastery, contexts=contexts,
                          request=request, index=state.index).reset_index(drop=True)
    if job.out is not None:
        write_partition(job.out, name, mastery, recs)
    return PartitionResult(name, len(found), len(recs), 0, time.perf_counter() - t0,
                           peak_rss_mb())


def score_store_local(job: StoreJob, parts: Sequence[tuple[str, list[str]]], *,
                      progress: Progress | None = None) -> list[PartitionResult]:
    """Every partition scored in this process, one after the other; the services closed after."""
    try:
        return run_local(score_store_partition, job, [(name, (name, ids)) for name, ids in parts],
                         progress=progress)
    finally:
        release_run(job.token)


def score_store_dask(job: StoreJob, parts: Sequence[tuple[str, list[str]]], client, *,
                     progress: Progress | None = None) -> list[PartitionResult]:
    """Every partition scored as one task each on a ``dask.distributed`` client; each worker
    opens the store from ``job.url`` and releases it when the run ends."""
    shared = client.scatter(job, broadcast=True)
    try:
        return run_on_dask(client, score_store_partition, shared,
                           [(name, (name, list(ids))) for name, ids in parts], progress=progress)
    finally:
        client.run(release_run, job.token)
