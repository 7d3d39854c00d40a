"""``pdrec badges``: Open Badges 2.0/3.0 files to micro-credential evidence
(:mod:`recommender.standards.openbadges`), the file counterpart of ``POST /v1/evidence/badges``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli_app import app, console, load_content

badges_app = typer.Typer(help="Open Badges: assertions and credentials to micro-credential "
                              "evidence.", no_args_is_help=True)
app.add_typer(badges_app, name="badges")


def _read(paths: list[Path]) -> tuple[list, list[str]]:
    """Badges of the files (a file holds one badge or a JSON array), and where each came from."""
    badges, where = [], []
    for path in paths:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            console.print(f"[red]{path}: not readable as JSON: {exc}[/red]")
            raise typer.Exit(2) from None
        items = data if isinstance(data, list) else [data]
        badges += items
        where += [path.name if len(items) == 1 else f"{path.name}[{i}]"
                  for i in range(len(items))]
    return badges, where


@badges_app.command("import")
def import_badges(
    files: Annotated[list[Path], typer.Argument(help="Badge JSON files (one badge or an array "
                                                     "of badges each).")],
    out: Annotated[Path, typer.Option(help="Evidence JSON Lines file to write.")],
    educator: Annotated[str | None, typer.Option(help="The educator of every badge whose "
                                                      "recipient no --recipients key "
                                                      "matches.")] = None,
    recipients: Annotated[Path | None, typer.Option(help="YAML/JSON mapping of recipient "
                                                         "identities (emails, DIDs, URLs) to "
                                                         "educator ids.")] = None,
    objects: Annotated[list[Path], typer.Option(
        "--objects", help="BadgeClass/Achievement files the badges reference by URL. "
                          "Repeatable.")] = [],  # noqa: B006
    framework: Annotated[str, typer.Option(help="educator, leader or a framework file.")]
    = "educator",
    iri_map: Annotated[Path | None, typer.Option(help="YAML/JSON table of IRIs to competency "
                                                      "ids (as PDREC_XAPI_IRI_MAP).")] = None,
) -> None:
    """Map badges to micro-credential evidence; list every rejected badge with the reason.

    Exit 1 if no badge gave evidence, 2 on an unreadable file or mapping.
    """
    from recommender.evidence import proficient_threshold, to_json_records, validate_evidence
    from recommender.graph.framework import read_mapping
    from recommender.standards.alignments import AlignmentIndex
    from recommender.standards.crosswalk import default_crosswalk
    from recommender.standards.openbadges import badges_to_evidence

    graph, _ = load_content(framework, None)
    badges, where = _read(files)
    extra, _ = _read(objects)
    try:
        who = {str(k): str(v) for k, v in read_mapping(recipients).items()} if recipients else {}
        table = read_mapping(iri_map) if iri_map else {}
    except (OSError, ValueError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    index = AlignmentIndex(graph, default_crosswalk(graph), table)
    mapping = badges_to_evidence(badges, index=index, recipients=who, educator_id=educator,
                                 objects=extra, scale=graph.graph["scale"])
    checked = validate_evidence(mapping.records, competencies=list(graph),
                                proficient_at=proficient_threshold(graph.graph["scale"]))
    bad_records = {mapping.origin[r]: reason for r, reason in
                   zip(checked.rejections["row"], checked.rejections["reason"], strict=True)}
    rejected = dict(zip(mapping.rejections["row"], zip(mapping.rejections["field"],
                                                       mapping.rejections["reason"],
                                                       strict=True), strict=True))
    report = Table(title=f"{len(badges)} badge(s): {len(checked.valid)} evidence record(s)")
    for col in ("badge", "outcome", "detail"):
        report.add_column(col, overflow="fold")
    for i, name in enumerate(where):
        if i in rejected:
            report.add_row(name, f"rejected ({rejected[i][0]})", rejected[i][1])
        elif i in bad_records:
            report.add_row(name, "rejected (evidence)", bad_records[i])
        else:
            report.add_row(name, f"{mapping.educators[i]}", ", ".join(mapping.competencies[i]))
    console.print(report)
    if checked.valid.empty:
        console.print("[red]no badge gave evidence[/red]")
        raise typer.Exit(1)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for rec in to_json_records(checked.valid):
            fh.write(json.dumps(rec, ensure_ascii=False) + "\n")
    console.print(f"{len(checked.valid)} evidence record(s) -> {out}")
