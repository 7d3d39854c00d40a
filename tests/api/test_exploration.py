"""Exploration through the real app: off shows the ranker's order with propensity 1; softmax and
epsilon draw the shown order per request, log each item's propensity, policy and ranker rank,
and a draw is replayed from the seed and the request id."""

from __future__ import annotations

import numpy as np
import pytest

from recommender.exploration import ExplorationPolicy, explore, request_rng


def _log(api):
    api.services.audit.flush()
    return api.services.store.recommendation_log("acme", "T1")


def test_off_logs_the_ranker_order_with_propensity_one(make_api):
    with make_api(audit_flush_seconds=0) as api:
        api.put("/v1/educators/T1", json={})
        items = api.get("/v1/educators/T1/recommendations", params={"k": 4}).json()["items"]
        log = _log(api)
        assert log["propensity"].tolist() == [1.0] * 4
        assert set(log["policy"]) == {"off"}
        assert log["ranker_rank"].tolist() == log["rank"].tolist() == [1, 2, 3, 4]
        assert log["activity_id"].tolist() == [i["activity_id"] for i in items]


@pytest.mark.parametrize("mode", ["softmax", "epsilon"])
def test_exploring_draws_per_request_and_logs_replayable_propensities(make_api, mode):
    kw = {"explore": mode, "explore_temperature": 0.05, "explore_epsilon": 0.5,
          "explore_seed": 11, "audit_flush_seconds": 0}
    with make_api(**kw) as api:
        api.put("/v1/educators/T1", json={})
        answers = [api.get("/v1/educators/T1/recommendations", params={"k": 4}).json()
                   for _ in range(12)]
        log = _log(api)
    policy = ExplorationPolicy(mode, temperature=0.05, epsilon=0.5)
    assert set(log["policy"]) == {policy.name}
    assert ((log["propensity"] > 0) & (log["propensity"] <= 1)).all()
    orders = {tuple(i["activity_id"] for i in a["items"]) for a in answers}
    assert len(orders) > 1  # the cached ranking is shown in more than one order
    for a in answers:
        rows = log[log["request_id"] == a["request_id"]].sort_values("rank")
        assert rows["activity_id"].tolist() == [i["activity_id"] for i in a["items"]]
        assert [i["rank"] for i in a["items"]] == [1, 2, 3, 4]
        ranked = rows.sort_values("ranker_rank")
        order, prop = explore(ranked["score"].to_numpy(), policy,
                              request_rng(11, f"{a['request_id']}/T1"))
        assert ranked["ranker_rank"].to_numpy()[order].tolist() == rows["ranker_rank"].tolist()
        assert np.allclose(prop, rows["propensity"])


def test_batch_answers_are_drawn_per_educator_and_logged(make_api):
    with make_api(explore="softmax", explore_temperature=0.05, audit_flush_seconds=0) as api:
        for e in ("T1", "T2"):
            api.put(f"/v1/educators/{e}", json={})
        body = api.post("/v1/recommendations:batch",
                        json={"educator_ids": ["T1", "T2"], "k": 3}).json()
        api.services.audit.flush()
        log = api.services.store.recommendation_log("acme")
    assert len(log) == 6 and log["propensity"].between(0, 1, inclusive="right").all()
    for res in body["results"]:
        rows = log[log["educator_id"] == res["educator_id"]].sort_values("rank")
        assert rows["activity_id"].tolist() == [i["activity_id"] for i in res["items"]]


def test_pathway_rows_have_no_propensity(make_api):
    with make_api(explore="softmax", audit_flush_seconds=0) as api:
        api.put("/v1/educators/T1", json={})
        api.get("/v1/educators/T1/pathway", params={"goal": "INS.ELL"})
        log = _log(api)
    assert log["propensity"].isna().all() and log["policy"].isna().all()
