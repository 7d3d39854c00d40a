"""A small MLflow registry for API tests: a few unpromoted versions of one quick LightGBM run."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def mastery_registry(root: Path, *, versions: int, educators: int, months: int, seed: int,
                     n_estimators: int) -> Iterator[list[str]]:
    """Point MLflow at ``root`` and register ``versions`` versions of 'mastery' (no alias), all
    of one training run on generated data; yields their version numbers. The caller's
    ``MLFLOW_TRACKING_URI`` is restored afterwards. MLflow is imported here, not at collection.
    """
    from pipelines import tracking
    from pipelines.config import load_config
    from pipelines.training import train

    saved = os.environ.pop("MLFLOW_TRACKING_URI", None)
    tracking.configure(root)
    cfg = load_config({
        "name": "lightgbm", "model": "lightgbm",
        "data": {"kind": "synthetic", "path": "synthetic",
                 "generate": {"educators": educators, "months": months, "seed": seed}},
        "split": {"test_size": 0.3, "seed": 0},
        "params": {"n_estimators": n_estimators, "n_jobs": 1, "min_child_samples": 5},
    })
    result = train(cfg, root)
    try:
        yield [tracking.log_training(result)["version"] for _ in range(versions)]
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        if saved is not None:
            os.environ["MLFLOW_TRACKING_URI"] = saved
