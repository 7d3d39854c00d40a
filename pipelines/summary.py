"""Plain-value summaries of a framework, a catalog and a synthetic dataset, for the CLI."""

from __future__ import annotations

import networkx as nx
import pandas as pd

from recommender.catalog import Catalog
from recommender.graph import depths


def framework_summary(graph: nx.DiGraph) -> dict:
    """Counts a reader checks first: size, domains, edges, depth, multi-prerequisite nodes."""
    depth = depths(graph)
    return {
        "name": graph.graph.get("name"),
        "competencies": graph.number_of_nodes(),
        "edges": graph.number_of_edges(),
        "max_depth": max(depth.values(), default=0),
        "with_2plus_prereqs": sum(1 for n in graph if graph.in_degree(n) >= 2),
        "roots": sum(1 for n in graph if graph.in_degree(n) == 0),
        "by_domain": dict(
            pd.Series(dict(graph.nodes(data="domain"))).value_counts().sort_index()
        ),
    }


def catalog_summary(catalog: Catalog) -> dict:
    """Activities by format and modality, with hours and prior gain ranges."""
    acts = catalog.activities
    return {
        "activities": len(acts),
        "by_format": dict(acts["format"].value_counts().sort_index()),
        "by_modality": dict(acts["modality"].value_counts().sort_index()),
        "hours_median": float(acts["hours"].median()),
        "competencies_targeted": int(catalog.targets["competency_id"].nunique()),
    }


def data_summary(educators: pd.DataFrame, evidence: pd.DataFrame, completions: pd.DataFrame) -> dict:
    """Sizes and mixes of a dataset of educators, evidence and completed activities."""
    span = evidence["observed_at"]
    return {
        "educators": len(educators),
        "evidence_rows": len(evidence),
        "completions": len(completions),
        "evidence_per_educator": round(len(evidence) / max(len(educators), 1), 1),
        "from": str(span.min()) if len(span) else "",
        "to": str(span.max()) if len(span) else "",
        "by_source": dict(evidence["source"].value_counts().sort_index()),
    }
