"""Exploration: draw the shown order from the ranker's ordered list, with each item's propensity.

Off-policy evaluation (:mod:`recommender.offpolicy`) can only weigh what was shown by how likely
it was to be shown. A deterministic ranker shows its top item with probability 1 and every other
item never, so nothing can be learned about another policy's choices. This module wraps the
ranker's output (it never changes the ranker): given the ordered list with its scores it draws
the order actually shown and returns, for each shown slot, the probability that the item in it
was drawn there given the items in the slots before it (the Plackett-Luce conditional). For the
first slot that is the plain probability that the logging policy shows this item first, the
propensity the estimators divide by.

Modes (:class:`ExplorationPolicy`)
----------------------------------
``off``      the ranker's order, every propensity 1 (the default).
``softmax``  Plackett-Luce over the list: slot by slot, an item is drawn with probability
             ``exp(score / temperature)`` over the items not shown yet. Drawn at once with the
             Gumbel-max trick (``argsort(score / temperature + Gumbel noise)``); the conditional
             propensities come from one reverse cumulative log-sum-exp. A small temperature (in the
             ranker's score units) stays close to the ranker's order.
``epsilon``  epsilon-greedy on the top slot: with probability ``epsilon`` the first item is drawn
             uniformly from the list and moved to the front, the others keep the ranker's order
             (their conditional propensity is 1). The first item's propensity is
             ``(1 - epsilon) * [it is the ranker's first] + epsilon / m``.

Exploration only reorders the list the ranker returned (its top ``m``): an activity outside it
is never shown, so a candidate policy's choice outside it has no support in the log. The work
is O(m log m) per list: :func:`explore` draws one list in plain Python (the API's case, tens of
microseconds), :func:`explore_batch` many lists at once with numpy (the simulator's); both draw
from the same distribution and log the same propensities. Draws are reproducible:
:func:`request_rng` derives a generator from a deployment seed and the request id.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from typing import Literal

import numpy as np

__all__ = ["EXPLORATION_MODES", "ExplorationPolicy", "explore", "explore_batch",
           "first_slot_probabilities", "request_rng"]

EXPLORATION_MODES = ("off", "softmax", "epsilon")
"""The exploration modes, ``off`` first (the default)."""


@dataclass(frozen=True)
class ExplorationPolicy:
    """How the shown order is drawn from the ranker's list.

    Parameters
    ----------
    mode : {'off', 'softmax', 'epsilon'}, default='off'
        See the module docstring.
    temperature : float > 0, default=1.0
        ``softmax`` only: scores are divided by it (ranker score units).
    epsilon : float in [0, 1], default=0.1
        ``epsilon`` only: the chance that the first slot is drawn uniformly.
    """

    mode: Literal["off", "softmax", "epsilon"] = "off"
    temperature: float = 1.0
    epsilon: float = 0.1

    def __post_init__(self) -> None:
        if self.mode not in EXPLORATION_MODES:
            raise ValueError(f"ExplorationPolicy.mode must be one of {EXPLORATION_MODES}; got "
                             f"{self.mode!r}")
        t = self.temperature
        if not (isinstance(t, int | float) and np.isfinite(t) and t > 0):
            raise ValueError(f"ExplorationPolicy.temperature must be a finite number > 0; got "
                             f"{t!r}")
        e = self.epsilon
        if not (isinstance(e, int | float) and 0 <= e <= 1):
            raise ValueError(f"ExplorationPolicy.epsilon must be a number in [0, 1]; got {e!r}")

    @property
    def name(self) -> str:
        """A short label logged with every shown item: ``off``, ``softmax(t=0.5)``,
        ``epsilon(0.1)``."""
        if self.mode == "softmax":
            return f"softmax(t={self.temperature:g})"
        if self.mode == "epsilon":
            return f"epsilon({self.epsilon:g})"
        return "off"


def request_rng(seed: int, key: str) -> random.Random:
    """A generator that is a function of the deployment ``seed`` and ``key`` (the request id
    and educator) only, so any logged draw can be replayed; for :func:`explore`."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return random.Random((int(seed) << 64) | int.from_bytes(digest, "little"))


def _as_matrix(scores) -> tuple[np.ndarray, np.ndarray]:
    """Scores as a float (n, m) matrix and its validity mask; NaN pads shorter lists, which must
    be NaN only at their end."""
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2:
        raise ValueError(f"scores must be a 2-d array (lists x ranked items); got shape {s.shape}")
    valid = ~np.isnan(s)
    if np.isinf(s).any():
        raise ValueError("scores must be finite (NaN only pads a shorter list at its end)")
    if (valid[:, 1:] & ~valid[:, :-1]).any():
        raise ValueError("scores: NaN may only pad the end of a list (ranked items come first)")
    return s, valid


def _softmax_logits(s: np.ndarray, valid: np.ndarray, temperature: float) -> np.ndarray:
    """``score / temperature`` shifted so each row's maximum is 0; -inf where padded."""
    z = np.where(valid, s / temperature, -np.inf)
    top = np.max(z, axis=1, initial=-np.inf, keepdims=True)
    return np.where(valid, z - np.where(np.isfinite(top), top, 0.0), -np.inf)


def first_slot_probabilities(scores, policy: ExplorationPolicy) -> np.ndarray:
    """The probability that each ranked item is shown first, shape (n, m) (0 where padded).

    Rows sum to 1 (rows without any item: 0). Used to ask whether a candidate's choice had
    support under the logging policy.
    """
    s, valid = _as_matrix(scores)
    m = valid.sum(axis=1, keepdims=True)
    out = np.zeros_like(s)
    if policy.mode == "off":
        out[:, :1] = valid[:, :1]
    elif policy.mode == "epsilon":
        uniform = np.where(valid, policy.epsilon / np.maximum(m, 1), 0.0)
        out = uniform
        out[:, :1] += np.where(valid[:, :1], 1.0 - policy.epsilon, 0.0)
    else:
        w = np.exp(_softmax_logits(s, valid, policy.temperature))
        total = w.sum(axis=1, keepdims=True)
        out = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
    return out


def explore_batch(scores, policy: ExplorationPolicy, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Draw the shown order of many ranked lists at once.

    Parameters
    ----------
    scores : array-like of shape (n, m)
        Row ``i`` holds list ``i``'s scores in the ranker's order; NaN pads a shorter list.
    policy : ExplorationPolicy
    rng : numpy Generator
        Consumed only when the mode draws (``off`` draws nothing).

    Returns
    -------
    order : int array (n, m)
        ``order[i, j]`` is the position in the ranker's list of the item shown at slot ``j``;
        -1 where padded.
    propensity : float array (n, m)
        The probability that that item was drawn at slot ``j`` given the slots before it (1
        for ``off``); NaN where padded. Every value is in (0, 1].
    """
    s, valid = _as_matrix(scores)
    n, m = s.shape
    base = np.broadcast_to(np.arange(m), (n, m))
    if policy.mode == "off" or m == 0:
        return (np.where(valid, base, -1), np.where(valid, 1.0, np.nan))
    if policy.mode == "epsilon":
        return _epsilon(valid, policy.epsilon, rng)
    logits = _softmax_logits(s, valid, policy.temperature)
    keys = np.where(valid, logits + rng.gumbel(size=(n, m)), -np.inf)
    order = np.argsort(-keys, axis=1, kind="stable")
    drawn = np.take_along_axis(logits, order, axis=1)  # -inf where padded (sorted last)
    # log of the weight still in the draw at each slot, in log space so nothing underflows
    remaining = np.logaddexp.accumulate(drawn[:, ::-1], axis=1)[:, ::-1]
    shown = np.take_along_axis(valid, order, axis=1)
    with np.errstate(invalid="ignore"):
        prop = np.exp(np.where(shown, drawn - remaining, np.nan))
    return np.where(shown, order, -1), np.where(shown, np.clip(prop, 0.0, 1.0), np.nan)


def _epsilon(valid: np.ndarray, epsilon: float, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
    """Epsilon-greedy on the top slot (see the module docstring)."""
    n, m = valid.shape
    size = valid.sum(axis=1)
    explore = rng.random(n) < epsilon
    pick = np.where(explore, np.floor(rng.random(n) * np.maximum(size, 1)).astype(np.int64), 0)
    pick = np.minimum(pick, np.maximum(size - 1, 0))
    base = np.arange(m)[None, :]
    # slot 0 holds the pick; slots 1.. hold the ranker's order without it
    rest = base - 1 + (base - 1 >= pick[:, None])
    order = np.where(base == 0, pick[:, None], rest)
    first = np.where(pick == 0, 1.0 - epsilon, 0.0) + epsilon / np.maximum(size, 1)
    prop = np.where(base == 0, first[:, None], 1.0)
    return np.where(valid, order, -1), np.where(valid, prop, np.nan)


def _log_add(a: float, b: float) -> float:
    """``log(exp(a) + exp(b))`` without overflow."""
    hi, lo = (a, b) if a >= b else (b, a)
    return hi if lo == -math.inf else hi + math.log1p(math.exp(lo - hi))


def explore(scores, policy: ExplorationPolicy, rng: random.Random
            ) -> tuple[list[int], list[float]]:
    """One ranked list (the API's per-request case): the shown order (positions in the
    ranker's list) and each slot's propensity, as :func:`explore_batch` defines them.

    Plain Python on purpose: a list holds at most tens of items, where numpy's per-call overhead
    (some 25 small array operations) costs ten times more than the loop. ``rng`` is a
    :class:`random.Random` (:func:`request_rng`).
    """
    s = [float(x) for x in scores]
    if not all(math.isfinite(x) for x in s):
        raise ValueError(f"scores must be finite numbers; got {list(scores)!r}")
    m = len(s)
    if policy.mode == "off" or m < 2:
        return list(range(m)), [1.0] * m
    if policy.mode == "epsilon":
        pick = min(int(rng.random() * m), m - 1) if rng.random() < policy.epsilon else 0
        first = (1.0 - policy.epsilon if pick == 0 else 0.0) + policy.epsilon / m
        return [pick, *(i for i in range(m) if i != pick)], [first] + [1.0] * (m - 1)
    top = max(s)
    logits = [(x - top) / policy.temperature for x in s]
    keys = [lg - math.log(-math.log(rng.random() or 5e-324)) for lg in logits]  # + Gumbel
    order = sorted(range(m), key=keys.__getitem__, reverse=True)
    prop = [0.0] * m
    remaining = -math.inf
    for j in range(m - 1, -1, -1):  # reverse cumulative log-sum-exp over the drawn order
        remaining = _log_add(remaining, logits[order[j]])
        prop[j] = min(1.0, math.exp(logits[order[j]] - remaining))
    return order, prop
