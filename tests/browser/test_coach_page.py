"""The coach page in a real browser: Debian's chromium driven by Playwright for Python.

The real app runs under uvicorn on a free 127.0.0.1 port, on a temporary data directory, with
the graph rule (no champion model) and a 45-competency framework (the default educator framework
plus three competencies), seeded through the API with synthetic educators. Every run writes a
screenshot of the educator view under the test's temporary directory and prints its path and the
measured page-load time.

Chromium must be at ``/usr/bin/chromium`` (``.ci/run`` installs it). Without it these tests fail
with the reason, unless ``PDREC_SKIP_BROWSER_TESTS=1`` opts out explicitly.
"""

from __future__ import annotations

import os
import re
import statistics
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml

from api.app import create_app
from api.settings import Settings
from recommender.catalog import default_catalog
from recommender.evidence import EVIDENCE_COLUMNS, to_json_records
from recommender.graph import default_framework, framework_to_dict, load_framework
from recommender.simulate import generate
from recommender.store import open_store
from tests.pg import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
LOAD_BUDGET_MS = 1000.0

if os.environ.get("PDREC_SKIP_BROWSER_TESTS") == "1":
    pytest.skip("PDREC_SKIP_BROWSER_TESTS=1: browser tests opted out", allow_module_level=True)

_LEVELS = ("beginning", "developing", "proficient", "advanced")
EXTRA = [  # three more competencies: the 45 of the performance target
    ("COG.MASTERY_GRADING", "Mastery-based grading and reporting", "cognitive",
     ["COG.ASSESS_LIT"]),
    ("REL.DATA_TEAMS", "Facilitating data team meetings", "interpersonal",
     ["COG.DATA_LIT", "REL.COLLABORATION"]),
    ("INS.STUDENT_GOALS", "Coaching students to set and track learning goals", "instructional",
     ["INS.FORMATIVE", "REL.LEARNER_AGENCY"]),
]


def _framework_45(folder: Path) -> Path:
    data = framework_to_dict(default_framework("educator"))
    for cid, name, domain, prereqs in EXTRA:
        data["competencies"].append({
            "id": cid, "name": name, "domain": domain, "description": name + ".",
            "levels": {lv: f"{lv.capitalize()}: {name.lower()} ({i + 1} of 4)."
                       for i, lv in enumerate(_LEVELS)},
            "prerequisites": prereqs})
    path = folder / "framework45.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert len(load_framework(path)) == 45
    return path


@dataclass
class Site:
    url: str
    coach_key: str
    platform_key: str
    educators: list[str]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coach-site")
    framework = _framework_45(folder)
    settings = Settings(data_dir=folder / "data", load_model=False, framework=str(framework))
    store = open_store(settings.store_url())
    coach_key, _ = store.create_key("district-7", "coach", "Coach Rivera")
    platform_key, _ = store.create_key("district-7", "platform", "lms")
    store.dispose()

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings, model_loader=None),
                                           host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"

    graph = load_framework(framework)
    data = generate(graph, default_catalog(graph), n_educators=8, months=9, random_state=3)
    h = {"Authorization": f"Bearer {platform_key}"}
    with httpx.Client(base_url=url, headers=h, timeout=30) as client:
        r = client.post("/v1/evidence?report=problems",
                        json={"records": to_json_records(data.evidence[list(EVIDENCE_COLUMNS)])})
        assert r.status_code == 200 and r.json()["rejected"] == 0, r.text
        for row in data.educators.itertuples(index=False):
            r = client.put(f"/v1/educators/{row.educator_id}", json={
                "profile": {"years_experience": int(row.years_experience), "role": row.role,
                            "subject": row.subject, "grade_band": row.grade_band},
                "goals": row.goals.split("|")[:2]})
            assert r.status_code == 200, r.text
    try:
        yield Site(url, coach_key, platform_key, sorted(data.educators["educator_id"]))
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y "
                    "chromium; .ci/run does it) or set PDREC_SKIP_BROWSER_TESTS=1 to opt out",
                    pytrace=False)
    from playwright.sync_api import expect, sync_playwright

    # the default 5 s is the whole budget of a save round-trip on a loaded 2-core CI machine
    expect.set_options(timeout=15_000)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser, site):
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, base_url=site.url)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" and not (
        "status of 401" in msg.text or "status of 403" in msg.text) else None)  # sign-in refusals
    pg.set_default_timeout(10_000)
    yield pg
    context.close()
    assert not errors, errors


def _sign_in(page, key: str):
    page.goto("/coach")
    page.get_by_label("Coach key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def _ready(page) -> float:
    page.wait_for_selector("body[data-ready='true']")
    return float(page.evaluate("window.coachReadyMs"))


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
