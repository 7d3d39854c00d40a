"""Errors that tell the truth (issue 14, item 6): the engine's refusals are 4xx naming the field,
anything unexpected is a logged 500 with a request id and no internals, and every error, whoever
answers it (a route, FastAPI's body parsing, the router, a middleware), has the documented body.
"""

from __future__ import annotations

import logging
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.errors import ERROR_TABLE, TooManyRequests, install_error_handlers
from recommender.errors import InvalidInputError, UnknownCompetencyError
from tests.api.conftest import record

INTERNAL = "Out of bounds nanosecond timestamp: 1600-01-01 00:00:00"


def _instance(cls: type[Exception]) -> Exception:
    """An exception of ``cls`` as its raisers build it."""
    if issubclass(cls, InvalidInputError):
        return cls("goals", [], "at least one competency id")
    if issubclass(cls, UnknownCompetencyError):
        return cls(["X.NOPE"])
    if issubclass(cls, TooManyRequests):
        return cls("slow down", headers={"Retry-After": "7"})
    return cls(f"{cls.__name__} happened")


@pytest.mark.parametrize("cls,status,code", ERROR_TABLE,
                         ids=[cls.__name__ for cls, _, _ in ERROR_TABLE])
def test_every_row_of_the_error_table_answers_its_status_and_body(cls, status, code):
    app = FastAPI()
    install_error_handlers(app)
    exc = _instance(cls)

    @app.get("/boom")
    def boom():
        raise exc

    r = TestClient(app).get("/boom")
    assert r.status_code == status
    err = r.json()["error"]
    assert err["status"] == status and err["code"] == code
    if status >= 500 and code == "internal_error":
        assert err["message"].startswith("internal error") and str(exc) not in err["message"]
    else:
        assert err["message"] == (getattr(exc, "message", None) or str(exc))
    if isinstance(exc, InvalidInputError):
        assert err["details"] == [{"field": "goals", "value": [],
                                   "reason": "expected at least one competency id"}]
    if status == 429:
        assert r.headers["retry-after"] == "7"


def test_a_plain_value_error_is_not_a_client_error(api, caplog):
    """pandas and numpy raise ValueError too: one out of an engine call is the server's fault."""
    api.post("/v1/evidence", json={"records": [record(1)]})

    def broken(*_a, **_k):
        raise ValueError(INTERNAL)

    api.services.mastery.get = broken
    client = TestClient(api.client.app, raise_server_exceptions=False)
    with caplog.at_level(logging.ERROR, logger="pdrec.api"):
        r = client.get("/v1/educators/T1/mastery", headers={**api.h(), "X-Request-ID": "trace-42"})
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["code"] == "internal_error" and "nanosecond" not in r.text
    assert "trace-42" in err["message"]
    assert r.headers["x-request-id"] == "trace-42"
    logged = [rec for rec in caplog.records if "trace-42" in rec.getMessage()]
    assert logged and logged[0].exc_info is not None and INTERNAL in caplog.text
    assert "GET /v1/educators/T1/mastery" in logged[0].getMessage()


def test_an_unexpected_error_gets_a_fresh_request_id_when_none_was_sent(api):
    def broken(*_a, **_k):
        raise RuntimeError("'utf-8' codec can't encode character '\\ud800'")

    api.post("/v1/evidence", json={"records": [record(1)]})
    api.services.store.count_evidence = broken
    r = TestClient(api.client.app, raise_server_exceptions=False).get("/v1/educators/T1",
                                                                      headers=api.h())
    assert r.status_code == 500 and "codec" not in r.text
    rid = r.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", rid) and rid in r.json()["error"]["message"]


@pytest.mark.parametrize("sent,echoed", [("abc-123", True), ("A.b_c:9", True),
                                         ("x" * 129, False), ("bad id\n", False), ("", False)])
def test_every_answer_carries_the_request_id_sent_or_a_new_one(api, sent, echoed):
    r = api.client.get("/healthz", headers={"X-Request-ID": sent})
    rid = r.headers["x-request-id"]
    if echoed:
        assert rid == sent
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", rid)
    r = api.client.get("/v1/nothing-here", headers=api.h())
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])


@pytest.mark.parametrize("body", [b'{"educator_ids": ["\xff"]}', b"[" * 100_000,
                                  b'{"educator_ids": ["a"] , }', b"not json"],
                         ids=["latin-1 byte", "deep nesting", "trailing comma", "not json"])
@pytest.mark.parametrize("path", ["/v1/recommendations:batch", "/v1/evidence", "/v1/feedback"])
def test_a_body_that_is_not_json_is_a_documented_422(api, path, body):
    r = api.client.post(path, content=body,
                        headers={**api.h(), "content-type": "application/json"})
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "invalid_json", err
    assert err["message"].startswith("request body is not valid JSON")
    assert "codec" not in err["message"] and "Recursion" not in err["message"]
    assert err["details"][0]["field"] == "body"
    assert err["details"][0]["reason"]


def test_routing_errors_use_the_error_body(api):
    r = api.client.get("/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = api.client.request("PATCH", "/v1/framework", headers=api.h())
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
    assert r.headers["allow"] == "GET"
    # a path two routes serve: Allow names both (Starlette names the first route's only)
    r = api.client.request("OPTIONS", "/v1/educators/T1", headers=api.h())
    assert r.status_code == 405 and r.headers["allow"] == "GET, PUT"
    r = api.client.request("DELETE", "/v1/admin/keys", headers=api.h("admin"))
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"


def test_openapi_documents_every_error_an_operation_can_answer(api):
    spec = api.client.get("/openapi.json").json()
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            responses = op["responses"]
            where = f"{method.upper()} {path}"
            assert "X-Request-ID" in responses["500"]["headers"], where
            if "requestBody" in op:
                assert {"413", "422"} <= set(responses), where
            if path.startswith("/v1/"):
                assert {"401", "429"} <= set(responses), where
                assert "Retry-After" in responses["429"]["headers"], where
                assert op["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}], where
            for status, response in responses.items():
                if status[0] in "45" and path != "/readyz":
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert ref.endswith("/ErrorResponse"), (where, status)


def test_a_single_value_query_parameter_sent_twice_is_a_422_naming_it(api):
    # answered with the last value before (schemathesis, on PostgreSQL)
    r = api.get("/v1/educators?search=a&search=b")
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["code"] == "validation_error" and "search" in err["message"]
    assert err["details"] == [{"field": "search", "location": "query", "value": ["a", "b"],
                               "reason": "sent 2 times; this parameter takes one value"}]
    r = api.get("/v1/educators?limit=5&search=a&offset=0&limit=6&offset=1&offset=2")
    assert r.status_code == 422
    assert [(d["field"], d["value"]) for d in r.json()["error"]["details"]] == [
        ("limit", ["5", "6"]), ("offset", ["0", "1", "2"])]
    r = api.post("/v1/recommendations:batch?explain=true&explain=true",
                 json={"educator_ids": ["T1"]})
    assert r.status_code == 422 and r.json()["error"]["details"][0]["field"] == "explain"
    # once each, a list parameter repeated, or a name the route does not read: as before
    assert api.get("/v1/educators?search=a&limit=5").status_code == 200
    r = api.get("/v1/activities?format=course&format=coaching_cycle&unknown=1&unknown=2")
    assert r.status_code == 200 and r.json()["count"]
    assert {a["format"] for a in r.json()["activities"]} == {"course", "coaching_cycle"}
    # authentication still comes first
    assert api.client.get("/v1/educators?search=a&search=b").status_code == 401


def test_the_single_value_query_parameters_are_those_the_schema_gives_one_value(api):
    from fastapi.routing import APIRoute

    from api.query import single_value_parameters
    from api.routers import ROUTERS

    spec = api.client.get("/openapi.json").json()
    seen = 0
    for route in (r for router in ROUTERS for r in router.routes):
        assert isinstance(route, APIRoute)
        for method in route.methods - {"HEAD"}:
            params = spec["paths"][route.path_format][method.lower()].get("parameters", [])
            schemas = {p["name"]: p["schema"] for p in params if p["in"] == "query"}
            one = {name for name, schema in schemas.items()
                   if "array" not in {schema.get("type"),
                                      *(s.get("type") for s in schema.get("anyOf", []))}}
            assert single_value_parameters(route) == one, route.path
            seen += len(schemas)
    assert seen >= 15
