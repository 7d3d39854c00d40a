"""Batch scoring on Dask equals single-process scoring; the workforce generator's partitions.

One small in-process ``LocalCluster`` (2 one-thread workers) serves the module.
"""

import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app
from pipelines.score import make_scorer, partition_names, score_folder_dask, score_folder_local
from recommender.catalog import default_catalog
from recommender.graph import default_framework
from recommender.simulate.workforce import workforce_chunks, write_workforce

AS_OF = "2026-01-01"


@pytest.fixture(scope="module")
def content():
    graph = default_framework("educator")
    return graph, default_catalog(graph)


@pytest.fixture(scope="module")
def workforce(content, tmp_path_factory):
    root = tmp_path_factory.mktemp("workforce")
    summary = write_workforce(*content, root, educators=24, months=2, chunk_size=10, seed=4)
    return root, summary


@pytest.fixture(scope="module")
def client():
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as c:
        yield c


@pytest.fixture(scope="module")
def predictor(content):
    from recommender.evidence import validate_evidence
    from recommender.features import FeatureBuilder
    from recommender.models import LightGBMMastery
    from recommender.models.predictor import MasteryPredictor
    from recommender.simulate import generate

    graph, catalog = content
    data = generate(graph, catalog, n_educators=60, months=2, random_state=3)
    ev = validate_evidence(data.evidence, competencies=list(graph),
                           now=pd.Timestamp("2100-01-01", tz="UTC")).valid
    builder = FeatureBuilder(graph, catalog=catalog).fit(ev)
    X, y = builder.training_frame(ev)
    return MasteryPredictor(builder, LightGBMMastery(n_estimators=10, n_jobs=1).fit(X, y), "tiny")


def _read(out, sub: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted((out / sub).glob("*.parquet"))],
                     ignore_index=True)


def test_workforce_chunks_have_distinct_ids_and_the_same_seed_gives_the_same_files(
        content, workforce, tmp_path):
    root, summary = workforce
    assert summary.chunks == ("chunk-00000", "chunk-00001", "chunk-00002")
    assert workforce_chunks(24, 10) == [10, 10, 4]
    edu = _read(root, "educators")
    ev = _read(root, "evidence")
    assert len(edu) == 24 and edu["educator_id"].is_unique
    assert ev["evidence_id"].is_unique and len(ev) == summary.evidence_rows
    assert set(ev["educator_id"]) <= set(edu["educator_id"])
    assert edu["educator_id"].str.startswith("E00002-").sum() == 4
    write_workforce(*content, tmp_path, educators=24, months=2, chunk_size=10, seed=4)
    pd.testing.assert_frame_equal(_read(tmp_path, "evidence"), ev)


@pytest.mark.parametrize("explain", [True, False], ids=["model-explained", "no-model-batch"])
def test_dask_output_equals_single_process_output_exactly(content, workforce, client,
                                                          predictor, tmp_path, explain):
    root, _ = workforce
    scorer = make_scorer(*content, as_of=AS_OF, predictor=predictor if explain else None,
                         explain=explain, k=3, model_version="tiny" if explain else None)
    local = score_folder_local(scorer, root, tmp_path / "local")
    seen = []
    dask = score_folder_dask(scorer, root, tmp_path / "dask", client,
                             progress=lambda r, done, total: seen.append((done, total)))
    assert [r.name for r in dask] == [r.name for r in local] == partition_names(root)
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]
    for sub in ("mastery", "recommendations"):
        a, b = _read(tmp_path / "local", sub), _read(tmp_path / "dask", sub)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    recs = _read(tmp_path / "dask", "recommendations")
    assert recs.groupby("educator_id")["rank"].max().max() == 3
    assert recs["educator_id"].nunique() == 24
    if explain:
        assert recs["reason"].str.len().gt(0).all()


def test_a_bad_evidence_row_is_rejected_not_fatal(content, workforce, tmp_path):
    root, _ = workforce
    scorer = make_scorer(*content, as_of=AS_OF, explain=False)
    bad = tmp_path / "bad"
    for sub in ("educators", "evidence", "completions"):
        (bad / sub).mkdir(parents=True)
        frame = pd.read_parquet(root / sub / "chunk-00002.parquet")
        if sub == "evidence":
            frame.loc[0, "competency_id"] = "NOT.A.COMPETENCY"
        frame.to_parquet(bad / sub / "chunk-00002.parquet", index=False)
    [result] = score_folder_local(scorer, bad, tmp_path / "out")
    assert result.rejected == 1 and result.educators == 4


def test_cli_generates_and_scores_in_a_single_process(tmp_path):
    runner = CliRunner()
    made = runner.invoke(app, ["generate-workforce", "--educators", "12", "--months", "1",
                               "--chunk", "6", "--out", str(tmp_path / "wf")])
    assert made.exit_code == 0, made.output
    assert "12 educators in 2 chunks" in made.output
    scored = runner.invoke(app, ["score", "--input", str(tmp_path / "wf"), "--out",
                                 str(tmp_path / "out"), "--single-process", "--no-model",
                                 "--no-explain", "--as-of", AS_OF])
    assert scored.exit_code == 0, scored.output
    assert "12 educators in 2 partitions" in scored.output
    missing = runner.invoke(app, ["score", "--input", str(tmp_path / "nothing"), "--out",
                                  str(tmp_path / "out"), "--no-model"])
    assert missing.exit_code == 2 and "--input" in missing.output


def test_cli_scores_on_a_scheduler_address(workforce, client, tmp_path):
    root, _ = workforce
    scored = CliRunner().invoke(app, [
        "score", "--input", str(root), "--out", str(tmp_path / "out"), "--no-model",
        "--no-explain", "--as-of", AS_OF, "--scheduler", client.scheduler.address])
    assert scored.exit_code == 0, scored.output
    assert "24 educators in 3 partitions" in scored.output
    assert len(list((tmp_path / "out" / "recommendations").glob("*.parquet"))) == 3


def test_the_cli_cluster_workers_keep_freed_memory():
    """`pdrec score`'s LocalCluster workers start with recommender.allocator's settings (glibc
    reads them at start, so they must be in the environment the nanny spawns them with)."""
    import os

    from pipelines.cli_score import _on_dask
    from recommender.allocator import KEEP_FREED_ENV

    def settings(client):
        return list(client.run(lambda: {k: os.environ.get(k) for k in KEEP_FREED_ENV}).values())

    assert _on_dask(1, None, settings) == [KEEP_FREED_ENV]
