"""The ``pdrec`` command line: generate data, inspect content, train, compare, promote, serve.

Every subcommand has ``--help``. Long steps show a Rich progress bar.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli_app import (
    DataDir,
    app,
    champion_for,
    console,
    load_content,
    print_mapping,
    progress_bar,
)


@app.command()
def info(
    framework: Annotated[str, typer.Option(help="'educator', 'leader' or a YAML/JSON file.")] = "educator",
    catalog: Annotated[Path | None, typer.Option(help="Activity catalog file (default: shipped).")] = None,
) -> None:
    """Load a framework and its catalog, check them, and print a summary."""
    from pipelines.summary import catalog_summary, framework_summary

    graph, cat = load_content(framework, catalog)
    print_mapping(f"Framework {graph.graph['name']!r}", framework_summary(graph))
    if cat is not None:
        print_mapping("Activity catalog", catalog_summary(cat))


@app.command()
def generate(
    out: Annotated[Path, typer.Option(help="Folder to write the dataset into.")],
    educators: Annotated[int, typer.Option(min=1, help="Number of synthetic educators.")] = 1000,
    months: Annotated[int, typer.Option(min=1, help="Months of evidence to simulate.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 0,
) -> None:
    """Generate synthetic educators, evidence, completed activities and (separately) the truth."""
    from pipelines.summary import data_summary
    from recommender.simulate import generate as simulate
    from recommender.simulate import write_synthetic

    graph, cat = load_content("educator", None)
    start = time.perf_counter()
    with progress_bar() as bar:
        task = bar.add_task(f"simulating {educators:,} educators", total=months)
        data = simulate(
            graph, cat, n_educators=educators, months=months, random_state=seed,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
    paths = write_synthetic(data, out)
    elapsed = time.perf_counter() - start
    print_mapping("Synthetic data", data_summary(data.educators, data.evidence, data.completions))
    for name, path in paths.items():
        console.print(f"  wrote {name}: {path}")
    console.print(f"generated in {elapsed:.1f} s")


@app.command()
def compare(
    data_dir: DataDir = Path("data"),
    split: Annotated[str | None, typer.Option(help="Split id (default: the latest run's).")] = None,
):
    """Print the runs that share a split, best AUC first, with each model's equity-audit flags
    ("not audited" for a run without an audit), then each one's model card line, its subgroup
    metrics (test AUC range, the lowest group; * marks small groups) and its flagged groups."""
    from pipelines import tracking

    tracking.configure(data_dir)
    table = tracking.compare_runs(split)
    if table.empty:
        console.print("no runs yet: train one with `pdrec train --config ...`")
        raise typer.Exit(1)
    shown = table.drop(columns=["card", "subgroups", "audit"]).fillna({"aliases": ""})
    shown["audit_flags"] = shown["audit_flags"].map(
        lambda n: "not audited" if n != n else str(int(n)))  # a few runs; NaN: no audit
    out = Table(title=f"Mastery models on split {table.attrs['split_id']}")
    for col in shown.columns:
        out.add_column(col, justify="left" if col in ("run", "model", "aliases") else "right")
    for row in shown.itertuples(index=False):
        out.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    console.print(out)
    for row in table.fillna({"card": "", "subgroups": "", "version": "-", "audit": ""}
                            ).itertuples(index=False):
        console.print(f"  v{row.version} {row.run}: {row.card or '(no card)'}"
                      + (f"\n      subgroups: {row.subgroups}" if row.subgroups else "")
                      + f"\n      audit: {row.audit or 'not audited'}",
                      markup=False, highlight=False)
    return table


@app.command()
def promote(
    version: Annotated[str | None, typer.Argument(
        help="Registered version of 'mastery' to promote.")] = None,
    data_dir: DataDir = Path("data"),
    tenant: Annotated[str | None, typer.Option(
        help="Promote for this tenant only (alias champion-TENANT).")] = None,
    clear: Annotated[bool, typer.Option(
        "--clear", help="Remove the tenant's own champion: it is served the default again.")
    ] = False,
) -> None:
    """Set the 'champion' alias of the 'mastery' model (or a tenant's) to VERSION."""
    from pipelines import tracking

    if clear == (version is not None) or (clear and tenant is None):
        raise typer.BadParameter("pass VERSION, or --tenant TENANT --clear")
    tracking.configure(data_dir)
    if clear:
        was = tracking.clear_tenant_champion(tenant)
        console.print(f"tenant {tenant} is served the default champion"
                      + (f" (was version {was})" if was else " (it had none of its own)"))
        return
    tracking.promote(version, tenant=tenant)
    console.print(f"mastery version {version} is now the champion"
                  + (f" of tenant {tenant}" if tenant else ""))
    flags, summary = tracking.version_audit(version)
    if flags is None or flags > 0:  # a warning, not a refusal: the flags may be understood
        from rich.markup import escape

        console.print(f"[yellow]warning: version {version}'s equity audit: {escape(summary)}; "
                      "see docs/audit.md, or run `pdrec audit`[/yellow]", highlight=False)


@app.command()
def demo(
    data_dir: DataDir = Path("data"),
    educators: Annotated[int, typer.Option(min=10, help="Synthetic educators to generate.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    api_educators: Annotated[int, typer.Option(
        min=1, help="Synthetic educators loaded into the demo tenant through the API.")] = 200,
    serve_api: Annotated[bool, typer.Option(
        "--serve/--no-serve", help="End by serving the API (and /coach) on 127.0.0.1.")] = True,
    port: Annotated[int, typer.Option(help="TCP port to serve on.")] = 8000,
) -> None:
    """Run the product end to end on its embedded defaults, then serve it."""
    info(framework="educator", catalog=None)
    info(framework="leader", catalog=None)
    generate(out=data_dir / "synthetic", educators=educators, months=12, seed=seed)
    configs = Path("experiments/configs")
    for name in ("population", "bkt", "logistic", "lightgbm_nograph", "lightgbm"):
        train(config=configs / f"{name}.yaml", data_dir=data_dir, register=True)
    table = compare(data_dir=data_dir, split=None)
    best = table.sort_values("log_loss").iloc[0]  # the best-calibrated model on this split
    console.print(f"promoting {best['run']} (lowest held-out log loss)")
    promote(version=best["version"], data_dir=data_dir)

    from pipelines.demo_tenant import seed_demo_tenant

    with progress_bar() as bar:
        tasks: dict[str, int] = {}

        def advance(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(f"demo tenant: {stage}", total=total)
            bar.update(tasks[stage], completed=done)

        tenant = seed_demo_tenant(data_dir, data_dir / "synthetic", educators=api_educators,
                                  progress=advance)
    console.print(f"tenant [bold]{tenant.tenant}[/bold]: {len(tenant.educators)} educators, "
                  f"{tenant.evidence:,} evidence records, {tenant.completions:,} completions "
                  "(loaded through the API)")
    for role, key in tenant.keys.items():
        console.print(f"  {role:>8} key: [bold]{key}[/bold]")
    base = f"http://127.0.0.1:{port}"
    first = tenant.educators[0]
    console.print(
        "try:\n"
        f"  export KEY={tenant.keys['platform']}\n"
        f"  curl -H \"Authorization: Bearer $KEY\" '{base}/v1/educators/{first}/recommendations?k=3'\n"
        f"  the coach page: {base}/coach (sign in with the coach key)\n"
        f"  an educator's own page: {base}/coach (sign in with the educator key: "
        f"{tenant.educator}'s map, evidence, consent and renewal progress)")
    from pipelines.demo_district import district_lines, seed_district_tenant

    for line in district_lines(seed_district_tenant(data_dir, seed=seed), base):
        console.print(line)
    if serve_api:
        serve(data_dir=data_dir, host="127.0.0.1", port=port, workers=1)


def _simulation_content(framework: str, catalog: Path | None, tenant: str | None,
                        data_dir: Path):
    """The framework and catalog to simulate (files, or a tenant's active versions in the
    store); exits 2 naming the problem (no catalog, a file that does not load)."""
    from recommender.errors import RecommenderError

    try:
        graph, cat = load_content(framework, catalog)
    except (OSError, ValueError, RecommenderError) as exc:
        console.print(f"[red]--framework/--catalog: {exc}[/red]")
        raise typer.Exit(2) from None
    if tenant is not None:
        from pipelines.serve import project_store
        from recommender.tenant_content import TenantContent, resolve_content

        with project_store(data_dir) as store:
            content = resolve_content(store, tenant, TenantContent(graph, cat))
        console.print(f"tenant {tenant}: framework {content.graph.graph.get('name')!r} "
                      f"(version {content.framework_version or 'default'}), catalog version "
                      f"{content.catalog_version or 'default'}")
        graph, cat = content.graph, content.catalog
    if cat is None:
        console.print(f"[red]--catalog: framework {graph.graph['name']!r} has no default "
                      "catalog; pass its activity catalog file[/red]")
        raise typer.Exit(2)
    return graph, cat


def _engine_inputs(names: list[str], model: bool, data_dir: Path, graph, catalog):
    """The engine policy's estimator and gains: the champion's (``model``), else the defaults.

    Returns ``(estimate, gains, label)``; ``estimate`` None means the simulator's default.
    """
    if "engine" not in names:
        return None, None, None
    if not model:
        console.print("engine policy: the evidence filter without a model, catalog prior gains "
                      "(--no-model)")
        return None, None, "evidence filter (--no-model)"
    from pipelines import tracking
    from recommender.estimate import MasteryEstimator
    from recommender.sim_estimators import engine_estimate

    champion = champion_for(graph, data_dir)  # model and gains of one version
    gains = champion.gains
    console.print(f"engine policy: champion mastery model version {champion.version} as the "
                  "estimator's prior, "
                  + ("its learned gain posteriors" if gains is not None else
                     "[yellow]catalog prior gains[/yellow] ("
                     + "; ".join(n for n in champion.notes if tracking.GAINS_ARTIFACT in n)
                     + ")"))
    # rater severity: the engine policy fits its own on the intake (EnginePolicy.observer_severity);
    # the champion's table rates the training cohort's raters, not the simulated ones
    estimator = MasteryEstimator(graph, catalog, predictor=champion.predictor, gains=gains)
    return engine_estimate(estimator), gains, f"champion version {champion.version}"


def _policy_table(table, title: str, steps: int) -> Table:
    """The comparison as a Rich table: metrics with 95% CIs, then the paired differences."""
    from recommender.evaluation import METRICS

    budget = float(table["hours_budget"].iloc[0])
    reference = table["reference"].iloc[0]
    shown = Table(title=title,
                  caption=f"hours_to_goal: restricted mean over all educators of the hours "
                          f"spent until every goal was mastered, counting {budget:g} h for those "
                          f"who needed more or did not get there in {steps} steps; "
                          f"share_mastered: within {steps} steps"
                          + (f"; d_: policy minus {reference} on the same educators and draws, "
                             f"paired bootstrap 95% CI." if reference else "."))
    digits = {"hours_to_goal": 1, "share_mastered": 3, "gain_per_hour": 4}
    columns = [(m, f"{m} (H={budget:g})" if m == "hours_to_goal" else m) for m in METRICS]
    if reference:
        columns += [(f"d_{m}", f"d_{m}") for m in ("hours_to_goal", "gain_per_hour")]
    shown.add_column("policy", justify="left")
    for _, header in columns:
        shown.add_column(header, justify="right")
    for row in table.to_dict("records"):
        cells = []
        for col, _ in columns:
            d = digits[col.removeprefix("d_")]
            cells.append(f"{row[col]:.{d}f} [{row[f'{col}_ci_low']:.{d}f}, "
                         f"{row[f'{col}_ci_high']:.{d}f}]")
        shown.add_row(row["policy"], *cells)
    return shown


def _simulate_scenario(scenario: str, graph, catalog, policies: list[str], *, steps: int,
                       **kwargs):
    """:func:`recommender.evaluation.simulate_policies` in ``scenario``'s world, with a progress
    bar over every policy's steps."""
    from recommender.evaluation import simulate_policies
    from recommender.simulate import scenario_params

    with progress_bar() as bar:
        task = bar.add_task(f"{scenario}: simulating", total=len(policies) * steps)

        def advance(policy: str, done: int, total: int) -> None:  # noqa: ARG001
            bar.update(task, advance=1, description=f"{scenario}: {policy}")

        return simulate_policies(graph, catalog, policies, steps=steps,
                                 params=scenario_params(scenario), progress=advance, **kwargs)


@app.command()
def simulate(
    policies: Annotated[str, typer.Option(help="Comma-separated policies to compare.")] = (
        "random,popular,weakest-first,pathway-rule,engine-no-model,engine,oracle"
    ),
    educators: Annotated[int, typer.Option(min=1, help="Simulated educators.")] = 500,
    steps: Annotated[int, typer.Option(min=1, help="Monthly steps (the time budget).")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same table).")] = 0,
    hours_budget: Annotated[float | None, typer.Option(
        min=1.0,
        help="Hours budget H of the restricted mean hours to goal (educators who do not reach "
             "their goals count as H); default 4 h per step.")] = None,
    reference: Annotated[str, typer.Option(
        help="Policy the paired differences (d_ columns) are taken against.")] = "engine-no-model",
    scenario: Annotated[list[str] | None, typer.Option(
        help="World to simulate (repeatable, or 'all'): default, steep-gate, flat-gate, "
             "weak-gains, harsh-raters, slow-learners.")] = None,
    out: Annotated[Path, typer.Option(
        help="Folder for each scenario's table (SCENARIO.csv) and plot (SCENARIO.png).")] = Path(
        "data/simulation"),
    data_dir: DataDir = Path("data"),
    model: Annotated[bool, typer.Option(
        help="Engine policy uses the champion mastery model (models:/mastery@champion) and its "
             "learned gain posteriors; --no-model uses the graph-shrunk evidence estimate and "
             "the catalog's prior gains instead.")] = True,
    log_run: Annotated[bool, typer.Option(
        "--mlflow/--no-mlflow", help="Log one MLflow run per scenario (experiment "
                                     "policy-simulation) in the data directory's store.")] = True,
    framework: Annotated[str, typer.Option(
        help="'educator' or a framework file (a tenant's own, e.g. imported from CASE).")
    ] = "educator",
    catalog: Annotated[Path | None, typer.Option(
        help="The framework's activity catalog file (needed for a framework file).")] = None,
    audit: Annotated[bool, typer.Option(help="Also audit outcomes by subgroup (docs/audit.md).")] = False,
    tenant: Annotated[str | None, typer.Option(
        help="Simulate this tenant's active framework and catalog from the store (its uploads; "
             "the default content when it has none).")] = None,
) -> None:
    """Compare recommendation policies in the simulator: hours and share to reach goals."""
    from pipelines.simulation import log_scenario, write_scenario
    from recommender.simulate import resolve_scenarios

    try:
        scenarios = resolve_scenarios(scenario or ["default"])
    except ValueError as exc:
        console.print(f"[red]--scenario: {exc}[/red]")
        raise typer.Exit(2) from None
    graph, cat = _simulation_content(framework, catalog, tenant, data_dir)
    names = [p.strip() for p in policies.split(",") if p.strip()]
    if "graph-rule" in names:  # the policy's name before 2026-11-24
        console.print("[yellow]graph-rule is now called pathway-rule[/yellow] (graph-rule is "
                      "the API's fallback estimator)")
        names = ["pathway-rule" if p == "graph-rule" else p for p in names]
    if reference not in names:
        console.print(f"[yellow]no paired differences[/yellow]: the reference {reference!r} is "
                      "not among the policies (--reference)")
    estimate, gains, engine = _engine_inputs(names, model, data_dir, graph, cat)
    if log_run:
        from pipelines import tracking

        tracking.configure(data_dir)
    for name in scenarios:
        start = time.perf_counter()
        table = _simulate_scenario(
            name, graph, cat, names, n_educators=educators, steps=steps, random_state=seed,
            reference=reference, estimate=estimate, gains=gains, hours_budget=hours_budget)
        csv, png = write_scenario(table, out, name)
        console.print(_policy_table(
            table, f"Scenario {name}: {educators:,} educators, {steps} steps, seed {seed} "
                   "(95% CI)", steps))
        console.print(f"table: {csv}; plot: {png}; simulated in "
                      f"{time.perf_counter() - start:.1f} s")
        if audit:
            cli_audit.simulate_audit(graph, cat, names, name, out, educators=educators,
                                     steps=steps, seed=seed, estimate=estimate, gains=gains)
        if log_run:
            run_id = log_scenario(table, scenario=name, params={
                "educators": educators, "steps": steps, "seed": seed,
                "hours_budget": float(table["hours_budget"].iloc[0]), "engine": engine},
                tags={"command": "pdrec simulate " + " ".join(sys.argv[2:])})
            console.print(f"MLflow run {run_id}")


@app.command("benchmark-kt")
def benchmark_kt(
    data: Annotated[Path, typer.Option(help="KT dataset: a folder of NAME_train/_test files, or one file.")],
    format: Annotated[str, typer.Option("--format", help="'sequences' or 'csv'.")] = "sequences",
    learner_col: Annotated[str, typer.Option(help="CSV: learner id column.")] = "learner",
    skill_col: Annotated[str, typer.Option(help="CSV: skill id column.")] = "skill",
    correct_col: Annotated[str, typer.Option(help="CSV: correctness column (0-1).")] = "correct",
    order_col: Annotated[str, typer.Option(help="CSV: answer order column.")] = "order",
    time_col: Annotated[str | None, typer.Option(help="CSV: timestamp column (instead of order).")] = None,
    models: Annotated[str | None, typer.Option(
        help="Comma-separated models to run (default: lightgbm,lightgbm_graph,lightgbm_counts,"
             "logistic,bkt, and pybkt when its environment is found).")] = None,
    max_learners: Annotated[int | None, typer.Option(min=2, help="First N learners of each file.")] = None,
    folds: Annotated[int, typer.Option(
        min=1, help="Train/valid folds fitted besides the whole training file (1: none).")] = 5,
    n_jobs: Annotated[int, typer.Option(min=1, help="LightGBM threads.")] = 1,
    data_dir: DataDir = Path("data"),
    out: Annotated[Path | None, typer.Option(
        help="Report (default DATA_DIR/kt_benchmark/kt_NAME.md; the tracked report is "
             "experiments/reports/kt_NAME.md).")] = None,
    card: Annotated[Path | None, typer.Option(
        help="Dataset card (TOML: published figures, goal, notes); default DATA/card.toml, "
             "else CARDS_DIR/NAME.toml.")] = None,
    cards_dir: Annotated[Path | None, typer.Option(
        help="Cards of datasets whose folder holds none.")] = Path("experiments/kt_benchmark/cards"),
    published: Annotated[list[str] | None, typer.Option(
        help="Published test AUC as MODEL=AUC (repeatable); replaces the card's.")] = None,
    goal: Annotated[float | None, typer.Option(
        help="Test AUC the engine's model should reach; replaces the card's goal.")] = None,
    notes: Annotated[Path | None, typer.Option(
        help="Markdown appended to the report; replaces the card's notes.")] = None,
    pybkt_python: Annotated[Path | None, typer.Option(
        help="A Python that has pyBKT (default DATA_DIR/kt_benchmark/pybkt-venv); see "
             "experiments/kt_benchmark/README.md.")] = None,
) -> dict:
    """Knowledge-tracing benchmark: the mastery model against BKT, logistic and pyBKT on real data."""
    from pipelines.kt.command import run_command
    from pipelines.kt.config import SetupError

    csv = {"learner_col": learner_col, "skill_col": skill_col, "correct_col": correct_col,
           "order_col": order_col, "time_col": time_col}
    try:
        return run_command(
            data=data, fmt=format, csv_options=csv if format == "csv" else {}, models=models,
            max_learners=max_learners, folds=folds, n_jobs=n_jobs, data_dir=data_dir, out=out,
            card=card, cards_dir=cards_dir, published=published, goal=goal, notes=notes,
            pybkt_python=pybkt_python, command="pdrec benchmark-kt " + " ".join(sys.argv[2:]),
            progress_factory=progress_bar, console=console,
        )
    except SetupError as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None


@app.command()
def repair(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant (default: all).")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run",
                                          help="Report what breaks the contract; change nothing.")] = False,
    out: Annotated[Path | None, typer.Option(
        help="Export file (JSON Lines) for the rows moved aside; default "
             "DATA_DIR/quarantine/repair-<UTC time>.jsonl.")] = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Move aside stored rows that break the field contract (ids, text, times; see
    recommender/fields.py): each is written to an export file, then deleted; counts printed."""
    from pipelines.repair import default_export_path
    from pipelines.repair import repair as run
    from pipelines.serve import project_store

    with project_store(data_dir) as store:
        report = run(store, tenant_id=tenant, dry_run=dry_run,
                     export=out or default_export_path(data_dir))
    counts = report.plan.counts()
    if not counts:
        console.print("no stored row breaks the field contract")
        return
    table = Table(title="Rows breaking the field contract" + (" (dry run)" if dry_run else ""))
    for col in ("table", "field", "rows", "example"):
        table.add_column(col)
    for (name, field), n in sorted(counts.items()):
        first = next(f for f in report.plan.findings if (f.table, f.field) == (name, field))
        table.add_row(name, field, str(n), first.reason)
    console.print(table)
    if dry_run:
        console.print(f"{len(report.plan.findings)} row(s) would be moved aside; nothing changed")
        return
    moved = ", ".join(f"{n} {name}" for name, n in report.deleted.items()
                      if n and name != "profiles")
    console.print(f"moved aside {len(report.plan.findings)} row(s) to {report.export} "
                  f"(deleted: {moved or 'none'}; educators rewritten without a bad profile "
                  f"value or goal: {report.deleted.get('profiles', 0)})")


@app.command()
def serve(
    data_dir: DataDir = Path("data"),
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="uvicorn worker processes.")] = 1,
    reuse_port: Annotated[bool, typer.Option(
        "--reuse-port/--shared-socket",
        help="With several workers: one SO_REUSEPORT listening socket per worker, so the kernel "
             "spreads new connections over them (default), or one socket they all share.")] = True,
) -> None:
    """Run the HTTP API (uvicorn): store migrated on start, champion model loaded if any."""
    from pipelines.serve import serve as run

    run(data_dir, host=host, port=port, workers=workers, reuse_port=reuse_port)


# Command modules register themselves on ``app`` when imported.
from pipelines import (  # noqa: E402, F401
    cli_audit,
    cli_badges,
    cli_crosswalk,
    cli_framework,
    cli_keys,
    cli_model,
    cli_offline,
    cli_roster,
    cli_score,
    cli_teams,
    cli_tenant,
)
from pipelines.cli_train import train  # noqa: E402 (registers `pdrec train`; demo calls it)

if __name__ == "__main__":
    app()
