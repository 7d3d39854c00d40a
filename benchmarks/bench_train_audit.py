"""Benchmark: the seconds the equity audit adds to a training run (``pdrec train``, issue #19).

Run with ``python benchmarks/bench_train_audit.py [n_educators] [model]`` (defaults 1000,
``lightgbm``; ``make demo`` trains on 3000 with the same split). It generates ``n_educators``
synthetic educators over 12 months (seed 0) into a temporary folder, then, as the reference,
times one training run without its audit (:func:`pipelines.training.prepare`, ``fit_model``
and ``package(audit=False)``, the model's config from ``experiments/configs/``), then the audit
of that model on the held-out educators (:func:`pipelines.train_audit.audit_trained_model`,
median of 3: the estimator with the model as prior, the ranker, the subgroup report), and
prints both and their ratio; then, as a second reference, the same audit with the estimator
alone (no model prior, ``pdrec audit --no-model``), to show what the model call costs.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from timing import median_time

from pipelines.config import load_config
from pipelines.train_audit import audit_trained_model
from pipelines.training import fit_model, package, prepare
from recommender.catalog import default_catalog
from recommender.graph import default_framework
from recommender.simulate import generate, write_synthetic

ROOT = Path(__file__).resolve().parent.parent
N_RUNS = 3


def main(n: int = 1000, model: str = "lightgbm") -> None:
    graph = default_framework("educator")
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        write_synthetic(generate(graph, default_catalog(graph), n_educators=n, months=12,
                                 random_state=0), data_dir / "synthetic")
        raw = load_config(ROOT / "experiments" / "configs" / f"{model}.yaml").to_dict()
        raw["data"] = {"kind": "synthetic", "path": "synthetic"}
        cfg = load_config(raw)

        def training():
            prep = prepare(cfg, data_dir)
            return prep, package(cfg, prep, fit_model(cfg, prep.X_train, prep.y_train),
                                 audit=False)

        t_train, (prep, result) = median_time(training, 1)
        d = prep.data
        t_audit, (found, _) = median_time(lambda: audit_trained_model(
            d.graph, d.catalog, d.educators, d.evidence, d.completions,
            predictor=result.predictor, gains=result.gain_posteriors,
            educator_ids=prep.split.test_ids, before=prep.split.before, seed=cfg.seed), N_RUNS)
        t_plain, _ = median_time(lambda: audit_trained_model(
            d.graph, d.catalog, d.educators, d.evidence, d.completions, predictor=None,
            gains=result.gain_posteriors, educator_ids=prep.split.test_ids,
            before=prep.split.before, seed=cfg.seed), N_RUNS)
    print(f"training {model} on {n:,} educators ({len(prep.X_train):,} training rows), "
          f"without its audit (reference, 1 run): {t_train:.1f} s")
    print(f"equity audit of its recommendations to {found.cohort['educators']} held-out "
          f"educators ({len(found.table)} groups, {found.cohort['n_boot']} resamples), median "
          f"of {N_RUNS}: {t_audit:.2f} s; {len(found.flags)} flagged")
    print(f"ratio audit / training: {t_audit / t_train:.3f}")
    print(f"reference: the same audit without the model prior (the evidence filter alone), "
          f"median of {N_RUNS}: {t_plain:.2f} s; ratio with / without the model: "
          f"{t_audit / t_plain:.2f}")


if __name__ == "__main__":
    main(*(int(a) if i == 0 else a for i, a in enumerate(sys.argv[1:])))
