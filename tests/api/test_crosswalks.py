"""GET /v1/crosswalks and evidence coded by Danielson components or InTASC standards, through
the real app."""

from __future__ import annotations

from tests.api.conftest import record


def test_the_api_serves_the_crosswalk_and_each_scheme(api):
    body = api.get("/v1/crosswalks").json()
    assert body["framework"] == "educator" and body["schemes"] == ["danielson", "intasc"]
    assert body["mappings"]["INS.FORMATIVE"] == {"danielson": ["3b", "3d"], "intasc": ["6"]}
    assert "INT.SELF_MANAGEMENT" in body["unmapped"]
    fft = api.get("/v1/crosswalks/FFT").json()
    assert fft["scheme"] == "danielson" and len(fft["codes"]) == 22
    codes = {c["code"]: c for c in fft["codes"]}
    assert codes["2e"] == {"code": "2e", "name": "Organizing Physical Space", "competencies": []}
    assert "INS.FORMATIVE" in codes["3b"]["competencies"]
    r = api.get("/v1/crosswalks/marzano")
    assert r.status_code == 404 and "danielson, intasc" in r.text
    assert api.client.get("/v1/crosswalks").status_code == 401


def test_a_danielson_coded_record_lands_on_the_mapped_competencies(api):
    coded = record(1, competency=None, framework_code="danielson:2a")
    coded.pop("competency_id")
    rubric = record(2, competency="danielson:3b")  # a rubric export: the code in competency_id
    r = api.post("/v1/evidence", json={"records": [coded, rubric, record(3)]})
    assert r.status_code == 200, r.text
    body = r.json()
    expected = ["INT.EQUITY_ORIENTATION", "REL.STUDENT_RELATIONSHIPS",
                "INS.CULTURALLY_RESPONSIVE"]
    first = [o for o in body["outcomes"] if o["index"] == 0]
    assert [o["evidence_id"] for o in first] == [f"e1#{c}" for c in expected]
    assert all(o["status"] == "accepted" and o["framework_code"] == "danielson:2a"
               for o in first)
    second = [o["evidence_id"] for o in body["outcomes"] if o["index"] == 1]
    assert second == ["e2#REL.LEARNER_AGENCY", "e2#INS.FORMATIVE"]
    assert body["accepted"] == 6 and body["rejected"] == 0
    assert api.services.store.count_evidence("acme") == 6
    hist = api.services.store.evidence_frame("acme", ["T1"])
    assert set(hist.loc[hist["evidence_id"].str.startswith("e1#"), "competency_id"]) == \
        set(expected)
    again = api.post("/v1/evidence", json={"records": [coded]}).json()
    assert again["duplicate"] == 3 and again["accepted"] == 0  # derived ids are stable


def test_unknown_and_unmapped_codes_are_rejected_naming_the_code(api):
    bad = [record(1, framework_code="danielson:9z"), record(2, framework_code="danielson:2e"),
           record(3, competency="intasc:42")]
    for b in bad[:2]:
        b.pop("competency_id")
    r = api.post("/v1/evidence", json={"records": [*bad, record(4)]})
    body = r.json()
    assert body["rejected"] == 3 and body["accepted"] == 1
    out = {o["index"]: o for o in body["outcomes"]}
    assert out[0]["field"] == "framework_code" and "'danielson:9z'" in out[0]["reason"]
    assert "Organizing Physical Space" in out[1]["reason"] and out[1]["value"] == "danielson:2e"
    assert out[2]["field"] == "competency_id" and "'intasc:42'" in out[2]["reason"]
    assert out[3]["status"] == "accepted"
    assert api.services.store.count_evidence("acme") == 1


def test_each_framework_graph_gets_its_own_crosswalk(api):
    from api.crosswalks import crosswalk_of, crosswalk_problem
    from recommender.graph import default_framework

    assert crosswalk_of(api.services).framework == "educator"
    leader = default_framework("leader")
    assert crosswalk_of(api.services, leader) is None
    assert crosswalk_problem(api.services, leader) == "framework 'leader' has no crosswalk"
