"""``pdrec audit``: the equity audit of the engine's recommendations (docs/audit.md).

On a tenant of the store (``--tenant``: its educators, evidence and completions, its active
framework and catalog, the served champion or ``--no-model``) or on a synthetic cohort, the
command recommends for every educator as the API's batch path does, audits the recommendations
by subgroup (:mod:`recommender.audit`), optionally the simulator's realized outcomes of some
policies (``--policies``), writes the table (CSV), the plot (PNG) and the JSON, prints a table,
logs an MLflow run (experiment ``equity-audit``) and, for a tenant, stores the audit as the
tenant's latest, which admins read at ``GET /v1/admin/audit``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli_app import DataDir, app, champion_for, console

__all__ = ["audit"]


def _fmt(x) -> str:
    return "-" if x is None or x != x else f"{x:.3g}"


def _audit_table(table, title: str, metrics: list[str]) -> Table:
    """Rich table: each group's n, gap, each metric's mean and ratio [95% CI], flags."""
    out = Table(title=title)
    for col in ("attribute", "group", "n", "gap", *[f"{m} (ratio [95% CI])" for m in metrics],
                "flags"):
        out.add_column(col, justify="left" if col in ("attribute", "group", "flags") else "right")
    for r in table.to_dict("records"):  # a few dozen groups
        cells = [f"{_fmt(r[m])} ({_fmt(r.get(f'{m}_ratio'))} [{_fmt(r.get(f'{m}_lo'))}, "
                 f"{_fmt(r.get(f'{m}_hi'))}])" for m in metrics]
        small = " (small)" if r["small"] else ""
        flags = f"[red]{r['flags']}[/red]" if r["flagged"] else ""
        out.add_row(str(r["attribute"]), f"{r['value']}{small}", str(r["n"]),
                    _fmt(r["mastery_gap"]), *cells, flags)
    return out


def _champion(data_dir: Path, tenant: str | None, graph):
    """The served champion's predictor and gains (the tenant's own, else the default)."""
    champion = champion_for(graph, data_dir, tenant)
    console.print(f"mastery: champion model version {champion.version}")
    return champion.predictor, champion.gains, f"champion version {champion.version}"


def _inputs(tenant, data_dir, extra, educators, months, seed, restrict, intensive):
    from pipelines import audit_run
    from pipelines.cli_app import load_content

    graph, cat = load_content("educator", None)
    if tenant is None:
        return audit_run.synthetic_inputs(graph, cat, n_educators=educators, months=months,
                                          seed=seed, restrict=restrict,
                                          restricted_formats=intensive)
    from pipelines.serve import project_store
    from recommender.tenant_content import TenantContent

    with project_store(data_dir) as store:
        return audit_run.tenant_inputs(store, tenant, TenantContent(graph, cat), extra=extra)


def _log(data_dir, table, paths, *, params, name) -> str:
    from pipelines import audit_run, tracking

    tracking.configure(data_dir)
    flagged = table[table["flagged"]]
    metrics = {"flagged_groups": float(len(flagged))}
    for col in [c for c in table.columns if c.endswith("_ratio")]:
        metrics[f"min_{col}"] = float(table.loc[~table["small"], col].min())
    run_id = tracking.log_benchmark_run(
        run_name=f"audit {name}", params=params, metrics=metrics,
        tags={"command": "pdrec audit " + " ".join(sys.argv[2:])},
        artifacts={p.name: p.read_text() for p in paths if p.suffix != ".png"},
        experiment=audit_run.AUDIT_EXPERIMENT)
    tracking.log_files(run_id, [p for p in paths if p.suffix == ".png"])
    return run_id


def _simulated(inputs, policies: str, out: Path, name: str, *, educators, steps, seed, k,
               threshold, n_boot) -> list[Path]:
    """The simulator's realized outcomes per subgroup of each policy: printed, one CSV and
    plot per policy; returns the files written."""
    from pipelines import audit_run
    from recommender import audit as core

    names = [p.strip() for p in policies.split(",") if p.strip()]
    try:
        sim = audit_run.simulation_audit(inputs.graph, inputs.catalog, names,
                                         n_educators=educators, steps=steps, seed=seed, k=k,
                                         threshold=threshold, n_boot=n_boot)
    except ValueError as exc:
        console.print(f"[red]--policies: {exc}[/red]")
        raise typer.Exit(2) from None
    paths: list[Path] = []
    for pol, part in sim.groupby("policy", sort=False):  # a few policies
        console.print(_audit_table(part, f"Simulated outcomes, policy {pol}: "
                                         f"{educators:,} educators, {steps} steps",
                                   list(core.OUTCOME_METRICS)))
        paths += audit_run.write_audit(part, out, f"{name}-simulated-{pol}", threshold=threshold,
                                       metrics=("gained", "hours_to_goal"))
    return paths


def simulate_audit(graph, catalog, policies: list[str], scenario: str, out: Path, *,
                   educators: int, steps: int, seed: int, estimate=None, gains=None) -> None:
    """``pdrec simulate --audit``: the realized outcomes of each policy by subgroup in
    ``scenario``'s world (the same educators and draws as the simulation), the flagged groups
    printed per policy, the table and one plot per policy written next to the scenario's."""
    from pipelines import audit_run
    from recommender.simulate import scenario_params

    sim = audit_run.simulation_audit(graph, catalog, policies, n_educators=educators,
                                     steps=steps, seed=seed, params=scenario_params(scenario),
                                     estimate=estimate, gains=gains)
    sim.to_csv(Path(out) / f"{scenario}-audit.csv", index=False)
    for pol, part in sim.groupby("policy", sort=False):  # a few policies
        audit_run.plot_audit(part, Path(out) / f"{scenario}-audit-{pol}.png",
                             metrics=("gained", "hours_to_goal"),
                             title=f"Equity audit, {scenario}, {pol}: realized outcomes")
        flags = [f"{a}={v}: {f}" for a, v, f in part.loc[part["flagged"],
                                                          ["attribute", "value", "flags"]]
                 .itertuples(index=False)]
        console.print(f"audit, {pol}: flagged {'; '.join(flags) if flags else 'none'}")
    console.print(f"audit: {Path(out) / f'{scenario}-audit.csv'} (docs/audit.md)")


@app.command("audit")
def audit(
    tenant: Annotated[str | None, typer.Option(
        help="Audit this tenant's educators from the store (default: a synthetic cohort).")] = None,
    model: Annotated[bool, typer.Option(
        help="Mastery from the served champion (the tenant's own, else the default); "
             "--no-model: the evidence filter alone.")] = True,
    educators: Annotated[int, typer.Option(min=1, help="Synthetic cohort: educators.")] = 400,
    months: Annotated[int, typer.Option(min=1, help="Synthetic cohort: months of history.")] = 6,
    seed: Annotated[int, typer.Option(help="Cohort, simulator and bootstrap seed.")] = 0,
    restrict: Annotated[str | None, typer.Option(
        help="Synthetic cohort: plant a disparity, this school (North, South, East, West) may not "
             "take high-intensity formats.")] = None,
    extra: Annotated[list[str] | None, typer.Option(
        help="Tenant profile attribute to audit besides the standard ones (repeatable).")] = None,
    intensive: Annotated[str, typer.Option(
        help="Comma-separated high-intensity formats.")] = "coaching_cycle,residency",
    k: Annotated[int, typer.Option(min=1, help="Recommendations per educator.")] = 3,
    threshold: Annotated[float, typer.Option(
        min=0.01, max=1.0, help="Flag a group below this ratio to the best group.")] = 0.8,
    n_boot: Annotated[int, typer.Option(min=10, help="Bootstrap resamples.")] = 500,
    policies: Annotated[str | None, typer.Option(
        help="Also audit the simulator's realized outcomes of these comma-separated policies.")
    ] = None,
    steps: Annotated[int, typer.Option(min=1, help="Simulator: monthly steps.")] = 12,
    out: Annotated[Path | None, typer.Option(help="Output folder (default DATA_DIR/audit).")] = None,
    log_run: Annotated[bool, typer.Option(
        "--mlflow/--no-mlflow", help="Log an MLflow run (experiment equity-audit).")] = True,
    store: Annotated[bool, typer.Option(
        help="With --tenant: store the audit as the tenant's latest (GET /v1/admin/audit).")
    ] = True,
    data_dir: DataDir = Path("data"),
) -> None:
    """Equity audit: recommended hours, gain per hour and high-intensity share by subgroup."""
    from pipelines import audit_run
    from recommender import audit as core

    formats = tuple(f.strip() for f in intensive.split(",") if f.strip())
    try:
        inputs = _inputs(tenant, data_dir, tuple(extra or ()), educators, months, seed, restrict,
                         formats)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    predictor, gains, label = (_champion(data_dir, tenant, inputs.graph) if model
                               else (None, None, "evidence filter (--no-model)"))
    table = audit_run.recommendation_audit(
        inputs, k=k, predictor=predictor, gains=gains, extra=tuple(extra or ()),
        threshold=threshold, n_boot=n_boot, seed=seed, intensive_formats=formats)
    name = f"tenant-{tenant}" if tenant else f"synthetic-seed{seed}"
    out = Path(out) if out is not None else Path(data_dir) / "audit"
    metrics = list(core.RECOMMENDATION_METRICS)
    source = {"tenant": tenant, "synthetic": tenant is None, "educators": len(inputs.educators),
              "model": label, "k": k, "restrict": restrict}
    document = audit_run.audit_json(table, metrics=metrics, source=source, threshold=threshold)
    csv, png = audit_run.write_audit(table, out, name, threshold=threshold)
    jpath = out / f"{name}.json"
    jpath.write_text(json.dumps(document, indent=1))
    console.print(_audit_table(table, f"Equity audit, {name}: {len(inputs.educators):,} "
                                      f"educators, top {k}, {label}", metrics))
    paths = [csv, png, jpath]
    if policies:
        paths += _simulated(inputs, policies, out, name, educators=educators, steps=steps,
                            seed=seed, k=k, threshold=threshold, n_boot=n_boot)
    flagged = document["flagged"]
    console.print(f"flagged: {'; '.join(flagged) if flagged else 'none'}")
    console.print("written: " + ", ".join(str(p) for p in paths))
    if tenant and store:
        from pipelines.serve import project_store
        from recommender.store.equity_audits import put_audit

        with project_store(data_dir) as st:
            version = put_audit(st, tenant, document, by="pdrec audit")
        console.print(f"stored as tenant {tenant}'s audit version {version} "
                      "(GET /v1/admin/audit)")
    if log_run:
        params = {"tenant": tenant, "educators": len(inputs.educators), "seed": seed, "k": k,
                  "threshold": threshold, "n_boot": n_boot, "model": label,
                  "intensive": intensive, "restrict": restrict, "policies": policies}
        console.print(f"MLflow run {_log(data_dir, table, paths, params=params, name=name)}")
