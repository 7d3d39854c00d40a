"""Held-out metrics per subgroup, for the model card: does the model serve every group alike?

A model with a good overall AUC can still be poor for special educators, for new teachers or on
one evidence source. :func:`subgroup_metrics` computes AUC, log loss and Brier score with the
number of test records ``n``, overall and within each value of each grouping attribute (role,
grade band, experience band, evidence source, competency domain). Missing values form their
own ``(missing)`` group, so the groups of one attribute partition the test records and their
``n`` sum to the overall ``n``. A group with fewer than ``min_n`` records, or with one outcome
class only (AUC undefined), is **marked** ``small: true`` rather than dropped: hiding it would
hide exactly the groups nobody has checked.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.models import mastery_metrics

__all__ = ["EXPERIENCE_BANDS", "MIN_N", "subgroup_frame", "subgroup_metrics", "subgroup_digest",
           "subgroup_summary"]

MIN_N = 50
"""Below this many test records a group's metrics are marked ``small`` (too noisy to rank)."""

EXPERIENCE_BANDS = ((0, 3, "0-2"), (3, 6, "3-5"), (6, 11, "6-10"), (11, 21, "11-20"),
                    (21, np.inf, "21+"))
"""Years of experience ``[lo, hi)`` and the band's label."""

MISSING = "(missing)"
_METRICS = ("auc", "log_loss", "brier")


def experience_band(years: pd.Series) -> pd.Series:
    """Each value's band label of :data:`EXPERIENCE_BANDS` (missing stays missing)."""
    edges = [lo for lo, _, _ in EXPERIENCE_BANDS] + [np.inf]
    labels = [label for _, _, label in EXPERIENCE_BANDS]
    return pd.cut(pd.to_numeric(years, errors="coerce"), edges, right=False,
                  labels=labels).astype(object)


def subgroup_frame(records: pd.DataFrame, evidence: pd.DataFrame, educators: pd.DataFrame,
                   domain_of: dict[str, str]) -> pd.DataFrame:
    """The grouping attributes of each test record, in ``records``' row order.

    ``records`` has ``evidence_id`` (the test rows); ``evidence`` gives each record's
    ``educator_id``, ``competency_id`` and ``source``; ``educators`` the profile (``role``,
    ``grade_band``, ``years_experience``; absent columns are missing); ``domain_of`` maps a
    competency to its domain.
    """
    ev = evidence.drop_duplicates("evidence_id").set_index("evidence_id")
    rows = ev.reindex(pd.Index(records["evidence_id"], dtype=object))
    prof = educators.drop_duplicates("educator_id").set_index("educator_id")
    prof = prof.reindex(pd.Index(rows["educator_id"], dtype=object))

    def col(frame: pd.DataFrame, name: str) -> np.ndarray:
        return (frame[name].to_numpy(dtype=object) if name in frame
                else np.full(len(frame), None, dtype=object))

    years = (prof["years_experience"] if "years_experience" in prof
             else pd.Series(np.nan, index=prof.index))
    return pd.DataFrame({
        "role": col(prof, "role"),
        "grade_band": col(prof, "grade_band"),
        "experience": experience_band(years.reset_index(drop=True)).to_numpy(dtype=object),
        "source": col(rows, "source"),
        "domain": rows["competency_id"].map(domain_of).to_numpy(dtype=object),
    })


def _metrics(y: np.ndarray, p: np.ndarray, min_n: int) -> dict:
    m = mastery_metrics(y, p)
    out: dict = {"n": int(len(y))}
    out.update({k: None if not np.isfinite(m[k]) else round(float(m[k]), 6) for k in _METRICS})
    out["small"] = bool(len(y) < min_n or out["auc"] is None)
    return out


def subgroup_metrics(y, p, groups: pd.DataFrame, *, min_n: int = MIN_N) -> dict:
    """``{min_n, overall: {n, auc, log_loss, brier}, by: {attribute: [{value, n, auc, log_loss,
    brier, small}, ...]}}``, groups largest first; metrics that are undefined are None.

    ``groups`` holds one row per outcome of ``y`` (probabilities ``p``) and one column per
    grouping attribute; each attribute's groups partition the rows.
    """
    y, p = np.asarray(y), np.asarray(p, dtype=float)
    if len(groups) != len(y) or len(p) != len(y):
        raise ValueError(f"subgroup_metrics: {len(y)} outcomes, {len(p)} probabilities and "
                         f"{len(groups)} group rows; expected one of each per test record")
    overall = _metrics(y, p, min_n)
    overall.pop("small")
    by: dict[str, list[dict]] = {}
    for attribute in groups.columns:
        values = groups[attribute].astype(object).where(groups[attribute].notna(), MISSING)
        values = values.astype(str).to_numpy()
        names, codes, counts = np.unique(values, return_inverse=True, return_counts=True)
        order = np.lexsort((names, -counts))  # largest first, then by name
        by[str(attribute)] = [{"value": str(names[i]),
                               **_metrics(y[codes == i], p[codes == i], min_n)} for i in order]
    return {"min_n": int(min_n), "overall": overall, "by": by}


def subgroup_digest(subgroups: dict | None, metric: str = "auc") -> dict | None:
    """The short form the API serves: ``{min_n, groups, small, lowest: {attribute, value, n,
    METRIC} or None, highest}`` over the groups that are not small; None without subgroups."""
    if not subgroups or not subgroups.get("by"):
        return None
    rows = [{"attribute": a, **g} for a, groups in subgroups["by"].items() for g in groups]
    scored = [r for r in rows if not r["small"] and r.get(metric) is not None]
    low = min(scored, key=lambda r: r[metric]) if scored else None
    return {"min_n": int(subgroups["min_n"]), "groups": len(rows),
            "small": sum(bool(r["small"]) for r in rows),
            "lowest": None if low is None else {k: low[k] for k in ("attribute", "value", "n")}
            | {metric: low[metric]},
            "highest": max((r[metric] for r in scored), default=None)}


def subgroup_summary(subgroups: dict | None, metric: str = "auc") -> str:
    """One compact line for ``pdrec compare``: the lowest and highest ``metric`` over the groups
    that are not small, the weakest group, and how many groups are small (``*``).

    >>> subgroup_summary({"min_n": 50, "overall": {"n": 300}, "by": {"role": [
    ...     {"value": "coach", "n": 200, "auc": 0.8, "small": False},
    ...     {"value": "teacher", "n": 90, "auc": 0.7, "small": False},
    ...     {"value": "(missing)", "n": 10, "auc": None, "small": True}]}})
    'auc 0.700..0.800, lowest role=teacher (n=90); 1/3 small*'
    """
    digest = subgroup_digest(subgroups, metric)
    if digest is None:
        return ""
    tail = f"{digest['small']}/{digest['groups']} small*"
    low = digest["lowest"]
    if low is None:
        return f"{metric}: every group small; {tail}"
    return (f"{metric} {low[metric]:.3f}..{digest['highest']:.3f}, lowest "
            f"{low['attribute']}={low['value']} (n={low['n']}); {tail}")
