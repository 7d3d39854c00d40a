"""Knowledge-tracing readers, and the benchmark end to end on a small slice of ASSISTments 2009.

The full benchmark (all learners, five folds, pyBKT) is not part of the test suite: it is run with
``pdrec benchmark-kt --data ../shared/data/kt/assist2009_updated`` and writes
``experiments/reports/kt_assist2009.md``.
"""

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.kt_benchmark import learn_skill_graph
from pipelines.kt_data import (
    SYNTHETIC_START,
    SYNTHETIC_STEP,
    load_kt_split,
    read_responses_csv,
    read_sequences,
    to_evidence,
)
from recommender.errors import InvalidEvidenceError

ASSIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "kt" / "assist2009_updated"
runner = CliRunner()


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# ---------------------------------------------------------------------------------------------
# the three-lines-per-learner form


def test_sequences_become_responses_in_order(tmp_path):
    path = write(tmp_path / "toy_train.csv", "3\n1,2,1,\n1,0,1\n2\n5,5\n0,0\n\n")
    r = read_sequences(path)
    assert list(r["learner"]) == ["toy_train:0"] * 3 + ["toy_train:1"] * 2
    assert list(r["skill"]) == ["1", "2", "1", "5", "5"]
    assert list(r["correct"]) == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert list(r["position"]) == [0, 1, 2, 0, 1]
    assert r["time"].isna().all()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3\n1,2\n1,0\n", ["line 2", "number of skill ids", "'2'", "3, the answer count on line 1"]),
        ("2\n1,2\n1,7\n", ["line 3", "learner 0, answer 2", "response '7'", "1 (correct) or 0"]),
        ("x\n1\n1\n", ["line 1", "answer count 'x'", "non-negative integer"]),
        ("2\n1,2\n1,0\n1\n", ["4 non-trailing lines", "multiple of 3"]),
        ("2\n1,\n1,0\n", ["line 2", "number of skill ids", "'1'"]),
    ],
)
def test_bad_sequences_name_line_field_value_and_expectation(tmp_path, text, expected):
    with pytest.raises(InvalidEvidenceError) as err:
        read_sequences(write(tmp_path / "bad.csv", text))
    for part in expected:
        assert part in str(err.value)


# ---------------------------------------------------------------------------------------------
# the column-mapped CSV form


def test_csv_columns_are_mapped_and_answers_ordered(tmp_path):
    path = write(tmp_path / "log.csv",
                 "student,kc,right,seq\nb,s1,1,2\na,s2,0,5\nb,s2,0,1\na,s1,1,3\nb,s1,0.5,2\n")
    r = read_responses_csv(path, learner_col="student", skill_col="kc", correct_col="right",
                           order_col="seq")
    assert list(r["learner"]) == ["b", "b", "b", "a", "a"]
    assert list(r["skill"]) == ["s2", "s1", "s1", "s1", "s2"]  # order 1, then the tie in file order
    assert list(r["correct"]) == [0.0, 1.0, 0.5, 1.0, 0.0]
    assert list(r["position"]) == [0, 1, 2, 0, 1]


def test_csv_timestamps_are_kept_and_ties_spread_apart(tmp_path):
    path = write(tmp_path / "log.csv", "user,skill,correct,ts\n"
                 "u,a,1,2024-03-01T10:00:00Z\nu,b,0,2024-03-01T10:00:00Z\nu,a,1,2024-03-01T09:00:00Z\n")
    r = read_responses_csv(path, learner_col="user", time_col="ts")
    ev = to_evidence(r)
    times = ev.sort_values("evidence_id")["observed_at"].tolist()
    assert times[0] == pd.Timestamp("2024-03-01T09:00:00Z")
    assert times[1] == pd.Timestamp("2024-03-01T10:00:00Z")
    assert times[2] == pd.Timestamp("2024-03-01T10:00:00.000001Z")


def test_csv_missing_column_names_expected_and_present_columns(tmp_path):
    path = write(tmp_path / "log.csv", "user,skill,correct\nu,a,1\n")
    with pytest.raises(InvalidEvidenceError) as err:
        read_responses_csv(path, learner_col="user")
    message = str(err.value)
    assert "'order' (order column)" in message and "['user', 'skill', 'correct']" in message
    assert "--order-col" in message


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("u,a,yes,1", ["data row 2", "'correct' value 'yes'", "number in [0, 1]"]),
        ("u,a,2,1", ["data row 2", "'correct' value '2'"]),
        ("u,,1,1", ["data row 2", "'skill' value ''", "non-empty skill id"]),
        ("u,a,1,later", ["data row 2", "'order' value 'later'", "a number ordering"]),
    ],
)
def test_bad_csv_values_name_row_column_value_and_expectation(tmp_path, row, expected):
    path = write(tmp_path / "log.csv", f"learner,skill,correct,order\nu,a,1,0\n{row}\n")
    with pytest.raises(InvalidEvidenceError) as err:
        read_responses_csv(path)
    for part in expected:
        assert part in str(err.value)


# ---------------------------------------------------------------------------------------------
# responses -> evidence, and the learned graph


def test_responses_map_onto_the_evidence_contract(tmp_path):
    r = read_sequences(write(tmp_path / "toy_test.csv", "3\n7,8,7\n1,0,1\n1\n8\n0\n"))
    ev = to_evidence(r).sort_values("evidence_id", ignore_index=True)
    assert list(ev["evidence_id"]) == ["toy_test:0#0", "toy_test:0#1", "toy_test:0#2", "toy_test:1#0"]
    assert list(ev["educator_id"]) == ["toy_test:0"] * 3 + ["toy_test:1"]
    assert list(ev["competency_id"]) == ["7", "8", "7", "8"]
    assert set(ev["source"]) == {"activity_assessment"}
    assert (ev["scale_min"] == 0).all() and (ev["scale_max"] == 1).all()
    assert list(ev["proficient"]) == [True, False, True, False]
    assert list(ev["observed_at"]) == [SYNTHETIC_START + i * SYNTHETIC_STEP for i in (0, 1, 2, 0)]
    with pytest.raises(InvalidEvidenceError, match="unknown competency id '8'"):
        to_evidence(r, competencies=["7"])


def test_learned_skill_graph_is_acyclic_and_links_related_skills():
    rng = np.random.default_rng(0)
    # learners answer a -> b -> c in order, and x -> y; each pair often adjacent
    seqs = [list("abc") * 3 + list("xy") * 2 for _ in range(30)]
    rows = [(f"l{i}", s, int(rng.integers(0, 2)), j) for i, q in enumerate(seqs) for j, s in enumerate(q)]
    r = pd.DataFrame(rows, columns=["learner", "skill", "correct", "position"])
    r["time"] = pd.Series(pd.NaT, index=r.index, dtype="datetime64[ns, UTC]")
    edges, domains = learn_skill_graph(to_evidence(r), max_parents=2, min_count=5)
    graph = nx.DiGraph(edges)
    assert nx.is_directed_acyclic_graph(graph)
    assert ("a", "b") in edges and ("b", "c") in edges and ("x", "y") in edges
    assert domains["a"] == domains["b"] and domains["x"] == domains["y"] != domains["a"]


# ---------------------------------------------------------------------------------------------
# end to end


needs_assist = pytest.mark.skipif(not ASSIST.exists(), reason="../shared/data/kt is not available")


@needs_assist
def test_split_follows_the_files_of_the_paper():
    split = load_kt_split(ASSIST, max_learners=20)
    assert split.name == "assist2009_updated"
    assert split.files["test"] == "assist2009_updated_test.csv"
    assert len(split.folds) == 5 and split.files["valid5"] == "assist2009_updated_valid5.csv"
    assert split.train["learner"].nunique() == 20 and split.test["learner"].nunique() == 20


@needs_assist
def test_benchmark_runs_end_to_end_on_a_slice(tmp_path):
    import mlflow

    from pipelines import tracking

    out = tmp_path / "report.md"
    result = runner.invoke(app, [
        "benchmark-kt", "--data", str(ASSIST), "--max-learners", "100", "--folds", "1",
        "--models", "lightgbm,lightgbm_graph,bkt", "--data-dir", str(tmp_path / "data"),
        "--out", str(out), "--n-jobs", "1",
    ])
    assert result.exit_code == 0, result.output
    report = out.read_text()
    for text in ("| model | test AUC |", "`lightgbm`", "`lightgbm_graph`", "`bkt`", "DKVMN",
                 "## Verdict", "first 100 learners"):
        assert text in report
    tracking.configure(tmp_path / "data")
    runs = mlflow.search_runs(experiment_names=["kt-benchmark"])
    assert set(runs["tags.model"]) == {"lightgbm", "lightgbm_graph", "bkt"}
    auc = runs.set_index("tags.model")["metrics.test_auc"]
    assert auc["lightgbm"] > 0.6 and auc["lightgbm_graph"] > 0.6
    assert auc["lightgbm"] > auc["bkt"]
    assert (runs["metrics.fit_seconds"] > 0).all()


def test_benchmark_reads_a_column_mapped_csv_dataset(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "toy"
    folder.mkdir()
    for part, n in (("train", 60), ("test", 30)):
        rows = []
        for i in range(n):
            ability = rng.normal()
            for j in range(30):
                skill = int(rng.integers(0, 6))
                p = 1 / (1 + np.exp(-(ability + 0.1 * j - 0.3 * skill)))
                rows.append((f"{part}{i}", f"k{skill}", int(rng.random() < p), j * 10))
        pd.DataFrame(rows, columns=["user", "kc", "ok", "step"]).to_csv(
            folder / f"toy_{part}.csv", index=False)
    out = tmp_path / "toy.md"
    result = runner.invoke(app, [
        "benchmark-kt", "--data", str(folder), "--format", "csv", "--learner-col", "user",
        "--skill-col", "kc", "--correct-col", "ok", "--order-col", "step", "--folds", "2",
        "--models", "lightgbm,logistic", "--data-dir", str(tmp_path / "data"), "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    report = out.read_text()
    assert "# Knowledge-tracing benchmark: toy" in report
    assert "2 random folds of the training learners" in report
