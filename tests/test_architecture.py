"""The engine never imports the web layer, MLflow or the pipelines (DESIGN.md: dependencies
point one way), and only one pipelines module imports mlflow."""

import ast
from pathlib import Path

import pytest

FORBIDDEN_IN_ENGINE = {"fastapi", "mlflow", "api", "pipelines", "starlette", "uvicorn"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", sorted(Path("recommender").rglob("*.py")), ids=str)
def test_engine_module_imports_no_outer_layer(path):
    assert not imported_roots(path) & FORBIDDEN_IN_ENGINE


def test_only_tracking_imports_mlflow():
    users = {p.name for p in Path("pipelines").rglob("*.py") if "mlflow" in imported_roots(p)}
    assert users == {"tracking.py"}
