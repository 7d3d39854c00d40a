"""``pdrec model``: export a registered model as a bundle directory, inspect one (logic in
:mod:`pipelines.model_bundle`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from pipelines.cli_app import DataDir, app, console, print_mapping

model_app = typer.Typer(help="Move a model without the registry: export a bundle, inspect one.",
                        no_args_is_help=True)
app.add_typer(model_app, name="model")


@model_app.command("export")
def model_export(
    version: Annotated[str, typer.Argument(
        help="A registered version of 'mastery', or `champion` (the served one).")],
    out: Annotated[Path, typer.Option(help="New (or empty) directory to write the bundle to.")],
    tenant: Annotated[str | None, typer.Option(
        help="With `champion`: that tenant's own champion (alias champion-TENANT).")] = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """Write VERSION (or the champion) with its tables, card and params to a bundle directory
    that `PDREC_MODEL_DIR` serves and `pdrec model inspect` reads, no registry needed."""
    from pipelines import model_bundle, tracking

    if tenant is not None and version != "champion":
        console.print(f"[red]--tenant goes with `champion`[/red], not version {version!r}: "
                      "a version number names one model whoever it serves")
        raise typer.Exit(2)
    tracking.configure(data_dir)
    try:
        if version == "champion":
            alias = tracking.tenant_alias(tenant)
            source = tracking.load_champion_bundle(tenant)
            if source is None:
                console.print(f"[red]no model holds the alias {alias!r}[/red]: "
                              "`pdrec promote VERSION"
                              + (f" --tenant {tenant}" if tenant else "") + "` first")
                raise typer.Exit(1)
        else:
            alias, source = None, version
        manifest = model_bundle.export_bundle(source, out, alias=alias)
    except (LookupError, ValueError) as exc:  # no such version, bad tenant id, out not empty
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    console.print(f"mastery version {manifest.version} (run {manifest.run_id}) exported to "
                  f"{out}: {len(manifest.files)} files; serve it with PDREC_MODEL_DIR={out}")
    for note in manifest.notes:
        console.print(f"[yellow]note:[/yellow] {note}")


@model_app.command("inspect")
def model_inspect(
    bundle: Annotated[Path, typer.Argument(help="A bundle directory (`pdrec model export`).")],
) -> None:
    """Verify a bundle (every file against its sha256) and print its manifest and model card."""
    from pipelines import model_bundle
    from pipelines.model_card import CARD_ARTIFACT, card_summary, served_card

    try:
        manifest = model_bundle.verify_bundle(bundle)
        card = model_bundle.read_card(bundle)
    except model_bundle.BundleError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    print_mapping(f"Bundle {bundle} (verified)", {
        "model version": manifest.version, "run": manifest.run_id,
        "trained at": manifest.trained_at or "-", "exported at": manifest.exported_at,
        "alias": manifest.alias or "-", "files": len(manifest.files),
        "tables": ", ".join(sorted(name for name in manifest.files
                                   if name.endswith(".csv"))) or "none"})
    for note in manifest.notes:
        console.print(f"[yellow]note:[/yellow] {note}")
    if card is None:
        console.print(f"no {CARD_ARTIFACT}: the run logged no model card")
        return
    try:
        console.print(f"card: {card_summary(card)}")
    except (KeyError, TypeError, AttributeError):  # a card of an older shape: the table says it
        console.print("card: (no one-line summary for this card's shape)")
    short = served_card(card, manifest.trained_at)
    print_mapping("Model card", {k: short[k] for k in ("framework", "data", "time_range",
                                                       "split", "metrics")})
