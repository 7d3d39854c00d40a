"""Dependencies point one way (DESIGN.md): the engine (``recommender/``) never imports the web
layer, MLflow or the pipelines; the API (``api/``) never imports the pipelines (``pdrec serve``
hands it its model loader); only ``pipelines/tracking.py`` imports mlflow; and the import graph
of the three packages has no cycles.

Imports are read with :mod:`ast` from the files under the repository root (found from this
file, so the checks are the same from any working directory). Every import counts: at module
level, inside functions, and under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("recommender", "api", "pipelines")
FORBIDDEN_IN_ENGINE = {"fastapi", "mlflow", "api", "pipelines", "starlette", "uvicorn"}
FORBIDDEN_LAYERS = {"recommender": {"api", "pipelines"}, "api": {"pipelines"}}
"""Packages each layer must not import (the outer layers wire the inner ones, never back)."""


def _files(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module(p): p for package in PACKAGES for p in _files(package)}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({MODULES[self.source].relative_to(ROOT)}:" \
               f"{self.line})"


def _known(name: str) -> str | None:
    """The module of ours that importing ``name`` runs: itself, else its nearest package."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(module: str) -> list[Edge]:
    """The modules of ours that ``module`` imports, wherever the import statement sits.

    ``from package import name`` depends on ``package.name`` when that is a module, else on
    ``package`` (its ``__init__``); relative imports are resolved against ``module``.
    """
    path = MODULES[module]
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    edges = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                prefix = here[:len(here) - node.level + 1]
                base = ".".join(prefix + ([node.module] if node.module else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base
                     for a in node.names]
        else:
            continue
        for name in names:
            target = _known(name)
            if target is not None and target != module:
                edges.append(Edge(module, target, node.lineno))
    return edges


def import_graph() -> nx.DiGraph:
    graph = nx.DiGraph()
    graph.add_nodes_from(MODULES)
    for module in MODULES:
        for edge in imports_of(module):
            graph.add_edge(edge.source, edge.target, edge=edge)
    return graph


def test_the_checks_see_the_whole_code_base():
    """Guards the checks below against an empty or partial graph (a wrong root, a bad parse)."""
    assert {p for p in PACKAGES if (ROOT / p / "__init__.py").is_file()} == set(PACKAGES)
    graph = import_graph()
    for package in PACKAGES:
        assert sum(m.split(".")[0] == package for m in graph) >= 5, package
    assert graph.has_edge("api.app", "api.services")  # a module-level import
    assert graph.has_edge("pipelines.cli", "pipelines.tracking")  # inside a function
    assert graph.has_edge("pipelines.app", "api.app")


def test_the_import_graph_has_no_cycles():
    graph = import_graph()
    cycles = []
    for cycle in nx.simple_cycles(graph):
        steps = zip(cycle, cycle[1:] + cycle[:1], strict=True)
        cycles.append(" ; ".join(str(graph.edges[a, b]["edge"]) for a, b in steps))
        if len(cycles) == 10:
            break
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("layer", sorted(FORBIDDEN_LAYERS))
def test_inner_layers_never_import_outer_ones(layer):
    forbidden = FORBIDDEN_LAYERS[layer]
    wrong = [str(e) for m in MODULES if m.split(".")[0] == layer
             for e in imports_of(m) if e.target.split(".")[0] in forbidden]
    assert not wrong, f"{layer}/ imports {sorted(forbidden)}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("path", _files("recommender"),
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_engine_module_imports_no_outer_layer(path):
    assert not imported_roots(path) & FORBIDDEN_IN_ENGINE


def test_only_tracking_imports_mlflow():
    users = {p.name for p in _files("pipelines") if "mlflow" in imported_roots(p)}
    assert users == {"tracking.py"}
