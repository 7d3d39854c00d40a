"""Tests of the simulator's policies: the registry, the pathway rule, the engine's inputs."""

import numpy as np
import pandas as pd
import pytest

from recommender.catalog import default_catalog
from recommender.estimate import MasteryEstimator
from recommender.evaluation import simulate_policies
from recommender.graph import default_framework
from recommender.pathway import plan_pathway
from recommender.policies import POLICIES, PathwayRule
from recommender.ranking import EducatorContext, RankingRequest, target_gains
from recommender.sim_estimators import engine_estimate, smoothed_mastery
from recommender.simulate import catalog_arrays


@pytest.fixture(scope="module")
def content():
    graph = default_framework("educator")
    return graph, default_catalog(graph)


def test_the_registry_names_each_policy_by_its_own_name():
    assert list(POLICIES) == ["random", "popular", "weakest-first", "pathway-rule",
                              "engine-no-model", "engine", "oracle"]
    assert all(factory.name == name for name, factory in POLICIES.items())
    assert "graph-rule" not in POLICIES  # that name is the API's fallback estimator


def test_pathway_rule_takes_the_first_step_of_the_pathway(content):
    """The vectorized rule picks what plan_pathway would plan first, for every educator."""
    graph, catalog = content
    comps = sorted(graph)
    acts = catalog_arrays(catalog, comps)
    rule = PathwayRule(graph, comps, acts, 0.5)
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


def test_engine_uses_the_given_gains_and_only_the_engine(content):
    graph, catalog = content
    kw = dict(n_educators=40, steps=4, random_state=2, n_boot=50)
    policies = ["pathway-rule", "engine-no-model", "engine"]
    base = simulate_policies(graph, catalog, policies, **kw)
    prior = target_gains(catalog).rename(columns={"gain": "gain_mean"})
    same = simulate_policies(graph, catalog, policies, gains=prior, **kw)
    pd.testing.assert_frame_equal(base, same)  # prior means as "learned" gains: same table
    skewed = prior.assign(gain_mean=np.where(prior["activity_id"] == prior["activity_id"].iloc[0],
                                             5.0, 0.0))
    other = simulate_policies(graph, catalog, policies, gains=skewed, **kw).set_index("policy")
    base = base.set_index("policy")
    pd.testing.assert_series_equal(other.loc["pathway-rule"], base.loc["pathway-rule"])
    pd.testing.assert_series_equal(other.loc["engine-no-model"], base.loc["engine-no-model"])
    assert other.loc["engine", "total_hours"] != base.loc["engine", "total_hours"]


def test_engine_policy_runs_on_a_trained_mastery_model(content):
    """The engine policy with the engine's own model: predictions feed the ranker each step."""
    from recommender.evidence import validate_evidence
    from recommender.features import FeatureBuilder
    from recommender.models import LightGBMMastery
    from recommender.models.predictor import MasteryPredictor
    from recommender.simulate import generate

    graph, catalog = content
    data = generate(graph, catalog, n_educators=200, months=6, random_state=3)
    ev = validate_evidence(data.evidence, competencies=list(graph),
                           now=pd.Timestamp("2100-01-01", tz="UTC")).valid
    builder = FeatureBuilder(graph, catalog=catalog).fit(ev)
    X, y = builder.training_frame(ev)
    predictor = MasteryPredictor(builder, LightGBMMastery(n_estimators=30).fit(X, y), "tiny")
    estimate = engine_estimate(MasteryEstimator(graph, catalog, predictor=predictor))
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


def test_simulated_observations_name_their_evaluator_and_the_engine_learns_severity_once(content):
    graph, catalog = content
    seen = []

    def estimate(evidence, completions=None, educators=None, severity=None):
        seen.append((evidence, severity))
        return smoothed_mastery(evidence)

    simulate_policies(graph, catalog, ["engine"], n_educators=60, steps=3, random_state=3,
                      estimate=estimate, n_boot=20)
    evidence, severity = seen[-1]
    rated = evidence["rater_id"].notna()
    assert rated[evidence["source"] == "observation"].all()
    assert not rated[evidence["source"] != "observation"].any()
    # the severity table is fitted on the first step's evidence and kept: one object, every
    # rater of the intake in it
    assert all(s is seen[0][1] for _, s in seen)
    assert set(severity.index) == set(seen[0][0]["rater_id"].dropna())
    assert np.isfinite(severity.to_numpy()).all()
