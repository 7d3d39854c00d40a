"""Settings from the environment (pydantic-settings), read once by the app factory.

====================================  ==============================================================
variable                              meaning (default)
====================================  ==============================================================
``PDREC_DATA_DIR``                    project data directory: store, MLflow (``data``)
``DATABASE_URL``                      ``sqlite:///...`` or ``postgresql://...`` (``DATA_DIR/pdrec.db``)
``MLFLOW_TRACKING_URI``               read by :mod:`pipelines.tracking` (``DATA_DIR/mlflow``)
``PDREC_LOAD_MODEL``                  ``pdrec serve`` loads ``models:/mastery@champion`` at start
                                      (``true``; :mod:`pipelines.app`)
``PDREC_MODEL_DIR``                   a model bundle directory (``pdrec model export``) served as the
                                      default model instead of the registry's champion; verified at
                                      start, a bad bundle stops the start (none; :mod:`pipelines.app`)
``PDREC_TENANT_MODELS``               tenants' own champions (``pdrec promote --tenant``) kept loaded
                                      per process, least recently used out; each is loaded on its
                                      tenant's first request and again at every reload (``8``; 0:
                                      every tenant is served the default champion)
``PDREC_MAX_BATCH``                   evidence records or xAPI statements per request (``5000``)
``PDREC_MAX_BODY_BYTES``              request body limit of the evidence and xAPI endpoints
                                      (``33554432``, 32 MiB); see :mod:`api.limits`
``PDREC_MAX_REQUEST_BYTES``           request body limit of every other path (``1048576``, 1 MiB)
``PDREC_AUTH_FAILURES_PER_MINUTE``    failed authentications allowed per client address and key
                                      id, refilled evenly over a minute; beyond, 429 with
                                      ``Retry-After`` (``20``; 0: off). Counted per worker process,
                                      so N workers allow up to N times as many; see :mod:`api.auth`
``PDREC_KEY_CACHE_TTL``               seconds an API-key lookup is cached per process (``5``; 0: off)
``PDREC_MASTERY_REFRESH``             after an evidence or completion write: ``background`` (queue the
                                      educators; one thread refreshes stored mastery in batches,
                                      deduplicated, see :mod:`api.refresh`), ``on_write`` (refresh in
                                      the request) or ``on_read`` (only mark it stale); a read always
                                      recomputes stale mastery itself (``background``)
``PDREC_DECLINE_DAYS``                a declined activity is not proposed again for this long (``90``)
``PDREC_STORED_ANSWERS``              ranked answers to queries without ``available`` kept in the store,
                                      read by every worker, and the default query's computed after
                                      each mastery refresh (``true``; see :mod:`api.answers`)
``PDREC_ANSWER_CACHE_SIZE``           ranked answers to queries with ``available`` kept per process,
                                      keyed by the educator's ``data_version`` and the model
                                      (``4096``; 0: off)
``PDREC_ANSWER_CACHE_TTL``            seconds a stored or cached answer lives at most (``300``): bounds
                                      how late a time-based change (a decline ageing out) shows
``PDREC_AUDIT_FLUSH_SECONDS``         the recommendation log is written behind the request, in one
                                      transaction per this many seconds (``0.025``; 0: in the request)
``PDREC_AUDIT_MAX_PENDING``           log rows held unwritten at most; beyond, requests write (``50000``)
``PDREC_EXPLORE``                     exploration of the shown order, for off-policy evaluation
                                      (:mod:`recommender.exploration`): ``off`` (the ranker's order,
                                      propensity 1), ``softmax`` (Plackett-Luce over the ranked list)
                                      or ``epsilon`` (epsilon-greedy on the top slot) (``off``)
``PDREC_EXPLORE_TEMPERATURE``         ``softmax``: scores are divided by it (``0.1``)
``PDREC_EXPLORE_EPSILON``             ``epsilon``: chance the top slot is drawn uniformly (``0.1``)
``PDREC_EXPLORE_SEED``                seed of the draws; with the request id it replays any draw (``0``)
``PDREC_XAPI_IRI_MAP``                YAML/JSON file mapping xAPI object IRIs to competency ids (none)
``PDREC_FRAMEWORK``                   ``educator`` or ``leader`` or a framework file (``educator``)
``PDREC_CATALOG``                     activity catalog file (the shipped one)
``PDREC_COACH_SESSION_HOURS``         a coach page sign-in lasts this long (``8``)
``PROMETHEUS_MULTIPROC_DIR``          set for several workers: metrics are aggregated across them
====================================  ==============================================================
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from recommender.store import sqlite_url

__all__ = ["Settings"]


class Settings(BaseSettings):
    """The API's configuration; every field can be set by ``PDREC_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PDREC_", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "PDREC_DATABASE_URL"))
    load_model: bool = True
    model_dir: Path | None = None  # a bundle served as the default model (pipelines.model_bundle)
    tenant_models: int = Field(default=8, ge=0)
    tenant_contents: int = Field(default=32, ge=1)  # tenant contents kept built (api.content)
    max_batch: int = Field(default=5000, ge=1)
    max_body_bytes: int = Field(default=32 * 1024 * 1024, ge=1024)
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024)
    auth_failures_per_minute: int = Field(default=20, ge=0)
    max_batch_educators: int = Field(default=500, ge=1)
    key_cache_ttl: float = Field(default=5.0, ge=0)
    mastery_refresh: Literal["background", "on_write", "on_read"] = "background"
    decline_days: float = Field(default=90.0, ge=0)
    stored_answers: bool = True
    answer_cache_size: int = Field(default=4096, ge=0)
    answer_cache_ttl: float = Field(default=300.0, gt=0)
    audit_flush_seconds: float = Field(default=0.025, ge=0, le=60)
    audit_max_pending: int = Field(default=50_000, ge=1)
    explore: Literal["off", "softmax", "epsilon"] = "off"
    explore_temperature: float = Field(default=0.1, gt=0, le=1000)
    explore_epsilon: float = Field(default=0.1, ge=0, le=1)
    explore_seed: int = Field(default=0, ge=0)
    xapi_iri_map: Path | None = None
    framework: str = "educator"
    catalog: Path | None = None
    run_migrations: bool = True
    db_pool_size: int = Field(default=8, ge=1)
    coach_session_hours: float = Field(default=8.0, gt=0, le=24 * 30)

    def store_url(self) -> str:
        """``DATABASE_URL`` or the embedded SQLite file in the data directory."""
        return self.database_url or sqlite_url(self.data_dir)
