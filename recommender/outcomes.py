"""Learning from outcomes: posterior mastery gains of activities from evidence around completions.

For each catalog target ``(activity a, competency c)`` the gain an activity produces on ``c`` is
given a Normal prior and updated, Normal-Normal conjugate, from what the evidence shows after
educators completed ``a``.

Prior
-----
``gain ~ N(m0, prior_sd^2)`` with ``m0 = expected_gain[a] * weight[a, c]`` (the catalog's prior
rise in P(mastery) of the target, the same number the ranker uses when nothing is learned).

Observations (a simple difference in differences)
-------------------------------------------------
For a completion of ``a`` by educator ``e`` at time ``t`` and each target ``c`` of ``a``:

    d = [mean score_norm of e on c in [t, t + w)  -  mean in [t - w, t)]
      - [same after-minus-before change among control educators on c over the same windows]

with ``w = window_days``. The control group of competency ``c`` is every educator who completed
no activity targeting ``c`` at all (in the data given), and its "mean" is the mean over all
their evidence records on ``c`` in the window: the average change per competency among
non-takers over the same months (on-the-job drift, seasonal rater leniency). A completion
counts only when the educator has evidence on ``c`` both before and after; if the control group
has no evidence on ``c`` in one of the windows its change is taken as 0.

The change in *mean normalized evidence score* is used as a direct, noisy reading of the change
in P(mastery) (both live in [0, 1]); the readings are treated as independent with standard
deviation ``noise_sd``. The posterior is then

    precision = 1 / prior_sd^2 + n / noise_sd^2
    gain_mean = (m0 / prior_sd^2 + sum(d) / noise_sd^2) / precision,  gain_sd = precision^-1/2.

Pooling (empirical Bayes, the default)
--------------------------------------
A handful of readings per target cannot tell one activity's gain from another's: the differences
between their raw means are mostly noise. So the hyperparameters are estimated from *all*
readings at once, and each target's posterior borrows strength from the others:

- ``s``, the scale between evidence-score changes and the catalog's gains: the least-squares
  slope of the readings on ``m0`` (through the origin, ``s = sum(n * m0 * mean_d) /
  sum(n * m0^2)``). A change in mean rubric score is not a change in P(mastery) (scores move
  less), and the catalog may be optimistic on the whole; the two cannot be told apart, so the
  readings are divided by ``s`` (when ``s > 0``): the catalog is taken as right *on average*
  and the data decide how the targets differ from one another and from it.
- ``noise_sd``: the pooled standard deviation of the (rescaled) readings *within* targets.
- ``prior_sd``: the spread of the targets' true gains around ``m0``, by the method of moments,
  ``mean((mean_d - m0)^2 - noise_sd^2 / n)`` over targets with readings, floored at
  :data:`MIN_PRIOR_SD`: if the targets differ from their priors by no more than their noise
  says they would, the data do not support reordering them and the posterior keeps the priors.

With ``pooled=False`` (or too few readings: fewer than :data:`MIN_POOLED_READINGS`), ``s = 1``
and the given ``prior_sd`` and ``noise_sd`` are used. The values used are in the frame's
``attrs`` (``reading_scale``, ``prior_sd``, ``noise_sd``).

Everything is vectorized: window sums come from per-group cumulative sums and one
``searchsorted`` over a combined (group, time) key; there is no per-row loop.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from recommender.catalog import Catalog

__all__ = ["DEFAULT_NOISE_SD", "POSTERIOR_COLUMNS", "fit_gain_posteriors", "thompson_sample"]

DEFAULT_NOISE_SD = 0.25
"""Standard deviation of one difference-in-differences reading (score_norm units) when it is not
estimated: the difference of two means of a few rubric scores on a 4-point scale."""

MIN_PRIOR_SD = 0.01
"""Smallest spread of true gains around the scaled prior that pooling will estimate."""

MIN_POOLED_READINGS = 30
"""Readings needed (with at least this many degrees of freedom within targets) to pool."""

POSTERIOR_COLUMNS = ("gain_mean", "gain_sd", "n_obs", "prior_mean", "roi_per_hour", "hours")


def _seconds(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as int64 seconds since the epoch."""
    t = pd.to_datetime(ts, utc=True)
    return ((t - pd.Timestamp(0, tz="UTC")) // pd.Timedelta(1, "s")).to_numpy(np.int64)


class _WindowSums:
    """Sums and counts of ``values`` per group over half-open time windows ``[lo, hi)``."""

    def __init__(self, group: np.ndarray, t: np.ndarray, values: np.ndarray, span: int):
        self.span = span
        key = group.astype(np.int64) * span + t
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.cum = np.concatenate([[0.0], np.cumsum(values[order])])

    def __call__(self, group: np.ndarray, lo: np.ndarray, hi: np.ndarray):
        base = group.astype(np.int64) * self.span
        i0 = np.searchsorted(self.key, base + lo, side="left")
        i1 = np.searchsorted(self.key, base + hi, side="left")
        return self.cum[i1] - self.cum[i0], (i1 - i0).astype(float)


def fit_gain_posteriors(
    evidence: pd.DataFrame,
    completions: pd.DataFrame,
    catalog: Catalog,
    *,
    window_days: float = 90,
    prior_sd: float = 0.1,
    noise_sd: float = DEFAULT_NOISE_SD,
    pooled: bool = True,
) -> pd.DataFrame:
    """Posterior of each (activity, competency) target's mastery gain (see the module docstring).

    Parameters
    ----------
    evidence : DataFrame
        Validated evidence: ``educator_id, competency_id, score_norm, observed_at`` (UTC) are used.
    completions : DataFrame
        ``educator_id, activity_id, completed_at`` (UTC). Activities not in ``catalog`` are ignored.
    catalog : Catalog
    window_days : float > 0, default=90
        Length of the before and the after window.
    prior_sd : float > 0, default=0.1
        Prior standard deviation of every gain (when not pooled).
    noise_sd : float > 0, default=:data:`DEFAULT_NOISE_SD`
        Standard deviation of one reading (when not pooled).
    pooled : bool, default=True
        Estimate the prior's scale, its spread and the noise from all readings (module
        docstring).

    Returns
    -------
    DataFrame
        Indexed by ``(activity_id, competency_id)`` (every catalog target), columns
        ``gain_mean, gain_sd, n_obs, prior_mean, roi_per_hour`` (``gain_mean / hours``) and the
        activity's ``hours``: the
        ``gains`` input of :func:`recommender.ranking.rank_batch`.
    """
    _check_inputs(evidence, completions, window_days=window_days, prior_sd=prior_sd,
                  noise_sd=noise_sd)
    t = catalog.targets
    hours = catalog.activities["hours"].reindex(t["activity_id"]).to_numpy(float)
    prior = (catalog.activities["expected_gain"].reindex(t["activity_id"]).to_numpy(float)
             * t["weight"].to_numpy(float))
    index = pd.MultiIndex.from_arrays(
        [t["activity_id"].to_numpy(object), t["competency_id"].to_numpy(object)],
        names=["activity_id", "competency_id"],
    )
    total = np.zeros(len(t))
    total_sq = np.zeros(len(t))
    count = np.zeros(len(t))

    # one row per (completion, target)
    rows = completions[["educator_id", "activity_id", "completed_at"]].merge(
        t[["activity_id", "competency_id"]].reset_index(names="target"), on="activity_id")
    if len(rows) and len(evidence):
        target, d = _readings(evidence, rows, window_days)
        np.add.at(total, target, d)
        np.add.at(total_sq, target, d ** 2)
        np.add.at(count, target, 1.0)

    scale = 1.0
    if pooled:
        scale, prior_sd, noise_sd = _pool(prior, total, total_sq, count, prior_sd, noise_sd)
        total = total / scale
    precision = 1.0 / prior_sd**2 + count / noise_sd**2
    mean = (prior / prior_sd**2 + total / noise_sd**2) / precision
    out = pd.DataFrame({
        "gain_mean": mean,
        "gain_sd": 1.0 / np.sqrt(precision),
        "n_obs": count.astype(np.int64),
        "prior_mean": prior,
        "roi_per_hour": mean / hours,
        "hours": hours,
    }, index=index)
    out.attrs.update(reading_scale=float(scale), prior_sd=float(prior_sd),
                     noise_sd=float(noise_sd))
    return out


def _check_inputs(evidence: pd.DataFrame, completions: pd.DataFrame, **positive: float) -> None:
    """Raise ``ValueError`` for a parameter that is not a finite number > 0 or a missing column."""
    for name, v in positive.items():
        if not np.isfinite(v) or v <= 0:
            raise ValueError(f"{name} must be a finite number > 0; got {v!r}")
    for name, frame, cols in (
        ("evidence", evidence, ("educator_id", "competency_id", "score_norm", "observed_at")),
        ("completions", completions, ("educator_id", "activity_id", "completed_at")),
    ):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} is missing column(s) {missing}")


def _readings(evidence: pd.DataFrame, rows: pd.DataFrame,
              window_days: float) -> tuple[np.ndarray, np.ndarray]:
    """The difference-in-differences readings of the usable (completion, target) ``rows``: the
    target index of each and its reading ``d`` (own change minus the control group's change).

    Times are shifted to seconds from before the earliest window so that every window bound is
    non-negative and below ``span``, the width of one group's stretch of the window-sum keys.
    """
    w = int(round(window_days * 86_400))
    ev_t = _seconds(evidence["observed_at"])
    ct = _seconds(rows["completed_at"])
    t_min = int(min(ev_t.min(), ct.min())) - 2 * w - 1
    span = int(max(ev_t.max(), ct.max())) - t_min + 2 * w + 2
    ev_t, ct = ev_t - t_min, ct - t_min
    score = pd.to_numeric(evidence["score_norm"], errors="coerce").to_numpy(float)
    ok = np.isfinite(score)
    pairs = pd.MultiIndex.from_arrays([evidence["educator_id"].astype(object),
                                       evidence["competency_id"].astype(object)])
    own_change, usable = _own_changes(pairs, rows, ev_t, ct, score, ok, w=w, span=span)
    ctrl_change = _control_changes(evidence, pairs, rows, ev_t, ct, score, ok, w=w, span=span)
    d = own_change - ctrl_change
    return rows["target"].to_numpy(np.int64)[usable], d[usable]


def _own_changes(pairs: pd.MultiIndex, rows: pd.DataFrame, ev_t: np.ndarray, ct: np.ndarray,
                 score: np.ndarray, ok: np.ndarray, *, w: int,
                 span: int) -> tuple[np.ndarray, np.ndarray]:
    """The treated educator's change on the target (mean after minus mean before the completion,
    its evidence grouped by (educator, competency)), and whether it has evidence on both sides."""
    p_codes, p_uniques = pd.factorize(pairs)
    own = _WindowSums(p_codes[ok], ev_t[ok], score[ok], span)
    own_n = _WindowSums(p_codes[ok], ev_t[ok], np.ones(ok.sum()), span)
    q = p_uniques.get_indexer(pd.MultiIndex.from_arrays(
        [rows["educator_id"].astype(object), rows["competency_id"].astype(object)]))
    qg = np.maximum(q, 0)
    s_before, _ = own(qg, ct - w, ct)
    n_before = own_n(qg, ct - w, ct)[0]
    s_after, _ = own(qg, ct, ct + w)
    n_after = own_n(qg, ct, ct + w)[0]
    usable = (q >= 0) & (n_before > 0) & (n_after > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        own_change = s_after / n_after - s_before / n_before
    return own_change, usable


def _control_changes(evidence: pd.DataFrame, pairs: pd.MultiIndex, rows: pd.DataFrame,
                     ev_t: np.ndarray, ct: np.ndarray, score: np.ndarray, ok: np.ndarray, *,
                     w: int, span: int) -> np.ndarray:
    """The control group's change on each row's competency over the same windows: the evidence on
    c from educators who took nothing targeting c (0 where a window has none)."""
    taken = rows[["educator_id", "competency_id"]].drop_duplicates()
    taken_idx = pd.MultiIndex.from_frame(taken.astype(object))
    is_taker = taken_idx.get_indexer(pairs) >= 0
    c_codes, c_uniques = pd.factorize(evidence["competency_id"].astype(object))
    ctrl = ok & ~is_taker
    csum = _WindowSums(c_codes[ctrl], ev_t[ctrl], score[ctrl], span)
    cnum = _WindowSums(c_codes[ctrl], ev_t[ctrl], np.ones(ctrl.sum()), span)
    qc = pd.Index(c_uniques).get_indexer(rows["competency_id"].astype(object))
    qcg = np.maximum(qc, 0)
    cb, cnb = csum(qcg, ct - w, ct)[0], cnum(qcg, ct - w, ct)[0]
    ca, cna = csum(qcg, ct, ct + w)[0], cnum(qcg, ct, ct + w)[0]
    has_ctrl = (qc >= 0) & (cnb > 0) & (cna > 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(has_ctrl, ca / np.maximum(cna, 1) - cb / np.maximum(cnb, 1), 0.0)


def _pool(prior, total, total_sq, count, prior_sd, noise_sd) -> tuple[float, float, float]:
    """``(s, prior_sd, noise_sd)`` estimated from the readings, or the defaults if too few.

    ``noise_sd`` is on the scale of the readings divided by ``s``.
    """
    seen = count > 0
    dof = float((count[seen] - 1).sum())
    if count.sum() < MIN_POOLED_READINGS or dof < MIN_POOLED_READINGS:
        return 1.0, prior_sd, noise_sd
    m0, n = prior[seen], count[seen]
    denom = float((n * m0**2).sum())
    slope = float((total[seen] * m0).sum()) / denom if denom > 0 else 0.0
    scale = slope if slope > 0 else 1.0
    mean = total[seen] / n / scale
    within = float((total_sq[seen] / scale**2 - n * mean**2).sum()) / dof
    spread = float(((mean - m0) ** 2 - within / n).mean())
    return scale, max(math.sqrt(max(spread, 0.0)), MIN_PRIOR_SD), math.sqrt(max(within, 1e-12))


def thompson_sample(posteriors: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """The same frame with ``gain_mean`` replaced by one draw from each posterior.

    ``roi_per_hour`` is recomputed from the draw (from the ``hours`` column). Use it for
    exploration: rank with the drawn gains. Same generator state, same draws.
    """
    out = posteriors.copy()
    draw = rng.normal(posteriors["gain_mean"].to_numpy(float),
                      posteriors["gain_sd"].to_numpy(float))
    out["gain_mean"] = draw
    if "hours" in out.columns:
        out["roi_per_hour"] = draw / out["hours"].to_numpy(float)
    return out
