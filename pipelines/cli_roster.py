"""``pdrec roster import``: a OneRoster CSV set (folder or zip) -> a tenant's educators.

The reading, mapping and store write live in :mod:`recommender.standards.roster_import`; this
module opens the project store and prints the counts, the file notes and the rejection table.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli_app import DataDir, app, console

roster_app = typer.Typer(help="Rosters: OneRoster 1.1/1.2 CSV import.", no_args_is_help=True)
app.add_typer(roster_app, name="roster")


def check_roster_args(id_field: str, path: Path, name: str) -> None:
    """Exit 2 naming the argument when ``--id-field`` is not a OneRoster id column or the roster
    ``path`` (the argument ``name``) does not exist (``pdrec roster import`` and
    ``pdrec teams from-roster``)."""
    from recommender.standards.oneroster import ID_FIELDS

    if id_field not in ID_FIELDS:
        console.print(f"[red]--id-field {id_field!r}: expected one of {', '.join(ID_FIELDS)}[/red]")
        raise typer.Exit(2)
    if not path.exists():
        console.print(f"[red]{name} {str(path)!r} does not exist[/red]")
        raise typer.Exit(2)


def print_roster_report(result, show: int) -> None:
    """Counts, file notes, rejections per file and reason, and the first ``show`` rejections."""
    counts = Table(title="OneRoster import")
    counts.add_column("what")
    counts.add_column("count", justify="right")
    for key, value in result.counts().items():
        counts.add_row(key, str(value))
    console.print(counts)
    for file, note in result.roster.notes:
        console.print(f"note: {file}: {note}")
    rej = result.rejections
    if rej.empty:
        console.print("no row rejected")
        return
    per = Table(title="Rows not used, per file and reason")
    for col in ("file", "field", "reason", "rows"):
        per.add_column(col, justify="right" if col == "rows" else "left", overflow="fold")
    general = rej.assign(reason=rej["reason"].str.replace(r"line \d+", "line N", regex=True))
    for (file, field, reason), n in general.groupby(["file", "field", "reason"]).size() \
            .sort_values(ascending=False).head(max(show, 10)).items():
        per.add_row(file, field, reason, str(n))
    console.print(per)
    if show <= 0:
        return
    detail = Table(title=f"Rows not used (first {min(show, len(rej))} of {len(rej)})")
    for col in ("file", "line", "sourcedId", "field", "value", "reason"):
        detail.add_column(col, overflow="fold")
    for row in rej.head(show).itertuples(index=False):
        detail.add_row(row.file, str(row.line), str(row.sourced_id), str(row.field),
                       str(row.value)[:60], str(row.reason))
    console.print(detail)


@roster_app.command("import")
def roster_import(
    path: Annotated[Path, typer.Argument(help="A folder or a zip of OneRoster CSV files.")],
    tenant: Annotated[str, typer.Option(help="The tenant whose educators these are.")],
    id_field: Annotated[str, typer.Option(
        help="users.csv column that becomes the educator id: sourcedId, username, email or "
             "identifier (use the one your xAPI statements name educators by).")] = "sourcedId",
    dry_run: Annotated[bool, typer.Option(
        help="Read and check only; write nothing.")] = False,
    show: Annotated[int, typer.Option(help="How many rejected rows to list.")] = 20,
    data_dir: DataDir = Path("data"),
) -> None:
    """Import staff users as educators (role, school, grade band) and report every row not
    used with its file, line and reason. Delta files update without duplicating."""
    from pipelines.serve import project_store
    from recommender.standards.roster_import import import_roster

    check_roster_args(id_field, path, "PATH")
    try:
        with project_store(data_dir) as store:
            result = import_roster(store, tenant, path, id_field=id_field, dry_run=dry_run)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    print_roster_report(result, show)
    if dry_run:
        console.print("dry run: nothing written")
