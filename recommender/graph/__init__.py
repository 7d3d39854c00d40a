"""Competency frameworks as prerequisite graphs: loading, validation and pure queries."""

from recommender.graph.framework import (
    DEFAULT_SCALE,
    LEVELS,
    build_framework,
    default_framework,
    framework_to_dict,
    load_framework,
)
from recommender.graph.queries import (
    DEFAULT_THRESHOLD,
    all_dependents,
    all_prerequisites,
    check_ids,
    dependents,
    depth,
    depths,
    frontier,
    is_mastered,
    prerequisite_closure,
    prerequisites,
)

__all__ = [
    "DEFAULT_SCALE",
    "DEFAULT_THRESHOLD",
    "LEVELS",
    "all_dependents",
    "all_prerequisites",
    "build_framework",
    "check_ids",
    "default_framework",
    "dependents",
    "depth",
    "depths",
    "framework_to_dict",
    "frontier",
    "is_mastered",
    "load_framework",
    "prerequisite_closure",
    "prerequisites",
]
