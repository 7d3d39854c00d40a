"""Tests of the simulator's evidence estimates (the smoothed share, the engine's adapter)."""

import pandas as pd
import pytest

from recommender.catalog import default_catalog
from recommender.estimate import MasteryEstimator
from recommender.graph import default_framework
from recommender.sim_estimators import engine_estimate, smoothed_mastery


def test_smoothed_share_and_the_engine_adapter():
    graph = default_framework("educator")
    comps = sorted(graph)[:2]
    ev = pd.DataFrame({
        "educator_id": ["e1"] * 3,
        "competency_id": [comps[0]] * 3,
        "proficient": [True, True, False],
        "observed_at": pd.to_datetime(["2025-09-01"] * 3, utc=True),
    })
    s = smoothed_mastery(ev)
    assert s["p_mastery"].iloc[0] == pytest.approx(3 / 5)
    ev = ev.assign(evidence_id=["a", "b", "c"], source="observation")
    g = engine_estimate(MasteryEstimator(graph, default_catalog(graph)))(ev)
    assert len(g) == graph.number_of_nodes()
    assert g["p_mastery"].between(0, 1).all()
    # two proficient records of three lift the first competency above the untouched second
    p = g.set_index("competency_id")["p_mastery"]
    assert p[comps[0]] > p[comps[1]]
