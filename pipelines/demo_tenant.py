"""The demo tenant: synthetic educators loaded through the real API, and keys to try it with.

``pdrec demo`` calls :func:`seed_demo_tenant` after training and promoting the champion. The
educators' profiles and goals go through ``PUT /v1/educators/{id}``, their evidence through
``POST /v1/evidence`` and their completed activities through ``POST /v1/feedback``: the same
paths a PD platform uses, run in-process, so the demo exercises what it shows. The tenant then
gets a licence-renewal rule set (:func:`demo_renewal_rules`, ``PUT /v1/admin/renewal-rules``)
and an ``educator`` key for the educator with the most completions, so that educator's own
page (``/coach/me``) shows renewal progress with hours earned.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import orjson
import pandas as pd
from fastapi.testclient import TestClient

from api.settings import Settings
from pipelines.app import create_app
from pipelines.serve import project_store
from recommender.evidence import EVIDENCE_COLUMNS, to_json_records
from recommender.simulate import read_synthetic

__all__ = ["DemoTenant", "demo_renewal_rules", "seed_demo_tenant"]

ROLES = ("platform", "coach", "admin")


@dataclass(frozen=True)
class DemoTenant:
    """What was loaded, and one fresh key per role (shown once, stored only as hashes);
    ``keys["educator"]`` belongs to ``educator``."""

    tenant: str
    keys: dict[str, str]
    educators: list[str]
    evidence: int
    completions: int
    educator: str


def demo_renewal_rules(today: date, last_completion: date | None = None) -> dict:
    """The demo tenant's renewal rules (docs/renewal.md): 100 hours in 5 years, 20 of them
    instructional, video reflections capped at 10 h, coaching cycles credited 1.5 times.

    The deadline is 30 June, two years after ``today`` (or the last completion, if later), so
    the synthetic completions fall in the window and the deadline is ahead.
    """
    year = max(today, last_completion or today).year + 2
    return {"name": "State licence renewal (demo)", "window_years": 5,
            "deadline": date(year, 6, 30).isoformat(),
            "rules": [{"id": "total", "kind": "total", "hours": 100},
                      {"id": "instructional", "kind": "category", "category": "instructional",
                       "hours": 20}],
            "caps": {"video_reflection": 10}, "multipliers": {"coaching_cycle": 1.5}}


def _most_completions(completions: pd.DataFrame, educators: list[str]) -> str:
    """The educator with the most completions (the first id among ties; the first educator
    when nobody completed anything)."""
    counts = completions["educator_id"].value_counts()
    if counts.empty:
        return educators[0]
    return str(counts[counts == counts.max()].index.sort_values()[0])


def _profile(row: pd.Series) -> dict:
    return {"years_experience": int(row["years_experience"]), "role": row["role"],
            "subject": row["subject"], "grade_band": row["grade_band"]}


def seed_demo_tenant(data_dir: Path, synthetic_dir: Path, *, tenant: str = "demo",
                     educators: int = 200, batch: int = 5000,
                     progress: Callable[[str, int, int], None] = lambda *_: None) -> DemoTenant:
    """Load the first ``educators`` synthetic educators into ``tenant`` through the API.

    Re-running is safe: evidence is idempotent on ``evidence_id`` and profiles are replaced;
    completion events are stored again (feedback is a log). ``progress(stage, done, total)``
    is called as work advances.
    """
    data = read_synthetic(synthetic_dir)
    people = data.educators.sort_values("educator_id").head(educators)
    ids = set(people["educator_id"])
    evidence = data.evidence[data.evidence["educator_id"].isin(ids)]
    completions = data.completions[data.completions["educator_id"].isin(ids)]
    with project_store(data_dir) as store:
        keys = {role: store.create_key(tenant, role, label="demo")[0] for role in ROLES}

    app = create_app(Settings(data_dir=data_dir))
    with TestClient(app, headers={"Authorization": f"Bearer {keys['admin']}"}) as client:
        def check(response, what: str) -> dict:
            if response.status_code >= 400:
                raise RuntimeError(f"loading the demo tenant failed at {what}: "
                                   f"{response.status_code} {response.text[:500]}")
            return response.json()

        for i, row in enumerate(people.to_dict("records")):
            goals = [g for g in str(row["goals"] or "").split("|") if g]
            check(client.put(f"/v1/educators/{row['educator_id']}",
                             json={"profile": _profile(row), "goals": goals}),
                  f"educator {row['educator_id']}")
            progress("profiles", i + 1, len(people))

        rows = to_json_records(evidence[[c for c in EVIDENCE_COLUMNS if c in evidence.columns]])
        for start in range(0, len(rows), batch):
            body = orjson.dumps({"records": rows[start:start + batch]})
            check(client.post("/v1/evidence?report=problems", content=body,
                              headers={"Content-Type": "application/json"}), "evidence")
            progress("evidence", min(start + batch, len(rows)), len(rows))

        events = [{"educator_id": e, "activity_id": a, "event": "completed", "at": t.isoformat()}
                  for e, a, t in zip(completions["educator_id"], completions["activity_id"],
                                     completions["completed_at"], strict=True)]
        for start in range(0, len(events), 1000):
            check(client.post("/v1/feedback", json={"events": events[start:start + 1000]}),
                  "feedback")
            progress("completions", min(start + 1000, len(events)), len(events))

        last = completions["completed_at"].max() if len(completions) else None
        rules = demo_renewal_rules(date.today(), None if last is None else last.date())
        check(client.put("/v1/admin/renewal-rules", json={"document": rules}), "renewal rules")
        educator = _most_completions(completions, sorted(ids))
        keys["educator"] = check(client.post("/v1/admin/keys", json={
            "role": "educator", "educator_id": educator, "label": "demo educator"}),
            "the educator key")["key"]
    return DemoTenant(tenant=tenant, keys=keys, educators=sorted(ids), evidence=len(rows),
                      completions=len(events), educator=educator)
