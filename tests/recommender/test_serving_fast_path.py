"""The serving matrix equals the reference feature frame, bit for bit, on generated data; the
string lookups under it equal pandas' hashing; chunked training frames equal one-call frames
(issue #16 item 3)."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.catalog import default_catalog
from recommender.errors import InvalidEvidenceError
from recommender.evidence import validate_evidence
from recommender.features import FeatureBuilder, lookup
from recommender.features.lookup import Lookup
from recommender.graph import default_framework
from recommender.simulate import generate

from .test_features import CATALOG, GRAPH, T0, completions, evidence_sets, make_evidence

IDS = ["e1", "e2", "e3", "nobody"]  # "nobody" never has evidence
PROFILES = pd.DataFrame({"educator_id": ["e2", "e1", "e2"], "years_experience": [3, 12, 7],
                         "role": ["teacher", "coach", "admin"],
                         "subject": ["math", None, "ela"], "grade_band": ["k2", "68", "35"]})


def _frame_as_matrix(builder: FeatureBuilder, frame: pd.DataFrame, columns) -> np.ndarray:
    """The reference: the feature frame's columns as floats, categoricals as their codes
    (NaN when missing), what a model reading the builder's categories sees."""
    out = np.empty((len(frame), len(columns)))
    for j, name in enumerate(columns):
        col = frame[name]
        if isinstance(col.dtype, pd.CategoricalDtype):
            codes = col.cat.codes.to_numpy().astype(float)
            out[:, j] = np.where(codes >= 0, codes, np.nan)
        else:
            out[:, j] = col.to_numpy(dtype=float)
    return out


def _columns(frame: pd.DataFrame) -> list[str]:
    """Every column a model can read (not the identity and packed-history columns)."""
    return [c for c in frame.columns if c not in ("educator_id", "as_of", "hist_bits", "hist_len")]


@settings(max_examples=25, deadline=None)
@given(evidence_sets(), st.integers(-3, 33), st.booleans(), st.booleans(), st.booleans(),
       st.integers(1, 200))
def test_the_serving_matrix_is_the_serving_frame_bit_for_bit(ev, day, with_done, with_profiles,
                                                             sequence_context, block_rows):
    b = FeatureBuilder(GRAPH, catalog=CATALOG, sequence_context=sequence_context).fit(
        ev, educators=PROFILES)
    kw = {"as_of": T0 + pd.Timedelta(days=day, hours=6), "educator_ids": IDS,
          "completions": completions() if with_done else None,
          "educators": PROFILES if with_profiles else None}
    frame = b.serving_frame(ev, **kw)
    columns = _columns(frame)
    M, own_n = b.serving_matrix(ev, columns=columns, **kw)
    np.testing.assert_array_equal(M, _frame_as_matrix(b, frame, columns))  # NaN equals NaN
    np.testing.assert_array_equal(own_n, frame["own_n"].to_numpy())
    # in blocks of rows (copied: full blocks share one buffer), the same matrix
    blocks, own_n_blocks = b.serving_blocks(ev, columns=columns, block_rows=block_rows, **kw)
    np.testing.assert_array_equal(np.vstack([m.copy() for m in blocks]), M)
    np.testing.assert_array_equal(own_n_blocks, own_n)
    # the educator without evidence has cold-start rows: no history, all counts zero
    cold = frame["educator_id"].to_numpy() == "nobody"
    assert (frame.loc[cold, "own_n"] == 0).all() and frame.loc[cold, "edu_rate"].isna().all()
    # no future evidence: the rows equal those built from the evidence before as_of only
    past = ev[ev["observed_at"] < kw["as_of"]]
    M_past, _ = b.serving_matrix(past, columns=columns, **kw)
    np.testing.assert_array_equal(M, M_past)


@settings(max_examples=10, deadline=None)
@given(evidence_sets())
def test_as_of_before_all_evidence_is_the_matrix_of_no_evidence(ev):
    b = FeatureBuilder(GRAPH, catalog=CATALOG).fit(ev)
    columns = _columns(b.serving_frame(ev, as_of=T0, educator_ids=IDS))
    before = ev["observed_at"].min()  # records at as_of itself are not before it
    M, own_n = b.serving_matrix(ev, as_of=before, educator_ids=IDS, columns=columns)
    M_empty, _ = b.serving_matrix(ev.iloc[0:0], as_of=before, educator_ids=IDS, columns=columns)
    np.testing.assert_array_equal(M, M_empty)
    assert (own_n == 0).all()


def test_unknown_competencies_and_columns_raise_the_same_errors_on_both_paths():
    good = make_evidence([("e1", "a", 0, 1.0)])
    b = FeatureBuilder(GRAPH).fit(good)
    bad = good.assign(competency_id="zz")
    kw = {"as_of": T0 + pd.Timedelta(days=1), "educator_ids": ["e1"]}
    with pytest.raises(InvalidEvidenceError, match=r"not in framework 't': \['zz'\]"):
        b.serving_frame(bad, **kw)
    with pytest.raises(InvalidEvidenceError, match=r"not in framework 't': \['zz'\]"):
        b.serving_matrix(bad, columns=["own_n"], **kw)
    lacking = good.drop(columns=["proficient", "observed_at"])  # every missing column named
    with pytest.raises(InvalidEvidenceError, match=r"lacks columns \['proficient', 'observed_at'\]"):
        b.serving_frame(lacking, **kw)
    with pytest.raises(InvalidEvidenceError, match=r"lacks columns \['proficient', 'observed_at'\]"):
        b.serving_matrix(lacking, columns=["own_n"], **kw)
    with pytest.raises(KeyError, match="makes no column 'own_nope'"):
        b.serving_matrix(good, columns=["own_nope"], **kw)
    with pytest.raises(ValueError, match="block_rows must be a positive int; got 0"):
        b.serving_blocks(good, columns=["own_n"], block_rows=0, **kw)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["a", "b", "ab", "", "é", "B"]), max_size=8),
       st.lists(st.one_of(st.sampled_from(["a", "b", "ab", "", "é", "zz"]), st.none(),
                          st.just(np.nan), st.integers(0, 2)), max_size=12),
       st.sampled_from([lookup.SMALL, 2, -1]))
def test_a_lookup_finds_each_values_first_key_as_hashing_does(keys, values, small):
    """Every path (a search for few string values, hashing, factorizing many values first)
    gives pandas' answer: the first position of an equal key, -1 for anything else (missing,
    other types)."""
    table = pd.Index(keys, dtype=object)
    first = {k: i for i, k in reversed(list(enumerate(keys)))}
    expected = [first.get(v, -1) if isinstance(v, str) else -1 for v in values]
    old = lookup.SMALL
    lookup.SMALL = small
    try:
        got = Lookup(keys).positions(pd.Series(values, dtype=object))
        as_str = Lookup(table).positions(pd.Series([v for v in values if isinstance(v, str)],
                                                   dtype="str"))
    finally:
        lookup.SMALL = old
    assert got.tolist() == expected
    assert as_str.tolist() == [e for e, v in zip(expected, values, strict=True)
                               if isinstance(v, str)]


@settings(max_examples=15, deadline=None)
@given(evidence_sets(), st.integers(1, 60), st.booleans())
def test_chunked_training_frames_are_the_one_call_frame(ev, max_pairs, sequence_context):
    b = FeatureBuilder(GRAPH, catalog=CATALOG, sequence_context=sequence_context).fit(
        ev, educators=PROFILES)
    kw = {"completions": completions(), "educators": PROFILES}
    X1, y1 = b.training_frame(ev, max_pairs=None, **kw)
    X2, y2 = b.training_frame(ev.sample(frac=1, random_state=1), max_pairs=max_pairs, **kw)
    pd.testing.assert_frame_equal(X2, X1, check_exact=True)
    np.testing.assert_array_equal(y2, y1)


@pytest.mark.parametrize("bad", [0, -5, 2.5, "many", True])
def test_max_pairs_must_be_a_positive_int_or_none(bad):
    ev = make_evidence([("e1", "a", 0, 1.0)])
    with pytest.raises(ValueError, match="max_pairs must be a positive number of pairs"):
        FeatureBuilder(GRAPH).fit(ev).training_frame(ev, max_pairs=bad)


def test_a_grid_of_the_educator_framework_equals_the_same_rows_built_in_another_order():
    """The grid layout of graph features (every competency of each educator) against the
    per-pair path, on a framework whose competencies have many ancestors and descendants."""
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    data = generate(graph, catalog, n_educators=15, months=3, random_state=5)
    ev = validate_evidence(data.evidence, competencies=list(graph),
                           now=pd.Timestamp("2100-01-01", tz="UTC")).valid
    b = FeatureBuilder(graph, catalog=catalog).fit(ev, educators=data.educators)
    ids = [*data.educators["educator_id"], "nobody"]
    kw = {"as_of": ev["observed_at"].quantile(0.6), "educator_ids": ids,
          "completions": data.completions, "educators": data.educators}
    grid = b.serving_frame(ev, **kw)
    backwards = b.serving_frame(ev, competencies=b.competencies[::-1], **kw)
    n = len(b.competencies)
    flip = (np.arange(len(grid)) // n) * n + (n - 1 - np.arange(len(grid)) % n)
    pd.testing.assert_frame_equal(grid, backwards.iloc[flip].reset_index(drop=True),
                                  check_exact=True)


def test_a_second_fit_serves_the_second_fits_difficulty_and_profile_levels():
    """What a build reads from a fit (difficulty by competency, profile lookups) is made once
    per fit: a fresh builder fitted on the second data and a refitted one serve alike."""
    first = make_evidence([("e1", "a", 0, 1.0), ("e1", "b", 1, 0.0), ("e2", "a", 2, 0.0)])
    second = make_evidence([("e3", "a", 0, 0.0), ("e3", "b", 1, 1.0), ("e3", "b", 2, 1.0)])
    other = PROFILES.assign(role=["principal", "coach", "coach"])
    kw = {"as_of": T0 + pd.Timedelta(days=5), "educator_ids": IDS, "educators": other}
    refit = FeatureBuilder(GRAPH, catalog=CATALOG).fit(first, educators=PROFILES)
    refit.serving_frame(first, **kw)  # reads (and keeps) what the first fit made
    refit.fit(second, educators=other)
    fresh = FeatureBuilder(GRAPH, catalog=CATALOG).fit(second, educators=other)
    got, want = refit.serving_frame(first, **kw), fresh.serving_frame(first, **kw)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert got.filter(like="diff_").ne(FeatureBuilder(GRAPH, catalog=CATALOG).fit(
        first, educators=PROFILES).serving_frame(first, **kw).filter(like="diff_")).any().any()
