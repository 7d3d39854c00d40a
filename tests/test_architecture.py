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


# ---------------------------------------------------------------------------------------------
# size limits (#17): no file above MAX_FILE_LINES lines, no function above MAX_FUNCTION_LINES

MAX_FILE_LINES = 600
"""Lines of a source file (every line, blank and comment ones included)."""

MAX_FUNCTION_LINES = 80
"""Lines of a function or method from its ``def`` line to its last line, its docstring left out
(decorators are not counted; a nested function counts in its parent and on its own)."""

OVERSIZE_ALLOWED: dict[str, tuple[int, str]] = {
    # name -> (its size now: a ceiling, it may shrink but not grow; why it may be over the limit).
    # A file is named by its path, a function by "path::qualified.name".
    #
    # An applied migration is the schema as it first ran; it is kept as it is, not restructured.
    "recommender/store/migrations/versions/0001_initial.py::upgrade":
        (94, "an applied alembic revision: the schema as first shipped, kept as it ran"),
    #
    # The files being changed in #13 (recommender/estimate.py, recommender/ranking/*.py,
    # recommender/pathway.py, recommender/serving.py, recommender/store/mastery.py,
    # api/services.py, api/routers/recommendations.py, educators.py, educator_history.py) have
    # no offender now (largest: estimate.py 536 lines; serving.feedback_context 54 lines). One
    # that appears there goes here as
    #   "path::name": (size, "being changed in #13; split later"),
}


def _docstring_lines(node: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    first = node.body[0]
    if (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)):
        return first.end_lineno - first.lineno + 1
    return 0


def function_lines(source: str) -> dict[str, int]:
    """``qualified.name -> lines`` (:data:`MAX_FUNCTION_LINES`'s count) of every function in
    ``source``, methods and nested functions included."""
    sizes = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                sizes[name] = child.end_lineno - child.lineno + 1 - _docstring_lines(child)
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return sizes


def sizes() -> dict[str, tuple[int, int]]:
    """``name -> (lines, limit)`` of every file and function of the three packages."""
    out = {}
    for path in MODULES.values():
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        out[rel] = (len(text.splitlines()), MAX_FILE_LINES)
        for name, n in function_lines(text).items():
            out[f"{rel}::{name}"] = (n, MAX_FUNCTION_LINES)
    return out


def test_function_lines_count_from_def_to_end_without_the_docstring():
    source = ('class A:\n'
              '    @property\n'
              '    def f(self):\n'
              '        """Two\n'
              '        lines."""\n'
              '        def g():\n'
              '            return 1\n'
              '        return g()\n'
              'async def h(): pass\n')
    assert function_lines(source) == {"A.f": 4, "A.f.g": 2, "h": 1}


def test_no_file_or_function_is_over_the_size_limit():
    over = [f"{name}: {n} lines (limit {limit})" for name, (n, limit) in sorted(sizes().items())
            if n > limit and name not in OVERSIZE_ALLOWED]
    assert not over, ("split these into well-named pieces (or, if one must be longer, say why in "
                      "OVERSIZE_ALLOWED):\n" + "\n".join(over))


def test_allowed_oversize_ones_do_not_grow_and_are_still_over():
    now = sizes()
    wrong = []
    for name, (ceiling, _why) in sorted(OVERSIZE_ALLOWED.items()):
        if name not in now:
            wrong.append(f"{name}: gone; remove it from OVERSIZE_ALLOWED")
            continue
        n, limit = now[name]
        if n > ceiling:
            wrong.append(f"{name}: {n} lines, more than the {ceiling} allowed; split it")
        elif n <= limit:
            wrong.append(f"{name}: {n} lines, within the limit ({limit}); remove it from "
                         "OVERSIZE_ALLOWED")
    assert not wrong, "\n".join(wrong)
