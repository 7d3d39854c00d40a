"""``pdrec evaluate-offline``: how a candidate model or ranker would have done on a tenant's
logged, explored traffic (logic in :mod:`pipelines.offline_eval`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from pipelines.cli_app import DataDir, app, console, load_content


@app.command("evaluate-offline")
def evaluate_offline_command(
    candidate: Annotated[str, typer.Option(
        help="A registered version of the mastery model (e.g. 3), or 'no-model' for the "
             "evidence-only engine.")],
    tenant: Annotated[str, typer.Option(help="The tenant whose recommendation log is read.")],
    data_dir: DataDir = Path("data"),
    store_url: Annotated[str | None, typer.Option(
        help="Store to read the log from (default: DATABASE_URL, else DATA_DIR/pdrec.db).")
    ] = None,
    framework: Annotated[str, typer.Option(
        help="The tenant's framework: 'educator', 'leader' or a YAML/JSON file.")] = "educator",
    catalog: Annotated[Path | None, typer.Option(help="Its activity catalog file.")] = None,
    window_days: Annotated[float, typer.Option(
        min=0.001, help="An outcome counts when it follows the answer within this many days.")
    ] = 30.0,
    accepted: Annotated[bool, typer.Option(
        help="Count an 'accepted' event as a reward too (default: only 'completed').")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")
                       ] = False,
) -> dict:
    """Estimate a candidate's value on the logged traffic (IPS, SNIPS, doubly robust, each with
    a 95% interval) beside the logging policy's observed value.

    The log holds the first slot of every ranked answer with its propensity when the API
    explores (PDREC_EXPLORE=softmax or epsilon); the reward is whether the educator completed
    the shown activity within --window-days. See docs/offpolicy.md.
    """
    import pandas as pd

    from pipelines import tracking
    from pipelines.offline_eval import evaluate_offline, load_candidate
    from pipelines.serve import database_url
    from pipelines.store_data import educators_frame
    from recommender.store import open_store

    graph, cat = load_content(framework, catalog)
    if cat is None:
        console.print("a framework file needs its --catalog", style="red")
        raise typer.Exit(2)
    tracking.configure(data_dir)
    events = ("completed", "accepted") if accepted else ("completed",)
    store = open_store(store_url or database_url(data_dir), pool_size=2)
    try:
        chosen = load_candidate(candidate, graph, cat, tracking.load_version_bundle)
        report = evaluate_offline(store, tenant, chosen, graph, cat,
                                  educators_frame(store, tenant),
                                  window=pd.Timedelta(days=window_days), events=events)
    except (ValueError, LookupError) as exc:
        console.print(str(exc), style="red", markup=False, highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.dispose()
    out = _as_dict(report)
    if as_json:
        typer.echo(json.dumps(out, indent=2))
    else:
        _print(out)
    return out


def _finite(d: dict) -> dict:
    """NaN (SNIPS without a matching record) as None, so the JSON is valid."""
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in d.items()}


def _as_dict(report) -> dict:
    return {"tenant": report.tenant, "candidate": report.candidate, "records": report.records,
            "matches": report.matches, "effective_sample_size": report.ess,
            "logging_policies": report.logging_policies, "skipped": report.skipped,
            "logged": _finite(report.logged.as_dict()),
            "estimates": [_finite(e.as_dict()) for e in report.estimates]}


def _print(out: dict) -> None:
    table = Table(title=f"{out['candidate']} on tenant {out['tenant']}'s log "
                        f"({out['records']:,} answers; 95% intervals)")
    for col in ("policy", "estimator", "value", "95% interval"):
        table.add_column(col)
    lg = out["logged"]
    table.add_row("logging (observed)", "mean reward", f"{lg['value']:.4f}",
                  f"[{lg['low']:.4f}, {lg['high']:.4f}]")
    for e in out["estimates"]:
        if e["value"] is None:
            table.add_row(out["candidate"], e["estimator"], "-", "no matching answer")
            continue
        table.add_row(out["candidate"], e["estimator"], f"{e['value']:.4f}",
                      f"[{e['low']:.4f}, {e['high']:.4f}]")
    console.print(table)
    console.print(f"the candidate agrees with the shown first item on {out['matches']:,} of "
                  f"{out['records']:,} answers; effective sample size "
                  f"{out['effective_sample_size']:.1f}; logged by "
                  f"{', '.join(out['logging_policies']) or '-'}")
    for reason, n in out["skipped"].items():
        console.print(f"skipped {n:,} log rows: {reason}")
