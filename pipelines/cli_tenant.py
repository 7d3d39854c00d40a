"""``pdrec tenant``: a tenant's settings in the store: its evidence clock
(:mod:`recommender.clock`, as ``PUT /v1/admin/evidence-clock``) and its own framework and
catalog versions (:mod:`recommender.tenant_content`, as ``PUT /v1/admin/framework`` and
``/v1/admin/catalog``; docs/tenants.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_app import DataDir, app, console
from recommender.clock import DEFAULT_CLOCK, UNITS, EvidenceClock
from recommender.errors import InvalidInputError

tenant_app = typer.Typer(help="Tenant settings: the evidence clock, the framework and catalog.",
                         no_args_is_help=True)
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


DefaultFramework = Annotated[str, typer.Option(
    "--default-framework", envvar="PDREC_FRAMEWORK",
    help="The deployment's default framework ('educator', 'leader' or a file), as the API's.")]
DefaultCatalog = Annotated[Path | None, typer.Option(
    "--default-catalog", envvar="PDREC_CATALOG",
    help="The deployment's default catalog file (none: the shipped one), as the API's.")]


def _mapping(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        old, sep, new = pair.partition("=")
        if not sep or not old.strip() or not new.strip():
            console.print(f"[red]--map {pair!r}: expected OLD=NEW (competency ids)[/red]")
            raise typer.Exit(2)
        out[old.strip()] = new.strip()
    return out


def _from_case(package: dict) -> dict:
    """A CASE CFPackage read as a framework file: imported (``import_case``), its report's
    counts printed; exit 2 when no competency could be imported."""
    from recommender.standards.case import import_case

    imported = import_case(package)
    skipped = imported.report.counts_by_reason()
    console.print(f"CASE package: {imported.report.summary()}"
                  + (f"; skipped {skipped} (pdrec framework import-case --report lists them)"
                     if skipped else "; nothing skipped"))
    if imported.framework is None:
        console.print("[red]no competency could be imported from the CASE package: nothing "
                      "stored[/red]")
        raise typer.Exit(2)
    return imported.framework


def _upload(tenant: str, data_dir: Path, framework_name: str, catalog_file: Path | None,
            **documents) -> None:
    """Check and store the documents as new versions; print the report (exit 2 on a problem)."""
    import yaml

    from pipelines.serve import project_store
    from recommender.graph.framework import read_mapping
    from recommender.tenant_content import ContentError, default_content, resolve_content, upload

    try:
        read = {k: None if v is None else read_mapping(v) for k, v in documents.items()
                if k != "mapping"}
    except (OSError, ValueError, yaml.YAMLError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if read.get("framework") is not None and "CFItems" in read["framework"]:
        read["framework"] = _from_case(read["framework"])
    with project_store(data_dir) as store:
        current = resolve_content(store, tenant, default_content(framework_name, catalog_file))
        try:
            report = upload(store, tenant, current, mapping=documents.get("mapping"),
                            by="cli", **read)
        except ContentError as exc:
            console.print(f"[red]{exc.field}: nothing stored[/red]")
            for p in exc.problems:
                console.print(f"  {p}")
            console.print(f"expected {exc.expected}")
            raise typer.Exit(2) from None
    versions = ", ".join(f"{k} version {v}" for k, v in sorted(report.versions.items()))
    typer.echo(f"{tenant}: stored {versions} (framework hash {report.framework_hash}); "
               f"{report.stale_educators} educator(s) marked stale")
    for r in report.retired:
        fate = (f"counts for {r['mapped_to']}" if r["mapped_to"] else
                "kept, left out of estimates")
        typer.echo(f"  retired {r['competency_id']}: {r['records']} record(s) of "
                   f"{r['educators']} educator(s), {fate}")


@tenant_app.command("framework")
def tenant_framework(
    tenant: Annotated[str, typer.Argument(help="The tenant.")],
    file: Annotated[Path, typer.Argument(help="The framework (YAML/JSON, e.g. from pdrec "
                                              "framework import-case), or a CASE 1.0 "
                                              "CFPackage JSON, imported on the way.")],
    catalog: Annotated[Path | None, typer.Option(
        help="A catalog file to store with it (needed when the tenant's catalog targets "
             "competencies the new framework drops).")] = None,
    map_: Annotated[list[str] | None, typer.Option(
        "--map", help="OLD=NEW: evidence on retired id OLD counts for NEW (repeatable).")] = None,
    default_framework: DefaultFramework = "educator",
    default_catalog: DefaultCatalog = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Store a new version of the tenant's framework (and catalog), checked as the API checks
    it; print the evidence on competencies it retires (kept, mapped or left out)."""
    _upload(tenant, data_dir, default_framework, default_catalog, framework=file,
            catalog=catalog, mapping=_mapping(map_ or []))


@tenant_app.command("catalog")
def tenant_catalog(
    tenant: Annotated[str, typer.Argument(help="The tenant.")],
    file: Annotated[Path, typer.Argument(help="The catalog (YAML/JSON).")],
    default_framework: DefaultFramework = "educator",
    default_catalog: DefaultCatalog = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Store a new version of the tenant's catalog, checked against the tenant's framework."""
    _upload(tenant, data_dir, default_framework, default_catalog, catalog=file)


@tenant_app.command("content")
def tenant_content(
    tenant: Annotated[str, typer.Argument(help="The tenant.")],
    data_dir: DataDir = Path("data"),
) -> None:
    """List the tenant's framework and catalog versions (* active; none: the default)."""
    from pipelines.serve import project_store

    with project_store(data_dir) as store:
        for kind in ("framework", "catalog"):
            versions = store.content_versions(tenant, kind)
            if not any(v.active for v in versions):
                typer.echo(f"{kind}: default")
            for v in versions:
                typer.echo(f"{kind} {'*' if v.active else ' '}{v.version} {v.content_hash} "
                           f"{v.uploaded_at:%Y-%m-%d %H:%M} {v.uploaded_by}")
