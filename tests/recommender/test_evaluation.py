"""Tests of the policy simulation: the comparison table, its metric, common random numbers and
the paired differences."""

import numpy as np
import pandas as pd
import pytest

from recommender.catalog import default_catalog
from recommender.evaluation import (
    HOURS_PER_STEP,
    METRICS,
    Outcomes,
    compare_outcomes,
    restricted_mean_hours,
    run_policy,
    simulate_policies,
)
from recommender.graph import default_framework
from recommender.policies import PolicySetup
from recommender.sim_estimators import smoothed_mastery
from recommender.simulate import catalog_arrays, initial_population


@pytest.fixture(scope="module")
def content():
    graph = default_framework("educator")
    return graph, default_catalog(graph)


@pytest.fixture(scope="module")
def table(content):
    graph, catalog = content
    return simulate_policies(graph, catalog, ["random", "pathway-rule", "engine"],
                             n_educators=150, steps=12, random_state=0, n_boot=300,
                             reference="pathway-rule")


def test_table_has_the_expected_columns(table):
    expected = ["policy"]
    for m in METRICS:
        expected += [m, f"{m}_ci_low", f"{m}_ci_high"]
    for m in METRICS:
        expected += [f"d_{m}", f"d_{m}_ci_low", f"d_{m}_ci_high"]
    expected += ["reference", "total_hours", "n_educators", "steps", "hours_budget"]
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


def test_paired_differences_are_policy_minus_reference(table):
    t = table.set_index("policy")
    assert (t["reference"] == "pathway-rule").all()
    for m in METRICS:
        np.testing.assert_allclose(t[f"d_{m}"], t[m] - t.loc["pathway-rule", m], atol=1e-12)
    # the reference against itself: exactly zero, and so is every paired resample
    ref = t.loc["pathway-rule"]
    for m in METRICS:
        assert (ref[f"d_{m}"], ref[f"d_{m}_ci_low"], ref[f"d_{m}_ci_high"]) == (0.0, 0.0, 0.0)
    # the engine and random differ on the same educators: the interval excludes zero
    assert t.loc["random", "d_hours_to_goal_ci_low"] > 0


def test_a_policy_against_itself_has_the_interval_zero_zero():
    rng = np.random.default_rng(0)
    n = 50
    r = Outcomes(reached=rng.random(n) < 0.5, hours_at_goal=rng.uniform(0, 40, n),
                 hours=rng.uniform(1, 60, n), gained=rng.random(n))
    boot = rng.integers(0, n, (200, n))
    table = compare_outcomes({"a": r, "b": r}, hours_budget=30.0, boot_idx=boot, steps=5,
                             reference="a").set_index("policy")
    for m in METRICS:
        assert (table.loc["b", [f"d_{m}", f"d_{m}_ci_low", f"d_{m}_ci_high"]] == 0.0).all()
        assert table.loc["b", f"{m}_ci_high"] > table.loc["b", f"{m}_ci_low"]  # not degenerate


def test_without_the_reference_the_paired_columns_are_empty(content):
    graph, catalog = content
    kw = dict(n_educators=20, steps=2, random_state=0, n_boot=20)
    t = simulate_policies(graph, catalog, ["random"], **kw)  # default engine-no-model: absent
    assert t["reference"].isna().all() and t["d_hours_to_goal"].isna().all()
    with pytest.raises(ValueError, match="unknown reference policy 'nope'.*pathway-rule"):
        simulate_policies(graph, catalog, ["random"], reference="nope", **kw)


class _Scripted:
    """A test policy: each educator's fixed preference order over activities (first open one),
    or nothing for educators marked idle; it records the truth and evidence it was shown."""

    name = "scripted"

    def __init__(self, score: np.ndarray, idle: np.ndarray):
        self.score, self.idle = score, idle
        self.theta: list[np.ndarray] = []
        self.evidence: pd.DataFrame | None = None

    def choose(self, state):
        self.theta.append(state.population.theta.copy())
        self.evidence = state.evidence
        score = np.where(state.completed, -np.inf, self.score)
        pick = np.argmax(score, axis=1)
        return np.where(self.idle | state.completed.all(axis=1), -1, pick)


@pytest.fixture(scope="module")
def setup(content):
    graph, catalog = content
    pop = initial_population(graph, 60, random_state=4)
    return PolicySetup(graph=graph, catalog=catalog, population=pop,
                       activities=catalog_arrays(catalog, pop.competencies), k=3,
                       estimate=smoothed_mastery, gains=None, seed=5)


def _run(policy, setup):
    return run_policy(policy, setup, steps=6, p_accept=0.7, n_random_readings=3)


def test_an_educator_recommended_the_same_activities_has_the_same_trajectory(setup):
    """Common random numbers: what happens to an educator depends on their own recommendations
    only, not on what the policy does for the others or how much randomness that takes."""
    n, n_a = setup.population.n_educators, len(setup.activities)
    base = np.random.default_rng(1).random((n, n_a))
    other = base.copy()
    kind = np.arange(n) % 4  # under the second policy 1: another order, 3: nothing at all
    other[kind == 1] = base[kind == 1][:, ::-1]
    a, b = _Scripted(base, np.zeros(n, bool)), _Scripted(other, kind == 3)
    ra, rb = _run(a, setup), _run(b, setup)
    same = kind % 2 == 0
    for field in ("reached", "hours_at_goal", "hours", "gained", "goal_gained"):
        np.testing.assert_array_equal(getattr(ra, field)[same], getattr(rb, field)[same])
    for theta_a, theta_b in zip(a.theta, b.theta, strict=True):
        np.testing.assert_array_equal(theta_a[same], theta_b[same])
    ids = setup.population.educator_ids[same]
    evidence = [p.evidence[p.evidence["educator_id"].isin(ids)].drop(columns="evidence_id")
                .sort_values(["educator_id", "observed_at", "source", "competency_id"])
                .reset_index(drop=True) for p in (a, b)]
    pd.testing.assert_frame_equal(*evidence)  # assessments of the same activities included
    assert (evidence[0]["source"] == "activity_assessment").any()
    assert not np.array_equal(ra.hours[~same], rb.hours[~same])  # the others did differ


def test_an_idle_educator_meets_the_same_evidence_noise_under_every_policy(setup):
    n, n_a = setup.population.n_educators, len(setup.activities)
    order = np.random.default_rng(2).random((n, n_a))
    idle_all = _Scripted(order, np.ones(n, bool))
    first_half_idle = _Scripted(order, np.arange(n) < n // 2)
    _run(idle_all, setup)
    _run(first_half_idle, setup)
    ids = setup.population.educator_ids[: n // 2]
    columns = ["educator_id", "competency_id", "source", "score_norm", "observed_at"]

    def rows(p):
        ev = p.evidence[p.evidence["educator_id"].isin(ids)]
        return ev[columns].reset_index(drop=True)

    pd.testing.assert_frame_equal(rows(idle_all), rows(first_half_idle))
    # every educator's random observations read the same competencies, busy or not
    observed = [p.evidence.loc[p.evidence["source"] == "observation",
                               ["educator_id", "competency_id", "observed_at"]]
                .reset_index(drop=True) for p in (idle_all, first_half_idle)]
    pd.testing.assert_frame_equal(*observed)
