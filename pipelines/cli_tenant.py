"""``pdrec tenant``: a tenant's settings in the store; today its evidence clock
(:mod:`recommender.clock`), the same setting as ``PUT /v1/admin/evidence-clock``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_app import DataDir, app, console
from recommender.clock import DEFAULT_CLOCK, UNITS, EvidenceClock
from recommender.errors import InvalidInputError

tenant_app = typer.Typer(help="Tenant settings: the evidence clock.", no_args_is_help=True)
app.add_typer(tenant_app, name="tenant")


@tenant_app.command("clock")
def tenant_clock(
    tenant: Annotated[str, typer.Argument(help="The tenant.")],
    unit: Annotated[str | None, typer.Option(help=f"Time unit: {', '.join(UNITS)}.")] = None,
    half_life: Annotated[float | None, typer.Option(
        help="Half-life in UNIT: evidence this old weighs half as much.")] = None,
    clear: Annotated[bool, typer.Option(help="Back to the default clock (60 days).")] = False,
    data_dir: DataDir = Path("data"),
) -> None:
    """Show the tenant's evidence clock; set it with --unit and --half-life, or --clear it.

    Setting or clearing marks every educator's stored mastery of the tenant stale (recomputed
    on their next read by the API).
    """
    from pipelines.serve import project_store

    setting = unit is not None or half_life is not None
    if clear and setting:
        console.print("[red]--clear takes no --unit or --half-life[/red]")
        raise typer.Exit(2)
    clock = None
    if setting:
        try:
            clock = EvidenceClock(unit or DEFAULT_CLOCK.unit,
                                  DEFAULT_CLOCK.half_life if half_life is None else half_life)
        except InvalidInputError as exc:
            console.print(f"[red]--{exc.field.replace('_', '-')}: {exc}[/red]")
            raise typer.Exit(2) from None
    with project_store(data_dir) as store:
        if clear or setting:
            stale = store.set_evidence_clock(
                tenant, None if clock in (None, DEFAULT_CLOCK) else (clock.unit, clock.half_life))
            console.print(f"{stale} educator(s) of {tenant} marked stale")
        stored = store.evidence_clock(tenant)
    now = DEFAULT_CLOCK if stored is None else EvidenceClock(*stored)
    typer.echo(f"{tenant}: half-life {now.half_life:g} {now.unit}"
               + (" (default)" if stored is None else ""))
