"""Pure queries over a prerequisite graph (edge ``u -> v``: ``u`` is a prerequisite of ``v``).

Every function takes the graph first, checks the ids it is given, and returns a new plain value
(set, list, dict); none mutates the graph. A *mastery map* is a mapping
``competency_id -> probability of mastery``; ids missing from it count as 0 (not mastered).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import networkx as nx

from recommender.errors import UnknownCompetencyError

__all__ = [
    "check_ids",
    "prerequisites",
    "all_prerequisites",
    "dependents",
    "all_dependents",
    "depth",
    "depths",
    "is_mastered",
    "frontier",
    "prerequisite_closure",
]

DEFAULT_THRESHOLD = 0.7
"""Probability of mastery at or above which a competency counts as mastered."""


def check_ids(graph: nx.DiGraph, ids: Iterable[str]) -> list[str]:
    """Return ``ids`` as a list, raising :class:`UnknownCompetencyError` naming any unknown."""
    ids = [ids] if isinstance(ids, str) else list(ids)
    unknown = [i for i in ids if i not in graph]
    if unknown:
        raise UnknownCompetencyError(unknown, graph.graph.get("name"))
    return ids


def prerequisites(graph: nx.DiGraph, competency: str) -> set[str]:
    """Direct prerequisites of ``competency``."""
    check_ids(graph, competency)
    return set(graph.predecessors(competency))


def all_prerequisites(graph: nx.DiGraph, competency: str) -> set[str]:
    """Every competency ``competency`` builds on, directly or not (its ancestors)."""
    check_ids(graph, competency)
    return nx.ancestors(graph, competency)


def dependents(graph: nx.DiGraph, competency: str) -> set[str]:
    """Competencies that list ``competency`` as a direct prerequisite."""
    check_ids(graph, competency)
    return set(graph.successors(competency))


def all_dependents(graph: nx.DiGraph, competency: str) -> set[str]:
    """Every competency that builds on ``competency``, directly or not (its descendants)."""
    check_ids(graph, competency)
    return nx.descendants(graph, competency)


def depths(graph: nx.DiGraph) -> dict[str, int]:
    """Depth of every competency: 0 for roots, else 1 + the deepest prerequisite's depth."""
    out: dict[str, int] = {}
    for node in nx.topological_sort(graph):
        out[node] = 1 + max((out[p] for p in graph.predecessors(node)), default=-1)
    return out


def depth(graph: nx.DiGraph, competency: str) -> int:
    """Length of the longest prerequisite chain that ends at ``competency``."""
    check_ids(graph, competency)
    return depths(graph)[competency]


def is_mastered(
    mastery: Mapping[str, float], competency: str, threshold: float = DEFAULT_THRESHOLD
) -> bool:
    """Whether ``competency`` reaches ``threshold`` in ``mastery`` (absent counts as 0)."""
    return float(mastery.get(competency, 0.0)) >= threshold


def frontier(
    graph: nx.DiGraph, mastery: Mapping[str, float], threshold: float = DEFAULT_THRESHOLD
) -> set[str]:
    """Competencies not yet mastered whose direct prerequisites are all mastered.

    These are what the educator is ready to learn next.

    >>> g = nx.DiGraph([("a", "b"), ("b", "c")])
    >>> sorted(frontier(g, {"a": 0.9}))
    ['b']
    """
    check_ids(graph, mastery.keys())
    return {
        n
        for n in graph
        if not is_mastered(mastery, n, threshold)
        and all(is_mastered(mastery, p, threshold) for p in graph.predecessors(n))
    }


def prerequisite_closure(
    graph: nx.DiGraph,
    goals: str | Iterable[str],
    mastery: Mapping[str, float] | None = None,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[str]:
    """Unmastered goals and unmastered prerequisites of the goals, in topological order.

    The list is the order in which the educator can work through them: every competency appears
    after each of its prerequisites that is also in the list. Ties are broken by id, so the
    result is deterministic.

    >>> g = nx.DiGraph([("a", "b"), ("b", "c"), ("x", "c")])
    >>> prerequisite_closure(g, "c", {"a": 0.9})
    ['b', 'x', 'c']
    """
    goals = check_ids(graph, goals)
    mastery = mastery or {}
    wanted = set(goals)
    for goal in goals:
        wanted |= nx.ancestors(graph, goal)
    wanted = {n for n in wanted if not is_mastered(mastery, n, threshold)}
    return list(nx.lexicographical_topological_sort(graph.subgraph(wanted)))
