"""FeatureBuilder against the slow per-row reference (``features_reference.py``), and the as-of
scans against naive loops, on small random frameworks, evidence, completions and profiles."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import build_catalog
from recommender.evidence import SOURCES
from recommender.features import IDENTITY_COLUMNS, FeatureBuilder
from recommender.features.asof import AsOf
from recommender.graph import build_framework
from tests.recommender.features_reference import Reference, inputs

T0 = pd.Timestamp("2025-03-01", tz="UTC")
EDUCATORS = ("e1", "e2", "e3")
NAMES = ("m", "b", "k", "a", "z", "q")  # shuffled, so code order differs from name order


@st.composite
def frameworks(draw):
    """A random DAG of 2-6 competencies over two domains (edges only from earlier to later
    in a random order), and a catalog of 1-3 activities on it."""
    names = draw(st.permutations(NAMES))[: draw(st.integers(2, len(NAMES)))]
    comps = [
        {"id": c, "name": c.upper(), "domain": draw(st.sampled_from(["d1", "d2"])),
         "prerequisites": [p for p in names[:i] if draw(st.booleans())]}
        for i, c in enumerate(names)
    ]
    graph = build_framework({"name": "random", "competencies": comps})
    activities = [
        {"id": f"x{j}", "title": f"X{j}", "format": "course", "modality": "online",
         "level": "developing", "hours": draw(st.sampled_from([1.0, 2.5, 4.0])),
         "expected_gain": draw(st.sampled_from([0.05, 0.1, 0.3])),
         "competencies": {c: draw(st.sampled_from([0.25, 0.5, 1.0]))
                          for c in draw(st.lists(st.sampled_from(names), min_size=1, max_size=3,
                                                 unique=True))}}
        for j in range(draw(st.integers(1, 3)))
    ]
    return graph, build_catalog({"activities": activities}, graph)


def times():
    """Few distinct instants (whole days, some at noon): many ties, between records and with
    completions and as-of times."""
    return st.builds(lambda d, h: T0 + pd.Timedelta(days=d, hours=h),
                     st.integers(0, 8), st.sampled_from([0, 0, 12]))


@st.composite
def cases(draw, max_rows=25):
    """A framework, catalog, evidence (ids not in row order), completions, profiles, the fit
    subset of evidence and profiles, and builder settings."""
    graph, catalog = draw(frameworks())
    rows = draw(st.lists(st.tuples(
        st.sampled_from(EDUCATORS), st.sampled_from(list(graph)), st.sampled_from(SOURCES),
        st.sampled_from([0.0, 1 / 3, 0.5, 2 / 3, 0.9, 1.0]), times()), max_size=max_rows))
    ev = pd.DataFrame(rows, columns=["educator_id", "competency_id", "source", "score_norm",
                                     "observed_at"])
    ev.insert(0, "evidence_id", [f"r{i:02d}" for i in draw(st.permutations(range(len(rows))))])
    ev = ev.astype({"score_norm": float}).assign(
        observed_at=pd.to_datetime(ev["observed_at"], utc=True))
    ev["proficient"] = ev["score_norm"] >= 2 / 3
    done = draw(st.lists(st.tuples(st.sampled_from((*EDUCATORS, "e4")),
                                   st.sampled_from(list(catalog.activities.index)), times()),
                         max_size=6))
    completions = pd.DataFrame(done, columns=["educator_id", "activity_id", "completed_at"])
    completions["completed_at"] = pd.to_datetime(completions["completed_at"], utc=True)
    profiled = draw(st.lists(st.sampled_from(EDUCATORS), unique=True))
    educators = pd.DataFrame(
        {
            "educator_id": profiled,
            "years_experience": [draw(st.sampled_from([np.nan, 2.0, 15.0])) for _ in profiled],
            "role": [draw(st.sampled_from([None, "teacher", "coach"])) for _ in profiled],
            "subject": [draw(st.sampled_from(["math", "ela"])) for _ in profiled],
            "grade_band": [draw(st.sampled_from(["k5", "68", "912"])) for _ in profiled],
        },
        columns=["educator_id", "years_experience", "role", "subject", "grade_band"],
    )
    fit_mask = np.array([draw(st.booleans()) for _ in rows], dtype=bool)
    settings_ = {
        "decay_days": draw(st.sampled_from([3.0, 180.0])),
        "history_length": draw(st.integers(1, 4)),
        "recent_window": draw(st.integers(1, 3)),
        "difficulty_smoothing": draw(st.sampled_from([0.0, 5.0])),
        "sequence_context": draw(st.booleans()),
    }
    return {
        "graph": graph,
        "catalog": draw(st.sampled_from([catalog, None])),
        "evidence": ev,
        "completions": draw(st.sampled_from([completions, None])),
        "educators": draw(st.sampled_from([educators, None])),
        "fit_evidence": ev[fit_mask],
        "fit_educators": educators.iloc[: draw(st.integers(0, len(educators)))],
        "settings": settings_,
    }


def fitted(case):
    """The builder and the reference, fitted on the case's fit subset."""
    builder = FeatureBuilder(case["graph"], catalog=case["catalog"], **case["settings"]).fit(
        case["fit_evidence"], educators=case["fit_educators"])
    reference = Reference(case["graph"], case["catalog"], case["fit_evidence"],
                          case["fit_educators"], **case["settings"])
    return builder, reference


def plain(values) -> list:
    """Values as plain Python objects, every kind of missing as None."""
    return [None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT
            else v for v in pd.Series(values, dtype=object)]


def assert_matches_reference(frame: pd.DataFrame, expected: list[dict]) -> None:
    """Every column of ``frame`` (but evidence_id) equals the reference rows, floats to 1e-9."""
    if not expected:
        assert frame.empty
        return
    want = pd.DataFrame(expected, index=frame.index)
    assert set(frame.columns) - {"evidence_id"} == set(want.columns)
    numeric = [c for c in want.columns if pd.api.types.is_numeric_dtype(frame[c])
               and not isinstance(frame[c].dtype, pd.CategoricalDtype)]
    got, exp = frame[numeric].to_numpy(float), want[numeric].to_numpy(float)
    bad = ~np.isclose(got, exp, rtol=1e-9, atol=1e-12, equal_nan=True)
    assert not bad.any(), {col: (got[bad[:, j], j], exp[bad[:, j], j])
                           for j, col in enumerate(numeric) if bad[:, j].any()}
    for col in want.columns.difference(numeric):
        assert plain(frame[col]) == plain(want[col]), col


@settings(max_examples=50, deadline=None)
@given(cases())
def test_training_rows_equal_the_reference(case):
    """Each training row: features from the evidence strictly before that record's time."""
    builder, reference = fitted(case)
    X, y = builder.training_frame(case["evidence"], completions=case["completions"],
                                  educators=case["educators"])
    data = inputs(case["evidence"], case["completions"], case["educators"])
    expected = [reference.row(data, r.educator_id, r.competency_id, r.as_of, r.source)
                for r in X[["educator_id", "competency_id", "as_of", "source"]].itertuples()]
    assert_matches_reference(X, expected)
    assert list(X["evidence_id"]) == [r.evidence_id for r in data.records]
    assert list(y) == [int(r.proficient) for r in data.records]


@settings(max_examples=50, deadline=None)
@given(cases(), times(), st.data())
def test_serving_rows_equal_the_reference(case, as_of, data):
    """Serving rows as of a time, for educators with and without evidence, whatever the
    evidence's row order."""
    builder, reference = fitted(case)
    shuffled = case["evidence"].iloc[data.draw(st.permutations(range(len(case["evidence"]))))]
    ids = ["e1", "e2", "e3", "e4"]
    S = builder.serving_frame(shuffled, as_of=as_of, educator_ids=ids,
                              completions=case["completions"], educators=case["educators"])
    data = inputs(case["evidence"], case["completions"], case["educators"])
    expected = [reference.row(data, e, c, as_of, builder.serving_source)
                for e in ids for c in builder.competencies]
    assert_matches_reference(S, expected)


def test_every_builder_column_has_a_reference():
    """A new feature column fails here until features_reference.py defines it."""
    graph = build_framework({"name": "t", "competencies": [
        {"id": "a", "name": "A", "domain": "d1"},
        {"id": "b", "name": "B", "domain": "d1", "prerequisites": ["a"]}]})
    catalog = build_catalog({"activities": [
        {"id": "x", "title": "X", "format": "course", "modality": "online", "hours": 1.0,
         "level": "developing", "expected_gain": 0.1, "competencies": {"a": 1.0}}]}, graph)
    ev = pd.DataFrame({"evidence_id": ["r1"], "educator_id": ["e1"], "competency_id": ["a"],
                       "source": ["observation"], "score_norm": [1.0], "proficient": [True],
                       "observed_at": [T0]})
    educators = pd.DataFrame({"educator_id": ["e1"], "years_experience": [3.0],
                              "role": ["coach"], "subject": ["math"], "grade_band": ["k5"]})
    builder = FeatureBuilder(graph, catalog=catalog, sequence_context=True).fit(
        ev, educators=educators)
    X, _ = builder.training_frame(ev, completions=None, educators=educators)
    reference = Reference(graph, catalog, ev, educators, sequence_context=True)
    row = reference.row(inputs(ev, None, educators), "e1", "a", T0, "observation")
    missing = sorted(set(X.columns) - set(IDENTITY_COLUMNS) - set(row))
    assert not missing, f"feature columns without a reference: {missing}"
    assert not sorted(set(row) - set(X.columns)), "the reference names columns the builder lacks"


# -- the as-of scans --------------------------------------------------------------------------
@st.composite
def scans(draw):
    """Records in 1-3 groups at few time ranks (ties), values, and queries (group, rank)."""
    n = draw(st.integers(0, 30))
    groups = np.array([draw(st.integers(0, 2)) for _ in range(n)], dtype=np.int64)
    ranks = np.array([draw(st.integers(0, 6)) for _ in range(n)], dtype=np.int64)
    values = np.array([draw(st.sampled_from([0.0, 1.0, 0.5, -2.0])) for _ in range(n)])
    q = draw(st.integers(1, 10))
    q_groups = np.array([draw(st.integers(0, 3)) for _ in range(q)], dtype=np.int64)
    q_ranks = np.array([draw(st.integers(0, 7)) for _ in range(q)], dtype=np.int64)
    return groups, ranks, values, q_groups, q_ranks


def naive_sorted(groups, ranks):
    """Input positions in (group, rank, position) order, by Python's sort."""
    return sorted(range(len(groups)), key=lambda i: (groups[i], ranks[i], i))


@settings(max_examples=80, deadline=None)
@given(scans(), st.booleans(), st.integers(1, 4))
def test_asof_scans_equal_naive_loops(scan, inclusive, k):
    groups, ranks, values, q_groups, q_ranks = scan
    asof = AsOf(groups, ranks, 7)
    order = naive_sorted(groups, ranks)
    assert list(asof.order) == order
    # accumulate: the running sum over the group's records up to each one
    sums = asof.accumulate(values[asof.order])
    for at, i in enumerate(order):
        earlier = [j for j in order[: at + 1] if groups[j] == groups[i]]
        assert sums[at] == pytest.approx(sum(values[j] for j in earlier))
    # decayed: the same with weights exp(-(t_i - t_j) / tau), times taken as the ranks
    decayed = asof.decayed(ranks[asof.order].astype(float), values[asof.order], 2.0)
    for at, i in enumerate(order):
        earlier = [j for j in order[: at + 1] if groups[j] == groups[i]]
        want = sum(np.exp(-(ranks[i] - ranks[j]) / 2.0) * values[j] for j in earlier)
        assert decayed[at] == pytest.approx(want, abs=1e-12)
    # index: the last record of the query's group before (or at) its rank
    pos = asof.index(q_groups, q_ranks, inclusive=inclusive)
    for p, g, r in zip(pos, q_groups, q_ranks, strict=True):
        seen = [at for at, i in enumerate(order)
                if groups[i] == g and (ranks[i] <= r if inclusive else ranks[i] < r)]
        assert p == (seen[-1] if seen else -1)
    # window: sums over the last k records up to each looked-up position, and how many
    cum = sums[:, None]
    window, count = asof.window(cum, pos, k)
    for p, w, c in zip(pos, window[:, 0], count, strict=True):
        last = ([] if p < 0 else
                [j for j in order[: p + 1] if groups[j] == groups[order[p]]][-k:])
        assert c == len(last) and w == pytest.approx(sum(values[j] for j in last))
