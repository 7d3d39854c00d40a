"""Shared pieces of the ``pdrec`` command line: the Typer app, the console, common options.

Command modules (``pipelines/cli.py``, ``pipelines/cli_keys.py``, ...) register their commands on
``app``; ``pipelines/cli.py`` imports them all, so ``pdrec`` (``pipelines.cli:app``) has every one.
"""

from __future__ import annotations

import sys
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


def champion_for(graph, data_dir: Path, tenant: str | None = None):
    """The champion a command scores ``graph`` with (the tenant's own, else the default one),
    from the data directory's registry; exits 1 without one and 2 when its model card names
    another framework than ``graph`` (the command's --no-model is the way out)."""
    from pipelines import tracking
    from pipelines.model_card import framework_hash

    tracking.configure(data_dir)
    champion = (tracking.load_champion_bundle(tenant) if tenant else None) \
        or tracking.load_champion_bundle()
    if champion is None:
        console.print("[red]no champion model in the registry[/red]: run `make demo` or "
                      "`pdrec train` + `pdrec promote` first, or pass --no-model")
        raise typer.Exit(1)
    trained_on = (champion.card or {}).get("framework", {}).get("hash")
    if trained_on is not None and trained_on != framework_hash(graph):
        console.print(f"[red]the champion (version {champion.version}) was trained on another "
                      f"framework than {graph.graph['name']!r}[/red]: pass --no-model, or train "
                      "and promote a model on this framework")
        raise typer.Exit(2)
    return champion
