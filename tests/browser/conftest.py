"""Shared fixtures of the browser tests: the real app under uvicorn, seeded, and chromium.

The app runs on a free 127.0.0.1 port, on a temporary data directory, with the graph rule (no
champion model) and a 45-competency framework (the default educator framework plus three
competencies), seeded through the API with synthetic educators. The site and the browser are
started once per session (each costs seconds on a 2-core CI machine); every test gets a fresh
browser context, and fails on any page error or console error.

Chromium must be at ``/usr/bin/chromium`` (``.ci/run`` installs it). Without it these tests fail
with the reason, unless ``PDREC_SKIP_BROWSER_TESTS=1`` opts out explicitly.
"""

from __future__ import annotations

import os
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

SKIP = os.environ.get("PDREC_SKIP_BROWSER_TESTS") == "1"


def pytest_collection_modifyitems(config, items):
    """``PDREC_SKIP_BROWSER_TESTS=1`` skips every test of this folder, explicitly."""
    if SKIP:
        here = Path(__file__).parent
        mark = pytest.mark.skip(reason="PDREC_SKIP_BROWSER_TESTS=1: browser tests opted out")
        for item in items:
            if Path(str(item.fspath)).is_relative_to(here):
                item.add_marker(mark)


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
    admin_key: str


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    folder = tmp_path_factory.mktemp("coach-site")
    framework = _framework_45(folder)
    settings = Settings(data_dir=folder / "data", load_model=False, framework=str(framework))
    store = open_store(settings.store_url())
    coach_key, _ = store.create_key("district-7", "coach", "Coach Rivera")
    platform_key, _ = store.create_key("district-7", "platform", "lms")
    admin_key, _ = store.create_key("district-7", "admin", "ops")
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
        yield Site(url, coach_key, platform_key, sorted(data.educators["educator_id"]), admin_key)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
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


def sign_in(page, key: str):
    """Sign in on /coach with a key (the session cookie then serves every page)."""
    page.goto("/coach")
    page.get_by_label("Coach key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def ready(page) -> float:
    """Wait until the view is fully drawn; performance.now() at that moment."""
    page.wait_for_selector("body[data-ready='true']")
    return float(page.evaluate("window.coachReadyMs"))
