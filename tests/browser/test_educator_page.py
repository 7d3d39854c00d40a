"""The educator's own page (/coach/me) in a real browser (fixtures in conftest.py).

An educator signs in with their own key at the coach sign-in page and lands on their view: the
map shows the API's mastery, the evidence table every record the API holds and whether it is
used, the next steps the API ranks, the renewal progress, and the consent form. Withdrawing a
source marks its records not used, as the API says; another educator's address shows only
their own view, and the API answers the session 404 for anyone else.
"""

from __future__ import annotations

from datetime import date, timedelta

import httpx
import pytest

from tests.browser.conftest import ready, sign_in


def _client(site, key: str) -> httpx.Client:
    return httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {key}"},
                        timeout=30)


@pytest.fixture(scope="module")
def me(site):
    """``(educator id, educator key)`` for the last seeded educator (other tests use the first
    six), with renewal rules in the tenant."""
    educator = site.educators[-1]
    rules = {"document": {"name": "State licence renewal", "window_years": 5,
                          "deadline": (date.today() + timedelta(days=400)).isoformat(),
                          "rules": [{"id": "total", "kind": "total", "hours": 60}]}}
    with _client(site, site.admin_key) as admin:
        r = admin.post("/v1/admin/keys", json={"role": "educator", "educator_id": educator,
                                               "label": "my own key"})
        assert r.status_code == 201, r.text
        assert admin.put("/v1/admin/renewal-rules", json=rules).status_code == 200
    return educator, r.json()["key"]


def test_an_educator_sees_their_own_view_and_nobody_else(page, site, me):
    from playwright.sync_api import expect

    educator, key = me
    with _client(site, key) as c:
        mastery = c.get(f"/v1/educators/{educator}/mastery").json()
        evidence = c.get(f"/v1/educators/{educator}/evidence?limit=2000").json()
        recs = c.get(f"/v1/educators/{educator}/recommendations?k=8&explain=true").json()
        renewal = c.get(f"/v1/educators/{educator}/renewal").json()
    sign_in(page, key)
    page.wait_for_url("**/coach/me")
    ready(page)
    expect(page.locator("h1")).to_contain_text(educator)
    comps = page.locator("#map-body li.comp")
    expect(comps).to_have_count(len(mastery["competencies"]))
    first = mastery["competencies"][0]
    expect(page.locator(f'li.comp[data-competency="{first["competency_id"]}"]')).to_contain_text(
        f"{round(first['p_mastery'] * 100)}%")
    expect(page.locator("#evidence-table tbody tr")).to_have_count(evidence["count"])
    assert evidence["count"] > 0 and all(e["used"] for e in evidence["items"])
    expect(page.locator("#evidence-table tr.unused")).to_have_count(0)
    steps = page.locator("#steps li.step")
    expect(steps).to_have_count(len(recs["items"]))
    assert [steps.nth(i).get_attribute("data-activity") for i in range(steps.count())] \
        == [it["activity_id"] for it in recs["items"]]
    expect(steps.first).to_contain_text(recs["items"][0]["reason"])
    panel = page.locator("section#renewal")
    expect(panel).to_have_attribute("data-loaded", "true")
    expect(panel).to_contain_text(f"{renewal['days_left']} days left")
    expect(panel.locator('li.rule[data-rule="total"]')).to_contain_text("of 60 h")

    other = site.educators[0]
    page.goto(f"/coach/educators/{other}")
    page.wait_for_url("**/coach/me")
    ready(page)
    expect(page.locator("body")).to_have_attribute("data-educator", educator)
    expect(page.locator("main")).not_to_contain_text(other)
    for path in (f"/v1/educators/{other}", f"/v1/educators/{other}/evidence"):
        r = page.request.get(path)
        assert r.status == 404 and r.json()["error"]["message"] == f"no educator {other!r}"
    assert page.request.get("/v1/educators").status == 403


def test_withdrawing_consent_marks_the_records_not_used(page, site, me):
    from playwright.sync_api import expect

    educator, key = me
    with _client(site, key) as c:
        items = c.get(f"/v1/educators/{educator}/evidence?limit=2000").json()["items"]
        before = c.get(f"/v1/educators/{educator}/mastery").json()["competencies"]
    sources = [e["source"] for e in items]
    source = max(set(sources), key=sources.count)
    sign_in(page, key)
    ready(page)
    try:
        box = page.locator(f"#consent-{source}")
        expect(box).to_be_checked()
        box.uncheck()
        page.get_by_role("button", name="Save consent").click()
        expect(page.locator("#status")).to_contain_text("Saved")
        unused = page.locator(f'#evidence-table tr.unused[data-source="{source}"]')
        expect(unused).to_have_count(sources.count(source))
        expect(unused.first).to_contain_text("you withdrew consent")
        expect(page.locator("#evidence-table tr.unused")).to_have_count(sources.count(source))
        expect(page.locator(f"#consent-{source}")).not_to_be_checked()
        with _client(site, key) as c:
            api = c.get(f"/v1/educators/{educator}/evidence?limit=2000").json()["items"]
            after = c.get(f"/v1/educators/{educator}/mastery").json()["competencies"]
        assert {e["evidence_id"] for e in api if not e["used"]} == {
            page.locator("#evidence-table tr.unused").nth(i).get_attribute("data-evidence")
            for i in range(sources.count(source))}
        # the answer changed, and the map shows the new one
        moved = [(a, b) for a, b in zip(before, after, strict=True)
                 if round(a["p_mastery"] * 100) != round(b["p_mastery"] * 100)]
        assert moved, "withdrawing the most frequent source changed no mastery estimate"
        _, now = moved[0]
        expect(page.locator(f'li.comp[data-competency="{now["competency_id"]}"]')).to_contain_text(
            f"{round(now['p_mastery'] * 100)}%")
    finally:  # later tests see every source used
        with _client(site, key) as c:
            assert c.put(f"/v1/educators/{educator}/consent",
                         json={"withdrawn": []}).status_code == 200
