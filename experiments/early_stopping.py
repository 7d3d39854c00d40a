"""How many trees the champion needs: its early stopping against shorter ones, on held-out educators.

The reference is the champion as it was before issue #16 (``experiments/configs/lightgbm.yaml``:
up to 2,000 trees, learning rate 0.05, 31 leaves, early stopping after 100 rounds without a
better validation log loss on 15% of the training educators; the config now stops after 20,
which this experiment chose). It is fitted on the config's data and split, and so is each
variant:

- ``patience=P``: early stopping after P rounds instead of 100;
- ``within X%``: the fewest trees whose validation log loss is within X% of the best the
  champion's run saw (read from that run's validation curve; the model is then refitted with
  exactly that many trees, so its calibrator is fitted for them);
- ``lr=0.1``: twice the learning rate, patience 100.

For each: trees used, held-out AUC, log loss and Brier on the test educators, the difference
from the champion with a 95% interval from a paired bootstrap over test educators (the noise
of the held-out estimate), and the bare ``booster.predict`` time of the test rows (median of 3).
Prints a markdown table. Run::

    python experiments/early_stopping.py [--bootstrap 200] [--split-seed 0]

``--split-seed`` replaces the config's split and model seeds (another draw of test educators and
of the validation fold early stopping reads): the check that a choice is not one split's luck.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from pipelines.config import load_config
from pipelines.training import data_fingerprint, load_dataset, split_records
from recommender.evidence import proficient_threshold
from recommender.features import FeatureBuilder
from recommender.models import LightGBMMastery

CONFIG = Path(__file__).parent / "configs" / "lightgbm.yaml"


def _metrics(y, p) -> dict[str, float]:
    return {"auc": roc_auc_score(y, p), "log_loss": log_loss(y, np.clip(p, 1e-15, 1 - 1e-15)),
            "brier": brier_score_loss(y, p)}


def _bootstrap(y, p_ref, p, groups, reps: int, seed: int = 0) -> dict[str, tuple[float, float]]:
    """95% intervals of (variant - champion) per metric, resampling test educators."""
    codes, uniques = pd.factorize(groups)
    rows = [np.flatnonzero(codes == g) for g in range(len(uniques))]
    rng = np.random.default_rng(seed)
    diffs = {k: [] for k in ("auc", "log_loss", "brier")}
    for _ in range(reps):
        idx = np.concatenate([rows[g] for g in rng.integers(0, len(rows), len(rows))])
        a, b = _metrics(y[idx], p_ref[idx]), _metrics(y[idx], p[idx])
        for k in diffs:
            diffs[k].append(b[k] - a[k])
    return {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5)))
            for k, v in diffs.items()}


def _predict_ms(model: LightGBMMastery, M: np.ndarray) -> float:
    times = []
    for _ in range(3):
        start = time.perf_counter()
        model.booster_.predict(M, num_iteration=model.best_iteration_, raw_score=True,
                               num_threads=1)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates")
    parser.add_argument("--split-seed", type=int, default=None,
                        help="split and model seed instead of the config's")
    args = parser.parse_args()
    config = load_config(CONFIG)
    if args.split_seed is not None:
        config = dataclasses.replace(config, split={**config.split, "seed": args.split_seed},
                                     seed=args.split_seed)
    with tempfile.TemporaryDirectory() as tmp:
        data = load_dataset(config.data, Path(tmp))
    split = split_records(data.evidence, data.educators["educator_id"], config.split,
                          data_fingerprint(data.evidence))
    builder = FeatureBuilder(data.graph, catalog=data.catalog,
                             proficient_at=proficient_threshold(data.graph.graph["scale"]))
    ev_train = data.evidence[split.is_train]
    builder.fit(ev_train, educators=data.educators[
        data.educators["educator_id"].isin(split.train_ids)])
    kw = {"completions": data.completions, "educators": data.educators}
    X_train, y_train = builder.training_frame(ev_train, **kw)
    X_test, y_test = builder.training_frame(data.evidence[split.is_test], **kw)
    groups = X_test["educator_id"].to_numpy()
    base = {**config.params, "random_state": config.seed, "n_jobs": 1}

    def fit(**params):
        return LightGBMMastery(**{**base, **params}).fit(X_train, y_train,
                                                         groups=X_train["educator_id"].to_numpy())

    champion = fit(early_stopping_rounds=100)
    curve = _valid_curve(champion, X_train, y_train)
    variants = {"patience 100 (the champion before #16)": champion}
    for patience in (50, 20):
        variants[f"patience {patience}"] = fit(early_stopping_rounds=patience)
    best = curve[: champion.best_iteration_].min()
    for tol in (0.001, 0.005):
        k = int(np.flatnonzero(curve <= best * (1 + tol))[0]) + 1
        variants[f"within {tol:.1%} of the best validation log loss"] = fit(
            n_estimators=k, early_stopping_rounds=None)
    variants["lr=0.1, patience 100"] = fit(learning_rate=0.1)

    M_test = champion.input_matrix(X_test)
    p_ref = champion.predict_proba(X_test)[:, 1]
    print(f"data: {config.data}, {len(X_train):,} training rows, {len(X_test):,} test rows "
          f"({len(pd.unique(groups)):,} test educators)\n")
    print("| variant | trees | AUC | log loss | Brier | AUC diff (95% CI) | log-loss diff (95% CI) "
          "| predict ms |")
    print("|---|---|---|---|---|---|---|---|")
    for name, model in variants.items():
        p = model.predict_proba(X_test)[:, 1]
        m = _metrics(y_test, p)
        ci = _bootstrap(y_test, p_ref, p, groups, args.bootstrap)
        d = {k: m[k] - _metrics(y_test, p_ref)[k] for k in m}
        print(f"| {name} | {model.best_iteration_} | {m['auc']:.4f} | {m['log_loss']:.4f} | "
              f"{m['brier']:.4f} | {d['auc']:+.4f} ({ci['auc'][0]:+.4f}, {ci['auc'][1]:+.4f}) | "
              f"{d['log_loss']:+.4f} ({ci['log_loss'][0]:+.4f}, {ci['log_loss'][1]:+.4f}) | "
              f"{_predict_ms(model, M_test):.0f} |")


def _valid_curve(model: LightGBMMastery, X: pd.DataFrame, y: np.ndarray) -> np.ndarray:
    """The champion's validation log loss after each tree (its own validation educators)."""
    from sklearn.model_selection import GroupShuffleSplit

    split = GroupShuffleSplit(n_splits=1, test_size=model.validation_fraction,
                              random_state=model.random_state)
    _, valid = next(split.split(X, y, X["educator_id"].to_numpy()))
    M = model.input_matrix(X.iloc[valid])
    total = model.booster_.current_iteration()
    raw = np.cumsum([model.booster_.predict(M, start_iteration=k, num_iteration=1,
                                            raw_score=True) for k in range(total)], axis=0)
    p = 1 / (1 + np.exp(-raw))
    yv = y[valid]
    eps = 1e-15
    p = np.clip(p, eps, 1 - eps)
    return -(yv * np.log(p) + (1 - yv) * np.log(1 - p)).mean(axis=1)


if __name__ == "__main__":
    main()
