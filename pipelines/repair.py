"""``pdrec repair``: export the stored rows that break the field contract, then delete them.

The rows are found by :func:`recommender.store.repair.find_violations` (read-only). With
``dry_run`` nothing else happens: the report says what would move. Otherwise every row is first
written whole to a JSON Lines export file (one object per row: ``table, tenant_id, key, field,
value, reason, row``), flushed to disk, and only then deleted by
:func:`recommender.store.repair.move_aside`: nothing is ever lost silently, and the file is
what an operator restores from.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import orjson
import pandas as pd

from recommender.store import Store
from recommender.store.repair import RepairPlan, find_violations, move_aside

__all__ = ["RepairReport", "default_export_path", "repair"]


@dataclass(frozen=True)
class RepairReport:
    """What a repair found and did: the plan, the export file (None on a dry run or when
    nothing was found) and the rows deleted per table."""

    plan: RepairPlan
    export: Path | None
    deleted: dict[str, int]


def default_export_path(data_dir: Path, now: pd.Timestamp | None = None) -> Path:
    """``DATA_DIR/quarantine/repair-<UTC time>.jsonl``."""
    now = pd.Timestamp.now(tz="UTC") if now is None else now
    return Path(data_dir) / "quarantine" / f"repair-{now.strftime('%Y%m%dT%H%M%SZ')}.jsonl"


def _export(plan: RepairPlan, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "xb") as fh:  # never overwrite an earlier export
        for f in plan.findings:
            fh.write(orjson.dumps({"table": f.table, "tenant_id": f.tenant_id, "key": f.key,
                                   "field": f.field, "value": f.value, "reason": f.reason,
                                   "row": f.row}, default=str) + b"\n")
        fh.flush()
        os.fsync(fh.fileno())


def repair(store: Store, *, tenant_id: str | None = None, dry_run: bool = False,
           export: Path, now: pd.Timestamp | None = None) -> RepairReport:
    """Find the violating rows of ``tenant_id`` (all tenants when None); unless ``dry_run``,
    write them to ``export`` and delete them."""
    plan = find_violations(store, tenant_id, now=now)
    if dry_run or not plan.findings:
        return RepairReport(plan=plan, export=None, deleted={})
    _export(plan, export)
    return RepairReport(plan=plan, export=export, deleted=move_aside(store, plan))
