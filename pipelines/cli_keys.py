"""``pdrec keys``: create (printed once), list and revoke API keys (logic in pipelines/serve.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli_app import DataDir, app, console

keys_app = typer.Typer(help="API keys: create (printed once), list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command("create")
def keys_create(
    tenant: Annotated[str, typer.Option(help="Tenant the key belongs to (created if new).")],
    role: Annotated[str, typer.Option(help="platform, coach, admin or educator.")],
    label: Annotated[str, typer.Option(help="A note to recognise the key by.")] = "",
    educator: Annotated[str | None, typer.Option(
        help="For --role educator: the educator (already in the tenant) the key belongs to; "
             "it reads that educator only.")] = None,
    data_dir: DataDir = Path("data"),
) -> str:
    """Create an API key and print it once; only its SHA-256 hash is stored."""
    from pipelines.serve import project_store

    try:
        with project_store(data_dir) as store:
            secret, record = store.create_key(tenant, role, label, educator_id=educator)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    bound = f", educator {record.educator_id}" if record.educator_id else ""
    console.print(f"key {record.key_id} (tenant {record.tenant_id}, role {record.role}{bound}); "
                  "store it now, it is not shown again:")
    typer.echo(secret)
    return secret


@keys_app.command("list")
def keys_list(
    tenant: Annotated[str | None, typer.Option(help="Only this tenant's keys.")] = None,
    data_dir: DataDir = Path("data"),
) -> None:
    """List API keys (ids, tenants, roles; never the secrets)."""
    from pipelines.serve import project_store

    with project_store(data_dir) as store:
        keys = store.list_keys(tenant)
    table = Table(title="API keys")
    for col in ("key_id", "tenant", "role", "educator", "label", "created", "revoked"):
        table.add_column(col)
    for k in keys:
        table.add_row(k.key_id, k.tenant_id, k.role, k.educator_id or "", k.label,
                      f"{k.created_at:%Y-%m-%d %H:%M}",
                      f"{k.revoked_at:%Y-%m-%d %H:%M}" if k.revoked_at else "")
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key id shown by `pdrec keys list`.")],
    data_dir: DataDir = Path("data"),
) -> None:
    """Revoke a key: it stops working (within PDREC_KEY_CACHE_TTL seconds in running servers)."""
    from pipelines.serve import project_store

    with project_store(data_dir) as store:
        revoked = store.revoke_key(key_id)
    if revoked is None:
        console.print(f"[red]no API key {key_id!r}[/red]")
        raise typer.Exit(1)
    console.print(f"key {key_id} revoked")
