"""The ``pdrec`` command line: generate data, inspect content, train, compare, promote, serve.

Every subcommand has ``--help``. Long steps show a Rich progress bar.
"""

from __future__ import annotations

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
console = Console()

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
    from recommender.simulate import generate as simulate, write_synthetic

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
def demo(
    data_dir: DataDir = Path("data"),
    educators: Annotated[int, typer.Option(min=10, help="Synthetic educators to generate.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Run the product end to end on its embedded defaults."""
    info(framework="educator", catalog=None)
    info(framework="leader", catalog=None)
    generate(out=data_dir / "synthetic", educators=educators, months=12, seed=seed)


if __name__ == "__main__":
    app()
