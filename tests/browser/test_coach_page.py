"""The coach page in a real browser: Debian's chromium driven by Playwright for Python.

The seeded site (the real app under uvicorn, 45 competencies, synthetic educators) and the
browser come from ``conftest.py``. Every run writes a screenshot of the educator view under the
test's temporary directory and prints its path and the measured page-load time.
"""

from __future__ import annotations

import re
import statistics
import time

from tests.browser.conftest import ready as _ready
from tests.browser.conftest import sign_in as _sign_in

LOAD_BUDGET_MS = 1000.0


def _open_educator(page, educator: str) -> tuple[float, float]:
    """Navigate to the educator view; (performance.now at ready, wall ms of goto + render)."""
    start = time.perf_counter()
    page.goto(f"/coach/educators/{educator}")
    ready = _ready(page)
    return ready, (time.perf_counter() - start) * 1000


def _step_titles(page) -> list[str]:
    return page.locator("li.step h3").evaluate_all(
        "els => els.map(e => e.textContent.replace(/^Step \\d+: /, ''))")


def test_coach_reviews_and_adjusts_a_pathway(page, site, tmp_path):
    from playwright.sync_api import expect

    screenshot = tmp_path / "educator_view.png"
    try:
        _sign_in(page, site.coach_key)
        expect(page.get_by_role("heading", name="Educators")).to_be_visible()
        _ready(page)
        assert page.locator("table.roster tbody tr").count() == len(site.educators)
        assert "progress" in page.locator("table.roster thead").inner_text().lower()
        assert site.coach_key not in page.url

        educator = site.educators[1]
        page.get_by_label("Search educators").fill(educator)
        expect(page.locator("table.roster tbody tr")).to_have_count(1)
        page.get_by_role("link", name=educator).click()
        page.wait_for_url(f"**/coach/educators/{educator}")
        _ready(page)

        # page-load time: a fresh navigation to the view, until it is fully drawn
        loads = [_open_educator(page, educator) for _ in range(3)]
        ready_ms = [r for r, _ in loads]
        wall_ms = [w for _, w in loads]
        print(f"\neducator view (45 competencies, 10 steps): ready at "
              f"{', '.join(f'{r:.0f}' for r in ready_ms)} ms after navigation start "
              f"(median {statistics.median(ready_ms):.0f} ms); wall "
              f"{', '.join(f'{w:.0f}' for w in wall_ms)} ms")
        assert statistics.median(ready_ms) < LOAD_BUDGET_MS

        # the map and the steps
        expect(page.get_by_role("heading", name="Competency map")).to_be_visible()
        assert page.locator("#map g.node").count() == 45
        assert page.locator("#map g.node.goal").count() >= 1
        assert page.locator("#map path.edge").count() > 40
        expect(page.locator("li.step")).to_have_count(10)
        before = _step_titles(page)
        assert all(page.locator("li.step p.reason").all_inner_texts())

        # hovering a competency shows its level descriptor and the evidence behind it
        node = page.locator("#map g.node", has=page.locator("text.nev", has_text="ev")).filter(
            has_not=page.locator("text.nev", has_text="0 ev")).first
        node.hover()
        tip = page.locator("#tooltip")
        expect(tip).to_be_visible()
        expect(tip).to_contain_text("Mastery")
        expect(tip).to_contain_text("Latest level")
        expect(tip).to_contain_text("Evidence:")

        # the structured explanation on demand
        page.locator("li.step").first.locator("button", has_text="Why?").click()
        expect(page.locator("li.step").first.locator("table.mini")).to_be_visible()

        # "Why?" cites the educator's own records (date, source, score of scale) and counts them
        cited = None
        for i in range(page.locator("li.step").count()):
            step = page.locator("li.step").nth(i)
            if i:
                step.locator("button", has_text="Why?").click()
            expect(step.locator(".panel table.mini")).to_be_visible()
            if step.locator("li.cited-record").count():
                cited = step
                break
        assert cited is not None, "no step cites any evidence of an educator with evidence"
        record = cited.locator("li.cited-record").first
        expect(record).to_be_visible()
        assert re.search(r"\d{4} · [a-z ]+ · [\d.]+ of [\d.]+–[\d.]+", record.inner_text())
        n = cited.locator("li.cited-record").evaluate_all(
            "els => new Set(els.map(e => e.dataset.evidence)).size")
        used = cited.locator("dt", has_text="Evidence used").locator("xpath=following-sibling::dd[1]")
        expect(used).to_have_text(f"{n} record{'' if n == 1 else 's'}")
        expect(cited.locator("ul.contributions li").first).to_be_visible()

        # accept the first step
        accepted = before[0]
        page.get_by_role("button", name=f"Accept {accepted}", exact=True).click()
        expect(page.locator("#status")).to_contain_text("Accepted")
        expect(page.locator("li.step h3", has_text=accepted)).to_have_count(0)
        expect(page.locator("#decisions-body")).to_contain_text(accepted)

        # replace another with a catalog activity
        replaced = _step_titles(page)[1]
        page.get_by_role("button", name=f"Replace {replaced} with another activity").click()
        page.get_by_label("Search the catalog").fill("coaching")
        # the search renders after a debounce: read the list once it shows this query's results
        choice = page.locator('ul.results[data-query="coaching"] li').first
        chosen = choice.locator("strong").inner_text()
        choice.locator("button", has_text="Use instead").click()
        expect(page.locator("#status")).to_contain_text("Replaced")

        # the next load reflects both
        page.reload()
        _ready(page)
        titles = _step_titles(page)
        assert accepted not in titles and replaced not in titles
        assert titles[0] == chosen
        first = page.locator("li.step").first
        expect(first.locator(".badge")).to_have_text("Chosen by coach")
        expect(first.locator(".replaced")).to_contain_text(replaced)
        in_progress = page.locator("#decisions-body ul").first
        expect(in_progress).to_contain_text(accepted)

        # the pathway to a chosen goal: ordered steps, hours per step and in total
        expect(page.locator("#pathway-body .total")).to_contain_text("in total")
        assert page.locator("ol.pathway li").count() >= 1
    finally:
        page.screenshot(path=str(screenshot), full_page=True)
        print(f"screenshot: {screenshot}")
    assert screenshot.stat().st_size > 10_000


def test_map_and_actions_are_keyboard_operable(page, site):
    from playwright.sync_api import expect

    _sign_in(page, site.coach_key)
    _ready(page)
    page.goto(f"/coach/educators/{site.educators[0]}")
    _ready(page)
    node = page.locator("#map g.node").first
    node.focus()
    expect(page.locator("#tooltip")).to_be_visible()
    assert "Mastery" in node.get_attribute("aria-label")
    page.keyboard.press("Escape")
    expect(page.locator("#tooltip")).to_be_hidden()
    page.keyboard.press("Tab")  # the next competency takes focus and shows its tooltip
    expect(page.locator("#tooltip")).to_be_visible()

    # decline with a reason, by keyboard alone
    title = _step_titles(page)[0]
    page.get_by_role("button", name=f"Decline {title}").focus()
    page.keyboard.press("Enter")
    reason = page.locator("li.step").first.get_by_label("Reason")
    expect(reason).to_be_focused()
    reason.select_option("Too long for now")
    page.locator("li.step").first.get_by_role("button", name="Decline", exact=True).press("Enter")
    expect(page.locator("#status")).to_contain_text("Declined")
    expect(page.locator("li.step h3", has_text=title)).to_have_count(0)
    expect(page.locator("#decisions-body")).to_contain_text("Too long for now")
    # every button and input has an accessible name
    unnamed = page.evaluate("""() => [...document.querySelectorAll('button, input, select, textarea')]
        .filter(e => e.type !== 'hidden' && !e.getAttribute('aria-label') && !e.labels?.length
                     && !e.textContent.trim()).length""")
    assert unnamed == 0


def test_platform_key_cannot_sign_in(page, site):
    from playwright.sync_api import expect

    _sign_in(page, site.platform_key)
    expect(page.get_by_role("alert")).to_contain_text("cannot sign in here")
    assert site.platform_key not in page.url
