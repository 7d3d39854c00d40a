"""Serving-time state derived from stored rows: mastery estimates and an educator's context.

Two pure pieces the API (or any other server) assembles:

- :func:`estimate_mastery`: P(mastery) of every competency for a batch of educators, from their
  stored evidence and completions, with the one estimator
  (:class:`~recommender.estimate.MasteryEstimator`: the trained model's prior when there is one,
  the **evidence filter** alone when there is none), and :func:`evidence_influence`, how far
  each record moved it (the order in which explanations cite records).
- :func:`feedback_context`: an :class:`~recommender.ranking.EducatorContext` (completed,
  declined, in-progress and pinned activities) from an educator's feedback events, and
  :func:`completions_from_feedback`, the completed activities in the shape the feature builder
  reads.

Stored rows are read defensively: a row dated outside the field contract's time window
(:func:`recommender.fields.time_window`: 1970-01-01 to now + 1 day), stored before the contract
was enforced at the door, is skipped with a logged warning instead of failing the educator (a
year such as 1600 is beyond the feature builder's nanosecond times; a decline dated 9999 would
hide an activity forever). ``pdrec repair`` moves such rows aside for good.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from recommender.estimate import MasteryEstimator
from recommender.fields import TIME_DTYPE, outside_window, time_window, window_text
from recommender.ranking import EducatorContext

__all__ = [
    "EVIDENCE_FILTER",
    "MASTERY_COLUMNS",
    "estimate_mastery",
    "feedback_context",
    "completions_from_feedback",
    "evidence_influence",
    "mastery_frame",
    "profiles_frame",
    "readable_rows",
]

EVIDENCE_FILTER = "evidence-filter"
"""The name under which the model-free estimate is reported (no trained model is served)."""

MASTERY_COLUMNS = ("educator_id", "competency_id", "p_mastery", "n_evidence")
"""Columns of the long mastery frame :func:`estimate_mastery` returns."""


log = logging.getLogger(__name__)


def readable_rows(frame: pd.DataFrame, column: str, *, now: pd.Timestamp | None = None,
                  what: str = "rows") -> pd.DataFrame:
    """``frame`` without the rows whose time ``column`` is missing or outside the contract's
    window (:func:`recommender.fields.time_window` at ``now``); logs a warning naming how many
    and whose (``educator_id``) when it skips any.

    >>> rows = pd.DataFrame({"educator_id": ["A", "A"], "at": pd.to_datetime(
    ...     ["1600-01-01", "2024-03-01"], utc=True).as_unit("us")})
    >>> readable_rows(rows, "at", now=pd.Timestamp("2025-01-01", tz="UTC"))["at"].dt.year.tolist()
    [2024]
    """
    if not len(frame):
        return frame
    times = pd.to_datetime(frame[column], utc=True).astype(TIME_DTYPE)
    window = time_window(now)
    bad = outside_window(times, window) | times.isna().to_numpy()
    if not bad.any():
        return frame
    who = (sorted(pd.unique(frame.loc[bad, "educator_id"]).tolist())[:5]
           if "educator_id" in frame else [])
    log.warning("skipped %d stored %s of educator(s) %s dated outside the accepted window %s; "
                "`pdrec repair` moves them aside", int(bad.sum()), what, who,
                window_text(window))
    return frame[~bad]


def estimate_mastery(
    estimator: MasteryEstimator,
    evidence: pd.DataFrame,
    educator_ids: Iterable[str],
    *,
    as_of: pd.Timestamp | str | None = None,
    completions: pd.DataFrame | None = None,
    educators: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """P(mastery) of every competency for each educator, from stored rows, as of ``as_of``.

    The one estimator (:class:`recommender.estimate.MasteryEstimator`: the model's prior when it
    has one, moved by completions and newer evidence) after skipping evidence and completions
    dated outside the time window at ``as_of`` (see :func:`readable_rows`).

    Parameters
    ----------
    estimator : MasteryEstimator
    as_of : Timestamp, str or None
        The moment the answer is for; default now (UTC).
    completions, educators : DataFrame or None
        Completed activities (learning the estimate accounts for) and profiles (the model's
        ``prof_`` features).

    Returns
    -------
    DataFrame
        :data:`recommender.estimate.ESTIMATE_COLUMNS` (the first four are
        :data:`MASTERY_COLUMNS`).
    """
    ids = list(dict.fromkeys(educator_ids))
    at, evidence, completions = _readable(evidence, completions, as_of)
    return estimator.estimate(evidence, ids, as_of=at, completions=completions,
                              educators=educators)


def evidence_influence(
    estimator: MasteryEstimator,
    evidence: pd.DataFrame,
    educator_id: str,
    *,
    as_of: pd.Timestamp | str | None = None,
    completions: pd.DataFrame | None = None,
    educators: pd.DataFrame | None = None,
) -> pd.Series:
    """How far each of one educator's records moved its competency's belief, by evidence id.

    :meth:`recommender.estimate.MasteryEstimator.influence` on the same inputs as
    :func:`estimate_mastery` (logits, >= 0), so that explanations cite the records the served
    estimate rests on most, first. Records folded into the model prior (dated before the first
    completion) and records skipped as unreadable get NaN: they act through the model, whose
    contributions explain them.
    """
    at, readable, completions = _readable(evidence, completions, as_of)
    mine = readable[readable["educator_id"] == educator_id]
    moved = estimator.influence(mine, [educator_id], as_of=at, completions=completions,
                                educators=educators)
    by_id = pd.Series(moved.to_numpy(float), index=mine["evidence_id"].to_numpy(object))
    return by_id.reindex(evidence.loc[evidence["educator_id"] == educator_id, "evidence_id"]
                         .to_numpy(object)).rename("influence")


def _readable(evidence: pd.DataFrame, completions: pd.DataFrame | None, as_of
              ) -> tuple[pd.Timestamp, pd.DataFrame, pd.DataFrame | None]:
    """``as_of`` (default now) and the evidence and completions readable at it."""
    at = pd.Timestamp.now(tz="UTC") if as_of is None else pd.Timestamp(as_of)
    evidence = readable_rows(evidence, "observed_at", now=at, what="evidence rows")
    if completions is not None:
        completions = readable_rows(completions, "completed_at", now=at, what="completions")
    return at, evidence, completions


def completions_from_feedback(feedback: pd.DataFrame) -> pd.DataFrame:
    """``educator_id, activity_id, completed_at`` of the ``completed`` events."""
    if feedback is None or not len(feedback):
        return pd.DataFrame({"educator_id": pd.Series([], dtype=object),
                             "activity_id": pd.Series([], dtype=object),
                             "completed_at": pd.Series([], dtype="datetime64[us, UTC]")})
    done = feedback[feedback["event"] == "completed"]
    return pd.DataFrame({"educator_id": done["educator_id"].to_numpy(dtype=object),
                         "activity_id": done["activity_id"].to_numpy(dtype=object),
                         "completed_at": pd.to_datetime(done["at"], utc=True).to_numpy()})


def feedback_context(
    events: pd.DataFrame | Sequence[Mapping],
    *,
    goals: Iterable[str] = (),
    now: pd.Timestamp | None = None,
    decline_days: float = 90.0,
) -> EducatorContext:
    """An educator's context from their feedback events, replayed oldest first.

    - ``completed``: the activity is done; its last completion time goes to the context's
      ``completed_at``, so a catalog-``repeatable`` activity is proposed again once its
      ``cooldown_days`` have passed (at ``now``, also the context's ``now``), a one-shot one
      never;
    - ``started`` or ``accepted``: in progress (not proposed again; pathways prefer it) until
      completed or declined; after a completion it is a new round (of a repeatable activity);
    - ``declined``: not proposed for ``decline_days`` after the event (a later ``accepted``,
      ``started`` or ``pinned`` lifts it);
    - ``pinned`` (coach): proposed first, in pin order, until ``unpinned``, completed or
      declined; ``replaced`` (coach) pins the activity and declines the one in ``replaces``;
    - ``rated``: recorded, no effect on the context.

    Events dated outside the time window at ``now`` (a decline dated 9999 would otherwise hide
    its activity forever) are skipped with a logged warning.

    Parameters
    ----------
    events : DataFrame or sequence of mappings
        ``activity_id, event, at`` (and ``replaces`` for ``replaced``), in any order; sorted by
        ``at`` here (stable, so same-time events keep their given order). Naive times are UTC.
    goals : iterable of str
        Copied into the context.
    now : Timestamp or None
        For the decline window; default now (UTC).
    """
    rows = events.to_dict("records") if isinstance(events, pd.DataFrame) else list(events)
    now = pd.Timestamp.now(tz="UTC") if now is None else _utc(now)
    completed: dict[str, pd.Timestamp] = {}  # last completion
    in_progress: set[str] = set()
    declined: dict[str, pd.Timestamp] = {}
    pinned: dict[str, None] = {}
    lo, hi = window = time_window(now)
    stamped = [(at, i, r) for i, r in enumerate(rows)
               if (at := _utc(r["at"])) is not None and lo <= at <= hi]
    if len(stamped) < len(rows):
        log.warning("skipped %d stored feedback event(s) dated outside the accepted window %s; "
                    "`pdrec repair` moves them aside", len(rows) - len(stamped),
                    window_text(window))
    stamped.sort(key=lambda x: x[:2])
    for at, _, r in stamped:  # plain Python: an educator has tens of events, not thousands
        a, ev, old = str(r["activity_id"]), r["event"], r.get("replaces")
        if ev == "completed":
            completed[a] = at
            in_progress.discard(a)
            pinned.pop(a, None)
        elif ev in ("started", "accepted"):
            in_progress.add(a)  # after a completion: a new round
            declined.pop(a, None)
        elif ev == "declined":
            declined[a] = at
            in_progress.discard(a)
            pinned.pop(a, None)
        elif ev == "pinned":
            pinned[a] = None
            declined.pop(a, None)
        elif ev == "unpinned":
            pinned.pop(a, None)
        elif ev == "replaced":
            pinned[a] = None
            declined.pop(a, None)
            if isinstance(old, str) and old:
                declined[old] = at
                pinned.pop(old, None)
                in_progress.discard(old)
    window = pd.Timedelta(days=decline_days)
    recent = {a for a, at in declined.items() if now - at <= window}
    return EducatorContext(
        goals=tuple(goals), completed=frozenset(completed), declined=frozenset(recent),
        in_progress=frozenset(in_progress), pinned=tuple(pinned), completed_at=completed,
        now=now,
    )


def _utc(at) -> pd.Timestamp | None:
    """``at`` as a UTC Timestamp (naive: UTC); None when it is no time pandas can hold."""
    try:
        ts = pd.Timestamp(at)
    except (ValueError, TypeError, OverflowError):
        return None
    if ts is pd.NaT:
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def profiles_frame(profiles: Mapping[str, Mapping]) -> pd.DataFrame:
    """``{educator_id: profile}`` as the educators frame the feature builder reads."""
    rows = [{"educator_id": e, **{k: v for k, v in dict(p).items()
                                  if k in ("years_experience", "role", "subject", "grade_band")}}
            for e, p in profiles.items()]
    cols = ["educator_id", "years_experience", "role", "subject", "grade_band"]
    return pd.DataFrame(rows, columns=cols)


def mastery_frame(table: Mapping[str, Sequence[float]]) -> pd.DataFrame:
    """A stored mastery table (``{competency_id: (p_mastery, n_evidence, p_bound)}``,
    :class:`recommender.store.MasteryCell` values) as the ranker reads it: indexed by
    competency, columns ``p_mastery, n_evidence, p_bound``.

    >>> mastery_frame({"C1": (0.8, 3, 0.6)}).loc["C1", "n_evidence"]
    np.int64(3)
    """
    ids = list(table)
    values = np.array(list(table.values()), dtype=float).reshape(len(ids), 3)
    return pd.DataFrame({"p_mastery": values[:, 0], "n_evidence": values[:, 1].astype(np.int64),
                         "p_bound": values[:, 2]}, index=pd.Index(ids, name="competency_id"))
