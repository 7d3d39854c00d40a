"""Small synthetic datasets shared by the pipeline tests (generated once per session)."""

import pytest

from recommender.catalog import default_catalog
from recommender.graph import default_framework
from recommender.simulate import generate, write_synthetic


@pytest.fixture(scope="session")
def small_data_dir(tmp_path_factory):
    """A project data dir holding a 300-educator synthetic dataset under ``synthetic/``."""
    root = tmp_path_factory.mktemp("data")
    graph = default_framework("educator")
    write_synthetic(
        generate(graph, default_catalog(graph), n_educators=300, months=6, random_state=1),
        root / "synthetic",
    )
    return root


def small_config(model: str, **params) -> dict:
    """A config over the small dataset, with quick model settings."""
    quick = {"lightgbm": {"n_estimators": 60, "n_jobs": 1},
             "lightgbm_nograph": {"n_estimators": 60, "n_jobs": 1}}
    return {
        "name": f"small-{model}",
        "model": model,
        "data": {"kind": "synthetic", "path": "synthetic"},
        "split": {"test_size": 0.3, "seed": 0},
        "params": {**quick.get(model, {}), **params},
    }
