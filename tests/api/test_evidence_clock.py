"""The tenant's evidence clock through the real app: an admin reads, sets and clears it; the
served mastery of that tenant (only) follows it, as the library computes it; bad clocks are a
422 naming the field."""

from datetime import UTC, datetime, timedelta

import pytest

from recommender.clock import EvidenceClock, with_clock
from recommender.serving import estimate_mastery

PATH = "/v1/admin/evidence-clock"
COMP = "INS.FORMATIVE"


def _post_minutes_apart(api, educator="T1"):
    """Three failures two to three hours ago, then two passes in the last minutes."""
    now = datetime.now(UTC)
    ago = [180, 170, 160, 5, 2]
    scores = [1, 1, 1, 4, 4]
    records = [{"evidence_id": f"{educator}-{i}", "educator_id": educator, "competency_id": COMP,
                "source": "observation", "score": s,
                "observed_at": (now - timedelta(minutes=m)).isoformat()}
               for i, (m, s) in enumerate(zip(ago, scores, strict=True))]
    r = api.post("/v1/evidence", json={"records": records})
    assert r.status_code in (200, 201, 207), r.text


def _p(api, educator="T1", who="platform"):
    body = api.get(f"/v1/educators/{educator}/mastery", who=who).json()
    return {c["competency_id"]: c["p_mastery"] for c in body["competencies"]}[COMP]


def test_an_admin_reads_sets_and_clears_the_clock(api):
    assert api.get(PATH, who="admin").json() == {
        "unit": "days", "half_life": 60.0, "half_life_days": 60.0, "default": True,
        "educators_marked_stale": None}
    api.put("/v1/educators/T1", json={})
    r = api.put(PATH, who="admin", json={"unit": "hours", "half_life": 12})
    assert r.status_code == 200, r.text
    assert r.json() == {"unit": "hours", "half_life": 12.0, "half_life_days": 0.5,
                        "default": False, "educators_marked_stale": 1}
    assert api.get(PATH, who="admin").json()["unit"] == "hours"
    assert api.services.store.evidence_clock("other") is None  # another tenant's stays
    cleared = api.client.delete(PATH, headers=api.h("admin")).json()
    assert cleared["default"] is True and cleared["half_life"] == 60.0
    assert api.services.store.evidence_clock("acme") is None


@pytest.mark.parametrize("body,field", [
    ({"unit": "weeks", "half_life": 3}, "unit"), ({"unit": "days", "half_life": 0}, "half_life"),
    ({"unit": "days", "half_life": -2}, "half_life"), ({"unit": "days", "half_life": "9"},
                                                        "half_life"),
    ({"unit": "days", "half_life": 1e9}, "half_life"), ({"unit": "days"}, "half_life"),
    ({"unit": "days", "half_life": 5, "extra": 1}, "extra")])
def test_a_bad_clock_is_a_422_naming_the_field(api, body, field):
    r = api.put(PATH, who="admin", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["details"][0]["field"] == field


def test_only_an_admin_may_touch_the_clock(api):
    assert api.get(PATH).status_code == 403
    assert api.put(PATH, json={"unit": "hours", "half_life": 1}).status_code == 403


def test_the_tenants_mastery_follows_its_clock_and_only_its_own(api):
    _post_minutes_apart(api)
    api.put("/v1/educators/O1", who="other", json={})
    default = _p(api)
    r = api.put(PATH, who="admin", json={"unit": "minutes", "half_life": 2})
    assert r.json()["educators_marked_stale"] == 1
    minutes = _p(api)
    assert minutes > default + 0.05  # the old failures have faded; the recent passes count
    # exactly what the library computes with the same clock on the stored evidence
    services = api.services
    state = services.models.for_tenant("acme")
    ev = services.store.evidence_frame("acme", ["T1"])
    lib = estimate_mastery(with_clock(state.estimator, EvidenceClock("minutes", 2)), ev, ["T1"])
    assert minutes == pytest.approx(lib.set_index("competency_id").loc[COMP, "p_mastery"],
                                    rel=1e-9)
    assert services.mastery.clock("other") == EvidenceClock()  # the other tenant: default
    api.client.delete(PATH, headers=api.h("admin"))
    assert _p(api) == pytest.approx(default, rel=1e-12)  # back to today's answer
