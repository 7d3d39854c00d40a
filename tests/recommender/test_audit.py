"""The equity audit (recommender.audit): metrics, ratios, intervals and the flag rule."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.audit_run import recommendation_audit, synthetic_inputs
from recommender import audit
from recommender.catalog import default_catalog
from recommender.evaluation import Outcomes
from recommender.graph import default_framework


@pytest.fixture(scope="module")
def content():
    graph = default_framework()
    return graph, default_catalog(graph)


def _cohort(seed: int, n: int = 240, *, shortfall: float = 1.0) -> tuple[pd.DataFrame,
                                                                          pd.DataFrame]:
    """Per-educator metrics of 4 schools; school D gets ``shortfall`` times the gain per hour
    and high-intensity share of the others, at the same mastery gap."""
    rng = np.random.default_rng(seed)
    school = np.array(list("ABCD"))[np.arange(n) % 4]
    gap = rng.uniform(0.2, 0.8, n)
    scale = np.where(school == "D", shortfall, 1.0)
    values = pd.DataFrame({
        "hours": rng.gamma(4.0, 6.0, n),
        "gain_per_hour": (0.004 + 0.01 * gap) * rng.lognormal(0, 0.3, n) * scale,
        "intensive_share": rng.binomial(3, 0.35 * scale) / 3,
        "mastery_gap": gap,
    }, index=pd.Index([f"E{i}" for i in range(n)], name="educator_id"))
    attrs = pd.DataFrame({"school": school, "role": rng.choice(["t", "c"], n)},
                         index=values.index)
    return values, attrs


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_no_flag_without_a_disparity(seed):
    values, attrs = _cohort(seed)
    report = audit.subgroup_report(values, attrs, n_boot=200, random_state=seed)
    assert not report["flagged"].any(), report.loc[report["flagged"], ["attribute", "value"]]


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000))
def test_a_planted_shortfall_is_flagged_on_its_group_only(seed):
    # 120 educators a school: at 60 the rule missed the planted high-intensity shortfall on
    # about 1 seed in 200 (seed 1774 failed a CI run); at 120, none of 1,113 seeds checked
    values, attrs = _cohort(seed, n=480, shortfall=0.4)
    report = audit.subgroup_report(values, attrs, n_boot=200, random_state=seed)
    flagged = report.loc[report["flagged"], ["attribute", "value"]].values.tolist()
    assert flagged == [["school", "D"]]
    d = report[(report["attribute"] == "school") & (report["value"] == "D")].iloc[0]
    assert set(d["flags"].split(";")) == {"gain_per_hour", "intensive_share"}


def test_a_shortfall_the_mastery_gap_explains_is_not_flagged():
    """School D needs less (a small gap) and gets less gain per hour, as the gap model says."""
    values, attrs = _cohort(0)
    d = (attrs["school"] == "D").to_numpy()
    values.loc[d, "mastery_gap"] = 0.05
    values["gain_per_hour"] = 0.001 + 0.02 * values["mastery_gap"]
    report = audit.subgroup_report(values, attrs, n_boot=200)
    row = report[(report["attribute"] == "school") & (report["value"] == "D")].iloc[0]
    assert row["gain_per_hour_ratio"] < 0.8  # served far less ...
    assert row["gain_per_hour_adjusted"] == pytest.approx(1.0, abs=0.05)  # ... as it needs less
    assert "gain_per_hour" not in row["flags"]


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.3, 1.0))
def test_intervals_contain_the_point_and_the_reference_is_one(seed, shortfall):
    values, attrs = _cohort(seed, n=160, shortfall=shortfall)
    report = audit.subgroup_report(values, attrs, n_boot=300, random_state=seed)
    for m in audit.RECOMMENDATION_METRICS:
        r, lo, hi = (report[f"{m}_{p}"].to_numpy() for p in ("ratio", "lo", "hi"))
        assert np.all((lo <= r + 1e-12) & (r <= hi + 1e-12)), m
        ref = report["value"] == report[f"{m}_reference"]
        assert np.allclose(report.loc[ref, f"{m}_ratio"], 1.0)
    # the groups of one attribute partition the educators
    assert report.groupby("attribute")["n"].sum().eq(len(values)).all()


def test_small_groups_are_marked_and_never_flagged():
    values, attrs = _cohort(1)
    attrs["role"] = np.where(np.arange(len(attrs)) < 5, "rare", "common")
    values.iloc[:5, values.columns.get_loc("gain_per_hour")] = 0.0
    report = audit.subgroup_report(values, attrs, n_boot=100)
    rare = report[report["value"] == "rare"].iloc[0]
    assert rare["small"] and not rare["flagged"]


def test_bad_arguments_name_the_field():
    values, attrs = _cohort(0)
    with pytest.raises(ValueError, match="threshold"):
        audit.subgroup_report(values, attrs, threshold=1.5)
    with pytest.raises(ValueError, match="flag_on"):
        audit.subgroup_report(values, attrs, flag_on=["nope"])
    with pytest.raises(ValueError, match="attributes lack"):
        audit.subgroup_report(values, attrs.iloc[1:])
    with pytest.raises(ValueError, match="mastery_gap"):
        audit.subgroup_report(values.drop(columns="mastery_gap"), attrs)


def test_recommendation_metrics_by_hand(content):
    graph, catalog = content
    acts = catalog.activities
    a_int = acts.index[acts["format"] == "coaching_cycle"][0]
    a_other = acts.index[acts["format"] == "course"][0]
    recs = pd.DataFrame({"educator_id": ["x", "x"], "activity_id": [a_int, a_other]})
    educators = pd.DataFrame({"educator_id": ["x", "y"], "goals": ["", ""]})
    comps = list(graph)
    mastery = pd.DataFrame({"educator_id": "x", "competency_id": comps, "p_mastery": 0.25})
    v = audit.recommendation_metrics(recs, catalog, educators, mastery)
    hours = acts.loc[[a_int, a_other], "hours"].sum()
    gain = acts.loc[[a_int, a_other], "expected_gain"].sum() * 0.75
    assert v.loc["x", "hours"] == pytest.approx(hours)
    assert v.loc["x", "gain_per_hour"] == pytest.approx(gain / hours)
    assert v.loc["x", "intensive_share"] == 0.5
    assert v.loc["x", "mastery_gap"] == pytest.approx(0.75)
    assert v.loc["y", "hours"] == 0 and np.isnan(v.loc["y", "gain_per_hour"])
    with pytest.raises(ValueError, match="not in the catalog"):
        audit.recommendation_metrics(recs.assign(activity_id="NOPE"), catalog, educators,
                                     mastery)


def test_outcome_metrics_hours_to_goal_is_restricted():
    out = Outcomes(reached=np.array([True, False]), hours_at_goal=np.array([10.0, np.nan]),
                   hours=np.array([10.0, 40.0]), gained=np.array([0.5, 0.1]))
    v = audit.outcome_metrics(out, ["a", "b"], np.array([0.5, 0.6]), hours_budget=24)
    assert v["hours_to_goal"].tolist() == [10.0, 24.0]
    assert v["reached"].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("seed", [0, 1])
def test_engine_audit_finds_a_school_without_high_intensity_access(content, seed):
    """End to end on generated cohorts: the engine's recommendations for a school whose catalog
    excludes coaching cycles and residencies are flagged; without the restriction nothing is."""
    graph, catalog = content
    clean = recommendation_audit(synthetic_inputs(graph, catalog, n_educators=240, seed=seed),
                                 n_boot=200, seed=seed)
    assert not clean["flagged"].any(), clean.loc[clean["flagged"], ["attribute", "value"]]
    planted = recommendation_audit(
        synthetic_inputs(graph, catalog, n_educators=240, seed=seed, restrict="West"),
        n_boot=200, seed=seed)
    west = planted[(planted["attribute"] == "school") & (planted["value"] == "West")].iloc[0]
    assert "intensive_share" in west["flags"]
    assert planted.loc[planted["flagged"], "value"].tolist() == ["West"]
