"""The evidence firewall's pure logic: policy validation, the per-row masks and reasons, and
the log label."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from recommender.evidence.contract import SOURCES
from recommender.firewall import (
    DEFAULT_POLICY,
    READERS,
    EvidenceFirewall,
    EvidencePolicyError,
    build_policy,
    check_sources,
    decision_mask,
    exclusions,
)

EDUCATORS = ["A", "B", "C"]
_frames = st.lists(st.tuples(st.sampled_from(EDUCATORS), st.sampled_from(SOURCES)),
                   max_size=30).map(lambda rows: pd.DataFrame(
                       rows, columns=["educator_id", "source"], dtype=object).assign(
                       score_norm=lambda f: range(len(f))))
_blocked = st.sets(st.sampled_from(SOURCES))
_withdrawn = st.dictionaries(st.sampled_from(EDUCATORS), st.frozensets(st.sampled_from(SOURCES)))


def _policy(blocked, version=1):
    return build_policy({"sources": {s: {"feeds_decisions": False} for s in blocked}}, version)


def test_the_default_policy_is_todays_behaviour():
    ev = pd.DataFrame({"educator_id": ["A", "B"], "source": ["self_assessment", "observation"]})
    assert decision_mask(ev, DEFAULT_POLICY, {}).all()
    assert exclusions(ev, DEFAULT_POLICY, {}).isna().all()
    for role in (*READERS, "platform"):
        assert DEFAULT_POLICY.readable(role) == frozenset(SOURCES)
    assert build_policy({}) == DEFAULT_POLICY == build_policy({"sources": {}})
    assert EvidenceFirewall().label("A") == "p0"


def test_the_policy_wins_over_consent_and_rows_keep_their_index():
    ev = pd.DataFrame({"educator_id": ["A", "A", "B", "B"],
                       "source": ["self_assessment", "observation", "observation",
                                  "student_growth"]}, index=[10, 11, 12, 13])
    fw = EvidenceFirewall(_policy({"self_assessment"}),
                          {"A": frozenset({"self_assessment"}), "B": frozenset({"observation"})})
    assert fw.exclusions(ev).to_dict() == {10: "policy", 11: None, 12: "consent", 13: None}
    used = fw.used(ev)
    assert used["source"].tolist() == ["observation", "student_growth"]
    assert used.index.tolist() == [0, 1]


def test_a_bad_policy_names_every_field_value_and_expectation():
    doc = {"sources": {"gossip": {}, "observation": {"feeds_decisions": "no",
                                                     "readers": ["admin", "boss"], "x": 1},
                       "peer_review": []}, "extra": True}
    with pytest.raises(EvidencePolicyError) as err:
        build_policy(doc)
    fields = {f for f, _, _ in err.value.problems}
    assert fields == {"extra", "sources.gossip", "sources.observation.feeds_decisions",
                      "sources.observation.readers[1]", "sources.observation.x",
                      "sources.peer_review"}
    with pytest.raises(EvidencePolicyError, match="sources"):
        build_policy({"sources": ["observation"]})
    with pytest.raises(EvidencePolicyError):
        build_policy(["not", "an", "object"])


def test_readers_limit_what_a_role_reads_and_platform_reads_as_admin():
    p = build_policy({"sources": {"self_assessment": {"readers": ["educator"]},
                                  "student_growth": {"readers": ["admin", "coach"]}}})
    assert "self_assessment" not in p.readable("coach") | p.readable("admin")
    assert "self_assessment" in p.readable("educator")
    assert "student_growth" not in p.readable("educator")
    assert p.readable("platform") == p.readable("admin")
    assert p.blocked == frozenset()


def test_check_sources_keeps_known_sources_in_contract_order_or_names_the_bad_ones():
    assert check_sources(["student_growth", "observation", "observation"], "w") == [
        "observation", "student_growth"]
    with pytest.raises(EvidencePolicyError) as err:
        check_sources(["observation", "rumour", 3], "withdrawn")
    assert [f for f, _, _ in err.value.problems] == ["withdrawn[1]", "withdrawn[2]"]
    with pytest.raises(EvidencePolicyError):
        check_sources("observation", "withdrawn")


@given(_frames, _blocked, _withdrawn)
def test_used_rows_are_exactly_those_an_oracle_keeps(ev, blocked, withdrawn):
    fw = EvidenceFirewall(_policy(blocked), withdrawn)
    keep = [s not in blocked and s not in withdrawn.get(e, frozenset())
            for e, s in zip(ev["educator_id"], ev["source"], strict=True)]
    assert fw.mask(ev).tolist() == keep
    why = fw.exclusions(ev)
    assert (why.isna().to_numpy() == fw.mask(ev)).all()
    assert set(why.dropna()) <= {"policy", "consent"}
    assert (why == "policy").tolist() == ev["source"].isin(blocked).tolist()
    assert fw.used(ev)["score_norm"].tolist() == ev["score_norm"][keep].tolist()


@given(_blocked, st.integers(0, 10**9), st.frozensets(st.sampled_from(SOURCES)))
def test_the_policy_document_round_trips_and_the_label_fits_the_log(blocked, version, gone):
    p = _policy(blocked, version)
    assert build_policy(p.document(), version) == p
    label = EvidenceFirewall(p, {"A": gone}).label("A")
    assert len(label) <= 64 and label.startswith(f"p{version}")
    assert ("+c" in label) == bool(gone)
    assert label == EvidenceFirewall(p, {"A": frozenset(sorted(gone))}).label("A")
