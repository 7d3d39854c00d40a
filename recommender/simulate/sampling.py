"""Vectorized draws shared by the simulator's modules: generators, categorical rows, counts."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["check_count", "cumulative", "logit", "make_rng", "sample_rows"]


def make_rng(random_state) -> np.random.Generator:
    """A Generator from an int seed, a Generator (used and advanced as is) or None (fresh)."""
    if isinstance(random_state, np.random.RandomState):
        raise TypeError("random_state must be an int, a numpy Generator or None, not RandomState")
    return np.random.default_rng(random_state)


def check_count(name: str, value) -> int:
    """``value`` as an int, or a ValueError naming ``name`` when it is not a positive integer."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def logit(p: float) -> float:
    """``log(p / (1 - p))`` with ``p`` kept off 0 and 1."""
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def cumulative(weights: np.ndarray) -> np.ndarray:
    """Row-wise cumulative shares of ``weights`` (2-D), each row ending at exactly 1."""
    cum = np.cumsum(weights, axis=1)
    cum = cum / cum[:, -1:]
    cum[:, -1] = 1.0
    return cum


def sample_rows(cum: np.ndarray, rows: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Draw one column per entry of ``rows`` from the row's cumulative shares, vectorized.

    ``u`` are uniforms in [0, 1), one per entry. Rows are stacked as ``r + cum[r]`` into one
    increasing array so that a single ``searchsorted`` serves every row.
    """
    n_rows, k = cum.shape
    flat = (cum + np.arange(n_rows)[:, None]).ravel()
    pos = np.searchsorted(flat, rows + u, side="right") - rows * k
    return np.clip(pos, 0, k - 1)
