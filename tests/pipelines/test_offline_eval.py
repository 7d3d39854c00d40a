"""``pdrec evaluate-offline`` on a small SQLite tenant: a log with propensities written through the
store as the API writes it, outcomes as feedback; estimates finite and as hand-computed."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.offline_eval import candidate_actions, estimate_candidate, load_candidate
from recommender.catalog import default_catalog
from recommender.evidence import proficient_threshold, validate_evidence
from recommender.graph import default_framework
from recommender.offpolicy_data import logged_bandit
from recommender.simulate import generate
from recommender.store import open_store

TENANT = "acme"


def _log_rows(data, rng):
    """Two answers per educator, each 3 days before one of their completions: the completed
    activity first (propensity 0.5) or another one (0.25); a pathway row and a row without a
    propensity beside them."""
    acts = data.completions["activity_id"].unique()
    rows = []
    for i, c in enumerate(data.completions.head(40).itertuples()):
        shown_at = (c.completed_at - pd.Timedelta(days=3)).to_pydatetime()
        hit = rng.random() < 0.5
        first = c.activity_id if hit else acts[(list(acts).index(c.activity_id) + 1) % len(acts)]
        base = {"tenant_id": TENANT, "request_id": f"r{i}", "educator_id": c.educator_id,
                "kind": "recommend", "score": 1.0, "model_name": "graph-rule",
                "model_version": None, "key_id": "k", "shown_at": shown_at,
                "policy": "softmax(t=0.3)"}
        rows.append(base | {"rank": 1, "activity_id": first, "propensity": 0.5 if hit else 0.25,
                            "ranker_rank": 1})
    pathway = rows[0] | {"request_id": "p", "kind": "pathway", "propensity": None,
                         "policy": None, "ranker_rank": None}
    old = rows[1] | {"request_id": "old", "propensity": None, "policy": None,
                     "ranker_rank": None}
    return rows + [pathway, old]


@pytest.fixture(scope="module")
def acme(tmp_path_factory):
    root = tmp_path_factory.mktemp("ope-data")
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    data = generate(graph, catalog, n_educators=24, months=4, random_state=2)
    store = open_store(f"sqlite:///{root / 'pdrec.db'}")
    try:
        store.ensure_tenant(TENANT)
        store.ensure_tenant("quiet")
        for row in data.educators.itertuples(index=False):
            store.put_educator(TENANT, row.educator_id, goals=str(row.goals).split("|"),
                               profile={"role": row.role})
        store.ingest_evidence(TENANT, validate_evidence(
            data.evidence, competencies=list(graph),
            proficient_at=proficient_threshold(graph.graph["scale"])).valid)
        store.add_feedback(TENANT, [
            {"educator_id": c.educator_id, "activity_id": c.activity_id, "event": "completed",
             "at": c.completed_at.to_pydatetime()} for c in data.completions.itertuples()])
        rows = _log_rows(data, np.random.default_rng(0))
        store.log_recommendations(rows)
        # half of the answers again, showing first what the no-model candidate would show
        log = store.recommendation_log(TENANT)
        feedback = store.feedback_frame(TENANT, sorted(set(log["educator_id"])))
        bandit = logged_bandit(log, feedback).data
        chosen = candidate_actions(
            bandit, store.evidence_frame(TENANT, bandit["educator_id"]), feedback,
            {e: tuple(str(g).split("|")) for e, g in zip(data.educators["educator_id"],
                                                          data.educators["goals"], strict=True)},
            graph, catalog, load_candidate("no-model", graph, catalog))
        store.log_recommendations([r | {"request_id": r["request_id"] + "c", "activity_id": a}
                                   for r, a in zip(rows[:20], chosen[:20], strict=True)
                                   if a is not None])
        log = store.recommendation_log(TENANT)
    finally:
        store.dispose()
    return root, logged_bandit(log, feedback)


def test_evaluate_offline_prints_finite_estimates_beside_the_logged_value(acme):
    root, bandit = acme
    res = CliRunner().invoke(app, ["evaluate-offline", "--candidate", "no-model", "--tenant",
                                   TENANT, "--data-dir", str(root), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["records"] == len(bandit.data) > 40 and out["matches"] >= len(bandit.data) - 40
    assert out["logged"]["value"] == pytest.approx(bandit.data["reward"].mean())
    assert [e["estimator"] for e in out["estimates"]] == ["ips", "snips", "dr"]
    for e in out["estimates"]:
        assert math.isfinite(e["value"]) and e["low"] <= e["value"] <= e["high"]
    assert out["skipped"] == {"not a ranked answer (pathway)": 1,
                              "no propensity (logged before migration 0003)": 1}
    table = CliRunner().invoke(app, ["evaluate-offline", "--candidate", "no-model", "--tenant",
                                     TENANT, "--data-dir", str(root)])
    assert table.exit_code == 0 and "ips" in table.output and "logging (observed)" in table.output


def test_estimates_of_given_choices_match_the_hand_computed_ips(acme):
    _, bandit = acme
    data = bandit.data
    chosen = data["activity_id"].to_numpy(object).copy()
    chosen[::2] = None  # the candidate agrees on every other record
    report = estimate_candidate(bandit, chosen, tenant=TENANT, candidate="x")
    agree = np.arange(len(data)) % 2 == 1
    w = agree / data["propensity"].to_numpy()
    ips = {e.estimator: e for e in report.estimates}["ips"]
    assert ips.value == pytest.approx(float(np.mean(w * data["reward"].to_numpy())))
    assert report.matches == agree.sum()


@pytest.mark.parametrize("args, message", [
    (["--candidate", "7", "--tenant", TENANT], "has no version '7'"),
    (["--candidate", "best", "--tenant", TENANT], "a registered model version"),
    (["--candidate", "no-model", "--tenant", "quiet"], "PDREC_EXPLORE"),
])
def test_bad_candidates_and_logs_without_propensities_are_named(acme, args, message):
    root, _ = acme
    res = CliRunner().invoke(app, ["evaluate-offline", *args, "--data-dir", str(root)])
    assert res.exit_code == 2 and message in res.output.replace("\n", " ")


def test_the_api_s_explored_log_is_evaluated_end_to_end(tmp_path):
    """Answers served by the real app with exploration on, completions posted after them, then
    ``pdrec evaluate-offline``: the served engine (no model) evaluated on its own log agrees
    with the shown first item where it was the ranker's first, and the estimates are finite."""
    import time

    from tests.api.conftest import record, running_api

    with running_api(tmp_path, explore="softmax", explore_temperature=0.5,
                     audit_flush_seconds=0) as api:
        for n in range(6):
            e = f"E{n}"
            api.put(f"/v1/educators/{e}", json={"goals": ["INS.ELL"]})
            api.post("/v1/evidence", json={"records": [
                record(10 * n + i, educator=e, competency=c, score=s)
                for i, (c, s) in enumerate([("INS.FORMATIVE", 2), ("INS.ELL", 1)])]})
        shown = [(f"E{n}", api.get(f"/v1/educators/E{n}/recommendations",
                                   params={"k": 4}).json()["items"][0]["activity_id"])
                 for n in range(6) for _ in range(3)]
        time.sleep(0.01)  # completions strictly after the answers
        done = {(e, a) for i, (e, a) in enumerate(shown) if i % 2 == 0}
        assert api.post("/v1/feedback", json={"events": [
            {"educator_id": e, "activity_id": a, "event": "completed"} for e, a in done]}
        ).status_code < 300
    res = CliRunner().invoke(app, ["evaluate-offline", "--candidate", "no-model", "--tenant",
                                   "acme", "--data-dir", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["records"] == 18 and out["logging_policies"] == ["softmax(t=0.5)"]
    # the replay of the served engine picks what the ranker ranked first for each answer
    store = open_store(f"sqlite:///{tmp_path / 'pdrec.db'}")
    try:
        log = store.recommendation_log("acme")
        feedback = store.feedback_frame("acme", sorted(set(log["educator_id"])))
        bandit = logged_bandit(log, feedback).data
        graph = default_framework("educator")
        catalog = default_catalog(graph)
        chosen = candidate_actions(bandit, store.evidence_frame("acme", bandit["educator_id"]),
                                   feedback, {f"E{n}": ("INS.ELL",) for n in range(6)}, graph,
                                   catalog, load_candidate("no-model", graph, catalog))
    finally:
        store.dispose()
    ranker_first = log[log["ranker_rank"] == 1].set_index("request_id")["activity_id"]
    assert chosen.tolist() == ranker_first.loc[bandit["request_id"]].tolist()
    assert 0 < out["matches"] <= 18 and out["effective_sample_size"] > 0
    assert all(math.isfinite(e["value"]) for e in out["estimates"])
