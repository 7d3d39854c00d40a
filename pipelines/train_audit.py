"""The equity audit of a freshly trained model (issue #19): what it would recommend, by subgroup.

``pdrec train`` calls :func:`audit_trained_model` after fitting, and
:func:`pipelines.tracking.log_training` logs the result with the run (``audit.csv``,
``audit.md``, ``audit.json``, ``audit.png``; metrics ``audit_flags`` and
``audit_min_<metric>_ratio``), so ``pdrec compare`` can show each model's flags beside its
accuracy before anyone promotes it.

The cohort is the one the model card's test metrics are on, the educators the model did not
learn from: with a split by educator, the held-out educators and all their evidence (the model
never saw them, as it will not have seen a new tenant's educators); with a split by time, the
educators with test records, recommended for at the cut with the evidence and completions
before it (the moment the model would have been deployed).

What is audited is what this model would serve if promoted: the API's batch path, as
``pdrec audit`` runs it (:func:`pipelines.audit_run.recommendation_audit`): the mastery estimator
with this model as its prior (one model call for the cohort) and the later evidence, then
:func:`recommender.ranking.rank_batch` with this run's gain posteriors (top ``k``, each
educator's goals, completed activities excluded), then
:func:`recommender.audit.subgroup_report`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from pipelines.audit_run import AuditInputs, audit_json, plot_audit, recommendation_audit
from recommender import audit
from recommender.catalog import Catalog

__all__ = ["AUDIT_ARTIFACTS", "N_BOOT", "ModelAudit", "audit_summary", "audit_trained_model",
           "write_figure"]

AUDIT_ARTIFACTS = ("audit.csv", "audit.md", "audit.json", "audit.png")
"""The files a training run logs its audit as."""

N_BOOT = 200
"""Bootstrap resamples of a training run's audit (``pdrec audit`` uses 500): the flags read a
bootstrap standard deviation, which 200 resamples estimate to within about 5% (relative
standard error ``1 / sqrt(2 (B - 1))``) for 40% of the resampling work."""


@dataclass(frozen=True)
class ModelAudit:
    """One model's audit: the table (:func:`recommender.audit.subgroup_report`), the cohort
    it was run on, and how long it took."""

    table: pd.DataFrame
    cohort: dict
    seconds: float
    threshold: float = audit.THRESHOLD
    metrics_audited: tuple[str, ...] = field(default=tuple(audit.RECOMMENDATION_METRICS))

    @property
    def flags(self) -> list[str]:
        """``attribute=group: metric[;metric]`` of every flagged group."""
        rows = self.table.loc[self.table["flagged"], ["attribute", "value", "flags"]]
        return [f"{a}={v}: {f}" for a, v, f in rows.itertuples(index=False)]

    def metrics(self) -> dict[str, float]:
        """``audit_flags`` (flagged groups), ``audit_min_<metric>_ratio`` over the groups that
        are not small (NaN when every group is small), ``audit_educators``, ``audit_seconds``."""
        big = self.table.loc[~self.table["small"]]
        out = {"audit_flags": float(self.table["flagged"].sum()),
               "audit_educators": float(self.cohort["educators"]),
               "audit_seconds": float(self.seconds)}
        for m in self.metrics_audited:
            col = f"{m}_ratio"
            out[f"audit_min_{col}"] = (float(big[col].min()) if col in big and len(big)
                                       else float("nan"))
        return out

    def document(self) -> dict:
        """The audit as ``GET /v1/admin/audit`` serves one (:func:`audit_run.audit_json`)."""
        return audit_json(self.table, metrics=list(self.metrics_audited), source=self.cohort,
                          threshold=self.threshold)

    def markdown(self) -> str:
        """A readable table: each group's n, gap, each metric's ratio [95% CI], flags."""
        head = ["attribute", "group", "n", "mastery_gap",
                *[f"{m} ratio [95% CI]" for m in self.metrics_audited], "flags"]
        t = self.table
        cells = [t["attribute"].astype(str),
                 t["value"].astype(str) + np.where(t["small"], " (small)", ""),
                 t["n"].astype(str), t["mastery_gap"].map(_fmt)]
        for m in self.metrics_audited:
            cells.append(t[f"{m}_ratio"].map(_fmt) + " [" + t[f"{m}_lo"].map(_fmt) + ", "
                         + t[f"{m}_hi"].map(_fmt) + "]")
        cells.append(t["flags"].astype(str))
        body = pd.concat(cells, axis=1).agg(" | ".join, axis=1)
        lines = [f"# Equity audit of this model ({self.cohort['cohort']})", "",
                 f"{self.cohort['educators']} educators, top {self.cohort['k']}, threshold "
                 f"{self.threshold}; flagged: {'; '.join(self.flags) or 'none'}", "",
                 "| " + " | ".join(head) + " |", "|" + " --- |" * len(head),
                 *("| " + body + " |")]
        return "\n".join(lines) + "\n"


def _fmt(x) -> str:
    return "-" if x is None or x != x else f"{x:.3g}"


def audit_summary(result: ModelAudit | None, why: str | None = None) -> str:
    """One line for the console: the flags and the time, or why there is no audit."""
    if result is None:
        return f"not audited ({why or 'no audit'})"
    flags = result.flags
    return (f"{len(flags)} flagged group(s){': ' + '; '.join(flags) if flags else ''} "
            f"({result.cohort['educators']} {result.cohort['cohort']}, "
            f"{result.seconds:.1f} s)")


def audit_trained_model(graph: nx.DiGraph, catalog: Catalog | None, educators: pd.DataFrame,
                        evidence: pd.DataFrame, completions: pd.DataFrame, *, predictor,
                        gains: pd.DataFrame | None, educator_ids, before: pd.Timestamp | None,
                        k: int = 3, n_boot: int = N_BOOT, seed: int = 0
                        ) -> tuple[ModelAudit | None, str | None]:
    """The audit of ``predictor``'s recommendations to ``educator_ids`` (the held-out cohort,
    module docstring); ``before``: a time split's cut (evidence and completions before it).

    Returns ``(audit, None)``, or ``(None, why)`` when there is nothing to audit: no catalog
    (nothing to recommend), no educator in the cohort, or educators without any of the
    grouping attributes of :data:`recommender.audit.ATTRIBUTES`.
    """
    if catalog is None:
        return None, "no activity catalog: nothing is recommended"
    start = time.perf_counter()
    ids = pd.Index(pd.unique(np.asarray(educator_ids, dtype=object)))
    cohort = educators[educators["educator_id"].isin(ids)]
    if cohort.empty:
        return None, "no educator in the held-out cohort"
    if audit.attribute_frame(cohort).columns.empty:
        return None, (f"the educators have none of the audited attributes "
                      f"{list(audit.ATTRIBUTES)}")
    ev = evidence[evidence["educator_id"].isin(ids)]
    done = completions[completions["educator_id"].isin(ids)]
    if before is not None:
        ev = ev[ev["observed_at"] < before]
        done = done[pd.to_datetime(done["completed_at"], utc=True) < before]
    cohort = cohort.reset_index(drop=True)
    inputs = AuditInputs(graph, catalog, cohort, ev, done, dict.fromkeys(cohort["educator_id"]))
    table = recommendation_audit(inputs, k=k, predictor=predictor, gains=gains, n_boot=n_boot,
                                 seed=seed)
    name = ("held-out educators" if before is None
            else f"educators with test records, as of {before.isoformat()}")
    info = {"cohort": name, "educators": int(len(cohort)), "k": int(k), "n_boot": int(n_boot),
            "model": getattr(predictor, "name", None)}
    return ModelAudit(table, info, time.perf_counter() - start), None


def write_figure(result: ModelAudit, path: Path) -> Path:
    """The audit's plot (:func:`pipelines.audit_run.plot_audit`) at ``path``."""
    return plot_audit(result.table, path, threshold=result.threshold,
                      title=f"Equity audit of the model: {result.cohort['cohort']}")
