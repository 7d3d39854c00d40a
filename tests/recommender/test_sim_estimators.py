"""Tests of the simulator's evidence estimators (smoothed share, graph-shrunk share)."""

import pandas as pd
import pytest

from recommender.graph import default_framework
from recommender.sim_estimators import graph_mastery, smoothed_mastery


def test_smoothed_and_graph_estimators():
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
    g = graph_mastery(graph)(ev)
    assert len(g) == graph.number_of_nodes()
    assert g["p_mastery"].between(0, 1).all()
