"""Mastery estimators the policy simulation runs on evidence: smoothed, graph-shrunk, a model.

These are the simulator's stand-ins until :mod:`recommender.estimate` (the one estimator the API,
batch and simulator will share) replaces them. An estimator is a callable
``estimate(evidence_so_far) -> mastery_long`` (:data:`MasteryEstimator`).

The smoothed evidence estimate (:func:`smoothed_mastery`) is, per (educator, competency),
``(a + sum w * proficient) / (a + b + sum w)`` with ``a = b = 1`` and recency weights
``w = 0.5 ** (age_days / half_life_days)`` (half-life 60 days), 0.5 without evidence.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import networkx as nx
import numpy as np
import pandas as pd

__all__ = [
    "MasteryEstimator",
    "estimator_inputs",
    "graph_mastery",
    "long_mastery",
    "model_mastery",
    "smoothed_mastery",
    "wide_mastery",
]

_DAY = pd.Timedelta(days=1)

MasteryEstimator = Callable[..., pd.DataFrame]
"""``estimate(evidence_so_far) -> mastery_long``; an estimator with a ``completions`` parameter
also gets the completed activities so far (``educator_id, activity_id, completed_at``), one with
an ``educators`` parameter the educators' profiles (the population's ``educators`` frame)."""


def smoothed_mastery(evidence: pd.DataFrame, *, now=None, half_life_days: float = 60.0,
                     prior: tuple[float, float] = (1.0, 1.0)) -> pd.DataFrame:
    """Smoothed, recency-weighted share of proficient records per (educator, competency).

    Returns a long frame ``educator_id, competency_id, p_mastery, n_evidence`` (pairs with
    evidence only; the ranker treats the others as cold).
    """
    if evidence.empty:
        return pd.DataFrame(columns=["educator_id", "competency_id", "p_mastery", "n_evidence"])
    t = pd.to_datetime(evidence["observed_at"], utc=True)
    now = t.max() if now is None else pd.Timestamp(now)
    age = ((now - t) / _DAY).to_numpy(float)
    w = 0.5 ** (np.maximum(age, 0) / half_life_days)
    frame = pd.DataFrame({
        "educator_id": evidence["educator_id"].to_numpy(object),
        "competency_id": evidence["competency_id"].to_numpy(object),
        "w": w,
        "wp": w * evidence["proficient"].to_numpy(bool),
        "n": 1,
    })
    g = frame.groupby(["educator_id", "competency_id"], sort=True).sum()
    a, b = prior
    return pd.DataFrame({
        "educator_id": g.index.get_level_values(0).to_numpy(object),
        "competency_id": g.index.get_level_values(1).to_numpy(object),
        "p_mastery": (a + g["wp"].to_numpy()) / (a + b + g["w"].to_numpy()),
        "n_evidence": g["n"].to_numpy(np.int64),
    })


def wide_mastery(long: pd.DataFrame, educators: np.ndarray, comps: Sequence[str],
                 column: str, fill: float) -> np.ndarray:
    """``long[column]`` as an (educators, comps) array; ``fill`` where a pair has no row."""
    out = np.full((len(educators), len(comps)), fill)
    if len(long):
        r = pd.Index(educators).get_indexer(long["educator_id"])
        c = pd.Index(list(comps)).get_indexer(long["competency_id"])
        keep = (r >= 0) & (c >= 0)
        out[r[keep], c[keep]] = long[column].to_numpy(float)[keep]
    return out


def long_mastery(p: np.ndarray, educators: np.ndarray, comps: Sequence[str]) -> pd.DataFrame:
    """An (educators, comps) array of P(mastery) as a long ``educator_id, competency_id,
    p_mastery`` frame (clipped to [0, 1]), the shape the ranker reads."""
    n_e, n_c = p.shape
    return pd.DataFrame({
        "educator_id": np.repeat(educators, n_c),
        "competency_id": np.tile(np.asarray(comps, dtype=object), n_e),
        "p_mastery": np.clip(p.ravel(), 0.0, 1.0),
    })


def model_mastery(predictor) -> MasteryEstimator:
    """An estimator backed by a trained mastery model (the engine's own).

    ``predictor`` is a :class:`recommender.models.predictor.MasteryPredictor` (anything with its
    ``mastery(evidence, educator_ids=, as_of=, completions=, educators=)`` method): every step,
    P(mastery) of every competency is predicted from the evidence, the completed activities so
    far and the educators' profiles, as the API serves it (it passes the completions recorded
    as feedback, the model's ``dose_`` features, without which every learning activity looks as
    if it never happened; and the stored profiles, the model's ``prof_`` features).
    """

    def estimate(evidence: pd.DataFrame, completions: pd.DataFrame | None = None,
                 educators: pd.DataFrame | None = None) -> pd.DataFrame:
        as_of = evidence["observed_at"].max() + pd.Timedelta(seconds=1)
        ids = pd.unique(evidence["educator_id"])
        return predictor.mastery(evidence, educator_ids=ids, as_of=as_of,
                                 completions=completions, educators=educators)

    return estimate


def graph_mastery(graph: nx.DiGraph, *, strength: float = 2.0, **smooth_kwargs
                  ) -> MasteryEstimator:
    """An estimator: :func:`smoothed_mastery`, shrunk towards the graph's prerequisites.

    In topological order, ``p[c] = (n[c] * s[c] + strength * prior[c]) / (n[c] + strength)``
    with ``s`` the smoothed share, ``n`` the number of evidence records and ``prior[c]``
    the mean of ``p`` over the direct prerequisites of ``c`` (0.5 for a root): a competency with
    little evidence is assumed about as mastered as what it builds on.
    """
    comps = list(nx.lexicographical_topological_sort(graph))
    preds = [[comps.index(q) for q in graph.predecessors(c)] for c in comps]

    def estimate(evidence: pd.DataFrame) -> pd.DataFrame:
        base = smoothed_mastery(evidence, **smooth_kwargs)
        educators = np.asarray(sorted(set(base["educator_id"])), dtype=object)
        s = wide_mastery(base, educators, comps, "p_mastery", 0.5)
        n = wide_mastery(base, educators, comps, "n_evidence", 0.0)
        p = np.empty_like(s)
        for j, ps in enumerate(preds):  # loop over competencies, vectorized over educators
            prior = p[:, ps].mean(axis=1) if ps else np.full(len(educators), 0.5)
            p[:, j] = (n[:, j] * s[:, j] + strength * prior) / (n[:, j] + strength)
        return long_mastery(p, educators, comps)

    return estimate


def estimator_inputs(estimate: MasteryEstimator) -> frozenset[str]:
    """Which of ``completions`` and ``educators`` the estimator takes."""
    try:
        params = inspect.signature(estimate).parameters
    except (TypeError, ValueError):
        return frozenset()
    return frozenset({"completions", "educators"} & set(params))
