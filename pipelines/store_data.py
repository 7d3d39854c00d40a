"""Training data of one tenant read from the store (``data.kind: store``).

The store holds what the API ingested: validated evidence (``Store.evidence_frame``), feedback
events (``completed`` ones become completions through
:func:`recommender.serving.completions_from_feedback`, as the API reads them), and educator
profiles and goals. The framework and catalog are the default ones for now: a tenant's own
framework arrives with issue #15.

Labels need nothing beyond the evidence: as for synthetic data, each record's target is its own
``proficient`` flag (the score at or above the framework's proficient level, fixed at ingest),
predicted from strictly earlier evidence by :meth:`recommender.features.FeatureBuilder.training_frame`.
No generator-only column (latent truth) is read by training.

Evidence the tenant's evidence firewall excludes (its policy, an educator's withdrawn consent:
docs/firewall.md) is not read, as the served answers do not read it: a model is never trained on
records that may not feed decisions, nor on sources it will never see when serving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pandas as pd
import sqlalchemy as sa

from pipelines.serve import database_url
from recommender.catalog import Catalog, default_catalog
from recommender.graph import default_framework
from recommender.serving import completions_from_feedback
from recommender.store import Store, open_store

__all__ = ["StoreData", "read_store_data", "redacted_url", "educators_frame"]

_PROFILE = ("years_experience", "role", "subject", "grade_band")


@dataclass(frozen=True)
class StoreData:
    """A tenant's training inputs, shaped as the synthetic dataset's."""

    graph: nx.DiGraph
    catalog: Catalog
    educators: pd.DataFrame  # educator_id, years_experience, role, subject, grade_band, goals
    evidence: pd.DataFrame  # the store's validated columns
    completions: pd.DataFrame  # educator_id, activity_id, completed_at
    rejected: int  # records on competencies outside the framework
    url: str  # the store, password hidden


def redacted_url(url: str) -> str:
    """The store URL with any password hidden (it goes into the model card)."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<unparsable store URL>"


def educators_frame(store: Store, tenant: str, columns: Sequence[str] = _PROFILE
                    ) -> pd.DataFrame:
    """Every educator of ``tenant``: the profile ``columns`` (by default those the feature
    builder reads; None where a profile lacks one), and goals (``|``-joined)."""
    columns = list(dict.fromkeys(columns))
    rows, after = [], None
    while True:
        page = store.list_educators(tenant, limit=1000, after=after)
        rows += [{"educator_id": r.educator_id, **{k: r.profile.get(k) for k in columns},
                  "goals": "|".join(map(str, r.goals))} for r in page]
        if len(page) < 1000:
            break
        after = page[-1].educator_id
    frame = pd.DataFrame(rows, columns=["educator_id", *columns, "goals"])
    frame["years_experience"] = pd.to_numeric(frame["years_experience"], errors="coerce")
    return frame


def read_store_data(data: dict, data_dir: Path) -> StoreData:
    """Read tenant ``data['tenant']`` from ``data['url']`` (default: ``DATABASE_URL``, else the
    data directory's SQLite file ``pdrec.db``)."""
    tenant = str(data["tenant"])
    url = data.get("url") or database_url(Path(data_dir))
    graph = default_framework("educator")
    store = open_store(url, pool_size=2)
    try:
        educators = educators_frame(store, tenant)
        ids = educators["educator_id"].tolist()
        evidence = store.firewall(tenant, ids).used(store.evidence_frame(tenant, ids))
        completions = completions_from_feedback(store.feedback_frame(tenant, ids)).sort_values(
            ["completed_at", "educator_id", "activity_id"], kind="stable", ignore_index=True)
    finally:
        store.dispose()
    if evidence.empty:
        raise ValueError(f"tenant {tenant!r} has no evidence in the store at {redacted_url(url)}: "
                         "ingest some (POST /v1/evidence) or check --tenant and --store-url")
    # chronological, as validated evidence is: SQLite and PostgreSQL return rows in different
    # orders, and the data fingerprint (hence the split id) must not depend on the backend
    evidence = evidence.sort_values(["observed_at", "evidence_id"], kind="stable")
    known = evidence["competency_id"].isin(list(graph)).to_numpy()
    return StoreData(graph, default_catalog(graph), educators, evidence[known].reset_index(drop=True),
                     completions, rejected=int((~known).sum()), url=redacted_url(url))
