"""The prepared ranking index: the graph, the catalog, the gains and the ranker params as
arrays, built once.

Everything that depends only on the graph, the catalog, the gains and the
:class:`~recommender.ranking.params.RankerParams` (target and prerequisite index arrays, the
goal model's gains in logits, titles, prerequisite and ancestor maps) is a
:class:`RankingIndex`, built by :func:`prepare`. A server builds it once per model load and
passes it as ``index=``; without it each ranking call builds its own. Targets and prerequisites
are gathered through padded index arrays with one column per competency plus a sentinel (index
``C``: a mastered, target-less column), so scoring never loops over educators.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.errors import UnknownCompetencyError
from recommender.ranking.checks import check_built_from
from recommender.ranking.params import RankerParams, check_params
from recommender.ranking.requests import RankingRequest

__all__ = ["RankingIndex", "prepare", "resolve_index", "target_gains"]


@dataclass(frozen=True, eq=False)
class RankingIndex:
    """The graph, the catalog and the gains as arrays and lookup maps; built by :func:`prepare`.

    Independent of the educator and of the request, so one index serves every ranking call with
    the same graph, catalog, gains and ranker params (a server builds one per model load). It
    keeps references to the objects it was built from and the params it was built with:
    :func:`~recommender.ranking.rank_activities` and :func:`~recommender.ranking.rank_batch`
    refuse an index built from other ones, and rank with its params. Its arrays are read-only;
    treat the graph and the catalog as immutable once indexed (build a new index after changing
    them).
    """

    graph: nx.DiGraph
    catalog: Catalog
    gains: pd.DataFrame | None
    params: RankerParams
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
    gain_logits: np.ndarray  # (A, C + 1) params.logits_per_gain * g[a, c]
    goal_rate: np.ndarray  # (C + 1,) best gain_logits[a, c] / (hours[a] + overhead) over a
    titles: Mapping[str, str]  # activity id -> title
    names: Mapping[str, str]  # competency id -> name
    predecessors: Mapping[str, tuple[str, ...]]  # competency id -> direct prerequisites
    ancestor_sets: Mapping[str, frozenset[str]]  # competency id -> all its prerequisites

    def allowed(self, request: RankingRequest) -> np.ndarray:
        """(A,) bool: of an allowed format and modality, and with at least one target.

        The request's formats and modalities are checked against the catalog's vocabularies
        (:attr:`recommender.catalog.Catalog.vocabularies`: a tenant's own words, or the
        defaults): a word outside them raises :class:`~recommender.errors.InvalidInputError`
        naming it and the allowed words.
        """
        mask = self.has_targets.copy()
        vocabularies = self.catalog.vocabularies
        if request.formats is not None:
            mask &= np.isin(self.formats, vocabularies.check("formats", request.formats))
        if request.modalities is not None:
            mask &= np.isin(self.modalities, vocabularies.check("modalities", request.modalities))
        return mask

    def check(self, graph: nx.DiGraph, catalog: Catalog, gains: pd.DataFrame | None,
              params: RankerParams | None = None) -> None:
        """Raise ValueError unless this index was built from these very objects, with equal
        params.

        ``gains=None`` and ``params=None`` are accepted: the index carries its own.
        """
        check_built_from(self, graph, catalog, gains, "prepare(graph, catalog, gains)")
        if params is not None and check_params(params) != self.params:
            mine, given = self.params.to_dict(), params.to_dict()
            differ = {k: (mine[k], given[k]) for k in mine if mine[k] != given[k]}
            raise ValueError(
                f"index was built with other ranker params than the ones passed ((index, "
                f"passed): {differ}); build it with prepare(graph, catalog, gains, "
                "params=params), or pass no params to rank with the index's")


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


def _target_slots(row: np.ndarray, n_a: int, n_c: int, col: np.ndarray, w: np.ndarray,
                  g: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Padded (A, K) target columns, weights and gains from rows sorted by activity."""
    slot = np.zeros(len(row), dtype=np.int64)
    if len(row):
        starts = np.r_[0, np.flatnonzero(np.diff(row)) + 1]
        slot = np.arange(len(row)) - np.repeat(starts, np.diff(np.r_[starts, len(row)]))
    n_k = int(slot.max()) + 1 if len(slot) else 1
    tidx = np.full((n_a, n_k), n_c, dtype=np.int64)
    tw = np.zeros((n_a, n_k))
    tgain = np.zeros((n_a, n_k))
    tidx[row, slot], tw[row, slot], tgain[row, slot] = col, w, g
    return tidx, tw, tgain


def prepare(graph: nx.DiGraph, catalog: Catalog, gains: pd.DataFrame | None = None, *,
            params: RankerParams | None = None) -> RankingIndex:
    """Index the graph, the catalog and the gains for ranking (see :class:`RankingIndex`).

    ``params`` (None: :data:`~recommender.ranking.params.DEFAULT_RANKER_PARAMS`) are the ranker
    params every ranking with this index uses.

    Raises
    ------
    UnknownCompetencyError
        A catalog target is not in ``graph``.
    ValueError
        ``gains`` is malformed (see :func:`target_gains`).
    TypeError
        ``params`` is not a RankerParams.
    """
    params = check_params(params)
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
    g = tg["gain"].to_numpy(float)[order]
    n_a = len(aids)
    tidx, tw, tgain = _target_slots(row, n_a, n_c, col, tg["weight"].to_numpy(float)[order], g)
    wsum = tw.sum(axis=1)
    pos = {c: j for j, c in enumerate(comps)}
    preds = [sorted(pos[q] for q in graph.predecessors(c)) for c in comps]
    n_d = max((len(p) for p in preds), default=0)
    pidx = np.full((n_c + 1, max(n_d, 1)), n_c, dtype=np.int64)
    for j, p in enumerate(preds):
        pidx[j, : len(p)] = p
    hours = acts["hours"].to_numpy(float).copy()
    gain_logits = np.zeros((n_a, n_c + 1))
    np.add.at(gain_logits, (row, col), params.logits_per_gain * g)
    goal_rate = (gain_logits / (hours + params.step_overhead_hours)[:, None]
                 ).max(axis=0, initial=0.0)
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
        graph=graph, catalog=catalog, gains=gains, params=params, competencies=comps,
        activity_ids=aids,
        activity_index=pd.Index(aids, dtype=object), competency_pos=pos,
        activity_pos={a: i for i, a in enumerate(aids.tolist())},
        titles=dict(zip(aids.tolist(), acts["title"].astype(str).tolist(), strict=True)),
        names={c: str(graph.nodes[c].get("name", c)) for c in comps},
        predecessors={c: tuple(graph.predecessors(c)) for c in comps},
        ancestor_sets={c: frozenset(nx.ancestors(graph, c)) for c in comps}, **arrays,
    )


def resolve_index(graph: nx.DiGraph, catalog: Catalog, gains: pd.DataFrame | None,
                  index: RankingIndex | None, params: RankerParams | None) -> RankingIndex:
    """``index`` checked against the objects and params passed, or a new one built from them."""
    if index is None:
        return prepare(graph, catalog, gains, params=params)
    if not isinstance(index, RankingIndex):
        raise TypeError(f"index must be a RankingIndex (from prepare()); got "
                        f"{type(index).__name__}")
    index.check(graph, catalog, gains, params)
    return index
