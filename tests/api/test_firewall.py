"""The evidence firewall through the real app (docs/firewall.md): the tenant's policy, an
educator's consent, what each changes at once, what stays stored, what the log records, who
reads what, and tenant isolation; on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.api.conftest import record


def _seed(api) -> list[dict]:
    """T1: two low observations and two high self-assessments on INS.FORMATIVE."""
    recs = [record(1, score=1, day=1), record(2, score=2, day=2),
            {**record(3, score=4, day=3), "source": "self_assessment"},
            {**record(4, score=4, day=4), "source": "self_assessment"}]
    r = api.post("/v1/evidence", json={"records": recs})
    assert r.status_code == 200 and r.json()["accepted"] == 4, r.text
    api.put("/v1/educators/T1", json={"goals": ["INS.FORMATIVE"]})
    return recs


def _p(api, who="platform"):
    r = api.get("/v1/educators/T1/mastery", who)
    assert r.status_code == 200, r.text
    return {c["competency_id"]: c["p_mastery"] for c in r.json()["competencies"]}[
        "INS.FORMATIVE"]


def _log(api):
    api.services.audit.flush()
    return api.services.store.recommendation_log("acme", "T1")


def test_a_withdrawal_changes_every_answer_at_once_and_the_evidence_stays(api_any):
    api = api_any
    _seed(api)
    before = _p(api)
    recs = api.get("/v1/educators/T1/recommendations", params={"explain": True})
    assert recs.status_code == 200
    cited = {c for it in recs.json()["items"] for c in it["explanation"]["evidence_ids"]}
    assert {"e3", "e4"} & cited  # the self-assessments are cited while used
    r = api.put("/v1/educators/T1/consent", "admin", json={"withdrawn": ["self_assessment"]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["changed"] == ["self_assessment"] and body["policy_version"] == 0
    row = {s["source"]: s for s in body["sources"]}["self_assessment"]
    assert row["withdrawn"] is True and row["by"] and row["changed_at"]
    assert _p(api) < before  # at once: only the low observations count now
    again = api.get("/v1/educators/T1/recommendations", params={"explain": True}).json()
    cited = {c for it in again["items"] for c in it["explanation"]["evidence_ids"]}
    assert not {"e3", "e4"} & cited
    listed = api.get("/v1/educators/T1/evidence").json()
    assert listed["count"] == 4 and listed["hidden"] == 0  # stored for the record
    assert {x["evidence_id"]: x["excluded_by"] for x in listed["items"]} == {
        "e1": None, "e2": None, "e3": "consent", "e4": "consent"}
    assert [x["used"] for x in listed["items"] if x["evidence_id"] in ("e3", "e4")] == [False] * 2
    log = _log(api)
    labels = log.groupby("request_id", sort=False)["evidence_policy"].first().tolist()
    assert labels[0] == "p0" and labels[-1].startswith("p0+c") and len(set(labels)) == 2
    # restoring (an empty list) brings the answer back
    r = api.put("/v1/educators/T1/consent", "admin", json={"withdrawn": []})
    assert r.json()["changed"] == ["self_assessment"]
    assert _p(api) == before


def test_the_policy_is_versioned_excludes_for_everyone_and_is_logged(api_any):
    api = api_any
    _seed(api)
    r = api.get("/v1/admin/evidence-policy", "admin")
    assert r.status_code == 200 and r.json()["version"] == 0
    assert r.json()["sources"]["self_assessment"] == {
        "feeds_decisions": True, "readers": ["admin", "coach", "educator"]}
    before = _p(api)
    assert api.get("/v1/educators/T1/recommendations").status_code == 200  # cached now
    doc = {"sources": {"self_assessment": {"feeds_decisions": False,
                                           "readers": ["admin", "coach", "educator"]}}}
    r = api.put("/v1/admin/evidence-policy", "admin", json=doc)
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 1 and r.json()["uploaded_by"]
    assert not r.json()["sources"]["self_assessment"]["feeds_decisions"]
    assert _p(api) < before
    assert api.get("/v1/educators/T1/recommendations").status_code == 200  # not the cached one
    assert api.get("/v1/educators/T1/pathway").status_code == 200
    log = _log(api)
    ranked = log[log["kind"] == "recommend"].groupby("request_id", sort=False)
    assert ranked["evidence_policy"].agg(set).tolist() == [{"p0"}, {"p1"}]
    assert set(log.loc[log["kind"] == "pathway", "evidence_policy"]) == {"p1"}
    listed = api.get("/v1/educators/T1/evidence").json()
    assert {x["evidence_id"]: x["excluded_by"] for x in listed["items"]}["e3"] == "policy"
    assert listed["evidence_policy"] == "p1"
    consent = api.get("/v1/educators/T1/consent").json()
    assert consent["policy_version"] == 1
    assert all(not s["withdrawn"] and s["changed_at"] is None for s in consent["sources"])
    # another tenant is untouched: its own default policy, and acme's educator is not its
    assert api.get("/v1/educators/T1/consent", "other").status_code == 404
    assert api.put("/v1/educators/T1/consent", "other",
                   json={"withdrawn": []}).status_code == 403


def test_readers_hide_sources_from_roles_in_lists_and_explanations(api):
    _seed(api)
    doc = {"sources": {"self_assessment": {"readers": ["admin"]}}}
    assert api.put("/v1/admin/evidence-policy", "admin", json=doc).status_code == 200
    coach = api.get("/v1/educators/T1/evidence", "coach").json()
    assert coach["count"] == 2 and coach["hidden"] == 2
    assert {x["source"] for x in coach["items"]} == {"observation"}
    admin = api.get("/v1/educators/T1/evidence", "admin").json()
    assert admin["count"] == 4 and admin["hidden"] == 0
    glance = {who: {x["educator_id"]: x["n_evidence"] for x in api.get(
        "/v1/educators", who).json()["items"]}["T1"] for who in ("coach", "admin")}
    assert glance == {"coach": 2, "admin": 4}
    assert all(x["used"] for x in admin["items"])  # readers do not change what is used
    params = {"explain": True}
    seen = {c for it in api.get("/v1/educators/T1/recommendations", "coach",
                                params=params).json()["items"]
            for c in it["explanation"]["evidence_ids"]}
    assert seen and not {"e3", "e4"} & seen
    seen = {c for it in api.get("/v1/educators/T1/recommendations", "admin",
                                params=params).json()["items"]
            for c in it["explanation"]["evidence_ids"]}
    assert {"e3", "e4"} & seen  # the admin's answer is not the coach's cached one


def test_bad_input_is_a_422_naming_field_value_and_expectation_and_roles_are_checked(api):
    _seed(api)
    r = api.put("/v1/admin/evidence-policy", "admin", json={"sources": {
        "gossip": {}, "observation": {"feeds_decisions": "no", "readers": ["boss"]}}})
    assert r.status_code == 422
    details = {d["field"]: d for d in r.json()["error"]["details"]}
    assert set(details) == {"sources.gossip.[key]", "sources.observation.feeds_decisions",
                            "sources.observation.readers[0]"}
    assert details["sources.gossip.[key]"]["value"] == "gossip"
    assert details["sources.observation.readers[0]"]["value"] == "boss"
    assert "'admin', 'coach' or 'educator'" in details["sources.observation.readers[0]"]["reason"]
    assert api.get("/v1/admin/evidence-policy", "admin").json()["version"] == 0  # nothing stored
    r = api.put("/v1/educators/T1/consent", "admin", json={"withdrawn": ["self_assessment",
                                                                        "rumour"]})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == "withdrawn[1]"
    assert r.json()["error"]["details"][0]["value"] == "rumour"
    assert api.get("/v1/educators/T1/consent").json()["sources"][3]["withdrawn"] is False
    assert api.put("/v1/educators/T1/consent", "admin",
                   json={"withdrawn": "self_assessment"}).status_code == 422
    assert api.put("/v1/educators/NOPE/consent", "admin",
                   json={"withdrawn": []}).status_code == 404
    for who in ("coach", "platform"):
        assert api.put("/v1/educators/T1/consent", who, json={"withdrawn": []}).status_code == 403
        assert api.put("/v1/admin/evidence-policy", who, json={"sources": {}}).status_code == 403
