"""#16: ``pdrec score --from-store``: a tenant of the store scored on the API's own path.

The store is a temporary SQLite file holding tenant ``acme`` (12 simulated educators, their
evidence, completions as ``completed`` feedback, profiles and goals, one educator's consent to
self-assessments withdrawn) and a few rows of tenant ``other``, written through the
:class:`recommender.store.Store` API as the service stores them; each test scores a copy. The
Dask test runs a small in-process LocalCluster (worker processes cost ~20 s to start here); the
job it ships is checked to pickle, as a worker process receives it.
"""

from __future__ import annotations

import pickle
import shutil

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.services import ModelState
from pipelines.cli import app
from pipelines.score_store import (
    NoEducators,
    make_job,
    score_store_dask,
    score_store_local,
    store_partitions,
)
from recommender.catalog import default_catalog
from recommender.evidence import proficient_threshold, validate_evidence
from recommender.graph import default_framework
from recommender.simulate import generate
from recommender.store import open_store
from tests.api.conftest import running_api

TENANT = "acme"
AS_OF = pd.Timestamp("2025-12-01", tz="UTC")


@pytest.fixture(scope="module")
def content():
    graph = default_framework("educator")
    return graph, default_catalog(graph)


@pytest.fixture(scope="module")
def model(content) -> ModelState:
    """A tiny LightGBM champion, as the API's loader returns one."""
    from recommender.features import FeatureBuilder
    from recommender.models import LightGBMMastery
    from recommender.models.predictor import MasteryPredictor

    graph, catalog = content
    data = generate(graph, catalog, n_educators=60, months=2, random_state=3)
    ev = validate_evidence(data.evidence, competencies=list(graph),
                           now=pd.Timestamp("2100-01-01", tz="UTC")).valid
    builder = FeatureBuilder(graph, catalog=catalog).fit(ev)
    X, y = builder.training_frame(ev)
    predictor = MasteryPredictor(builder, LightGBMMastery(n_estimators=10, n_jobs=1).fit(X, y),
                                 "tiny")
    return ModelState(predictor=predictor, name="tiny", version="1")


@pytest.fixture(scope="module")
def filled(content, tmp_path_factory):
    """A migrated store file with tenants acme and other (copied by :func:`store_dir`)."""
    graph, catalog = content
    path = tmp_path_factory.mktemp("store") / "pdrec.db"
    data = generate(graph, catalog, n_educators=12, months=3, random_state=5)
    store = open_store(f"sqlite:///{path}")
    try:
        for tenant in (TENANT, "other"):
            store.ensure_tenant(tenant)
        for row in data.educators.itertuples(index=False):
            store.put_educator(TENANT, row.educator_id, goals=str(row.goals).split("|"),
                               profile={"years_experience": int(row.years_experience),
                                        "role": row.role, "subject": row.subject,
                                        "grade_band": row.grade_band})
        valid = validate_evidence(data.evidence, competencies=list(graph),
                                  proficient_at=proficient_threshold(graph.graph["scale"])).valid
        store.ingest_evidence(TENANT, valid)
        store.ingest_evidence("other", valid.head(5))
        store.add_feedback(TENANT, [
            {"educator_id": c.educator_id, "activity_id": c.activity_id, "event": "completed",
             "at": c.completed_at.to_pydatetime()} for c in data.completions.itertuples()])
        store.set_consent(TENANT, "E000002", ["self_assessment"])
    finally:
        store.dispose()
    return path


@pytest.fixture
def store_dir(filled, tmp_path):
    """A data directory holding a fresh copy of the filled store as ``pdrec.db``."""
    folder = tmp_path / "data"
    folder.mkdir()
    shutil.copy(filled, folder / "pdrec.db")
    return folder


def _url(folder) -> str:
    return f"sqlite:///{folder / 'pdrec.db'}"


def _parts(url: str, size: int = 5):
    store = open_store(url, run_migrations=False)
    try:
        return store_partitions(store, TENANT, size)
    finally:
        store.dispose()


def _read(out, sub: str) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(p) for p in sorted((out / sub).glob("*.parquet"))],
                     ignore_index=True)


def _api_long(entries: dict, ids: list[str]) -> pd.DataFrame:
    """The API's stored tables as the long frame the batch writes."""
    rows = [(e, c, x.p, x.p_bound, x.n_evidence) for e in ids for c, x in entries[e].table.items()]
    return pd.DataFrame(rows, columns=["educator_id", "competency_id", "p_mastery", "p_bound",
                                       "n_evidence"])


def test_partitions_are_id_ordered_pages_and_an_unknown_tenant_is_named(store_dir):
    parts = _parts(_url(store_dir))
    assert [n for n, _ in parts] == ["part-00000", "part-00001", "part-00002"]
    assert [len(ids) for _, ids in parts] == [5, 5, 2]
    ids = [e for _, part in parts for e in part]
    assert ids == sorted(ids) and len(set(ids)) == 12
    store = open_store(_url(store_dir), run_migrations=False)
    try:
        with pytest.raises(NoEducators, match="'nobody'"):
            store_partitions(store, "nobody", 5)
    finally:
        store.dispose()


def test_store_scored_mastery_equals_the_apis_mastery_service_exactly(store_dir, model,
                                                                      tmp_path):
    url = _url(store_dir)
    job = make_job(url, TENANT, as_of=AS_OF, model=model, k=3, out=tmp_path / "out")
    results = score_store_local(job, _parts(url))
    assert sum(r.educators for r in results) == 12
    batch = _read(tmp_path / "out", "mastery")
    with running_api(store_dir, url, model_loader=lambda: model) as api:
        services = api.services
        assert services.store.get_mastery(TENANT, batch["educator_id"].unique()) == {}, \
            "a run without --to-store wrote the store"
        records = services.store.get_educators(TENANT, batch["educator_id"].unique())
        entries = services.mastery.get(TENANT, records, now=AS_OF)
    ids = list(batch["educator_id"].unique())
    pd.testing.assert_frame_equal(batch, _api_long(entries, ids), check_exact=True)
    recs = _read(tmp_path / "out", "recommendations")
    assert list(recs.columns) == ["educator_id", "rank", "activity_id", "score", "reason",
                                  "explanation"]
    assert recs.groupby("educator_id")["rank"].max().eq(3).all()
    assert recs["explanation"].str.contains('"model_version":"1"').all()


def test_to_store_makes_the_apis_next_read_a_hit(store_dir, model):
    url = _url(store_dir)
    job = make_job(url, TENANT, as_of=AS_OF, model=model, to_store=True, explain=False)
    score_store_local(job, _parts(url))
    with running_api(store_dir, url, model_loader=lambda: model) as api:
        services = api.services
        refreshed = []
        original = services.mastery.refresh
        services.mastery.refresh = lambda *a, **kw: refreshed.append(a) or original(*a, **kw)
        records = services.store.get_educators(TENANT, [e for _, p in _parts(url) for e in p])
        state = services.mastery.resolve(TENANT)
        stored = services.store.get_mastery(TENANT, records)
        stale = [e for e, r in records.items() if stored[e].data_version != r.data_version
                 or stored[e].model_key != state.key]
        assert len(stored) == 12 and stale == []
        answer = api.get("/v1/educators/E000002/mastery")
        assert answer.status_code == 200, answer.text
        assert pd.Timestamp(answer.json()["computed_at"]) == AS_OF
        assert services.mastery.get(TENANT, records) == stored
        # the default recommendations answer was stored too: the read computes nothing
        hits = services.metrics.answer_cache.labels("hit")
        before = hits._value.get()
        body = api.get("/v1/educators/E000002/recommendations")
        assert body.status_code == 200 and len(body.json()["items"]) > 0
        assert hits._value.get() == before + 1
        assert refreshed == []


def test_dask_equals_single_process_on_the_store_path(store_dir, model, tmp_path):
    from dask.distributed import Client, LocalCluster

    url = _url(store_dir)
    parts = _parts(url, size=4)
    job = make_job(url, TENANT, as_of=AS_OF, model=model, k=3, out=tmp_path / "local")
    local = score_store_local(pickle.loads(pickle.dumps(job)), parts)  # as a worker process
    # receives it: the job pickles, and a copy opens the store from its URL
    job = make_job(url, TENANT, as_of=AS_OF, model=model, k=3, out=tmp_path / "dask")
    seen = []
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        dask = score_store_dask(job, parts, client,
                                progress=lambda r, done, total: seen.append((done, total)))
    assert [r.name for r in dask] == [r.name for r in local] == [n for n, _ in parts]
    assert sorted(seen) == [(1, 3), (2, 3), (3, 3)]
    for sub in ("mastery", "recommendations"):
        pd.testing.assert_frame_equal(_read(tmp_path / "local", sub),
                                      _read(tmp_path / "dask", sub), check_exact=True)


def test_cli_scores_a_tenant_of_the_store_and_names_a_bad_tenant(store_dir, tmp_path,
                                                                 monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    runner = CliRunner()
    base = ["score", "--from-store", "--data-dir", str(store_dir), "--no-model", "--no-explain",
            "--single-process", "--partition-size", "5"]
    scored = runner.invoke(app, [*base, "--tenant", TENANT, "--out", str(tmp_path / "out"),
                                 "--to-store"])
    assert scored.exit_code == 0, scored.output
    said = " ".join(scored.output.split())  # Rich wraps lines at the terminal's width
    assert "12 educators in 3 partitions" in said
    assert "the store" in said and "evidence filter" in said
    assert len(list((tmp_path / "out" / "recommendations").glob("*.parquet"))) == 3
    store = open_store(_url(store_dir), run_migrations=False)
    try:
        ids = _read(tmp_path / "out", "mastery")["educator_id"].unique()
        assert len(store.get_mastery(TENANT, ids)) == 12
    finally:
        store.dispose()
    bad = runner.invoke(app, [*base, "--tenant", "nobody", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--tenant" in bad.output and "'nobody'" in bad.output
    for args, option in ((["--out", str(tmp_path / "x")], "--tenant"),
                         (["--tenant", TENANT], "--out or --to-store"),
                         (["--tenant", TENANT, "--input", str(tmp_path)], "--input"),
                         (["--tenant", TENANT, "--to-store", "--as-of", "2025-01-01"],
                          "--as-of '2025-01-01'")):
        wrong = runner.invoke(app, [*base, *args])
        assert wrong.exit_code == 2 and option in wrong.output, wrong.output
    alone = runner.invoke(app, ["score", "--to-store", "--input", str(tmp_path), "--out",
                                str(tmp_path / "y"), "--no-model"])
    assert alone.exit_code == 2 and "--to-store needs --from-store" in alone.output
