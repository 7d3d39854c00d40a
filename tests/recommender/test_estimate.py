"""The one mastery estimator: evidence, learning, rater severity, the model prior, invariants."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from recommender.catalog import default_catalog
from recommender.estimate import ESTIMATE_COLUMNS, EstimatorParams, MasteryEstimator
from recommender.graph import default_framework
from recommender.models.predictor import MasteryGrid

T0 = pd.Timestamp("2025-01-01", tz="UTC")
AS_OF = pd.Timestamp("2025-12-01", tz="UTC")


@pytest.fixture(scope="module")
def content():
    graph = default_framework("educator")
    return graph, default_catalog(graph)


def _ev(rows):
    """rows: (educator, competency, proficient, day, source[, rater])."""
    out = []
    for i, r in enumerate(rows):
        e, c, prof, day, src, *rater = r
        out.append({"evidence_id": f"v{i}", "educator_id": e, "competency_id": c,
                    "source": src, "proficient": prof,
                    "observed_at": T0 + pd.Timedelta(days=day),
                    "rater_id": rater[0] if rater else None})
    return pd.DataFrame(out)


def _p(frame, educator, competency, column="p_mastery"):
    row = frame[(frame.educator_id == educator) & (frame.competency_id == competency)]
    return float(row[column].iloc[0])


def _target(catalog, with_prereqs):
    """An activity whose primary target has (or has no) prerequisites, and that target."""
    graph = default_framework("educator")
    t = catalog.targets.sort_values("weight", ascending=False).drop_duplicates("activity_id")
    for a, c in zip(t["activity_id"], t["competency_id"], strict=True):
        if bool(list(graph.predecessors(c))) == with_prereqs:
            return a, c
    raise AssertionError("no such activity")


def test_columns_and_cold_educators(content):
    graph, catalog = content
    out = MasteryEstimator(graph, catalog).estimate(_ev([]), ["E1"], as_of=AS_OF)
    assert tuple(out.columns) == ESTIMATE_COLUMNS and len(out) == len(graph)
    assert out["p_mastery"].nunique() == 1 and (out["n_evidence"] == 0).all()
    assert ((out["p_low"] <= out["p_mastery"]) & (out["p_mastery"] <= out["p_high"])).all()


def test_proficient_records_raise_mastery_and_others_lower_it(content):
    graph, catalog = content
    est = MasteryEstimator(graph, catalog)
    c = sorted(graph)[0]
    up = est.estimate(_ev([("E1", c, True, 1, "observation")] * 3), ["E1"], as_of=AS_OF)
    down = est.estimate(_ev([("E1", c, False, 1, "observation")] * 3), ["E1"], as_of=AS_OF)
    cold = est.estimate(_ev([]), ["E1"], as_of=AS_OF)
    assert _p(down, "E1", c) < _p(cold, "E1", c) < _p(up, "E1", c)
    # a precise source moves the belief more than a noisy one
    precise = est.estimate(_ev([("E1", c, True, 1, "micro_credential")]), ["E1"], as_of=AS_OF)
    noisy = est.estimate(_ev([("E1", c, True, 1, "student_growth")]), ["E1"], as_of=AS_OF)
    assert _p(precise, "E1", c, "mean_logit") > _p(noisy, "E1", c, "mean_logit")


def test_a_completed_activity_raises_its_targets_and_more_so_when_ready(content):
    graph, catalog = content
    est = MasteryEstimator(graph, catalog)
    a, c = _target(catalog, with_prereqs=False)
    done = pd.DataFrame({"educator_id": ["E1"], "activity_id": [a],
                         "completed_at": [T0 + pd.Timedelta(days=30)]})
    before = est.estimate(_ev([]), ["E1"], as_of=AS_OF)
    after = est.estimate(_ev([]), ["E1"], as_of=AS_OF, completions=done)
    assert _p(after, "E1", c, "mean_logit") > _p(before, "E1", c, "mean_logit")
    # a completion after as_of has not happened yet
    later = done.assign(completed_at=AS_OF + pd.Timedelta(days=1))
    pd.testing.assert_frame_equal(est.estimate(_ev([]), ["E1"], as_of=AS_OF, completions=later),
                                  before)
    # the gate: a gain on a competency sticks more when its prerequisites look mastered
    a2, c2 = _target(catalog, with_prereqs=True)
    prereqs = list(graph.predecessors(c2))
    ready = _ev([("E1", q, True, 1, "micro_credential") for q in prereqs] * 3)
    unready = _ev([("E1", q, False, 1, "micro_credential") for q in prereqs] * 3)
    done2 = done.assign(activity_id=a2)
    gain = {}
    for name, ev in (("ready", ready), ("unready", unready)):
        est_model = MasteryEstimator(graph, catalog, predictor=_StubPredictor(ev))
        with_it = est_model.estimate(ev, ["E1"], as_of=AS_OF, completions=done2)
        without = est_model.estimate(ev, ["E1"], as_of=AS_OF)
        gain[name] = _p(with_it, "E1", c2, "mean_logit") - _p(without, "E1", c2, "mean_logit")
    assert gain["ready"] > gain["unready"] > 0


class _StubPredictor:
    """A model that says 0.9 for competencies with a proficient record before as_of, else 0.2."""

    def __init__(self, evidence):
        self.evidence = evidence
        self.calls = []

    def mastery_grid(self, evidence, *, educator_ids, as_of, completions=None, educators=None):
        self.calls.append(pd.Timestamp(as_of))
        comps = list(default_framework("educator"))
        ids = list(educator_ids)
        seen = evidence[(evidence["observed_at"] < as_of) & evidence["proficient"]]
        p = np.array([[0.9 if ((seen.educator_id == e) & (seen.competency_id == c)).any()
                       else 0.2 for c in comps] for e in ids])
        return MasteryGrid(np.asarray(ids, dtype=object), comps, p, np.zeros_like(p))


def test_the_model_prior_is_taken_at_the_first_completion_and_newer_records_are_filtered(content):
    graph, catalog = content
    c = sorted(graph)[0]
    ev = _ev([("E1", c, True, 1, "observation"), ("E1", c, False, 60, "observation")])
    done = pd.DataFrame({"educator_id": ["E1"], "activity_id": [_target(catalog, False)[0]],
                         "completed_at": [T0 + pd.Timedelta(days=30)]})
    stub = _StubPredictor(ev)
    est = MasteryEstimator(graph, catalog, predictor=stub)
    influence = est.influence(ev, ["E1"], as_of=AS_OF, completions=done)
    assert stub.calls == [T0 + pd.Timedelta(days=30)]  # as of the first completion
    assert np.isnan(influence.iloc[0]) and influence.iloc[1] > 0  # day 1 is in the prior
    out = est.estimate(ev, ["E1"], as_of=AS_OF, completions=done)
    other = sorted(graph)[1]
    assert _p(out, "E1", c, "mean_logit") > _p(out, "E1", other, "mean_logit")
    est.estimate(ev, ["E1"], as_of=AS_OF, completions=done)
    assert len(stub.calls) == 1  # the prior before a completion never changes: cached


def test_the_cached_prior_follows_its_inputs_a_late_record_or_another_tenants_educator(content):
    graph, catalog = content
    c = sorted(graph)[0]
    done = pd.DataFrame({"educator_id": ["E1"], "activity_id": [_target(catalog, False)[0]],
                         "completed_at": [T0 + pd.Timedelta(days=30)]})
    weak = _ev([("E1", c, False, 1, "observation")])
    est = MasteryEstimator(graph, catalog, predictor=_StubPredictor(weak))
    before = _p(est.estimate(weak, ["E1"], as_of=AS_OF, completions=done), "E1", c, "mean_logit")
    # a proficient record dated before the first completion arrives late (or: the same id in
    # another tenant, whose evidence differs): the prior is the model's on the new inputs
    strong = _ev([("E1", c, False, 1, "observation"), ("E1", c, True, 2, "observation")])
    est.predictor = _StubPredictor(strong)
    after = _p(est.estimate(strong, ["E1"], as_of=AS_OF, completions=done), "E1", c, "mean_logit")
    assert after > before + 1.0
    assert len(est.predictor.calls) == 1
    again = est.estimate(strong, ["E1"], as_of=AS_OF, completions=done)  # unchanged inputs
    assert _p(again, "E1", c, "mean_logit") == after and len(est.predictor.calls) == 1


def test_a_lenient_raters_proficient_record_counts_for_less(content):
    graph, catalog = content
    c = sorted(graph)[0]
    ev = _ev([("E1", c, True, 1, "observation", "R-lenient")])
    plain = MasteryEstimator(graph, catalog).estimate(ev, ["E1"], as_of=AS_OF)
    corrected = MasteryEstimator(graph, catalog, severity={"R-lenient": -1.0}).estimate(
        ev, ["E1"], as_of=AS_OF)
    harsh = MasteryEstimator(graph, catalog, severity={"R-lenient": 1.0}).estimate(
        ev, ["E1"], as_of=AS_OF)
    assert (_p(corrected, "E1", c, "mean_logit") < _p(plain, "E1", c, "mean_logit")
            < _p(harsh, "E1", c, "mean_logit"))


def test_the_model_prior_is_read_through_the_severity_of_the_raters_behind_it(content):
    graph, catalog = content
    c = sorted(graph)[0]
    # two educators with the same record, one rated by a harsh observer: the model (a stub that
    # reads only the records) gives both the same P; the harsh rater's educator gets a higher
    # prior by that rater's severity, on every competency, and a per-call table equals a
    # constructor one
    ev = _ev([("E1", c, False, 1, "observation", "R-harsh"),
              ("E2", c, False, 1, "observation", "R-fair")])
    done = pd.DataFrame({"educator_id": ["E1", "E2"], "activity_id": [_target(catalog, False)[0]] * 2,
                         "completed_at": [T0 + pd.Timedelta(days=30)] * 2})
    plain = MasteryEstimator(graph, catalog, predictor=_StubPredictor(ev)).estimate(
        ev, ["E1", "E2"], as_of=AS_OF, completions=done)
    table = {"R-harsh": 0.8, "R-fair": 0.0}
    built = MasteryEstimator(graph, catalog, predictor=_StubPredictor(ev), severity=table)
    fixed = built.estimate(ev, ["E1", "E2"], as_of=AS_OF, completions=done)
    per_call = MasteryEstimator(graph, catalog, predictor=_StubPredictor(ev)).estimate(
        ev, ["E1", "E2"], as_of=AS_OF, completions=done, severity=table)
    pd.testing.assert_frame_equal(fixed, per_call)
    other = sorted(graph)[1]
    lift = {e: _p(fixed, e, other, "mean_logit") - _p(plain, e, other, "mean_logit")
            for e in ("E1", "E2")}
    assert lift["E1"] == pytest.approx(0.8) and lift["E2"] == pytest.approx(0.0)


_EDUCATORS = st.sampled_from(["A", "B", "C"])
_RECORD = st.tuples(_EDUCATORS, st.integers(0, 4), st.booleans(), st.integers(0, 400),
                    st.sampled_from(["observation", "micro_credential", "self_assessment"]))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(_RECORD, max_size=25), cut=st.integers(0, 400))
def test_no_future_evidence_and_no_batch_effects(content, records, cut):
    graph, catalog = content
    comps = sorted(graph)[:5]
    ev = _ev([(e, comps[c], p, d, s) for e, c, p, d, s in records])
    est = MasteryEstimator(graph, catalog)
    as_of = T0 + pd.Timedelta(days=cut, hours=12)
    out = est.estimate(ev, ["A", "B", "C"], as_of=as_of)
    past = ev[ev["observed_at"] <= as_of] if len(ev) else ev
    pd.testing.assert_frame_equal(out, est.estimate(past, ["A", "B", "C"], as_of=as_of))
    alone = est.estimate(ev[ev["educator_id"] == "A"] if len(ev) else ev, ["A"], as_of=as_of)
    pd.testing.assert_frame_equal(alone, out[out.educator_id == "A"].reset_index(drop=True))
    assert out["p_mastery"].between(0, 1).all() and np.isfinite(out["sd_logit"]).all()


def test_params_validate_and_round_trip():
    p = EstimatorParams(pessimism=1.5)
    assert EstimatorParams.from_dict(p.to_dict()) == p
    assert p.to_dict()["estimator.source_sd.observation"] == 1.0
    with pytest.raises(ValueError, match="prior_sd must be a finite number > 0; got -1"):
        EstimatorParams(prior_sd=-1)
    with pytest.raises(ValueError, match="unknown estimator parameter 'estimator.nope'"):
        EstimatorParams.from_dict({"estimator.nope": 1})
