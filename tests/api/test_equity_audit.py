"""GET /v1/admin/audit on SQLite and PostgreSQL: the newest stored audit of the caller's tenant."""

import pandas as pd

from api.schemas.equity_audit import EquityAuditOut
from pipelines.audit_run import audit_json
from recommender import audit
from recommender.store.equity_audits import latest_audit, put_audit


def _document(shortfall: float) -> dict:
    values = pd.DataFrame({"hours": [10.0, 12.0, 8.0, 9.0] * 10,
                           "gain_per_hour": [0.01, 0.011, 0.01 * shortfall, 0.009 * shortfall] * 10,
                           "intensive_share": [0.3, 0.4, 0.3, 0.35] * 10,
                           "mastery_gap": [0.5, 0.55, 0.5, 0.52] * 10},
                          index=pd.Index([f"E{i}" for i in range(40)], name="educator_id"))
    attrs = pd.DataFrame({"school": ["A", "A", "B", "B"] * 10}, index=values.index)
    table = audit.subgroup_report(values, attrs, n_boot=50, min_n=5)
    return audit_json(table, metrics=list(audit.RECOMMENDATION_METRICS),
                      source={"tenant": "acme"}, threshold=0.8)


def test_the_newest_audit_of_the_callers_tenant_is_served(api_any):
    store = api_any.services.store
    assert put_audit(store, "acme", _document(1.0), by="test") == 1
    assert put_audit(store, "acme", _document(0.5), by="test") == 2
    got = api_any.get("/v1/admin/audit", "admin")
    assert got.status_code == 200, got.text
    body = EquityAuditOut.model_validate(got.json())
    assert body.version == 2 and body.created_by == "test" and body.created_at is not None
    assert body.flagged == ["school=B: gain_per_hour"]
    b = next(g for g in body.groups if g.value == "B")
    assert b.flags == ["gain_per_hour"] and b.ratios["gain_per_hour"].reference == "A"
    assert latest_audit(store, "other") is None
    # an audit is never active content: the tenant still serves the default framework
    assert store.active_content("acme") == {}
