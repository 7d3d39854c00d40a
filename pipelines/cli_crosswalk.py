"""``pdrec crosswalk``: the framework's crosswalk to Danielson components and InTASC standards
(:mod:`recommender.standards.crosswalk`), shown, and applied to a framework-coded evidence file
(an observation rubric export with component codes) to give ordinary evidence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table

from pipelines.cli_app import app, console, load_content

crosswalk_app = typer.Typer(help="Crosswalks: Danielson components and InTASC standards to "
                                 "competencies.", no_args_is_help=True)
app.add_typer(crosswalk_app, name="crosswalk")

Framework = Annotated[str, typer.Option(help="educator, leader or a framework file.")]
CrosswalkFile = Annotated[Path | None, typer.Option(
    "--crosswalk", help="A crosswalk YAML/JSON (default: the one shipped for the framework).")]


def _load(framework: str, path: Path | None):
    from recommender.errors import InvalidInputError
    from recommender.standards.crosswalk import default_crosswalk, load_crosswalk

    graph, _ = load_content(framework, None)
    try:
        cw = default_crosswalk(graph) if path is None else load_crosswalk(path, graph)
    except (InvalidInputError, FileNotFoundError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    if cw is None:
        console.print(f"[red]framework {graph.graph['name']!r} has no shipped crosswalk: "
                      "give one with --crosswalk[/red]")
        raise typer.Exit(2)
    return graph, cw


@crosswalk_app.command("show")
def show(
    scheme: Annotated[str | None, typer.Option(help="danielson or intasc: its codes, names "
                                                    "and competencies.")] = None,
    framework: Framework = "educator",
    crosswalk: CrosswalkFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Show the crosswalk: per competency its codes, or per code of --scheme its competencies."""
    _, cw = _load(framework, crosswalk)
    if as_json:
        typer.echo(json.dumps(cw.to_dict(), indent=2, ensure_ascii=False))
        return
    if scheme is not None:
        key = cw.scheme_key(scheme)
        if key is None:
            console.print(f"[red]--scheme {scheme!r}: expected one of {', '.join(cw.schemes)}"
                          "[/red]")
            raise typer.Exit(2)
        table = Table(title=cw.schemes[key].title)
        for col in ("code", "name", "competencies"):
            table.add_column(col, overflow="fold")
        for code, name in cw.schemes[key].codes.items():
            table.add_row(code, name, ", ".join(cw.competencies_for(key, code)) or "(none)")
        console.print(table)
        return
    table = Table(title=f"Crosswalk of framework {cw.framework!r}")
    for col in ("competency", *cw.schemes):
        table.add_column(col, overflow="fold")
    mappings = cw.mappings()
    for comp in cw.table["competency_id"].drop_duplicates():
        table.add_row(comp, *(", ".join(mappings[comp].get(k, [])) for k in cw.schemes))
    for comp, why in cw.unmapped.items():
        table.add_row(comp, f"unmapped: {why}", *[""] * (len(cw.schemes) - 1))
    console.print(table)


@crosswalk_app.command("expand")
def expand(
    evidence: Annotated[Path, typer.Argument(help="Evidence CSV whose rows carry a "
                                                  "framework_code (or the code in "
                                                  "competency_id).")],
    out: Annotated[Path, typer.Option(help="Evidence CSV to write (one row per competency).")],
    framework: Framework = "educator",
    crosswalk: CrosswalkFile = None,
    show_rows: Annotated[int, typer.Option("--show", help="How many rejections to list.")] = 20,
) -> None:
    """Expand a framework-coded evidence CSV into evidence on the mapped competencies.

    Every written row passed evidence validation; every input row that did not land is listed
    with its CSV row (1 = the first data row), field and reason. Exit 1 if nothing was written.
    """
    from recommender.evidence import EVIDENCE_COLUMNS, proficient_threshold, validate_evidence
    from recommender.standards.crosswalk import expand_coded_records

    graph, cw = _load(framework, crosswalk)
    if not evidence.exists():
        console.print(f"[red]no such file: {evidence}[/red]")
        raise typer.Exit(2)
    frame = pd.read_csv(evidence, dtype=str, keep_default_na=False)
    records = frame.replace({"": None}).to_dict("records")
    coded = expand_coded_records(records, cw)
    checked = validate_evidence(coded.records, competencies=list(graph),
                                proficient_at=proficient_threshold(graph.graph["scale"]))
    origin = pd.Series(coded.origin, dtype=int)
    problems = pd.concat([
        coded.rejections[["row", "field", "value", "reason"]],
        checked.rejections.assign(row=origin.iloc[checked.rejections["row"]].to_numpy())
        [["row", "field", "value", "reason"]]]).sort_values("row", kind="stable")
    table = Table(title=f"{len(records)} rows read: {len(checked.valid)} evidence rows written, "
                        f"{len(problems)} problems")
    for col in ("row", "field", "value", "reason"):
        table.add_column(col, overflow="fold")
    for row, field, value, reason in problems.head(show_rows).itertuples(index=False):
        table.add_row(str(int(row) + 1), str(field), str(value), str(reason))
    console.print(table)
    if checked.valid.empty:
        console.print("[red]no evidence row to write[/red]")
        raise typer.Exit(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    valid = checked.valid[list(EVIDENCE_COLUMNS)].copy()
    valid["observed_at"] = valid["observed_at"].dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    valid.to_csv(out, index=False)
    console.print(f"{len(valid)} evidence rows -> {out}")
