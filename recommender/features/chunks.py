"""Chunks of whole learners: training frames built in bounded memory.

The ``graph_anc_*`` and ``graph_desc_*`` columns expand every record into one (record,
neighbour) pair per ancestor and per descendant of its competency
(:func:`recommender.features.graph.columns`), and a build holds about ten arrays of that length
at once. A framework learned from data with many skills (Statics2011: 1,223) has long
prerequisite chains, so a competency has hundreds of ancestors and descendants, and one build
over all records peaks at records x (competencies in the chain): memory that grows with skills
times responses rather than with responses.

A learner's features read only that learner's earlier records (and completions and profile) and
what the builder learned at ``fit``, so a training frame built over chunks of whole learners and
put back in record order is the same frame, value for value, with a peak set by the pair budget
of a chunk instead of by the whole evidence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from recommender.features.graph import Neighbourhood

__all__ = ["DEFAULT_MAX_PAIRS", "check_max_pairs", "learner_chunks", "pairs_per_competency"]

DEFAULT_MAX_PAIRS = 4_000_000
"""(record, ancestor-or-descendant) pairs per build: about 0.4 GB of temporaries."""


def check_max_pairs(max_pairs) -> int | None:
    """``max_pairs`` as an int (None: no chunking), or a ValueError naming it."""
    if max_pairs is None:
        return None
    if isinstance(max_pairs, bool) or not isinstance(max_pairs, (int, np.integer)) \
            or max_pairs < 1:
        raise ValueError(f"max_pairs must be a positive number of pairs or None; got {max_pairs!r}")
    return int(max_pairs)


def pairs_per_competency(ancestors: Neighbourhood, descendants: Neighbourhood) -> np.ndarray:
    """Per competency code, the pairs a record on it expands into: its ancestors and descendants,
    plus one (the record itself)."""
    return np.diff(ancestors[0]) + np.diff(descendants[0]) + 1


def learner_chunks(learners: np.ndarray, pairs: np.ndarray, max_pairs: int) -> np.ndarray:
    """Per record, its chunk: learners in id order, a chunk taking those that start within its
    budget of ``max_pairs`` pairs (so it may end up to one learner's pairs above it); ``pairs``
    holds each record's pairs."""
    codes, _ = pd.factorize(learners, sort=True)
    per_learner = np.bincount(codes, weights=pairs).astype(np.int64)
    starts = np.cumsum(per_learner) - per_learner
    return (starts // max_pairs)[codes]
