"""Body limits on every endpoint, enforced while the body streams in, and no body byte read for a
caller without a valid key (issue 14, item 2).

The in-process tests feed the app one 64 KiB chunk per ``receive()`` (:mod:`tests.api.asgi`) and
count what it read. The end-to-end test sends 300 MB bodies to a real server and watches its
memory; ``benchmarks/bench_body_limits.py`` runs the whole matrix of endpoints, keys and framings.
"""

from __future__ import annotations

import httpx
import pytest

from tests.api.asgi import call
from tests.api.bigbody import PeakRss, served_api, upload
from tests.api.conftest import record

CHUNK = b"x" * 65536
MIB = 1024 * 1024

BODY_ENDPOINTS = [
    ("POST", "/v1/feedback"),
    ("POST", "/v1/recommendations:batch"),
    ("POST", "/v1/admin/keys"),
    ("POST", "/v1/evidence"),
    ("POST", "/v1/evidence/xapi"),
    ("PUT", "/v1/educators/T1"),
]


def chunks(total: int):
    """``total`` bytes in 64 KiB chunks, made one at a time."""
    for _ in range(total // len(CHUNK)):
        yield CHUNK


@pytest.mark.parametrize("method,path", BODY_ENDPOINTS, ids=[p for _, p in BODY_ENDPOINTS])
@pytest.mark.parametrize("credentials", [{}, {"Authorization": "Bearer pdrec_0123456789ab_nope"},
                                         {"X-API-Key": "wrong"}], ids=["none", "bearer", "header"])
def test_a_caller_without_a_valid_key_is_answered_401_before_any_body_byte_is_read(
        api, method, path, credentials):
    answer = call(api, method, path, chunks=chunks(4 * MIB),
                  headers={"content-type": "application/json", **credentials})
    assert answer.status == 401, answer.body
    assert answer.json()["error"]["code"] == "unauthorized"
    assert answer.headers["www-authenticate"] == "Bearer"
    assert answer.chunks_read == 0


@pytest.mark.parametrize("method,path", [("POST", "/v1/feedback"),
                                         ("POST", "/v1/recommendations:batch"),
                                         ("POST", "/v1/admin/keys"),
                                         ("PUT", "/v1/educators/T1")])
def test_a_chunked_body_over_the_limit_is_413_as_soon_as_the_limit_is_crossed(api, method, path):
    answer = call(api, method, path, chunks=chunks(8 * MIB),
                  headers={"content-type": "application/json", **api.h("admin")})
    assert answer.status == 413, answer.body
    err = answer.json()["error"]
    assert err["code"] == "payload_too_large"
    assert "PDREC_MAX_REQUEST_BYTES" in err["message"] and str(MIB) in err["message"]
    assert err["details"][0]["field"] == "body"
    # the chunk that crossed the limit is the last one read
    assert answer.chunks_read == MIB // len(CHUNK) + 1


def test_the_evidence_endpoints_stop_reading_at_their_own_limit(make_api):
    with make_api(max_body_bytes=256 * 1024) as api:
        for path in ("/v1/evidence", "/v1/evidence/xapi"):
            answer = call(api, "POST", path, chunks=chunks(8 * MIB),
                          headers={"content-type": "application/json", **api.h()})
            assert answer.status == 413, answer.body
            assert "PDREC_MAX_BODY_BYTES" in answer.json()["error"]["message"]
            assert answer.chunks_read == 256 * 1024 // len(CHUNK) + 1


@pytest.mark.parametrize("method,path", [*BODY_ENDPOINTS, ("GET", "/v1/framework"),
                                         ("POST", "/coach/session"), ("GET", "/healthz")])
def test_a_declared_length_over_the_limit_is_413_before_the_app_reads_or_authenticates(
        api, method, path):
    answer = call(api, method, path, chunks=chunks(4 * MIB),
                  headers={"content-type": "application/json", "content-length": "314572800"})
    assert answer.status == 413, answer.body
    err = answer.json()["error"]
    assert err["code"] == "payload_too_large"
    assert err["details"] == [{"field": "body", "value": 314572800,
                               "reason": err["details"][0]["reason"]}]
    assert "at most" in err["details"][0]["reason"]
    assert answer.chunks_read == 0


def test_evidence_keeps_its_larger_limit_while_other_endpoints_have_the_small_one(make_api):
    records = [record(i, day=1 + i % 28) for i in range(400)]  # ~60 KB of JSON
    with make_api(max_request_bytes=16 * 1024) as api:
        assert api.post("/v1/evidence", json={"records": records}).json()["accepted"] == 400
        ids = {"educator_ids": [f"E{i:06d}" for i in range(500)]}  # ~5 KB
        assert api.post("/v1/recommendations:batch", json=ids).status_code == 200
        events = [{"educator_id": "T1", "activity_id": "ACT-001", "event": "noted",
                   "note": "n" * 1000} for _ in range(20)]  # ~22 KB
        r = api.post("/v1/feedback", json={"events": events})
        assert r.status_code == 413, r.text
        assert "PDREC_MAX_REQUEST_BYTES" in r.json()["error"]["message"]


def test_bodies_within_the_limit_still_work_chunked(api):
    body = b'{"records": [{"evidence_id": "c1", "educator_id": "T1", "competency_id": ' \
           b'"INS.FORMATIVE", "source": "observation", "score": 3, ' \
           b'"observed_at": "2025-03-01T10:00:00Z"}]}'
    answer = call(api, "POST", "/v1/evidence", chunks=[body[:40], body[40:]],
                  headers={"content-type": "application/json", **api.h()})
    assert answer.status == 200 and answer.json()["accepted"] == 1


BIG = 300 * 1024 * 1024


@pytest.mark.slow
def test_300_mb_bodies_to_a_served_api_are_refused_with_its_memory_bounded(tmp_path):
    """One case of each kind (no key, key; chunked, Content-Length) on a real server; the whole
    matrix is ``benchmarks/bench_body_limits.py``."""
    with served_api(tmp_path) as (base, pid, keys), httpx.Client(timeout=120) as client:
        rss = PeakRss(pid)
        try:
            rss.reset()
        except OSError as exc:
            pytest.skip(f"cannot reset the server's peak memory: {exc}")
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        for method, path, headers, chunked, status in [
                ("POST", "/v1/feedback", {}, True, 401),
                ("POST", "/v1/admin/keys", {}, False, 413),
                ("POST", "/v1/recommendations:batch", admin, True, 413),
                ("POST", "/v1/evidence", admin, True, 413)]:
            rss.reset()
            r = upload(client, method, base + path, BIG, chunked=chunked, headers=headers)
            grown = rss.growth()
            assert r.status_code == status, (path, r.text)
            assert r.json()["error"]["status"] == status
            assert grown < 50 * MIB, (path, chunked, grown / MIB)
        assert client.get(base + "/healthz").status_code == 200
