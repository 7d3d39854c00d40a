"""Equity audit: whom do the recommendations (and, in the simulator, the outcomes) serve well?

A report per subgroup of educators (school, role, experience band, subject, grade band, any
extra attribute column) of what the engine gives each group, with the ratio of each group to the
best-served group of the same attribute, bootstrap 95% intervals (resampling educators within
each group), and a **flag** when a group falls short in a way its mastery gap does not explain.

Per-educator metrics (:func:`recommendation_metrics`)
-----------------------------------------------------
``hours``
    Hours of the recommended activities, summed (0 for an educator with no recommendation).
``gain_per_hour``
    Expected gain per hour of the recommended activities: ``sum_a expected_gain[a] * need[e, a]
    / sum_a hours[a]``, with ``need[e, a]`` the target-weighted mean of ``1 - p_mastery`` over
    ``a``'s competencies (an activity teaches an educator only what she does not master yet).
``intensive_share``
    Share of the recommended activities in a high-intensity format (``coaching_cycle``,
    ``residency`` by default).
``mastery_gap``
    ``1 -`` the mean estimated mastery of the educator's goals (of every competency estimated
    when she has none): how much she still has to learn.

In the simulator (:func:`outcome_metrics`) the metrics are the realized ``gained`` (rise in true
mastery), ``reached`` (every goal mastered) and ``hours_to_goal`` (``min(T, H)``; lower is
better), with the true starting mastery gap.

The flag rule (:func:`subgroup_report`)
---------------------------------------
For each metric the *reference* is the group with the best mean among the groups of at least
``min_n`` educators of that attribute. A group's ``ratio`` is its mean over the reference's
(the reference's over the group's for a lower-is-better metric), so 1 is as well served as the
best group and below 1 is worse. A group may be served less because it needs less: a linear
model ``metric ~ mastery_gap`` is fitted over all educators and predicts each group's mean from
its mean gap; the ``expected`` ratio is the predicted group mean over the predicted reference
mean, and the ``adjusted`` ratio is ``ratio / expected``: the part of the shortfall the mastery
gap does not explain. A group is **flagged** on a metric when it is not small, and

    ratio < threshold  and  adj_hi < threshold,
    adj_hi = adjusted + z * sd_boot(adjusted),   z = Phi^-1(1 - ALPHA / m),

with ``m`` the number of (group, metric) pairs of the report that could be flagged
(Bonferroni: with ``ALPHA = 0.05``, data without a disparity raise a flag anywhere in a report
at most about one time in twenty). In words: the group gets less than four fifths of what the
best-served group gets (the default threshold 0.8, the "four-fifths rule" of adverse-impact
analysis), and even after the gap adjustment it is confidently below four fifths. ``sd_boot``
re-chooses the best-served group in every resample, so that picking the best of several noisy
group means (the winner's curse) is part of the uncertainty. Only the metrics of ``flag_on``
are flagged: recommended hours and the share reaching goal are reported with their ratios, but
more hours are a cost as much as a service, so by default they are not flagged.

The reported ``<metric>_lo, <metric>_hi`` are percentile 95% intervals of the ratio from
``n_boot`` resamples of educators with replacement within each group (the reference group and
the gap model fixed).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from statistics import NormalDist

import numpy as np
import pandas as pd

__all__ = ["ATTRIBUTES", "FLAGGED", "INTENSIVE_FORMATS", "MIN_N", "RECOMMENDATION_METRICS",
           "OUTCOME_METRICS", "THRESHOLD", "attribute_frame", "experience_band", "outcome_metrics",
           "recommendation_metrics", "subgroup_report"]

INTENSIVE_FORMATS = ("coaching_cycle", "residency")
"""Formats counted as high-intensity by default."""

ATTRIBUTES = ("school", "role", "experience", "subject", "grade_band")
"""The grouping attributes audited when present (``experience`` is the band of
``years_experience``)."""

THRESHOLD = 0.8
"""A group below this ratio to the best-served group may be flagged (the four-fifths rule)."""

MIN_N = 20
"""Groups with fewer educators are reported, marked ``small`` and never flagged or used as the
reference."""

RECOMMENDATION_METRICS = {"hours": True, "gain_per_hour": True, "intensive_share": True}
"""Metric -> higher is better, of :func:`recommendation_metrics`."""

OUTCOME_METRICS = {"gained": True, "reached": True, "hours_to_goal": False}
"""Metric -> higher is better, of :func:`outcome_metrics`."""

FLAGGED = ("gain_per_hour", "intensive_share", "gained", "hours_to_goal")
"""The metrics flagged by default (hours and the share reaching goal are reported only)."""

ALPHA = 0.05
"""Family-wise error rate of the flags of one report (Bonferroni over its groups and metrics)."""

_EXPERIENCE_EDGES = (0, 3, 6, 11, 21, np.inf)
_EXPERIENCE_LABELS = ("0-2", "3-5", "6-10", "11-20", "21+")


def experience_band(years: pd.Series) -> pd.Series:
    """Each value's experience band (``0-2``, ``3-5``, ``6-10``, ``11-20``, ``21+``)."""
    return pd.cut(pd.to_numeric(years, errors="coerce"), list(_EXPERIENCE_EDGES), right=False,
                  labels=list(_EXPERIENCE_LABELS)).astype(object)


def _require(frame: pd.DataFrame, name: str, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{name} lacks column(s) {missing}; got columns {list(frame.columns)}")


def attribute_frame(educators: pd.DataFrame, extra: Sequence[str] = ()) -> pd.DataFrame:
    """The grouping attributes of ``educators`` indexed by ``educator_id``: those of
    :data:`ATTRIBUTES` present (``experience`` from ``years_experience``) and the ``extra``
    tenant columns, which must exist."""
    _require(educators, "educators", ["educator_id", *extra])
    out = pd.DataFrame(index=pd.Index(educators["educator_id"], name="educator_id"))
    for col in ATTRIBUTES:
        if col == "experience" and "years_experience" in educators.columns:
            out[col] = experience_band(educators["years_experience"]).to_numpy()
        elif col in educators.columns:
            out[col] = educators[col].to_numpy(dtype=object)
    for col in extra:
        out[col] = educators[col].to_numpy(dtype=object)
    return out


def _goal_pairs(educators: pd.DataFrame) -> pd.DataFrame:
    """``educator_id, competency_id`` of every goal ('|'-joined text or a list per educator)."""
    if "goals" not in educators.columns:
        return pd.DataFrame({"educator_id": [], "competency_id": []})
    goals = educators[["educator_id", "goals"]].copy()
    text = goals["goals"].map(lambda g: g if isinstance(g, list | tuple) else
                              ([] if g is None or (isinstance(g, float) and np.isnan(g))
                               else [x for x in str(g).split("|") if x]))
    goals["competency_id"] = text
    return goals.explode("competency_id").dropna(subset=["competency_id"])[
        ["educator_id", "competency_id"]]


def mastery_gap(educators: pd.DataFrame, mastery_long: pd.DataFrame) -> pd.Series:
    """``1 -`` mean ``p_mastery`` over each educator's goals (all her competencies without
    goals), indexed by ``educator_id``; NaN when nothing about her is estimated."""
    _require(mastery_long, "mastery_long", ["educator_id", "competency_id", "p_mastery"])
    p = mastery_long[["educator_id", "competency_id", "p_mastery"]]
    on_goals = _goal_pairs(educators).merge(p, on=["educator_id", "competency_id"])
    goal_mean = on_goals.groupby("educator_id")["p_mastery"].mean()
    all_mean = p.groupby("educator_id")["p_mastery"].mean()
    ids = pd.Index(educators["educator_id"], name="educator_id")
    mean = goal_mean.reindex(ids).fillna(all_mean.reindex(ids))
    return (1.0 - mean).rename("mastery_gap")


def recommendation_metrics(
    recommendations: pd.DataFrame, catalog, educators: pd.DataFrame, mastery_long: pd.DataFrame,
    *, intensive_formats: Sequence[str] = INTENSIVE_FORMATS, cold_p: float = 0.5,
) -> pd.DataFrame:
    """Per-educator ``hours, gain_per_hour, intensive_share, mastery_gap`` (module docstring).

    Parameters
    ----------
    recommendations : DataFrame
        ``educator_id, activity_id`` (e.g. :func:`recommender.ranking.rank_batch`'s output).
    catalog : Catalog
        The activities recommended from (``hours``, ``expected_gain``, ``format``, targets).
    educators : DataFrame
        ``educator_id`` and optionally ``goals``; every educator audited, with or without
        recommendations.
    mastery_long : DataFrame
        ``educator_id, competency_id, p_mastery``; a target competency missing for an educator
        counts at ``cold_p`` (the ranker's cold start), as the ranker itself does.

    Returns
    -------
    DataFrame indexed by ``educator_id`` in ``educators``' order.
    """
    _require(recommendations, "recommendations", ["educator_id", "activity_id"])
    _require(educators, "educators", ["educator_id"])
    acts = catalog.activities
    unknown = sorted(set(recommendations["activity_id"]) - set(acts.index))[:5]
    if unknown:
        raise ValueError(f"recommendations name activity ids not in the catalog: {unknown}")
    recs = recommendations[["educator_id", "activity_id"]].join(
        acts[["hours", "expected_gain", "format"]], on="activity_id")
    t = catalog.targets[["activity_id", "competency_id", "weight"]]
    need = recs[["educator_id", "activity_id"]].merge(t, on="activity_id").merge(
        mastery_long[["educator_id", "competency_id", "p_mastery"]],
        on=["educator_id", "competency_id"], how="left")
    need["wn"] = need["weight"] * (1.0 - need["p_mastery"].fillna(cold_p))
    sums = need.groupby(["educator_id", "activity_id"])[["wn", "weight"]].sum()
    recs = recs.join((sums["wn"] / sums["weight"]).rename("need"),
                     on=["educator_id", "activity_id"])
    recs["gain"] = recs["expected_gain"] * recs["need"].fillna(0.0)
    recs["intensive"] = recs["format"].isin(list(intensive_formats)).astype(float)
    per = recs.groupby("educator_id").agg(hours=("hours", "sum"), gain=("gain", "sum"),
                                          intensive_share=("intensive", "mean"))
    ids = pd.Index(educators["educator_id"], name="educator_id")
    per = per.reindex(ids)
    return pd.DataFrame({
        "hours": per["hours"].fillna(0.0),
        "gain_per_hour": per["gain"] / per["hours"],
        "intensive_share": per["intensive_share"],
        "mastery_gap": mastery_gap(educators, mastery_long),
    }, index=ids)


def outcome_metrics(outcomes, educator_ids: Sequence, gap: np.ndarray, *,
                    hours_budget: float) -> pd.DataFrame:
    """Per-educator realized ``gained, reached, hours_to_goal, mastery_gap`` of one simulated
    policy (:class:`recommender.evaluation.Outcomes`); ``hours_to_goal`` is ``min(T, H)`` with
    ``T = inf`` for an educator who never reached her goals, so its mean is
    :func:`recommender.evaluation.restricted_mean_hours`."""
    if not hours_budget > 0:
        raise ValueError(f"hours_budget must be a number of hours > 0; got {hours_budget!r}")
    reached = np.asarray(outcomes.reached, dtype=bool)
    t = np.where(reached, np.asarray(outcomes.hours_at_goal, dtype=float), np.inf)
    return pd.DataFrame({
        "gained": np.asarray(outcomes.gained, dtype=float),
        "reached": reached.astype(float),
        "hours_to_goal": np.minimum(t, float(hours_budget)),
        "mastery_gap": np.asarray(gap, dtype=float),
    }, index=pd.Index(list(educator_ids), name="educator_id"))


def _group_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    labels = values.astype(object).where(values.notna(), "(missing)").astype(str)
    codes, uniques = pd.factorize(labels, sort=True)
    return codes, np.asarray(uniques, dtype=object)


def _boot_means(x: np.ndarray, codes: np.ndarray, n_groups: int, n_boot: int,
                rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Point means (G, M) and bootstrap means (B, G, M), resampling educators within groups."""
    point = np.full((n_groups, x.shape[1]), np.nan)
    boot = np.full((n_boot, n_groups, x.shape[1]), np.nan)
    for g in range(n_groups):  # a handful of groups; the resamples themselves are vectorized
        rows = x[codes == g]
        with np.errstate(invalid="ignore"), _quiet():
            point[g] = np.nanmean(rows, axis=0)
            draw = rng.integers(0, len(rows), (n_boot, len(rows)))
            boot[:, g] = np.nanmean(rows[draw], axis=1)
    return point, boot


@contextmanager
def _quiet():
    """Silence numpy's 'Mean of empty slice' for a metric no educator of a group has."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _gap_model(y: np.ndarray, gap: np.ndarray) -> tuple[float, float]:
    """Least-squares ``y = a + b * gap`` over the educators with both (flat if too few)."""
    ok = np.isfinite(y) & np.isfinite(gap)
    if ok.sum() < 3 or np.ptp(gap[ok]) == 0:
        return float(np.nanmean(y)) if ok.any() else np.nan, 0.0
    b, a = np.polyfit(gap[ok], y[ok], 1)
    return float(a), float(b)


def _ratio(m: np.ndarray, ref, higher: bool) -> np.ndarray:
    """``m`` (..., G) relative to its ``ref`` column (an int, or one per row of a (B, G) array):
    ``m / m[ref]`` when higher is better, else ``m[ref] / m``; below 1 is worse served."""
    base = (m[..., [ref]] if np.ndim(ref) == 0
            else np.take_along_axis(m, np.asarray(ref)[:, None], axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        return m / base if higher else base / m


def _interval(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    with _quiet():
        return (np.nanpercentile(samples, 2.5, axis=0), np.nanpercentile(samples, 97.5, axis=0))


def _attribute_rows(values: pd.DataFrame, by: pd.Series, metrics: Mapping[str, bool], *,
                    flag_on: Sequence[str], z: float, threshold: float, n_boot: int, min_n: int,
                    rng) -> pd.DataFrame:
    """The report rows of one attribute (one row per group)."""
    names = list(metrics)
    codes, labels = _group_codes(by)
    x = values[[*names, "mastery_gap"]].to_numpy(dtype=float)
    point, boot = _boot_means(x, codes, len(labels), n_boot, rng)
    n = np.bincount(codes, minlength=len(labels))
    small = n < min_n
    out = pd.DataFrame({"value": labels, "n": n, "small": small})
    for name in [*names, "mastery_gap"]:
        out[name] = point[:, [*names, "mastery_gap"].index(name)]
    flags = np.full(len(labels), "", dtype=object)
    for j, name in enumerate(names):
        higher = metrics[name]
        score = np.where(small, np.nan, point[:, j] if higher else -point[:, j])
        if np.all(np.isnan(score)):
            out[[f"{name}_{s}" for s in ("ratio", "lo", "hi", "adjusted", "adj_hi")]] = np.nan
            continue
        ref = int(np.nanargmax(score))
        a, b = _gap_model(x[:, j], x[:, -1])
        r, rb = _ratio(point[:, j], ref, higher), _ratio(boot[:, :, j], ref, higher)
        adj = r / _ratio(a + b * point[:, -1], ref, higher)
        # the best-served group re-chosen in every resample: the choice of the best of several
        # noisy means is part of the adjusted ratio's uncertainty (no winner's curse)
        boot_score = np.where(small, -np.inf, boot[:, :, j] if higher else -boot[:, :, j])
        ref_b = np.nan_to_num(boot_score, nan=-np.inf).argmax(axis=1)
        adj_b = (_ratio(boot[:, :, j], ref_b, higher)
                 / _ratio(a + b * boot[:, :, -1], ref_b, higher))
        lo, hi = _interval(rb)
        with _quiet():
            adj_hi = adj + z * np.nanstd(adj_b, axis=0)
        flag = ~small & (r < threshold) & (adj_hi < threshold) & (name in flag_on)
        out[f"{name}_ratio"], out[f"{name}_lo"], out[f"{name}_hi"] = r, lo, hi
        out[f"{name}_adjusted"], out[f"{name}_adj_hi"] = adj, adj_hi
        out[f"{name}_reference"] = labels[ref]
        flags = np.where(flag, flags + np.where(flags == "", "", ";") + name, flags)
    out["flags"] = flags
    out["flagged"] = flags != ""
    return out


def subgroup_report(
    values: pd.DataFrame, attributes: pd.DataFrame, *,
    metrics: Mapping[str, bool] = RECOMMENDATION_METRICS, flag_on: Sequence[str] | None = None,
    threshold: float = THRESHOLD,
    n_boot: int = 500, min_n: int = MIN_N, random_state: int = 0,
) -> pd.DataFrame:
    """The audit table: one row per (attribute, group) (module docstring for the flag rule).

    Parameters
    ----------
    values : DataFrame indexed by educator_id
        The metrics named by ``metrics`` and ``mastery_gap`` (:func:`recommendation_metrics` or
        :func:`outcome_metrics`).
    attributes : DataFrame indexed by educator_id
        One column per grouping attribute (e.g. ``school, role, experience``); every educator of
        ``values`` must be there. A missing value forms the ``(missing)`` group.
    metrics : mapping metric -> higher is better
    flag_on : sequence of metric names, optional
        The metrics a group can be flagged on; default those of :data:`FLAGGED` in ``metrics``.
    threshold : float in (0, 1]
    n_boot : int >= 1
    min_n : int >= 1

    Returns
    -------
    DataFrame
        ``attribute, value, n, small``, each metric's group mean and ``<metric>_ratio, _lo, _hi,
        _adjusted, _adj_hi, _reference``, ``mastery_gap``, ``flags`` (';'-joined metrics) and
        ``flagged``.
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1]; got {threshold!r}")
    for name, v in (("n_boot", n_boot), ("min_n", min_n)):
        if int(v) < 1:
            raise ValueError(f"{name} must be >= 1; got {v!r}")
    _require(values, "values", [*metrics, "mastery_gap"])
    flag_on = tuple(m for m in metrics if m in FLAGGED) if flag_on is None else tuple(flag_on)
    wrong = [m for m in flag_on if m not in metrics]
    if wrong:
        raise ValueError(f"flag_on names {wrong}, not among the metrics {list(metrics)}")
    lost = values.index.difference(attributes.index)
    if len(lost):
        raise ValueError(f"attributes lack {len(lost)} educator(s) of values, e.g. "
                         f"{list(lost[:3])}")
    attributes = attributes.reindex(values.index)
    rng = np.random.default_rng(random_state)
    tests = sum(int((attributes[c].value_counts(dropna=False) >= min_n).sum())
                for c in attributes.columns) * len(flag_on)
    z = NormalDist().inv_cdf(1.0 - ALPHA / max(tests, 1))
    parts = [
        _attribute_rows(values, attributes[col], metrics, flag_on=flag_on, z=z, threshold=threshold,
                        n_boot=int(n_boot), min_n=int(min_n), rng=rng).assign(attribute=col)
        for col in attributes.columns
    ]
    table = pd.concat(parts, ignore_index=True)
    return table[["attribute", *[c for c in table.columns if c != "attribute"]]]
