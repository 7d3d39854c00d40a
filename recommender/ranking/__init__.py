"""Next-activity ranking: score every catalog activity for an educator, pick a diversified top-k.

The package re-exports its public names; each module is one concept:

- :mod:`~recommender.ranking.params`: every tuning value in one documented object,
  :class:`RankerParams` (score weights, diversity penalty, goal-model constants), and
  :data:`DEFAULT_RANKER_PARAMS`;
- :mod:`~recommender.ranking.requests`: what a call is asked (:class:`RankingRequest`,
  :class:`EducatorContext`);
- :mod:`~recommender.ranking.mastery`: reading mastery tables (one educator, or a long frame);
- :mod:`~recommender.ranking.index`: the prepared :class:`RankingIndex` (graph, catalog, gains
  and params as arrays) and :func:`target_gains`;
- :mod:`~recommender.ranking.scoring`: need, readiness, gain, cost and goal progress, the
  filters and the hard gate;
- :mod:`~recommender.ranking.selection`: the diversified top-k under an hour budget, pins first;
- :mod:`~recommender.ranking.rank`: :func:`rank_activities` and :func:`rank_batch`;
- what a call answers, :class:`Recommendation` with its explanation, lives beside the package
  in :mod:`recommender.explain` (the ranker calls it; it imports nothing of the ranker).
"""

from recommender.explain import Recommendation
from recommender.ranking.index import RankingIndex, prepare, target_gains
from recommender.ranking.params import (
    COLD_START_P,
    DEFAULT_RANKER_PARAMS,
    RankerParams,
    ScoreWeights,
)
from recommender.ranking.rank import rank_activities, rank_batch
from recommender.ranking.requests import EducatorContext, RankingRequest

__all__ = [
    "COLD_START_P",
    "DEFAULT_RANKER_PARAMS",
    "EducatorContext",
    "Recommendation",
    "RankingIndex",
    "RankingRequest",
    "RankerParams",
    "ScoreWeights",
    "prepare",
    "rank_activities",
    "rank_batch",
    "target_gains",
]
