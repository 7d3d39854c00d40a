"""The coach page's team view and renewal panel in a real browser (fixtures in conftest.py).

A team of the seeded educators (plus one id with no record) is put through the API; its page must
show the shared steps the API ranks, each member's expected gain, readiness and status, and every
member the API names not ready or mastered flagged on the step. The renewal panel of an educator
with two completions must show progress per rule and a plan; with rules no activity set can meet,
it must name the rule and the hours it misses, as the API does.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import httpx
import pytest

from tests.browser.conftest import ready, sign_in

TEAM = "plc-grade7"


def _client(site, key: str) -> httpx.Client:
    return httpx.Client(base_url=site.url, headers={"Authorization": f"Bearer {key}"},
                        timeout=30)


@pytest.fixture(scope="module")
def team(site):
    members = site.educators[:6] + ["ghost-01"]
    with _client(site, site.platform_key) as c:
        r = c.put(f"/v1/teams/{TEAM}", json={"name": "Grade 7 PLC", "members": members})
        assert r.status_code in (200, 201), r.text
    return members


def _rules(total: float, deadline: date) -> dict:
    return {"document": {"name": "State licence renewal", "window_years": 5,
                         "deadline": deadline.isoformat(),
                         "rules": [{"id": "total", "kind": "total", "hours": total},
                                   {"id": "interpersonal", "kind": "category",
                                    "category": "interpersonal", "hours": 10}]}}


def _api_steps(site, body: dict) -> list[dict]:
    with _client(site, site.coach_key) as c:
        r = c.post(f"/v1/teams/{TEAM}/recommendations", json=body)
        assert r.status_code == 200, r.text
        return r.json()["steps"]


def _screenshot(page, path, locator=None) -> None:
    (locator or page).screenshot(path=str(path), **({} if locator else {"full_page": True}))
    print(f"\nscreenshot: {path}")


def test_team_view_shows_shared_steps_member_fits_and_flags(page, site, team, tmp_path):
    from playwright.sync_api import expect

    sign_in(page, site.coach_key)
    ready(page)
    page.get_by_role("link", name="Teams").click()
    page.wait_for_url("**/coach/teams")
    ready(page)
    page.get_by_role("link", name=TEAM).click()
    page.wait_for_url(f"**/coach/teams/{TEAM}")
    ready(page)
    expect(page.get_by_role("heading", name="Grade 7 PLC")).to_be_visible()
    expect(page.locator("#not-found")).to_contain_text("ghost-01")

    expected = _api_steps(site, {"k": 3})
    steps = page.locator("li.team-step")
    expect(steps).to_have_count(len(expected))
    assert expected, "the seeded team has no shared step"
    flagged = 0
    for i, want in enumerate(expected):
        step = steps.nth(i)
        expect(step.locator("h3")).to_contain_text(want["title"])
        assert step.locator("p.reason").inner_text() == want["reason"]
        rows = step.locator("table.member-fit tbody tr")
        assert rows.evaluate_all("rs => rs.map(r => r.dataset.member)") == team[:6]
        for m in want["members"]:
            row = step.locator(f'tr[data-member="{m["educator_id"]}"]')
            expect(row.locator("td").nth(0)).to_have_text(f"+{m['expected_gain']:.2f}")
            expect(row.locator("td").nth(1)).to_have_text(f"{round(m['readiness'] * 100)}%")
        for kind, css in (("not_ready", "li.flag.not-ready"), ("mastered", "li.flag.mastered")):
            if want[kind]:
                flag = step.locator(css)
                for e in want[kind]:
                    expect(flag).to_contain_text(e)
                    expect(step.locator(f'tr[data-member="{e}"] .fit-status')).to_contain_text(
                        "Not ready" if kind == "not_ready" else "Already mastered")
                flagged += len(want[kind])
            else:
                expect(step.locator(css)).to_have_count(0)
    assert flagged, "no member of the seeded team is flagged on any step"

    # an hour budget: the page asks again and every step fits in it
    budget = min(s["hours"] for s in expected)
    page.get_by_label("Hour budget").fill(f"{budget:g}")
    page.get_by_role("button", name="Show shared steps").click()
    expect(page.locator("#team-steps")).to_have_attribute("data-budget", f"{budget:g}")
    within = _api_steps(site, {"k": 3, "max_hours": budget})
    expect(steps).to_have_count(len(within))
    expect(page.locator("#team-summary")).to_contain_text(f"budget {budget:g} h")
    unnamed = page.evaluate("""() => [...document.querySelectorAll('button, input, select')]
        .filter(e => e.type !== 'hidden' && !e.getAttribute('aria-label') && !e.labels?.length
                     && !e.textContent.trim()).length""")
    assert unnamed == 0
    _screenshot(page, tmp_path / "team_view.png")


def test_renewal_panel_shows_progress_plan_and_shortfalls(page, site, tmp_path):
    from playwright.sync_api import expect

    educator = site.educators[2]
    deadline = date.today() + timedelta(days=400)
    done = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    with _client(site, site.admin_key) as admin, _client(site, site.platform_key) as platform:
        r = platform.post("/v1/feedback", json={"events": [
            {"educator_id": educator, "activity_id": a, "event": "completed", "at": done}
            for a in ("ACT-001", "ACT-002")]})
        assert r.status_code in (200, 201), r.text
        assert admin.put("/v1/admin/renewal-rules", json=_rules(60, deadline)).status_code == 200
        try:
            progress = platform.get(f"/v1/educators/{educator}/renewal").json()
            plan = platform.get(f"/v1/educators/{educator}/renewal/plan").json()
            assert plan["feasible"], plan
            sign_in(page, site.coach_key)
            ready(page)
            page.goto(f"/coach/educators/{educator}")
            ready(page)
            panel = page.locator("section#renewal")
            expect(panel).to_have_attribute("data-loaded", "true")
            expect(panel).to_contain_text(f"{progress['days_left']} days left")
            for rule in progress["rules"]:
                row = panel.locator(f'li.rule[data-rule="{rule["rule_id"]}"]')
                expect(row).to_contain_text(f"of {rule['required']:g} h")
            total = panel.locator('li.rule[data-rule="total"]')
            earned = progress["rules"][0]["earned"]
            assert earned > 0
            expect(total).to_contain_text(f"{round(earned, 1):g} h of 60 h")
            items = panel.locator("ol.renewal-plan li")
            expect(items).to_have_count(len(plan["activities"]))
            assert [items.nth(i).get_attribute("data-activity") for i in range(items.count())] \
                == [a["activity_id"] for a in plan["activities"]]
            expect(panel.locator(".total")).to_contain_text(f"{round(plan['total_hours'], 1):g} h")
            expect(panel.locator(".shortfalls")).to_have_count(0)

            # rules no activity set can meet: the rule and the hours it misses, as the API says
            assert admin.put("/v1/admin/renewal-rules",
                             json=_rules(100_000, deadline)).status_code == 200
            short = platform.get(f"/v1/educators/{educator}/renewal/plan").json()["shortfalls"]
            page.reload()
            ready(page)
            expect(panel).to_have_attribute("data-loaded", "true")
            for s in (s for s in short if s["kind"] == "rule"):
                item = panel.locator(f'.shortfalls li[data-shortfall="{s["id"]}"]')
                expect(item).to_contain_text(f"Rule {s['id']} cannot be met: "
                                             f"{round(s['hours'], 1):g} h short")
                expect(item).to_contain_text(s["reason"])
            assert any(s["id"] == "total" for s in short)
            panel.scroll_into_view_if_needed()
            _screenshot(page, tmp_path / "renewal_panel.png", panel)
        finally:  # later tests see feasible rules
            admin.put("/v1/admin/renewal-rules", json=_rules(60, deadline))
