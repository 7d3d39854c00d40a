"""Mastery model performance: features + training on ~1M evidence rows, and serving latency.

Prints medians and ratios against reference runs in the same process:

- feature building (fit + training frame) vs LightGBM's own fit on those features
  (goal: features no slower than the fit);
- serving features + prediction for one educator over all competencies (goal: median <= 5 ms),
  against a bare LightGBM prediction of the same rows;
- the same for 10,000 educators at once (goal: <= 2 s).

Run: ``python benchmarks/bench_mastery.py [--rows 1000000]`` (``make bench`` runs it).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pandas as pd
from timing import median_time  # benchmarks/timing.py (scripts run from this folder)

from recommender.catalog import default_catalog
from recommender.evidence import validate_evidence
from recommender.features import FeatureBuilder
from recommender.graph import default_framework
from recommender.models import LightGBMMastery
from recommender.simulate import generate

EVIDENCE_PER_EDUCATOR = 36.6  # the generator's default rate over 12 months



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="target evidence rows")
    parser.add_argument("--threads", type=int, default=2, help="LightGBM threads for the fit")
    args = parser.parse_args()

    graph = default_framework("educator")
    catalog = default_catalog(graph)
    n_educators = int(args.rows / EVIDENCE_PER_EDUCATOR)
    data = generate(graph, catalog, n_educators=n_educators, months=12, random_state=0)
    evidence = validate_evidence(data.evidence, competencies=list(graph),
                                 now=pd.Timestamp("2100-01-01", tz="UTC")).valid
    kw = {"completions": data.completions, "educators": data.educators}
    print(f"{len(evidence):,} evidence rows, {n_educators:,} educators, "
          f"{graph.number_of_nodes()} competencies")

    def features():
        builder = FeatureBuilder(graph, catalog=catalog).fit(evidence, educators=data.educators)
        return builder, *builder.training_frame(evidence, **kw)

    t_features, (builder, X, y) = median_time(features, runs=3)
    model = LightGBMMastery(n_estimators=300, num_leaves=31, early_stopping_rounds=30,
                            n_jobs=args.threads)
    t_fit, _ = median_time(lambda: model.fit(X, y), runs=1)
    print(f"features (fit + training frame): median {t_features:.2f} s over 3 runs")
    print(f"LightGBM fit ({model.best_iteration_} trees, {args.threads} threads): {t_fit:.2f} s")
    print(f"ratio features / fit: {t_features / t_fit:.2f}  (goal <= 1)")

    as_of = evidence["observed_at"].max() + pd.Timedelta(seconds=1)
    by_educator = dict(tuple(evidence.groupby("educator_id", sort=False)))
    ids = list(by_educator)[:200]
    one_times, bare_times = [], []
    for educator in ids:
        own = by_educator[educator]
        start = time.perf_counter()
        frame = builder.serving_frame(own, as_of=as_of, educator_ids=[educator])
        model.predict_proba(frame)
        one_times.append(time.perf_counter() - start)
        matrix = model.input_matrix(frame)
        start = time.perf_counter()
        model.booster_.predict(matrix, num_iteration=model.best_iteration_)
        bare_times.append(time.perf_counter() - start)
    one, bare = statistics.median(one_times) * 1e3, statistics.median(bare_times) * 1e3
    print(f"serving one educator x {graph.number_of_nodes()} competencies: median {one:.2f} ms "
          f"over {len(ids)} educators (goal <= 5 ms); bare booster.predict {bare:.2f} ms, "
          f"ratio {one / bare:.1f}")

    many = np.array(list(by_educator)[:10_000], dtype=object)
    subset = evidence[evidence["educator_id"].isin(set(many))]

    def serve_many():
        frame = builder.serving_frame(subset, as_of=as_of, educator_ids=many)
        return model.predict_proba(frame)

    t_many, p = median_time(serve_many, runs=3)
    print(f"serving {len(many):,} educators ({len(p):,} rows): median {t_many:.2f} s over 3 runs "
          f"(goal <= 2 s)")


if __name__ == "__main__":
    main()
