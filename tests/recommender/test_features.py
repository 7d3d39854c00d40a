import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import build_catalog
from recommender.errors import InvalidEvidenceError, NotFittedError
from recommender.features import SEQUENCE_FEATURES, SOURCES, FeatureBuilder
from recommender.graph import build_framework

GRAPH = build_framework(
    {
        "name": "t",
        "competencies": [
            {"id": "a", "name": "A", "domain": "cognitive"},
            {"id": "b", "name": "B", "domain": "cognitive", "prerequisites": ["a"]},
            {"id": "c", "name": "C", "domain": "instructional", "prerequisites": ["a", "b"]},
            {"id": "d", "name": "D", "domain": "instructional", "prerequisites": ["c"]},
        ],
    }
)
CATALOG = build_catalog(
    {
        "activities": [
            {"id": "x1", "title": "X1", "format": "course", "competencies": {"b": 1.0, "c": 0.5},
             "hours": 4, "modality": "online", "level": "developing", "expected_gain": 0.1},
        ]
    },
    GRAPH,
)
T0 = pd.Timestamp("2025-01-01", tz="UTC")


def make_evidence(rows):
    """rows: (educator, competency, day, score_norm[, source])."""
    df = pd.DataFrame(
        [
            {
                "evidence_id": f"ev{i:04d}",
                "educator_id": r[0],
                "competency_id": r[1],
                "observed_at": T0 + pd.Timedelta(days=r[2]),
                "score_norm": r[3],
                "source": r[4] if len(r) > 4 else "observation",
            }
            for i, r in enumerate(rows)
        ],
        columns=["evidence_id", "educator_id", "competency_id", "observed_at", "score_norm",
                 "source"],
    )
    df["proficient"] = df["score_norm"] >= 2 / 3
    return df


@st.composite
def evidence_sets(draw, max_rows=40):
    n = draw(st.integers(1, max_rows))
    rows = [
        (
            draw(st.sampled_from(["e1", "e2", "e3"])),
            draw(st.sampled_from(list(GRAPH))),
            draw(st.integers(0, 30)),  # few distinct days: many simultaneous records
            draw(st.sampled_from([0.0, 1 / 3, 2 / 3, 1.0])),
            draw(st.sampled_from(SOURCES)),
        )
        for _ in range(n)
    ]
    return make_evidence(rows)


def completions():
    return pd.DataFrame({"educator_id": ["e1", "e2"], "activity_id": ["x1", "x1"],
                         "completed_at": [T0 + pd.Timedelta(days=5), T0 + pd.Timedelta(days=12)]})


def test_own_history_counts_only_strictly_earlier_records():
    ev = make_evidence([("e1", "a", 0, 1.0), ("e1", "a", 0, 0.0), ("e1", "a", 3, 1 / 3),
                        ("e1", "a", 7, 1.0)])
    X, y = FeatureBuilder(GRAPH).fit(ev).training_frame(ev)
    assert list(y) == [1, 0, 0, 1]
    assert list(X["own_n"]) == [0, 0, 2, 3]  # the two day-0 records do not see each other
    assert X["own_last_score"].iloc[3] == pytest.approx(1 / 3)
    assert X["own_days_since"].iloc[3] == pytest.approx(4.0)
    assert X["own_mean_score"].iloc[2] == pytest.approx(0.5)
    # history bits: oldest in bit 0; day-0 ties ordered by evidence_id (1 then 0), then 0
    assert X["hist_len"].iloc[3] == 3 and X["hist_bits"].iloc[3] == 0b001


def test_graph_features_read_prerequisites_and_dependents():
    ev = make_evidence([("e1", "a", 0, 1.0), ("e1", "b", 1, 0.0), ("e1", "d", 2, 1.0),
                        ("e1", "c", 5, 1.0)])
    X, _ = FeatureBuilder(GRAPH).fit(ev).training_frame(ev)
    row = X[X["competency_id"] == "c"].iloc[0]
    assert row["graph_prereq_n_evidenced"] == 2
    assert row["graph_prereq_mastery"] == pytest.approx(0.5)
    assert row["graph_prereq_min"] == pytest.approx(0.0)
    assert row["graph_prereq_share_proficient"] == pytest.approx(0.5)
    assert row["graph_dep_mastery"] == pytest.approx(1.0)
    assert row["graph_depth"] == 2 and row["graph_n_prereqs"] == 2
    assert row["dom_n"] == 1 and row["dom_mean_score"] == pytest.approx(1.0)  # d, not c itself
    assert row["edu_n"] == 3


def test_dose_counts_completions_since_last_evidence():
    ev = make_evidence([("e1", "b", 0, 0.0), ("e1", "b", 10, 1.0), ("e1", "b", 20, 1.0)])
    X, _ = FeatureBuilder(GRAPH, catalog=CATALOG).fit(ev).training_frame(
        ev, completions=completions()
    )
    assert list(X["dose_n_since"]) == [0, 1, 0]
    assert list(X["dose_n_total"]) == [0, 1, 1]
    assert X["dose_hours_since"].iloc[1] == pytest.approx(4.0)


def test_serving_covers_every_competency_even_without_evidence():
    ev = make_evidence([("e1", "a", 0, 1.0)])
    b = FeatureBuilder(GRAPH).fit(ev)
    S = b.serving_frame(ev, as_of=T0 + pd.Timedelta(days=1), educator_ids=["e1", "new"])
    assert len(S) == 8
    assert S.loc[S["educator_id"] == "new", "own_n"].eq(0).all()
    assert S.loc[(S["educator_id"] == "e1") & (S["competency_id"] == "a"), "own_n"].item() == 1
    assert (S["source"] == "observation").all()


def test_difficulty_comes_from_fit_data_only():
    train = make_evidence([("e1", "a", 0, 1.0), ("e1", "a", 1, 1.0)])
    other = make_evidence([("e2", "a", 0, 0.0), ("e2", "a", 1, 0.0)])
    b = FeatureBuilder(GRAPH, difficulty_smoothing=0.0).fit(train)
    X, _ = b.training_frame(other)
    assert (X["diff_rate"] == 1.0).all()


def test_unfitted_and_bad_input_errors_say_what_to_do():
    ev = make_evidence([("e1", "a", 0, 1.0)])
    with pytest.raises(NotFittedError, match="call fit"):
        FeatureBuilder(GRAPH).training_frame(ev)
    with pytest.raises(InvalidEvidenceError, match="lacks columns.*score_norm"):
        FeatureBuilder(GRAPH).fit(ev.drop(columns="score_norm"))
    with pytest.raises(InvalidEvidenceError, match="not in framework.*zz"):
        FeatureBuilder(GRAPH).fit(ev.assign(competency_id="zz"))


@pytest.mark.parametrize("sequence_context", [False, True])
@settings(max_examples=25)
@given(evidence_sets())
def test_serving_as_of_a_record_equals_its_training_row(sequence_context, ev):
    b = FeatureBuilder(GRAPH, catalog=CATALOG, sequence_context=sequence_context).fit(ev)
    X, _ = b.training_frame(ev, completions=completions())
    for i in range(0, len(X), max(1, len(X) // 5)):
        row = X.iloc[i]
        S = b.serving_frame(ev, as_of=row["as_of"], educator_ids=[row["educator_id"]],
                            competencies=[row["competency_id"]], completions=completions())
        left = X.drop(columns=["evidence_id", "source"]).iloc[[i]].reset_index(drop=True)
        pd.testing.assert_frame_equal(left, S.drop(columns=["source"]), check_categorical=False)


@pytest.mark.parametrize("sequence_context", [False, True])
@settings(max_examples=30)
@given(evidence_sets(), st.integers(0, 30), st.data())
def test_no_feature_uses_evidence_from_the_future(sequence_context, ev, cutoff, data):
    """Changing or adding records at/after a cutoff leaves features of earlier queries alone."""
    at = T0 + pd.Timedelta(days=cutoff)
    future = ev["observed_at"] >= at
    changed = ev.copy()
    changed.loc[future, "score_norm"] = data.draw(st.sampled_from([0.0, 1.0]))
    changed["proficient"] = changed["score_norm"] >= 2 / 3
    extra = make_evidence([("e1", "b", cutoff + 1, 1.0)]).assign(evidence_id="zz-new")
    changed = pd.concat([changed, extra], ignore_index=True)
    b = FeatureBuilder(GRAPH, sequence_context=sequence_context).fit(ev)  # same difficulty
    ids = ["e1", "e2", "e3"]
    before = b.serving_frame(ev, as_of=at, educator_ids=ids)
    after = b.serving_frame(changed, as_of=at, educator_ids=ids)
    pd.testing.assert_frame_equal(before, after)


def test_serving_with_no_evidence_at_all_gives_cold_start_rows():
    empty = make_evidence([("e1", "a", 0, 1.0)]).iloc[0:0]
    b = FeatureBuilder(GRAPH).fit(make_evidence([("e1", "a", 0, 1.0)]))
    S = b.serving_frame(empty, as_of=T0, educator_ids=["x"])
    assert len(S) == len(GRAPH)
    assert S["own_n"].eq(0).all() and S["graph_prereq_mastery"].isna().all()
    assert set(b.categorical_dtypes()) >= {"competency_id", "source", "domain", "prof_role"}


def test_sequence_context_adds_the_answer_order_features_and_only_those():
    ev = make_evidence([("e1", "a", 0, 1.0), ("e1", "b", 1, 0.0), ("e1", "c", 2, 1.0),
                        ("e1", "a", 3, 1.0)])
    plain, _ = FeatureBuilder(GRAPH).fit(ev).training_frame(ev)
    with_seq, _ = FeatureBuilder(GRAPH, sequence_context=True).fit(ev).training_frame(ev)
    assert set(with_seq.columns) - set(plain.columns) == set(SEQUENCE_FEATURES)
    pd.testing.assert_frame_equal(with_seq[plain.columns], plain)
    last = with_seq.iloc[3]  # the second record on "a": two records (b, c) came in between
    assert last["own_n_between"] == 2
    assert last["edu_last_competency"] == "c" and last["edu_prev_competency"] == "b"
    assert last["edu_prev_score"] == 0.0


def test_a_prerequisite_scored_at_the_threshold_every_time_counts_as_proficient():
    """Three records of 3 on the 1-4 rubric: the decayed mean is 2/3 up to rounding, which once
    fell one rounding error short of proficient_at (days 0, 3, 6 gave 0.6666666666666665)."""
    ev = make_evidence([("e1", "a", d, 2 / 3) for d in (0, 3, 6)])
    S = FeatureBuilder(GRAPH).fit(ev).serving_frame(
        ev, as_of=T0 + pd.Timedelta(days=7), educator_ids=["e1"], competencies=["b"])
    assert S["graph_prereq_mastery"].item() == pytest.approx(2 / 3)
    assert S["graph_prereq_share_proficient"].item() == 1.0


def test_serving_orders_simultaneous_records_by_evidence_id_whatever_the_row_order():
    ev = make_evidence([("e1", "a", 0, 0.0), ("e1", "a", 0, 1.0), ("e1", "b", 0, 1.0)])
    b = FeatureBuilder(GRAPH, sequence_context=True).fit(ev)
    at = T0 + pd.Timedelta(days=1)
    frames = [b.serving_frame(ev.iloc[order], as_of=at, educator_ids=["e1"])
              for order in ([0, 1, 2], [2, 1, 0])]
    pd.testing.assert_frame_equal(*frames)
    a = frames[0].iloc[0]  # ev0000 (0.0) then ev0001 (1.0) on "a", then ev0002 on "b"
    assert a["own_last_score"] == 1.0 and a["own_first_score"] == 0.0 and a["hist_bits"] == 0b10
    assert a["edu_last_competency"] == "b"


@settings(max_examples=40, deadline=None)
@given(outcomes=st.lists(st.booleans(), min_size=0, max_size=90),
       history_length=st.integers(1, 62), seen=st.integers(0, 90))
def test_packed_outcomes_hold_the_last_outcomes_oldest_first_and_the_streak_counts_the_latest(
        outcomes, history_length, seen):
    # one educator's long run of records on one competency, asked about after `seen` of them:
    # hist_bits packs (up to) the last history_length outcomes before, oldest in bit 0, and
    # own_streak is the signed run of the latest identical ones
    ev = make_evidence([("e1", "a", day, 1.0 if ok else 0.0) for day, ok in enumerate(outcomes)])
    builder = FeatureBuilder(GRAPH, history_length=history_length).fit(ev)
    row = builder.serving_frame(ev, as_of=T0 + pd.Timedelta(days=seen, hours=1),
                                educator_ids=["e1"]).set_index("competency_id").loc["a"]
    before = outcomes[: min(seen + 1, len(outcomes))]
    kept = before[-history_length:]
    assert row["hist_len"] == len(kept)
    assert row["hist_bits"] == sum(int(ok) << i for i, ok in enumerate(kept))
    run = next((i for i, ok in enumerate(reversed(kept)) if ok != kept[-1]), len(kept))
    if kept:
        assert row["own_streak"] == (run if kept[-1] else -run)
    else:
        assert pd.isna(row["own_streak"])
