"""The activity catalog: what each learning activity develops, at what cost.

A catalog file (YAML or JSON) holds ``activities``, each::

    id: ACT-001
    title: Formative assessment foundations
    format: course            # one of FORMATS
    competencies: {INS.FA: 1.0, COG.AL: 0.5}   # 1 to 3 targets, weights in (0, 1]
    hours: 6
    modality: online          # one of MODALITIES
    level: developing         # one of recommender.graph.LEVELS
    expected_gain: 0.12       # prior expected rise in P(mastery) of a weight-1 target
    description: ...

:func:`load_catalog` checks every field and every competency reference against the framework,
and names each activity and value that does not resolve. The result is a :class:`Catalog`: one
frame of activities and one long frame of (activity, competency, weight) targets, the shapes the
ranker vectorizes over.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import networkx as nx
import pandas as pd
import yaml

from recommender.errors import CatalogError
from recommender.graph.framework import LEVELS, read_mapping

__all__ = ["FORMATS", "MODALITIES", "Catalog", "build_catalog", "load_catalog", "default_catalog"]

FORMATS = (
    "course",
    "micro_credential",
    "coaching_cycle",
    "plc_cycle",
    "peer_observation",
    "lesson_study",
    "residency",
    "video_reflection",
)
"""Activity formats named by the seed texts."""

MODALITIES = ("online", "in_person", "job_embedded", "blended")

_ACTIVITY_COLUMNS = [
    "title", "format", "hours", "modality", "level", "expected_gain", "description",
]


@dataclass(frozen=True)
class Catalog:
    """Activities (indexed by ``activity_id``) and their competency targets (long form)."""

    activities: pd.DataFrame
    targets: pd.DataFrame  # columns: activity_id, competency_id, weight

    def __len__(self) -> int:
        return len(self.activities)


def build_catalog(data: Mapping, graph: nx.DiGraph) -> Catalog:
    """Validate a catalog mapping against ``graph`` and return a :class:`Catalog`."""
    items = data.get("activities")
    if not isinstance(items, list) or not items:
        raise CatalogError("catalog: 'activities' must be a non-empty list")
    problems: list[str] = []
    seen: set[str] = set()
    rows, targets = [], []
    for pos, a in enumerate(items):
        aid = str(a.get("id", f"#{pos}")) if isinstance(a, Mapping) else f"#{pos}"
        if not isinstance(a, Mapping):
            problems.append(f"{aid}: not a mapping")
            continue
        if aid in seen:
            problems.append(f"{aid}: duplicate activity id")
        seen.add(aid)
        for field in ("id", "title"):
            if not a.get(field):
                problems.append(f"{aid}: missing {field!r}")
        if a.get("format") not in FORMATS:
            problems.append(f"{aid}: format {a.get('format')!r} is not one of {list(FORMATS)}")
        if a.get("modality") not in MODALITIES:
            problems.append(f"{aid}: modality {a.get('modality')!r} is not one of {list(MODALITIES)}")
        if a.get("level") not in LEVELS:
            problems.append(f"{aid}: level {a.get('level')!r} is not one of {list(LEVELS)}")
        hours, gain = a.get("hours"), a.get("expected_gain")
        if not isinstance(hours, int | float) or isinstance(hours, bool) or not hours > 0:
            problems.append(f"{aid}: hours {hours!r} must be a positive number")
        if not isinstance(gain, int | float) or isinstance(gain, bool) or not 0 < gain <= 1:
            problems.append(f"{aid}: expected_gain {gain!r} must be in (0, 1]")
        comps = a.get("competencies")
        if not isinstance(comps, Mapping) or not 1 <= len(comps) <= 3:
            problems.append(f"{aid}: competencies must map 1 to 3 competency ids to weights")
            comps = {}
        for cid, w in comps.items():
            if str(cid) not in graph:
                problems.append(f"{aid}: competency {cid!r} is not in framework {graph.graph.get('name')!r}")
            if not isinstance(w, int | float) or isinstance(w, bool) or not 0 < w <= 1:
                problems.append(f"{aid}: weight {w!r} of {cid!r} must be in (0, 1]")
            targets.append((aid, str(cid), float(w) if isinstance(w, int | float) else 0.0))
        rows.append({"activity_id": aid, **{c: a.get(c) for c in _ACTIVITY_COLUMNS}})
    if problems:
        raise CatalogError(f"catalog has {len(problems)} problem(s):\n  " + "\n  ".join(problems))
    activities = pd.DataFrame(rows).set_index("activity_id")
    activities["description"] = activities["description"].fillna("")
    activities = activities.astype({"hours": float, "expected_gain": float})
    targets_df = pd.DataFrame(targets, columns=["activity_id", "competency_id", "weight"])
    return Catalog(activities=activities, targets=targets_df)


def load_catalog(source: str | Path | Mapping, graph: nx.DiGraph) -> Catalog:
    """Read a catalog from YAML/JSON (or a mapping) and check it against ``graph``."""
    return build_catalog(read_mapping(source), graph)


def default_catalog(graph: nx.DiGraph) -> Catalog:
    """The shipped catalog of activities for the default educator framework."""
    ref = resources.files("recommender.data").joinpath("catalog_educator.yaml")
    return build_catalog(yaml.safe_load(ref.read_text(encoding="utf-8")), graph)
