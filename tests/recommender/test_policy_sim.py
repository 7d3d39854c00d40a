import numpy as np
import pandas as pd
import pytest

from recommender.catalog import default_catalog
from recommender.graph import default_framework
from recommender.pathway import plan_pathway
from recommender.policy_sim import (
    HOURS_PER_STEP,
    METRICS,
    POLICIES,
    _PathwayRule,
    graph_mastery,
    plot_policies,
    restricted_mean_hours,
    simulate_policies,
    smoothed_mastery,
)
from recommender.ranking import EducatorContext, RankingRequest, target_gains
from recommender.simulate import catalog_arrays


@pytest.fixture(scope="module")
def content():
    graph = default_framework("educator")
    return graph, default_catalog(graph)


@pytest.fixture(scope="module")
def table(content):
    graph, catalog = content
    return simulate_policies(graph, catalog, ["random", "graph-rule", "engine"],
                             n_educators=150, steps=12, random_state=0, n_boot=300)


def test_table_has_the_expected_columns(table):
    expected = ["policy"]
    for m in METRICS:
        expected += [m, f"{m}_ci_low", f"{m}_ci_high"]
    expected += ["total_hours", "n_educators", "steps", "hours_budget"]
    assert list(table.columns) == expected
    assert (table["hours_budget"] == HOURS_PER_STEP * 12).all()
    assert list(table["policy"]) == ["random", "graph-rule", "engine"]
    for m in METRICS:
        ok = table[m].notna()
        assert (table.loc[ok, f"{m}_ci_low"] <= table.loc[ok, m] + 1e-12).all()
        assert (table.loc[ok, m] <= table.loc[ok, f"{m}_ci_high"] + 1e-12).all()


def test_graph_policies_beat_random(table):
    t = table.set_index("policy")
    for policy in ("graph-rule", "engine"):
        assert t.loc[policy, "share_mastered"] > t.loc["random", "share_mastered"]
        assert t.loc[policy, "hours_to_goal"] < t.loc["random", "hours_to_goal"]
    assert t.loc["graph-rule", "gain_per_hour"] > t.loc["random", "gain_per_hour"]


def test_graph_rule_takes_the_first_step_of_the_pathway(content):
    """The vectorized rule picks what plan_pathway would plan first, for every educator."""
    graph, catalog = content
    comps = sorted(graph)
    acts = catalog_arrays(catalog, comps)
    rule = _PathwayRule(graph, catalog, comps, acts, 0.5)
    rng = np.random.default_rng(0)
    n = 120
    p = rng.random((n, len(comps)))
    p[:10] = 0.9  # everything looks mastered: the rule keeps practising the goals
    goal_cols = np.stack([rng.integers(0, len(comps), n),
                          np.where(rng.random(n) < 0.5, rng.integers(0, len(comps), n), -1)], 1)
    completed = rng.random((n, len(acts))) < 0.3
    picks = rule(p, goal_cols, completed)
    for e in range(n):
        goals = tuple(dict.fromkeys(comps[j] for j in goal_cols[e] if j >= 0))
        mastery = dict(zip(comps, p[e], strict=True))
        kw = dict(context=EducatorContext(completed=acts.activity_ids[completed[e]]),
                  request=RankingRequest(mastery_threshold=0.5))
        plan = plan_pathway(graph, catalog, mastery, goals, **kw)
        if not plan.steps:  # nothing left to plan: the goals themselves, mastery ignored
            mastery = {c: v for c, v in mastery.items() if c not in goals}
            plan = plan_pathway(graph, catalog, mastery, goals, **kw)
        expected = plan.steps[0].activity_id if plan.steps else None
        assert (acts.activity_ids[picks[e]] if picks[e] >= 0 else None) == expected, e


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


def test_engine_uses_the_given_gains_and_only_the_engine(content):
    graph, catalog = content
    kw = dict(n_educators=40, steps=4, random_state=2, n_boot=50)
    policies = ["graph-rule", "engine-no-model", "engine"]
    base = simulate_policies(graph, catalog, policies, **kw)
    prior = target_gains(catalog).rename(columns={"gain": "gain_mean"})
    same = simulate_policies(graph, catalog, policies, gains=prior, **kw)
    pd.testing.assert_frame_equal(base, same)  # prior means as "learned" gains: same table
    skewed = prior.assign(gain_mean=np.where(prior["activity_id"] == prior["activity_id"].iloc[0],
                                             5.0, 0.0))
    other = simulate_policies(graph, catalog, policies, gains=skewed, **kw).set_index("policy")
    base = base.set_index("policy")
    pd.testing.assert_series_equal(other.loc["graph-rule"], base.loc["graph-rule"])
    pd.testing.assert_series_equal(other.loc["engine-no-model"], base.loc["engine-no-model"])
    assert other.loc["engine", "total_hours"] != base.loc["engine", "total_hours"]


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


def test_estimators_and_plot(content, table, tmp_path):
    graph, _ = content
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
    path = plot_policies(table, tmp_path / "p.png")
    assert path.exists() and path.read_bytes()[:4] == b"\x89PNG"
    assert set(POLICIES) >= set(table["policy"])
    assert np.isfinite(table["gain_per_hour"]).all()


def test_engine_policy_runs_on_a_trained_mastery_model(content):
    """The engine policy with the engine's own model: predictions feed the ranker each step."""
    from recommender.evidence import validate_evidence
    from recommender.features import FeatureBuilder
    from recommender.models import LightGBMMastery
    from recommender.models.predictor import MasteryPredictor
    from recommender.policy_sim import model_mastery
    from recommender.simulate import generate

    graph, catalog = content
    data = generate(graph, catalog, n_educators=200, months=6, random_state=3)
    ev = validate_evidence(data.evidence, competencies=list(graph),
                           now=pd.Timestamp("2100-01-01", tz="UTC")).valid
    builder = FeatureBuilder(graph, catalog=catalog).fit(ev)
    X, y = builder.training_frame(ev)
    predictor = MasteryPredictor(builder, LightGBMMastery(n_estimators=30).fit(X, y), "tiny")
    estimate = model_mastery(predictor)
    table = simulate_policies(graph, catalog, ["random", "engine"], n_educators=60, steps=4,
                              random_state=0, estimate=estimate, n_boot=100)
    assert list(table["policy"]) == ["random", "engine"]
    assert table["gain_per_hour"].notna().all()


def test_the_engine_estimator_gets_completions_and_profiles_as_the_api_passes_them(content):
    graph, catalog = content
    seen = []

    def estimate(evidence, completions=None, educators=None):
        seen.append((len(completions), educators))
        return smoothed_mastery(evidence)

    simulate_policies(graph, catalog, ["engine"], n_educators=30, steps=3, random_state=1,
                      estimate=estimate, n_boot=20)
    assert [n for n, _ in seen][0] == 0 and seen[-1][0] > 0  # completions so far
    profiles = seen[-1][1]
    assert len(profiles) == 30 and {"educator_id", "role", "years_experience"} <= set(profiles)

    calls = []
    simulate_policies(graph, catalog, ["engine"], n_educators=30, steps=2, random_state=1,
                      estimate=lambda ev: calls.append(len(ev)) or smoothed_mastery(ev),
                      n_boot=20)
    assert len(calls) == 2  # an estimator without those parameters gets the evidence only
