"""Serving the champion: evidence-filter fallback without one, reload while serving, lazy recompute.

A tiny LightGBM model (n_jobs=1) is trained on a small synthetic cohort and logged to a
throwaway MLflow store through :mod:`pipelines.tracking`, exactly as ``pdrec train`` does.
MLflow is imported by the tests that use it, not at collection (it takes about a second).
"""

from __future__ import annotations

import pytest

from tests.api.conftest import record, running_api
from tests.api.registry import mastery_registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """A data dir whose MLflow registry holds one unpromoted 'mastery' version."""
    root = tmp_path_factory.mktemp("registry")
    with mastery_registry(root, versions=1, educators=60, months=4, seed=3,
                          n_estimators=15) as [version]:
        yield root, version


def test_no_champion_serves_the_evidence_filter_then_reload_swaps_in_the_champion(registry, tmp_path):
    from pipelines import tracking
    from pipelines.app import champion_loader

    root, version = registry
    with running_api(tmp_path / "api", model_loader=champion_loader(root)) as api:
        ready = api.client.get("/readyz").json()["model"]
        assert ready["fallback"] is True and "no champion" in ready["reason"]
        api.post("/v1/evidence", json={"records": [record(1, score=4), record(2, score=1,
                                                                        competency="INS.ELL")]})
        before = api.get("/v1/educators/T1/recommendations").json()
        assert before["model"].pop("content")["framework"]["source"] == "default"
        assert before["model"].pop("note") is None
        assert before["model"] == {"name": "evidence-filter", "version": None, "fallback": True,
                                   "scope": "none", "source": None, "card": None}
        raters = api.get("/v1/admin/raters", who="admin").json()
        assert raters["raters"] == [] and "without a model" in raters["note"]

        tracking.configure(root)
        tracking.promote(version)
        r = api.post("/v1/admin/model:reload", who="admin")
        assert r.status_code == 200, r.text
        assert r.json()["previous"]["fallback"] is True
        assert r.json()["previous"]["card"] is None
        model = r.json()["model"]
        assert model.pop("card")["data"]["kind"] == "synthetic"
        assert model.pop("content") is None and model.pop("note") is None  # no tenant content
        assert model == {"name": "lightgbm", "version": version, "fallback": False,
                         "scope": "default", "source": "registry"}
        raters = api.get("/v1/admin/raters", who="admin").json()["raters"]
        assert raters and {"rater_id", "n_ratings", "severity", "severity_low",
                           "severity_high"} == set(raters[0])
        severities = [r["severity"] for r in raters]
        assert severities == sorted(severities, reverse=True)  # harshest first
        assert api.get("/v1/admin/raters", who="platform").status_code == 403
        ready = api.client.get("/readyz").json()["model"]
        assert ready["loaded"] is True and ready["version"] == version

        # stored mastery of the graph rule is recomputed by the champion on the next read
        mastery = api.get("/v1/educators/T1/mastery").json()
        assert mastery["model"]["name"] == "lightgbm"
        stored = api.services.store.get_mastery("acme", ["T1"])["T1"]
        assert stored.model_key == f"lightgbm:{version}@m3"
        after = api.get("/v1/educators/T1/recommendations", params={"explain": True}).json()
        assert after["model"]["version"] == version
        assert all(i["explanation"]["model_version"] == version for i in after["items"])
        api.services.audit.flush()
        log = api.services.store.recommendation_log("acme", "T1")
        assert set(log["model_version"].dropna()) == {version}


def test_champion_loaded_at_start_and_new_evidence_changes_its_estimate(registry, tmp_path):
    from pipelines import tracking
    from pipelines.app import champion_loader

    root, version = registry
    tracking.configure(root)
    tracking.promote(version)
    with running_api(tmp_path / "api", model_loader=champion_loader(root)) as api:
        ready = api.client.get("/readyz").json()["model"]
        assert ready["loaded"] is True and ready["name"] == "lightgbm"
        assert api.services.models.state.gains is not None  # learned gains of the champion run
        api.put("/v1/educators/T1", json={"profile": {"years_experience": 3}})
        low = api.get("/v1/educators/T1/mastery").json()
        api.post("/v1/evidence", json={"records": [record(i, score=4, day=i)
                                                   for i in range(1, 9)]})
        high = api.get("/v1/educators/T1/mastery").json()
        n = {c["competency_id"]: c["n_evidence"] for c in high["competencies"]}
        assert n["INS.FORMATIVE"] == 8  # the model's answer rests on the new evidence
        assert high["computed_at"] > low["computed_at"]
        assert high["model"]["name"] == "lightgbm"
        body = api.post("/v1/evidence", json={"records": [record(99)]}).json()
        card = body["model"].pop("card")
        assert body["model"].pop("content")["catalog"]["source"] == "default"
        assert body["model"].pop("note") is None
        assert body["model"] == {"name": "lightgbm", "version": version, "fallback": False,
                                 "scope": "default", "source": "registry"}
        _check_card(card, root, version)
        for path in ("/v1/educators/T1/recommendations", "/v1/educators/T1/mastery"):
            assert api.get(path).json()["model"]["card"] == card
        spec = api.client.get("/openapi.json").json()["components"]["schemas"]
        assert spec["ModelInfo"]["properties"]["card"]["anyOf"][0]["$ref"].endswith("/ModelCard")
        assert spec["ModelCard"]["examples"] and spec["CardTimeRange"]["properties"]["from"]


def _check_card(card: dict, root, version: str) -> None:
    """The served card is the short form of the card the version's training run logged."""
    import mlflow

    from pipelines import tracking

    tracking.configure(root)
    run_id = mlflow.MlflowClient().get_model_version("mastery", version).run_id
    logged = mlflow.artifacts.load_dict(f"runs:/{run_id}/model_card.json")
    assert set(card) == {"framework", "data", "time_range", "split", "metrics", "subgroups",
                         "trained_at"}
    assert card["framework"] == {"name": logged["framework"]["name"],
                                 "version": logged["framework"]["version"],
                                 "hash": logged["framework"]["hash"]}
    assert card["data"] == {"kind": "synthetic", "tenant": None,
                            "fingerprint": logged["data"]["fingerprint"],
                            "evidence": logged["data"]["rows"]["evidence"]}
    assert card["time_range"] == logged["data"]["time_range"]
    assert card["split"] == {"by": "educator", "before": None, "test_size": 0.3,
                             "split_id": logged["split"]["split_id"]}
    assert card["trained_at"].endswith("+00:00")
    assert card["metrics"] == {k: pytest.approx(logged["metrics"][k])
                               for k in ("n", "auc", "log_loss", "brier")}
    groups = [g for rows in logged["subgroups"]["by"].values() for g in rows]
    sub = card["subgroups"]
    assert sub["groups"] == len(groups) and sub["small"] == sum(g["small"] for g in groups)
    assert sub["lowest"]["auc"] == min(g["auc"] for g in groups if not g["small"])


def test_failed_reload_keeps_serving_the_previous_model(api, monkeypatch):
    def boom():
        raise RuntimeError("registry unreachable")

    monkeypatch.setattr(api.services.models, "loader", boom)
    r = api.post("/v1/admin/model:reload", who="admin")
    assert r.status_code == 503 and "registry unreachable" in r.json()["error"]["message"]
    assert api.client.get("/readyz").json()["model"]["name"] == "evidence-filter"



def test_a_champion_logged_without_a_card_is_served_with_card_null(registry, tmp_path,
                                                                  monkeypatch):
    from pipelines import tracking
    from pipelines.app import champion_loader
    from pipelines.model_card import served_card

    root, version = registry
    tracking.configure(root)
    tracking.promote(version)
    bundle = tracking.load_champion_bundle()
    assert bundle.card is not None and bundle.trained_at and not bundle.notes
    assert served_card({}) == {"framework": {"name": None, "version": None, "hash": None},
                               "data": {"kind": None, "tenant": None, "fingerprint": None,
                                        "evidence": None},
                               "time_range": {"from": None, "to": None},
                               "split": {"by": None, "before": None, "test_size": None,
                                         "split_id": None},
                               "metrics": {"n": None, "auc": None, "log_loss": None,
                                           "brier": None},
                               "subgroups": None, "trained_at": None}
    monkeypatch.setattr(tracking, "CARD_ARTIFACT", "no_such_card.json")  # a run before cards
    with running_api(tmp_path / "api", model_loader=champion_loader(root)) as api:
        model = api.post("/v1/evidence", json={"records": [record(1)]}).json()["model"]
        assert model["version"] == version and model["fallback"] is False
        assert model["card"] is None
