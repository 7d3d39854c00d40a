"""Knowledge-tracing readers, dataset cards, and the benchmark end to end on small generated data
and on a small slice of ASSISTments 2009.

The full benchmark (all learners, five folds, pyBKT) is not part of the test suite: it is run with
``pdrec benchmark-kt --data ../shared/data/kt/assist2009_updated --out
experiments/reports/kt_assist2009.md``.
"""

import tomllib
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.kt import (
    PYBKT_REQUIREMENTS,
    BenchmarkConfig,
    SetupError,
    learn_skill_graph,
    load_card,
    resolve_card,
    run_benchmark,
    write_report,
)
from pipelines.kt_data import (
    SYNTHETIC_START,
    SYNTHETIC_STEP,
    load_kt_split,
    read_responses_csv,
    read_sequences,
    to_evidence,
)
from recommender.errors import InvalidEvidenceError

REPO = Path(__file__).resolve().parents[1]
ASSIST = REPO.parent / "shared" / "data" / "kt" / "assist2009_updated"
CARDS = REPO / "experiments" / "kt_benchmark" / "cards"
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
        "--out", str(out), "--n-jobs", "1", "--cards-dir", str(CARDS),
    ])
    assert result.exit_code == 0, result.output
    report = out.read_text()
    for text in ("| model | test AUC |", "`lightgbm`", "`lightgbm_graph`", "`bkt`", "DKVMN",
                 "## Verdict", "first 100 learners", "Against the 0.83 goal",
                 "assist2009_updated.toml", "## What was tried (development notes)",
                 "`--folds 1`: no fold fits"):
        assert text in report
    assert "Test AUC per fold" not in report
    tracking.configure(tmp_path / "data")
    runs = mlflow.search_runs(experiment_names=["kt-benchmark"])
    assert set(runs["tags.model"]) == {"lightgbm", "lightgbm_graph", "bkt"}
    auc = runs.set_index("tags.model")["metrics.test_auc"]
    assert auc["lightgbm"] > 0.6 and auc["lightgbm_graph"] > 0.6
    assert auc["lightgbm"] > auc["bkt"]
    assert (runs["metrics.fit_seconds"] > 0).all()


def write_responses(folder: Path, name: str, parts: dict[str, int], *, seed: int = 0,
                    answers: int = 20, skills: int = 4) -> Path:
    """Generated sequence files ``NAME_<part>.csv``: learners of a random ability answering
    ``answers`` questions on ``skills`` skills, more often right as they go."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for part, n in parts.items():
        lines = []
        for _ in range(n):
            ability = rng.normal()
            ks = rng.integers(0, skills, answers)
            p = 1 / (1 + np.exp(-(ability + 0.1 * np.arange(answers) - 0.4 * ks)))
            right = (rng.random(answers) < p).astype(int)
            lines += [str(answers), ",".join(map(str, ks + 1)), ",".join(map(str, right))]
        (folder / f"{name}_{part}.csv").write_text("\n".join(lines) + "\n")
    return folder


def test_folds_1_fits_only_the_whole_training_file_and_reports_under_the_data_dir(tmp_path):
    # no fold files: --folds 1 used to cut the training learners into one fold with an empty
    # training part and crash after the whole-file fits, losing every result
    folder = write_responses(tmp_path / "toy", "toy", {"train": 30, "test": 15})
    data_dir = tmp_path / "data"
    result = runner.invoke(app, [
        "benchmark-kt", "--data", str(folder), "--folds", "1", "--models", "logistic,bkt",
        "--data-dir", str(data_dir), "--cards-dir", str(CARDS),
    ])
    assert result.exit_code == 0, result.output
    report = (data_dir / "kt_benchmark" / "kt_toy.md").read_text()  # the default --out
    assert "# Knowledge-tracing benchmark: toy" in report
    assert "fitted on the whole training file only" in report and "`--folds 1`" in report
    assert "Fitted on each of" not in report and "Test AUC per fold" not in report
    assert "| Engine baseline: logistic regression (same features) (`logistic`) | **0." in report
    assert "random folds" not in report


def test_a_dataset_card_beside_the_data_gives_figures_goal_and_notes(tmp_path):
    folder = write_responses(tmp_path / "toy", "toy", {"train": 30, "test": 15})
    (folder / "notes.md").write_text("## Toy notes\n\nWhat was tried on the toy data.\n")
    (folder / "card.toml").write_text(
        'about = "Made up for the test."\ngoal = 0.55\nnotes = "notes.md"\n'
        '[[published]]\nmodel = "ToyNet (2024)"\nauc = 0.612\n')
    config = BenchmarkConfig(data=folder, models=("lightgbm", "bkt"), n_folds=1, lightgbm={
        "n_estimators": 30, "num_leaves": 7, "min_child_samples": 5, "validation_fraction": 0.2,
        "early_stopping_rounds": 10})
    result = run_benchmark(config)
    card = resolve_card(folder, result.split.name, cards_dir=CARDS)
    report = write_report(result, tmp_path / "toy.md", command="test", card=card).read_text()
    assert "| ToyNet (2024) | 0.612 |" in report and "Made up for the test." in report
    assert "Against the 0.55 goal:" in report
    assert "Against the best published figure (0.612):" in report
    assert report.rstrip().endswith("What was tried on the toy data.")
    for assist in ("DKVMN", "DKT", "0.83", "What was tried (development notes)", "0.818"):
        assert assist not in report


def test_without_a_card_the_report_quotes_no_figure_and_no_goal(tmp_path):
    folder = write_responses(tmp_path / "toy", "toy", {"train": 20, "test": 10})
    result = run_benchmark(BenchmarkConfig(data=folder, models=("logistic",), n_folds=1))
    card = resolve_card(folder, result.split.name, cards_dir=CARDS)
    report = write_report(result, tmp_path / "toy.md", command="test", card=card).read_text()
    assert "None given: no dataset card (looked for" in report
    assert "- No goal or published figure to compare with" in report
    for assist in ("DKVMN", "0.83", "development notes"):
        assert assist not in report


def test_options_replace_the_cards_figures_and_goal(tmp_path):
    card = resolve_card(ASSIST, "assist2009_updated", cards_dir=CARDS,
                        published=["Mine = 2025=0.7"], goal=0.8)
    assert card.published == (("Mine = 2025", 0.7),) and card.goal == 0.8
    assert card.notes == CARDS.parent / "notes.md"  # the card's notes stay
    assert "--published, --goal from the command line" in card.origin
    with pytest.raises(SetupError, match="expected MODEL=AUC"):
        resolve_card(tmp_path, "x", published=["0.7"])
    with pytest.raises(SetupError, match=r"--goal: 83 is not a test AUC"):
        resolve_card(tmp_path, "x", goal=83)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("goal = 1.5\n", "goal: 1.5 is not a test AUC"),
        ("[[published]]\nmodel = 'A'\nauc = true\n", "published entry 1 auc: True is not"),
        ("[[published]]\nauc = 0.8\n", "published entry 1 must have exactly a non-empty 'model'"),
        ("gaol = 0.8\n", "unknown field(s) ['gaol']"),
        ("notes = 'missing.md'\n", "its notes file"),
        ("goal = \n", "cannot read dataset card"),
    ],
)
def test_bad_cards_name_the_file_field_and_expectation(tmp_path, text, expected):
    path = write(tmp_path / "card.toml", text)
    with pytest.raises(SetupError) as err:
        load_card(path)
    assert expected in str(err.value) and str(path) in str(err.value)


def test_assist2009_card_matches_the_data_readme():
    card = load_card(CARDS / "assist2009_updated.toml")
    assert card.goal == 0.83 and card.best_published == 0.818
    assert card.notes == CARDS.parent / "notes.md"
    readme = REPO.parent / "shared" / "data" / "README.md"
    if readme.exists():
        text = readme.read_text()
        for _, auc in card.published:
            assert f"{auc:.3f}" in text


def test_pybkt_without_its_environment_stops_before_reading_the_data(tmp_path):
    result = runner.invoke(app, [
        "benchmark-kt", "--data", str(tmp_path / "absent"), "--models", "bkt,pybkt",
        "--data-dir", str(tmp_path / "data"), "--pybkt-python", str(tmp_path / "nope" / "python"),
    ])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "does not exist" in message and "python3 -m venv" in message
    assert "install pyBKT==1.4.3" in message and "leave pybkt out of --models" in message
    assert not (tmp_path / "data").exists()


def test_by_default_pybkt_is_skipped_without_its_environment_and_the_others_run(tmp_path):
    folder = write_responses(tmp_path / "toy", "toy", {"train": 30, "test": 15})
    data_dir = tmp_path / "data"
    result = runner.invoke(app, [  # no --models: what a fresh machine runs
        "benchmark-kt", "--data", str(folder), "--folds", "1", "--data-dir", str(data_dir),
        "--cards-dir", str(CARDS),
    ])
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "pybkt skipped" in said and "python3 -m venv" in said and "--pybkt-python" in said
    report = (data_dir / "kt_benchmark" / "kt_toy.md").read_text()
    for model in ("lightgbm", "lightgbm_graph", "lightgbm_counts", "logistic", "bkt"):
        assert f"(`{model}`) | **0." in report
    assert "(`pybkt`) | **" not in report
    not_run = report.split("## Not run")[1].split("## ")[0]
    assert "`pybkt`" in not_run and "does not exist" in not_run
    assert "\n    python3 -m venv " in not_run and "install pyBKT==1.4.3" in not_run
    assert "--pybkt-python PATH" in not_run


def test_by_default_pybkt_runs_when_its_environment_imports_it(tmp_path):
    from pipelines.kt.command import default_models
    from pipelines.kt.config import MODELS

    python = tmp_path / "data" / "kt_benchmark" / "pybkt-venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\nexit 0\n")  # stands in for a Python that imports pyBKT
    python.chmod(0o755)
    assert default_models(tmp_path / "data") == (MODELS, python, {})
    models, found, skipped = default_models(tmp_path / "elsewhere")
    assert "pybkt" not in models and found is None and set(skipped) == {"pybkt"}


def test_a_named_pybkt_python_that_does_not_work_stops_even_without_models(tmp_path):
    result = runner.invoke(app, [
        "benchmark-kt", "--data", str(tmp_path / "absent"), "--data-dir", str(tmp_path / "data"),
        "--pybkt-python", str(tmp_path / "nope" / "python"),
    ])
    assert result.exit_code == 2
    message = " ".join(result.output.split())
    assert "does not exist" in message and "python3 -m venv" in message
    assert not (tmp_path / "data").exists()


def test_pybkt_requirements_are_the_pyproject_dependency_group():
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert tuple(pyproject["dependency-groups"]["pybkt"]) == PYBKT_REQUIREMENTS


def test_more_folds_than_training_learners_is_refused(tmp_path):
    folder = write_responses(tmp_path / "toy", "toy", {"train": 3, "test": 2})
    with pytest.raises(ValueError, match="5 folds need at least 5 training learners"):
        load_kt_split(folder, n_folds=5)


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
    assert "Test AUC per fold" in report
    assert "DKVMN" not in report and "0.83" not in report
