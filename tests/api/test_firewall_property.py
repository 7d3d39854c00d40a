"""The evidence firewall's goal (issue 18), as a property through the real app's services: for
any policy, any withdrawals and any evidence, every answer (mastery, recommendations with their
explanations, pathway) computed with the firewall equals the answer computed from the evidence
with the excluded rows removed, and no excluded record is ever cited.

Two tenants of one app: ``acme`` holds every record under the drawn policy and withdrawals;
``other`` holds only the rows an independent oracle keeps (source not blocked by the policy and
not withdrawn by the educator), under the default policy. Both answer at one fixed time with the
served code paths (the mastery service, the recommendation router's ranking with explanations,
the pathway endpoint), so the answers must be identical, not merely close.
"""

from __future__ import annotations

import itertools

import orjson
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from api.answers import AnswerQuery
from api.auth import Principal
from api.routers.recommendations import get_pathway
from recommender.evidence.contract import SOURCES

NOW = pd.Timestamp("2025-04-01T00:00:00Z")
GOAL = "COG.DATA_LIT"
COMPETENCIES = ["COG.DATA_LIT", "COG.ASSESS_LIT", "COG.LEARNING_SCIENCE", "COG.STANDARDS",
                "INS.FORMATIVE"]

_record = st.tuples(st.sampled_from(COMPETENCIES), st.sampled_from(SOURCES),
                    st.integers(1, 4), st.integers(1, 28))
_educator = st.tuples(st.lists(_record, min_size=1, max_size=7),
                      st.sets(st.sampled_from(SOURCES), max_size=3))
_scenario = st.tuples(st.lists(_educator, min_size=1, max_size=3),
                      st.sets(st.sampled_from(SOURCES), max_size=3))


def _answers(services, tenant: str, ids: list[str]) -> dict:
    """Every answer for these educators at :data:`NOW`, as JSON-ready values."""
    content = services.content.for_tenant(tenant)
    state = services.serve(tenant, content)
    mastery = services.mastery.refresh(tenant, ids, state=state, now=NOW)
    who = Principal(key_id="test", tenant_id=tenant, role="admin")
    out = {}
    for e in ids:
        rec = services.store.get_educator(tenant, e)
        answer = services.answers.compute(tenant, rec, AnswerQuery.of(6, None, True, None, "admin"),
                                          state, NOW)
        pathway = orjson.loads(get_pathway(who, services, content, NOW, educator_id=e, goal=None,
                                           formats=None, available=None).body)
        del pathway["request_id"]
        out[e] = {"mastery": mastery[e].table, "items": orjson.loads(answer.items_json),
                  "shown": answer.shown, "pathway": pathway}
    return out


def test_every_answer_equals_the_answer_without_the_excluded_rows(make_api):
    runs = itertools.count()
    with make_api(mastery_refresh="on_read") as api:
        services = api.services

        @settings(max_examples=15, deadline=None, database=None)
        @given(_scenario)
        def check(scenario):
            educators, blocked = scenario
            run = next(runs)
            policy = {"sources": {s: {"feeds_decisions": False} for s in blocked}}
            assert api.put("/v1/admin/evidence-policy", "admin", json=policy).status_code == 200
            ids, kept, stored = [], {}, {}
            for i, (rows, withdrawn) in enumerate(educators):
                e = f"X{run}-{i}"
                ids.append(e)
                for who in ("platform", "other"):
                    assert api.put(f"/v1/educators/{e}", who,
                                   json={"goals": [GOAL]}).status_code in (200, 201)
                recs = [{"evidence_id": f"{e}-r{j}", "educator_id": e, "competency_id": c,
                         "source": s, "score": score,
                         "observed_at": f"2025-03-{day:02d}T10:00:00Z"}
                        for j, (c, s, score, day) in enumerate(rows)]
                keep = [r for r in recs if r["source"] not in blocked | withdrawn]
                stored[e] = {r["evidence_id"] for r in recs}
                kept[e] = {r["evidence_id"] for r in keep}
                assert api.post("/v1/evidence", json={"records": recs}).status_code == 200
                if keep:
                    assert api.post("/v1/evidence", "other",
                                    json={"records": keep}).status_code == 200
                r = api.put(f"/v1/educators/{e}/consent", "admin",
                            json={"withdrawn": sorted(withdrawn)})
                assert r.status_code == 200, r.text
            fired, clean = _answers(services, "acme", ids), _answers(services, "other", ids)
            assert fired == clean
            for e in ids:
                cited = {c for item in fired[e]["items"]
                         for c in item["explanation"]["evidence_ids"]}
                assert cited <= kept[e]  # never an excluded record
                listed = api.get(f"/v1/educators/{e}/evidence", "admin").json()["items"]
                assert {x["evidence_id"] for x in listed} == stored[e]  # all kept for the record
                assert {x["evidence_id"] for x in listed if x["used"]} == kept[e]

        check()
