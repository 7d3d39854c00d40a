"""Load a competency framework into a prerequisite graph and check that it is one.

A framework is a mapping (read from YAML or JSON) of the form::

    name: educator
    title: Educator competencies
    scale: {min: 1, max: 4, proficient: 3}
    competencies:
      - id: INS.FA
        name: Formative assessment
        domain: instructional
        description: ...
        levels: {beginning: ..., developing: ..., proficient: ..., advanced: ...}
        prerequisites: [COG.AL]        # optional: ids this competency builds on
    edges:                             # optional, same meaning as `prerequisites`
      - {from: COG.AL, to: INS.FA}

It becomes a :class:`networkx.DiGraph` with one node per competency (its attributes kept) and an
edge ``u -> v`` whenever ``u`` is a prerequisite of ``v``. Graph-level attributes carry the
framework's ``name``, ``title``, ``scale`` and ``domains``, and its ``version`` (as text) when the
mapping gives one (model cards record it).

Loading rejects, naming the offending ids: duplicate ids, edges to unknown ids, self loops and
cycles (:class:`~recommender.errors.CycleError` carries the cycle itself).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

import networkx as nx
import yaml

from recommender.errors import CycleError, FrameworkError

__all__ = [
    "LEVELS",
    "DEFAULT_SCALE",
    "build_framework",
    "load_framework",
    "default_framework",
    "framework_to_dict",
    "read_mapping",
]

LEVELS = ("beginning", "developing", "proficient", "advanced")
"""The four level descriptors every competency carries, lowest first."""

DEFAULT_SCALE = {"min": 1.0, "max": 4.0, "proficient": 3.0}
"""The default 1-4 rubric; a score reaching ``proficient`` counts as proficient."""

_REQUIRED = ("id", "name", "domain")


def read_mapping(source: str | Path | Mapping) -> dict[str, Any]:
    """Return ``source`` as a dict: a mapping as is, or a ``.yaml``/``.yml``/``.json`` file."""
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
    else:
        data = yaml.safe_load(text)
    if not isinstance(data, Mapping):
        raise FrameworkError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return dict(data)


def build_framework(data: Mapping[str, Any]) -> nx.DiGraph:
    """Validate a framework mapping and return its prerequisite graph.

    Examples
    --------
    >>> g = build_framework({"name": "tiny", "competencies": [
    ...     {"id": "a", "name": "A", "domain": "cognitive"},
    ...     {"id": "b", "name": "B", "domain": "cognitive", "prerequisites": ["a"]}]})
    >>> list(g.edges)
    [('a', 'b')]
    """
    name = str(data.get("name", "framework"))
    items = data.get("competencies")
    if not isinstance(items, list) or not items:
        raise FrameworkError(f"framework {name!r}: 'competencies' must be a non-empty list")

    bad = [i for i, c in enumerate(items) if not isinstance(c, Mapping)]
    if bad:
        raise FrameworkError(f"framework {name!r}: competencies at positions {bad} are not mappings")
    missing = [
        (c.get("id", f"#{i}"), f) for i, c in enumerate(items) for f in _REQUIRED if not c.get(f)
    ]
    if missing:
        raise FrameworkError(
            f"framework {name!r}: competencies missing required fields (id, field): {missing}"
        )

    ids = [str(c["id"]) for c in items]
    seen: set[str] = set()
    dupes = sorted({i for i in ids if i in seen or seen.add(i)})
    if dupes:
        raise FrameworkError(f"framework {name!r}: duplicate competency ids {dupes}")

    edges = [(str(p), str(c["id"])) for c in items for p in (c.get("prerequisites") or [])]
    for e in data.get("edges") or []:
        if not isinstance(e, Mapping) or "from" not in e or "to" not in e:
            raise FrameworkError(f"framework {name!r}: edge {e!r} must be a mapping with 'from' and 'to'")
        edges.append((str(e["from"]), str(e["to"])))

    unknown = sorted({x for e in edges for x in e if x not in seen})
    if unknown:
        offending = [e for e in edges if e[0] not in seen or e[1] not in seen]
        raise FrameworkError(
            f"framework {name!r}: edges name unknown competency ids {unknown} (edges {offending})"
        )
    loops = sorted({u for u, v in edges if u == v})
    if loops:
        raise FrameworkError(f"framework {name!r}: self-loop prerequisites on {loops}")

    graph = nx.DiGraph(
        name=name,
        title=str(data.get("title", name)),
        scale={**DEFAULT_SCALE, **(data.get("scale") or {})},
    )
    if data.get("version") is not None:
        graph.graph["version"] = str(data["version"])
    for c in items:
        attrs = {k: v for k, v in c.items() if k not in ("id", "prerequisites")}
        attrs.setdefault("description", "")
        attrs["levels"] = dict(attrs.get("levels") or {})
        graph.add_node(str(c["id"]), **attrs)
    graph.add_edges_from(edges)

    try:
        cycle = nx.find_cycle(graph)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        raise CycleError([u for u, _ in cycle])

    scale = graph.graph["scale"]
    if not scale["min"] < scale["proficient"] <= scale["max"]:
        raise FrameworkError(
            f"framework {name!r}: scale must satisfy min < proficient <= max, got {scale}"
        )
    graph.graph["domains"] = sorted({d for _, d in graph.nodes(data="domain")})
    return graph


def load_framework(source: str | Path | Mapping) -> nx.DiGraph:
    """Read a framework from a YAML/JSON file (or a mapping) and return its graph."""
    return build_framework(read_mapping(source))


def default_framework(name: str = "educator") -> nx.DiGraph:
    """Return one of the frameworks shipped with the engine: ``educator`` or ``leader``."""
    available = ("educator", "leader")
    if name not in available:
        raise FrameworkError(f"no default framework {name!r}; available: {list(available)}")
    ref = resources.files("recommender.data").joinpath(f"framework_{name}.yaml")
    return build_framework(yaml.safe_load(ref.read_text(encoding="utf-8")))


def framework_to_dict(graph: nx.DiGraph) -> dict[str, Any]:
    """Inverse of :func:`build_framework`: a plain mapping that loads back to an equal graph."""
    return {
        "name": graph.graph.get("name"),
        "title": graph.graph.get("title"),
        "scale": dict(graph.graph.get("scale", DEFAULT_SCALE)),
        **({"version": graph.graph["version"]} if "version" in graph.graph else {}),
        "competencies": [
            {"id": n, **attrs, "prerequisites": sorted(graph.predecessors(n))}
            for n, attrs in graph.nodes(data=True)
        ],
    }
