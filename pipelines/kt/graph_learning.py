"""The benchmark's frameworks: the skills as competencies, and a skill graph learned from data.

KT data has no prerequisite graph. :func:`skill_framework` makes the skills a framework (one
domain, no edges) so the engine's feature builder can run; :func:`learn_skill_graph` learns
prerequisite edges and domains from training evidence alone, so that the ``graph_`` and ``dom_``
features of ``lightgbm_graph`` carry related-skill signals.
"""

from __future__ import annotations

from collections.abc import Sequence

import networkx as nx
import numpy as np
import pandas as pd

from recommender.graph import build_framework


def skill_framework(skills: Sequence[str], *, edges=(), domains: dict[str, str] | None = None,
                    name: str = "kt", names: dict[str, str] | None = None) -> nx.DiGraph:
    """A competency framework whose competencies are the skills (one domain unless given)."""
    domains = domains or {}
    names = names or {}
    return build_framework({
        "name": name,
        "title": f"Skills of {name}",
        "scale": {"min": 0, "max": 1, "proficient": 0.5},
        "competencies": [{"id": s, "name": names.get(s, s), "domain": domains.get(s, "skills")}
                         for s in skills],
        "edges": [{"from": u, "to": v} for u, v in edges],
    })


def learn_skill_graph(
    evidence: pd.DataFrame, *, max_parents: int = 2, min_count: int = 20, seed: int = 0
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """Prerequisite edges and domains learned from training evidence alone.

    Transitions are counted over each learner's consecutive records on two different skills.
    Two skills are related by how often they follow each other (either way); each skill keeps
    its ``max_parents`` most related skills seen at least ``min_count`` times, oriented from the
    skill more often answered first to the other. Edges are added strongest first, skipping any
    that would close a cycle, so the result is a DAG. Domains are the Louvain communities of the
    undirected transition graph (weights = transition counts, ``seed`` fixed).

    Returns ``(edges, domain_of_skill)``.
    """
    ev = evidence.sort_values(["educator_id", "observed_at", "evidence_id"], kind="stable")
    skills = np.sort(pd.unique(ev["competency_id"]))
    code = pd.Index(skills).get_indexer(ev["competency_id"])
    learner = pd.factorize(ev["educator_id"])[0]
    same = learner[1:] == learner[:-1]
    u, v = code[:-1][same], code[1:][same]
    keep = u != v
    n = len(skills)
    counts = np.bincount(u[keep] * n + v[keep], minlength=n * n).reshape(n, n).astype(float)
    related = counts + counts.T
    candidates = {}
    for j in range(n):  # per skill (not per record): its strongest related skills
        order = np.argsort(-related[j], kind="stable")[:max_parents]
        for i in order:
            if related[j, i] >= min_count and i != j:
                a, b = (i, j) if counts[i, j] >= counts[j, i] else (j, i)
                candidates[(a, b)] = related[j, i]
    graph = nx.DiGraph()
    graph.add_nodes_from(range(n))
    edges = []
    for (a, b), _w in sorted(candidates.items(), key=lambda kv: (-kv[1], kv[0])):
        if not nx.has_path(graph, b, a):
            graph.add_edge(a, b)
            edges.append((str(skills[a]), str(skills[b])))
    undirected = nx.Graph()
    undirected.add_nodes_from(range(n))
    iu, ju = np.nonzero(np.triu(related, 1) >= min_count)
    undirected.add_weighted_edges_from(zip(iu.tolist(), ju.tolist(), related[iu, ju].tolist(),
                                           strict=True))
    communities = nx.community.louvain_communities(undirected, weight="weight", seed=seed)
    domains = {}
    for k, members in enumerate(sorted(communities, key=lambda c: (-len(c), min(c)))):
        for i in members:
            domains[str(skills[i])] = f"cluster{k:02d}"
    return edges, domains
