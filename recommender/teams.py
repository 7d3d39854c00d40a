"""Team next steps: shared activities ranked by how fast they bring members to their goals.

A team (a PLC, a grade-level team, a school's staff) takes one **shared** activity together. For
each candidate the team ranker adds up the share of each member's remaining way to their own
goals the step covers, divides by the step's cost in hours, and names the members for whom the
step is wrong.

Model (all ``members x activities`` arrays; no loop over members)
-----------------------------------------------------------------
The ranker's own pieces are called, not copied: :func:`recommender.ranking.prepare` (the gains
``g[a, c]`` of :func:`recommender.ranking.target_gains`, padded target arrays and params),
:func:`recommender.ranking.mastery.read_mastery_long` (the mastery matrix, with
:func:`~recommender.ranking.mastery.decision_mastery` when ``p_bound`` is present) and
:func:`recommender.ranking.scoring.score_activities` (readiness, exclusions, format filters).
For member ``e`` with mastery ``p`` and activity ``a`` with targets ``c``:

- ``relevant[e, c]``: ``c`` is one of ``e``'s goals or a prerequisite (ancestor) of one; a member
  without goals counts every competency (they have said nothing narrower).
- ``toward[e, a] = sum_c g[a, c] * (1 - p[c]) * relevant[e, c] * (p[c] < threshold)``: the
  ranker's expected gain, kept to the member's unmastered goal path.
- ``stick[e, a] = READINESS_FLOOR + (1 - READINESS_FLOOR) * readiness[e, a]``, the ranker's
  readiness (weighted weakest direct prerequisite) and its params' floor: a gain sticks as far as
  the member is ready for it.
- ``gain[e, a] = toward * stick`` (0 for a member who has closed the activity: completed,
  declined or in progress), ``team_gain[a] = sum_e gain[e, a]`` and
  ``gain_per_hour[a] = team_gain[a] / (hours[a] + STEP_OVERHEAD_HOURS)`` (the overhead, as in
  the ranker's goal model, makes a step cost a month's slot as well as its hours).

The **score** a step is ranked by is ``TeamRequest.objective``:

- ``"finish"`` (default): ``sum_e min(saved[e, a] / left[e], 1) / (hours[a] +
  STEP_OVERHEAD_HOURS)``, with ``saved`` and ``left`` the ranker's goal model
  (:func:`recommender.ranking.scoring.goal_hours`: the hours to the member's goals a step saves,
  through the goal itself or by raising the gate of its direct prerequisites, and the hours
  still needed). Each member counts by the share of their remaining way the step covers (0 for
  one who closed it, has no open goal or names none), so the score is the number of members
  the team brings to their goals per hour. Why: a shared step costs its hours to every member
  still short of their goals, so the team's total hours to goal fall fastest when members
  leave that queue soonest; like the shortest-job-first rule for the sum of completion times,
  that weighs each member's progress by one over their remaining work, and the step that
  brings those nearly there over the line wins over one that moves everybody a little.
- ``"goal"``: the sum over members of the ranker's own ``goal`` part
  (:mod:`recommender.ranking.scoring`: goal hours saved per hour, relative to that member's
  best step in the catalog, in [0, 1]; 0 for a member who closed the step).
- ``"gain"``: the team's ``gain_per_hour`` above.

``"finish"`` was chosen on the simulator (``experiments/team_sim.py``, development seeds 100
and 99; ``experiments/reports/teams.md``): teams reached their goals sooner than with ``goal``
(the previous default) and than with the most common individual top step; ranked by raw gain
per hour they reached them latest.

Candidates are the activities of the team formats (:data:`TEAM_FORMATS` by default) or flagged
for teams (a truthy ``team`` column in the catalog, or ``TeamRequest.activities``), available to
every member (a member's ``available`` excludes it otherwise) and with ``team_gain > 0``. The
top ``k`` by score whose hours fit the remaining ``max_hours`` are returned (equal scores: the
larger ``gain_per_hour``, then the smaller id; so a team whose members name no goals gets the
steps with the most expected gain per hour).

Each member of a returned step gets a **status**: ``mastered`` (every target at or above the
threshold), ``not_ready`` (an unmastered target has a direct prerequisite below
``gate_threshold``, the ranker's hard-gate rule, the step's own targets aside: a step that
develops the prerequisite too is not wrong for it; the weakest one is named), ``closed`` (they
completed, declined or are taking it), ``no_goal_gain`` (nothing on their goal path) or ``fits``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.graph import DEFAULT_THRESHOLD
from recommender.ranking import EducatorContext, RankerParams, RankingIndex, RankingRequest
from recommender.ranking.checks import bad_field, is_number
from recommender.ranking.index import resolve_index
from recommender.ranking.mastery import check_mastery_long, read_mastery_long
from recommender.ranking.requests import check_context
from recommender.ranking.scoring import goal_hours, score_activities

__all__ = ["TEAM_FORMATS", "MemberFit", "TeamRequest", "TeamStep", "rank_team"]

TEAM_FORMATS = ("plc_cycle", "lesson_study", "peer_observation", "coaching_cycle")
"""Formats a team can take together by default (the seeds' collaborative formats)."""

OBJECTIVES = ("finish", "goal", "gain")
"""What a step is ranked by: ``finish`` (default), the share of each member's remaining way to
their goals the step covers, summed over members, per hour (members brought to their goals per
hour); ``goal``, the sum over members of the ranker's own ``goal`` part (goal hours saved per
hour, relative to each member's best step); ``gain``, the team's expected gain toward goals per
hour."""

_EMPTY = EducatorContext()


@dataclass(frozen=True)
class TeamRequest:
    """What a team ranking is asked.

    Parameters
    ----------
    k : int, default=3
        How many shared steps to return.
    max_hours : float or None
        Hour budget for the sum of the returned steps; None: no budget.
    formats : tuple of str or None
        Team formats; None or empty: :data:`TEAM_FORMATS` (those the catalog's vocabulary
        has). Named formats are checked against the catalog's vocabulary.
    activities : tuple of str
        Further activity ids a team can take together, whatever their format.
    gate_threshold : float, default=0.5
        A member is ``not_ready`` for a step when an unmastered target has a direct prerequisite
        below it.
    mastery_threshold : float, default=DEFAULT_THRESHOLD
    objective : {"finish", "goal", "gain"}, default="finish"
        What steps are ranked by (module docstring).
    """

    k: int = 3
    max_hours: float | None = None
    formats: tuple[str, ...] | None = None
    activities: tuple[str, ...] = ()
    gate_threshold: float = 0.5
    mastery_threshold: float = DEFAULT_THRESHOLD
    objective: str = "finish"

    def __post_init__(self) -> None:
        own = "TeamRequest"
        if not isinstance(self.k, int | np.integer) or isinstance(self.k, bool) or self.k < 1:
            raise bad_field(own, "k", self.k, "an integer >= 1")
        mh = self.max_hours
        if mh is not None and (not is_number(mh) or not np.isfinite(mh) or mh <= 0):
            raise bad_field(own, "max_hours", mh, "None or a finite number of hours > 0")
        for name in ("formats", "activities"):
            v = getattr(self, name)
            if v is None:
                continue
            items = (v,) if isinstance(v, str) else tuple(v)
            if not all(isinstance(x, str) and x for x in items):
                raise bad_field(own, name, v, "a collection of non-empty strings")
            object.__setattr__(self, name, items)
        if not is_number(self.gate_threshold) or not 0 <= self.gate_threshold <= 1:
            raise bad_field(own, "gate_threshold", self.gate_threshold, "a number in [0, 1]")
        m = self.mastery_threshold
        if not is_number(m) or not 0 < m <= 1:
            raise bad_field(own, "mastery_threshold", m, "a number in (0, 1]")
        if self.objective not in OBJECTIVES:
            raise bad_field(own, "objective", self.objective, f"one of {OBJECTIVES}")


@dataclass(frozen=True)
class MemberFit:
    """One member's view of a shared step."""

    educator_id: str
    expected_gain: float
    readiness: float
    status: str  # fits | not_ready | mastered | closed | no_goal_gain
    weak_prerequisite: str | None = None  # for not_ready: the weakest direct prerequisite
    weak_prerequisite_p: float | None = None


@dataclass(frozen=True)
class TeamStep:
    """A shared step for the team, with each member's fit and a reason a team lead can read."""

    activity_id: str
    title: str
    format: str
    hours: float
    team_gain: float
    gain_per_hour: float
    score: float  # what the steps are ranked by (TeamRequest.objective)
    members: tuple[MemberFit, ...]
    reason: str

    def named(self, status: str) -> tuple[str, ...]:
        """The ids of the members with ``status`` (e.g. ``"not_ready"``)."""
        return tuple(m.educator_id for m in self.members if m.status == status)


@dataclass(frozen=True, eq=False)
class TeamScores:
    """The ``members x activities`` arrays behind a team ranking (see the module docstring)."""

    members: pd.Index
    p: np.ndarray  # (E, C) decision mastery
    gain: np.ndarray  # (E, A) expected gain toward goals
    readiness: np.ndarray  # (E, A)
    closed: np.ndarray  # (E, A)
    candidate: np.ndarray  # (A,)
    per_hour: np.ndarray  # (A,) team gain per hour
    score: np.ndarray  # (A,) the objective, -inf for non-candidates


def team_scores(arr: RankingIndex, mastery_long: pd.DataFrame, members: Sequence[str],
                contexts: Mapping[str, EducatorContext], request: TeamRequest) -> TeamScores:
    """Score every activity for the team (arrays; the ranker's pieces do the per-member work)."""
    members = list(dict.fromkeys(str(m) for m in members))
    frame = mastery_long[mastery_long["educator_id"].astype(str).isin(members)]
    ids, p = read_mastery_long(arr.graph, arr.competencies, frame, also=members,
                               threshold=request.mastery_threshold, cold=arr.params.cold_start_p)
    ctx = [contexts.get(e, _EMPTY) for e in ids]
    goal_mask, closed, unavailable = _context_masks(arr, ctx)
    rr = RankingRequest(k=1, mastery_threshold=request.mastery_threshold)
    s = score_activities(arr, p, goal_mask, closed | unavailable, rr)
    readiness = s.parts["readiness"]
    relevant = goal_mask | (goal_mask.astype(np.int64) @ _ancestor_matrix(arr) > 0)
    relevant[~goal_mask.any(axis=1)] = True
    n_e, n_c = p.shape
    pe = np.concatenate([p, np.ones((n_e, 1))], axis=1)
    rel = np.concatenate([relevant, np.zeros((n_e, 1), dtype=bool)], axis=1)
    toward = np.zeros_like(readiness)
    for kk in range(arr.tidx.shape[1]):
        col = arr.tidx[:, kk]
        pk = np.take(pe, col, axis=1)
        open_ = (pk < request.mastery_threshold) & np.take(rel, col, axis=1)
        toward += np.where(open_, (1.0 - pk) * arr.tgain[:, kk], 0.0)
    floor = arr.params.readiness_floor
    gain = np.where(closed, 0.0, toward * (floor + (1.0 - floor) * readiness))
    candidate = _team_mask(arr, request) & arr.allowed(rr) & ~unavailable.any(axis=0)
    team_gain = gain.sum(axis=0)
    candidate &= team_gain > 0
    slot = arr.hours + arr.params.step_overhead_hours
    per_hour = team_gain / slot
    if request.objective == "finish":
        saved, left = goal_hours(arr, p, goal_mask, request.mastery_threshold)
        share = np.divide(saved, left[:, None], out=np.zeros_like(saved),
                          where=left[:, None] > 0)
        value = np.where(closed, 0.0, np.clip(share, 0.0, 1.0)).sum(axis=0) / slot
    elif request.objective == "goal":
        value = np.where(closed, 0.0, s.parts["goal"]).sum(axis=0)
    else:
        value = per_hour
    score = np.where(candidate, value, -np.inf)
    return TeamScores(pd.Index(ids, dtype=object), p, gain, readiness, closed, candidate,
                      per_hour, score)


def rank_team(
    graph: nx.DiGraph,
    catalog: Catalog,
    mastery_long: pd.DataFrame,
    members: Sequence[str],
    *,
    contexts: Mapping[str, EducatorContext] | None = None,
    request: TeamRequest = TeamRequest(),  # noqa: B008 - frozen, immutable default
    gains: pd.DataFrame | None = None,
    index: RankingIndex | None = None,
    params: RankerParams | None = None,
) -> list[TeamStep]:
    """Rank shared activities for a team (see the module docstring for the model).

    Parameters
    ----------
    mastery_long : DataFrame
        ``educator_id, competency_id, p_mastery[, p_bound]`` as :func:`recommender.ranking.
        rank_batch` reads it; rows of non-members are ignored, a member without rows is a cold
        start.
    members : sequence of str
        The team's educator ids (at least one; repeats are dropped).
    contexts : mapping educator_id -> EducatorContext, optional
        Goals, completed/declined/in-progress and available activities of each member.
    request : TeamRequest
    gains, index, params
        As in :func:`recommender.ranking.rank_batch`.

    Returns
    -------
    list of TeamStep
        At most ``request.k``, by non-increasing ``score``, their hours within
        ``max_hours``.

    Raises
    ------
    ValueError, TypeError, UnknownCompetencyError
        Bad members, request, contexts, mastery frame or index, naming what is wrong.
    """
    if isinstance(members, str) or not len(members):
        raise bad_field("rank_team", "members", members, "a non-empty sequence of educator ids")
    if not isinstance(request, TeamRequest):
        raise TypeError(f"request must be a TeamRequest; got {type(request).__name__}")
    check_mastery_long(mastery_long)
    contexts = {str(k): v for k, v in (contexts or {}).items()}
    for ctx in contexts.values():
        check_context(graph, ctx)
    arr = resolve_index(graph, catalog, gains, index, params)
    ts = team_scores(arr, mastery_long, members, contexts, request)
    picks = _pick(arr, ts, request)
    return [_step(arr, ts, a, request) for a in picks]


def _pick(arr: RankingIndex, ts: TeamScores, request: TeamRequest) -> list[int]:
    """Top k by score under the hour budget; equal scores by gain per hour, then the smaller id
    (so a team whose members name no goal, all scoring 0 on ``finish`` and ``goal``, gets the
    steps with the most expected gain per hour)."""
    order = np.lexsort((np.arange(len(ts.score)), -ts.per_hour, -ts.score))
    order = order[np.isfinite(ts.score[order])]
    used, out = 0.0, []
    for a in order:  # stops after k picks; skips steps over the remaining budget
        if len(out) == request.k:
            break
        if request.max_hours is not None and used + arr.hours[a] > request.max_hours:
            continue
        out.append(int(a))
        used += float(arr.hours[a])
    return out


def _step(arr: RankingIndex, ts: TeamScores, a: int, request: TeamRequest) -> TeamStep:
    """One chosen activity with each member's status, weak prerequisite and a reason."""
    thr = request.mastery_threshold
    cols = arr.tidx[a][arr.tw[a] > 0]
    pt = ts.p[:, cols]
    open_t = pt < thr
    mastered = ~open_t.any(axis=1)
    pre = arr.pidx[cols]  # (T, D) direct prerequisites of each target, C = none
    n_c = ts.p.shape[1]
    pe = np.concatenate([ts.p, np.ones((len(ts.p), 1))], axis=1)
    # a prerequisite the step develops itself (another of its targets) does not make a member
    # not ready for it
    outside = (pre < n_c) & ~np.isin(pre, cols)
    pq = np.where(open_t[:, :, None] & outside[None], pe[:, pre], np.inf)  # (E, T, D)
    flat = pq.reshape(len(pq), -1)
    weakest = np.argmin(flat, axis=1) if flat.shape[1] else np.zeros(len(pq), dtype=int)
    weak_p = flat[np.arange(len(pq)), weakest] if flat.shape[1] else np.full(len(pq), np.inf)
    weak_c = pre.reshape(-1)[weakest] if flat.shape[1] else np.full(len(pq), n_c)
    not_ready = ~mastered & (weak_p < request.gate_threshold)
    gain = ts.gain[:, a]
    status = np.select([ts.closed[:, a], mastered, not_ready, gain <= 0],
                       ["closed", "mastered", "not_ready", "no_goal_gain"], "fits")
    fits = []
    for i, e in enumerate(ts.members):
        nr = status[i] == "not_ready"
        fits.append(MemberFit(
            str(e), float(gain[i]), float(ts.readiness[i, a]), str(status[i]),
            str(arr.competencies[weak_c[i]]) if nr else None,
            float(weak_p[i]) if nr else None))
    aid = str(arr.activity_ids[a])
    step = TeamStep(aid, arr.titles[aid], str(arr.formats[a]), float(arr.hours[a]),
                    float(gain.sum()), float(ts.per_hour[a]), float(ts.score[a]), tuple(fits),
                    "")
    return TeamStep(**{**step.__dict__, "reason": _reason(arr, step, cols)})


def _reason(arr: RankingIndex, step: TeamStep, cols: np.ndarray) -> str:
    """A sentence or three a team lead can read."""
    n = len(step.members)
    gaining = sum(m.expected_gain > 0 for m in step.members)
    develops = ", ".join(arr.names[str(arr.competencies[c])] for c in cols)
    parts = [f"{step.title} ({step.format}, {step.hours:g} h) develops {develops}; "
             f"{gaining} of {n} members gain toward their goals, {len(step.named('fits'))} "
             f"ready for it (expected team gain {step.team_gain:.2f}, "
             f"{step.gain_per_hour:.3f} per hour)."]
    nr = [m for m in step.members if m.status == "not_ready"]
    if nr:
        parts.append("Not ready (a prerequisite far below): " + ", ".join(
            f"{m.educator_id} ({arr.names[m.weak_prerequisite]} at {m.weak_prerequisite_p:.2f})"
            for m in nr) + ".")
    for status, label in (("mastered", "Already mastered"), ("closed", "Already done or "
                          "declined"), ("no_goal_gain", "Not on their goal path")):
        who = step.named(status)
        if who:
            parts.append(f"{label}: {', '.join(who)}.")
    return " ".join(parts)


def _context_masks(arr: RankingIndex, contexts: list[EducatorContext]
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Goals (E, C), closed activities (E, A) and unavailable activities (E, A)."""
    n_e, n_c, n_a = len(contexts), len(arr.competencies), len(arr.activity_ids)
    cpos, apos = arr.competency_pos, arr.activity_pos
    goals = np.zeros((n_e, n_c), dtype=bool)
    closed = np.zeros((n_e, n_a), dtype=bool)
    unavailable = np.zeros((n_e, n_a), dtype=bool)
    cooldowns = arr.catalog.cooldowns
    for e, ctx in enumerate(contexts):  # the contexts' own short id lists, not data rows
        goals[e, [cpos[g] for g in ctx.goals]] = True
        closed[e, [apos[x] for x in ctx.closed(cooldowns) if x in apos]] = True
        if ctx.available is not None:
            unavailable[e] = True
            unavailable[e, [apos[x] for x in ctx.available if x in apos]] = False
    return goals, closed, unavailable


def _ancestor_matrix(arr: RankingIndex) -> np.ndarray:
    """(C, C) int: ``[j, q] = 1`` when ``q`` is a prerequisite (ancestor) of ``j`` (from the
    index's ancestor sets: at most C * C ids, not data rows)."""
    pos = arr.competency_pos
    rows = [pos[c] for c, anc in arr.ancestor_sets.items() for _ in anc]
    cols = [pos[q] for anc in arr.ancestor_sets.values() for q in anc]
    m = np.zeros((len(pos), len(pos)), dtype=np.int64)
    m[rows, cols] = 1
    return m


def _team_mask(arr: RankingIndex, request: TeamRequest) -> np.ndarray:
    """(A,) bool: of a team format, flagged ``team`` in the catalog, or named in the request."""
    vocab = arr.catalog.vocabularies
    if not request.formats:  # None or empty: the team formats the catalog has
        formats = [f for f in TEAM_FORMATS if f in vocab.formats]
    else:
        formats = list(vocab.check("formats", request.formats))
    mask = np.isin(arr.formats, formats)
    acts = arr.catalog.activities
    if "team" in acts.columns:
        flag = acts["team"].fillna(False).astype(bool).reindex(arr.activity_index)
        mask |= flag.to_numpy(bool)
    if request.activities:
        mask |= np.isin(arr.activity_ids, list(request.activities))
    return mask
