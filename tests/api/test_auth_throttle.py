"""Failed-authentication throttling (issue 14, item 7): repeated wrong keys from one client get
429 with ``Retry-After``; a valid key is never throttled by someone else's failures. Time is a
fake clock: nothing sleeps."""

from __future__ import annotations

import pytest

from api.limits import FailureThrottle
from tests.api.asgi import call

WRONG = "pdrec_0123456789ab_not-the-secret"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_the_limit_then_refills_one_attempt_per_period_over_limit():
    clock = Clock()
    throttle = FailureThrottle(3, period=60.0, clock=clock)
    me, other = ("10.0.0.1", "k1"), ("10.0.0.2", "k1")
    for _ in range(3):
        assert throttle.retry_after(me) == 0
        throttle.failed(me)
    assert throttle.retry_after(me) == 20  # one attempt back every 60 / 3 s
    assert throttle.retry_after(other) == 0
    clock.now += 19.5
    assert throttle.retry_after(me) == 1  # whole seconds, rounded up
    clock.now += 0.5
    assert throttle.retry_after(me) == 0
    throttle.failed(me)
    assert throttle.retry_after(me) == 20
    clock.now += 3600  # a full bucket again, never more than the limit
    for _ in range(3):
        throttle.failed(me)
    assert throttle.retry_after(me) == 20


def test_the_throttle_holds_a_bounded_number_of_clients_and_can_be_off():
    throttle = FailureThrottle(1, clock=Clock(), maxsize=2)
    for client in (("a", ""), ("b", ""), ("c", "")):
        throttle.failed(client)
    assert len(throttle) == 2 and throttle.retry_after(("a", "")) == 0  # the oldest went
    off = FailureThrottle(0, clock=Clock())
    for _ in range(100):
        off.failed(("a", ""))
    assert off.retry_after(("a", "")) == 0 and len(off) == 0
    with pytest.raises(ValueError, match="limit"):
        FailureThrottle(-1)


@pytest.fixture
def throttled(make_api):
    clock = Clock()
    with make_api(auth_failures_per_minute=5) as api:
        assert api.services.auth_throttle.limit == 5
        api.services.auth_throttle = FailureThrottle(5, period=60.0, clock=clock)
        yield api, clock


def test_repeated_wrong_keys_get_429_with_retry_after(throttled):
    api, clock = throttled
    wrong = {"Authorization": f"Bearer {WRONG}"}
    for _ in range(5):
        assert api.client.get("/v1/framework", headers=wrong).status_code == 401
    r = api.client.get("/v1/framework", headers=wrong)
    assert r.status_code == 429, r.text
    assert r.headers["retry-after"] == "12"
    err = r.json()["error"]
    assert err["code"] == "too_many_requests" and "12 s" in err["message"]
    assert err["details"] == [{"field": "Authorization", "value": "pdrec_0123456789ab_…",
                               "reason": "at most 5 failed authentications a minute per client "
                                         "and key id (PDREC_AUTH_FAILURES_PER_MINUTE)"}]
    # a POST body is not read either
    answer = call(api, "POST", "/v1/feedback", headers=wrong, client=("testclient", 50000),
                  chunks=iter([b"{}"] * 10))
    assert answer.status == 429 and answer.chunks_read == 0
    clock.now += 12
    assert api.client.get("/v1/framework", headers=wrong).status_code == 401
    assert api.client.get("/v1/framework", headers=wrong).status_code == 429


def test_a_valid_key_is_never_throttled_by_someone_elses_failures(throttled):
    api, _ = throttled
    for _ in range(6):  # this client is throttled for key id 0123456789ab ...
        api.client.get("/v1/framework", headers={"Authorization": f"Bearer {WRONG}"})
    for _ in range(6):  # ... and for keys that are no pdrec key at all
        api.client.get("/v1/framework", headers={"X-API-Key": "guess"})
    assert api.client.get("/v1/framework", headers={"X-API-Key": "guess2"}).status_code == 429
    # the same client, with valid keys of both tenants: served
    for who in ("platform", "coach", "admin", "other"):
        assert api.get("/v1/framework", who=who).status_code == 200
    # another client with the same wrong key: its own budget
    other = call(api, "GET", "/v1/framework", headers={"Authorization": f"Bearer {WRONG}"},
                 client=("10.9.8.7", 1234))
    assert other.status == 401


def test_a_wrong_secret_for_a_real_key_id_does_not_lock_that_key_out_elsewhere(throttled):
    api, _ = throttled
    real = api.keys["platform"]
    guess = real.rsplit("_", 1)[0] + "_guessed-secret"
    attacker = ("203.0.113.9", 5555)
    for _ in range(5):
        assert call(api, "GET", "/v1/framework", client=attacker,
                    headers={"Authorization": f"Bearer {guess}"}).status == 401
    assert call(api, "GET", "/v1/framework", client=attacker,
                headers={"Authorization": f"Bearer {guess}"}).status == 429
    assert api.get("/v1/framework").status_code == 200  # the key's owner, elsewhere


def test_revoked_keys_count_as_failures(throttled):
    api, _ = throttled
    secret = api.post("/v1/admin/keys", who="admin", json={"role": "coach"}).json()
    api.client.delete(f"/v1/admin/keys/{secret['key_id']}", headers=api.h("admin"))
    statuses = [api.client.get("/v1/framework", headers={"X-API-Key": secret["key"]}).status_code
                for _ in range(6)]
    assert statuses == [401] * 5 + [429]


def test_the_coach_sign_in_form_is_throttled_too(throttled):
    api, clock = throttled
    form = {"key": WRONG}
    for _ in range(5):
        assert api.client.post("/coach/session", data=form).status_code == 401
    r = api.client.post("/coach/session", data=form, follow_redirects=False)
    assert r.status_code == 429 and r.headers["retry-after"] == "12"
    assert "Too many failed sign-ins" in r.text
    r = api.client.post("/coach/session", data={"key": api.keys["coach"]},
                        follow_redirects=False)
    assert r.status_code == 303  # a valid coach key signs in all the same
    clock.now += 12
    assert api.client.post("/coach/session", data=form).status_code == 401
