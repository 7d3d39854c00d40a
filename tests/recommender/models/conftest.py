"""Small synthetic feature frames with a known signal, shaped like recommender.features output."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

SOURCES = ["observation", "micro_credential", "self_assessment", "activity_assessment"]


def pack_bits(outcomes) -> int:
    """Pack outcomes (oldest first) into an int: bit i is outcome i."""
    return int(sum(int(o) << i for i, o in enumerate(outcomes)))


def make_feature_frame(n_educators=150, n_competencies=6, max_events=8, seed=0):
    """A feature frame and its targets.

    Each educator has an ability, each competency a difficulty, each (educator, competency) a
    prerequisite mastery; P(proficient) = sigmoid(-0.5 + 1.2 ability + effect_c
    + 2 (prereq - 0.5) + 0.35 t) at the t-th observation. Features describe the past only.
    """
    rng = np.random.default_rng(seed)
    comps = [f"c{i}" for i in range(n_competencies)]
    effect = rng.normal(0.0, 0.8, n_competencies)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    rows, ys = [], []
    for e in range(n_educators):
        ability = rng.normal()
        role = rng.choice(["teacher", "coach", "leader"])
        years = float(rng.integers(0, 30))
        k = int(rng.integers(2, n_competencies + 1))
        for ci in rng.choice(n_competencies, size=k, replace=False):
            prereq = rng.uniform()
            outcomes, scores = [], []
            for t in range(int(rng.integers(1, max_events + 1))):
                z = -0.5 + 1.2 * ability + effect[ci] + 2.0 * (prereq - 0.5) + 0.35 * t
                o = int(rng.random() < expit(z))
                hist = outcomes[-20:]
                rows.append(
                    {
                        "educator_id": f"e{e:04d}",
                        "as_of": start + pd.Timedelta(days=30 * t + int(ci)),
                        "evidence_id": f"ev{len(rows):06d}",
                        "competency_id": comps[ci],
                        "source": SOURCES[int(rng.integers(len(SOURCES)))],
                        "domain": f"d{ci % 2}",
                        "hist_bits": pack_bits(hist),
                        "hist_len": len(hist),
                        "own_count": float(t),
                        "own_mean_score": float(np.mean(scores)) if scores else np.nan,
                        "own_last_score": float(scores[-1]) if scores else np.nan,
                        "graph_prereq_mastery": float(np.clip(prereq + rng.normal(0, 0.1), 0, 1)),
                        "graph_depth": float(ci % 3),
                        "dom_mean_score": float(2.5 + 0.5 * ability + rng.normal(0, 0.5)),
                        "edu_mean_score": float(2.5 + 0.6 * ability + rng.normal(0, 0.4)),
                        "dose_hours": float(rng.exponential(5.0)),
                        "diff_rate": float(expit(effect[ci])),
                        "prof_years": years,
                        "prof_role": role,
                    }
                )
                ys.append(o)
                outcomes.append(o)
                scores.append(float(np.clip(np.round(2.0 + 1.5 * o + rng.normal(0, 0.6)), 1, 4)))
    X = pd.DataFrame(rows)
    for col in ("competency_id", "source", "domain", "prof_role"):
        X[col] = X[col].astype("category")
    X["hist_bits"] = X["hist_bits"].astype(np.int64)
    X["hist_len"] = X["hist_len"].astype(np.int8)
    return X, np.asarray(ys, dtype=np.int64)


def split_by_educator(X, y, test_fraction=0.3, seed=0):
    """Train/test split by educator."""
    rng = np.random.default_rng(seed)
    eds = X["educator_id"].unique()
    test = set(rng.choice(eds, size=int(len(eds) * test_fraction), replace=False))
    mask = X["educator_id"].isin(test).to_numpy()
    return X[~mask], y[~mask], X[mask], y[mask]


def simulate_bkt(
    params: dict[str, tuple[float, float, float, float]], n_learners=400, n_steps=12, seed=0
):
    """Frames of BKT-generated outcomes: ``params[c] = (p_init, p_learn, p_guess, p_slip)``.

    One row per (learner, competency, step) whose history is the learner's earlier outcomes.
    """
    rng = np.random.default_rng(seed)
    rows, ys = [], []
    for c, (L0, T, G, S) in params.items():
        for i in range(n_learners):
            known = rng.random() < L0
            outcomes = []
            for _ in range(n_steps):
                o = int(rng.random() < ((1 - S) if known else G))
                hist = outcomes[-20:]
                rows.append((f"u{i}", c, pack_bits(hist), len(hist)))
                ys.append(o)
                outcomes.append(o)
                known = known or rng.random() < T
    X = pd.DataFrame(rows, columns=["educator_id", "competency_id", "hist_bits", "hist_len"])
    X["competency_id"] = X["competency_id"].astype("category")
    X["as_of"] = pd.Timestamp("2024-01-01", tz="UTC")
    return X, np.asarray(ys, dtype=np.int64)


@pytest.fixture(scope="session")
def frame():
    """(X, y) of the default synthetic feature frame; do not mutate."""
    return make_feature_frame()


@pytest.fixture(scope="session")
def small_frame():
    """A smaller (X, y) for the contract tests; do not mutate."""
    return make_feature_frame(n_educators=80, n_competencies=5, max_events=6, seed=1)
