"""Explanations that cite: the evidence behind an estimate and what it rests on, in words."""

from __future__ import annotations

from datetime import UTC, datetime

import hypothesis.strategies as st
import networkx as nx
import numpy as np
import pandas as pd
import pytest
from hypothesis import given

from recommender.catalog import build_catalog
from recommender.explain import (
    Citation,
    Contribution,
    cite_evidence,
    cite_recommendations,
    describe_contributions,
)
from recommender.ranking import rank_activities

G = nx.DiGraph()
G.add_node("AL", name="Assessment literacy", domain="cognitive")
G.add_node("FA", name="Formative assessment", domain="instructional")
G.add_node("DDI", name="Data-driven instruction", domain="instructional")
G.add_edge("AL", "FA")
G.add_edge("FA", "DDI")
CAT = build_catalog({"activities": [
    {"id": "PLC", "title": "Formative assessment PLC cycle", "format": "plc_cycle",
     "competencies": {"FA": 1.0}, "hours": 10, "modality": "in_person", "level": "developing",
     "expected_gain": 0.1},
    {"id": "AL1", "title": "Assessment literacy course", "format": "course",
     "competencies": {"AL": 1.0}, "hours": 6, "modality": "online", "level": "developing",
     "expected_gain": 0.1},
]}, G)


def evidence(rows: list[tuple]) -> pd.DataFrame:
    """Rows ``(id, educator, competency, source, score, scale_max, date[, proficient])``."""
    return pd.DataFrame({
        "evidence_id": [r[0] for r in rows], "educator_id": [r[1] for r in rows],
        "competency_id": [r[2] for r in rows], "source": [r[3] for r in rows],
        "score": [float(r[4]) for r in rows], "scale_min": [1.0] * len(rows),
        "scale_max": [float(r[5]) for r in rows],
        "observed_at": pd.to_datetime([r[6] for r in rows], utc=True),
        "rater_id": [f"R{i}" for i in range(len(rows))],
        "proficient": [bool(r[7]) if len(r) > 7 else r[4] >= 3 for r in rows],
    })


EV = evidence([
    ("o1", "T1", "FA", "observation", 2, 4, "2026-08-01"),
    ("o2", "T1", "FA", "observation", 2, 4, "2026-10-02"),
    ("o3", "T1", "FA", "observation", 2.3, 4, "2026-09-01"),
    ("m1", "T1", "FA", "micro_credential", 3, 4, "2026-07-01"),
    ("s1", "T1", "AL", "student_growth", 70, 100, "2026-05-01"),
    ("x1", "T2", "FA", "observation", 4, 4, "2026-11-01"),
])


def test_without_influence_the_newest_records_are_cited_first_at_most_k():
    cited = cite_evidence(EV, "T1", ["FA", "DDI"], k=3)
    assert [c.evidence_id for c in cited["FA"]] == ["o2", "o3", "o1"]
    assert cited["DDI"] == []
    first = cited["FA"][0]
    assert first == Citation("o2", "observation", 2.0, 1.0, 4.0,
                             datetime(2026, 10, 2, tzinfo=UTC), "R1", None)


def test_with_influence_the_most_influential_come_first_and_nan_last():
    influence = pd.Series([0.1, np.nan, 0.5, 0.2, 0.3, 9.0], index=EV.index)
    cited = cite_evidence(EV, "T1", ["FA"], influence=influence)
    assert [c.evidence_id for c in cited["FA"]] == ["o3", "m1", "o1", "o2"]
    assert cited["FA"][0].influence == pytest.approx(0.5)
    assert cited["FA"][-1].influence is None


def test_influence_is_matched_by_the_evidence_index_not_by_position():
    frame = EV.set_index(pd.Index([10, 11, 12, 13, 14, 15]))
    influence = pd.Series([0.5, 0.1], index=[12, 10])  # o3, o1; the others unmeasured
    cited = cite_evidence(frame, "T1", ["FA"], influence=influence)
    assert [c.evidence_id for c in cited["FA"]] == ["o3", "o1", "o2", "m1"]


def test_bad_inputs_are_refused_naming_what_was_expected():
    with pytest.raises(ValueError, match=r"k must be an integer >= 1 .*got 0"):
        cite_evidence(EV, "T1", ["FA"], k=0)
    with pytest.raises(ValueError, match=r"missing column\(s\) \['observed_at'\]"):
        cite_evidence(EV.drop(columns="observed_at"), "T1", ["FA"])
    with pytest.raises(TypeError, match="influence must be a pandas Series"):
        cite_evidence(EV, "T1", ["FA"], influence=[0.1] * len(EV))


def test_contributions_read_as_a_coach_says_them_most_important_first():
    done = pd.DataFrame({"educator_id": ["T1", "T2"], "activity_id": ["PLC", "PLC"],
                         "completed_at": ["2026-09-12T15:00:00Z", "2026-09-13T15:00:00Z"]})
    out = describe_contributions(EV, "T1", ["FA", "DDI"], graph=G, mastery={"AL": 0.59},
                                 completions=done, catalog=CAT)
    assert [c.text for c in out["FA"]] == [
        "3 observation scores averaging 2.1 of 4 (latest 2026-10-02)",
        "1 micro-credential: proficient (2026-07-01)",
        "completed 'Formative assessment PLC cycle' on 2026-09-12",
        "prerequisite Assessment literacy at 0.59",
    ]
    assert [c.kind for c in out["FA"]] == ["evidence", "evidence", "completion", "prerequisite"]
    assert out["FA"][0].value == pytest.approx(2.1, abs=0.001)
    assert out["DDI"] == [Contribution("prerequisite", "prerequisite Formative assessment at 0.00",
                                       "DDI", 0.0)]


def test_each_record_keeps_its_own_scale_and_k_caps_the_list():
    ev = evidence([("g1", "T1", "AL", "student_growth", 70, 100, "2026-05-01"),
                   ("g2", "T1", "AL", "student_growth", 3, 5, "2026-06-01"),
                   ("g3", "T1", "AL", "student_growth", 80, 100, "2026-04-01")])
    out = describe_contributions(ev, "T1", ["AL"], graph=G, mastery={}, k=2)
    assert [c.text for c in out["AL"]] == [
        "2 student-growth measures averaging 75.0 of 100 (latest 2026-05-01)",
        "1 student-growth measure: 3 of 5 (2026-06-01)",
    ]


def test_cite_recommendations_fills_every_target_and_the_ids():
    recs = rank_activities(G, CAT, {"AL": 0.59, "FA": 0.3, "DDI": 0.1})
    cited = cite_recommendations(recs, EV, "T1", graph=G, mastery={"AL": 0.59, "FA": 0.3})
    for before, after in zip(recs, cited, strict=True):
        assert before.explanation["evidence_ids"] == []  # the input is not changed
        for t in after.explanation["targets"]:
            own = set(EV.loc[(EV.educator_id == "T1") & (EV.competency_id == t["competency_id"]),
                             "evidence_id"])
            assert {e["evidence_id"] for e in t["evidence"]} <= own
            assert t["contributions"]
        assert after.explanation["evidence_ids"] == [
            e["evidence_id"] for t in after.explanation["targets"] for e in t["evidence"]]
        assert after.explanation["top_contributions"][0] == \
            after.explanation["targets"][0]["contributions"][0]


# -- property: every cited record exists, is the educator's and the competency's ----------------
EDUCATORS = ("T1", "T2", "T3")
COMPS = ("AL", "FA", "DDI")


@st.composite
def evidence_sets(draw):
    n = draw(st.integers(0, 30))
    rows = []
    for i in range(n):
        scale_max = draw(st.sampled_from([4.0, 5.0, 100.0]))
        rows.append({
            "evidence_id": f"ev{i}", "educator_id": draw(st.sampled_from(EDUCATORS)),
            "competency_id": draw(st.sampled_from(COMPS)),
            "source": draw(st.sampled_from(["observation", "micro_credential", "peer_review"])),
            "score": draw(st.floats(1, scale_max)), "scale_min": 1.0, "scale_max": scale_max,
            "observed_at": pd.Timestamp("2025-01-01", tz="UTC")
            + pd.Timedelta(days=draw(st.integers(0, 30))),  # many ties: order must break them
            "proficient": draw(st.booleans())})
    frame = pd.DataFrame(rows, columns=["evidence_id", "educator_id", "competency_id", "source",
                                        "score", "scale_min", "scale_max", "observed_at",
                                        "proficient"])
    influence = None
    if draw(st.booleans()):
        influence = pd.Series(
            [draw(st.one_of(st.just(np.nan), st.floats(0, 3))) for _ in range(n)],
            index=frame.index, dtype=float)
    return frame, influence


@given(evidence_sets(), st.sampled_from(EDUCATORS),
       st.lists(st.sampled_from(COMPS), min_size=1, max_size=3), st.integers(1, 6))
def test_cited_records_exist_belong_and_are_ordered(case, educator, comps, k):
    frame, influence = case
    cited = cite_evidence(frame, educator, comps, influence=influence, k=k)
    assert set(cited) == set(comps)
    by_id = frame.set_index("evidence_id")
    inf = (pd.Series(np.nan, index=frame["evidence_id"]) if influence is None
           else pd.Series(influence.to_numpy(), index=frame["evidence_id"]))
    for c, items in cited.items():
        own = by_id[(by_id["educator_id"] == educator) & (by_id["competency_id"] == c)]
        assert len(items) == min(k, len(own))
        assert len({x.evidence_id for x in items}) == len(items)
        for x in items:
            assert x.evidence_id in own.index  # exists, this educator's, this competency's
            assert x.score == own.at[x.evidence_id, "score"]
        keys = [(-inf[x.evidence_id] if not np.isnan(inf[x.evidence_id]) else np.inf,
                 -x.observed_at.timestamp(), x.evidence_id) for x in items]
        assert keys == sorted(keys)  # influence, then recency, then id
        if items:  # nothing left out outranks the last one cited
            rest = own.index.difference([x.evidence_id for x in items])
            worst = keys[-1]
            assert all((-inf[e] if not np.isnan(inf[e]) else np.inf,
                        -own.at[e, "observed_at"].timestamp(), e) > worst for e in rest)
