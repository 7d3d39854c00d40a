"""Store test helpers: a store URL on each backend, and a store migrated to a given revision."""

from importlib import resources

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

from recommender.store.engine import make_engine
from tests.pg import fresh_database


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """A fresh store URL: SQLite in the test's folder, and a throwaway PostgreSQL database
    (skipped, saying why, when no server can be started)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'pdrec.db'}"
    url, reason = fresh_database()
    if url is None:
        pytest.skip(f"PostgreSQL unavailable: {reason}")
    return url


def upgraded_to(url: str, revision: str) -> Engine:
    """An engine on ``url`` with the store's migrations applied up to ``revision`` (the caller
    disposes it), to test the next migration on a store that predates it."""
    engine = make_engine(url)
    cfg = Config()
    cfg.set_main_option("script_location",
                        str(resources.files("recommender.store").joinpath("migrations")))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    return engine
