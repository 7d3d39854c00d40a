"""POST /v1/evidence and /v1/evidence/xapi: outcomes per record, idempotency, limits."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests.api.conftest import record

XAPI_SAMPLES = (Path(__file__).resolve().parents[3]
                / "shared/data/standards/xapi/statements_spec_examples.json")


def test_each_record_gets_an_outcome_and_bad_ones_do_not_sink_good_ones(api_any):
    batch = [record(1), record(2, competency="NOPE"), record(1), record(3, score=9),
             record(4, source="gossip"), record(5, observed_at="yesterday"),
             {"educator_id": "T1"}]
    r = api_any.post("/v1/evidence", json={"records": batch})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["accepted"], body["duplicate"], body["rejected"]) == (1, 1, 5)
    out = {o["index"]: o for o in body["outcomes"]}
    assert out[0]["status"] == "accepted" and out[0]["evidence_id"] == "e1"
    assert (out[1]["status"], out[1]["field"], out[1]["value"]) == ("rejected", "competency_id",
                                                                     "NOPE")
    assert "repeats row 0" in out[2]["reason"] and out[2]["status"] == "duplicate"
    assert out[3]["field"] == "score" and "outside its scale" in out[3]["reason"]
    assert out[4]["field"] == "source" and "expected one of" in out[4]["reason"]
    assert out[5]["field"] == "observed_at" and out[5]["value"] == "yesterday"
    assert out[6]["field"] == "evidence_id" and "missing" in out[6]["reason"]
    assert body["model"].pop("content")["framework"]["version"] is None
    assert body["model"].pop("note") is None
    assert body["model"] == {"name": "evidence-filter", "version": None, "fallback": True,
                               "scope": "none", "source": None, "card": None}
    assert api_any.services.store.count_evidence("acme") == 1


def test_posting_the_same_batch_twice_stores_it_once(api_any, synthetic):
    records, _ = synthetic
    first = api_any.post("/v1/evidence", json={"records": records}).json()
    assert first["accepted"] == len(records) and first["rejected"] == 0
    again = api_any.post("/v1/evidence", json={"records": records}).json()
    assert again["accepted"] == 0 and again["duplicate"] == len(records)
    assert all("already ingested" in o["reason"] for o in again["outcomes"])
    assert api_any.services.store.count_evidence("acme") == len(records)


def test_batch_over_the_limit_is_413_with_the_limit(make_api):
    with make_api(max_batch=3) as api:
        r = api.post("/v1/evidence", json={"records": [record(i) for i in range(4)]})
        assert r.status_code == 413
        err = r.json()["error"]
        assert "limit is 3" in err["message"] and err["details"][0]["field"] == "records"
        assert api.post("/v1/evidence", json=[record(i) for i in range(3)]).status_code == 200
        r = api.post("/v1/evidence/xapi", json={"statements": [{}] * 4})
        assert r.status_code == 413


def test_body_over_the_byte_limit_is_413(make_api):
    with make_api(max_body_bytes=2048) as api:
        r = api.post("/v1/evidence", json={"records": [record(i) for i in range(40)]})
        assert r.status_code == 413 and "PDREC_MAX_BODY_BYTES" in r.json()["error"]["message"]


@pytest.mark.parametrize("content,field", [
    (b"not json", "body"), (b'{"records": 3}', "records"), (b'{"rows": []}', "records"),
    (b'"text"', "records")])
def test_malformed_bodies_are_422_naming_the_problem(api, content, field):
    r = api.client.post("/v1/evidence", content=content,
                        headers={**api.h(), "Content-Type": "application/json"})
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == field


# --- the body contract (#14): `{"records"|"statements": [...]}` or a bare array of objects ----

def test_a_bare_array_of_records_is_answered_like_the_object_form(api):
    r = api.post("/v1/evidence", json=[record(1), record(2, score=9)])
    assert r.status_code == 200, r.text
    out = r.json()["outcomes"]
    assert [(o["index"], o["status"]) for o in out] == [(0, "accepted"), (1, "rejected")]
    again = api.post("/v1/evidence", json={"records": [record(1)]}).json()
    assert again["duplicate"] == 1


def test_a_bare_array_of_xapi_statements_is_answered_like_the_object_form(api):
    st = {"id": "s1", "actor": {"mbox": "mailto:t1@example.org"},
          "verb": {"id": "http://adlnet.gov/expapi/verbs/scored"},
          "object": {"id": "https://pd.example.org/xapi/competencies/INS.FORMATIVE"},
          "result": {"score": {"raw": 3, "min": 1, "max": 4}},
          "timestamp": "2025-03-01T10:00:00Z"}
    r = api.post("/v1/evidence/xapi", json=[st])
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text
    again = api.post("/v1/evidence/xapi", json={"statements": [st]}).json()
    assert again["duplicate"] == 1


@pytest.mark.parametrize("path,key,what", [
    ("/v1/evidence", "records", "an evidence record"),
    ("/v1/evidence/xapi", "statements", "an xAPI statement")])
@pytest.mark.parametrize("bare", [False, True], ids=["object", "bare array"])
def test_items_that_are_not_objects_refuse_the_batch_naming_each(api, path, key, what, bare):
    good = record(1) if key == "records" else {"id": "s1"}
    items = [good, None, 5, "x" * 100, [1, 2], True, {}]
    r = api.post(path, json=items if bare else {key: items})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_request"
    assert err["message"].startswith(f"5 item(s) of {'the body' if bare else repr(key)} are "
                                     "not JSON objects")
    assert "nothing was stored" in err["message"]
    prefix = "" if bare else key
    assert [(d["field"], d["value"]) for d in err["details"]] == [
        (f"{prefix}[1]", None), (f"{prefix}[2]", 5), (f"{prefix}[3]", "x" * 77 + "..."),
        (f"{prefix}[4]", "an array of 2 item(s)"), (f"{prefix}[5]", True)]
    assert err["details"][0]["reason"] == f"{prefix}[1] is null; expected {what} (a JSON object)"
    assert err["details"][3]["reason"].startswith(f"{prefix}[4] is an array; expected")
    assert api.services.store.count_evidence("acme") == 0


def test_many_items_that_are_not_objects_are_counted_and_the_first_100_named(api):
    r = api.post("/v1/evidence", json=[None] * 150)
    err = r.json()["error"]
    assert r.status_code == 422 and err["message"].startswith(
        "150 item(s) of the body are not JSON objects (the first 100 are listed)")
    assert len(err["details"]) == 100 and err["details"][-1]["field"] == "[99]"


@pytest.mark.parametrize("path,key,what", [("/v1/evidence", "records", "evidence record"),
                                           ("/v1/evidence/xapi", "statements", "xAPI statement")])
@pytest.mark.parametrize("body,got,value", [
    ({"rows": []}, "an object without {key!r}", None),
    ({"{key}": {"a": 1}}, "an object whose {key!r} is an object", "an object of 1 key(s)"),
    ({"{key}": None}, "an object whose {key!r} is null", None),
    (7, "a number", 7), (None, "null", None)])
def test_a_body_in_neither_form_is_422_naming_what_came_and_what_was_expected(
        api, path, key, what, body, got, value):
    if isinstance(body, dict):
        body = {k.format(key=key): v for k, v in body.items()}
    r = api.client.post(path, content=json.dumps(body),
                        headers={**api.h(), "Content-Type": "application/json"})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["message"].endswith("got " + got.format(key=key)), err["message"]
    assert err["details"] == [{"field": key, "value": value,
                               "reason": f"expected a JSON array of {what}s (JSON objects)"}]


def test_openapi_documents_both_body_forms_with_object_items(api):
    spec = api.client.get("/openapi.json").json()
    for path, batch, items in [
            ("/v1/evidence", "EvidenceBatchIn", {"$ref": "#/components/schemas/EvidenceRecordIn"}),
            ("/v1/evidence/xapi", "XapiBatchIn", None)]:
        body = spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]
        forms = body["schema"]["anyOf"]
        assert forms[0] == {"$ref": f"#/components/schemas/{batch}"}
        assert forms[1]["type"] == "array"
        assert forms[1]["items"] == items or forms[1]["items"]["type"] == "object"
        key = "records" if batch == "EvidenceBatchIn" else "statements"
        listed = spec["components"]["schemas"][batch]["properties"][key]["items"]
        assert listed.get("type") == "object" or listed == items
        assert "bare JSON array" in spec["paths"][path]["post"]["description"]


def test_report_problems_lists_only_duplicates_and_rejections(api):
    r = api.post("/v1/evidence?report=problems", json={"records": [record(1), record(2, score=0)]})
    body = r.json()
    assert body["accepted"] == 1 and [o["index"] for o in body["outcomes"]] == [1]
    assert api.post("/v1/evidence?report=everything", json={"records": []}).status_code == 422


def test_evidence_for_a_new_educator_creates_it_in_the_tenant(api):
    api.post("/v1/evidence", json={"records": [record(1, educator="NEW-1")]})
    r = api.get("/v1/educators/NEW-1")
    assert r.status_code == 200 and r.json()["n_evidence"] == 1 and r.json()["goals"] == []


def test_new_evidence_changes_the_next_answer(api):
    api.post("/v1/evidence", json={"records": [record(1, score=1)]})
    before = api.get("/v1/educators/T1/mastery").json()
    api.post("/v1/evidence", json={"records": [record(i, score=4, day=i) for i in range(2, 8)]})
    after = api.get("/v1/educators/T1/mastery").json()
    p = {c["competency_id"]: c["p_mastery"] for c in before["competencies"]}
    q = {c["competency_id"]: c["p_mastery"] for c in after["competencies"]}
    assert q["INS.FORMATIVE"] > p["INS.FORMATIVE"] + 0.2
    n = {c["competency_id"]: c["n_evidence"] for c in after["competencies"]}
    assert n["INS.FORMATIVE"] == 7


def test_mastery_is_refreshed_behind_the_write_and_only_recomputed_on_read_when_stale(api):
    api.post("/v1/evidence", json={"records": [record(1)]})
    assert api.services.refresher.wait_idle(timeout=30)
    assert api.services.store.get_mastery("acme", ["T1"])["T1"].data_version == 1
    metric = api.services.metrics.mastery_refreshed
    reads = metric.labels("read")._value.get()
    api.get("/v1/educators/T1/mastery")
    api.get("/v1/educators/T1/recommendations")
    assert metric.labels("read")._value.get() == reads  # fresh: nothing recomputed on read


def test_a_read_before_the_background_refresh_recomputes_so_nothing_is_served_stale(make_api):
    with make_api() as api:
        services = api.services
        services.refresher.close()  # stop the thread: the queued refresh never runs
        api.post("/v1/evidence", json={"records": [record(1, score=1)]})
        before = api.get("/v1/educators/T1/mastery").json()
        api.post("/v1/evidence", json={"records": [record(i, score=4, day=i) for i in range(2, 8)]})
        assert services.refresher.pending == 1  # queued, not run
        after = api.get("/v1/educators/T1/mastery").json()
        n = {c["competency_id"]: c["n_evidence"] for c in after["competencies"]}
        assert n["INS.FORMATIVE"] == 7 and after != before


def test_repeated_writes_while_a_refresh_runs_collapse_into_one_refresh(make_api):
    with make_api() as api:
        services = api.services
        started, release = threading.Event(), threading.Event()
        real = services.mastery.refresh
        calls = []

        def slow(tenant, ids, **kw):
            calls.append(list(ids))
            started.set()
            release.wait(10)
            return real(tenant, ids, **kw)

        services.mastery.refresh = slow
        api.post("/v1/evidence", json={"records": [record(1)]})
        assert started.wait(10)  # the first refresh is running before the next writes
        for i in range(2, 6):  # while the first refresh is held, T1 is written to four times
            api.post("/v1/evidence", json={"records": [record(i, day=i)]})
        release.set()
        assert services.refresher.wait_idle(timeout=30)
        assert calls == [["T1"], ["T1"]]
        assert services.store.get_mastery("acme", ["T1"])["T1"].data_version == 5


def test_on_write_refresh_runs_in_the_request(make_api):
    with make_api(mastery_refresh="on_write") as api:
        assert api.services.refresher is None
        api.post("/v1/evidence", json={"records": [record(1, score=4)]})
        assert api.services.store.get_mastery("acme", ["T1"])["T1"].data_version == 1


def test_on_read_refresh_marks_stale_and_recomputes_lazily(make_api):
    with make_api(mastery_refresh="on_read") as api:
        api.post("/v1/evidence", json={"records": [record(1, score=4)]})
        assert api.services.store.get_mastery("acme", ["T1"]) == {}
        r = api.get("/v1/educators/T1/mastery")
        assert r.status_code == 200
        assert api.services.store.get_mastery("acme", ["T1"])["T1"].data_version == 1


# ------------------------------------------------------------------------------------- xAPI


def _statement(sid, obj, score=None, verb="passed", actor=None, **extra):
    return {"id": sid, "actor": actor or {"mbox": "mailto:t1@example.org"},
            "verb": {"id": f"http://adlnet.gov/expapi/verbs/{verb}"},
            "object": {"id": obj, "objectType": "Activity"},
            "result": {"score": score if score is not None else {"raw": 3, "min": 1, "max": 4}},
            "timestamp": "2025-03-01T10:00:00Z", **extra}


def test_xapi_statements_map_to_evidence_and_reject_the_rest_with_reasons(api_any):
    statements = [
        _statement("s1", "https://pd.example.org/xapi/competencies/INS.FORMATIVE"),
        _statement("s2", "urn:pdrec:activity:ACT-030", score={"scaled": 0.9},
                   actor={"account": {"homePage": "https://pd.example.org", "name": "T-7"}}),
        _statement("s3", "https://pd.example.org/xapi/competencies/NOPE"),
        _statement("s4", "https://pd.example.org/xapi/competencies/INS.ELL", verb="experienced"),
        _statement("s5", "https://pd.example.org/xapi/competencies/INS.ELL", score={"raw": 5}),
        {"id": "s6"},
    ]
    r = api_any.post("/v1/evidence/xapi", json={"statements": statements})
    assert r.status_code == 200, r.text
    body = r.json()
    out = {o["index"]: o for o in body["outcomes"]}
    assert out[0]["status"] == "accepted" and out[0]["evidence_ids"] == ["s1"]
    assert out[1]["status"] == "accepted" and out[1]["evidence_ids"][0].startswith("s2#")
    assert out[2]["field"] == "object.id" and "not in the framework" in out[2]["reason"]
    assert out[3]["field"] == "verb.id" and "experienced" in out[3]["reason"]
    assert out[4]["field"] == "result.score"
    assert out[5]["status"] == "rejected" and out[5]["field"] in ("actor", "verb", "object")
    assert api_any.get("/v1/educators/t1@example.org/mastery").status_code == 200
    assert api_any.get("/v1/educators/T-7").json()["n_evidence"] >= 1
    again = api_any.post("/v1/evidence/xapi", json=statements[:2]).json()
    assert [o["status"] for o in again["outcomes"]] == ["duplicate", "duplicate"]


def test_xapi_spec_samples_are_all_answered_with_a_reason(api):
    if not XAPI_SAMPLES.exists():
        pytest.skip(f"xAPI samples not found at {XAPI_SAMPLES}")
    statements = json.loads(XAPI_SAMPLES.read_text())
    body = api.post("/v1/evidence/xapi", json=statements).json()
    assert len(body["outcomes"]) == len(statements) and body["rejected"] == len(statements)
    assert all(o["reason"] and o["field"] for o in body["outcomes"])


def test_xapi_iri_map_maps_real_sample_statements(make_api, tmp_path):
    if not XAPI_SAMPLES.exists():
        pytest.skip(f"xAPI samples not found at {XAPI_SAMPLES}")
    mapping = tmp_path / "iri.json"
    mapping.write_text(json.dumps({"https://example.adlnet.gov/AUidentifier": "COG.ASSESS_LIT",
                                   "http://example.adlnet.gov/xapi/example/simpleCBT": "INS.ELL"}))
    with make_api(xapi_iri_map=mapping) as api:
        statements = json.loads(XAPI_SAMPLES.read_text())
        body = api.post("/v1/evidence/xapi", json=statements).json()
        accepted = [o for o in body["outcomes"] if o["status"] == "accepted"]
        assert {o["statement_id"] for o in accepted} == {
            "2a41c918-b88b-4220-20a5-a4c32391a240", "7ccd3322-e1a5-411a-a67d-6a735c76f119"}
        cmi5 = api.get("/v1/educators/1625378/mastery").json()
        n = {c["competency_id"]: c["n_evidence"] for c in cmi5["competencies"]}
        assert n["COG.ASSESS_LIT"] == 1
