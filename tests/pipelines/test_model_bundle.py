"""A model bundle moves a registered model without the registry: export -> verify -> load gives
the registry's Champion; a tampered bundle is refused naming the file; the API serves a bundle
(``PDREC_MODEL_DIR``) with no MLflow store present; ``pdrec model export|inspect``.

A tiny LightGBM model is trained on generated data and registered twice in a throwaway MLflow
store (:func:`tests.api.registry.mastery_registry`), exactly as ``pdrec train`` does.
"""

from __future__ import annotations

import dataclasses
import json
import shutil

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.settings import Settings
from pipelines.cli import app as cli
from recommender.catalog import default_catalog
from recommender.evidence import EVIDENCE_COLUMNS, to_json_records, validate_evidence
from recommender.graph import default_framework
from recommender.simulate import generate
from recommender.store import open_store
from tests.api.registry import mastery_registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    """``(data dir, versions, bundle dir)``: two registered versions of one run (no alias) and
    version 1 exported as a bundle."""
    from pipelines import model_bundle, tracking

    root = tmp_path_factory.mktemp("registry")
    with mastery_registry(root, versions=2, educators=60, months=4, seed=5,
                          n_estimators=15) as versions:
        tracking.configure(root)
        bundle = tmp_path_factory.mktemp("bundles") / "v1"
        model_bundle.export_bundle(versions[0], bundle)
        yield root, versions, bundle


@pytest.fixture
def registry_env(registry, monkeypatch):
    """The module's registry configured for this test (MLflow's URI restored afterwards)."""
    from pipelines import tracking

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    tracking.configure(registry[0])
    yield registry
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)


@pytest.fixture(scope="module")
def evidence():
    graph = default_framework("educator")
    data = generate(graph, default_catalog(graph), n_educators=4, months=3, random_state=9)
    return data.evidence


def _mastery(champion, evidence) -> pd.DataFrame:
    valid = validate_evidence(evidence, competencies=list(default_framework("educator"))).valid
    ids = sorted(valid["educator_id"].unique())
    return champion.predictor.mastery(valid, educator_ids=ids, as_of=valid["observed_at"].max())


def test_bundle_round_trip_is_the_registry_champion(registry_env, evidence):
    from pipelines import model_bundle, tracking

    _, versions, bundle = registry_env
    from_registry = tracking.load_version_bundle(versions[0])
    loaded = model_bundle.load_bundle(bundle)
    pd.testing.assert_frame_equal(_mastery(loaded, evidence), _mastery(from_registry, evidence))
    assert (loaded.version, loaded.run_id, loaded.trained_at) == (
        from_registry.version, from_registry.run_id, from_registry.trained_at)
    assert loaded.predictor.version == versions[0]
    pd.testing.assert_frame_equal(loaded.gains, from_registry.gains)
    pd.testing.assert_frame_equal(loaded.severity, from_registry.severity)
    assert loaded.gains.attrs == from_registry.gains.attrs  # version and run, as the registry
    assert dict(loaded.params) == dict(from_registry.params) and loaded.params["model"]
    assert loaded.card == from_registry.card and loaded.notes == () == from_registry.notes
    manifest = json.loads((bundle / model_bundle.MANIFEST).read_text())
    assert manifest["format_version"] == model_bundle.FORMAT_VERSION
    assert {"model/MLmodel", "params.json", "model_card.json", "gain_posteriors.csv",
            "rater_severity.csv"} <= set(manifest["files"])


@pytest.mark.parametrize("damage, message", [
    ("alter", r"file 'model/python_model.pkl' was altered"),
    ("delete", r"file 'model/MLmodel' listed in bundle.json is missing"),
    ("add", r"file 'model/code/extra.py' is not listed in bundle.json"),
    ("table", r"file 'gain_posteriors.csv' was altered"),
    ("manifest", r"bundle.json is not readable JSON"),
    ("escape", r"entry '../outside.txt'"),
], ids=["model-altered", "model-missing", "file-added", "table-altered", "manifest-broken",
        "path-escapes"])
def test_a_tampered_bundle_is_refused_naming_the_file(registry, tmp_path, damage, message):
    from pipelines import model_bundle

    copy = tmp_path / "b"
    shutil.copytree(registry[2], copy)
    if damage == "alter":
        with open(copy / "model/python_model.pkl", "ab") as f:
            f.write(b"\0")
    elif damage == "delete":
        (copy / "model/MLmodel").unlink()
    elif damage == "add":
        (copy / "model/code").mkdir()
        (copy / "model/code/extra.py").write_text("print('hi')\n")
    elif damage == "table":
        with open(copy / "gain_posteriors.csv", "a") as f:
            f.write("A1,C1,0.5\n")
    elif damage == "manifest":
        (copy / "bundle.json").write_text("{not json")
    else:
        manifest = json.loads((copy / "bundle.json").read_text())
        manifest["files"]["../outside.txt"] = "0" * 64
        (copy / "bundle.json").write_text(json.dumps(manifest))
    with pytest.raises(model_bundle.BundleError, match=message):
        model_bundle.load_bundle(copy)
    result = CliRunner().invoke(cli, ["model", "inspect", str(copy)])
    assert result.exit_code == 2 and "bundle" in result.output


def test_a_bundle_without_optional_tables_loads_them_as_none_with_a_note(registry_env, tmp_path):
    from pipelines import model_bundle, tracking

    _, versions, _ = registry_env
    bare = dataclasses.replace(tracking.load_version_bundle(versions[1]), gains=None,
                               severity=None, card=None, notes=("run logged none",))
    manifest = model_bundle.export_bundle(bare, tmp_path / "bare")
    assert manifest.notes == ("run logged none",)
    assert not {"gain_posteriors.csv", "rater_severity.csv", "model_card.json"} & set(
        manifest.files)
    loaded = model_bundle.load_bundle(tmp_path / "bare")
    assert loaded.gains is None and loaded.severity is None and loaded.card is None
    assert loaded.version == versions[1]
    assert [n for n in loaded.notes if "has no gain_posteriors.csv" in n
            and "prior gains" in n]
    assert [n for n in loaded.notes if "has no rater_severity.csv" in n]
    with pytest.raises(model_bundle.BundleError, match="exists and is not empty"):
        model_bundle.export_bundle(bare, tmp_path / "bare")
    inspected = CliRunner().invoke(cli, ["model", "inspect", str(tmp_path / "bare")])
    assert inspected.exit_code == 0, inspected.output
    assert "no model_card.json" in inspected.output and "run logged none" in inspected.output


def _serve(data_dir, bundle, monkeypatch):
    """The real app of ``pdrec serve`` (:func:`pipelines.app.create_app`) serving ``bundle``,
    with platform keys of tenants acme and other and an admin key of acme:
    ``(TestClient, {"acme" | "other" | "admin": headers})``."""
    from pipelines.app import create_app

    settings = Settings(data_dir=data_dir, model_dir=bundle, load_model=True)
    store = open_store(settings.store_url())
    headers = {who: {"Authorization": f"Bearer {store.create_key(tenant, role)[0]}"}
               for who, tenant, role in (("acme", "acme", "platform"),
                                         ("other", "other", "platform"),
                                         ("admin", "acme", "admin"))}
    store.dispose()
    return TestClient(create_app(settings)), headers


def test_the_api_serves_a_bundle_with_no_mlflow_store(registry, tmp_path, monkeypatch, evidence):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    _, versions, bundle = registry
    data_dir = tmp_path / "data"
    client, headers = _serve(data_dir, bundle, monkeypatch)
    records = to_json_records(evidence[list(EVIDENCE_COLUMNS)].head(40))
    educator = records[0]["educator_id"]
    with client:
        ready = client.get("/readyz").json()["model"]
        assert ready["loaded"] is True and ready["reason"] is None
        assert (ready["version"], ready["source"], ready["gains"]) == (versions[0], "bundle",
                                                                       "learned")
        for tenant in ("acme", "other"):  # no registry: every tenant is served the bundle
            client.post("/v1/evidence", json={"records": records}, headers=headers[tenant])
            body = client.get(f"/v1/educators/{educator}/recommendations",
                              headers=headers[tenant]).json()
            model = body["model"]
            assert (model["version"], model["source"], model["scope"]) == (
                versions[0], "bundle", "default"), model
            assert model["card"]["data"]["kind"] == "synthetic" and body["items"]
        reloaded = client.post("/v1/admin/model:reload", headers=headers["admin"])
        assert reloaded.status_code == 200, reloaded.text  # the bundle read and verified again
        assert reloaded.json()["model"]["source"] == "bundle"
    assert not (data_dir / "mlflow").exists() and not (tmp_path / "mlruns").exists()


def test_a_broken_bundle_stops_the_start(registry, tmp_path, monkeypatch):
    from pipelines import model_bundle

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    copy = tmp_path / "b"
    shutil.copytree(registry[2], copy)
    (copy / "params.json").write_text("{}")
    with pytest.raises(model_bundle.BundleError, match="file 'params.json' was altered"):
        _serve(tmp_path / "data", copy, monkeypatch)


def test_tenant_champions_still_come_from_the_registry_beside_a_bundle(registry_env, monkeypatch,
                                                                      evidence):
    from pipelines import tracking

    root, versions, bundle = registry_env
    records = to_json_records(evidence[list(EVIDENCE_COLUMNS)].head(5))
    educator = records[0]["educator_id"]
    tracking.promote(versions[1], tenant="acme")
    try:
        client, headers = _serve(root, bundle, monkeypatch)
        with client:
            seen = {}
            for t in ("acme", "other"):
                client.post("/v1/evidence", json={"records": records}, headers=headers[t])
                seen[t] = client.get(f"/v1/educators/{educator}/mastery",
                                     headers=headers[t]).json()["model"]
    finally:
        tracking.clear_tenant_champion("acme")
    assert (seen["acme"]["version"], seen["acme"]["source"], seen["acme"]["scope"]) == (
        versions[1], "registry", "tenant")
    assert (seen["other"]["version"], seen["other"]["source"], seen["other"]["scope"]) == (
        versions[0], "bundle", "default")


def test_cli_exports_a_version_or_the_champion_and_inspects_it(registry_env, tmp_path):
    from pipelines import tracking

    root, versions, _ = registry_env
    runner = CliRunner()

    def run(*args):
        return runner.invoke(cli, [*args, "--data-dir", str(root)])

    made = run("model", "export", versions[1], "--out", str(tmp_path / "v2"))
    assert made.exit_code == 0, made.output
    assert f"mastery version {versions[1]}" in made.output and "PDREC_MODEL_DIR" in made.output
    shown = runner.invoke(cli, ["model", "inspect", str(tmp_path / "v2")])
    assert shown.exit_code == 0, shown.output
    run_id = tracking.load_version_bundle(versions[1]).run_id
    for text in ("(verified)", run_id, "gain_posteriors.csv", "card: educator#", "auc"):
        assert text in shown.output, (text, shown.output)

    none = run("model", "export", "champion", "--tenant", "acme", "--out", str(tmp_path / "c"))
    assert none.exit_code == 1 and "champion-acme" in none.output
    tracking.promote(versions[0])
    champion = run("model", "export", "champion", "--out", str(tmp_path / "c"))
    assert champion.exit_code == 0, champion.output
    manifest = json.loads((tmp_path / "c" / "bundle.json").read_text())
    assert (manifest["version"], manifest["alias"]) == (versions[0], "champion")
    assert run("model", "export", "99", "--out", str(tmp_path / "x")).exit_code == 2
    both = run("model", "export", "1", "--tenant", "acme", "--out", str(tmp_path / "y"))
    assert both.exit_code == 2 and "--tenant goes with `champion`" in both.output
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()
