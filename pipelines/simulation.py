"""The policy-simulation job's outputs: each scenario's table as CSV and PNG, and an MLflow run.

The simulation itself is :func:`recommender.evaluation.simulate_policies`; this module only
puts its tables where a data scientist finds them again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from pipelines.plots import plot_policies
from recommender.evaluation import METRICS

__all__ = ["SIMULATION_EXPERIMENT", "log_scenario", "scenario_metrics", "write_scenario"]

SIMULATION_EXPERIMENT = "policy-simulation"
"""MLflow experiment of ``pdrec simulate`` runs (one run per scenario)."""


def write_scenario(table: pd.DataFrame, out_dir: Path, scenario: str) -> tuple[Path, Path]:
    """Write ``table`` as ``out_dir/<scenario>.csv`` and its plot as ``<scenario>.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / f"{scenario}.csv"
    table.to_csv(csv, index=False)
    return csv, plot_policies(table, out_dir / f"{scenario}.png")


def scenario_metrics(table: pd.DataFrame) -> dict[str, float]:
    """``<policy>.<metric>`` and ``<policy>.d_<metric>`` of every policy (missing ones left out),
    the figures an MLflow comparison of runs plots."""
    columns = [*METRICS, *(f"d_{m}" for m in METRICS)]
    long = table.melt(id_vars="policy", value_vars=columns).dropna(subset=["value"])
    return {f"{p}.{m}": float(v) for p, m, v in long.itertuples(index=False)}


def log_scenario(table: pd.DataFrame, *, scenario: str, params: dict, tags: dict) -> str:
    """Log one scenario's table as a run of :data:`SIMULATION_EXPERIMENT`; return its id.

    Call :func:`pipelines.tracking.configure` first. ``params`` are the command's options (seed,
    educators, steps, ...); the ranker's parameters the simulator ranks with (the defaults,
    flat ``ranker.*`` keys as training runs log them), the scenario's description and the table
    as CSV go with them.
    """
    from pipelines import tracking  # mlflow is slow to import; only a logged run needs it
    from recommender.ranking import DEFAULT_RANKER_PARAMS
    from recommender.simulate import SCENARIOS

    return tracking.log_benchmark_run(
        run_name=f"simulate {scenario} seed {params.get('seed')}",
        params={**params, "scenario": scenario, "reference": table["reference"].iloc[0],
                "policies": ",".join(table["policy"]), **DEFAULT_RANKER_PARAMS.to_dict()},
        metrics=scenario_metrics(table),
        tags={**tags, "scenario": scenario,
              "scenario_description": SCENARIOS[scenario].description},
        artifacts={f"{scenario}.csv": table.to_csv(index=False)},
        experiment=SIMULATION_EXPERIMENT,
    )
