"""Tests of the policy simulation: the comparison table, its metric and its determinism."""

import numpy as np
import pandas as pd
import pytest

from recommender.catalog import default_catalog
from recommender.evaluation import (
    HOURS_PER_STEP,
    METRICS,
    restricted_mean_hours,
    simulate_policies,
)
from recommender.graph import default_framework


@pytest.fixture(scope="module")
def content():
    graph = default_framework("educator")
    return graph, default_catalog(graph)


@pytest.fixture(scope="module")
def table(content):
    graph, catalog = content
    return simulate_policies(graph, catalog, ["random", "pathway-rule", "engine"],
                             n_educators=150, steps=12, random_state=0, n_boot=300)


def test_table_has_the_expected_columns(table):
    expected = ["policy"]
    for m in METRICS:
        expected += [m, f"{m}_ci_low", f"{m}_ci_high"]
    expected += ["total_hours", "n_educators", "steps", "hours_budget"]
    assert list(table.columns) == expected
    assert (table["hours_budget"] == HOURS_PER_STEP * 12).all()
    assert list(table["policy"]) == ["random", "pathway-rule", "engine"]
    for m in METRICS:
        ok = table[m].notna()
        assert (table.loc[ok, f"{m}_ci_low"] <= table.loc[ok, m] + 1e-12).all()
        assert (table.loc[ok, m] <= table.loc[ok, f"{m}_ci_high"] + 1e-12).all()
    assert np.isfinite(table["gain_per_hour"]).all()


def test_graph_policies_beat_random(table):
    t = table.set_index("policy")
    for policy in ("pathway-rule", "engine"):
        assert t.loc[policy, "share_mastered"] > t.loc["random", "share_mastered"]
        assert t.loc[policy, "hours_to_goal"] < t.loc["random", "hours_to_goal"]
    assert t.loc["pathway-rule", "gain_per_hour"] > t.loc["random", "gain_per_hour"]


def test_restricted_mean_hours_counts_non_reachers_at_the_budget():
    reached = np.array([True, True, False, True, False])
    hours = np.array([10.0, 200.0, np.nan, 0.0, 5.0])  # 200 h > budget; NaN/5 h: never reached
    # 10, capped 100, budget, 0 (mastered at the start), budget (few hours, but no goal)
    assert restricted_mean_hours(reached, hours, 100.0) == pytest.approx(310 / 5)
    # rows are resamples: one value per row
    hours2 = np.array([10.0, 200.0, 30.0, 0.0, 5.0])
    both = restricted_mean_hours(np.stack([reached, ~reached]), np.stack([hours, hours2]), 100.0)
    np.testing.assert_allclose(both, [310 / 5, (100 + 100 + 30 + 100 + 5) / 5])
    # a policy that gets nobody there scores the budget, however few hours it spent
    assert restricted_mean_hours(np.zeros(3, bool), np.zeros(3), 50.0) == 50.0
    with pytest.raises(ValueError, match="budget"):
        restricted_mean_hours(reached, hours, 0.0)


def test_deterministic_for_a_seed(content):
    graph, catalog = content
    kw = dict(n_educators=40, steps=3, random_state=3, n_boot=50)
    a = simulate_policies(graph, catalog, ["popular", "weakest-first", "oracle"], **kw)
    b = simulate_policies(graph, catalog, ["popular", "weakest-first", "oracle"], **kw)
    pd.testing.assert_frame_equal(a, b)


def test_unknown_policy_is_named(content):
    graph, catalog = content
    with pytest.raises(ValueError, match="nope"):
        simulate_policies(graph, catalog, ["nope"], n_educators=5, steps=1)
