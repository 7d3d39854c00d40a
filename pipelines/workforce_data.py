"""Training data read from a workforce folder (``data.kind: workforce``).

The folder is the layout :func:`recommender.simulate.workforce.write_workforce` writes
(``pdrec generate-workforce``) and ``pdrec score`` reads: ``educators/``, ``evidence/`` and
``completions/``, one ``<name>.parquet`` per partition of whole educators::

    kind: workforce
    path: data/workforce        # relative to the working directory

on the shipped ``educator`` framework and its catalog. Each partition's evidence is validated
against the framework and the partition's own educators (:func:`read_partition`: a bad row is
rejected and counted, never fatal to the others). :func:`read_workforce` reads every partition
into one process, in partition order (the single-machine trainer);
:mod:`pipelines.train_workforce` reads one partition at a time on a Dask cluster's workers, so
no machine holds the folder whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import pandas as pd

from pipelines.score import partition_names, read_partition_frames
from recommender.catalog import Catalog, default_catalog
from recommender.evidence import NO_FUTURE_CHECK, proficient_threshold, validate_evidence
from recommender.graph import default_framework

__all__ = ["Partition", "WorkforceData", "read_partition", "read_workforce",
           "workforce_partitions"]


@dataclass(frozen=True)
class Partition:
    """One partition's frames, its evidence validated (canonical columns, ``score_norm``,
    ``proficient``), and how many evidence rows were rejected."""

    educators: pd.DataFrame
    evidence: pd.DataFrame
    completions: pd.DataFrame
    rejected: int


@dataclass(frozen=True)
class WorkforceData:
    """A whole workforce folder read into this process (:func:`read_workforce`)."""

    graph: nx.DiGraph
    catalog: Catalog
    educators: pd.DataFrame
    evidence: pd.DataFrame
    completions: pd.DataFrame
    rejected: int
    source: dict


def workforce_partitions(data: dict) -> tuple[Path, list[str]]:
    """The folder of ``data`` (``data.path``) and its partitions' names, sorted; a folder that
    does not exist or holds no partition is refused by name."""
    root = Path(str(data.get("path") or ""))
    if not str(data.get("path") or "") or not root.is_dir():
        raise FileNotFoundError(f"data.path {data.get('path')!r} is not a workforce folder; "
                                "write one with `pdrec generate-workforce --out DIR`")
    return root, partition_names(root)


def read_partition(graph: nx.DiGraph, root, name: str) -> Partition:
    """Partition ``name`` of the folder ``root``, its evidence validated against ``graph`` and
    the partition's educators."""
    frames = read_partition_frames(root, name)
    checked = validate_evidence(
        frames["evidence"], competencies=list(graph),
        educators=frames["educators"]["educator_id"].to_numpy(object),
        proficient_at=proficient_threshold(graph.graph["scale"]), now=NO_FUTURE_CHECK)
    return Partition(frames["educators"], checked.valid, frames["completions"],
                     len(checked.rejections))


def read_workforce(data: dict) -> WorkforceData:
    """Every partition of ``data['path']`` read and validated into one process, in partition
    order (the frames the Dask path reads a partition at a time, concatenated)."""
    root, names = workforce_partitions(data)
    graph = default_framework("educator")
    parts = [read_partition(graph, root, name) for name in names]
    return WorkforceData(
        graph, default_catalog(graph),
        *(pd.concat([getattr(p, f) for p in parts], ignore_index=True)
          for f in ("educators", "evidence", "completions")),
        rejected=sum(p.rejected for p in parts),
        source={"kind": "workforce", "path": str(data["path"])})
