import numpy as np
import pytest

from pipelines.config import load_config
from pipelines.training import data_fingerprint, load_dataset, split_educators, train
from tests.pipelines.conftest import small_config


def test_split_is_grouped_disjoint_and_deterministic():
    ids = [f"E{i}" for i in range(100)] * 3
    train_ids, test_ids = split_educators(ids, test_size=0.2, seed=3)
    assert len(test_ids) == 20 and len(train_ids) == 80
    assert not set(train_ids) & set(test_ids)
    again = split_educators(ids, test_size=0.2, seed=3)
    assert np.array_equal(again[1], test_ids)
    assert not np.array_equal(split_educators(ids, test_size=0.2, seed=4)[1], test_ids)


def test_config_errors_name_the_key_and_value(tmp_path):
    with pytest.raises(ValueError, match="model 'xgb' is not one of"):
        load_config({**small_config("lightgbm"), "model": "xgb"})
    with pytest.raises(ValueError, match="unknown keys \\['lr'\\]"):
        load_config({**small_config("lightgbm"), "lr": 0.1})
    with pytest.raises(ValueError, match="test_size must be in \\(0, 1\\), got 1.5"):
        load_config({**small_config("lightgbm"), "split": {"test_size": 1.5}})
    with pytest.raises(FileNotFoundError, match="no such config"):
        load_config(tmp_path / "missing.yaml")


def test_shipped_configs_load():
    from pathlib import Path

    configs = sorted(Path("experiments/configs").glob("*.yaml"))
    assert {c.stem for c in configs} >= {"lightgbm", "lightgbm_nograph", "logistic", "bkt",
                                          "population"}
    for path in configs:
        load_config(path)


def test_fingerprint_changes_with_the_data(small_data_dir):
    data = load_dataset({"path": "synthetic"}, small_data_dir)
    fp = data_fingerprint(data.evidence)
    assert fp == data_fingerprint(data.evidence.copy())
    changed = data.evidence.assign(score_norm=data.evidence["score_norm"].where(
        data.evidence.index != 0, 0.123))
    assert data_fingerprint(changed) != fp


def test_train_evaluates_on_held_out_educators_only(small_data_dir):
    result = train(load_config(small_config("lightgbm")), small_data_dir)
    m = result.metrics
    assert 0.5 < m["auc"] <= 1 and m["log_loss"] > 0 and 0 <= m["ece"] <= 1
    assert {"auc_no_own_evidence", "auc_instructional", "brier"} <= set(m)
    data = load_dataset({"path": "synthetic"}, small_data_dir)
    test_rows = data.evidence.set_index("evidence_id").loc[result.test_predictions["evidence_id"]]
    train_ids, test_ids = split_educators(data.educators["educator_id"], test_size=0.3, seed=0)
    assert set(test_rows["educator_id"]) <= set(test_ids)
    assert {"calibration.png", "feature_importance.png"} <= set(result.figures)
    gains = result.gain_posteriors
    assert {"gain_mean", "gain_sd", "n_obs", "roi_per_hour"} <= set(gains.columns)
    assert (gains["n_obs"] > 0).any()


def test_missing_dataset_without_generate_settings_says_how_to_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="pdrec generate"):
        load_dataset({"path": "nothing-here"}, tmp_path)
