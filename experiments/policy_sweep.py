"""Sweep the engine's decision settings on development seeds of the policy simulator.

Each variant is the ranker (:func:`recommender.ranking.rank_batch`) on one mastery estimate with
its own :class:`~recommender.ranking.params.RankerParams`, estimator parameters and mastery
threshold; every variant meets the same world draws (common random numbers) and is reported as
the paired difference in restricted-mean hours to goal against ``engine-no-model`` at its
shipped settings, with a paired bootstrap 95% interval (:mod:`recommender.evaluation`).

Use **development seeds only** (100, 101): claims are made on other seeds. Needs a champion
(``make demo``). Example::

    python experiments/policy_sweep.py experiments/configs/ranker_sweep.json \\
        --seeds 100,101 --data-dir data

A variant is a JSON object: ``name``; ``estimate`` one of ``model`` (the champion's
estimator, the shipped engine), ``filter`` (the estimator without a model), ``smoothed`` (the
smoothed share), ``truth`` (the oracle's latent mastery); optional ``estimator`` (EstimatorParams
fields), ``ranker`` (flat ``RankerParams.to_dict`` keys without the ``ranker.`` prefix, e.g.
``"weights.goal"``), ``threshold`` (the request's mastery threshold), ``learned_gains`` (default
true for ``model``, false otherwise), ``rater_severity`` (default true: the engine's
severity fitted on the intake, ``EnginePolicy.observer_severity``), ``confident`` (stop on a
competency only when ``P(theta >= 0) >= confident`` under the estimator's belief, the level
``sigmoid(mean)`` used
otherwise; the shipped rule is the estimator's ``p_bound``, ``sigmoid(mean - pessimism * sd)``,
set with ``"estimator": {"pessimism": k}``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from pipelines import tracking
from recommender import evaluation
from recommender.catalog import default_catalog
from recommender.estimate import EstimatorParams, MasteryEstimator
from recommender.graph import default_framework
from recommender.policies import EngineNoModelPolicy, EnginePolicy, PolicySetup
from recommender.ranking import RankingRequest, prepare
from recommender.ranking.params import RankerParams
from recommender.sim_estimators import (
    engine_estimate,
    estimator_inputs,
    long_mastery,
    smoothed_mastery,
)
from recommender.simulate import catalog_arrays, initial_population, true_mastery


class Variant(EnginePolicy):
    """The ranker on one estimate with its own settings (module docstring)."""

    def __init__(self, setup: PolicySetup, spec: dict, predictor, gains):
        super().__init__(setup)
        self.name, self.kind = spec["name"], spec.get("estimate", "model")
        use_gains = spec.get("learned_gains", self.kind == "model")
        ranker = RankerParams.from_dict({f"ranker.{k}": v
                                         for k, v in spec.get("ranker", {}).items()})
        self.index = prepare(setup.graph, setup.catalog, gains if use_gains else None,
                             params=ranker)
        estimator = MasteryEstimator(
            setup.graph, setup.catalog, predictor=predictor if self.kind == "model" else None,
            gains=gains if use_gains else None,
            params=EstimatorParams(**spec.get("estimator", {})))
        self.estimate = engine_estimate(estimator)
        self.inputs = estimator_inputs(self.estimate)
        self.threshold = spec.get("threshold", 0.7)
        self.request = RankingRequest(k=setup.k, mastery_threshold=self.threshold)
        self.confident = spec.get("confident")
        self.rater_severity = spec.get("rater_severity", True)

    def observer_severity(self, state) -> pd.Series:
        return super().observer_severity(state) if self.rater_severity else pd.Series(dtype=float)

    def mastery(self, state) -> pd.DataFrame:
        if self.kind == "smoothed":
            return smoothed_mastery(state.evidence)
        if self.kind == "truth":
            pop = state.population
            return long_mastery(true_mastery(pop), pop.educator_ids, pop.competencies)
        out = super().mastery(state)
        if self.confident is None:
            return out
        m, s = out["mean_logit"].to_numpy(), out["sd_logit"].to_numpy()
        level, sure = expit(m), ndtr(m / s) >= self.confident
        return out.assign(p_mastery=np.where(sure, np.maximum(level, self.threshold),
                                             np.minimum(level, self.threshold - 1e-3)))


def sweep(specs: list[dict], seed: int, predictor, gains, *, educators: int = 500,
          steps: int = 30) -> pd.DataFrame:
    """One seed: hours to goal and paired d against ``engine-no-model`` for every variant."""
    graph = default_framework()
    catalog = default_catalog(graph)
    pop0 = initial_population(graph, educators, random_state=seed)
    setup = PolicySetup(graph=graph, catalog=catalog, population=pop0,
                        activities=catalog_arrays(catalog, pop0.competencies), k=3,
                        estimate=None, gains=gains, seed=seed + 1)
    boot = np.random.default_rng(seed + 7919).integers(0, educators, (1000, educators))
    outcomes = {}
    for name, build in [("engine-no-model", EngineNoModelPolicy)] + [
            (s["name"], lambda st, s=s: Variant(st, s, predictor, gains)) for s in specs]:
        t0 = time.perf_counter()
        outcomes[name] = evaluation.run_policy(build(setup), setup, steps=steps, p_accept=0.7,
                                               n_random_readings=3)
        print(f"seed {seed} {name}: {time.perf_counter() - t0:.0f} s", file=sys.stderr,
              flush=True)
    table = evaluation.compare_outcomes(outcomes, hours_budget=4.0 * steps, boot_idx=boot,
                                        steps=steps, reference="engine-no-model")
    cols = ["policy", "hours_to_goal", "d_hours_to_goal", "d_hours_to_goal_ci_low",
            "d_hours_to_goal_ci_high"]
    return table[cols].assign(seed=seed)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("config", type=Path, help="JSON list of variants (module docstring)")
    ap.add_argument("--seeds", default="100,101", help="development seeds, comma-separated")
    ap.add_argument("--data-dir", type=Path, default=Path("data"))
    ap.add_argument("--out", type=Path, help="CSV of every (seed, variant) row")
    args = ap.parse_args()
    warnings.simplefilter("ignore", UserWarning)
    tracking.configure(args.data_dir)
    champion = tracking.load_champion_bundle()
    if champion is None:
        sys.exit(f"no champion model under {args.data_dir}: run `make demo` first")
    specs = json.loads(args.config.read_text())
    rows = pd.concat([sweep(specs, int(s), champion.predictor, champion.gains)
                      for s in args.seeds.split(",")])
    print(rows.round(2).to_string(index=False))
    if args.out:
        rows.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
