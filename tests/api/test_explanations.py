"""Explanations that cite, through the real app: each target lists the educator's own evidence."""

from __future__ import annotations

from api.schemas import BatchRecommendationsOut, RecommendationsOut
from tests.api.conftest import record


def _records(api) -> list[dict]:
    """T1 has four records on two competencies; T2 one; T3 none (only goals)."""
    recs = [record(1, competency="INS.FORMATIVE", score=2, day=1),
            record(2, competency="INS.FORMATIVE", score=3, day=5, rater_id="R-1"),
            record(3, competency="COG.ASSESS_LIT", score=2, day=3),
            {**record(4, competency="INS.FORMATIVE", day=7), "source": "micro_credential"},
            record(5, educator="T2", competency="INS.FORMATIVE", score=4, day=2)]
    r = api.post("/v1/evidence", json={"records": recs})
    assert r.status_code == 200 and r.json()["accepted"] == len(recs), r.text
    api.put("/v1/educators/T3", json={"goals": ["INS.FORMATIVE"]})
    return recs


def _stored(recs: list[dict], educator: str, competency: str) -> set[str]:
    return {r["evidence_id"] for r in recs
            if r["educator_id"] == educator and r["competency_id"] == competency}


def test_an_educator_with_evidence_gets_citations_of_their_own_records(api):
    recs = _records(api)
    api.put("/v1/educators/T1", json={"goals": ["INS.FORMATIVE"]})
    r = api.get("/v1/educators/T1/recommendations", params={"k": 10, "explain": True})
    assert r.status_code == 200, r.text
    body = RecommendationsOut.model_validate(r.json())  # the documented, typed schema
    services = api.client.app.state.services
    moved = services.mastery.influence("acme", services.store.get_educator("acme", "T1"))
    assert set(moved.index) == {x["evidence_id"] for x in recs if x["educator_id"] == "T1"}
    assert (moved > 0).all()  # without a model every record is filtered, each moves its belief
    cited_any = False
    for item in body.items:
        ex = item.explanation
        for t in ex.targets:
            own = _stored(recs, "T1", t.competency_id)
            assert {c.evidence_id for c in t.evidence} == own  # all of them: fewer than 5
            cited = [c.evidence_id for c in t.evidence]
            assert cited == sorted(cited, key=lambda i: -moved[i])  # most influential first
            assert all(c.competency_id == t.competency_id for c in t.contributions)
            assert bool(t.evidence) <= any(c.kind == "evidence" for c in t.contributions)
            cited_any |= bool(t.evidence)
        assert ex.evidence_ids == list(dict.fromkeys(
            c.evidence_id for t in ex.targets for c in t.evidence))
    assert cited_any
    target = next(t for i in body.items for t in i.explanation.targets
                  if t.competency_id == "INS.FORMATIVE")
    assert [c.text for c in target.contributions][:2] == [
        "2 observation scores averaging 2.5 of 4 (latest 2025-03-05)",
        "1 micro-credential: proficient (2025-03-07)"]
    obs = next(c for c in target.evidence if c.evidence_id == "e2")
    assert (obs.source, obs.score, obs.scale_min, obs.scale_max, obs.rater_id) == (
        "observation", 3.0, 1.0, 4.0, "R-1")


def test_an_educator_without_evidence_gets_empty_citations_not_an_error(api):
    _records(api)
    r = api.get("/v1/educators/T3/recommendations", params={"explain": True})
    assert r.status_code == 200, r.text
    body = RecommendationsOut.model_validate(r.json())
    assert body.items
    for item in body.items:
        assert item.explanation.evidence_ids == []
        assert all(t.evidence == [] for t in item.explanation.targets)
        # what the estimate rests on is still said: the prerequisites
        assert all(c.kind == "prerequisite" for t in item.explanation.targets
                   for c in t.contributions)


def test_a_cached_answer_keeps_its_citations_and_a_write_refreshes_them(api):
    recs = _records(api)
    first = api.get("/v1/educators/T2/recommendations", params={"explain": True}).json()
    again = api.get("/v1/educators/T2/recommendations", params={"explain": True}).json()
    assert first["items"] == again["items"]
    new = record(9, educator="T2", competency="INS.FORMATIVE", score=1, day=20)
    assert api.post("/v1/evidence", json={"records": [new]}).json()["accepted"] == 1
    after = api.get("/v1/educators/T2/recommendations", params={"explain": True}).json()
    cited = {c["evidence_id"] for i in after["items"] for t in i["explanation"]["targets"]
             for c in t["evidence"]}
    assert cited <= _stored([*recs, new], "T2", "INS.FORMATIVE")


def test_batch_explains_on_request_and_stays_lean_without(api):
    recs = _records(api)
    body = {"educator_ids": ["T1", "T3", "NOPE"], "k": 3}
    plain = BatchRecommendationsOut.model_validate(
        api.post("/v1/recommendations:batch", json=body).json())
    assert all(i.explanation is None for res in plain.results for i in res.items)
    r = api.post("/v1/recommendations:batch", params={"explain": True}, json=body)
    assert r.status_code == 200, r.text
    explained = BatchRecommendationsOut.model_validate(r.json())
    assert explained.not_found == ["NOPE"]
    for p_res, e_res in zip(plain.results, explained.results, strict=True):
        assert [i.activity_id for i in p_res.items] == [i.activity_id for i in e_res.items]
        for item in e_res.items:
            assert item.reason
            for t in item.explanation.targets:
                assert {c.evidence_id for c in t.evidence} <= _stored(
                    recs, e_res.educator_id, t.competency_id)


def test_openapi_documents_the_typed_explanation_with_an_example(api):
    spec = api.client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    for name in ("Explanation", "TargetExplanation", "CitedEvidence", "Contribution"):
        assert name in schemas
    assert schemas["Explanation"]["examples"][0]["targets"][0]["evidence"]
    item = schemas["RecommendationItem"]["properties"]["explanation"]
    assert "Explanation" in str(item)
