"""The demo district: a second demo tenant on a CASE-imported framework and a OneRoster roster.

``pdrec demo`` calls :func:`seed_district_tenant` after the ``demo`` tenant. It walks the path a
district takes, on content embedded in ``recommender/data/demo_district/`` (a fictional
district's, authored for the demo, so ``make demo`` needs nothing outside the package):

1. its coaching framework, a CASE 1.0 CFPackage, goes through
   :func:`~recommender.standards.case.import_case` (the report's counts are returned);
2. the imported framework and the district's catalog (with its own ``vocabularies``) become
   the tenant's content through ``PUT /v1/admin/framework`` ``{document, catalog}``;
3. its OneRoster 1.1 bulk set goes through
   :func:`~recommender.standards.roster_import.import_roster`: staff become educators with
   role, school and grade band;
4. each rostered educator gets goals and a years-of-experience and subject profile from a
   simulated educator of the district's framework
   (:func:`~recommender.simulate.generate`, educator ids mapped one to one onto the roster's);
   they are merged into the rostered profile in the store, because ``PUT /v1/educators/{id}``
   replaces the whole profile and would drop the roster's keys (school, roster status, stamp);
5. the simulated evidence and completions go through ``POST /v1/evidence`` and
   ``POST /v1/feedback``.

No model is trained on the district's framework, so the district is served the graph rule
(``model.fallback: true``); the first educator's recommendations are returned to show it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import networkx as nx
import orjson
import pandas as pd
import yaml
from fastapi.testclient import TestClient

from api.settings import Settings
from pipelines.app import create_app
from pipelines.serve import project_store
from recommender.catalog import Catalog, build_catalog
from recommender.evidence import EVIDENCE_COLUMNS, to_json_records
from recommender.graph import build_framework
from recommender.simulate import SyntheticData, generate
from recommender.standards.case import read_case
from recommender.standards.roster_import import import_roster

__all__ = ["DISTRICT_DIR", "DistrictContent", "DistrictTenant", "district_content",
           "district_lines", "seed_district_tenant", "synthetic_for"]

DISTRICT_DIR = Path(str(resources.files("recommender.data").joinpath("demo_district")))
"""The embedded district content: ``case_framework.json``, ``catalog.yaml``, ``roster/``."""

ROLES = ("platform", "coach", "admin")


@dataclass(frozen=True)
class DistrictContent:
    """The district's framework (imported from CASE), its catalog, and the CASE import report."""

    framework: dict
    catalog_text: str
    graph: nx.DiGraph
    catalog: Catalog
    case_summary: dict[str, int]
    case_skipped: int


@dataclass(frozen=True)
class DistrictTenant:
    """What was loaded, one fresh key per role, and a recommendations answer to show."""

    tenant: str
    keys: dict[str, str]
    educators: list[str]
    case_summary: dict[str, int]
    case_skipped: int
    roster_counts: dict[str, int]
    roster_rejections: int
    content: dict
    evidence: int
    completions: int
    sample: dict


def district_content(directory: Path = DISTRICT_DIR) -> DistrictContent:
    """Import ``directory``'s CASE package and load its catalog against it.

    Raises ``ValueError`` naming the file when the package imports nothing or skips an element
    (the embedded content is ours and must import whole) or the catalog does not load.
    """
    package = directory / "case_framework.json"
    result = read_case(package)
    if result.framework is None or result.report.skipped:
        raise ValueError(f"{package}: the district's CASE package must import whole; skipped "
                         f"{[(s.element, s.identifier, s.reason) for s in result.report.skipped]}")
    graph = build_framework(result.framework)
    text = (directory / "catalog.yaml").read_text(encoding="utf-8")
    catalog = build_catalog(yaml.safe_load(text), graph)
    return DistrictContent(result.framework, text, graph, catalog, result.report.summary(),
                           len(result.report.skipped))


def synthetic_for(graph: nx.DiGraph, catalog: Catalog, educator_ids: list[str], *,
                  months: int, seed: int) -> SyntheticData:
    """Simulate ``len(educator_ids)`` educators on ``graph`` and give them ``educator_ids``.

    The simulator's ids (``E000001``, ...) are mapped in order onto ``educator_ids`` in the
    educators, the evidence (its ``educator_id`` and self-assessments' ``rater_id``) and the
    completions; evidence ids get the prefix ``rb-`` so they read as the district's.
    """
    data = generate(graph, catalog, n_educators=len(educator_ids), months=months,
                    random_state=seed)
    ids = dict(zip(data.educators["educator_id"].sort_values(), educator_ids, strict=True))
    people = data.educators.assign(educator_id=data.educators["educator_id"].map(ids))
    evidence = data.evidence.assign(
        evidence_id="rb-" + data.evidence["evidence_id"].astype(str),
        educator_id=data.evidence["educator_id"].map(ids),
        rater_id=data.evidence["rater_id"].map(ids).fillna(data.evidence["rater_id"]))
    completions = data.completions.assign(
        educator_id=data.completions["educator_id"].map(ids))
    return SyntheticData(**{**vars(data), "educators": people, "evidence": evidence,
                            "completions": completions})


def _give_goals(store, tenant: str, people: pd.DataFrame) -> None:  # noqa: ANN001
    """Merge each simulated educator's goals, years and subject into their rostered profile."""
    stored = store.get_educators(tenant, people["educator_id"])
    for row in people.to_dict("records"):
        rec = stored[row["educator_id"]]
        profile = {**rec.profile, "years_experience": int(row["years_experience"]),
                   "subject": row["subject"]}
        goals = [g for g in str(row["goals"] or "").split("|") if g]
        store.put_educator(tenant, row["educator_id"], profile=profile, goals=goals)


def _checked(response, what: str) -> dict:  # noqa: ANN001
    if response.status_code >= 400:
        raise RuntimeError(f"loading the district tenant failed at {what}: "
                           f"{response.status_code} {response.text[:500]}")
    return response.json()


def seed_district_tenant(data_dir: Path, *, tenant: str = "district", months: int = 6,
                         seed: int = 0, directory: Path = DISTRICT_DIR,
                         progress: Callable[[str, int, int], None] = lambda *_: None
                         ) -> DistrictTenant:
    """Load the demo district into ``tenant`` (see the module docstring) and return its keys.

    Re-running is safe: a content upload stores a new version of the same documents, the
    roster import leaves unchanged educators as they are, evidence is idempotent on
    ``evidence_id``; completion events are stored again (feedback is a log).
    """
    content = district_content(directory)
    with project_store(data_dir) as store:
        keys = {role: store.create_key(tenant, role, label="demo district")[0] for role in ROLES}
        roster = import_roster(store, tenant, directory / "roster")
        ids = sorted(roster.roster.educators["educator_id"])
        data = synthetic_for(content.graph, content.catalog, ids, months=months, seed=seed)
        _give_goals(store, tenant, data.educators)
    progress("roster", len(ids), len(ids))

    app = create_app(Settings(data_dir=data_dir))
    with TestClient(app) as client:
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        platform = {"Authorization": f"Bearer {keys['platform']}",
                    "Content-Type": "application/json"}
        upload = _checked(client.put("/v1/admin/framework", headers=admin, json={
            "document": content.framework, "catalog": content.catalog_text}), "content")
        rows = to_json_records(data.evidence[[c for c in EVIDENCE_COLUMNS
                                              if c in data.evidence.columns]])
        _checked(client.post("/v1/evidence?report=problems", headers=platform,
                             content=orjson.dumps({"records": rows})), "evidence")
        progress("evidence", len(rows), len(rows))
        c = data.completions
        events = [{"educator_id": e, "activity_id": a, "event": "completed", "at": t.isoformat()}
                  for e, a, t in zip(c["educator_id"], c["activity_id"], c["completed_at"],
                                     strict=True)]
        _checked(client.post("/v1/feedback", headers=platform,
                             content=orjson.dumps({"events": events})), "feedback")
        progress("completions", len(events), len(events))
        staff = roster.roster.educators
        teachers = sorted(staff.loc[staff["role"] == "classroom_teacher", "educator_id"])
        shown = (teachers or ids)[0]
        sample = _checked(client.get(f"/v1/educators/{shown}/recommendations?k=3",
                                     headers=platform), "recommendations")
    return DistrictTenant(tenant=tenant, keys=keys, educators=ids,
                          case_summary=content.case_summary, case_skipped=content.case_skipped,
                          roster_counts=roster.counts(), roster_rejections=len(roster.rejections),
                          content=upload["content"], evidence=len(rows),
                          completions=len(events), sample=sample)


def district_lines(district: DistrictTenant, base: str) -> list[str]:
    """What ``pdrec demo`` prints about the district (rich markup): the import reports, the
    keys, the content versions, and the graph rule answering with ``fallback: true``."""
    case, roster, fw = district.case_summary, district.roster_counts, district.content["framework"]
    model = district.sample["model"]
    first = district.sample["educator_id"]
    return [
        f"tenant [bold]{district.tenant}[/bold] (a fictional district, on its own framework):",
        f"  CASE import: {case.get('items.competency', 0)} competencies in "
        f"{case.get('items.domain', 0)} domains, {case.get('associations.prerequisite', 0)} "
        f"prerequisites, {case.get('associations.level', 0)} level descriptors, "
        f"{district.case_skipped} skipped",
        f"  OneRoster import: {roster.get('educators', 0)} educators "
        f"({roster.get('created', 0)} new), {roster.get('non_educators', 0)} students and "
        f"others not imported, {district.roster_rejections} rows rejected",
        f"  content (PUT /v1/admin/framework): framework {fw['name']} v{fw['version']}, catalog "
        f"v{district.content['catalog']['version']} "
        f"({district.content['catalog']['activities']} activities)",
        f"  {district.evidence:,} evidence records, {district.completions:,} completions "
        "(loaded through the API)",
        *[f"  {role:>8} key: [bold]{key}[/bold]" for role, key in district.keys.items()],
        f"  served the graph rule: model {model['name']!r}, fallback: "
        f"{str(model['fallback']).lower()} (no model is trained on its framework)"
        + (f"; {model['note']}" if model.get("note") else ""),
        f"  curl -H \"Authorization: Bearer {district.keys['platform']}\" "
        f"'{base}/v1/educators/{first}/recommendations?k=3'",
    ]
