"""Property-based run against the OpenAPI schema (schemathesis), on SQLite and on PostgreSQL:
with every schemathesis check (no server error, status codes, content types, headers and bodies
as documented, invalid data rejected, valid data accepted, auth not ignored, ...), no input
makes the API fail.

Nothing is built at collection: per store, a fixture starts ``pdrec serve`` on a tenant seeded
with a few records and an educator with goals, and the schema is the one that server publishes
(``/openapi.json``), so every check, including those that send a request again, goes to it. One
test per store; each API operation is a subtest.

The suite runs ``PDREC_FUZZ_EXAMPLES`` examples per operation (default 10, so ``make test``
stays fast); ``make fuzz`` runs 100 per operation on both stores and prints, per store, the
cases sent and the time taken. A failing check stops its operation's run (hypothesis shrinks it
and stops), so the few known failures of checks other than server errors, open elsewhere, are
set aside per operation in :data:`OPEN_ELSEWHERE` rather than left to cut runs short.
"""

from __future__ import annotations

import os
import time
from collections import Counter

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from tests.api.conftest import record
from tests.api.server import ServerProcess, store_url

EXAMPLES = int(os.environ.get("PDREC_FUZZ_EXAMPLES", "10"))

OPEN_ELSEWHERE = {
    # the documented body is an object with a list of records; a bare JSON array of anything
    # (even [null, null]) is answered 200 with a rejection per item (request-body contract)
    ("POST", "/v1/evidence"): [negative_data_rejection],
    ("POST", "/v1/evidence/xapi"): [negative_data_rejection],
    # ids the schema cannot know (tenant content) are answered 422, where the check accepts 404:
    # ?competency_id=0 on an educator's evidence, ?competency=<unknown> on activities, an
    # unknown goal id in a profile, an unknown activity_id in feedback (whose description
    # promises 404) (read paths', profiles' and feedback's contract)
    ("GET", "/v1/educators/{educator_id}/evidence"): [positive_data_acceptance],
    ("GET", "/v1/activities"): [positive_data_acceptance],
    ("PUT", "/v1/educators/{educator_id}"): [positive_data_acceptance],
    ("POST", "/v1/feedback"): [positive_data_acceptance],
}
"""Checks set aside per operation: failures found by this test, other than server errors,
whose fix belongs to another part of issue 14. Remove an entry once its fix is in."""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzz_server(request, tmp_path_factory):
    """``(server, admin key, cases per operation)``: ``pdrec serve`` on a seeded store."""
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    # the ignored_auth check sends bad keys on purpose, thousands in a long run: throttling them
    # (429, tested in test_auth_throttle.py) would hide the 401 the check looks for
    server = ServerProcess(folder, store_url(request.param, folder),
                           PDREC_AUTH_FAILURES_PER_MINUTE="0")
    key = server.create_key("acme", "admin")
    server.start()
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=60) as client:
        client.post("/v1/evidence", json={"records": [record(i, day=i) for i in range(1, 5)]})
        client.put("/v1/educators/T1", json={"goals": ["INS.ELL"]})
    cases: Counter = Counter()
    started = time.monotonic()
    yield server, key, cases
    server.stop()
    few = ", ".join(f"{m} {p}: {n}" for (m, p), n in sorted(cases.items()) if n < EXAMPLES)
    print(f"\nschemathesis on {request.param}: {sum(cases.values())} cases over {len(cases)} "
          f"operations in {time.monotonic() - started:.0f} s; fewer than {EXAMPLES} (hypothesis "
          f"stopped early): {few or 'none'}")


@pytest.fixture
def api_schema(request, fuzz_server):
    """The schema as the running server publishes it (its base URL: where every check sends)."""
    # schemathesis 4.32 reads Node._nodeid, which pytest 9 no longer sets; give it the node id
    request.node._nodeid = request.node.nodeid
    server, _, _ = fuzz_server
    return schemathesis.openapi.from_url(server.base + "/openapi.json")


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
def test_no_input_makes_the_api_fail(case, fuzz_server):
    if case.path == "/v1/admin/keys/{key_id}" and case.method == "DELETE":
        pytest.skip("revoking keys at random would lock the fuzzer out")
    server, key, cases = fuzz_server
    operation = (case.operation.method.upper(), case.operation.path)
    cases[operation] += 1
    try:
        case.call_and_validate(headers={"Authorization": f"Bearer {key}"},
                               excluded_checks=OPEN_ELSEWHERE.get(operation, []))
    except Exception:
        print(server.log_tail(4000))  # the server's side of a failure (a 500's traceback)
        raise
