"""Next-activity ranking: score every catalog activity for an educator, pick a diversified top-k.

The package re-exports its public names; each module is one concept:

- :mod:`~recommender.ranking.params`: the tuning values (score weights, goal-model constants);
- :mod:`~recommender.ranking.requests`: what a call is asked (:class:`RankingRequest`,
  :class:`EducatorContext`);
- :mod:`~recommender.ranking.mastery`: reading mastery tables (one educator, or a long frame);
- :mod:`~recommender.ranking.index`: the prepared :class:`RankingIndex` (graph, catalog and
  gains as arrays) and :func:`target_gains`;
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
    LOGITS_PER_GAIN,
    MISSING_UNCERTAINTY,
    READINESS_FLOOR,
    READINESS_SLOPE,
    STEP_OVERHEAD_HOURS,
    ScoreWeights,
)
from recommender.ranking.rank import rank_activities, rank_batch
from recommender.ranking.requests import EducatorContext, RankingRequest

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
