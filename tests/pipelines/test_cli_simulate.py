import pandas as pd
import pytest
from typer.testing import CliRunner

from pipelines.cli import app

runner = CliRunner()


@pytest.fixture
def embedded_tracking(monkeypatch):
    """The embedded MLflow store of the test's data dir; MLFLOW_TRACKING_URI (which configuring
    MLflow exports) is back to what it was after the test."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "")  # records the original value for the undo
    monkeypatch.delenv("MLFLOW_TRACKING_URI")


def test_simulate_has_help():
    result = runner.invoke(app, ["simulate", "--help"])
    assert result.exit_code == 0, result.output
    for option in ("--policies", "--reference", "--scenario", "--mlflow"):
        assert option in result.output


def test_simulate_prints_a_table_and_writes_the_plot(tmp_path):
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", "--policies", "random,graph-rule", "--educators",
                                 "30", "--steps", "3", "--out", str(out), "--no-mlflow",
                                 "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "graph-rule is now called pathway-rule" in result.output
    assert "pathway-rule" in result.output and "gain_per_hour" in result.output
    assert "no paired differences" in result.output  # engine-no-model was not simulated
    assert (out / "default.png").stat().st_size > 0
    assert list(pd.read_csv(out / "default.csv")["policy"]) == ["random", "pathway-rule"]
    assert not (tmp_path / "data").exists()  # --no-mlflow: nothing logged


@pytest.mark.usefixtures("embedded_tracking")
def test_simulate_a_scenario_prints_paired_differences_and_logs_a_run(tmp_path):
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", "--policies", "random,pathway-rule",
                                 "--reference", "pathway-rule", "--scenario", "flat-gate",
                                 "--educators", "30", "--steps", "3", "--out", str(out),
                                 "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 0, result.output
    assert "Scenario flat-gate" in result.output
    assert "d_hours_to_goal" in result.output and "d_gain_per_hour" in result.output
    assert "policy minus pathway-rule" in result.output
    table = pd.read_csv(out / "flat-gate.csv").set_index("policy")
    assert table.loc["pathway-rule", "d_hours_to_goal"] == 0.0
    assert (out / "flat-gate.png").exists() and "MLflow run" in result.output
    run = _only_run(tmp_path / "data")
    assert run.data.params["scenario"] == "flat-gate" and run.data.params["seed"] == "0"
    assert any(k.startswith("ranker.") for k in run.data.params)  # the decision rule it ran
    assert run.data.metrics["pathway-rule.d_hours_to_goal"] == 0.0
    assert "random.hours_to_goal" in run.data.metrics


def _only_run(data_dir):
    from mlflow.tracking import MlflowClient

    from pipelines import tracking
    from pipelines.simulation import SIMULATION_EXPERIMENT

    tracking.configure(data_dir)
    client = MlflowClient()
    experiment = client.get_experiment_by_name(SIMULATION_EXPERIMENT)
    (run,) = client.search_runs([experiment.experiment_id])
    return run


def test_an_unknown_scenario_lists_the_valid_ones(tmp_path):
    result = runner.invoke(app, ["simulate", "--scenario", "nope", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "nope" in result.output and "steep-gate" in result.output


def test_simulate_runs_on_a_framework_and_catalog_of_ones_own(tmp_path):
    import json

    import yaml

    from tests.pipelines.test_file_training import CATALOG, FRAMEWORK

    framework, catalog = tmp_path / "framework.yaml", tmp_path / "catalog.json"
    framework.write_text(yaml.safe_dump(FRAMEWORK))
    catalog.write_text(json.dumps(CATALOG))
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", "--policies", "pathway-rule,engine-no-model,engine",
                                 "--no-model", "--framework", str(framework), "--catalog",
                                 str(catalog), "--educators", "30", "--steps", "3", "--out",
                                 str(out), "--no-mlflow"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "default.csv").set_index("policy")
    assert list(table.index) == ["pathway-rule", "engine-no-model", "engine"]
    assert table["hours_to_goal"].notna().all()
    # a framework file needs its catalog
    missing = runner.invoke(app, ["simulate", "--framework", str(framework), "--no-mlflow",
                                  "--out", str(out)])
    assert missing.exit_code == 2 and "--catalog" in missing.output


def test_simulate_refuses_a_champion_trained_on_another_framework(tmp_path, monkeypatch):
    import json

    import yaml

    from pipelines import tracking
    from tests.pipelines.test_file_training import CATALOG, FRAMEWORK

    framework, catalog = tmp_path / "framework.yaml", tmp_path / "catalog.json"
    framework.write_text(yaml.safe_dump(FRAMEWORK))
    catalog.write_text(json.dumps(CATALOG))
    champion = tracking.Champion(version="7", run_id="r", predictor=None,
                                 card={"framework": {"hash": "another"}})
    monkeypatch.setattr(tracking, "configure", lambda data_dir: None)
    monkeypatch.setattr(tracking, "load_champion_bundle", lambda tenant=None: champion)
    result = runner.invoke(app, ["simulate", "--policies", "engine", "--framework",
                                 str(framework), "--catalog", str(catalog), "--educators", "10",
                                 "--steps", "1", "--out", str(tmp_path / "sim"), "--no-mlflow"])
    assert result.exit_code == 2 and "trained on another framework" in result.output


def test_simulate_runs_on_a_tenants_uploaded_content(tmp_path):
    import json
    from pathlib import Path

    import recommender
    from pipelines.serve import project_store
    from recommender.standards.case import import_case
    from recommender.tenant_content import default_content, upload

    district = Path(recommender.__file__).parent / "data" / "demo_district"
    framework = import_case(json.loads((district / "case_framework.json").read_text())).framework
    data_dir = tmp_path / "data"
    with project_store(data_dir) as store:
        upload(store, "district", default_content("educator", None), by="test",
               framework=framework, catalog=(district / "catalog.yaml").read_text())
    out = tmp_path / "sim"
    result = runner.invoke(app, ["simulate", "--tenant", "district", "--data-dir", str(data_dir),
                                 "--policies", "pathway-rule,engine-no-model", "--no-model",
                                 "--educators", "20", "--steps", "2", "--out", str(out),
                                 "--no-mlflow"])
    assert result.exit_code == 0, result.output
    assert "tenant district" in result.output and "(version 1)" in result.output
    table = pd.read_csv(out / "default.csv").set_index("policy")
    assert table["hours_to_goal"].notna().all()
