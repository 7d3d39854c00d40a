"""Health, readiness, metrics, unknown routes, and the admin model reload without a model."""

from __future__ import annotations

from tests.api.conftest import record


def test_healthz_and_readyz_without_a_key(api):
    assert api.client.get("/healthz").json() == {"status": "ok"}
    ready = api.client.get("/readyz").json()
    assert ready["ready"] and ready["store"] == {"reachable": True, "dialect": "sqlite"}
    assert ready["model"]["fallback"] is True and ready["model"]["name"] == "evidence-filter"
    assert "PDREC_LOAD_MODEL" in ready["model"]["reason"]


def test_readyz_is_503_when_the_store_is_unreachable(api, monkeypatch):
    monkeypatch.setattr(api.services.store, "ping", lambda: False)
    r = api.client.get("/readyz")
    assert r.status_code == 503 and r.json()["ready"] is False


def test_metrics_count_requests_evidence_and_name_the_model(api):
    api.post("/v1/evidence", json={"records": [record(1), record(2, score=99)]})
    api.get("/v1/educators/T1/recommendations")
    r = api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'pdrec_evidence_records_total{outcome="accepted"} 1.0' in text
    assert 'pdrec_evidence_records_total{outcome="rejected"} 1.0' in text
    assert 'route="/v1/educators/{educator_id}/recommendations",status="200"' in text
    assert 'pdrec_model_info{fallback="true",name="evidence-filter",version=""} 1.0' in text
    assert "pdrec_http_request_duration_seconds_bucket" in text


def test_unknown_route_and_method_use_the_error_body(api):
    r = api.client.get("/v1/nothing-here", headers=api.h())
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = api.client.get("/v1/nothing-here")  # no key: /v1 routes are not shown to strangers
    assert r.status_code == 401 and r.json()["error"]["code"] == "unauthorized"
    r = api.client.delete("/v1/framework", headers=api.h())
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"


def test_reload_without_a_loader_keeps_the_graph_rule(api):
    r = api.post("/v1/admin/model:reload", who="admin")
    assert r.status_code == 200 and r.json()["model"]["fallback"] is True


def test_openapi_documents_every_endpoint_with_examples(api):
    spec = api.client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in ["/v1/evidence", "/v1/evidence/xapi", "/v1/educators/{educator_id}",
                 "/v1/educators/{educator_id}/mastery",
                 "/v1/educators/{educator_id}/recommendations",
                 "/v1/educators/{educator_id}/pathway", "/v1/recommendations:batch",
                 "/v1/feedback", "/v1/framework", "/v1/activities", "/healthz", "/readyz",
                 "/metrics", "/v1/admin/model:reload"]:
        assert path in paths, path
    schemas = spec["components"]["schemas"]
    assert schemas["EvidenceBatchIn"]["examples"] and schemas["XapiBatchIn"]["examples"]
    assert paths["/v1/evidence"]["post"]["responses"]["413"]


def test_the_served_socket_is_tcp_so_responses_are_not_held_by_nagle():
    """`pdrec serve --workers N` binds the listener itself: it must say it is TCP, or asyncio
    leaves Nagle's algorithm on and every keep-alive answer waits ~40 ms for a delayed ACK."""
    import socket

    from pipelines.serve import _TcpConfig

    config = _TcpConfig("api.app:create_app", factory=True, host="127.0.0.1", port=0,
                        workers=2)
    listener = config.bind_socket()
    try:
        assert listener.proto == socket.IPPROTO_TCP and listener.get_inheritable()
        listener.listen()
        client = socket.create_connection(listener.getsockname())
        conn, _ = listener.accept()
        with client, conn:
            assert conn.proto == socket.IPPROTO_TCP  # asyncio sets TCP_NODELAY on this
    finally:
        listener.close()
