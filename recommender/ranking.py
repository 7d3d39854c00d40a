"""Next-activity ranking: score every catalog activity for an educator, pick a diversified top-k.

Inputs
------
A **mastery table** for one educator is a DataFrame indexed by ``competency_id`` (a
``competency_id`` column is accepted too) with columns ``p_mastery`` (in [0, 1]) and optionally
``uncertainty`` (>= 0, e.g. a standard error), ``n_evidence`` (int), ``evidence_ids`` (list of
str: the evidence the estimate rests on) and ``contributions`` (list of ``(feature, value)``
pairs). A plain mapping ``{competency_id: p_mastery}`` is accepted as well. A competency missing
from the table counts as ``p_mastery = 0`` with uncertainty :data:`MISSING_UNCERTAINTY`. For a
batch, a long frame ``educator_id, competency_id, p_mastery[, uncertainty, n_evidence]``.

Score
-----
For activity ``a`` with targets ``c`` of weight ``w[a, c]`` (``W = sum_c w[a, c]``) and an
educator with mastery ``p``:

- ``need[a]      = sum_c w[a, c] * (1 - p[c]) / W``: how much they need what it develops.
- ``readiness[a] = sum_c w[a, c] * r[c] / W`` with ``r[c] = min over direct prerequisites q of c
  of p[q]`` (1 for a competency without prerequisites): how ready they are for it.
- ``gain[a]      = sum_c g[a, c] * (1 - p[c])``: expected rise in mastery, discounted by the
  headroom left. ``g[a, c]`` is the learned posterior mean ``gains.loc[(a, c), "gain_mean"]``
  when ``gains`` has it, else the catalog prior ``expected_gain[a] * w[a, c]``.
- ``cost[a]      = log1p(hours[a])``.
- ``goal[a]``: goal hours saved per hour invested, relative to the educator's best candidate.
  It plans on a simple learning model in logits, ``theta = logit(p)`` (``p`` clipped to
  [0.01, 0.99]): doing ``a`` raises each target ``c`` by ``G[a, c] * gate[c]``, with
  ``G = LOGITS_PER_GAIN * g`` and ``gate[c] = READINESS_FLOOR + (1 - READINESS_FLOOR) *
  mean over direct prerequisites q of sigmoid(READINESS_SLOPE * theta[q])`` (1 without
  prerequisites): a gain sticks as far as the educator is ready for it. The hours still needed
  for an unmastered goal ``j`` are ``R_j = (logit(mastery_threshold) - theta[j]) / (rate[j] *
  gate[j])``, ``rate[j]`` the best ``G[b, j] / (hours[b] + STEP_OVERHEAD_HOURS)`` of the
  catalog. ``saved[a] = sum_j R_j(before) - R_j(after a)``: an activity on the goal shortens
  its distance, one on a direct prerequisite raises its gate (so when the prerequisites are
  weak, raising them first saves the most). ``goal[a] = max(saved[a], 0) / (hours[a] +
  STEP_OVERHEAD_HOURS)``, divided by its max over the educator's candidates (allowed, not
  excluded, some target unmastered; the hard gate does not change the scale), 0 when that max
  is 0; so ``goal`` is in [0, 1] for every candidate. The overhead makes a step cost a month's
  slot as well as its hours, so a cheap activity that barely moves a goal does not win.

``score[a] = wt.need*need + wt.readiness*readiness + wt.gain*gain + wt.goal*goal - wt.cost*cost``
with ``wt`` a :class:`ScoreWeights`.

Filters (never proposed): activities ``completed``, ``in_progress`` or ``declined``; formats or
modalities outside the request; activities whose every target is mastered
(``p >= mastery_threshold``); activities longer than ``max_hours``. By default a weak
prerequisite only lowers the score (``readiness``, and ``gate`` in ``goal``). With
``hard_gate=True`` (opt-in) an activity is dropped when any of its **unmastered** targets
(``p < mastery_threshold``) has a direct prerequisite with ``p < gate_threshold``. Targets
already mastered are exempt: the activity is not teaching them, and inconsistent estimates there
should not hide it. So the guarantee is: no proposed (unpinned) activity has an unmastered target
with a direct prerequisite below ``gate_threshold``.

Selection
---------
Greedy, ``k`` steps. Before each step a candidate's score is reduced by
``diversity_penalty * n`` where ``n`` is how many already-picked activities share its primary
target (its highest-weight target, ties by id), when ``diversify`` is on. The best remaining
candidate whose hours fit the remaining budget is taken (so the *sum* of hours of the list stays
within ``max_hours``); ties go to the smallest ``activity_id``. Penalties only grow, so the
returned scores (the ones used for ordering) are non-increasing down the list.

Pinned activities (a coach override) come first, in pin order, when *feasible*: in the catalog,
not completed, in progress or declined, of an allowed format and modality, and within the
remaining hour budget. A pin overrides the engine's own judgement (score, hard gate, mastered
targets) but not those hard constraints; pinned ids not in the catalog are ignored. Pinned items
carry ``pinned=True`` and their (diversity-adjusted) score; the non-increasing guarantee is for
the unpinned items that follow them.

:func:`rank_batch` computes all of this as ``educators x activities`` numpy arrays (targets and
prerequisites gathered through padded index arrays, one column per competency plus a sentinel);
only the top-k loop (over ``k``) is in Python. :func:`rank_activities` runs the same code on one
row, so the two agree exactly.

Everything that depends only on the graph, the catalog and the gains (the index arrays, titles,
prerequisite and ancestor maps) is a :class:`RankingIndex`, built by :func:`prepare`. A server
builds it once per model load and passes it as ``index=``; without it each call builds its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from scipy.special import expit

from recommender.catalog import FORMATS, MODALITIES, Catalog
from recommender.errors import UnknownCompetencyError
from recommender.graph import DEFAULT_THRESHOLD, check_ids

__all__ = [
    "LOGITS_PER_GAIN",
    "READINESS_FLOOR",
    "READINESS_SLOPE",
    "STEP_OVERHEAD_HOURS",
    "MISSING_UNCERTAINTY",
    "EducatorContext",
    "Recommendation",
    "RankingIndex",
    "RankingRequest",
    "ScoreWeights",
    "prepare",
    "rank_activities",
    "rank_batch",
    "target_gains",
]

MISSING_UNCERTAINTY = 0.5
"""Uncertainty reported for a competency absent from the mastery table (the largest possible
standard deviation of a probability)."""

LOGITS_PER_GAIN = 4.0
"""Logits of skill per unit of gain in P(mastery): the slope of the logit at P = 0.5."""

READINESS_FLOOR = 0.25
"""Share of a gain that sticks when no direct prerequisite is mastered."""

READINESS_SLOPE = 2.0
"""Sharpness (per logit of a prerequisite's mastery) of the readiness the goal term assumes."""

STEP_OVERHEAD_HOURS = 10.0
"""Hours each activity costs beyond its own: a month's slot of the educator's attention."""

_P_CLIP = 0.01
_THETA_MASTERED = 20.0

_N_CONTRIBUTIONS = 5


# --------------------------------------------------------------------------- request objects


def _bad(owner: str, name: str, value: Any, expected: str) -> ValueError:
    return ValueError(f"{owner}.{name} must be {expected}; got {value!r}.")


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | np.integer | np.floating) and not isinstance(x, bool)


@dataclass(frozen=True)
class ScoreWeights:
    """Weights of the score parts (see the module docstring).

    Parameters
    ----------
    need : float, default=1.0
        Weight of ``need`` (weighted mean of ``1 - p`` over targets, in [0, 1]).
    readiness : float, default=0.5
        Weight of ``readiness`` (weighted mean of the weakest prerequisite's mastery, in [0, 1]).
    gain : float, default=3.0
        Weight of the expected, headroom-discounted gain (typically 0.02 to 0.3).
    cost : float, default=0.15
        Weight of ``log1p(hours)``, subtracted (2 h: 0.16, 8 h: 0.33, 80 h: 0.66).
    goal : float, default=2.0
        Weight of goal progress (in [0, 1]: the educator's best goal step per hour has 1).

    All must be finite and >= 0.
    """

    need: float = 1.0
    readiness: float = 0.5
    gain: float = 3.0
    cost: float = 0.15
    goal: float = 2.0

    def __post_init__(self) -> None:
        for name in ("need", "readiness", "gain", "cost", "goal"):
            v = getattr(self, name)
            if not _is_number(v) or not math.isfinite(v) or v < 0:
                raise _bad("ScoreWeights", name, v, "a finite number >= 0")


def _str_tuple(owner: str, name: str, value: Any, allowed: tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        value = (value,)
    try:
        items = tuple(value)
    except TypeError:
        raise _bad(owner, name, value, f"None or a collection of {list(allowed)}") from None
    unknown = [v for v in items if v not in allowed]
    if unknown or not items:
        hint = f" ({unknown} unknown)" if unknown else ""
        raise _bad(owner, name, value, f"None or a non-empty collection of {list(allowed)}{hint}")
    return items


@dataclass(frozen=True)
class RankingRequest:
    """Constraints of one ranking request, checked on construction.

    Parameters
    ----------
    k : int, default=5
        Maximum number of activities returned (>= 1).
    max_hours : float or None, default=None
        Hour budget for the *whole* list (> 0); None for no budget.
    formats, modalities : tuple of str or None, default=None
        Allowed formats (:data:`recommender.catalog.FORMATS`) and modalities
        (:data:`recommender.catalog.MODALITIES`); None allows all. A single string or any
        collection is accepted and stored as a tuple.
    hard_gate : bool, default=False
        Drop activities with an unmastered target whose direct prerequisite is below
        ``gate_threshold`` (never propose an activity the educator is not ready for). Off by
        default: the score already discounts weak prerequisites (``readiness`` and the ``gate``
        of the goal term), and in the policy simulator the gate, which drops an activity for *any*
        of its targets, left about a third of the educators with no eligible step toward their
        goal.
    gate_threshold : float, default=0.5
        In [0, 1].
    mastery_threshold : float, default=DEFAULT_THRESHOLD (0.7)
        In (0, 1]; at or above it a competency counts as mastered.
    diversify : bool, default=True
        Penalize picks that share a primary target with earlier picks.
    diversity_penalty : float, default=0.3
        Score subtracted per earlier pick sharing the primary target (>= 0).
    weights : ScoreWeights, default=ScoreWeights()

    Raises
    ------
    ValueError
        Naming the field, the value received and what is expected.
    """

    k: int = 5
    max_hours: float | None = None
    formats: tuple[str, ...] | None = None
    modalities: tuple[str, ...] | None = None
    hard_gate: bool = False
    gate_threshold: float = 0.5
    mastery_threshold: float = DEFAULT_THRESHOLD
    diversify: bool = True
    diversity_penalty: float = 0.3
    weights: ScoreWeights = field(default_factory=ScoreWeights)

    def __post_init__(self) -> None:
        own = "RankingRequest"
        if not isinstance(self.k, int | np.integer) or isinstance(self.k, bool) or self.k < 1:
            raise _bad(own, "k", self.k, "an integer >= 1")
        mh = self.max_hours
        if mh is not None and (not _is_number(mh) or not math.isfinite(mh) or mh <= 0):
            raise _bad(own, "max_hours", mh, "None or a finite number of hours > 0")
        if self.formats is not None:
            object.__setattr__(self, "formats", _str_tuple(own, "formats", self.formats, FORMATS))
        if self.modalities is not None:
            object.__setattr__(
                self, "modalities", _str_tuple(own, "modalities", self.modalities, MODALITIES)
            )
        for name in ("hard_gate", "diversify"):
            if not isinstance(getattr(self, name), bool | np.bool_):
                raise _bad(own, name, getattr(self, name), "True or False")
        g = self.gate_threshold
        if not _is_number(g) or not 0 <= g <= 1:
            raise _bad(own, "gate_threshold", g, "a number in [0, 1]")
        m = self.mastery_threshold
        if not _is_number(m) or not 0 < m <= 1:
            raise _bad(own, "mastery_threshold", m, "a number in (0, 1]")
        d = self.diversity_penalty
        if not _is_number(d) or not math.isfinite(d) or d < 0:
            raise _bad(own, "diversity_penalty", d, "a finite number >= 0")
        if not isinstance(self.weights, ScoreWeights):
            raise _bad(own, "weights", self.weights, "a ScoreWeights")


@dataclass(frozen=True)
class EducatorContext:
    """What the engine knows about an educator besides mastery.

    Parameters
    ----------
    goals : tuple of str
        Goal competency ids, most important first.
    completed, declined, in_progress : frozenset of str
        Activity ids never proposed again (declined: the caller decides how recent counts).
    pinned : tuple of str
        Activity ids a coach pinned, in the order they should come.

    Any iterable is accepted and stored as the documented type; a single string counts as one
    id.
    """

    goals: tuple[str, ...] = ()
    completed: frozenset[str] = frozenset()
    declined: frozenset[str] = frozenset()
    in_progress: frozenset[str] = frozenset()
    pinned: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name, kind in (("goals", tuple), ("completed", frozenset), ("declined", frozenset),
                           ("in_progress", frozenset), ("pinned", tuple)):
            v = getattr(self, name)
            if isinstance(v, str):
                v = (v,)
            try:
                items = [str(x) for x in v]
            except TypeError:
                raise _bad("EducatorContext", name, v, "a collection of ids") from None
            if kind is tuple:
                items = list(dict.fromkeys(items))  # drop repeats, keep order
            object.__setattr__(self, name, kind(items))

    @property
    def excluded(self) -> frozenset[str]:
        """Activities that are never proposed: completed, declined or in progress."""
        return self.completed | self.declined | self.in_progress


@dataclass(frozen=True)
class Recommendation:
    """One ranked activity and why.

    ``reason`` is one sentence a coach can read. ``explanation`` holds: ``targets`` (list of
    ``{competency_id, name, p_mastery, uncertainty, weight, gain}``), ``ready_because`` (direct
    prerequisites of unmastered targets at or above ``gate_threshold``: ``{competency_id, name,
    p_mastery}``), ``prerequisite_gaps`` (those below it; only possible without the hard gate or
    for a pin), ``evidence_ids`` (from this educator's table only), ``top_contributions`` (``{
    competency_id, feature, value}``), ``expected_gain``, ``goal`` (the goal id it serves or
    None), ``model_version`` and ``score_parts`` (``need, readiness, gain, cost, goal,
    diversity_penalty``; ``score`` equals the weighted parts minus the penalty).
    """

    activity_id: str
    title: str
    format: str
    hours: float
    score: float
    reason: str
    explanation: dict
    pinned: bool = False


# --------------------------------------------------------------------------- preparation


@dataclass(frozen=True, eq=False)
class RankingIndex:
    """The graph, the catalog and the gains as arrays and lookup maps; built by :func:`prepare`.

    Independent of the educator and of the request, so one index serves every ranking call with
    the same graph, catalog and gains (a server builds one per model load). It keeps references
    to the three objects it was built from: :func:`rank_activities` and :func:`rank_batch` refuse
    an index built from other ones. Its arrays are read-only; treat the graph and the catalog as
    immutable once indexed (build a new index after changing them).
    """

    graph: nx.DiGraph
    catalog: Catalog
    gains: pd.DataFrame | None
    competencies: pd.Index  # C ids, sorted
    activity_ids: np.ndarray  # A ids, sorted
    activity_index: pd.Index  # the same ids, for lookups
    activity_pos: Mapping[str, int]  # activity id -> row (dict lookups beat an Index's for a few ids)
    competency_pos: Mapping[str, int]  # competency id -> column
    tidx: np.ndarray  # (A, K) target column, C = sentinel (padding)
    tw: np.ndarray  # (A, K) weights, 0 for padding
    tgain: np.ndarray  # (A, K) g[a, c], 0 for padding
    wsum: np.ndarray  # (A,)
    primary: np.ndarray  # (A,) column of the primary target
    hours: np.ndarray  # (A,)
    formats: np.ndarray  # (A,) format of each activity
    modalities: np.ndarray  # (A,) modality of each activity
    has_targets: np.ndarray  # (A,) bool: an activity without targets is never proposed
    pidx: np.ndarray  # (C + 1, D) direct prerequisite columns, C = sentinel
    n_prereq: np.ndarray  # (C + 1,) number of direct prerequisites (0 for the sentinel)
    gain_logits: np.ndarray  # (A, C + 1) LOGITS_PER_GAIN * g[a, c]
    goal_rate: np.ndarray  # (C + 1,) best gain_logits[a, c] / (hours[a] + overhead) over a
    titles: Mapping[str, str]  # activity id -> title
    names: Mapping[str, str]  # competency id -> name
    predecessors: Mapping[str, tuple[str, ...]]  # competency id -> direct prerequisites
    ancestor_sets: Mapping[str, frozenset[str]]  # competency id -> all its prerequisites

    def allowed(self, request: RankingRequest) -> np.ndarray:
        """(A,) bool: of an allowed format and modality, and with at least one target."""
        mask = self.has_targets.copy()
        if request.formats is not None:
            mask &= np.isin(self.formats, request.formats)
        if request.modalities is not None:
            mask &= np.isin(self.modalities, request.modalities)
        return mask

    def check(self, graph: nx.DiGraph, catalog: Catalog, gains: pd.DataFrame | None) -> None:
        """Raise ValueError unless this index was built from these very objects.

        ``gains=None`` is accepted for an index built with gains: the index carries them.
        """
        wrong = [name for name, mine, given in (("graph", self.graph, graph),
                                                 ("catalog", self.catalog, catalog))
                 if mine is not given]
        if gains is not None and gains is not self.gains:
            wrong.append("gains")
        if wrong:
            raise ValueError(
                f"index was built from another {' and '.join(wrong)} than the one passed; build "
                "it with prepare(graph, catalog, gains) from the objects you rank with")


def target_gains(catalog: Catalog, gains: pd.DataFrame | None = None) -> pd.DataFrame:
    """Catalog targets with the expected gain ``g`` of each (activity, competency) pair.

    ``g`` is ``gains["gain_mean"]`` where ``gains`` (indexed by ``(activity_id,
    competency_id)``, or with those two columns) has a finite value for the pair, else the
    catalog prior ``expected_gain * weight``.

    Returns
    -------
    DataFrame
        Columns ``activity_id, competency_id, weight, gain``, one row per target.
    """
    t = catalog.targets
    prior = catalog.activities["expected_gain"].reindex(t["activity_id"]).to_numpy(float)
    g = prior * t["weight"].to_numpy(float)
    if gains is not None:
        if not isinstance(gains, pd.DataFrame) or "gain_mean" not in gains.columns:
            raise ValueError(
                "gains must be a DataFrame with a 'gain_mean' column, indexed by "
                f"(activity_id, competency_id) or with those columns; got {type(gains).__name__}"
                + (f" with columns {list(gains.columns)}" if isinstance(gains, pd.DataFrame)
                   else "")
            )
        frame = gains
        if {"activity_id", "competency_id"} <= set(frame.columns):
            frame = frame.set_index(["activity_id", "competency_id"])
        if frame.index.nlevels != 2:
            raise ValueError("gains must be indexed by (activity_id, competency_id)")
        if frame.index.has_duplicates:
            dup = frame.index[frame.index.duplicated()].unique().tolist()[:5]
            raise ValueError(f"gains has duplicate (activity_id, competency_id) pairs: {dup}")
        learned = pd.to_numeric(frame["gain_mean"], errors="coerce").astype(float)
        looked = learned.reindex(pd.MultiIndex.from_arrays(
            [t["activity_id"].to_numpy(object), t["competency_id"].to_numpy(object)]
        )).to_numpy(float)
        ok = np.isfinite(looked)
        g = np.where(ok, looked, g)
    return pd.DataFrame({
        "activity_id": t["activity_id"].to_numpy(object),
        "competency_id": t["competency_id"].to_numpy(object),
        "weight": t["weight"].to_numpy(float),
        "gain": g,
    })


def prepare(graph: nx.DiGraph, catalog: Catalog, gains: pd.DataFrame | None = None
            ) -> RankingIndex:
    """Index the graph, the catalog and the gains for ranking (see :class:`RankingIndex`).

    Raises
    ------
    UnknownCompetencyError
        A catalog target is not in ``graph``.
    ValueError
        ``gains`` is malformed (see :func:`target_gains`).
    """
    comps = pd.Index(sorted(graph.nodes), dtype=object)
    n_c = len(comps)
    acts = catalog.activities.sort_index()
    aids = acts.index.to_numpy(dtype=object)
    tg = target_gains(catalog, gains)
    col = comps.get_indexer(tg["competency_id"])
    if (col < 0).any():
        raise UnknownCompetencyError(sorted(set(tg["competency_id"][col < 0])),
                                     graph.graph.get("name"))
    row = pd.Index(aids).get_indexer(tg["activity_id"])
    # order targets per activity: weight desc, then competency id (so slot 0 is the primary)
    order = np.lexsort((col, -tg["weight"].to_numpy(float), row))
    row, col = row[order], col[order]
    w, g = tg["weight"].to_numpy(float)[order], tg["gain"].to_numpy(float)[order]
    n_a = len(aids)
    slot = np.zeros(len(row), dtype=np.int64)
    if len(row):
        starts = np.r_[0, np.flatnonzero(np.diff(row)) + 1]
        slot = np.arange(len(row)) - np.repeat(starts, np.diff(np.r_[starts, len(row)]))
    n_k = int(slot.max()) + 1 if len(slot) else 1
    tidx = np.full((n_a, n_k), n_c, dtype=np.int64)
    tw = np.zeros((n_a, n_k))
    tgain = np.zeros((n_a, n_k))
    tidx[row, slot], tw[row, slot], tgain[row, slot] = col, w, g
    wsum = tw.sum(axis=1)
    pos = {c: j for j, c in enumerate(comps)}
    preds = [sorted(pos[q] for q in graph.predecessors(c)) for c in comps]
    n_d = max((len(p) for p in preds), default=0)
    pidx = np.full((n_c + 1, max(n_d, 1)), n_c, dtype=np.int64)
    for j, p in enumerate(preds):
        pidx[j, : len(p)] = p
    ancestor_sets = {c: frozenset(nx.ancestors(graph, c)) for c in comps}
    hours = acts["hours"].to_numpy(float).copy()
    gain_logits = np.zeros((n_a, n_c + 1))
    np.add.at(gain_logits, (row, col), LOGITS_PER_GAIN * g)
    goal_rate = (gain_logits / (hours + STEP_OVERHEAD_HOURS)[:, None]).max(axis=0, initial=0.0)
    arrays = {
        "tidx": tidx, "tw": tw, "tgain": tgain, "wsum": np.where(wsum > 0, wsum, 1.0),
        "primary": tidx[:, 0].copy(), "hours": hours,
        "formats": acts["format"].astype(str).to_numpy(object),
        "modalities": acts["modality"].astype(str).to_numpy(object),
        "has_targets": wsum > 0, "pidx": pidx,
        "n_prereq": np.r_[[len(p) for p in preds], 0], "gain_logits": gain_logits,
        "goal_rate": goal_rate,
    }
    for a in arrays.values():
        a.flags.writeable = False
    return RankingIndex(
        graph=graph, catalog=catalog, gains=gains, competencies=comps, activity_ids=aids,
        activity_index=pd.Index(aids, dtype=object), competency_pos=pos,
        activity_pos={a: i for i, a in enumerate(aids.tolist())},
        titles=dict(zip(aids.tolist(), acts["title"].astype(str).tolist(), strict=True)),
        names={c: str(graph.nodes[c].get("name", c)) for c in comps},
        predecessors={c: tuple(graph.predecessors(c)) for c in comps},
        ancestor_sets=ancestor_sets, **arrays,
    )


@dataclass(frozen=True, eq=False)
class _Scores:
    score: np.ndarray  # (E, A) undiversified score
    eligible: np.ndarray  # (E, A) may be proposed on its merits
    feasible: np.ndarray  # (E, A) passes the hard constraints (for pins)
    parts: dict[str, np.ndarray]  # (E, A) each


def _score(arr: RankingIndex, p: np.ndarray, goal_mask: np.ndarray, excluded: np.ndarray,
           request: RankingRequest) -> _Scores:
    """Score matrix for mastery ``p`` (E, C), goals (E, C) bool, exclusions (E, A) bool.

    Loops run over prerequisite slots and target slots (at most a few), never over educators;
    every sum is taken slot by slot in a fixed order, so a row's result does not depend on how
    many other rows there are (this is what makes :func:`rank_batch` agree exactly with
    :func:`rank_activities`).
    """
    n_e, n_c = p.shape
    thr = request.mastery_threshold
    pe = np.concatenate([p, np.ones((n_e, 1))], axis=1)  # sentinel column: mastered, p = 1
    # weakest direct prerequisite of each competency (sentinel-only rows give 1)
    r_c = np.take(pe, arr.pidx[:, 0], axis=1)
    for d in range(1, arr.pidx.shape[1]):
        np.minimum(r_c, np.take(pe, arr.pidx[:, d], axis=1), out=r_c)
    unmastered = pe < thr
    unmastered[:, n_c] = False
    blocked = unmastered & (r_c < request.gate_threshold)

    shape = (n_e, len(arr.activity_ids))
    need, readiness, gain = (np.zeros(shape) for _ in range(3))
    any_open = np.zeros(shape, dtype=bool)
    gated = np.zeros(shape, dtype=bool)
    tmp = np.empty(shape)
    for kk in range(arr.tidx.shape[1]):
        col, w = arr.tidx[:, kk], arr.tw[:, kk]
        headroom = np.take(pe, col, axis=1)  # C-ordered, unlike pe[:, col]
        np.subtract(1.0, headroom, out=headroom)
        need += np.multiply(headroom, w, out=tmp)
        gain += np.multiply(headroom, arr.tgain[:, kk], out=tmp)
        r = np.take(r_c, col, axis=1)
        readiness += np.multiply(r, w, out=r)
        any_open |= np.take(unmastered, col, axis=1)
        gated |= np.take(blocked, col, axis=1)
    need /= arr.wsum
    readiness /= arr.wsum
    cost = np.broadcast_to(np.log1p(arr.hours), shape)
    feasible = arr.allowed(request)[None, :] & ~excluded
    eligible = feasible & any_open
    # goal hours saved per hour invested, relative to this educator's best candidate
    goal = np.maximum(_goal_progress(arr, p, goal_mask, thr), 0.0)
    goal /= arr.hours + STEP_OVERHEAD_HOURS
    best = np.where(eligible, goal, 0.0).max(axis=1, initial=0.0, keepdims=True)
    np.divide(goal, best, out=goal, where=best > 0)
    goal[(best <= 0)[:, 0]] = 0.0
    wt = request.weights
    score = (wt.need * need + wt.readiness * readiness + wt.gain * gain + wt.goal * goal
             - wt.cost * cost)

    if request.hard_gate:
        eligible &= ~gated
    parts = {"need": need, "readiness": readiness, "gain": gain, "cost": cost, "goal": goal}
    return _Scores(score, eligible, feasible, parts)


def _goal_progress(arr: RankingIndex, p: np.ndarray, goal_mask: np.ndarray,
                   threshold: float) -> np.ndarray:
    """(E, A) expected hours to the goals saved by doing each activity next (module docstring).

    One loop over the competencies that are somebody's goal (and, inside, over that goal's
    direct prerequisites), vectorized over the educators who hold it and over activities.
    """
    n_e, n_c = p.shape
    theta = np.empty((n_e, n_c + 1))
    np.clip(p, _P_CLIP, 1.0 - _P_CLIP, out=theta[:, :n_c])
    theta[:, :n_c] = np.log(theta[:, :n_c] / (1.0 - theta[:, :n_c]))
    theta[:, n_c] = _THETA_MASTERED  # sentinel: a mastered prerequisite
    gate = _gate(arr, theta)
    target = math.log(threshold / (1.0 - threshold)) if threshold < 1 else _THETA_MASTERED
    saved = np.zeros((n_e, len(arr.activity_ids)))
    for j in np.flatnonzero(goal_mask.any(axis=0) & (arr.goal_rate[:n_c] > 0)):
        rows = np.flatnonzero(goal_mask[:, j] & (theta[:, j] < target))
        if not len(rows):
            continue
        th, gt = theta[rows], gate[rows]
        rate = arr.goal_rate[j]
        before = (target - th[:, j]) / (rate * gt[:, j])
        # the activity's gain on the goal itself, then on each direct prerequisite (its gate)
        th_j = th[:, j, None] + np.outer(gt[:, j], arr.gain_logits[:, j])
        prereqs = [q for q in arr.pidx[j] if q < n_c]
        if prereqs:
            ready = np.zeros((len(rows), len(arr.activity_ids)))
            for q in prereqs:
                th_q = th[:, q, None] + np.outer(gt[:, q], arr.gain_logits[:, q])
                ready += expit(READINESS_SLOPE * th_q)
            gate_j = READINESS_FLOOR + (1.0 - READINESS_FLOOR) * ready / len(prereqs)
        else:
            gate_j = 1.0
        after = np.maximum(target - th_j, 0.0) / (rate * gate_j)
        saved[rows] += before[:, None] - after
    return saved


def _gate(arr: RankingIndex, theta: np.ndarray) -> np.ndarray:
    """(E, C + 1) share of a gain that sticks given the direct prerequisites' mastery."""
    ready = expit(READINESS_SLOPE * theta)
    total = np.zeros_like(theta)
    for d in range(arr.pidx.shape[1]):
        total += np.take(ready, arr.pidx[:, d], axis=1) * (arr.pidx[:, d] < theta.shape[1] - 1)
    n = arr.n_prereq
    return np.where(n > 0, READINESS_FLOOR + (1 - READINESS_FLOOR) * total / np.maximum(n, 1),
                    1.0)


@dataclass(frozen=True, eq=False)
class _Picks:
    idx: np.ndarray  # (E, k) activity index, -1 = none
    score: np.ndarray  # (E, k)
    penalty: np.ndarray  # (E, k)
    pinned: np.ndarray  # (E, k) bool


def _select(arr: RankingIndex, s: _Scores, pin_rank: np.ndarray, request: RankingRequest) -> _Picks:
    """Greedy diversified top-k under the hour budget; the loop runs over k, not educators."""
    n_e, n_a = s.score.shape
    k = request.k
    rows = np.arange(n_e)
    used = np.zeros(n_e)
    budget = None if request.max_hours is None else float(request.max_hours)
    masked = np.where(s.eligible, s.score, -np.inf)  # taken items become -inf too
    pins = np.where(s.feasible, pin_rank, 0.0) if pin_rank.any() else None
    shared = np.zeros((n_e, len(arr.competencies) + 1))
    out_i = np.full((n_e, k), -1, dtype=np.int64)
    out_s = np.full((n_e, k), np.nan)
    out_p = np.zeros((n_e, k))
    out_pin = np.zeros((n_e, k), dtype=bool)
    step_penalty = request.diversity_penalty if request.diversify else 0.0
    for step in range(k):
        over = None if budget is None else (used[:, None] + arr.hours) > budget
        key = (masked - step_penalty * np.take(shared, arr.primary, axis=1) if step_penalty
               else masked)
        if over is not None:
            key = np.where(over, -np.inf, key)
        choice = np.argmax(key, axis=1)  # the first maximum: ties go to the smallest id
        has = key[rows, choice] > -np.inf
        has_pin = np.zeros(n_e, dtype=bool)
        if pins is not None:
            pin_key = pins if over is None else np.where(over, 0.0, pins)
            pin_choice = np.argmax(pin_key, axis=1)
            has_pin = pin_key[rows, pin_choice] > 0
            choice = np.where(has_pin, pin_choice, choice)
        ok = has | has_pin
        if not ok.any():
            break
        r, a = rows[ok], choice[ok]
        penalty = step_penalty * shared[r, arr.primary[a]]
        out_i[r, step] = a
        out_s[r, step] = s.score[r, a] - penalty  # == key[r, a] for unpinned picks
        out_p[r, step] = penalty
        out_pin[r, step] = has_pin[ok]
        masked[r, a] = -np.inf
        if pins is not None:
            pins[r, a] = 0.0
        used[r] = used[r] + arr.hours[a]
        shared[r, arr.primary[a]] += 1.0
    return _Picks(out_i, out_s, out_p, out_pin)


# --------------------------------------------------------------------------- input parsing


@dataclass(frozen=True, eq=False)
class _Table:
    """One educator's mastery table as plain maps."""

    p: dict[str, float]
    uncertainty: dict[str, float | None]
    n_evidence: dict[str, int]
    evidence_ids: dict[str, list[str]]
    contributions: dict[str, list]


def _check_p(values: np.ndarray, ids: Callable[[], list] | list, what: str) -> None:
    """Raise naming up to five (id, value) pairs when a probability is not in [0, 1]."""
    bad = ~(np.isfinite(values) & (values >= 0) & (values <= 1))
    if bad.any():
        ids = ids() if callable(ids) else list(ids)
        sample = [(ids[i], float(values[i])) for i in np.flatnonzero(bad)[:5]]
        raise ValueError(f"{what}: p_mastery must be a number in [0, 1]; got (id, value) {sample}")


def _as_list(x: Any) -> list:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return []
    if isinstance(x, str):
        return [x]
    return list(x)


def _read_mastery(graph: nx.DiGraph, mastery: pd.DataFrame | Mapping[str, float]) -> _Table:
    """Validate one educator's mastery table (DataFrame or mapping) and return it as maps."""
    if isinstance(mastery, Mapping):
        check_ids(graph, [str(k) for k in mastery])
        ids = [str(k) for k in mastery]
        vals = np.asarray([mastery[k] for k in mastery], dtype=float)
        _check_p(vals, ids, "mastery")
        return _Table(dict(zip(ids, vals.tolist(), strict=True)), {}, {}, {}, {})
    if not isinstance(mastery, pd.DataFrame):
        raise TypeError(
            "mastery must be a DataFrame indexed by competency_id with a 'p_mastery' column, or "
            f"a mapping competency_id -> p_mastery; got {type(mastery).__name__}"
        )
    frame = mastery
    if "competency_id" in frame.columns:
        frame = frame.set_index("competency_id")
    if "p_mastery" not in frame.columns:
        raise ValueError(
            f"mastery table has no 'p_mastery' column; columns are {list(frame.columns)}"
        )
    ids = [str(i) for i in frame.index]
    if len(set(ids)) != len(ids):
        dup = sorted({i for i in ids if ids.count(i) > 1})
        raise ValueError(f"mastery table has duplicate competency ids: {dup}")
    check_ids(graph, ids)
    p = pd.to_numeric(frame["p_mastery"], errors="coerce").to_numpy(float)
    _check_p(p, ids, "mastery table")
    unc: dict[str, float | None] = {}
    if "uncertainty" in frame.columns:
        u = pd.to_numeric(frame["uncertainty"], errors="coerce").to_numpy(float)
        if (u[np.isfinite(u)] < 0).any():
            raise ValueError("mastery table: uncertainty must be >= 0")
        unc = {i: (float(v) if np.isfinite(v) else None) for i, v in zip(ids, u, strict=True)}
    n_ev: dict[str, int] = {}
    if "n_evidence" in frame.columns:
        n = pd.to_numeric(frame["n_evidence"], errors="coerce").fillna(0).to_numpy()
        n_ev = {i: int(v) for i, v in zip(ids, n, strict=True)}
    ev = {}
    if "evidence_ids" in frame.columns:
        ev = {i: [str(e) for e in _as_list(v)]
              for i, v in zip(ids, frame["evidence_ids"].tolist(), strict=True)}
    con = {}
    if "contributions" in frame.columns:
        con = {i: _as_list(v) for i, v in zip(ids, frame["contributions"].tolist(), strict=True)}
    return _Table(dict(zip(ids, p.tolist(), strict=True)), unc, n_ev, ev, con)


def _check_context(graph: nx.DiGraph, context: EducatorContext) -> None:
    if not isinstance(context, EducatorContext):
        raise TypeError(f"context must be an EducatorContext; got {type(context).__name__}")
    check_ids(graph, context.goals)


def _check_request(request: RankingRequest) -> None:
    if not isinstance(request, RankingRequest):
        raise TypeError(f"request must be a RankingRequest; got {type(request).__name__}")


def _context_arrays(arr: RankingIndex, contexts: list[EducatorContext]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Goal mask (E, C), exclusions (E, A) and pin ranks (E, A) from per-educator contexts.

    This walks the contexts' own (short) id lists once; scoring itself is vectorized.
    """
    n_e, n_c, n_a = len(contexts), len(arr.competencies), len(arr.activity_ids)
    cpos, apos = arr.competency_pos, arr.activity_pos  # dicts: faster than Index lookups here
    g_rows, g_cols, x_rows, x_cols, p_rows, p_cols, p_rank = [], [], [], [], [], [], []
    for e, ctx in enumerate(contexts):
        g_cols += [cpos[g] for g in ctx.goals]  # goals are checked against the graph
        g_rows += [e] * len(ctx.goals)
        # unknown activity ids (e.g. retired activities) exclude and pin nothing
        ex = [apos[a] for a in ctx.excluded if a in apos]
        x_cols += ex
        x_rows += [e] * len(ex)
        for a, r in zip(ctx.pinned, range(len(ctx.pinned), 0, -1), strict=True):
            if a in apos:
                p_rows.append(e)
                p_cols.append(apos[a])
                p_rank.append(r)
    goal_mask = np.zeros((n_e, n_c), dtype=bool)
    goal_mask[g_rows, g_cols] = True
    excluded = np.zeros((n_e, n_a), dtype=bool)
    excluded[x_rows, x_cols] = True
    pin_rank = np.zeros((n_e, n_a))
    pin_rank[p_rows, p_cols] = p_rank
    return goal_mask, excluded, pin_rank


# --------------------------------------------------------------------------- public API


def rank_activities(
    graph: nx.DiGraph,
    catalog: Catalog,
    mastery: pd.DataFrame | Mapping[str, float],
    *,
    context: EducatorContext = EducatorContext(),  # noqa: B008 - frozen, immutable default
    request: RankingRequest = RankingRequest(),  # noqa: B008
    gains: pd.DataFrame | None = None,
    model_version: str | None = None,
    index: RankingIndex | None = None,
) -> list[Recommendation]:
    """Rank the catalog's activities for one educator and explain each pick.

    Parameters
    ----------
    graph : networkx.DiGraph
        The competency framework (edge ``u -> v``: ``u`` is a prerequisite of ``v``).
    catalog : Catalog
        Activities and their targets; every target must be in ``graph``.
    mastery : DataFrame or mapping
        This educator's mastery table (see the module docstring).
    context : EducatorContext
        Goals, completed/declined/in-progress activities and coach pins.
    request : RankingRequest
        ``k``, budget, filters, gate and score weights.
    gains : DataFrame or None
        Learned expected gains, ``gain_mean`` indexed by ``(activity_id, competency_id)``.
    model_version : str or None
        Copied into every explanation.
    index : RankingIndex or None
        ``prepare(graph, catalog, gains)``, built once by a caller that ranks many times (it
        carries the gains, so ``gains`` may then be omitted); None: built for this call.

    Returns
    -------
    list of Recommendation
        At most ``request.k`` items, pinned ones first, then by non-increasing ``score``.

    Raises
    ------
    UnknownCompetencyError
        A competency in ``mastery`` or a goal is not in ``graph``.
    ValueError
        ``mastery`` or ``gains`` is malformed, or ``index`` was built from other objects.
    """
    _check_request(request)
    _check_context(graph, context)
    table = _read_mastery(graph, mastery)
    arr = _index(graph, catalog, gains, index)
    p = np.zeros((1, len(arr.competencies)))
    pos = arr.competency_pos  # the table's ids are checked against the graph already
    p[0, [pos[c] for c in table.p]] = list(table.p.values())
    goal_mask, excluded, pin_rank = _context_arrays(arr, [context])
    s = _score(arr, p, goal_mask, excluded, request)
    picks = _select(arr, s, pin_rank, request)
    out = []
    for j in range(request.k):
        a = int(picks.idx[0, j])
        if a < 0:
            break
        out.append(_explain(arr, table, context, request, s, a,
                            float(picks.score[0, j]), float(picks.penalty[0, j]),
                            bool(picks.pinned[0, j]), model_version))
    return out


def rank_batch(
    graph: nx.DiGraph,
    catalog: Catalog,
    mastery_long: pd.DataFrame,
    *,
    contexts: Mapping[Any, EducatorContext] | None = None,
    request: RankingRequest = RankingRequest(),  # noqa: B008
    gains: pd.DataFrame | None = None,
    index: RankingIndex | None = None,
) -> pd.DataFrame:
    """Rank activities for many educators at once (no explanations).

    Parameters
    ----------
    mastery_long : DataFrame
        Columns ``educator_id, competency_id, p_mastery`` (``uncertainty`` and ``n_evidence``
        may be present and are not needed for scoring); one row per (educator, competency).
    contexts : mapping educator_id -> EducatorContext, optional
        Educators in ``contexts`` but not in ``mastery_long`` are ranked from a cold start
        (every competency at 0).
    request, gains, index
        As in :func:`rank_activities`.

    Returns
    -------
    DataFrame
        ``educator_id, rank, activity_id, score``, sorted by educator id then rank (1-based);
        for each educator the same activities, in the same order and with the same scores, as
        :func:`rank_activities`.
    """
    _check_request(request)
    if not isinstance(mastery_long, pd.DataFrame):
        raise TypeError(f"mastery_long must be a DataFrame; got {type(mastery_long).__name__}")
    missing = [c for c in ("educator_id", "competency_id", "p_mastery")
               if c not in mastery_long.columns]
    if missing:
        raise ValueError(f"mastery_long is missing column(s) {missing}; "
                         f"columns are {list(mastery_long.columns)}")
    contexts = dict(contexts or {})
    for ctx in contexts.values():
        _check_context(graph, ctx)
    arr = _index(graph, catalog, gains, index)
    n_c = len(arr.competencies)

    ed_codes, ed_uniques = pd.factorize(mastery_long["educator_id"], sort=True)
    if (ed_codes < 0).any():
        raise ValueError("mastery_long: educator_id must not be missing")
    known = set(ed_uniques)
    extra = [e for e in contexts if e not in known]
    educators = pd.Index(ed_uniques, dtype=object)
    if extra:
        educators = educators.append(pd.Index(extra, dtype=object)).sort_values()
    row = educators.get_indexer(ed_uniques)[ed_codes]
    c_codes, c_uniques = pd.factorize(mastery_long["competency_id"])
    c_map = arr.competencies.get_indexer(pd.Index(c_uniques, dtype=object))
    if (c_codes < 0).any() or (c_map < 0).any():
        bad = sorted({str(c) for c, j in zip(c_uniques, c_map, strict=True) if j < 0}
                     | ({"<missing>"} if (c_codes < 0).any() else set()))
        raise UnknownCompetencyError(bad, graph.graph.get("name"))
    col = c_map[c_codes]
    pvals = pd.to_numeric(mastery_long["p_mastery"], errors="coerce").to_numpy(float)

    def pair_ids() -> list[tuple[str, str]]:
        return [(str(educators[r]), str(arr.competencies[c])) for r, c in zip(row, col,
                                                                               strict=True)]

    _check_p(pvals, pair_ids, "mastery_long")
    pair = row.astype(np.int64) * n_c + col
    counts = np.bincount(pair, minlength=len(educators) * n_c)
    if (counts > 1).any():
        dup = np.isin(pair, np.flatnonzero(counts > 1))
        ids = pair_ids()
        sample = sorted({ids[i] for i in np.flatnonzero(dup)})[:5]
        raise ValueError(f"mastery_long has duplicate (educator_id, competency_id) rows: {sample}")
    p = np.zeros((len(educators), n_c))
    p[row, col] = pvals

    ctx_list = [contexts.get(e, _EMPTY_CONTEXT) for e in educators]
    goal_mask, excluded, pin_rank = _context_arrays(arr, ctx_list)
    s = _score(arr, p, goal_mask, excluded, request)
    picks = _select(arr, s, pin_rank, request)
    ok = picks.idx >= 0
    e_idx, r_idx = np.nonzero(ok)
    return pd.DataFrame({
        "educator_id": educators.to_numpy(dtype=object)[e_idx],
        "rank": r_idx + 1,
        "activity_id": arr.activity_ids[picks.idx[ok]],
        "score": picks.score[ok],
    })


_EMPTY_CONTEXT = EducatorContext()


def _index(graph: nx.DiGraph, catalog: Catalog, gains: pd.DataFrame | None,
           index: RankingIndex | None) -> RankingIndex:
    if index is None:
        return prepare(graph, catalog, gains)
    if not isinstance(index, RankingIndex):
        raise TypeError(f"index must be a RankingIndex (from prepare()); got "
                        f"{type(index).__name__}")
    index.check(graph, catalog, gains)
    return index


# --------------------------------------------------------------------------- explanations


def _mastery_text(table: _Table, c: str) -> str:
    if c not in table.p:
        return "not yet assessed"
    u = table.uncertainty.get(c)
    return f"mastery {table.p[c]:.2f}" + (f" ± {u:.2f}" if u is not None else "")


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _explain(arr: RankingIndex, table: _Table, context: EducatorContext,
             request: RankingRequest, s: _Scores, a: int, score: float, penalty: float,
             pinned: bool, model_version: str | None) -> Recommendation:
    aid = str(arr.activity_ids[a])
    names, preds = arr.names, arr.predecessors
    thr, gate = request.mastery_threshold, request.gate_threshold
    comps = arr.competencies
    p_of = lambda c: float(table.p.get(c, 0.0))  # noqa: E731

    targets = []
    for kk in range(arr.tidx.shape[1]):
        j = int(arr.tidx[a, kk])
        if j == len(comps):
            continue
        c = comps[j]
        unc = table.uncertainty.get(c) if c in table.p else MISSING_UNCERTAINTY
        targets.append({"competency_id": c, "name": names[c], "p_mastery": p_of(c),
                        "uncertainty": unc, "weight": float(arr.tw[a, kk]),
                        "gain": float(arr.tgain[a, kk])})
    unmastered = [t for t in targets if t["p_mastery"] < thr]
    lead = sorted(unmastered or targets,
                  key=lambda t: (-t["weight"] * (1 - t["p_mastery"]), -t["weight"],
                                 t["competency_id"]))[0]

    ready, gaps, seen = [], [], set()
    for t in sorted(unmastered, key=lambda t: t is not lead):  # the lead's prerequisites first
        for q in sorted(preds[t["competency_id"]], key=lambda q: (-p_of(q), q)):
            if q in seen:
                continue
            seen.add(q)
            item = {"competency_id": q, "name": names[q], "p_mastery": p_of(q)}
            (ready if p_of(q) >= gate else gaps).append(item)

    open_targets = [t["competency_id"] for t in sorted(unmastered, key=lambda t: -t["weight"])]
    goal_id, goal_is_target = None, False
    for gl in context.goals:  # a target that is itself a goal first, in the goals' order
        if gl in open_targets:
            goal_id, goal_is_target = gl, True
            break
    if goal_id is None:
        for gl in context.goals:
            ancestors = arr.ancestor_sets[gl]
            if any(c in ancestors for c in open_targets):
                goal_id = gl
                break

    cited = [t["competency_id"] for t in targets] + [r["competency_id"] for r in ready]
    evidence_ids = list(dict.fromkeys(e for c in cited for e in table.evidence_ids.get(c, [])))
    contribs = []
    for t in targets:
        c = t["competency_id"]
        for item in table.contributions.get(c, []):
            feat, val = (item[0], item[1]) if not isinstance(item, Mapping) else (
                item.get("feature"), item.get("value"))
            contribs.append({"competency_id": c, "feature": str(feat), "value": float(val)})
    contribs.sort(key=lambda d: -abs(d["value"]))
    contribs = contribs[:_N_CONTRIBUTIONS]

    parts = {k: float(v[0, a]) for k, v in s.parts.items()}
    parts["diversity_penalty"] = penalty
    gain_total = parts["gain"]
    hours = float(arr.hours[a])

    # the reason: one sentence
    lc = lead["competency_id"]
    text = f"Builds {lead['name']} ({_mastery_text(table, lc)})"
    lead_preds = set(preds[lc])
    lead_ready = [r for r in ready if r["competency_id"] in lead_preds][:2]
    lead_gaps = [r for r in gaps if r["competency_id"] in lead_preds][:2]
    if lead_ready:
        text += ", which you are ready for since " + _join(
            [f"{r['name']} is at {r['p_mastery']:.2f}" for r in lead_ready])
    if lead_gaps:
        text += ", although " + _join(
            [f"{r['name']} is only at {r['p_mastery']:.2f}" for r in lead_gaps])
    if goal_id is not None:
        gname = names[goal_id]
        text += (f", and is your goal {gname}" if goal_is_target
                 else f", and leads toward your goal {gname}")
    text += f"; {hours:g} h, expected gain +{gain_total:.2f}."
    if pinned:
        text = "Pinned by your coach: " + text[0].lower() + text[1:]

    explanation = {
        "targets": targets,
        "ready_because": ready,
        "prerequisite_gaps": gaps,
        "evidence_ids": evidence_ids,
        "top_contributions": contribs,
        "expected_gain": gain_total,
        "goal": goal_id,
        "model_version": model_version,
        "score_parts": parts,
    }
    return Recommendation(activity_id=aid, title=arr.titles[aid], format=str(arr.formats[a]),
                          hours=hours, score=score, reason=text, explanation=explanation,
                          pinned=pinned)
