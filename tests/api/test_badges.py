"""POST /v1/evidence/badges through the real app: good and bad badges in one request, the shared
samples, idempotency and the OpenAPI schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.standards.test_openbadges import ob2, ob3

STANDARDS = Path(__file__).resolve().parents[3] / "shared" / "data" / "standards"
SAMPLES = sorted([*STANDARDS.glob("openbadges2/*.json"), *STANDARDS.glob("openbadges3/*.json")])


def test_good_and_bad_badges_in_one_request(api):
    badges = [ob2(), ob3([{"targetCode": "danielson:4c"}, {"targetName": "Degree"}]),
              ob2(id="https://example.org/assertions/2", revoked=True),
              ob3([{"targetCode": "INS.ELL"}], id="urn:uuid:old",
                  validUntil="2020-01-01T00:00:00Z"),
              "not a badge"]
    r = api.post("/v1/evidence/badges", json={
        "badges": badges, "recipients": {"alice@example.org": "T-17", "did:example:bob": "T-18"}})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["rejected"], body["educators_updated"]) == (2, 3, 2)
    out = {o["index"]: o for o in body["outcomes"]}
    assert out[0]["evidence_ids"] == ["badge:https://example.org/assertions/1#REL.LEARNER_AGENCY",
                                      "badge:https://example.org/assertions/1#INS.FORMATIVE"]
    assert out[0]["educator_id"] == "T-17"
    assert out[1]["competencies"] == ["REL.FAMILY_COMMUNITY"]
    assert "maps to no competency" in out[1]["unmapped_alignments"][0]
    assert out[2]["field"] == "revoked" and out[3]["field"] == "validUntil"
    assert out[4]["field"] == "badge" and out[4]["value"] == "not a badge"
    hist = api.services.store.evidence_frame("acme", ["T-17", "T-18"])
    assert set(hist["source"]) == {"micro_credential"} and len(hist) == 3
    assert hist["proficient"].all()
    again = api.post("/v1/evidence/badges", json={"badges": badges[:1],
                                                  "educator_id": "T-17"}).json()
    assert again["duplicate"] == 1 and again["outcomes"][0]["status"] == "duplicate"
    problems = api.post("/v1/evidence/badges?report=problems",
                        json={"badges": badges[:3], "educator_id": "T-17"}).json()
    # badge 1 was stored for T-18 (its recipient); sent now for T-17 it is a conflict
    assert [(o["index"], o["status"]) for o in problems["outcomes"]] == [
        (0, "duplicate"), (1, "conflict"), (2, "rejected")]
    assert "educator_id" in problems["outcomes"][1]["reason"]


@pytest.mark.skipif(not SAMPLES, reason="../shared/data/standards absent")
def test_every_shared_sample_gets_an_outcome_through_the_app(api):
    badges = [json.loads(p.read_text(encoding="utf-8")) for p in SAMPLES]
    r = api.post("/v1/evidence/badges", json={"badges": badges, "educator_id": "T1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [o["index"] for o in body["outcomes"]] == list(range(len(badges)))
    assert body["rejected"] == len(badges)  # none aligns to the educator framework
    assert all(o["reason"] and o["field"] for o in body["outcomes"])


def test_badge_batch_limits_auth_and_schema(make_api):
    with make_api(max_batch=2) as api:
        r = api.post("/v1/evidence/badges", json={"badges": [ob2()] * 3, "educator_id": "T1"})
        assert r.status_code == 413 and "PDREC_MAX_BATCH" in r.text
        assert api.post("/v1/evidence/badges", json={"badges": "x"}).status_code == 422
        assert api.client.post("/v1/evidence/badges", json={"badges": []}).status_code == 401
        schema = api.client.get("/openapi.json").json()
        op = schema["paths"]["/v1/evidence/badges"]["post"]
        assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"] \
            .endswith("BadgeBatchOut")
        assert "BadgeOutcome" in schema["components"]["schemas"]
