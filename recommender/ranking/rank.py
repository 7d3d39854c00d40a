"""The ranker's public entry points: :func:`rank_activities` (one educator, explained) and
:func:`rank_batch` (many educators at once, no explanations).

Both read their inputs (:mod:`~recommender.ranking.mastery`), score every activity as
``educators x activities`` numpy arrays (:mod:`~recommender.ranking.scoring`) and pick a
diversified top-k (:mod:`~recommender.ranking.selection`); only the top-k loop (over ``k``) is
in Python. :func:`rank_activities` runs the same code on one row, so the two agree exactly.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.explain import Recommendation, explain_pick
from recommender.ranking.index import RankingIndex, resolve_index
from recommender.ranking.mastery import check_mastery_long, read_mastery, read_mastery_long
from recommender.ranking.params import RankerParams
from recommender.ranking.requests import (
    EducatorContext,
    RankingRequest,
    check_context,
    check_request,
)
from recommender.ranking.scoring import score_activities
from recommender.ranking.selection import select_top_k

__all__ = ["rank_activities", "rank_batch"]

_EMPTY_CONTEXT = EducatorContext()


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
    params: RankerParams | None = None,
) -> list[Recommendation]:
    """Rank the catalog's activities for one educator and explain each pick.

    Parameters
    ----------
    graph : networkx.DiGraph
        The competency framework (edge ``u -> v``: ``u`` is a prerequisite of ``v``).
    catalog : Catalog
        Activities and their targets; every target must be in ``graph``.
    mastery : DataFrame or mapping
        This educator's mastery table (see :mod:`recommender.ranking.mastery`).
    context : EducatorContext
        Goals, completed/declined/in-progress activities, coach pins and the ``available``
        activities (none outside it is proposed, pinned or not). A completed activity is not
        proposed again unless the catalog marks it repeatable and its ``cooldown_days`` have
        passed between the context's ``completed_at`` and ``now``.
    request : RankingRequest
        ``k``, budget, filters and gate.
    gains : DataFrame or None
        Learned expected gains, ``gain_mean`` indexed by ``(activity_id, competency_id)``.
    model_version : str or None
        Copied into every explanation.
    index : RankingIndex or None
        ``prepare(graph, catalog, gains, params=params)``, built once by a caller that ranks
        many times (it carries the gains and the params, so both may then be omitted); None:
        built for this call.
    params : RankerParams or None
        Score weights, diversity penalty and goal-model constants. None: the index's when one
        is given, else :data:`~recommender.ranking.params.DEFAULT_RANKER_PARAMS`.

    Returns
    -------
    list of Recommendation
        At most ``request.k`` items, pinned ones first, then by non-increasing ``score``.

    Raises
    ------
    UnknownCompetencyError
        A competency in ``mastery`` or a goal is not in ``graph``.
    ValueError
        ``mastery`` or ``gains`` is malformed, or ``index`` was built from other objects or
        with other params.
    """
    check_request(request)
    check_context(graph, context)
    arr = resolve_index(graph, catalog, gains, index, params)
    table = read_mastery(graph, mastery, cold=arr.params.cold_start_p)
    p = table.decision_row(arr.competencies, request.mastery_threshold)
    goal_mask, excluded, pin_rank = _context_arrays(arr, [context])
    s = score_activities(arr, p, goal_mask, excluded, request)
    picks = select_top_k(arr, s, pin_rank, request)
    out = []
    for j in range(request.k):
        a = int(picks.idx[0, j])
        if a < 0:
            break
        parts = {k: float(v[0, a]) for k, v in s.parts.items()}
        parts["diversity_penalty"] = float(picks.penalty[0, j])
        out.append(explain_pick(arr, table, context, request, a, parts=parts,
                                score=float(picks.score[0, j]), pinned=bool(picks.pinned[0, j]),
                                model_version=model_version,
                                missing_uncertainty=arr.params.missing_uncertainty))
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
    params: RankerParams | None = None,
) -> pd.DataFrame:
    """Rank activities for many educators at once (no explanations).

    Parameters
    ----------
    mastery_long : DataFrame
        Columns ``educator_id, competency_id, p_mastery`` and optionally ``p_bound`` (the lower
        bound that decides mastered: :mod:`recommender.ranking.mastery`); ``uncertainty`` and
        ``n_evidence`` may be present and are not needed for scoring; one row per (educator,
        competency).
    contexts : mapping educator_id -> EducatorContext, optional
        Educators in ``contexts`` but not in ``mastery_long`` are ranked from a cold start
        (every competency at ``params.cold_start_p``, as a competency missing from
        ``mastery_long``).
    request, gains, index, params
        As in :func:`rank_activities`.

    Returns
    -------
    DataFrame
        ``educator_id, rank, activity_id, score``, sorted by educator id then rank (1-based);
        for each educator the same activities, in the same order and with the same scores, as
        :func:`rank_activities`.
    """
    check_request(request)
    check_mastery_long(mastery_long)
    contexts = dict(contexts or {})
    for ctx in contexts.values():
        check_context(graph, ctx)
    arr = resolve_index(graph, catalog, gains, index, params)
    educators, p = read_mastery_long(graph, arr.competencies, mastery_long, also=contexts,
                                     threshold=request.mastery_threshold,
                                     cold=arr.params.cold_start_p)
    ctx_list = [contexts.get(e, _EMPTY_CONTEXT) for e in educators]
    goal_mask, excluded, pin_rank = _context_arrays(arr, ctx_list)
    s = score_activities(arr, p, goal_mask, excluded, request)
    picks = select_top_k(arr, s, pin_rank, request)
    ok = picks.idx >= 0
    e_idx, r_idx = np.nonzero(ok)
    return pd.DataFrame({
        "educator_id": educators.to_numpy(dtype=object)[e_idx],
        "rank": r_idx + 1,
        "activity_id": arr.activity_ids[picks.idx[ok]],
        "score": picks.score[ok],
    })


def _context_arrays(arr: RankingIndex, contexts: list[EducatorContext]
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Goal mask (E, C), exclusions (E, A) and pin ranks (E, A) from per-educator contexts.

    Excluded: completed (a repeatable activity until its cool-down has passed), declined, in
    progress, and outside the context's ``available``.

    This walks the contexts' own (short) id lists once; scoring itself is vectorized.
    """
    n_e, n_c, n_a = len(contexts), len(arr.competencies), len(arr.activity_ids)
    cpos, apos = arr.competency_pos, arr.activity_pos  # dicts: faster than Index lookups here
    cooldowns = arr.catalog.cooldowns
    g_rows, g_cols, x_rows, x_cols, p_rows, p_cols, p_rank = [], [], [], [], [], [], []
    for e, ctx in enumerate(contexts):
        g_cols += [cpos[g] for g in ctx.goals]  # goals are checked against the graph
        g_rows += [e] * len(ctx.goals)
        # unknown activity ids (e.g. retired activities) exclude and pin nothing
        ex = [apos[a] for a in ctx.closed(cooldowns) if a in apos]
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
    for e, ctx in enumerate(contexts):  # outside ``available``: never proposed, pins included
        if ctx.available is not None:
            excluded[e] = True
            excluded[e, [apos[a] for a in ctx.available if a in apos]] = False
    excluded[x_rows, x_cols] = True
    pin_rank = np.zeros((n_e, n_a))
    pin_rank[p_rows, p_cols] = p_rank
    return goal_mask, excluded, pin_rank
