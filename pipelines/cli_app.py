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
