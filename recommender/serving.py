"""Serving-time state derived from stored rows: mastery estimates and an educator's context.

Two pure pieces the API (or any other server) assembles:

- :func:`estimate_mastery`: P(mastery) of every competency for a batch of educators, from their
  evidence, with the trained :class:`~recommender.models.predictor.MasteryPredictor` when there
  is one, else with the **graph rule** (:func:`graph_rule_mastery`), the estimate the engine can
  always give without a model.
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

import networkx as nx
import numpy as np
import pandas as pd

from recommender.fields import TIME_DTYPE, outside_window, time_window, window_text
from recommender.ranking import EducatorContext

__all__ = [
    "GRAPH_RULE",
    "MASTERY_COLUMNS",
    "graph_rule_mastery",
    "estimate_mastery",
    "feedback_context",
    "completions_from_feedback",
    "profiles_frame",
    "readable_rows",
]

GRAPH_RULE = "graph-rule"
"""The name under which the model-free estimate is reported."""

MASTERY_COLUMNS = ("educator_id", "competency_id", "p_mastery", "n_evidence")
"""Columns of the long mastery frame :func:`estimate_mastery` returns."""

_DAY_NS = 86_400 * 10**9

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


def graph_rule_mastery(
    graph: nx.DiGraph,
    evidence: pd.DataFrame,
    educator_ids: Iterable[str],
    *,
    half_life_days: float = 60.0,
    strength: float = 2.0,
    prior: tuple[float, float] = (1.0, 1.0),
) -> pd.DataFrame:
    """Smoothed, recency-weighted proficiency, shrunk towards the prerequisites' mastery.

    For educator ``e`` and competency ``c`` with evidence records ``i`` (weights
    ``w_i = 0.5 ** (age_i / half_life_days)``, ``age_i`` measured from **the educator's own
    latest record**, so the estimate of one educator never depends on who else is in the batch
    or on the wall clock): ``s = (a + sum w_i proficient_i) / (a + b + sum w_i)``. Then, in
    topological order, ``p[c] = (n * s + strength * prior_c) / (n + strength)`` with ``n`` the
    number of records and ``prior_c`` the mean of ``p`` over the direct prerequisites of ``c``
    (0.5 for a root). An educator without evidence gets 0.5 everywhere.

    Parameters
    ----------
    graph : networkx.DiGraph
        The framework.
    evidence : DataFrame
        Validated evidence with ``educator_id, competency_id, proficient, observed_at``.
    educator_ids : iterable of str
        Every educator to estimate (with or without evidence).

    Returns
    -------
    DataFrame
        :data:`MASTERY_COLUMNS`, one row per (educator, competency), educators in the given
        order, competencies in lexicographic topological order.
    """
    ids = np.asarray(list(dict.fromkeys(educator_ids)), dtype=object)
    comps = list(nx.lexicographical_topological_sort(graph))
    n_e, n_c = len(ids), len(comps)
    wsum = np.zeros((n_e, n_c))
    wprof = np.zeros((n_e, n_c))
    count = np.zeros((n_e, n_c))
    if len(evidence) and n_e:
        r = pd.Index(ids).get_indexer(evidence["educator_id"].to_numpy(dtype=object))
        c = pd.Index(comps).get_indexer(evidence["competency_id"].to_numpy(dtype=object))
        keep = (r >= 0) & (c >= 0)
        r, c = r[keep], c[keep]
        t = pd.to_datetime(evidence["observed_at"], utc=True).to_numpy("datetime64[ns]")
        t = t.astype(np.int64)[keep]
        latest = np.full(n_e, np.iinfo(np.int64).min)
        np.maximum.at(latest, r, t)
        age = (latest[r] - t) / _DAY_NS
        w = 0.5 ** (np.maximum(age, 0.0) / half_life_days)
        prof = evidence["proficient"].to_numpy(dtype=bool)[keep]
        np.add.at(wsum, (r, c), w)
        np.add.at(wprof, (r, c), w * prof)
        np.add.at(count, (r, c), 1.0)
    a, b = prior
    s = (a + wprof) / (a + b + wsum)
    position = {q: j for j, q in enumerate(comps)}
    p = np.empty((n_e, n_c))
    for j, comp in enumerate(comps):  # vectorized over educators
        preds = [position[q] for q in graph.predecessors(comp)]
        base = p[:, preds].mean(axis=1) if preds else np.full(n_e, 0.5)
        p[:, j] = (count[:, j] * s[:, j] + strength * base) / (count[:, j] + strength)
    return pd.DataFrame({
        "educator_id": np.repeat(ids, n_c),
        "competency_id": np.tile(np.asarray(comps, dtype=object), n_e),
        "p_mastery": np.clip(p.ravel(), 0.0, 1.0),
        "n_evidence": count.ravel().astype(np.int64),
    })


def estimate_mastery(
    graph: nx.DiGraph,
    evidence: pd.DataFrame,
    educator_ids: Iterable[str],
    *,
    predictor=None,
    as_of: pd.Timestamp | str | None = None,
    completions: pd.DataFrame | None = None,
    educators: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """P(mastery) of every competency for each educator: the model's, or the graph rule's.

    Evidence and completions dated outside the time window at ``as_of`` are skipped (see
    :func:`readable_rows`).

    Parameters
    ----------
    predictor : MasteryPredictor or None
        With a predictor, its :meth:`~recommender.models.predictor.MasteryPredictor.mastery`
        as of ``as_of`` (default: now, UTC); without one, :func:`graph_rule_mastery`.
    completions, educators : DataFrame or None
        Completed activities and profiles, passed to the predictor's feature builder.

    Returns
    -------
    DataFrame
        :data:`MASTERY_COLUMNS`.
    """
    ids = list(dict.fromkeys(educator_ids))
    at = pd.Timestamp.now(tz="UTC") if as_of is None else pd.Timestamp(as_of)
    evidence = readable_rows(evidence, "observed_at", now=at, what="evidence rows")
    if completions is not None:
        completions = readable_rows(completions, "completed_at", now=at, what="completions")
    if predictor is None:
        return graph_rule_mastery(graph, evidence, ids)
    out = predictor.mastery(evidence, educator_ids=ids, as_of=at, completions=completions,
                            educators=educators)
    n = pd.to_numeric(out["n_evidence"], errors="coerce").fillna(0).astype(np.int64)
    return pd.DataFrame({
        "educator_id": out["educator_id"].to_numpy(dtype=object),
        "competency_id": out["competency_id"].astype(str).to_numpy(dtype=object),
        "p_mastery": np.clip(out["p_mastery"].to_numpy(float), 0.0, 1.0),
        "n_evidence": n.to_numpy(),
    })


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

    - ``completed``: the activity is done and never proposed again;
    - ``started`` or ``accepted``: in progress (not proposed again; pathways prefer it) until
      completed or declined;
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
    completed: set[str] = set()
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
            completed.add(a)
            in_progress.discard(a)
            pinned.pop(a, None)
        elif ev in ("started", "accepted"):
            if a not in completed:
                in_progress.add(a)
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
        in_progress=frozenset(in_progress - completed),
        pinned=tuple(a for a in pinned if a not in completed),
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
