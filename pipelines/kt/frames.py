"""Feature frames of the benchmark in bounded memory: one builder call per chunk of learners.

The feature builder's ``graph_anc_*`` and ``graph_desc_*`` columns expand every record into one
(record, neighbour) pair per ancestor and per descendant of its skill
(:func:`recommender.features.graph.columns`), and hold about ten arrays of that length at once.
A skill graph learned from data with many skills (Statics2011: 1,223) has long prerequisite
chains, so a skill has hundreds of ancestors and descendants, and one call over all records
peaks at records x (skills in the chain): memory that grows with skills times responses rather
than with responses.

A learner's features read only that learner's earlier records and what the builder learned at
``fit``, so building the frame over chunks of whole learners and putting the rows back in the
builder's order (time, then ``evidence_id``) gives the same frame, value for value
(``tests/pipelines/test_kt_frames.py``), with a peak set by ``max_pairs`` pairs per call instead
of by the whole file.
"""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd

from recommender.features import FeatureBuilder

__all__ = ["DEFAULT_MAX_PAIRS", "graph_pairs", "training_frame"]

DEFAULT_MAX_PAIRS = 4_000_000
"""(record, ancestor-or-descendant) pairs per builder call: about 0.4 GB of temporaries."""


def graph_pairs(graph: nx.DiGraph, skills: pd.Series) -> np.ndarray:
    """Per record, how many (record, neighbour) pairs the builder expands it into: its skill's
    ancestors and descendants, plus one (the record itself)."""
    reach = {c: len(nx.ancestors(graph, c)) + len(nx.descendants(graph, c)) + 1 for c in graph}
    return skills.map(reach).to_numpy(dtype=np.int64)


def training_frame(builder: FeatureBuilder, evidence: pd.DataFrame, graph: nx.DiGraph, *,
                   max_pairs: int | None = DEFAULT_MAX_PAIRS) -> tuple[pd.DataFrame, np.ndarray]:
    """``builder.training_frame(evidence)``, built over chunks of whole learners (in id order)
    of about ``max_pairs`` pairs each: a chunk takes the learners that start within its budget,
    so it may end up to one learner's pairs above it. ``None``: one call."""
    if max_pairs is not None and int(max_pairs) < 1:
        raise ValueError(f"max_pairs must be a positive number of pairs or None; got {max_pairs!r}")
    learners = evidence["educator_id"].to_numpy()
    if max_pairs is None or len(evidence) == 0:
        return builder.training_frame(evidence)
    per_learner = pd.Series(graph_pairs(graph, evidence["competency_id"])).groupby(
        learners, sort=True).sum()
    ends = per_learner.cumsum().to_numpy()
    # a learner's chunk: how many budgets were filled before the learner started
    chunk_of = pd.Series((ends - per_learner.to_numpy()) // int(max_pairs), index=per_learner.index)
    chunk = chunk_of.reindex(learners).to_numpy()
    if chunk.max() == chunk.min():
        return builder.training_frame(evidence)
    parts = [builder.training_frame(evidence[chunk == k]) for k in np.unique(chunk)]
    X = pd.concat([p[0] for p in parts], ignore_index=True)
    y = np.concatenate([p[1] for p in parts])
    # the builder's row order over the whole evidence: time, then evidence_id
    ordered = evidence.sort_values(["observed_at", "evidence_id"], kind="stable")["evidence_id"]
    at = pd.Index(X["evidence_id"]).get_indexer(ordered.to_numpy())
    return X.take(at).reset_index(drop=True), y[at]
