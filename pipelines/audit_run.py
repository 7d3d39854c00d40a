"""The equity audit's job (``pdrec audit``): its inputs, the recommendations, the outputs.

The audit itself is :mod:`recommender.audit` (pure). This module gathers what it reads, from a
tenant in the store or from a synthetic cohort, recommends for every educator with the library
exactly as the API's batch path does (:class:`recommender.estimate.MasteryEstimator`, then
:func:`recommender.ranking.rank_batch` with each educator's goals, completions and
availability), runs the simulator's policies for the realized outcomes, and writes the table
(CSV), the plot (PNG) and the JSON the API serves.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from recommender import audit
from recommender.catalog import Catalog
from recommender.estimate import MasteryEstimator
from recommender.evaluation import HOURS_PER_STEP, run_policy
from recommender.evidence import NO_FUTURE_CHECK, validate_evidence
from recommender.evidence.normalize import proficient_threshold
from recommender.policies import POLICIES, PolicySetup
from recommender.ranking import EducatorContext, RankingRequest, rank_batch
from recommender.sim_estimators import engine_estimate
from recommender.simulate import catalog_arrays, generate, initial_population

__all__ = ["AUDIT_EXPERIMENT", "AuditInputs", "audit_json", "plot_audit", "recommendation_audit",
           "simulation_audit", "synthetic_inputs", "tenant_inputs", "write_audit"]

AUDIT_EXPERIMENT = "equity-audit"
"""MLflow experiment of ``pdrec audit`` runs."""

SCHOOLS = ("North", "South", "East", "West")
"""Schools of a synthetic cohort, assigned round-robin by educator (the generator has none)."""


@dataclass(frozen=True)
class AuditInputs:
    """What the recommendation audit reads: content, educators (profile, ``goals``, attribute
    columns), validated evidence, completions, and each educator's available activities (None:
    the whole catalog)."""

    graph: nx.DiGraph
    catalog: Catalog
    educators: pd.DataFrame
    evidence: pd.DataFrame
    completions: pd.DataFrame
    available: dict[str, frozenset[str] | None]


def _validated(evidence: pd.DataFrame, graph: nx.DiGraph, educators: pd.Series) -> pd.DataFrame:
    return validate_evidence(
        evidence, competencies=list(graph), educators=educators,
        proficient_at=proficient_threshold(graph.graph["scale"]),
        now=NO_FUTURE_CHECK).valid


def synthetic_inputs(graph: nx.DiGraph, catalog: Catalog, *, n_educators: int, months: int = 6,
                     seed: int = 0, restrict: str | None = None,
                     restricted_formats: Sequence[str] = audit.INTENSIVE_FORMATS) -> AuditInputs:
    """A generated cohort (:func:`recommender.simulate.generate`) with a ``school`` column.

    ``restrict``: a school of :data:`SCHOOLS` whose educators may not take activities of the
    ``restricted_formats`` (a planted disparity of catalog access, through ``available``).
    """
    if restrict is not None and restrict not in SCHOOLS:
        raise ValueError(f"restrict must be one of the schools {list(SCHOOLS)}; got {restrict!r}")
    data = generate(graph, catalog, n_educators=n_educators, months=months, random_state=seed)
    educators = data.educators.assign(
        school=np.asarray(SCHOOLS, dtype=object)[np.arange(len(data.educators)) % len(SCHOOLS)])
    acts = catalog.activities
    allowed = frozenset(acts.index[~acts["format"].isin(list(restricted_formats))])
    available = dict.fromkeys(educators["educator_id"])
    if restrict is not None:
        available.update(dict.fromkeys(
            educators.loc[educators["school"] == restrict, "educator_id"], allowed))
    return AuditInputs(graph, catalog, educators,
                       _validated(data.evidence, graph, educators["educator_id"]),
                       data.completions, available)


def tenant_inputs(store, tenant: str, default, *, extra: Sequence[str] = ()) -> AuditInputs:
    """A tenant's educators (profile, ``school``, goals and the ``extra`` profile attributes),
    validated evidence and completions from the store, on its active framework and catalog
    (``default``: the deployment's :class:`~recommender.tenant_content.TenantContent`). Every
    educator may take the whole catalog (the store keeps no per-educator availability).
    Evidence the tenant's evidence firewall excludes is left out, as the served answers leave
    it out (docs/firewall.md)."""
    from pipelines.store_data import educators_frame
    from recommender.serving import completions_from_feedback
    from recommender.tenant_content import resolve_content

    content = resolve_content(store, tenant, default)
    educators = educators_frame(
        store, tenant, ["years_experience", "role", "subject", "grade_band", "school", *extra])
    if educators.empty:
        raise ValueError(f"tenant {tenant!r} has no educators in the store")
    for col in ("school", *extra):  # absent for everyone: no such attribute to audit
        if col in educators and educators[col].isna().all():
            if col in extra:
                raise ValueError(f"extra attribute {col!r}: no educator of tenant {tenant!r} "
                                 "has it in their profile")
            educators = educators.drop(columns=col)
    ids = educators["educator_id"].tolist()
    evidence = store.firewall(tenant, ids).used(store.evidence_frame(tenant, ids))
    evidence = evidence[evidence["competency_id"].isin(list(content.graph))]
    completions = completions_from_feedback(store.feedback_frame(tenant, ids))
    return AuditInputs(content.graph, content.catalog, educators,
                       evidence.sort_values(["observed_at", "evidence_id"], kind="stable"),
                       completions, dict.fromkeys(ids))


def _contexts(inputs: AuditInputs) -> dict[str, EducatorContext]:
    """Goals, completed activities and availability per educator (one pass over short lists)."""
    done = inputs.completions.groupby("educator_id")["activity_id"].agg(frozenset)
    goals = inputs.educators.set_index("educator_id").get("goals")
    out = {}
    for e in inputs.educators["educator_id"]:
        g = goals.get(e) if goals is not None else None
        out[e] = EducatorContext(
            goals=tuple(x for x in (g.split("|") if isinstance(g, str) else (g or ())) if x),
            completed=done.get(e, frozenset()), available=inputs.available.get(e))
    return out


def recommendation_audit(inputs: AuditInputs, *, k: int = 3, predictor=None, gains=None,
                         extra: Sequence[str] = (), threshold: float = audit.THRESHOLD,
                         n_boot: int = 500, seed: int = 0,
                         intensive_formats: Sequence[str] = audit.INTENSIVE_FORMATS
                         ) -> pd.DataFrame:
    """The audit table of the engine's top-``k`` recommendations for every educator (mastery
    from ``predictor``, or without a model when None; ``gains``: learned gain posteriors)."""
    ids = inputs.educators["educator_id"]
    evidence = inputs.evidence
    as_of = (evidence["observed_at"].max() if len(evidence) else pd.Timestamp.now(tz="UTC")
             ) + pd.Timedelta(seconds=1)
    estimator = MasteryEstimator(inputs.graph, inputs.catalog, predictor=predictor, gains=gains)
    mastery = estimator.estimate(evidence, ids, as_of=as_of, completions=inputs.completions,
                                 educators=inputs.educators)
    recs = rank_batch(inputs.graph, inputs.catalog, mastery, contexts=_contexts(inputs),
                      request=RankingRequest(k=int(k)), gains=gains)
    values = audit.recommendation_metrics(recs, inputs.catalog, inputs.educators, mastery,
                                          intensive_formats=intensive_formats)
    return audit.subgroup_report(values, audit.attribute_frame(inputs.educators, extra),
                                 threshold=threshold, n_boot=n_boot, random_state=seed)


def simulation_audit(graph: nx.DiGraph, catalog: Catalog, policies: Sequence[str], *,
                     n_educators: int, steps: int, seed: int = 0, p_accept: float = 0.7,
                     k: int = 3, threshold: float = audit.THRESHOLD, n_boot: int = 500,
                     params=None, estimate=None, gains=None) -> pd.DataFrame:
    """Realized outcomes per subgroup for each policy (one table, a ``policy`` column), on the
    simulated population of :func:`recommender.evaluation.simulate_policies` (same seed,
    ``params``, ``estimate`` and ``gains``: the same educators, world draws and outcomes),
    schools assigned as in :func:`synthetic_inputs`."""
    unknown = [p for p in policies if p not in POLICIES]
    if unknown:
        raise ValueError(f"unknown policies {unknown}; expected names of {list(POLICIES)}")
    pop = initial_population(graph, int(n_educators), params=params, random_state=seed)
    setup = PolicySetup(graph=graph, catalog=catalog, population=pop,
                        activities=catalog_arrays(catalog, pop.competencies), k=int(k),
                        estimate=(engine_estimate(MasteryEstimator(graph, catalog))
                                  if estimate is None else estimate), gains=gains,
                        seed=seed + 1)
    educators = pop.educators.assign(
        school=np.asarray(SCHOOLS, dtype=object)[np.arange(pop.n_educators) % len(SCHOOLS)])
    goals = pop.goals
    p0 = 1.0 / (1.0 + np.exp(-pop.theta))
    has = goals >= 0
    on_goals = np.where(has, p0[np.arange(pop.n_educators)[:, None], np.maximum(goals, 0)], 0)
    gap = 1.0 - np.where(has.any(axis=1), on_goals.sum(axis=1) / np.maximum(has.sum(axis=1), 1),
                         p0.mean(axis=1))
    attrs = audit.attribute_frame(educators)
    parts = []
    for name in dict.fromkeys(policies):  # a few policies; each run is vectorized
        out = run_policy(POLICIES[name](setup), setup, steps=int(steps), p_accept=p_accept,
                         n_random_readings=3)
        values = audit.outcome_metrics(out, educators["educator_id"], gap,
                                       hours_budget=HOURS_PER_STEP * int(steps))
        parts.append(audit.subgroup_report(
            values, attrs, metrics=audit.OUTCOME_METRICS, threshold=threshold, n_boot=n_boot,
            random_state=seed).assign(policy=name))
    table = pd.concat(parts, ignore_index=True)
    return table[["policy", *[c for c in table.columns if c != "policy"]]]


def plot_audit(table: pd.DataFrame, path: Path, *,
               metrics: Sequence[str] = ("gain_per_hour", "intensive_share"),
               threshold: float = audit.THRESHOLD, title: str = "Equity audit") -> Path:
    """Each group's ratio to the best group with its 95% interval: one row of panels per
    metric, one panel per attribute, the threshold as a dashed line and flagged groups in red;
    returns ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    attrs = list(dict.fromkeys(table["attribute"]))
    fig, axes = plt.subplots(len(metrics), len(attrs), squeeze=False,
                             figsize=(3.2 * len(attrs), 0.4 + 3.0 * len(metrics)))
    for i, metric in enumerate(metrics):
        for ax, attr in zip(axes[i], attrs, strict=True):
            _ratio_panel(ax, table[table["attribute"] == attr], metric, threshold)
            ax.set_title(attr if i == 0 else "")
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _ratio_panel(ax, rows: pd.DataFrame, metric: str, threshold: float) -> None:
    y = np.arange(len(rows))
    r = rows[f"{metric}_ratio"].to_numpy(float)
    err = np.vstack([r - rows[f"{metric}_lo"].to_numpy(float),
                     rows[f"{metric}_hi"].to_numpy(float) - r])
    flagged = rows["flags"].str.split(";").map(lambda f: metric in f).to_numpy(bool)
    for mask, color in ((~flagged, "tab:blue"), (flagged, "tab:red")):
        ax.errorbar(r[mask], y[mask], xerr=np.clip(np.nan_to_num(err[:, mask]), 0, None),
                    fmt="o", color=color, capsize=3)
    ax.axvline(threshold, color="grey", linestyle="--", linewidth=1)
    ax.set_yticks(y, rows["value"].astype(str))
    ax.set_xlabel(f"{metric} ratio")


def audit_json(table: pd.DataFrame, *, metrics: Sequence[str], source: dict,
               threshold: float) -> dict:
    """The audit as the API serves it (:class:`api.schemas.equity_audit.EquityAuditOut`'s
    document): ``source`` (tenant or synthetic, model), the threshold, one entry per group with
    its ``means`` and per metric ``ratios`` (NaN as null), and the flagged groups."""
    flat = json.loads(table.to_json(orient="records"))  # NaN -> null, numpy -> Python
    parts = ("ratio", "lo", "hi", "adjusted", "adj_hi", "reference")
    rows = [{
        "attribute": r["attribute"], "value": str(r["value"]), "n": r["n"], "small": r["small"],
        "mastery_gap": r["mastery_gap"], "means": {m: r[m] for m in metrics},
        "ratios": {m: {p: r.get(f"{m}_{p}") for p in parts} for m in metrics},
        "flags": [f for f in (r["flags"] or "").split(";") if f], "flagged": r["flagged"],
    } for r in flat]  # a few dozen groups
    return {"source": source, "threshold": float(threshold), "metrics": list(metrics),
            "groups": rows, "flagged": [f"{r['attribute']}={r['value']}: {', '.join(r['flags'])}"
                                        for r in rows if r["flagged"]]}


def write_audit(table: pd.DataFrame, out_dir: Path, name: str, *,
                threshold: float = audit.THRESHOLD,
                metrics: Sequence[str] = ("gain_per_hour", "intensive_share")
                ) -> tuple[Path, Path]:
    """``out_dir/<name>.csv`` and its plot ``<name>.png``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv = out_dir / f"{name}.csv"
    table.to_csv(csv, index=False)
    return csv, plot_audit(table, out_dir / f"{name}.png", metrics=metrics, threshold=threshold,
                           title=f"Equity audit ({name}): ratio to the best-served group")
