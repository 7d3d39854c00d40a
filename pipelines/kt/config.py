"""What one benchmark run is: the models it knows and the settings of a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from pipelines.kt.frames import DEFAULT_MAX_PAIRS
from pipelines.kt_data import SYNTHETIC_STEP

MODELS = ("lightgbm", "lightgbm_graph", "lightgbm_counts", "logistic", "bkt", "pybkt")
"""Model names the benchmark knows, in report order."""

ENGINE_MODELS = ("lightgbm", "lightgbm_graph")
"""The engine's mastery model (without and with a learned graph)."""

COUNT_FEATURES = ("educator_id", "competency_id", "own_n", "own_rate", "edu_n", "edu_rate")
"""The ``lightgbm_counts`` reference: answer counts and rates of the learner and on the skill."""

METRICS = ("auc", "rmse", "accuracy", "log_loss")
"""Metrics over all test responses."""


class SetupError(ValueError):
    """A run that cannot start (bad options, a bad dataset card, no pyBKT), said before any fit."""


@dataclass
class BenchmarkConfig:
    """One benchmark run. Defaults are the settings chosen on ``valid1`` (never on the test file).

    ``n_folds`` is the number of train/valid folds fitted besides the whole training file; 1
    means none (the whole training file is the only fit). ``decay_answers`` is the time constant
    of the decayed means in answers (synthetic minutes); with real timestamps (``time_col``)
    ``decay_days`` is used instead. ``pybkt_python`` is a Python that has pyBKT (see
    :mod:`pipelines.kt.pybkt_job`); only the ``pybkt`` model needs it. ``skipped`` names the models
    of the default list left out of this run (model -> why, and how to include it), for the
    report.
    """

    data: Path
    fmt: str = "sequences"
    csv_options: dict = field(default_factory=dict)
    models: tuple[str, ...] = MODELS
    max_learners: int | None = None
    n_folds: int = 5
    seed: int = 0
    n_jobs: int = 1
    decay_answers: float = 30.0
    decay_days: float = 30.0
    recent_window: int = 5
    graph_max_parents: int = 2
    graph_min_count: int = 20
    lightgbm: dict = field(default_factory=lambda: {
        "learning_rate": 0.05, "num_leaves": 63, "min_child_samples": 50, "n_estimators": 2000,
        "early_stopping_rounds": 50, "calibration": "sigmoid", "validation_fraction": 0.15,
    })
    logistic: dict = field(default_factory=lambda: {"C": 1.0, "max_iter": 300})
    bkt: dict = field(default_factory=dict)
    pybkt: dict = field(default_factory=lambda: {"num_fits": 1})
    pybkt_per_fold: bool = False
    pybkt_python: Path | None = None
    skipped: dict[str, str] = field(default_factory=dict)
    feature_pairs: int | None = DEFAULT_MAX_PAIRS
    """(record, graph neighbour) pairs per feature-building call (:mod:`pipelines.kt.frames`);
    ``None`` builds each frame in one call (the peak then grows with records x chain length)."""

    def check(self) -> None:
        unknown = [m for m in self.models if m not in MODELS]
        if unknown or not self.models:
            raise SetupError(f"unknown model(s) {unknown or '(none given)'}; known: {', '.join(MODELS)}")
        if self.n_folds < 1:
            raise SetupError(f"n_folds must be >= 1 (1: no fold fits); got {self.n_folds}")

    @property
    def fits_folds(self) -> bool:
        """Whether the train/valid folds are fitted (``n_folds`` of 2 or more)."""
        return self.n_folds > 1

    def feature_settings(self, has_times: bool) -> dict:
        decay = self.decay_days if has_times else self.decay_answers * (
            SYNTHETIC_STEP / pd.Timedelta(days=1))
        return {"decay_days": decay, "recent_window": self.recent_window, "sequence_context": True}
