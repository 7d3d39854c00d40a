"""The crosswalk of a framework (the served one by default, or a tenant's graph), loaded once per
graph and validated against it.

The framework the service ranks with (``PDREC_FRAMEWORK``) has a crosswalk when one is shipped
for its name (``recommender/data/crosswalk_<name>.yaml``: the default ``educator`` framework
has one, mapping its competencies to Danielson components and InTASC standards). When the
shipped crosswalk does not fit the served framework (a custom framework reusing the name), there
is none, and :func:`crosswalk_problem` says why; coded evidence is then rejected with that
reason rather than mapped by a table that does not match.
"""

from __future__ import annotations

import logging
import weakref

import networkx as nx

from api.services import Services
from recommender.errors import InvalidInputError
from recommender.standards.crosswalk import Crosswalk, default_crosswalk

__all__ = ["crosswalk_of", "crosswalk_problem"]

_log = logging.getLogger(__name__)


_CACHE: weakref.WeakKeyDictionary[nx.DiGraph, tuple[Crosswalk | None, str | None]] = \
    weakref.WeakKeyDictionary()
"""Per framework graph (the served one, or a tenant's): its crosswalk or why it has none."""


def _load(services: Services, graph: nx.DiGraph | None) -> tuple[Crosswalk | None, str | None]:
    graph = services.graph if graph is None else graph
    cached = _CACHE.get(graph)
    if cached is None:
        name = graph.graph.get("name")
        try:
            cw = default_crosswalk(graph)
            problem = None if cw is not None else f"framework {name!r} has no crosswalk"
        except InvalidInputError as exc:
            cw, problem = None, (f"the crosswalk shipped for framework {name!r} does not fit "
                                 f"the framework: {exc}")
            _log.warning("crosswalk not used: %s", problem)
        cached = _CACHE[graph] = (cw, problem)
    return cached


def crosswalk_of(services: Services, graph: nx.DiGraph | None = None) -> Crosswalk | None:
    """The crosswalk of ``graph`` (default: the served framework), or ``None`` when it has
    none."""
    return _load(services, graph)[0]


def crosswalk_problem(services: Services, graph: nx.DiGraph | None = None) -> str | None:
    """Why ``graph`` (default: the served framework) has no crosswalk (``None`` if it has)."""
    return _load(services, graph)[1]
