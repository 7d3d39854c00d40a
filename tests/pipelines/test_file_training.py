"""#20 item 1: training from files on a framework of one's own; item 2: per-subgroup metrics.

The data: a five-competency framework (``tiny-coaching`` 2.1, two domains, a 0-10 scale with
proficient at 6) and its five-activity catalog written to YAML/JSON, 60 simulated educators on
it, their evidence written as Parquet, CSV and JSON Lines, completions as CSV, profiles as JSON
Lines, all under ``tmp_path``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.config import load_config, with_overrides
from pipelines.file_checks import check_completions, check_profiles
from pipelines.model_card import framework_hash
from pipelines.subgroups import subgroup_metrics, subgroup_summary
from pipelines.training import load_dataset, train
from recommender.catalog import build_catalog
from recommender.errors import FrameworkError, InvalidEvidenceError
from recommender.graph import build_framework, load_framework
from recommender.simulate import generate

FRAMEWORK = {
    "name": "tiny-coaching", "version": "2.1", "scale": {"min": 0, "max": 10, "proficient": 6},
    "competencies": [
        {"id": "A1", "name": "Listening", "domain": "alpha"},
        {"id": "A2", "name": "Questioning", "domain": "alpha", "prerequisites": ["A1"]},
        {"id": "B1", "name": "Goal setting", "domain": "beta"},
        {"id": "B2", "name": "Feedback", "domain": "beta", "prerequisites": ["B1", "A1"]},
        {"id": "B3", "name": "Cycles", "domain": "beta", "prerequisites": ["B2"]},
    ],
}
CATALOG = {"activities": [
    {"id": f"X{i}", "title": f"Practice {c['id']}", "format": "course", "competencies": {c["id"]: 1.0},
     "hours": 3, "modality": "online", "level": "developing", "expected_gain": 0.1}
    for i, c in enumerate(FRAMEWORK["competencies"])]}
QUICK = {"n_estimators": 20, "n_jobs": 1, "min_child_samples": 10}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Paths of the framework, catalog, evidence (three formats), completions and profiles."""
    root = tmp_path_factory.mktemp("files")
    graph = build_framework(FRAMEWORK)
    data = generate(graph, build_catalog(CATALOG, graph), n_educators=60, months=6, random_state=3)
    paths = {"framework": root / "framework.yaml", "catalog": root / "catalog.json",
             "parquet": root / "evidence.parquet", "csv": root / "evidence.csv",
             "jsonl": root / "evidence.jsonl", "completions": root / "completions.csv",
             "educators": root / "educators.jsonl"}
    paths["framework"].write_text(yaml.safe_dump(FRAMEWORK))
    paths["catalog"].write_text(json.dumps(CATALOG))
    data.evidence.to_parquet(paths["parquet"])
    data.evidence.to_csv(paths["csv"], index=False)
    text = data.evidence.assign(observed_at=data.evidence["observed_at"].map(pd.Timestamp.isoformat))
    text.to_json(paths["jsonl"], orient="records", lines=True)
    data.completions.to_csv(paths["completions"], index=False)
    data.educators.to_json(paths["educators"], orient="records", lines=True)
    return {k: str(v) for k, v in paths.items()}, data


def _data(files: dict, evidence: str = "parquet", **extra) -> dict:
    return {"kind": "files", "evidence": files[evidence], "framework": files["framework"],
            "catalog": files["catalog"], "completions": files["completions"],
            "educators": files["educators"], **extra}


def _config(data: dict) -> dict:
    return {"name": "tiny", "model": "lightgbm", "data": data, "params": QUICK,
            "split": {"test_size": 0.3, "seed": 0}}


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_evidence_files_of_every_format_load_the_same_records(files, fmt, tmp_path):
    paths, data = files
    got = load_dataset(_data(paths, fmt), tmp_path)
    assert got.rejected == 0 and len(got.evidence) == len(data.evidence)
    assert set(got.evidence["evidence_id"]) == set(data.evidence["evidence_id"])
    assert (got.evidence.set_index("evidence_id")["observed_at"].sort_index()
            == data.evidence.set_index("evidence_id")["observed_at"].sort_index()).all()
    # proficient at 6 of 0-10: the framework's level, not the default rubric's
    mine = got.evidence.set_index("evidence_id").loc[data.evidence["evidence_id"]]
    norm = (data.evidence["score"] - data.evidence["scale_min"]) / (
        data.evidence["scale_max"] - data.evidence["scale_min"])
    assert (mine["proficient"].to_numpy() == (norm >= 0.6).to_numpy()).all()
    assert got.graph.graph["name"] == "tiny-coaching" and len(got.catalog) == 5
    assert len(got.completions) == len(data.completions)
    assert set(got.educators["educator_id"]) == set(data.educators["educator_id"])
    assert got.source["kind"] == "files" and got.source["files"]["evidence"] == paths[fmt]


def test_training_on_a_framework_of_ones_own_logs_its_card_and_subgroups(files, tmp_path):
    paths, data = files
    result = train(load_config(_config(_data(paths))), tmp_path)
    card = json.loads(json.dumps(result.card))  # as logged
    assert card["framework"] == {"name": "tiny-coaching", "version": "2.1",
                                 "hash": framework_hash(load_framework(paths["framework"])),
                                 "competencies": 5}
    assert card["data"]["kind"] == "files" and card["data"]["rejected"] == {
        "evidence": 0, "completions": 0, "educators": 0}
    assert card["data"]["rows"]["evidence"] == len(data.evidence)
    assert set(result.predictor.builder.competencies) == {"A1", "A2", "B1", "B2", "B3"}
    assert 0.5 < result.metrics["auc"] <= 1 and result.gain_posteriors is not None

    sub, n = card["subgroups"], len(result.test_predictions)
    assert sub["overall"]["n"] == n and sub["overall"]["auc"] == pytest.approx(card["metrics"]["auc"])
    assert set(sub["by"]) == {"role", "grade_band", "experience", "source", "domain"}
    for attribute, groups in sub["by"].items():
        assert sum(g["n"] for g in groups) == n, attribute  # each attribute partitions the test
        for g in groups:
            assert g["small"] == (g["n"] < sub["min_n"] or g["auc"] is None)
    assert {g["value"] for g in sub["by"]["domain"]} == {"alpha", "beta"}
    assert {g["value"] for g in sub["by"]["role"]} <= set(data.educators["role"])


def test_without_catalog_or_profiles_training_still_runs_on_a_time_split(files, tmp_path):
    paths, _ = files
    data = {"kind": "files", "evidence": paths["csv"], "framework": paths["framework"]}
    result = train(load_config({**_config(data), "split": {"by": "time", "test_size": 0.3}}),
                   tmp_path)
    assert result.gain_posteriors is None and result.card["catalog"]["activities"] == 0
    split = result.card["split"]
    assert split["by"] == "time" and pd.Timestamp(split["train"]["to"]) < pd.Timestamp(
        split["before"]) <= pd.Timestamp(split["test"]["from"])
    roles = result.card["subgroups"]["by"]["role"]
    assert [g["value"] for g in roles] == ["(missing)"] and roles[0]["n"] == len(
        result.test_predictions)


def test_bad_rows_are_rejected_with_file_row_and_reason_and_the_good_ones_train(files, tmp_path):
    paths, data = files
    ev = pd.read_csv(paths["csv"], dtype=str)
    ev.loc[3, "score"] = "lots"
    ev.loc[5, "competency_id"] = "ZZ9"
    ev.loc[8, "observed_at"] = "yesterday"
    ev.to_csv(tmp_path / "ev.csv", index=False)
    (tmp_path / "comp.csv").write_text("educator_id,activity_id,completed_at\n"
                                       "E000001,X0,2025-09-01\nE000002,NOPE,2025-09-01\n")
    (tmp_path / "edu.jsonl").write_text('{"educator_id": "E000001", "years_experience": 4}\n'
                                        'not json\n{"educator_id": "E000002", '
                                        '"years_experience": "ten"}\n')
    got = load_dataset({"kind": "files", "evidence": str(tmp_path / "ev.csv"),
                        "framework": paths["framework"], "catalog": paths["catalog"],
                        "completions": str(tmp_path / "comp.csv"),
                        "educators": str(tmp_path / "edu.jsonl")}, tmp_path)
    rej = got.rejections.set_index(["file", "row"])
    assert len(got.evidence) == len(data.evidence) - 3 and got.rejected == 6
    assert rej.loc[(str(tmp_path / "ev.csv"), 3), "reason"] == "score 'lots' is not a number"
    assert rej.loc[(str(tmp_path / "ev.csv"), 5), "field"] == "competency_id"
    assert "not an ISO 8601" in rej.loc[(str(tmp_path / "ev.csv"), 8), "reason"]
    assert "not an activity of the catalog" in rej.loc[(str(tmp_path / "comp.csv"), 1), "reason"]
    assert rej.loc[(str(tmp_path / "edu.jsonl"), 1), "field"] == "line"
    assert "not a number >= 0" in rej.loc[(str(tmp_path / "edu.jsonl"), 2), "reason"]
    assert len(got.completions) == 1 and got.source["rejected"] == {
        "evidence": 3, "completions": 1, "educators": 2}
    # every evidence educator is kept, with or without a profile row
    assert set(got.educators["educator_id"]) == set(got.evidence["educator_id"])


def test_unreadable_files_stop_training_with_the_file_named(files, tmp_path):
    paths, _ = files
    (tmp_path / "short.csv").write_text("evidence_id,educator_id\nx,y\n")
    (tmp_path / "cycle.yaml").write_text(yaml.safe_dump({"name": "c", "competencies": [
        {"id": "a", "name": "A", "domain": "d", "prerequisites": ["b"]},
        {"id": "b", "name": "B", "domain": "d", "prerequisites": ["a"]}]}))
    (tmp_path / "comp.csv").write_text("educator_id,when\nE1,2025-01-01\n")
    cases = [
        ({"evidence": str(tmp_path / "short.csv")}, InvalidEvidenceError,
         r"short.csv: evidence is missing required column\(s\) \['competency_id'"),
        ({"evidence": str(tmp_path / "ev.txt")}, InvalidEvidenceError, "has suffix '.txt'"),
        ({"evidence": str(tmp_path / "none.csv")}, FileNotFoundError, "no such evidence file"),
        ({"framework": str(tmp_path / "cycle.yaml")}, FrameworkError,
         "framework file .*cycle.yaml: prerequisite cycle"),
        ({"framework": str(tmp_path / "nope.yaml")}, FileNotFoundError, "no such framework file"),
        ({"completions": str(tmp_path / "comp.csv")}, ValueError,
         r"completions file .*comp.csv: completions is missing required column\(s\) "
         r"\['activity_id', 'completed_at'\]"),
    ]
    for change, error, match in cases:
        with pytest.raises(error, match=match):
            load_dataset({**_data(paths), **change}, tmp_path)


def test_config_and_cli_overrides_check_the_files_kind(files):
    paths, _ = files
    with pytest.raises(ValueError, match="data.kind files needs data.framework"):
        load_config(_config({"kind": "files", "evidence": paths["csv"]}))
    with pytest.raises(ValueError, match=r"unknown keys \['evidnce'\]"):
        load_config(_config({**_data(paths), "evidnce": "x"}))
    base = load_config("experiments/configs/lightgbm.yaml")
    cfg = with_overrides(base, files={"evidence": paths["csv"], "framework": paths["framework"],
                                      "catalog": None}, before="2025-12-01")
    assert cfg.data == {"kind": "files", "evidence": paths["csv"], "framework": paths["framework"]}
    assert cfg.name == "lightgbm-evidence" and cfg.split["by"] == "time"
    with pytest.raises(ValueError, match="one source of data; got --tenant and --evidence"):
        with_overrides(base, tenant="acme", files={"evidence": paths["csv"]})


def test_completion_and_profile_checks_reject_row_by_row():
    comp = pd.DataFrame({"educator_id": ["E1", "E2", "", "E/4", "E1", "E6"],
                         "activity_id": ["X0", "X1", "X0", "X0", "X0", "X1"],
                         "completed_at": ["2025-01-01", "soon", "2025-01-01", "2025-01-01",
                                          "2025-01-01T00:00:00Z", "2999-01-01"]})
    valid, rej = check_completions(comp, activities=["X0", "X1"], now="2026-01-01")
    assert valid["educator_id"].tolist() == ["E1"]
    assert rej["row"].tolist() == [1, 2, 3, 4, 5]
    assert rej["field"].tolist() == ["completed_at", "educator_id", "educator_id",
                                     "completed_at", "completed_at"]
    assert "same educator, activity and completed_at" in rej["reason"].iloc[3]
    assert "outside the accepted window" in rej["reason"].iloc[4]
    prof = pd.DataFrame.from_records([{"educator_id": "E1", "years_experience": True},
                                      {"educator_id": 7}, {"educator_id": "E3", "role": "coach"},
                                      {"educator_id": "E3", "years_experience": 2}])
    valid, rej = check_profiles(prof)
    assert valid["educator_id"].tolist() == ["E3"] and valid["role"].tolist() == ["coach"]
    assert rej["reason"].tolist() == ["years_experience 'True' is not a number >= 0",
                                      "educator_id must be a string; got a number",
                                      "educator_id 'E3' repeats an earlier row's; one profile "
                                      "per educator"]


_CELLS = st.one_of(st.none(), st.sampled_from(["", " ", "E1", "E2", "X0", "X9", "a/b", "now",
                                               "2025-01-01", "2025-02-30", "1900-01-01",
                                               "2025-03-01T10:00:00+02:00"]),
                   st.integers(-3, 3), st.booleans(), st.floats(allow_nan=True))


@settings(max_examples=60, deadline=None)
@given(rows=st.lists(st.tuples(_CELLS, _CELLS, _CELLS, _CELLS), max_size=25))
def test_companion_checks_keep_or_reject_every_row_exactly_once(rows):
    frame = pd.DataFrame(rows, columns=["educator_id", "activity_id", "completed_at", "extra"],
                         dtype=object)
    valid, rej = check_completions(frame, activities=["X0"], now="2026-01-01")
    assert len(valid) + len(rej) == len(rows) and rej["row"].is_unique
    assert valid["completed_at"].notna().all() and set(valid["activity_id"]) <= {"X0"}
    profiles = frame.rename(columns={"activity_id": "years_experience", "completed_at": "role"})
    valid, rej = check_profiles(profiles)
    assert len(valid) + len(rej) == len(rows) and rej["row"].is_unique
    assert valid["educator_id"].is_unique and (valid["years_experience"].dropna() >= 0).all()


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 120), groups=st.integers(1, 6), min_n=st.integers(1, 60),
       seed=st.integers(0, 10_000))
def test_subgroups_partition_the_test_records_and_small_ones_are_marked(n, groups, min_n, seed):
    rng = np.random.default_rng(seed)
    y, p = rng.integers(0, 2, n), rng.uniform(0.01, 0.99, n)
    frame = pd.DataFrame({"role": rng.choice([f"r{i}" for i in range(groups)] + [None], n),
                          "source": rng.choice(["a", "b"], n)})
    out = subgroup_metrics(y, p, frame, min_n=min_n)
    assert out["overall"]["n"] == n
    for rows in out["by"].values():
        assert sum(g["n"] for g in rows) == n
        assert [g["n"] for g in rows] == sorted((g["n"] for g in rows), reverse=True)
        for g in rows:
            assert g["small"] == (g["n"] < min_n or g["auc"] is None)
            assert g["brier"] is not None and 0 <= g["brier"] <= 1
    if frame["role"].isna().any():
        assert "(missing)" in {g["value"] for g in out["by"]["role"]}
    line = subgroup_summary(out)
    assert line.endswith("small*") and f"/{sum(len(r) for r in out['by'].values())} " in line


def test_cli_trains_from_files_and_compare_shows_subgroups(files, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from pipelines.cli import app

    paths, _ = files
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    config = tmp_path / "quick.yaml"
    config.write_text(json.dumps({k: v for k, v in _config({}).items() if k != "data"}
                                 | {"data": {"kind": "synthetic"}}))
    runner = CliRunner()
    bad = pd.read_csv(paths["csv"], dtype=str)
    bad.loc[0, "source"] = "gossip"
    bad.to_csv(tmp_path / "ev.csv", index=False)
    out = runner.invoke(app, ["train", "--config", str(config), "--data-dir", str(tmp_path),
                              "--evidence", str(tmp_path / "ev.csv"),
                              "--framework", paths["framework"], "--catalog", paths["catalog"],
                              "--educators", paths["educators"]])
    assert out.exit_code == 0, out.output
    assert "1 rejected rows" in out.output and "row 0 (source)" in out.output
    assert "model card: tiny-coaching#" in out.output and "files:ev" in out.output
    assert "subgroups: auc " in out.output
    shown = runner.invoke(app, ["compare", "--data-dir", str(tmp_path)])
    assert shown.exit_code == 0 and "subgroups" in shown.output
    from pipelines import tracking

    table = tracking.compare_runs()
    assert table["subgroups"].iloc[0].startswith("auc ") and "small*" in table["subgroups"].iloc[0]
    missing = runner.invoke(app, ["train", "--config", str(config), "--data-dir", str(tmp_path),
                                  "--evidence", str(tmp_path / "ev.csv")])
    assert missing.exit_code == 2 and "needs --evidence FILE and --framework FILE" in missing.output
    broken = runner.invoke(app, ["train", "--config", str(config), "--data-dir", str(tmp_path),
                                 "--evidence", str(tmp_path / "ev.csv"), "--framework",
                                 str(tmp_path / "nope.yaml")])
    assert broken.exit_code == 2 and "no such framework file" in broken.output
