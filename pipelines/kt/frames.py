"""Feature frames of the knowledge-tracing benchmark in bounded memory.

The chunking itself lives in the feature builder (:mod:`recommender.features.chunks`:
``FeatureBuilder.training_frame(..., max_pairs=...)`` builds over chunks of whole learners of
about ``max_pairs`` (record, ancestor-or-descendant) pairs each and gives the one-call frame,
value for value; ``tests/pipelines/test_kt_frames.py``). This module keeps the benchmark's
names for it: the budget it is configured with and the pair count it reports.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from recommender.features import FeatureBuilder
from recommender.features.chunks import DEFAULT_MAX_PAIRS

__all__ = ["DEFAULT_MAX_PAIRS", "graph_pairs", "training_frame"]


def graph_pairs(graph: nx.DiGraph, skills: pd.Series) -> np.ndarray:
    """Per record, how many (record, neighbour) pairs the builder expands it into: its skill's
    ancestors and descendants, plus one (the record itself)."""
    reach = {c: len(nx.ancestors(graph, c)) + len(nx.descendants(graph, c)) + 1 for c in graph}
    return skills.map(reach).to_numpy(dtype=np.int64)


def training_frame(builder: FeatureBuilder, evidence: pd.DataFrame, graph: nx.DiGraph, *,
                   max_pairs: int | None = DEFAULT_MAX_PAIRS) -> tuple[pd.DataFrame, np.ndarray]:
    """``builder.training_frame(evidence, max_pairs=max_pairs)``: built over chunks of whole
    learners (in id order) of about ``max_pairs`` pairs each; ``None``: one call. ``graph`` is
    the builder's framework (kept for the benchmark's callers)."""
    return builder.training_frame(evidence, max_pairs=max_pairs)
