"""``pdrec teams``: a tenant's teams (docs/teams.md): put one, list them, rank a team's shared
next steps, and seed teams from a OneRoster set's classes or schools.

``put``, ``list`` and ``from-roster`` write and read the project store as ``PUT``/``GET
/v1/teams`` do. ``recommend`` starts the API app in this process (the champion model as the
server serves it, unless ``PDREC_LOAD_MODEL=false``) and ranks with
:func:`api.routers.teams.team_steps`, the code behind ``POST /v1/teams/{id}/recommendations``, so
both answer alike; nothing is written to the recommendation log (no one was shown a step).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from pipelines.cli_app import DataDir, app, console

teams_app = typer.Typer(help="Teams: put, list, recommend shared steps, seed from OneRoster.",
                        no_args_is_help=True)
app.add_typer(teams_app, name="teams")

Tenant = Annotated[str, typer.Option(help="The tenant whose team it is.")]
TeamArg = Annotated[str, typer.Argument(help="The team id (1-128 characters, no '/').")]


def _check_ids(field: str, values: list[str]) -> None:
    """Exit 2 naming the first value that is not an addressable id (as the API would)."""
    from recommender.fields import ADDRESSABLE_ID, problems

    why = problems(pd.Series(values, dtype=object), field, ADDRESSABLE_ID).dropna()
    if len(why):
        console.print(f"[red]{field} {values[why.index[0]]!r}: {why.iloc[0]}[/red]")
        raise typer.Exit(2)


@teams_app.command("put")
def teams_put(
    team: TeamArg,
    tenant: Tenant,
    member: Annotated[list[str], typer.Option(
        "--member", "-m", help="An educator id of the tenant (repeat for each member).")],
    name: Annotated[str, typer.Option(help="The team's name (at most 64 characters).")] = "",
    data_dir: DataDir = Path("data"),
) -> None:
    """Create or replace a team's name and members (repeats are dropped; members without an
    educator record yet are kept and reported when the team is ranked)."""
    from pipelines.serve import project_store
    from recommender.fields import problems
    from recommender.standards.roster_teams import MAX_MEMBERS, TEAM_NAME

    _check_ids("TEAM", [team])
    members = list(dict.fromkeys(m.strip() for m in member))
    _check_ids("--member", members)
    if len(members) > MAX_MEMBERS:
        console.print(f"[red]--member: {len(members)} members; at most {MAX_MEMBERS}[/red]")
        raise typer.Exit(2)
    why = problems(pd.Series([name.strip()], dtype=object), "--name", TEAM_NAME).dropna()
    if len(why):
        console.print(f"[red]{why.iloc[0]}[/red]")
        raise typer.Exit(2)
    with project_store(data_dir) as store:
        store.ensure_tenant(tenant)
        rec, created = store.put_team(tenant, team, name=name.strip(), members=members)
    console.print(f"team {rec.team_id} of {tenant} {'created' if created else 'replaced'}: "
                  f"{len(rec.members)} member(s)")


@teams_app.command("list")
def teams_list(tenant: Tenant, data_dir: DataDir = Path("data")) -> None:
    """The tenant's teams, in id order: name, members, last change."""
    from pipelines.serve import project_store

    with project_store(data_dir) as store:
        teams, total = store.list_teams(tenant, limit=10_000)
    table = Table(title=f"Teams of {tenant} ({total})")
    for col in ("team", "name", "members", "n", "updated"):
        table.add_column(col, justify="right" if col == "n" else "left", overflow="fold")
    for t in teams:
        shown = ", ".join(t.members[:6]) + (f", ... ({len(t.members) - 6} more)"
                                            if len(t.members) > 6 else "")
        table.add_row(t.team_id, t.name, shown, str(len(t.members)),
                      f"{t.updated_at:%Y-%m-%d %H:%M}")
    console.print(table)


def _steps_table(team: str, steps) -> Table:  # noqa: ANN001 - list of TeamStep
    table = Table(title=f"Shared next steps for {team}")
    for col in ("#", "activity", "title", "format", "hours", "team gain", "per hour",
                "not ready", "mastered"):
        table.add_column(col, overflow="fold",
                         justify="right" if col in ("#", "hours", "team gain", "per hour")
                         else "left")
    for i, s in enumerate(steps, 1):
        table.add_row(str(i), s.activity_id, s.title, s.format, f"{s.hours:g}",
                      f"{s.team_gain:.3f}", f"{s.gain_per_hour:.4f}",
                      ", ".join(s.named("not_ready")) or "-", ", ".join(s.named("mastered")) or "-")
    return table


def _members_table(step) -> Table:  # noqa: ANN001 - a TeamStep
    table = Table(title=f"Members on {step.activity_id}", title_justify="left")
    for col in ("member", "expected gain", "readiness", "status"):
        table.add_column(col, justify="left" if col in ("member", "status") else "right")
    for m in step.members:
        status = m.status + (f" ({m.weak_prerequisite} at {m.weak_prerequisite_p:.2f})"
                             if m.status == "not_ready" and m.weak_prerequisite else "")
        table.add_row(m.educator_id, f"{m.expected_gain:.3f}", f"{m.readiness:.2f}", status)
    return table


def _rank(data_dir: Path, tenant: str, team_id: str, request):  # noqa: ANN001, ANN202
    """(team, found records, steps) from the API's own code, in this process."""
    from fastapi.testclient import TestClient

    from api.routers.teams import team_steps
    from api.settings import Settings
    from pipelines.app import create_app

    app_ = create_app(Settings(data_dir=data_dir))
    with TestClient(app_):  # runs the app's start-up: store, served model, content
        services = app_.state.services
        team = services.store.get_team(tenant, team_id)
        if team is None:
            return None, {}, []
        content = services.content.for_tenant(tenant)
        records, _, steps, _ = team_steps(services, tenant, team, content,
                                          pd.Timestamp.now(tz="UTC"), request)
    return team, records, steps


@teams_app.command("recommend")
def teams_recommend(
    team: TeamArg,
    tenant: Tenant,
    budget: Annotated[float | None, typer.Option(
        help="Hour budget for the whole list (none: no limit).")] = None,
    k: Annotated[int, typer.Option(min=1, max=20, help="How many shared steps.")] = 3,
    objective: Annotated[str | None, typer.Option(
        help="What steps are ranked by, as the API's objective (recommender.teams.OBJECTIVES; "
             "default: the ranker's own, as the API's).")] = None,
    members: Annotated[bool, typer.Option(
        help="Also print each member's gain, readiness and status per step.")] = True,
    data_dir: DataDir = Path("data"),
) -> None:
    """Rank the team's shared next steps, as POST /v1/teams/{id}/recommendations does."""
    from recommender.errors import InvalidInputError
    from recommender.teams import TeamRequest

    if budget is not None and not 0 < budget <= 10_000:
        console.print(f"[red]--budget {budget:g}: expected hours above 0 and at most 10000[/red]")
        raise typer.Exit(2)
    try:
        request = TeamRequest(k=k, max_hours=budget,
                              **({} if objective is None else {"objective": objective}))
    except InvalidInputError as exc:  # k and budget are checked above: the objective
        console.print(f"[red]--objective {objective!r}: expected {exc.expected}[/red]")
        raise typer.Exit(2) from None
    found, records, steps = _rank(data_dir, tenant, team, request)
    if found is None:
        console.print(f"[red]no team {team!r} in tenant {tenant!r} (see `pdrec teams list`)"
                      "[/red]")
        raise typer.Exit(1)
    missing = [m for m in found.members if m not in records]
    if missing:
        console.print(f"no educator record in {tenant}, left out: {', '.join(missing)}")
    if not steps:
        console.print("no shared step to propose" + (f" within {budget:g} h" if budget else ""))
        return
    console.print(_steps_table(team, steps))
    for i, s in enumerate(steps, 1):
        console.print(f"{i}. {s.reason}")
        if members:
            console.print(_members_table(s))


@teams_app.command("from-roster")
def teams_from_roster(
    roster: Annotated[Path, typer.Argument(help="A folder or a zip of OneRoster CSV files.")],
    tenant: Tenant,
    by: Annotated[str, typer.Option(
        help="class: a team per class, its teachers; school: a team per school, its staff.")]
    = "class",
    id_field: Annotated[str, typer.Option(
        help="users.csv column the educator ids come from, as `pdrec roster import`.")]
    = "sourcedId",
    dry_run: Annotated[bool, typer.Option(help="Read and report only; write nothing.")] = False,
    data_dir: DataDir = Path("data"),
) -> None:
    """Seed teams (ids class-<sourcedId> or school-<sourcedId>) from a OneRoster set, read with
    the OneRoster importer; a team of the same id is replaced. Members are educator ids: import
    the educators with `pdrec roster import` (same --id-field) for them to be ranked."""
    from pipelines.cli_roster import check_roster_args
    from pipelines.serve import project_store
    from recommender.standards.oneroster import roster_educators
    from recommender.standards.oneroster_files import read_roster
    from recommender.standards.roster_teams import KINDS, roster_teams

    if by not in KINDS:
        console.print(f"[red]--by {by!r}: expected one of {', '.join(KINDS)}[/red]")
        raise typer.Exit(2)
    check_roster_args(id_field, roster, "ROSTER")
    try:
        files = read_roster(roster)
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    result = roster_teams(files, roster_educators(files, id_field=id_field).educators, by=by)
    created = 0
    if not dry_run and len(result.teams):
        with project_store(data_dir) as store:
            store.ensure_tenant(tenant)
            for row in result.teams.itertuples(index=False):  # one store write per team
                created += store.put_team(tenant, row.team_id, name=row.name,
                                          members=row.members)[1]
    table = Table(title=f"Teams from {roster.name} (by {by})")
    for col in ("team", "name", "n", "members"):
        table.add_column(col, overflow="fold", justify="right" if col == "n" else "left")
    for row in result.teams.itertuples(index=False):
        table.add_row(row.team_id, row.name, str(len(row.members)), ", ".join(row.members[:8])
                      + (" ..." if len(row.members) > 8 else ""))
    console.print(table)
    console.print(", ".join(f"{k} {v}" for k, v in result.counts.items()))
    for row in result.rejections.itertuples(index=False):
        console.print(f"not a team: {row.file} {row.sourced_id!r} {row.field}: {row.reason}")
    if dry_run:
        console.print("dry run: nothing written")
    else:
        console.print(f"{created} team(s) created, {len(result.teams) - created} replaced")
