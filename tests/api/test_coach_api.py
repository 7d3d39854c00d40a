"""The coach page's server side: sign-in and sessions, CSRF, the read endpoints it uses
(educator list, evidence, feedback history, mastery intervals) and coach actions reflected by
the next recommendations."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api.coach.session import COOKIE, CSRF_HEADER
from recommender.store import hash_key
from tests.api.conftest import record

COACH_DIR = Path(__file__).resolve().parents[2] / "api" / "coach"


def _seed(api, synthetic, n=3):
    records, educators = synthetic
    keep = set(educators["educator_id"].tolist()[:n])
    r = api.post("/v1/evidence", json={"records": [x for x in records if x["educator_id"] in keep]})
    assert r.status_code == 200, r.text
    for e, goals in zip(educators["educator_id"], educators["goals"], strict=True):
        if e in keep:
            r = api.put(f"/v1/educators/{e}", json={
                "profile": {"role": "classroom_teacher", "subject": "math"},
                "goals": goals.split("|")})
            assert r.status_code == 200, r.text
    return sorted(keep)


def _sign_in(api, who="coach"):
    r = api.client.post("/coach/session", data={"key": api.keys[who]}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = api.client.get("/coach")
    csrf = re.search(r'name="csrf-token" content="([0-9a-f]+)"', page.text).group(1)
    return csrf


def test_sign_in_exchanges_the_key_for_an_httponly_strict_cookie(api):
    r = api.client.get("/coach")
    assert r.status_code == 200 and 'action="/coach/session"' in r.text
    assert 'type="password"' in r.text
    r = api.client.post("/coach/session", data={"key": api.keys["coach"]},
                        follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/coach"
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "samesite=strict" in cookie.lower()
    assert api.keys["coach"] not in cookie and api.keys["coach"] not in r.headers["location"]
    page = api.client.get("/coach")
    assert page.status_code == 200 and 'name="csrf-token"' in page.text
    assert api.keys["coach"] not in page.text
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert api.client.get("/v1/framework").status_code == 200  # the cookie authenticates /v1


@pytest.mark.parametrize("who,status,words", [
    ("platform", 403, "cannot sign in here"),
    (None, 401, "not valid"),
])
def test_sign_in_refuses_platform_and_unknown_keys_with_a_clear_message(api, who, status, words):
    key = api.keys[who] if who else "pdrec_nope_nope"
    r = api.client.post("/coach/session", data={"key": key}, follow_redirects=False)
    assert r.status_code == status and words in r.text
    assert COOKIE not in r.headers.get("set-cookie", "")
    assert api.client.get("/v1/framework").status_code == 401


def test_admin_key_may_sign_in_and_next_path_is_kept_on_site(api):
    r = api.client.post("/coach/session", data={"key": api.keys["admin"],
                                                "next": "/coach/educators/T1"},
                        follow_redirects=False)
    assert r.headers["location"] == "/coach/educators/T1"
    api.client.cookies.clear()
    r = api.client.post("/coach/session", data={"key": api.keys["admin"],
                                                "next": "https://evil.example/coach"},
                        follow_redirects=False)
    assert r.headers["location"] == "/coach"


def test_sign_in_posted_from_another_origin_is_refused(api):
    r = api.client.post("/coach/session", data={"key": api.keys["coach"]},
                        headers={"Origin": "https://evil.example"}, follow_redirects=False)
    assert r.status_code == 403 and COOKIE not in r.headers.get("set-cookie", "")


def test_educator_page_without_session_redirects_to_sign_in(api):
    r = api.client.get("/coach/educators/T1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/coach?next=")


def test_team_pages_redirect_when_signed_out_and_load_the_team_script(api):
    r = api.client.get("/coach/teams/plc 7", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/coach?next=/coach/teams/plc%25207"
    _sign_in(api)
    page = api.client.get("/coach/teams/plc-7")
    assert page.status_code == 200 and 'data-team="plc-7"' in page.text
    assert "coach_team.js" in page.text and "/coach.js" not in page.text
    listing = api.client.get("/coach/teams")
    assert 'data-team=""' in listing.text and "coach_team.js" in listing.text


def test_educator_page_says_whether_the_tenant_has_renewal_rules(api):
    _sign_in(api)
    assert 'data-renewal=""' in api.client.get("/coach/educators/T1").text
    for document, mode in (({"window_years": 5, "rules": [
            {"id": "total", "kind": "total", "hours": 100}]}, "rules"),
            ({"window_years": 5, "deadline": "2030-06-30", "rules": [
                {"id": "total", "kind": "total", "hours": 100}]}, "deadline")):
        r = api.put("/v1/admin/renewal-rules", who="admin", json={"document": document})
        assert r.status_code == 200, r.text
        page = api.client.get("/coach/educators/T1").text
        assert f'data-renewal="{mode}"' in page and "coach_renewal.js" in page


def test_cookie_writes_need_the_csrf_header(api):
    api.post("/v1/evidence", json={"records": [record(1)]})
    csrf = _sign_in(api)
    body = {"events": [{"educator_id": "T1", "activity_id": "ACT-001", "event": "accepted"}]}
    r = api.client.post("/v1/feedback", json=body)
    assert r.status_code == 403 and CSRF_HEADER in r.json()["error"]["message"]
    r = api.client.post("/v1/feedback", json=body, headers={CSRF_HEADER: "0" * 64})
    assert r.status_code == 403
    r = api.client.post("/v1/feedback", json=body, headers={CSRF_HEADER: csrf})
    assert r.status_code == 201, r.text
    rows = api.services.store.feedback_rows("acme", ["T1"])
    assert [x["event"] for x in rows] == ["accepted"]


def test_sign_out_and_key_revocation_end_the_session(api):
    csrf = _sign_in(api)
    cookie = api.client.cookies.get(COOKIE)
    r = api.client.post("/coach/logout", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303
    api.client.cookies.set(COOKIE, cookie)  # a copied cookie is dead too
    r = api.client.get("/v1/framework")
    assert r.status_code == 401 and "sign in again" in r.json()["error"]["message"]

    api.client.cookies.clear()
    _sign_in(api)
    key_id = api.services.store.key_by_hash(hash_key(api.keys["coach"])).key_id
    assert api.client.delete(f"/v1/admin/keys/{key_id}",
                             headers=api.h("admin")).status_code == 200
    r = api.client.get("/v1/framework")
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]


def test_educator_list_searches_and_gives_goal_progress_and_last_evidence(api, synthetic):
    ids = _seed(api, synthetic)
    r = api.get("/v1/educators", who="coach")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == len(ids) and [i["educator_id"] for i in body["items"]] == ids
    first = body["items"][0]
    assert first["goals"] and {"competency_id", "name", "p_mastery", "mastered"} <= set(
        first["goals"][0])
    assert first["progress"]["scope"] == "goals"
    assert 0 <= first["progress"]["mastered"] <= first["progress"]["total"]
    assert first["n_evidence"] > 0 and first["last_evidence_at"] is not None
    r = api.get(f"/v1/educators?search={ids[1].lower()}", who="coach").json()
    assert [i["educator_id"] for i in r["items"]] == [ids[1]]
    r = api.get("/v1/educators?search=MATH&limit=1&offset=1", who="coach").json()
    assert r["total"] == len(ids) and [i["educator_id"] for i in r["items"]] == [ids[1]]
    assert api.get("/v1/educators?search=%25", who="coach").json()["total"] == 0
    assert api.get("/v1/educators", who="other").json()["total"] == 0  # tenant-scoped


def test_evidence_endpoint_filters_by_competency_newest_first(api):
    api.post("/v1/evidence", json={"records": [
        record(1, competency="INS.FORMATIVE", score=2, day=1),
        record(2, competency="INS.FORMATIVE", score=4, day=5, rater_id="R1"),
        record(3, competency="COG.ASSESS_LIT", day=3)]})
    r = api.get("/v1/educators/T1/evidence?competency_id=INS.FORMATIVE", who="coach")
    assert r.status_code == 200
    items = r.json()["items"]
    assert [i["evidence_id"] for i in items] == ["e2", "e1"]
    assert items[0]["score"] == 4 and items[0]["scale_max"] == 4 and items[0]["rater_id"] == "R1"
    assert items[0]["proficient"] is True and items[1]["proficient"] is False
    assert api.get("/v1/educators/T1/evidence", who="coach").json()["count"] == 3
    r = api.get("/v1/educators/T1/evidence?competency_id=NOPE", who="coach")
    assert r.status_code == 404 and r.json()["error"]["details"][0]["field"] == "competency_id"
    assert api.get("/v1/educators/T1/evidence", who="other").status_code == 404


def test_mastery_carries_an_interval_that_narrows_with_evidence(api):
    api.post("/v1/evidence", json={"records": [
        record(i, competency="INS.FORMATIVE", score=4, day=i) for i in range(1, 11)]})
    items = {c["competency_id"]: c for c in
             api.get("/v1/educators/T1/mastery", who="coach").json()["competencies"]}
    lots, none = items["INS.FORMATIVE"], items["COG.CBE_PRINCIPLES"]
    assert none["n_evidence"] == 0 and lots["n_evidence"] == 10
    for c in (lots, none):
        lo, hi = c["interval"]
        assert 0 <= lo <= c["p_mastery"] <= hi <= 1 and c["uncertainty"] >= 0
    assert lots["interval"][1] - lots["interval"][0] < none["interval"][1] - none["interval"][0]


def _recs(api, e, k=10):
    r = api.get(f"/v1/educators/{e}/recommendations?k={k}", who="coach")
    assert r.status_code == 200, r.text
    return r.json()["items"]


def _events(api, *events):
    r = api.post("/v1/feedback", who="coach", json={"events": list(events)})
    assert r.status_code == 201, r.text


def test_accept_moves_the_activity_to_in_progress_and_out_of_the_list(api, synthetic):
    e = _seed(api, synthetic, n=1)[0]
    first = _recs(api, e)[0]["activity_id"]
    _events(api, {"educator_id": e, "activity_id": first, "event": "accepted"})
    assert first not in [i["activity_id"] for i in _recs(api, e)]
    state = api.get(f"/v1/educators/{e}/feedback", who="coach").json()["state"]
    assert state["in_progress"] == [first]


def test_decline_with_a_reason_drops_the_activity(api, synthetic):
    e = _seed(api, synthetic, n=1)[0]
    second = _recs(api, e)[1]["activity_id"]
    _events(api, {"educator_id": e, "activity_id": second, "event": "declined",
                  "note": "Too long for now"})
    assert second not in [i["activity_id"] for i in _recs(api, e)]
    fb = api.get(f"/v1/educators/{e}/feedback", who="coach").json()
    assert fb["state"]["declined"] == [second]
    assert fb["events"][0]["note"] == "Too long for now" and fb["titles"][second]


def test_pin_puts_the_activity_first(api, synthetic):
    e = _seed(api, synthetic, n=1)[0]
    last = _recs(api, e)[-1]["activity_id"]
    _events(api, {"educator_id": e, "activity_id": last, "event": "pinned"})
    items = _recs(api, e)
    assert items[0]["activity_id"] == last and items[0]["pinned"] is True
    _events(api, {"educator_id": e, "activity_id": last, "event": "unpinned"})
    assert not _recs(api, e)[0]["pinned"]


def test_replace_pins_the_new_activity_and_drops_the_old(api, synthetic):
    e = _seed(api, synthetic, n=1)[0]
    items = _recs(api, e)
    old = items[0]["activity_id"]
    shown = {i["activity_id"] for i in items}
    new = next(a for a in api.get("/v1/activities", who="coach").json()["activities"]
               if a["activity_id"] not in shown)["activity_id"]
    _events(api, {"educator_id": e, "activity_id": new, "event": "replaced", "replaces": old})
    after = _recs(api, e)
    assert after[0]["activity_id"] == new and after[0]["pinned"]
    assert old not in [i["activity_id"] for i in after]
    ev = api.get(f"/v1/educators/{e}/feedback", who="coach").json()["events"][0]
    assert ev["event"] == "replaced" and ev["replaces"] == old and ev["activity_id"] == new


def test_note_is_stored_and_changes_nothing_else(api, synthetic):
    e = _seed(api, synthetic, n=1)[0]
    before = [i["activity_id"] for i in _recs(api, e)]
    _events(api, {"educator_id": e, "activity_id": before[0], "event": "noted",
                  "note": "Talk about it on Friday", "by": "coach-7"})
    assert [i["activity_id"] for i in _recs(api, e)] == before
    ev = api.get(f"/v1/educators/{e}/feedback", who="coach").json()["events"][0]
    assert (ev["event"], ev["note"], ev["by"]) == ("noted", "Talk about it on Friday", "coach-7")
    r = api.post("/v1/feedback", who="coach", json={"events": [
        {"educator_id": e, "activity_id": before[0], "event": "noted"}]})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "events[0].note"


def test_feedback_history_is_tenant_scoped(api, synthetic):
    e = _seed(api, synthetic, n=1)[0]
    assert api.get(f"/v1/educators/{e}/feedback", who="other").status_code == 404


def test_page_assets_are_served_by_the_app_and_load_nothing_from_the_internet(api):
    for name in ("common.js", "coach.js", "coach_team.js", "coach_renewal.js", "coach.css"):
        r = api.client.get(f"/coach/static/{name}")
        assert r.status_code == 200 and len(r.text) > 1000
    for path in list((COACH_DIR / "static").iterdir()) + list((COACH_DIR / "templates").iterdir()):
        urls = set(re.findall(r"(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}[^\s\"'`)]*", path.read_text()))
        assert urls <= {"http://www.w3.org/2000/svg"}, (path.name, urls)
