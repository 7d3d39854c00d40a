"""``dose_``: learning activities the educator completed that target the query's competency.

Each completion contributes, for every competency its activity targets with catalog weight
``w``, one *dose* (a repeatable activity completed k times is k doses; completions are rows,
never deduplicated): count 1, hours ``w * hours`` and gain ``w * expected_gain``. Over the educator's
doses on the query's competency completed strictly before ``as_of``:

- ``dose_n_total`` how many and ``dose_gain_total`` their gain;
- ``dose_n_since``, ``dose_hours_since``, ``dose_gain_since``: the same over the doses completed
  strictly after the latest own record on the competency (all of them without own history).

Without a catalog or completions, every dose column is 0.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.errors import InvalidEvidenceError
from recommender.features.asof import AsOf, filled, gather, stack_columns, take, to_ns
from recommender.features.context import History
from recommender.features.door import column_values
from recommender.features.lookup import Lookup

__all__ = ["COMPLETION_COLUMNS", "TargetIndex", "activity_targets", "columns", "target_index"]

COMPLETION_COLUMNS = ("educator_id", "activity_id", "completed_at")
_TARGET_COLUMNS = ["activity_id", "c", "weight", "gain", "hours"]
_COLUMNS = ("dose_n_since", "dose_hours_since", "dose_gain_since", "dose_n_total",
            "dose_gain_total")


def activity_targets(catalog: Catalog | None, code: dict[str, int]) -> pd.DataFrame:
    """One row per (activity, targeted competency code) with its weighted gain and hours."""
    if catalog is None:
        return pd.DataFrame(columns=_TARGET_COLUMNS)
    t = catalog.targets.merge(
        catalog.activities[["expected_gain", "hours"]], left_on="activity_id", right_index=True
    )
    unknown = sorted(set(t["competency_id"]) - set(code))
    if unknown:
        raise InvalidEvidenceError(f"catalog targets competencies not in the framework: {unknown}")
    return pd.DataFrame(
        {
            "activity_id": t["activity_id"].astype(str).to_numpy(),
            "c": t["competency_id"].map(code).to_numpy(np.int64),
            "weight": t["weight"].to_numpy(float),
            "gain": (t["weight"] * t["expected_gain"]).to_numpy(float),
            "hours": (t["weight"] * t["hours"]).to_numpy(float),
        }
    )


class TargetIndex(NamedTuple):
    """:func:`activity_targets` in CSR form by activity: the target rows of activity ``k`` of
    ``activities`` are ``indptr[k]:indptr[k + 1]`` of ``c``, ``hours`` and ``gain``, in the
    targets frame's order."""

    activities: pd.Index
    indptr: np.ndarray
    c: np.ndarray
    hours: np.ndarray
    gain: np.ndarray


def target_index(targets: pd.DataFrame) -> TargetIndex:
    """The :class:`TargetIndex` of an :func:`activity_targets` frame."""
    codes, activities = pd.factorize(targets["activity_id"].to_numpy(dtype=object))
    order = np.argsort(codes, kind="stable")
    indptr = np.r_[0, np.cumsum(np.bincount(codes, minlength=len(activities)))].astype(np.int64)
    return TargetIndex(pd.Index(activities, dtype=object), indptr,
                       targets["c"].to_numpy(np.int64)[order],
                       targets["hours"].to_numpy(float)[order],
                       targets["gain"].to_numpy(float)[order])


def columns(h: History, completions: pd.DataFrame | None, targets: TargetIndex,
            activities: Lookup, n_competencies: int) -> dict[str, np.ndarray]:
    """``dose_`` columns from ``completions`` (:data:`COMPLETION_COLUMNS`), the
    :func:`target_index` of the :func:`activity_targets` and a :class:`~.lookup.Lookup` of its
    ``activities``.

    Each completion of an educator asked about becomes one dose per target of its activity, in
    completion order (then target order): the rows an inner join of completions with targets
    gives, without building it.
    """
    if completions is None or not len(completions) or not len(targets.c) or not h.n_queries:
        return {name: np.zeros(h.n_queries) for name in _COLUMNS}
    a = activities.positions(column_values(completions, "activity_id"))
    e = Lookup(h.educators).positions(column_values(completions, "educator_id"))
    done = ((a >= 0) & (e >= 0)).nonzero()[0]  # only the educators asked about
    activity = a[done]
    counts = (targets.indptr[1:] - targets.indptr[:-1])[activity]
    which = done.repeat(counts)  # the completion of each dose
    first = targets.indptr[activity].repeat(counts)
    j = first + np.arange(len(which)) - (counts.cumsum() - counts).repeat(counts)
    e = e[which].astype(np.int64)
    q = h.q
    # doses on the build's time ranks, doubled: time rank r is 2r + 1 and a time between ranks
    # r - 1 and r is 2r, so a dose is before a query (or at or before a record) exactly when
    # its doubled rank is (no sort of the doses' times with the queries')
    d_t = to_ns(column_values(completions, "completed_at"))[which]
    at = h.times.searchsorted(d_t)
    d_r = 2 * at + (h.times[np.minimum(at, len(h.times) - 1)] == d_t)
    scan = AsOf(e * n_competencies + targets.c[j], d_r, 2 * h.n_ranks + 1)
    cum = scan.accumulate(
        stack_columns(filled(len(j), 1.0), targets.hours[j], targets.gain[j])[scan.order]
    )
    group = h.q_e * n_competencies + q.c
    # doses before each query, and up to its latest own record (at or before doubled rank
    # 2r + 1 is before 2r + 2; unread without own history), in one search and one read
    last_r = 2 * gather(h.own_rank, h.pos, 0) + 2
    n_q = len(group)
    both = take(cum, scan.index(np.concatenate([group, group]),
                                np.concatenate([2 * h.q_r + 1, last_r])))
    total, until_last = both[:n_q], both[n_q:]
    since = total - np.where((h.pos >= 0)[:, None], until_last, 0.0)
    return dict(zip(_COLUMNS, (since[:, 0], since[:, 1], since[:, 2], total[:, 0], total[:, 2]),
                    strict=True))
