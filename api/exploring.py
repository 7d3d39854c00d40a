"""What a ranked answer shows: the exploration draw over the ranker's list, per request.

The ranker's answer (cached or fresh) is the same for every request at the same
``data_version``; the order actually shown is drawn here, per request and educator, by the
deployment's :class:`~recommender.exploration.ExplorationPolicy` (``PDREC_EXPLORE``), from a
generator that is a function of ``PDREC_EXPLORE_SEED``, the request id and the educator id only
(:func:`recommender.exploration.request_rng`), so any logged draw can be replayed.

Pinned items are a coach's decision: they keep their slots at the front with propensity 1, and
the draw runs over the unpinned rest. With exploration ``off`` the ranker's order is shown and
every propensity is 1; no generator is built. The work is O(k log k) per list.
"""

from __future__ import annotations

from collections.abc import Sequence

from recommender.exploration import ExplorationPolicy, explore, request_rng

__all__ = ["Shown", "draw_shown", "reorder_items"]

Shown = tuple[int, str, float, float, int]
"""``(slot, activity_id, score, propensity, ranker_rank)`` of one shown item."""


def draw_shown(policy: ExplorationPolicy, seed: int, request_id: str, educator_id: str,
               ranked: Sequence[tuple[int, str, float, bool]]) -> list[Shown]:
    """The shown slots of one ranked list ``(rank, activity_id, score, pinned)``, in the ranker's
    order, with each slot's propensity and the item's rank in the ranker's list."""
    if policy.mode == "off" or len(ranked) < 2:
        return [(r, a, s, 1.0, r) for r, a, s, _ in ranked]
    n_pinned = sum(1 for *_, pinned in ranked if pinned)
    free = ranked[n_pinned:]
    order, prop = explore([s for _, _, s, _ in free], policy,
                          request_rng(seed, f"{request_id}/{educator_id}"))
    out: list[Shown] = [(r, a, s, 1.0, r) for r, a, s, _ in ranked[:n_pinned]]
    for slot, (i, p) in enumerate(zip(order, prop, strict=True), start=n_pinned + 1):
        r, a, s, _ = free[i]
        out.append((slot, a, s, float(p), r))
    return out


def reorder_items(items: Sequence[dict], shown: Sequence[Shown]) -> list[dict]:
    """The answer's items (in the ranker's order, ``rank`` from 1) in the shown order, each
    carrying its shown slot as ``rank``."""
    by_rank = {int(item["rank"]): item for item in items}
    return [{**by_rank[ranker_rank], "rank": slot} for slot, _, _, _, ranker_rank in shown]
