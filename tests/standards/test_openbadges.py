"""Open Badges 2.0/3.0 to micro-credential evidence: the shared samples, alignments of every kind,
revoked/expired/unaligned badges, recipients, and generated untidy badges."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recommender.graph import default_framework
from recommender.standards.alignments import AlignmentIndex, competency_iri_id
from recommender.standards.case_export import export_case
from recommender.standards.crosswalk import default_crosswalk
from recommender.standards.openbadges import badges_to_evidence

STANDARDS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "standards"
SAMPLES = sorted([*STANDARDS.glob("openbadges2/*.json"), *STANDARDS.glob("openbadges3/*.json")])
needs_shared = pytest.mark.skipif(not SAMPLES, reason="../shared/data/standards absent")
GRAPH = default_framework("educator")
INDEX = AlignmentIndex(GRAPH, default_crosswalk(GRAPH), {"https://district.org/pd/fa": "INS.ELL"})
NOW = pd.Timestamp("2026-01-01T00:00:00Z")


def _map(badges, **kw):
    kw.setdefault("educator_id", None)
    return badges_to_evidence(badges, index=INDEX, scale=GRAPH.graph["scale"], now=NOW, **kw)


def ob2(**over):
    badge = {"@context": "https://w3id.org/openbadges/v2", "type": "Assertion",
             "id": "https://example.org/assertions/1",
             "recipient": {"type": "email", "identity": "alice@example.org"},
             "issuedOn": "2025-03-01T00:00:00Z",
             "badge": {"type": "BadgeClass", "id": "https://example.org/badges/q",
                       "name": "Questioning",
                       "alignment": [{"targetName": "Using Questioning and Discussion",
                                      "targetFramework": "Danielson Framework for Teaching",
                                      "targetCode": "3b"}]}}
    badge.update(over)
    return badge


def ob3(alignment, **over):
    badge = {"@context": ["https://www.w3.org/ns/credentials/v2"],
             "type": ["VerifiableCredential", "OpenBadgeCredential"], "id": "urn:uuid:b3",
             "validFrom": "2025-04-01T00:00:00Z",
             "credentialSubject": {"type": ["AchievementSubject"], "id": "did:example:bob",
                                   "achievement": {"id": "urn:uuid:ach", "type": ["Achievement"],
                                                   "alignment": alignment}}}
    badge.update(over)
    return badge


@needs_shared
@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: p.name[-60:])
def test_every_shared_sample_is_imported_or_rejected_with_a_reason(path):
    badge = json.loads(path.read_text(encoding="utf-8"))
    out = _map([badge], educator_id="T1")
    if out.records:
        assert out.rejections.empty and out.competencies[0]
    else:
        row = out.rejections.iloc[0]
        assert row["row"] == 0 and row["field"] and len(row["reason"]) > 20
        assert not row["reason"].startswith("could not be read")


@needs_shared
def test_the_shared_samples_fail_for_the_documented_reasons():
    by_name = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in SAMPLES}
    out = _map(list(by_name.values()), educator_id="T1")
    reasons = dict(zip([list(by_name)[r] for r in out.rejections["row"]],
                       out.rejections["reason"], strict=True))
    assert len(reasons) == len(by_name)  # none of them aligns to the educator framework
    basic = next(v for k, v in reasons.items() if k.endswith("ob20_basic-assertion.json"))
    assert "not in the request's objects" in basic
    assert all("not the award" in v for k, v in reasons.items() if "assets_" in k)
    complete = next(v for k, v in reasons.items() if k.endswith("ob30_complete.json"))
    assert "'1EdTech University Degree' maps to no competency" in complete


@needs_shared
def test_a_referenced_badgeclass_sent_alongside_is_used():
    assertion = json.loads((STANDARDS / "openbadges2" / next(
        p.name for p in SAMPLES if p.name.endswith("ob20_basic-assertion.json"))).read_text())
    cls = json.loads(next(p for p in SAMPLES if p.name.endswith("robotics-badge.json"))
                     .read_text())
    cls = {**cls, "alignment": [{"targetName": "Blended", "targetCode": "INS.BLENDED"}]}
    out = _map([assertion], educator_id="T9", objects=[cls])
    assert [r["competency_id"] for r in out.records] == ["INS.BLENDED"]
    assert out.records[0]["evidence_id"] == \
        "badge:https://example.org/beths-robotics-badge.json#INS.BLENDED"
    assert out.records[0]["observed_at"] == "2016-12-31T23:59:59Z"


def test_an_ob2_assertion_becomes_proficient_micro_credentials_on_crosswalked_competencies():
    out = _map([ob2()], recipients={"mailto:Alice@Example.org": "T-17"})
    assert [r["competency_id"] for r in out.records] == ["REL.LEARNER_AGENCY", "INS.FORMATIVE"]
    rec = out.records[0]
    assert (rec["educator_id"], rec["source"], rec["score"], rec["scale_max"]) == \
        ("T-17", "micro_credential", 3, 4)
    assert rec["observed_at"] == "2025-03-01T00:00:00Z"
    assert _map([ob2()], recipients={"alice@example.org": "T-17"}).records == out.records


def test_alignments_of_every_kind_map_to_competencies():
    case_id = next(i["identifier"] for i in export_case(GRAPH)["CFItems"]
                   if i.get("humanCodingScheme") == "INS.SWD")
    cases = [
        ({"targetUrl": "urn:pdrec:competency:INS.PERF_ASSESS"}, ["INS.PERF_ASSESS"]),
        ({"targetUrl": "https://pd.example/competencies/INS.BLENDED"}, ["INS.BLENDED"]),
        ({"targetUrl": "https://district.org/pd/fa"}, ["INS.ELL"]),
        ({"targetType": "CFItem", "targetUrl": f"https://case.x/CFItems/{case_id}"},
         ["INS.SWD"]),
        ({"targetCode": "intasc:10"}, list(default_crosswalk(GRAPH).competencies_for(
            "intasc", "10"))),
        ({"targetFramework": "InTASC Model Core Teaching Standards", "targetCode": "#6"},
         default_crosswalk(GRAPH).competencies_for("intasc", "6")),
        ({"targetCode": "COG.DATA_LIT"}, ["COG.DATA_LIT"]),
    ]
    for align, comps in cases:
        assert INDEX.resolve(align) == (comps, None), align
    assert competency_iri_id("urn:pdrec:competency:") is None


def test_unmapped_alignments_are_listed_on_an_accepted_badge():
    out = _map([ob3([{"targetName": "Degree", "targetCode": "degree"},
                     {"targetCode": "danielson:4c"}])], educator_id="T1")
    assert out.competencies[0] == ["REL.FAMILY_COMMUNITY"]
    assert "'Degree' maps to no competency" in out.unmapped[0][0]


@pytest.mark.parametrize("badge, field, words", [
    (ob2(revoked=True, revocationReason="issued in error"), "revoked", ["revoked", "in error"]),
    (ob2(expires="2025-06-01T00:00:00Z"), "expires", ["expired at 2025-06-01"]),
    (ob3([{"targetCode": "INS.ELL"}], validUntil="2025-12-31T23:59:59Z"), "validUntil",
     ["expired"]),
    (ob2(issuedOn="yesterday"), "issuedOn", ["'yesterday'", "ISO 8601"]),
    (ob2(issuedOn=None), "issuedOn", ["missing"]),
    (ob2(badge={"type": "BadgeClass", "id": "x", "name": "n"}), "badge.alignment",
     ["no alignment"]),
    (ob2(badge="https://example.org/badges/elsewhere"), "badge", ["no network fetches"]),
    (ob3([{"targetCode": "danielson:2e"}]), "credentialSubject.achievement.alignment",
     ["Organizing Physical Space", "maps to no competency"]),
    (ob3([{"targetCode": "danielson:9z"}]), "credentialSubject.achievement.alignment",
     ["danielson:9z is not a code"]),
    ({"type": "BadgeClass", "id": "x"}, "type", ["BadgeClass is not the award"]),
    ({"type": ["VerifiableCredential", "EndorsementCredential"]}, "type",
     ["EndorsementCredential is not the award"]),
    ({"type": "Thing"}, "type", ["'Thing'", "expected an Open Badges"]),
    ("a string", "badge", ["JSON object"]),
    (ob2(recipient={"type": "email", "identity": "mallory@example.org"}), "recipient.identity",
     ["'mallory@example.org'", "matches no key"]),
])
def test_bad_badges_are_rejected_with_the_field_and_a_reason(badge, field, words):
    out = _map([badge, ob2(id="https://example.org/assertions/ok")],
               recipients={"alice@example.org": "T1", "did:example:bob": "T2"})
    rej = out.rejections
    assert rej["row"].tolist() == [0], rej
    assert rej["field"].iloc[0] == field
    assert all(w in rej["reason"].iloc[0] for w in words), rej["reason"].iloc[0]
    assert set(out.origin) == {1}  # the good badge still maps


def test_hashed_recipients_and_ob3_identifiers_match_by_hashing_the_keys():
    digest = hashlib.sha256(b"carol@example.org" + b"pepper").hexdigest()
    hashed = ob2(recipient={"type": "email", "hashed": True, "salt": "pepper",
                            "identity": f"sha256${digest}"})
    ident = ob3([{"targetCode": "INS.ELL"}])
    del ident["credentialSubject"]["id"]
    ident["credentialSubject"]["identifier"] = [
        {"type": "IdentityObject", "identityType": "emailAddress", "hashed": False,
         "identityHash": "dan@example.org", "salt": "not-used"}]
    direct = ob3([{"targetCode": "INS.ELL"}], id="urn:uuid:b4")
    direct["credentialSubject"]["id"] = "urn:pdrec:educator:T-5"
    out = _map([hashed, ident, direct], recipients={"carol@example.org": "T-3",
                                                    "dan@example.org": "T-4"})
    assert out.rejections.empty
    assert out.educators == {0: "T-3", 1: "T-4", 2: "T-5"}


def test_a_badge_without_id_gets_a_stable_hashed_evidence_id():
    badge = ob2()
    del badge["id"]
    first = _map([badge], educator_id="T1").records[0]["evidence_id"]
    assert first.startswith("badge:sha256:") and first.endswith("#REL.LEARNER_AGENCY")
    assert _map([copy.deepcopy(badge)], educator_id="T1").records[0]["evidence_id"] == first


_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=6),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=8)
_align = st.one_of(_json, st.fixed_dictionaries({}, optional={
    "targetCode": st.sampled_from(["danielson:3b", "3b", "intasc:#7", "INS.ELL", "x", "", 5]),
    "targetFramework": st.sampled_from(["Danielson", "InTASC", "Other", None]),
    "targetUrl": st.sampled_from(["urn:pdrec:competency:INS.SWD", "https://a/competencies/NO",
                                  "http://[bad", "", None])}))


@st.composite
def untidy_badge(draw):
    base = draw(st.sampled_from(["ob2", "ob3", "json"]))
    if base == "json":
        return draw(_json)
    alignment = draw(st.one_of(st.lists(_align, max_size=3), _align))
    badge = ob2() if base == "ob2" else ob3(alignment)
    if base == "ob2":
        badge["badge"]["alignment"] = alignment
    for key in draw(st.lists(st.sampled_from(
            ["id", "issuedOn", "validFrom", "recipient", "credentialSubject", "type",
             "expires", "validUntil", "revoked", "badge"]), max_size=3)):
        badge[key] = draw(_json)
    return badge


@settings(max_examples=150, deadline=None)
@given(st.lists(untidy_badge(), max_size=6), st.booleans())
def test_untidy_badges_never_crash_and_each_is_mapped_or_reported(badges, default):
    out = _map(badges, educator_id="T1" if default else None,
               recipients={"alice@example.org": "T2", "did:example:bob": "T3"})
    rejected = out.rejections["row"].tolist()
    assert len(set(rejected)) == len(rejected)
    assert set(rejected).isdisjoint(out.origin)
    assert set(rejected) | set(out.origin) == set(range(len(badges)))
    assert not any(r.startswith("could not be read") for r in out.rejections["reason"])
    assert all(r["competency_id"] in GRAPH for r in out.records)
