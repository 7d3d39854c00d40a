"""``pdrec serve`` and ``pdrec keys``: the logic behind those CLI commands.

The store URL is ``DATABASE_URL`` when set, else the SQLite file ``DATA_DIR/pdrec.db``: the CLI
and the API always agree on where keys and evidence live.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from recommender.store import ApiKey, Store, open_store, sqlite_url

__all__ = ["database_url", "project_store", "create_key", "list_keys", "revoke_key", "serve"]


def database_url(data_dir: Path) -> str:
    """``DATABASE_URL`` if set, else the embedded SQLite store of the data directory."""
    return os.environ.get("DATABASE_URL") or sqlite_url(data_dir)


def project_store(data_dir: Path) -> Store:
    """The project's store, migrated to the current schema."""
    return open_store(database_url(data_dir), pool_size=2)


def create_key(data_dir: Path, tenant: str, role: str, label: str = "") -> tuple[str, ApiKey]:
    """Create a key (and its tenant if new); returns the secret (to print once) and the record."""
    store = project_store(data_dir)
    try:
        return store.create_key(tenant, role, label)
    finally:
        store.dispose()


def list_keys(data_dir: Path, tenant: str | None = None) -> list[ApiKey]:
    store = project_store(data_dir)
    try:
        return store.list_keys(tenant)
    finally:
        store.dispose()


def revoke_key(data_dir: Path, key_id: str) -> ApiKey | None:
    store = project_store(data_dir)
    try:
        return store.revoke_key(key_id)
    finally:
        store.dispose()


def serve(data_dir: Path, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1,
          log_level: str = "info") -> None:
    """Migrate the store once, then run the API with uvicorn (``api.app:create_app``).

    With several workers, Prometheus multiprocess mode is switched on
    (``PROMETHEUS_MULTIPROC_DIR`` under the data directory, emptied first) unless the variable
    is already set, so ``/metrics`` aggregates every worker.
    """
    import uvicorn

    data_dir = Path(data_dir).resolve()
    os.environ["PDREC_DATA_DIR"] = str(data_dir)
    project_store(data_dir).dispose()  # migrations run once, before the workers start
    os.environ["PDREC_RUN_MIGRATIONS"] = "false"
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        folder = data_dir / "prometheus-multiproc"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    uvicorn.run("api.app:create_app", factory=True, host=host, port=port, workers=workers,
                log_level=log_level, access_log=False)
