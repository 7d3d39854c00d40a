"""The ``pdrec`` command line: generate data, inspect content, train, compare, promote, serve.

Every subcommand has ``--help``. Long steps show a Rich progress bar.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

app = typer.Typer(
    help="pdrec: adaptive, competency-based professional-learning recommendations for educators.",
    no_args_is_help=True,
    add_completion=False,
)
console = Console(width=None if sys.stdout.isatty() else 120)

DataDir = Annotated[Path, typer.Option(help="Project data directory (datasets, MLflow, store).")]


def progress_bar() -> Progress:
    """A Rich progress bar used by every long step."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


def print_mapping(title: str, mapping: dict) -> None:
    """Print a flat mapping (nested dicts inline) as a two-column table."""
    table = Table(title=title, show_header=False)
    for key, value in mapping.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        table.add_row(str(key), str(value))
    console.print(table)


def load_content(framework: str, catalog: Path | None):
    """The framework (a default name or a file) and its catalog (the default or a file)."""
    from recommender.catalog import default_catalog, load_catalog
    from recommender.graph import default_framework, load_framework

    graph = (
        default_framework(framework)
        if framework in ("educator", "leader")
        else load_framework(Path(framework))
    )
    if catalog is not None:
        return graph, load_catalog(catalog, graph)
    if graph.graph["name"] == "educator":
        return graph, default_catalog(graph)
    return graph, None


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
def train(
    config: Annotated[Path, typer.Option(help="Training config (experiments/configs/NAME.yaml).")],
    data_dir: DataDir = Path("data"),
    register: Annotated[bool, typer.Option(help="Register the model as a new version.")] = True,
) -> dict:
    """Build features, fit, evaluate on held-out educators, and log one MLflow run."""
    from pipelines import tracking
    from pipelines.config import load_config
    from pipelines.training import train as run_training

    cfg = load_config(config)
    uri = tracking.configure(data_dir)
    steps = ["loading data", "building features", "fitting", "evaluating", "logging to MLflow"]
    with progress_bar() as bar:
        task = bar.add_task(f"train {cfg.name}", total=len(steps))

        def step(message: str) -> None:
            done = next((i for i, s in enumerate(steps) if message.startswith(s[:7])), None)
            if done is not None:
                bar.update(task, completed=done)
            bar.console.log(message)

        result = run_training(cfg, data_dir, step)
        step("logging to MLflow")
        logged = tracking.log_training(result, register=register)
        bar.update(task, completed=len(steps))
    metrics = {k: round(v, 4) for k, v in result.metrics.items()}
    print_mapping(f"{cfg.name}: held-out educators (split {result.split_id})", metrics)
    console.print(f"run {logged['run_id']} in {uri}; registered version {logged['version']}")
    return logged


@app.command()
def compare(
    data_dir: DataDir = Path("data"),
    split: Annotated[str | None, typer.Option(help="Split id (default: the latest run's).")] = None,
):
    """Print the runs that share a split, best AUC first."""
    from pipelines import tracking

    tracking.configure(data_dir)
    table = tracking.compare_runs(split)
    if table.empty:
        console.print("no runs yet: train one with `pdrec train --config ...`")
        raise typer.Exit(1)
    out = Table(title=f"Mastery models on split {table.attrs['split_id']} (held-out educators)")
    for col in table.columns:
        out.add_column(col, justify="left" if col in ("run", "model") else "right")
    for row in table.itertuples(index=False):
        out.add_row(*[f"{v:.4f}" if isinstance(v, float) else str(v) for v in row])
    console.print(out)
    return table


@app.command()
def promote(
    version: Annotated[str, typer.Argument(help="Registered version of 'mastery' to promote.")],
    data_dir: DataDir = Path("data"),
) -> None:
    """Set the 'champion' alias of the 'mastery' model to VERSION."""
    from pipelines import tracking

    tracking.configure(data_dir)
    tracking.promote(version)
    console.print(f"mastery version {version} is now the champion")


@app.command()
def demo(
    data_dir: DataDir = Path("data"),
    educators: Annotated[int, typer.Option(min=10, help="Synthetic educators to generate.")] = 3000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Run the product end to end on its embedded defaults."""
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


@app.command()
def simulate(
    policies: Annotated[str, typer.Option(help="Comma-separated policies to compare.")] = (
        "random,popular,weakest-first,graph-rule,engine,oracle"
    ),
    educators: Annotated[int, typer.Option(min=1, help="Simulated educators.")] = 500,
    steps: Annotated[int, typer.Option(min=1, help="Monthly steps (the budget).")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same table).")] = 0,
    out: Annotated[Path, typer.Option(help="PNG bar chart to write.")] = Path("data/simulation.png"),
    data_dir: DataDir = Path("data"),
    model: Annotated[bool, typer.Option(
        help="Engine policy uses the champion mastery model (models:/mastery@champion); "
             "--no-model uses the graph-shrunk evidence estimate instead.")] = True,
) -> None:
    """Compare recommendation policies in the simulator: hours and share to reach goals."""
    from recommender.policy_sim import METRICS, model_mastery, plot_policies, simulate_policies

    graph, cat = load_content("educator", None)
    names = [p.strip() for p in policies.split(",") if p.strip()]
    estimate = None
    if model and "engine" in names:
        from pipelines import tracking

        tracking.configure(data_dir)
        if tracking.champion_version() is None:
            console.print("[red]no champion model in the registry[/red]: run `make demo` or "
                          "`pdrec train` + `pdrec promote` first, or pass --no-model")
            raise typer.Exit(1)
        predictor = tracking.load_champion()
        estimate = model_mastery(predictor)
        console.print(f"engine policy: champion mastery model version {predictor.version}")
    elif "engine" in names:
        console.print("engine policy: graph-shrunk evidence estimate (--no-model)")
    start = time.perf_counter()
    with console.status(f"simulating {len(names)} policies on {educators:,} educators"):
        table = simulate_policies(graph, cat, names, n_educators=educators, steps=steps,
                                  random_state=seed, estimate=estimate)
    path = plot_policies(table, out)
    elapsed = time.perf_counter() - start
    shown = Table(title=f"Policies: {educators:,} educators, {steps} steps, seed {seed} (95% CI)")
    shown.add_column("policy", justify="left")
    for m in METRICS:
        shown.add_column(m, justify="right")
    for row in table.itertuples(index=False):
        cells = []
        for m in METRICS:
            v, lo, hi = (getattr(row, m), getattr(row, f"{m}_ci_low"), getattr(row, f"{m}_ci_high"))
            digits = 1 if m == "hours_to_goal" else 3 if m == "share_mastered" else 4
            cells.append(f"{v:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]")
        shown.add_row(row.policy, *cells)
    console.print(shown)
    console.print(f"plot: {path}")
    console.print(f"simulated in {elapsed:.1f} s")


if __name__ == "__main__":
    app()
