"""Off-policy estimators: how a candidate policy would have done on logged, explored traffic.

A logged bandit record is a context ``x`` (an educator at the time of a request), the action the
logging policy showed first ``a``, its propensity ``p = P_log(a | x)`` (logged by
:mod:`recommender.exploration`) and the reward ``r`` that followed (:mod:`recommender.offpolicy_data`).
For a candidate policy ``pi`` the weight of a record is ``w = pi(a | x) / p``; for a
deterministic candidate ``pi(a | x)`` is 1 when the candidate would have shown ``a`` first and 0
otherwise. With ``qhat`` a reward model (:func:`crossfit_mean_reward`):

- **IPS** (inverse propensity scoring): ``mean(w * r)``; unbiased when every action the candidate
  takes has ``p > 0`` (support);
- **SNIPS** (self-normalized IPS): ``sum(w * r) / sum(w)``; biased by O(1/n), much lower variance;
- **DR** (doubly robust, Dudik et al. 2011): ``mean(qhat(x, pi(x)) + w * (r - qhat(x, a)))``;
  unbiased when the propensities are right whatever the reward model, and lower variance the
  better the model.

Each value comes with a 95% interval from the central limit theorem on its per-record terms
(SNIPS by the delta method), and :func:`policy_value` reports the effective sample size
``(sum w)^2 / sum w^2`` so a reader sees when few records carry the estimate.

Written here rather than taken from Open Bandit Pipeline (``obp``): obp installs PyTorch, a
heavy dependency for three estimators that are a few lines of numpy each, and its releases have
been sparse; these are tested against hand-computed values and a synthetic bandit whose truth
is known.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import norm

__all__ = ["ESTIMATORS", "Estimate", "crossfit_mean_reward", "observed_value", "policy_value"]

ESTIMATORS = ("ips", "snips", "dr")
"""The estimators :func:`policy_value` computes, in the order tables show them."""


@dataclass(frozen=True)
class Estimate:
    """One estimate: its ``value``, the ``low``-``high`` interval, standard error and sample."""

    estimator: str
    value: float
    low: float
    high: float
    se: float
    n: int

    def as_dict(self) -> dict:
        return {"estimator": self.estimator, "value": self.value, "low": self.low,
                "high": self.high, "se": self.se, "n": self.n}


def _vector(name: str, values, n: int | None = None) -> np.ndarray:
    """A finite float vector (length ``n`` when given), else a ValueError naming ``name``."""
    x = np.asarray(values, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional; got shape {x.shape}")
    if n is not None and len(x) != n:
        raise ValueError(f"{name} must have one value per record ({n}); got {len(x)}")
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise ValueError(f"{name} must be finite; record {bad} is {float(x[bad])!r}")
    return x


def _clt(name: str, terms: np.ndarray, level: float, value: float | None = None,
         scale: float = 1.0) -> Estimate:
    """The mean of ``terms`` (or ``value``) with a normal interval; ``scale`` divides the sd."""
    n = len(terms)
    v = float(terms.mean()) if value is None else float(value)
    se = float(terms.std(ddof=1) / np.sqrt(n) / scale) if n > 1 else float("nan")
    z = float(norm.ppf(0.5 + level / 2))
    return Estimate(name, v, v - z * se, v + z * se, se, n)


def observed_value(reward, *, level: float = 0.95) -> Estimate:
    """The logging policy's own value: the mean observed reward with its interval."""
    r = _vector("reward", reward)
    if len(r) == 0:
        raise ValueError("reward: no logged records to estimate from")
    return _clt("logged", r, level)


def policy_value(reward, propensity, target, *, q_logged=None, q_target=None,
                 level: float = 0.95) -> tuple[list[Estimate], float]:
    """IPS, SNIPS and DR estimates of a candidate's value on logged records.

    Parameters
    ----------
    reward : array (n,)
        Observed reward of each logged record.
    propensity : array (n,), in (0, 1]
        The logging policy's probability of the logged action.
    target : array (n,), in [0, 1]
        The candidate's probability of the logged action (0/1 for a deterministic candidate).
    q_logged, q_target : array (n,), optional
        The reward model at the logged action and its expectation under the candidate; without
        them DR is left out.
    level : float, default=0.95
        Interval coverage.

    Returns
    -------
    estimates : list of Estimate
        ``ips``, ``snips`` and (with the reward model) ``dr``.
    ess : float
        Effective sample size of the weights (0 when no record matches the candidate).
    """
    r = _vector("reward", reward)
    n = len(r)
    if n == 0:
        raise ValueError("reward: no logged records to estimate from")
    p = _vector("propensity", propensity, n)
    if ((p <= 0) | (p > 1)).any():
        bad = int(np.flatnonzero((p <= 0) | (p > 1))[0])
        raise ValueError(f"propensity must be in (0, 1]; record {bad} is {float(p[bad])!r}")
    t = _vector("target", target, n)
    if ((t < 0) | (t > 1)).any():
        raise ValueError("target (the candidate's probability of the logged action) must be "
                         "in [0, 1]")
    w = t / p
    out = [_clt("ips", w * r, level)]
    mw = float(w.mean())
    if mw > 0:
        v = float((w * r).sum() / w.sum())
        out.append(_clt("snips", w * (r - v), level, value=v, scale=mw))
    else:
        out.append(Estimate("snips", float("nan"), float("nan"), float("nan"), float("nan"), n))
    if (q_logged is None) != (q_target is None):
        raise ValueError("give both q_logged and q_target (the reward model), or neither")
    if q_logged is not None:
        ql, qt = _vector("q_logged", q_logged, n), _vector("q_target", q_target, n)
        out.append(_clt("dr", qt + w * (r - ql), level))
    ess = float(w.sum() ** 2 / (w**2).sum()) if (w > 0).any() else 0.0
    return out, ess


def crossfit_mean_reward(logged_key, reward, target_key, *, folds: int = 2, prior: float = 5.0,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A simple reward model for DR: the mean reward of each key (e.g. activity), shrunk toward
    the overall mean by ``prior`` pseudo-records, cross-fitted (a record's prediction comes from
    the other folds, so it does not fit its own noise).

    Returns ``(q_logged, q_target)``: the model at each record's logged key and at the key the
    candidate would have shown (a target key missing or unseen gets the overall mean; ``None``
    or NaN means the candidate shows nothing, reward 0).
    """
    r = _vector("reward", reward)
    n = len(r)
    logged = pd.Series(np.asarray(logged_key, dtype=object))
    target = pd.Series(np.asarray(target_key, dtype=object))
    if len(logged) != n or len(target) != n:
        raise ValueError(f"logged_key and target_key must have one value per record ({n})")
    if folds < 2:
        raise ValueError(f"folds must be at least 2; got {folds!r}")
    fold = np.random.default_rng(seed).permutation(n) % folds
    q_logged, q_target = np.empty(n), np.empty(n)
    for f in range(folds):  # a loop over folds, not records
        train, test = fold != f, fold == f
        base = float(r[train].mean()) if train.any() else 0.0
        stats = pd.DataFrame({"k": logged[train].to_numpy(), "r": r[train]}).groupby("k")["r"]
        means = (stats.sum() + prior * base) / (stats.count() + prior)
        q_logged[test] = logged[test].map(means).fillna(base).to_numpy(float)
        q_target[test] = target[test].map(means).fillna(base).to_numpy(float)
    q_target[target.isna().to_numpy()] = 0.0
    return q_logged, q_target
