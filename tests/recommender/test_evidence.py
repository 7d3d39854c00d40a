import json
import re
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender.errors import FrameworkError, InvalidEvidenceError
from recommender.evidence import (
    CHECKS,
    DEFAULT_PROFICIENT_AT,
    EVIDENCE_COLUMNS,
    NORMALIZED_COLUMNS,
    OBSERVED_AT_DTYPE,
    REJECTION_COLUMNS,
    REQUIRED_COLUMNS,
    SOURCES,
    EvidenceValidation,
    proficient_threshold,
    read_evidence_csv,
    read_evidence_file,
    read_evidence_jsonl,
    read_evidence_parquet,
    to_json_records,
    validate_evidence,
)
from recommender.graph.framework import DEFAULT_SCALE

COMPS = ["INS.FA", "COG.AL"]
NOW = pd.Timestamp("2025-01-01T00:00:00Z")


def row(i=0, **over):
    base = {
        "evidence_id": f"e{i}",
        "educator_id": "t1",
        "competency_id": "INS.FA",
        "source": "observation",
        "score": 3,
        "observed_at": "2024-03-01T10:00:00Z",
    }
    return {**base, **over}


def run(rows, **kw):
    kw.setdefault("competencies", COMPS)
    kw.setdefault("now", NOW)
    return validate_evidence(rows, **kw)


def only_rejection(result: EvidenceValidation) -> dict:
    assert len(result.rejections) == 1, result.rejections
    return result.rejections.iloc[0].to_dict()


# --- normalization ---------------------------------------------------------------------------


def test_valid_rows_are_normalized_with_canonical_columns_and_dtypes():
    result = run([row(0, score=3), row(1, score=2.5), row(2, score=4, rater_id="r9")])
    valid = result.valid
    assert list(valid.columns) == list(NORMALIZED_COLUMNS)
    assert list(EVIDENCE_COLUMNS) == list(NORMALIZED_COLUMNS)[:-2]
    assert valid["score_norm"].tolist() == pytest.approx([2 / 3, 0.5, 1.0])
    assert valid["proficient"].tolist() == [True, False, True]
    assert valid["scale_min"].tolist() == [1.0] * 3 and valid["scale_max"].tolist() == [4.0] * 3
    assert str(valid["observed_at"].dtype) == OBSERVED_AT_DTYPE
    assert valid["proficient"].dtype == bool
    assert valid["score"].dtype == np.float64
    assert valid["rater_id"].isna().tolist() == [True, True, False]
    assert result.rejections.empty and list(result.rejections.columns) == list(REJECTION_COLUMNS)


def test_score_exactly_at_threshold_is_proficient_on_any_scale():
    result = run(
        [
            row(0, score=3),
            row(1, score=2.99),
            row(2, score=70, scale_min=0, scale_max=100),
            row(3, score=69.9, scale_min=0, scale_max=100),
        ],
        proficient_at=proficient_threshold({"min": 0, "max": 100, "proficient": 70}),
    )
    by_id = result.valid.set_index("evidence_id")
    assert by_id["proficient"].to_dict() == {"e0": False, "e1": False, "e2": True, "e3": False}
    assert by_id.loc["e2", "score_norm"] == pytest.approx(0.7)
    default = run([row(0, score=3), row(1, score=2.99)]).valid
    assert default["proficient"].tolist() == [True, False]


def test_proficient_threshold_of_default_rubric_is_two_thirds():
    assert proficient_threshold(DEFAULT_SCALE) == DEFAULT_PROFICIENT_AT == 2 / 3
    assert proficient_threshold({"min": 0, "max": 10, "proficient": 8}) == pytest.approx(0.8)
    assert proficient_threshold({"proficient": 4}) == 1.0  # missing keys take the default


@pytest.mark.parametrize(
    "scale, msg",
    [
        ({"min": 4, "max": 1, "proficient": 3}, "min 4 must be below max 1"),
        ({"min": 1, "max": 4, "proficient": 5}, r"proficient 5 must lie within \[1, 4\]"),
    ],
    ids=["inverted", "proficient-outside"],
)
def test_proficient_threshold_rejects_malformed_scale(scale, msg):
    with pytest.raises(FrameworkError, match=msg):
        proficient_threshold(scale)


def test_valid_is_sorted_by_time_then_id_with_fresh_index():
    rows = [
        row("b", observed_at="2024-01-02T00:00:00Z"),
        row("c", observed_at="2023-06-01T00:00:00Z"),
        row("a", observed_at="2024-01-02T00:00:00Z"),
        row("d", observed_at="2024-01-01T00:00:00Z"),
    ]
    frame = pd.DataFrame(rows, index=[10, 11, 12, 13])
    valid = run(frame).valid
    assert valid["evidence_id"].tolist() == ["ec", "ed", "ea", "eb"]
    assert valid.index.equals(pd.RangeIndex(4))


def test_text_fields_are_stripped_and_extra_columns_ignored():
    result = run([row(0, educator_id="  t7 ", source=" observation", extra="x", note=None)])
    assert result.valid.loc[0, "educator_id"] == "t7"
    assert "extra" not in result.valid.columns


def test_optional_columns_may_be_absent_from_a_frame():
    frame = pd.DataFrame([row(0), row(1, score=1)])[list(REQUIRED_COLUMNS)]
    valid = run(frame).valid
    assert valid["scale_min"].tolist() == [1.0, 1.0]
    assert valid["rater_id"].isna().all() and valid["activity_id"].isna().all()


def test_empty_scale_cells_take_the_default_scale():
    result = run([row(0, score=3, scale_min=None, scale_max=""), row(1, score=50, scale_min=0,
                                                                     scale_max=100)])
    assert result.valid.set_index("evidence_id")["scale_max"].to_dict() == {"e0": 4.0, "e1": 100.0}


# --- timestamps --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, expected",
    [
        ("2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z"),
        ("2024-03-01T10:00:00", "2024-03-01T10:00:00Z"),  # naive is UTC
        ("2024-03-01 10:00", "2024-03-01T10:00:00Z"),
        ("2024-03-01T12:00:00+02:00", "2024-03-01T10:00:00Z"),
        ("2024-03-01T05:30:00-04:30", "2024-03-01T10:00:00Z"),
        ("2024-03-01", "2024-03-01T00:00:00Z"),
        (datetime(2024, 3, 1, 10), "2024-03-01T10:00:00Z"),
        (datetime(2024, 3, 1, 11, tzinfo=timezone(timedelta(hours=1))), "2024-03-01T10:00:00Z"),
        (pd.Timestamp("2024-03-01 05:00", tz="US/Eastern"), "2024-03-01T10:00:00Z"),
    ],
    ids=["Z", "naive", "space", "plus-offset", "minus-offset", "date", "py-naive", "py-aware",
         "timestamp-aware"],
)
def test_observed_at_is_converted_to_utc(value, expected):
    valid = run([row(0, observed_at=value)]).valid
    assert valid.loc[0, "observed_at"] == pd.Timestamp(expected)
    assert str(valid["observed_at"].dtype) == OBSERVED_AT_DTYPE


@pytest.mark.parametrize("tz", [None, "US/Pacific", "UTC"])
def test_datetime64_columns_are_taken_as_utc_or_converted(tz):
    stamps = pd.to_datetime(["2024-03-01 10:00", "2024-03-02 10:00"])
    stamps = stamps if tz is None else stamps.tz_localize(tz)
    frame = pd.DataFrame([row(0), row(1)]).assign(observed_at=stamps)
    got = run(frame).valid["observed_at"]
    want = stamps.tz_localize("UTC") if tz is None else stamps.tz_convert("UTC")
    assert got.tolist() == list(want)
    assert str(got.dtype) == OBSERVED_AT_DTYPE


def test_future_timestamp_within_max_future_is_accepted():
    soon = (NOW + pd.Timedelta(hours=23)).isoformat()
    assert len(run([row(0, observed_at=soon)]).valid) == 1
    later = (NOW + pd.Timedelta(hours=2)).isoformat()
    rej = only_rejection(run([row(0, observed_at=later)], max_future="1h"))
    assert rej["reason"] == (
        "observed_at '2025-01-01T02:00:00+00:00' is outside the accepted window "
        "[1970-01-01T00:00:00Z, 2025-01-01T01:00:00Z] (from 1970-01-01 to 0 days 01:00:00 "
        "after now)")


@pytest.mark.parametrize("value", ["1600-01-01T00:00:00Z", "0001-01-01T00:00:00+14:00",
                                   "1969-12-31T23:59:59Z", "9999-12-31T23:59:59-14:00",
                                   "2025-01-02T00:00:01Z"])
def test_times_outside_the_window_are_rejected_naming_value_and_window(value):
    rej = only_rejection(run([row(0), row(1, observed_at=value)]))
    assert (rej["row"], rej["field"], rej["value"]) == (1, "observed_at", value)
    assert rej["reason"] == (f"observed_at '{value}' is outside the accepted window "
                             "[1970-01-01T00:00:00Z, 2025-01-02T00:00:00Z] (from 1970-01-01 to "
                             "1 day after now)")


@pytest.mark.parametrize("value", ["1970-01-01T00:00:00Z", "1969-12-31T20:00:00-04:00",
                                   "2025-01-02T00:00:00Z", "2025-01-02T10:00:00+14:00"])
def test_the_window_bounds_are_inclusive_and_offsets_count(value):
    assert run([row(0, observed_at=value)]).n_rejected == 0


def test_an_earlier_earliest_admits_older_times_in_range():
    result = run([row(0, observed_at="1960-05-01T00:00:00Z")], earliest="1900-01-01")
    assert result.valid.loc[0, "observed_at"] == pd.Timestamp("1960-05-01T00:00:00Z")


@pytest.mark.parametrize("value", [pd.Timestamp("1600-01-01", tz="UTC"),
                                   pd.Timestamp("2030-01-01", tz="UTC")])
def test_datetime_values_outside_the_window_are_rejected(value):
    stamps = pd.Series([pd.Timestamp("2024-03-01", tz="UTC"), value]).astype("datetime64[us, UTC]")
    frame = pd.DataFrame([row(0), row(1)]).assign(observed_at=stamps)
    rej = only_rejection(run(frame))
    assert rej["field"] == "observed_at" and "outside the accepted window" in rej["reason"]


def test_naive_now_is_utc_and_default_now_is_the_current_time():
    tomorrow = pd.Timestamp.now(tz="UTC") + pd.Timedelta(days=3)
    assert run([row(0, observed_at=tomorrow.isoformat())], now=None).n_rejected == 1
    assert run([row(0, observed_at="2025-01-01T20:00:00Z")], now="2025-01-01").n_rejected == 0


# --- rejections --------------------------------------------------------------------------------


REJECTION_CASES = [
    *[
        pytest.param({name: None}, name, "", f"required field {name} is missing or empty",
                     id=f"missing-{name}")
        for name in REQUIRED_COLUMNS
    ],
    pytest.param({"educator_id": "   "}, "educator_id", "", "required field educator_id is missing",
                 id="blank-educator"),
    pytest.param({"score": ""}, "score", "", "required field score is missing", id="empty-score"),
    pytest.param({"competency_id": "XX.YY"}, "competency_id", "XX.YY",
                 "unknown competency id 'XX.YY': not in the framework", id="unknown-competency"),
    pytest.param({"source": "gossip"}, "source", "gossip",
                 "unknown source 'gossip'; expected one of: " + ", ".join(SOURCES),
                 id="unknown-source"),
    pytest.param({"score": "three"}, "score", "three", "score 'three' is not a number",
                 id="score-not-number"),
    pytest.param({"score": 7}, "score", "7", "score 7 is outside its scale [1, 4]",
                 id="score-above-scale"),
    pytest.param({"score": 0.5}, "score", "0.5", "score 0.5 is outside its scale [1, 4]",
                 id="score-below-scale"),
    pytest.param({"score": 101, "scale_min": 0, "scale_max": 100}, "score", "101",
                 "score 101 is outside its scale [0, 100]", id="score-above-custom-scale"),
    pytest.param({"score": "inf"}, "score", "inf", "score inf is outside its scale [1, 4]",
                 id="score-infinite"),
    pytest.param({"scale_min": 4, "scale_max": 1}, "scale_min", "4",
                 "scale_min 4 must be below scale_max 1", id="scale-inverted"),
    pytest.param({"scale_min": 4}, "scale_min", "4", "scale_min 4 must be below scale_max 4",
                 id="scale-empty"),
    pytest.param({"scale_max": "ten"}, "scale_max", "ten", "scale_max 'ten' is not a finite number",
                 id="scale-not-number"),
    pytest.param({"observed_at": "yesterday"}, "observed_at", "yesterday",
                 "observed_at 'yesterday' is not an ISO 8601 timestamp", id="bad-timestamp"),
    pytest.param({"observed_at": "2024-02-30"}, "observed_at", "2024-02-30",
                 "observed_at '2024-02-30' is not an ISO 8601 timestamp", id="impossible-date"),
    pytest.param({"observed_at": "2025-01-03T00:00:00+00:00"}, "observed_at",
                 "2025-01-03T00:00:00+00:00",
                 "observed_at '2025-01-03T00:00:00+00:00' is outside the accepted window "
                 "[1970-01-01T00:00:00Z, 2025-01-02T00:00:00Z]", id="future-timestamp"),
    pytest.param({"observed_at": "now"}, "observed_at", "now",
                 "observed_at 'now' is not an ISO 8601 timestamp", id="now"),
    pytest.param({"observed_at": "today"}, "observed_at", "today",
                 "observed_at 'today' is not an ISO 8601 timestamp", id="today"),
    pytest.param({"observed_at": 1709287200}, "observed_at", "1709287200",
                 "observed_at '1709287200' is not an ISO 8601 timestamp", id="epoch-number"),
    pytest.param({"educator_id": {"id": 1}}, "educator_id", "{'id': 1}",
                 "educator_id must be a string; got an object", id="educator-object"),
    pytest.param({"educator_id": ["t1"]}, "educator_id", "['t1']",
                 "educator_id must be a string; got an array", id="educator-array"),
    pytest.param({"educator_id": True}, "educator_id", "True",
                 "educator_id must be a string; got a boolean", id="educator-boolean"),
    pytest.param({"educator_id": 17}, "educator_id", "17",
                 "educator_id must be a string; got a number", id="educator-number"),
    pytest.param({"rater_id": {"r": 1}}, "rater_id", "{'r': 1}",
                 "rater_id must be a string; got an object", id="rater-object"),
    pytest.param({"educator_id": "x" * 129}, "educator_id", "x" * 129,
                 "educator_id is 129 characters long; an id is 1-128 characters",
                 id="educator-too-long"),
    pytest.param({"evidence_id": "e" * 300}, "evidence_id", "e" * 197 + "...",
                 "evidence_id is 300 characters long; an evidence_id is 1-200 characters",
                 id="evidence-id-too-long"),
    pytest.param({"rater_id": "r\x00b"}, "rater_id", "r\x00b",
                 "rater_id contains U+0000 (a control character) at position 2",
                 id="rater-nul"),
    pytest.param({"educator_id": "a/b"}, "educator_id", "a/b",
                 "educator_id contains '/' at position 2; an id is 1-128 characters, no control "
                 "characters, no '/', not '.' or '..'", id="educator-slash"),
    pytest.param({"educator_id": ".."}, "educator_id", "..",
                 "educator_id '..' cannot be a path segment", id="educator-dots"),
    pytest.param({"activity_id": "A\u0085B"}, "activity_id", "A\u0085B",
                 "activity_id contains U+0085 (a control character)", id="activity-c1-control"),
    pytest.param({"rater_id": "r\ud800"}, "rater_id", "r\\ud800",
                 "rater_id contains a lone surrogate", id="rater-surrogate"),
    pytest.param({"score": True}, "score", "True", "score 'True' is not a number",
                 id="score-boolean"),
]


@pytest.mark.parametrize("over, field, value, reason", REJECTION_CASES)
def test_each_bad_row_is_rejected_with_field_value_and_reason(over, field, value, reason):
    result = run([row(0), row(1, **over), row(2)])
    rej = only_rejection(result)
    assert rej["row"] == 1
    if field == "evidence_id":
        assert pd.isna(rej["evidence_id"])
    else:
        assert rej["evidence_id"] == "e1"
    assert (rej["field"], rej["value"]) == (field, value)
    assert rej["reason"].startswith(reason), rej["reason"]
    assert result.valid["evidence_id"].tolist() == ["e0", "e2"]


def test_unknown_educator_is_rejected_only_when_educators_are_given():
    rows = [row(0, educator_id="t1"), row(1, educator_id="t2")]
    assert run(rows).n_rejected == 0
    rej = only_rejection(run(rows, educators=["t1"]))
    assert (rej["row"], rej["field"], rej["value"]) == (1, "educator_id", "t2")
    assert rej["reason"] == "unknown educator id 't2': not a known educator"


def test_duplicate_evidence_id_keeps_first_and_names_it():
    result = run([row(0), row(1), row(0, score=1), row(0, score=2)])
    assert result.valid["evidence_id"].tolist() == ["e0", "e1"]
    assert result.valid.set_index("evidence_id").loc["e0", "score"] == 3.0
    assert result.rejections["row"].tolist() == [2, 3]
    assert set(result.rejections["field"]) == {"evidence_id"}
    assert result.rejections["reason"].tolist() == [
        "evidence_id 'e0' repeats row 0 of this batch; the first occurrence is kept"
    ] * 2


def test_duplicate_of_a_rejected_row_is_kept():
    """Only valid rows claim an id: a corrected resend in the same batch is accepted."""
    result = run([row(0, score=9), row(0, score=3)])
    assert result.valid["score"].tolist() == [3.0]
    assert result.rejections["field"].tolist() == ["score"]


def test_already_ingested_ids_are_rejected():
    rej = only_rejection(run([row(0), row(1)], existing_ids={"e1", "e9"}))
    assert (rej["row"], rej["field"], rej["value"]) == (1, "evidence_id", "e1")
    assert rej["reason"] == "evidence_id 'e1' was already ingested"


def test_first_failing_check_wins_in_documented_order():
    assert CHECKS[0] == "missing" and CHECKS[-1] == "duplicate"
    bad = row(1, competency_id="NOPE", source="gossip", score=9, observed_at="never")
    assert only_rejection(run([bad]))["field"] == "competency_id"
    bad = row(1, source="gossip", score="x", observed_at="never")
    assert only_rejection(run([bad]))["field"] == "source"
    bad = row(1, educator_id=None, score="x")
    assert only_rejection(run([bad]))["field"] == "educator_id"
    bad = row(1, score=9, observed_at="never")
    assert only_rejection(run([bad]))["field"] == "score"


def test_custom_sources_are_listed_in_the_reason():
    rej = only_rejection(run([row(0), row(1, source="peer_review")], sources=["observation"]))
    assert rej["reason"] == "unknown source 'peer_review'; expected one of: observation"


def test_row_is_the_position_even_with_a_custom_index():
    frame = pd.DataFrame([row(0), row(1, score=9)], index=["x", "y"])
    assert run(frame).rejections["row"].tolist() == [1]


def test_record_that_is_not_a_mapping_is_rejected():
    result = run([row(0), ["e1", "t1"], row(2)])
    rej = only_rejection(result)
    assert (rej["row"], rej["field"], rej["value"]) == (1, "record", "['e1', 't1']")
    assert rej["reason"] == "record is a list, expected a mapping of fields"
    assert len(result.valid) == 2


def test_records_may_lack_keys_but_frames_may_not():
    rej = only_rejection(run([row(0), {"evidence_id": "e1"}]))
    assert rej["field"] == "educator_id"
    frame = pd.DataFrame([row(0)]).drop(columns=["score", "source"])
    msg = re.escape("missing required column(s) ['source', 'score']; expected columns "
                    "['evidence_id', 'educator_id', 'competency_id', 'source', 'score', "
                    "'observed_at']")
    with pytest.raises(InvalidEvidenceError, match=msg):
        run(frame)


def test_empty_input_gives_empty_typed_frames():
    for data in ([], pd.DataFrame(columns=list(REQUIRED_COLUMNS))):
        result = run(data)
        assert list(result.valid.columns) == list(NORMALIZED_COLUMNS)
        assert str(result.valid["observed_at"].dtype) == OBSERVED_AT_DTYPE
        assert result.rejections.empty and result.rejections["row"].dtype == np.int64


@pytest.mark.parametrize(
    "kw, exc, msg",
    [
        ({"proficient_at": 3}, ValueError, r"proficient_at must be a normalized score in \[0, 1\]"),
        ({"competencies": "INS.FA"}, TypeError, "competencies must be an iterable of ids"),
        ({"max_future": "-1h"}, ValueError, "max_future must not be negative"),
        ({"sources": []}, ValueError, "sources must name at least one"),
    ],
    ids=["proficient-at", "competencies-str", "negative-future", "no-sources"],
)
def test_malformed_arguments_raise(kw, exc, msg):
    with pytest.raises(exc, match=msg):
        run([row(0)], **kw)


def test_a_path_is_not_data():
    with pytest.raises(TypeError, match="use read_evidence_csv or read_evidence_jsonl"):
        run("evidence.csv")


def test_competencies_may_be_a_framework_graph():
    import networkx as nx

    graph = nx.DiGraph([("COG.AL", "INS.FA")])
    assert len(run([row(0)], competencies=graph).valid) == 1


def test_input_frame_and_records_are_not_mutated():
    frame = pd.DataFrame(
        [row(0, educator_id=" t1 "), row(1, score="9"), row(0), row(3, observed_at="2024-01-01")],
        index=[5, 6, 7, 8],
    ).assign(extra=1)
    before = frame.copy(deep=True)
    run(frame)
    pd.testing.assert_frame_equal(frame, before)
    records = [row(0, educator_id=" t1 "), row(1, score="9")]
    snapshot = json.dumps(records)
    run(records)
    assert json.dumps(records) == snapshot


# --- readers -----------------------------------------------------------------------------------


def test_read_csv_keeps_text_ids_and_rejects_bad_rows(tmp_path):
    path = tmp_path / "ev.csv"
    path.write_text(
        "evidence_id,educator_id,competency_id,source,score,scale_min,scale_max,observed_at,"
        "rater_id,note\n"
        "e1,007,INS.FA,observation,3,,,2024-03-01T10:00:00Z,r1,hello\n"
        "e2,007,INS.FA,observation,7,,,2024-03-01T11:00:00Z,,\n"
        "e3,008,COG.AL,micro_credential,80,0,100,2024-03-02 09:00:00+01:00,,\n"
        "e4,,COG.AL,observation,3,,,2024-03-02,,\n",
        encoding="utf-8-sig",  # a spreadsheet's byte-order mark must not break the header
    )
    result = read_evidence_csv(path, competencies=COMPS, now=NOW)
    valid = result.valid
    assert valid["evidence_id"].tolist() == ["e1", "e3"]
    assert valid["educator_id"].tolist() == ["007", "008"]
    assert valid["score_norm"].tolist() == pytest.approx([2 / 3, 0.8])
    assert valid.loc[1, "observed_at"] == pd.Timestamp("2024-03-02T08:00:00Z")
    assert result.rejections[["row", "field", "value"]].values.tolist() == [
        [1, "score", "7"],
        [3, "educator_id", ""],
    ]


def test_read_csv_without_a_required_column_names_it(tmp_path):
    path = tmp_path / "ev.csv"
    path.write_text("evidence_id,educator_id,competency_id,source,observed_at\n"
                    "e1,t1,INS.FA,observation,2024-03-01\n")
    msg = r"ev\.csv: .*missing required column\(s\) \['score'\]"
    with pytest.raises(InvalidEvidenceError, match=msg):
        read_evidence_csv(str(path), competencies=COMPS)


def test_read_csv_pads_a_short_row_and_refuses_a_long_one(tmp_path):
    header = "evidence_id,educator_id,competency_id,source,score,observed_at\n"
    good = "e0,t1,INS.FA,observation,3,2024-03-01\n"
    path = tmp_path / "short.csv"
    path.write_text(header + good + "e1,t1,INS.FA\n")
    result = read_evidence_csv(path, competencies=COMPS, now=NOW)
    assert len(result.valid) == 1
    assert result.rejections[["row", "field"]].values.tolist() == [[1, "source"]]
    path = tmp_path / "long.csv"
    path.write_text(header + good + "e1,t1,INS.FA,observation,3,2024-03-01,extra\n")
    with pytest.raises(InvalidEvidenceError, match="cannot read evidence CSV"):
        read_evidence_csv(path, competencies=COMPS)


def test_read_csv_that_is_empty_is_a_shape_error(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("")
    with pytest.raises(InvalidEvidenceError, match="cannot read evidence CSV"):
        read_evidence_csv(path, competencies=COMPS)


def test_read_jsonl_rejects_bad_lines_and_keeps_the_rest(tmp_path):
    path = tmp_path / "ev.jsonl"
    lines = [
        json.dumps(row(0)),
        "",
        "{not json",
        json.dumps(row(1, score=2)),
        "[1, 2]",
        json.dumps({"evidence_id": "e5", "educator_id": "t1"}),
        json.dumps(row(6, educator_id="7", score="4")),
        json.dumps(row(7, educator_id=7)),
    ]
    path.write_text("\n".join(lines) + "\n")
    result = read_evidence_jsonl(path, competencies=COMPS, now=NOW)
    assert result.valid["evidence_id"].tolist() == ["e0", "e1", "e6"]
    assert result.valid["educator_id"].tolist() == ["t1", "t1", "7"]
    rej = result.rejections
    assert rej["row"].tolist() == [1, 3, 4, 6]  # positions among non-blank lines
    assert rej["field"].tolist() == ["line", "line", "competency_id", "educator_id"]
    assert rej["reason"][0].startswith("line 3 is not valid JSON (")
    assert rej["reason"][1] == "line 5 is a JSON list, expected a JSON object"
    assert rej["reason"][3] == "educator_id must be a string; got a number"
    assert rej["value"][0] == "{not json"
    assert len(result.valid) + len(rej) == 7


def test_read_jsonl_with_only_bad_lines_never_crashes(tmp_path):
    path = tmp_path / "ev.jsonl"
    path.write_text("oops\n42\n")
    result = read_evidence_jsonl(path, competencies=COMPS)
    assert result.valid.empty and result.rejections["field"].tolist() == ["line", "line"]


# --- properties --------------------------------------------------------------------------------

SCALES = [(1.0, 4.0), (0.0, 100.0), (0.0, 1.0), (-2.0, 2.0)]
TZS = [None, UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
IDS = st.text(alphabet="abcXYZ0189-_.", min_size=1, max_size=6)


@st.composite
def valid_rows(draw, i):
    lo, hi = draw(st.sampled_from(SCALES))
    when = draw(st.datetimes(datetime(1990, 1, 1), datetime(2024, 12, 31),
                             timezones=st.sampled_from(TZS)))
    rec = {
        "evidence_id": f"ev{i}",
        "educator_id": draw(st.sampled_from(["t1", "t2", "t3"])),
        "competency_id": draw(st.sampled_from(COMPS)),
        "source": draw(st.sampled_from(SOURCES)),
        "score": draw(st.floats(lo, hi, allow_nan=False) | st.sampled_from([lo, hi])),
        "observed_at": when.isoformat(),
        "rater_id": draw(st.none() | IDS),
    }
    if (lo, hi) != (1.0, 4.0) or draw(st.booleans()):
        rec.update(scale_min=lo, scale_max=hi)
    return rec, pd.Timestamp(when).tz_localize("UTC") if when.tzinfo is None else pd.Timestamp(when)


CORRUPTIONS = (
    *[f"missing-{f}" for f in REQUIRED_COLUMNS],
    "competency", "educator", "source", "score-text", "score-high", "score-low", "scale-order",
    "scale-text", "timestamp-text", "timestamp-future", "already-ingested", "duplicate",
)


def corrupt(draw, kind, rec, earlier_kept_ids):
    """``rec`` broken in one field by ``kind``, and that field; None when it cannot be done."""
    lo, hi = rec.get("scale_min", 1.0), rec.get("scale_max", 4.0)
    if kind.startswith("missing-"):
        field = kind.removeprefix("missing-")
        return {**rec, field: draw(st.sampled_from([None, "", "  ", np.nan]))}, field
    if kind == "duplicate":
        if not earlier_kept_ids:
            return None
        return {**rec, "evidence_id": draw(st.sampled_from(earlier_kept_ids))}, "evidence_id"
    future = NOW + pd.Timedelta(days=draw(st.integers(2, 3000)), seconds=draw(st.integers(0, 9)))
    field, value = {
        "competency": ("competency_id", "ZZ.ZZ"),
        "educator": ("educator_id", "stranger"),
        "source": ("source", "rumour"),
        "score-text": ("score", "n/a"),
        "score-high": ("score", hi + draw(st.floats(0.001, 1e6))),
        "score-low": ("score", lo - draw(st.floats(0.001, 1e6))),
        "scale-order": ("scale_min", hi + draw(st.floats(0, 10))),
        "scale-text": ("scale_max", "four"),
        "timestamp-text": ("observed_at", "01/02/2024 at noon"),
        "timestamp-future": ("observed_at", future.isoformat()),
        "already-ingested": ("evidence_id", "old-" + rec["evidence_id"]),
    }[kind]
    out = {**rec, field: value}
    if kind == "scale-order":
        out["scale_max"] = hi
    return out, field


@st.composite
def batches(draw):
    """Valid rows, some broken in exactly one field: (rows, {kept id: UTC time}, {row: field})."""
    n = draw(st.integers(0, 25))
    rows, stamps, expected_field = [], {}, {}
    for i in range(n):
        rec, ts = draw(valid_rows(i))
        kind = draw(st.none() | st.sampled_from(CORRUPTIONS))
        kept = [r["evidence_id"] for j, r in enumerate(rows) if j not in expected_field]
        broken = None if kind is None else corrupt(draw, kind, rec, kept)
        if broken is None:
            stamps[rec["evidence_id"]] = ts
        else:
            rec, expected_field[i] = broken
        rows.append(rec)
    return rows, stamps, expected_field


@given(batch=batches(), as_frame=st.booleans())
def test_validation_keeps_exactly_the_valid_rows_and_rejects_each_bad_one_once(batch, as_frame):
    rows, stamps, expected_field = batch
    data = pd.DataFrame(rows) if as_frame and rows else rows
    result = validate_evidence(
        data,
        competencies=COMPS,
        educators=["t1", "t2", "t3"],
        now=NOW,
        existing_ids=[f"old-ev{i}" for i in range(30)],
    )
    valid, rej = result.valid, result.rejections
    assert len(valid) + len(rej) == len(rows)
    assert set(valid["evidence_id"]) == set(stamps) and valid["evidence_id"].is_unique
    assert rej["row"].tolist() == sorted(expected_field)
    assert dict(zip(rej["row"], rej["field"], strict=True)) == expected_field
    assert rej["reason"].str.len().gt(0).all()
    # values survive normalization
    got = dict(zip(valid["evidence_id"], valid["observed_at"], strict=True))
    assert got == stamps
    assert valid["score_norm"].between(0, 1).all()
    assert (valid["proficient"] == (valid["score_norm"] >= DEFAULT_PROFICIENT_AT - 1e-9)).all()
    keys = list(zip(valid["observed_at"], valid["evidence_id"], strict=True))
    assert keys == sorted(keys)


def test_json_records_of_a_validated_frame_validate_to_the_same_frame():
    first = run([row(0, score=3), row(1, score=2.5, rater_id="r9"),
                 row(2, observed_at="2024-03-02T10:00:00.123456+02:00")]).valid
    records = to_json_records(first[list(EVIDENCE_COLUMNS)])
    assert json.loads(json.dumps(records)) == records  # plain JSON values only
    assert records[2]["observed_at"] == "2024-03-02T08:00:00.123456Z"
    assert records[0]["rater_id"] is None
    pd.testing.assert_frame_equal(run(records).valid, first)


def test_read_parquet_keeps_typed_columns_and_rejects_bad_rows(tmp_path):
    path = tmp_path / "ev.parquet"
    pd.DataFrame({
        "evidence_id": ["p1", "p2", "p3"], "educator_id": ["t1", "t1", "t2"],
        "competency_id": ["INS.FA", "INS.NOPE", "COG.AL"], "source": "observation",
        "score": [3.0, 3.0, 80.0], "scale_min": [1.0, 1.0, 0.0], "scale_max": [4.0, 4.0, 100.0],
        "observed_at": pd.to_datetime(["2024-03-01T10:00", "2024-03-01T11:00", "2024-03-02T00:00"]),
    }).to_parquet(path)  # naive timestamps are UTC
    result = read_evidence_parquet(path, competencies=COMPS, now=NOW)
    assert result.valid["evidence_id"].tolist() == ["p1", "p3"]
    assert result.valid.loc[0, "observed_at"] == pd.Timestamp("2024-03-01T10:00:00Z")
    assert result.valid["score_norm"].tolist() == pytest.approx([2 / 3, 0.8])
    assert result.rejections[["row", "field"]].values.tolist() == [[1, "competency_id"]]


def test_read_parquet_rejects_numeric_ids_row_by_row_and_names_a_broken_file(tmp_path):
    path = tmp_path / "ev.parquet"
    pd.DataFrame({"evidence_id": ["a", "b"], "educator_id": [17, 18],
                  "competency_id": "INS.FA", "source": "observation", "score": 3,
                  "observed_at": "2024-03-01T10:00:00Z"}).to_parquet(path)
    result = read_evidence_parquet(path, competencies=COMPS, now=NOW)
    assert result.valid.empty and set(result.rejections["reason"]) == {
        "educator_id must be a string; got a number"}
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(InvalidEvidenceError, match="cannot read evidence Parquet .*broken.parquet"):
        read_evidence_parquet(tmp_path / "broken.parquet", competencies=COMPS)
    pd.DataFrame({"evidence_id": ["a"]}).to_parquet(tmp_path / "short.parquet")
    with pytest.raises(InvalidEvidenceError, match=r"short.parquet: evidence is missing required"):
        read_evidence_parquet(tmp_path / "short.parquet", competencies=COMPS)


def test_read_evidence_file_picks_the_reader_by_suffix(tmp_path):
    rows = pd.DataFrame({"evidence_id": ["x1"], "educator_id": ["t1"], "competency_id": ["INS.FA"],
                         "source": ["observation"], "score": ["3"],
                         "observed_at": ["2024-03-01T10:00:00Z"]})
    rows.to_csv(tmp_path / "ev.CSV", index=False)
    rows.to_json(tmp_path / "ev.ndjson", orient="records", lines=True)
    rows.to_parquet(tmp_path / "ev.pq")
    for name in ("ev.CSV", "ev.ndjson", "ev.pq"):
        got = read_evidence_file(tmp_path / name, competencies=COMPS, now=NOW)
        assert got.valid["evidence_id"].tolist() == ["x1"] and got.rejections.empty, name
    with pytest.raises(InvalidEvidenceError, match=r"has suffix '.xlsx'; expected one of"):
        read_evidence_file(tmp_path / "ev.xlsx", competencies=COMPS)
    with pytest.raises(FileNotFoundError, match="no such evidence file"):
        read_evidence_file(tmp_path / "missing.csv", competencies=COMPS)
