"""The API under test: the real app (factory, lifespan, migrations, auth) on a temporary store.

``api`` runs on SQLite with the graph rule (no model); ``api_any`` runs the same cases on SQLite
and on a real PostgreSQL server (skipped with the reason where none can start). Keys: a
platform, a coach and an admin key of tenant ``acme``, and a platform key of tenant ``other``.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.settings import Settings
from recommender.catalog import default_catalog
from recommender.evidence import EVIDENCE_COLUMNS, to_json_records
from recommender.graph import default_framework
from recommender.simulate import generate
from recommender.store import open_store
from tests.pg import fresh_database


@dataclass
class Api:
    client: TestClient
    keys: dict[str, str]

    def h(self, who: str = "platform") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}"}

    @property
    def services(self):
        return self.client.app.state.services

    def get(self, path, who="platform", **kw):
        return self.client.get(path, headers=self.h(who), **kw)

    def post(self, path, who="platform", **kw):
        return self.client.post(path, headers=self.h(who), **kw)

    def put(self, path, who="platform", **kw):
        return self.client.put(path, headers=self.h(who), **kw)


@functools.lru_cache(maxsize=1)
def _template() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="pdrec-template-"))
    open_store(f"sqlite:///{folder / 'pdrec.db'}").dispose()
    return folder / "pdrec.db"


@contextlib.contextmanager
def running_api(data_dir: Path, url: str | None = None, model_loader=None, tenant_loader=None,
                **overrides):
    if url is None:  # a copy of a migrated template: the schema DDL runs once per session
        Path(data_dir).mkdir(parents=True, exist_ok=True)
        shutil.copy(_template(), Path(data_dir) / "pdrec.db")
    settings = Settings(data_dir=data_dir, database_url=url, load_model=False, **overrides)
    store = open_store(settings.store_url())
    keys = {}
    for name, tenant, role in (("platform", "acme", "platform"), ("coach", "acme", "coach"),
                               ("admin", "acme", "admin"), ("other", "other", "platform")):
        keys[name], _ = store.create_key(tenant, role)
    store.dispose()
    app = create_app(settings, model_loader=model_loader, tenant_loader=tenant_loader)
    with TestClient(app) as client:
        yield Api(client, keys)


@pytest.fixture
def api(tmp_path):
    with running_api(tmp_path) as a:
        yield a


@pytest.fixture(params=["sqlite", "postgresql"])
def api_any(request, tmp_path):
    url = None
    if request.param == "postgresql":
        url, reason = fresh_database()
        if url is None:
            pytest.skip(f"PostgreSQL unavailable: {reason}")
    with running_api(tmp_path, url) as a:
        yield a


@pytest.fixture
def make_api(tmp_path):
    """Build an API with other settings or a model loader: ``with make_api(...) as api:``."""
    def make(**kw):
        return running_api(tmp_path / f"d{len(list(tmp_path.iterdir()))}", **kw)
    return make


@pytest.fixture(scope="session")
def synthetic():
    """A few synthetic educators: ``(records, educators frame)``, records JSON-ready."""
    graph = default_framework("educator")
    data = generate(graph, default_catalog(graph), n_educators=6, months=3, random_state=0)
    return to_json_records(data.evidence[list(EVIDENCE_COLUMNS)]), data.educators


def record(i, educator="T1", competency="INS.FORMATIVE", score=3, day=1, **extra):
    return {"evidence_id": f"e{i}", "educator_id": educator, "competency_id": competency,
            "source": "observation", "score": score,
            "observed_at": f"2025-03-{day:02d}T10:00:00Z", **extra}
