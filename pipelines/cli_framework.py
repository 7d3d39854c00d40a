"""``pdrec framework``: import a CASE 1.0 package as a framework file, export one as a package.

The mapping and the report live in :mod:`recommender.standards.case`; this module reads and
writes files and prints the report (counts per role, counts per reason, the skipped elements).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.table import Table

from pipelines.cli_app import app, console

framework_app = typer.Typer(help="Frameworks in other formats: CASE 1.0 import and export.",
                            no_args_is_help=True)
app.add_typer(framework_app, name="framework")


def _association_map(pairs: list[str]) -> dict[str, str]:
    """``TYPE=ROLE`` options as a mapping; a malformed one stops with the expected form."""
    mapping = {}
    for pair in pairs:
        atype, sep, role = pair.partition("=")
        if not sep or not atype or not role:
            console.print(f"[red]--map {pair!r}: expected TYPE=ROLE, e.g. isPartOf=hierarchy[/red]")
            raise typer.Exit(2)
        mapping[atype.strip()] = role.strip()
    return mapping


def print_report(report, show: int) -> None:
    """The import report as Rich tables: roles, skipped counts per reason, skipped elements."""
    from recommender.standards.case_report import REASONS

    roles = Table(title="CASE import: what each element became")
    roles.add_column("element.role")
    roles.add_column("count", justify="right")
    for key, count in report.summary().items():
        roles.add_row(key, str(count))
    console.print(roles)
    if not report.skipped:
        console.print("nothing skipped: every item and association was imported")
        return
    reasons = Table(title="Skipped, per reason")
    for col in ("reason", "count", "meaning"):
        reasons.add_column(col, justify="right" if col == "count" else "left")
    for reason, count in report.counts_by_reason().items():
        reasons.add_row(reason, str(count), REASONS[reason])
    console.print(reasons)
    if show <= 0:
        return
    detail = Table(title=f"Skipped elements (first {min(show, len(report.skipped))} "
                         f"of {len(report.skipped)})")
    for col in ("element", "index", "identifier", "reason", "detail"):
        detail.add_column(col, overflow="fold")
    for s in report.skipped[:show]:
        detail.add_row(s.element, "" if s.index is None else str(s.index), s.identifier,
                       s.reason, s.detail)
    console.print(detail)


@framework_app.command("import-case")
def import_case_command(
    package: Annotated[Path, typer.Argument(help="A CASE 1.0 CFPackage JSON file.")],
    out: Annotated[Path, typer.Option(help="Framework file to write (.yaml/.yml or .json).")],
    map_: Annotated[list[str], typer.Option(
        "--map", help="Give an association type a role: TYPE=ROLE (roles: hierarchy, "
                      "prerequisite, prerequisite-reversed, level, skip). Repeatable.")] = [],  # noqa: B006
    report_out: Annotated[Path | None, typer.Option(
        "--report", help="Also write the full report as JSON here.")] = None,
    show: Annotated[int, typer.Option(help="How many skipped elements to list.")] = 20,
) -> None:
    """Import a CASE package as a framework file and print what was skipped and why."""
    from recommender.graph import build_framework
    from recommender.standards.case import read_case

    if not package.exists():
        console.print(f"[red]no such file: {package}[/red]")
        raise typer.Exit(2)
    try:
        result = read_case(package, association_map=_association_map(map_))
    except ValueError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    print_report(result.report, show)
    if report_out is not None:
        report_out.write_text(json.dumps(result.report.to_dict(), indent=2, ensure_ascii=False),
                              encoding="utf-8")
    if result.framework is None:
        console.print("[red]nothing could be imported: no CFItem became a competency[/red]")
        raise typer.Exit(1)
    graph = build_framework(result.framework)  # what `pdrec info --framework` will load
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps(result.framework, indent=2, ensure_ascii=False), encoding="utf-8")
    else:
        out.write_text(yaml.safe_dump(result.framework, sort_keys=False, allow_unicode=True),
                       encoding="utf-8")
    console.print(f"framework {graph.graph['name']!r}: {graph.number_of_nodes()} competencies, "
                  f"{graph.number_of_edges()} prerequisites, {len(graph.graph['domains'])} "
                  f"domains -> {out}")


@framework_app.command("export-case")
def export_case_command(
    out: Annotated[Path, typer.Option(help="CFPackage JSON file to write.")],
    framework: Annotated[str, typer.Option(help="'educator', 'leader' or a YAML/JSON file.")]
    = "educator",
    base_uri: Annotated[str | None, typer.Option(
        help="Base of the exported URIs (your CASE endpoint).")] = None,
    schema: Annotated[Path | None, typer.Option(
        help="A CFPackage JSON Schema to validate the package against before writing.")] = None,
) -> None:
    """Export a framework as a CASE 1.0 CFPackage (JSON)."""
    from recommender.graph import default_framework, load_framework
    from recommender.graph.framework import read_mapping
    from recommender.standards.case_export import DEFAULT_BASE_URI, export_case, validate_package

    if framework in ("educator", "leader"):
        graph, document = default_framework(framework), {}
    else:
        path = Path(framework)
        if not path.exists():
            console.print(f"[red]no such framework file: {path}[/red]")
            raise typer.Exit(2)
        graph = load_framework(path)
        source = read_mapping(path).get("source")
        document = source if isinstance(source, dict) else {}
    package = export_case(graph, document=document, base_uri=base_uri or DEFAULT_BASE_URI)
    if schema is not None:
        errors = validate_package(package, json.loads(schema.read_text(encoding="utf-8")))
        if errors:
            console.print(f"[red]the package does not validate against {schema}:[/red]")
            for line in errors[:20]:
                console.print(f"  {line}")
            raise typer.Exit(1)
        console.print(f"valid against {schema.name}")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(package, indent=2, ensure_ascii=False), encoding="utf-8")
    console.print(f"{len(package['CFItems'])} CFItems, {len(package['CFAssociations'])} "
                  f"CFAssociations -> {out}")
