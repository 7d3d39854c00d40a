"""Tests of the synthetic-educator simulator: contract, determinism and the model's claims."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import build_catalog
from recommender.errors import UnknownCompetencyError
from recommender.evidence import EVIDENCE_COLUMNS, OBSERVED_AT_DTYPE, SOURCES, validate_evidence
from recommender.graph import build_framework
from recommender.simulate import (
    GRADE_BANDS,
    ROLES,
    SUBJECTS,
    SimulationParams,
    SourceModel,
    SyntheticData,
    apply_activities,
    catalog_arrays,
    choose_activities,
    drift,
    generate,
    initial_population,
    observe,
    prerequisite_gate,
    read_synthetic,
    source_scales,
    true_mastery,
    write_synthetic,
)

START = pd.Timestamp("2025-08-01", tz="UTC")


def _framework():
    """Two chains and a join: a1 -> a2 -> a3, b1 -> b2, (a2, b2) -> top; names hit role keywords."""
    comps = [
        {"id": "a1", "name": "Instructional planning", "domain": "instructional"},
        {"id": "a2", "name": "Formative assessment", "domain": "instructional",
         "prerequisites": ["a1"]},
        {"id": "a3", "name": "Assessment literacy", "domain": "instructional",
         "prerequisites": ["a2"]},
        {"id": "b1", "name": "Inclusion of students with disabilities", "domain": "inclusion"},
        {"id": "b2", "name": "Supporting English learners", "domain": "inclusion",
         "prerequisites": ["b1"]},
        {"id": "top", "name": "Collaborative professional learning", "domain": "collaboration",
         "prerequisites": ["a2", "b2"]},
    ]
    return build_framework({"name": "test", "competencies": comps})


def _catalog(graph):
    acts = [
        {"id": "ACT-a1", "title": "Planning", "competencies": {"a1": 1.0}, "expected_gain": 0.2},
        {"id": "ACT-a2", "title": "Formative", "competencies": {"a2": 1.0, "a1": 0.3},
         "expected_gain": 0.2},
        {"id": "ACT-a3", "title": "Literacy", "competencies": {"a3": 1.0}, "expected_gain": 0.15},
        {"id": "ACT-b", "title": "Inclusion", "competencies": {"b1": 1.0, "b2": 0.5},
         "expected_gain": 0.2},
        {"id": "ACT-top", "title": "PLC cycle", "competencies": {"top": 1.0},
         "expected_gain": 0.25},
    ]
    for a in acts:
        a.update(format="course", hours=6, modality="online", level="developing")
    return build_catalog({"activities": acts}, graph)


GRAPH = _framework()
CATALOG = _catalog(GRAPH)


@pytest.fixture(scope="module")
def data() -> SyntheticData:
    return generate(GRAPH, CATALOG, n_educators=400, months=6, random_state=7)


def _assert_data_equal(a: SyntheticData, b: SyntheticData) -> None:
    for f in dataclasses.fields(SyntheticData):
        pd.testing.assert_frame_equal(getattr(a, f.name), getattr(b, f.name))


# -- contract ---------------------------------------------------------------------------------


def test_outputs_have_the_contract_columns_and_dtypes(data):
    ed, ev, comp, lat = data.educators, data.evidence, data.completions, data.latent
    assert list(ed.columns) == [
        "educator_id", "years_experience", "role", "subject", "grade_band", "goals"]
    assert list(ev.columns) == list(EVIDENCE_COLUMNS)
    assert list(comp.columns) == ["educator_id", "activity_id", "completed_at", "hours"]
    assert list(lat.columns) == [
        "educator_id", "competency_id", "theta_start", "theta_end", "mastered_start",
        "mastered_end"]
    for frame, cols in [
        (ed, ["educator_id", "role", "subject", "grade_band", "goals"]),
        (ev, ["evidence_id", "educator_id", "competency_id", "source", "rater_id",
              "activity_id"]),
        (comp, ["educator_id", "activity_id"]),
        (lat, ["educator_id", "competency_id"]),
    ]:
        for col in cols:
            assert frame[col].dtype == "str", col
    assert ed["years_experience"].dtype == np.int64
    for col in ("score", "scale_min", "scale_max"):
        assert ev[col].dtype == np.float64
    assert ev["observed_at"].dtype == OBSERVED_AT_DTYPE
    assert comp["completed_at"].dtype == OBSERVED_AT_DTYPE
    assert comp["hours"].dtype == np.float64
    assert lat["mastered_start"].dtype == bool and lat["mastered_end"].dtype == bool


def test_profiles_take_their_documented_values(data):
    ed = data.educators
    assert ed["educator_id"].is_unique and ed["educator_id"].str.fullmatch(r"E\d{6}").all()
    assert ed["years_experience"].between(0, 35).all()
    assert set(ed["role"]) <= set(ROLES) and set(ed["subject"]) <= set(SUBJECTS)
    assert set(ed["grade_band"]) <= set(GRADE_BANDS)
    goals = ed["goals"].str.split("|")
    assert goals.map(len).between(1, 2).all()
    assert all(set(g) <= set(GRAPH) and len(set(g)) == len(g) for g in goals)


def test_evidence_is_valid_under_the_evidence_contract(data):
    result = validate_evidence(data.evidence, competencies=GRAPH,
                               educators=data.educators["educator_id"], now=START + pd.Timedelta(
                                   days=400))
    assert result.n_rejected == 0
    assert len(result.valid) == len(data.evidence)


def test_evidence_is_sorted_and_ids_unique(data):
    ev = data.evidence
    assert ev["evidence_id"].is_unique
    keys = list(zip(ev["observed_at"], ev["evidence_id"], strict=True))
    assert keys == sorted(keys)
    assert set(ev["source"]) == set(SOURCES)


def test_scores_lie_within_their_scales_and_times_within_the_window(data):
    ev = data.evidence
    assert (ev["score"] >= ev["scale_min"]).all() and (ev["score"] <= ev["scale_max"]).all()
    rubric = ev[ev["source"] != "student_growth"]
    assert (rubric["scale_min"] == 1).all() and (rubric["scale_max"] == 4).all()
    assert (rubric["score"] == rubric["score"].round()).all()
    growth = ev[ev["source"] == "student_growth"]
    assert (growth["scale_min"] == 0).all() and (growth["scale_max"] == 100).all()
    end = START + pd.DateOffset(months=6)
    for times in (ev["observed_at"], data.completions["completed_at"]):
        assert (times >= START).all() and (times < end).all()


def test_activity_assessments_follow_a_completion_of_their_activity(data):
    ev, comp = data.evidence, data.completions
    assess = ev[ev["source"] == "activity_assessment"]
    assert len(assess) and assess["activity_id"].notna().all()
    assert ev.loc[ev["source"] != "activity_assessment", "activity_id"].isna().all()
    merged = assess.merge(comp, on=["educator_id", "activity_id"], how="left")
    assert merged["completed_at"].notna().all()
    assert (merged["observed_at"] > merged["completed_at"]).all()
    targets = set(zip(CATALOG.targets["activity_id"], CATALOG.targets["competency_id"],
                      strict=True))
    assert all(pair in targets for pair in zip(assess["activity_id"], assess["competency_id"],
                                                strict=True))


def test_raters_are_named_by_source(data):
    ev = data.evidence
    by = ev.groupby("source")["rater_id"]
    assert by.apply(lambda r: r.str.fullmatch(r"R\d{5}").all())["observation"]
    assert ev.loc[ev["source"] == "peer_review", "rater_id"].str.fullmatch(r"E\d{6}").all()
    selfs = ev[ev["source"] == "self_assessment"]
    assert (selfs["rater_id"] == selfs["educator_id"]).all()
    for source in ("micro_credential", "student_growth", "activity_assessment"):
        assert ev.loc[ev["source"] == source, "rater_id"].isna().all()


def test_educators_never_repeat_an_activity(data):
    assert not data.completions.duplicated(["educator_id", "activity_id"]).any()
    hours = CATALOG.activities["hours"]
    assert (data.completions["hours"].to_numpy()
            == hours.loc[data.completions["activity_id"]].to_numpy()).all()


def test_latent_truth_is_theta_at_or_above_zero(data):
    lat = data.latent
    assert len(lat) == len(data.educators) * GRAPH.number_of_nodes()
    assert (lat["mastered_start"] == (lat["theta_start"] >= 0)).all()
    assert (lat["mastered_end"] == (lat["theta_end"] >= 0)).all()


# -- determinism ------------------------------------------------------------------------------


@settings(max_examples=8)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12), months=st.integers(1, 3))
def test_same_seed_gives_identical_data_and_another_seed_differs(seed, n, months):
    a = generate(GRAPH, CATALOG, n_educators=n, months=months, random_state=seed)
    b = generate(GRAPH, CATALOG, n_educators=n, months=months, random_state=seed)
    _assert_data_equal(a, b)
    c = generate(GRAPH, CATALOG, n_educators=n, months=months, random_state=seed + 1)
    assert not np.array_equal(a.latent["theta_start"], c.latent["theta_start"])


@pytest.mark.parametrize("kind", ["int", "generator"])
def test_random_state_accepts_an_int_or_a_generator(kind):
    def state():
        return 3 if kind == "int" else np.random.default_rng(3)

    a = generate(GRAPH, CATALOG, n_educators=20, months=2, random_state=state())
    b = generate(GRAPH, CATALOG, n_educators=20, months=2, random_state=state())
    _assert_data_equal(a, b)


def test_random_state_none_draws_fresh_data():
    a = generate(GRAPH, CATALOG, n_educators=20, months=1, random_state=None)
    assert len(a.latent) == 20 * GRAPH.number_of_nodes()


def test_random_state_rejects_a_legacy_randomstate():
    with pytest.raises(TypeError, match="RandomState"):
        generate(GRAPH, CATALOG, n_educators=5, random_state=np.random.RandomState(0))


# -- the model's claims -----------------------------------------------------------------------


def test_prerequisite_mastery_makes_dependent_mastery_more_likely():
    pop = initial_population(GRAPH, 4000, random_state=1)
    mastered = pop.theta >= 0
    given_mastered, given_not = [], []
    for c in range(pop.n_competencies):
        for p in pop.prereq_indices[pop.prereq_indptr[c]:pop.prereq_indptr[c + 1]]:
            given_mastered.append(mastered[mastered[:, p], c].mean())
            given_not.append(mastered[~mastered[:, p], c].mean())
    assert given_not and np.mean(given_not) < np.mean(given_mastered)
    # and a dependent rarely exceeds its weakest prerequisite by much
    for c in range(pop.n_competencies):
        ps = pop.prereq_indices[pop.prereq_indptr[c]:pop.prereq_indptr[c + 1]]
        if len(ps):
            excess = pop.theta[:, c] - pop.theta[:, ps].min(axis=1)
            assert (excess > pop.params.prerequisite_margin + 0.5).mean() < 0.01


def test_prerequisite_mastery_holds_in_the_generated_truth(data):
    lat = data.latent.pivot(index="educator_id", columns="competency_id", values="mastered_start")
    for pre, dep in GRAPH.edges:
        assert lat.loc[~lat[pre], dep].mean() < lat.loc[lat[pre], dep].mean()


@pytest.mark.parametrize("seed", [2, 11, 22])
def test_deeper_competencies_are_harder(seed):
    # without the per-competency spread around the depth trend, only the trend is left
    params = SimulationParams(difficulty_sd=0.0)
    pop = initial_population(GRAPH, 4000, params=params, random_state=seed)
    rate = (pop.theta >= 0).mean(axis=0)
    by_depth = [rate[pop.depth == d].mean() for d in range(pop.depth.max() + 1)]
    assert by_depth == sorted(by_depth, reverse=True)


def _with_prerequisites(pop, value):
    """``pop`` with every prerequisite of ``a3`` (a1, a2) set to ``value`` and a3 at -1."""
    theta = pop.theta.copy()
    col = {c: j for j, c in enumerate(pop.competencies)}
    theta[:, [col["a1"], col["a2"]]] = value
    theta[:, col["a3"]] = -1.0
    return pop.with_theta(theta), col["a3"]


def test_activity_gains_are_gated_by_prerequisite_mastery():
    pop = initial_population(GRAPH, 500, random_state=3)
    acts = catalog_arrays(CATALOG, pop.competencies)
    activity = np.full(pop.n_educators, list(acts.activity_ids).index("ACT-a3"))
    ready, a3 = _with_prerequisites(pop, 3.0)
    unready, _ = _with_prerequisites(pop, -3.0)
    gain_ready = apply_activities(ready, activity, acts, np.random.default_rng(0))[:, a3] + 1.0
    gain_unready = apply_activities(unready, activity, acts, np.random.default_rng(0))[:, a3] + 1.0
    assert (gain_ready > 0).all() and (gain_unready > 0).all()
    assert (gain_ready > 2 * gain_unready).all()
    assert gain_ready.mean() > 3 * gain_unready.mean()


def test_gate_is_one_without_prerequisites_and_at_least_the_floor():
    pop = initial_population(GRAPH, 50, random_state=4)
    gate = prerequisite_gate(pop)
    roots = np.diff(pop.prereq_indptr) == 0
    assert (gate[:, roots] == 1).all()
    assert (gate >= pop.params.gate_floor).all() and (gate <= 1).all()


def test_completing_an_activity_raises_mastery_in_the_generated_data():
    flat = dataclasses.replace(SimulationParams(), drift_sd=0.0)
    learning = generate(GRAPH, CATALOG, n_educators=300, months=4, params=flat, random_state=5)
    still = generate(GRAPH, CATALOG, n_educators=300, months=4, random_state=5,
                     params=dataclasses.replace(flat, gain_scale=0.0))
    gain = learning.latent["theta_end"] - learning.latent["theta_start"]
    assert (gain >= 0).all() and gain.mean() > 0.05
    assert (still.latent["theta_end"] == still.latent["theta_start"]).all()


def test_apply_activities_is_pure_and_leaves_idle_educators_alone():
    pop = initial_population(GRAPH, 40, random_state=6)
    acts = catalog_arrays(CATALOG, pop.competencies)
    before = pop.theta.copy()
    activity = np.where(np.arange(40) % 2 == 0, 0, -1)
    after = apply_activities(pop, activity, acts, np.random.default_rng(0))
    assert np.array_equal(pop.theta, before)
    assert np.array_equal(after[1::2], before[1::2])
    assert (after[::2] >= before[::2]).all() and (after[::2] > before[::2]).any()


def test_pre_drawn_noise_replaces_the_draws_of_the_steps():
    """observe, apply_activities and drift take standard normals instead of a generator (the
    policy simulation's common random numbers); the same normals give the same result."""
    n = 30
    pop = initial_population(GRAPH, n, random_state=2)
    acts = catalog_arrays(CATALOG, pop.competencies)
    act = np.where(np.arange(n) % 3 == 0, 1, -1)
    per_educator = np.zeros(n)  # the generator draws one normal per completion, in order
    per_educator[act >= 0] = np.random.default_rng(9).standard_normal((act >= 0).sum())
    np.testing.assert_array_equal(apply_activities(pop, act, acts, noise=per_educator),
                                  apply_activities(pop, act, acts, np.random.default_rng(9)))
    comp = np.arange(n) % pop.n_competencies
    np.testing.assert_array_equal(
        observe(pop, comp, "observation", noise=np.random.default_rng(4).standard_normal(n)),
        observe(pop, comp, "observation", np.random.default_rng(4)))
    np.testing.assert_array_equal(
        drift(pop, noise=np.random.default_rng(3).standard_normal(pop.theta.shape)),
        drift(pop, np.random.default_rng(3)))
    with pytest.raises(ValueError, match=r"noise must be standard normals of shape \(30,\), "
                                         r"got shape \(3,\)"):
        observe(pop, comp, "observation", noise=np.zeros(3))
    with pytest.raises(TypeError, match="give rng"):
        drift(pop)


def test_choose_activities_skips_completed_ones():
    pop = initial_population(GRAPH, 200, random_state=8)
    acts = catalog_arrays(CATALOG, pop.competencies)
    completed = np.zeros((200, len(acts)), dtype=bool)
    completed[:, :4] = True
    completed[:50] = True
    choice = choose_activities(pop, acts, np.random.default_rng(0), completed=completed)
    assert (choice[:50] == -1).all()
    assert set(choice[50:]) <= {-1, 4} and (choice[50:] == 4).any()


def test_self_assessment_is_inflated_relative_to_observation():
    pop = initial_population(GRAPH, 3000, random_state=9)
    rng = np.random.default_rng(0)
    comps = rng.integers(0, pop.n_competencies, pop.n_educators)
    selfs = observe(pop, comps, "self_assessment", rng)
    obs = observe(pop, comps, "observation", rng)
    assert selfs.mean() > obs.mean() + 0.2


def test_self_assessment_is_inflated_in_the_generated_evidence(data):
    ev = data.evidence
    means = ev.groupby("source")["score"].mean()
    assert means["self_assessment"] > means["observation"]


def test_micro_credentials_track_the_truth_better_than_student_growth():
    pop = initial_population(GRAPH, 3000, random_state=10)
    rng = np.random.default_rng(0)
    comps = rng.integers(0, pop.n_competencies, pop.n_educators)
    truth = pop.theta[np.arange(pop.n_educators), comps] >= 0
    agreement = {}
    for source in ("micro_credential", "student_growth"):
        lo, hi = source_scales(pop, source)
        norm = (observe(pop, comps, source, rng) - lo) / (hi - lo)
        agreement[source] = ((norm >= 2 / 3 - 1e-9) == truth).mean()
    assert agreement["micro_credential"] > agreement["student_growth"] + 0.05


@pytest.mark.parametrize("source", ["observation", "student_growth"])
def test_a_noiseless_unbiased_reading_is_proficient_exactly_when_mastered(source):
    exact = SourceModel(1.0, 0.0, 0.0, scale=(0.0, 100.0) if source == "student_growth" else None,
                        rater="none")
    params = SimulationParams(sources={source: exact})
    pop = initial_population(GRAPH, 500, params=params, random_state=11)
    rng = np.random.default_rng(0)
    comps = rng.integers(0, pop.n_competencies, pop.n_educators)
    lo, hi = source_scales(pop, source)
    norm = (observe(pop, comps, source, rng) - lo) / (hi - lo)
    truth = pop.theta[np.arange(pop.n_educators), comps] >= 0
    assert np.array_equal(norm >= 2 / 3 - 1e-9, truth)


def test_true_mastery_is_the_sigmoid_of_theta():
    pop = initial_population(GRAPH, 10, random_state=12)
    p = true_mastery(pop)
    assert np.allclose(p, 1 / (1 + np.exp(-pop.theta)))
    assert np.array_equal(p >= 0.5, pop.theta >= 0)


# -- inputs and I/O ---------------------------------------------------------------------------


def test_write_read_round_trip(tmp_path, data):
    paths = write_synthetic(data, tmp_path / "synthetic")
    assert set(paths) == {"educators", "evidence", "completions", "latent"}
    assert paths["latent"].parent.name == "truth"
    assert all(p.exists() for p in paths.values())
    _assert_data_equal(read_synthetic(tmp_path / "synthetic"), data)


def test_read_synthetic_names_missing_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="educators.parquet"):
        read_synthetic(tmp_path)


def test_start_sets_the_window_and_naive_means_utc():
    out = generate(GRAPH, CATALOG, n_educators=30, months=1, start="2024-01-01", random_state=0)
    t = out.evidence["observed_at"]
    assert (t >= pd.Timestamp("2024-01-01", tz="UTC")).all()
    assert (t < pd.Timestamp("2024-02-01", tz="UTC")).all()


def test_progress_is_reported_once_per_month_and_at_the_end():
    calls = []
    generate(GRAPH, CATALOG, n_educators=5, months=3, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 4), (1, 4), (2, 4), (3, 4), (4, 4)]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_educators": 0}, "n_educators must be a positive integer"),
        ({"n_educators": 5, "months": 0}, "months must be a positive integer"),
        ({"n_educators": 5, "params": SimulationParams(completion_rate=1.5)},
         "'completion_rate' parameter of SimulationParams must be in \\(0, 1\\)"),
        ({"n_educators": 5, "params": SimulationParams(role_shares={"principal": 1.0})},
         "unknown keys \\['principal'\\]"),
        ({"n_educators": 5, "params": SimulationParams(learning_rate_mean=0.0)},
         "'learning_rate_mean' parameter of SimulationParams must be > 0. Got 0.0 instead"),
    ],
    ids=["no-educators", "no-months", "bad-rate", "unknown-role", "no-learning"],
)
def test_bad_arguments_are_rejected_with_a_clear_message(kwargs, match):
    with pytest.raises(ValueError, match=match):
        generate(GRAPH, CATALOG, **kwargs)


def test_a_catalog_for_another_framework_is_rejected():
    other = build_framework({"name": "other", "competencies": [
        {"id": "zz", "name": "Elsewhere", "domain": "x"}]})
    catalog = build_catalog({"activities": [
        {"id": "A", "title": "A", "format": "course", "competencies": {"zz": 1.0}, "hours": 1,
         "modality": "online", "level": "developing", "expected_gain": 0.1}]}, other)
    with pytest.raises(UnknownCompetencyError, match="zz"):
        generate(GRAPH, catalog, n_educators=3)
