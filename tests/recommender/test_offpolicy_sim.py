"""The simulator check end to end on a small population: estimates finite, propensities in
(0, 1], the truth inside the interval on an easy setup (the candidate is the logging ranker's
own greedy choice, full support)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from recommender.catalog import default_catalog
from recommender.exploration import ExplorationPolicy
from recommender.graph import default_framework
from recommender.offpolicy_sim import ope_run


@pytest.fixture(scope="module")
def content():
    graph = default_framework("educator")
    return graph, default_catalog(graph)


def test_greedy_candidate_is_estimated_within_its_interval(content):
    graph, catalog = content
    runs = ope_run(graph, catalog, n_educators=150, seed=7,
                   exploration=ExplorationPolicy("epsilon", epsilon=0.3),
                   candidates=("engine-no-model", "random"), pool=6)
    run = runs["engine-no-model"]
    assert run.support == 1.0 and 0 < run.min_propensity <= 1
    assert all(math.isfinite(e.value) and e.low <= e.high for e in run.estimates)
    assert all(run.covered().values())
    assert run.truth > 0 and math.isfinite(run.logging_truth)
    # a random candidate mostly picks activities the logging policy never shows first
    assert runs["random"].support < 0.5


def test_the_same_seed_gives_the_same_run(content):
    graph, catalog = content
    kw = {"n_educators": 60, "seed": 3, "exploration": ExplorationPolicy("softmax",
                                                                         temperature=0.3)}
    a = ope_run(graph, catalog, **kw)["engine"]
    b = ope_run(graph, catalog, **kw)["engine"]
    assert [e.value for e in a.estimates] == [e.value for e in b.estimates]
    assert a.truth == b.truth and np.isfinite(a.ess)


def test_refuses_no_exploration_and_unknown_candidates(content):
    graph, catalog = content
    with pytest.raises(ValueError, match="exploration must explore"):
        ope_run(graph, catalog, n_educators=10, seed=0, exploration=ExplorationPolicy())
    with pytest.raises(ValueError, match=r"candidates must be among .*\['best'\]"):
        ope_run(graph, catalog, n_educators=10, seed=0,
                exploration=ExplorationPolicy("epsilon"), candidates=("best",))
