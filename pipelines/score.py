"""Batch scoring of a workforce, partition by partition: mastery and explained top-k per educator.

One function does the work, :func:`score_partition`: validate a partition's evidence at the
door, estimate every educator's mastery with the one estimator
(:func:`recommender.serving.estimate_mastery` on a
:class:`~recommender.estimate.MasteryEstimator`, as the API does), rank the catalog for each
(:func:`~recommender.ranking.rank_batch`) and, with ``explain``, explain each pick with
:func:`~recommender.ranking.rank_activities` on the same index (same order and scores; it is the
API's explained path). :func:`score_folder_local` calls it on every partition in this process;
:func:`score_folder_dask` submits one task per partition to a ``dask.distributed`` client, so
the numbers are the same either way (a test compares them exactly).

Memory is bounded by a partition: a task reads its partition's three files, scores them and
writes two files (``mastery/<name>.parquet``, ``recommendations/<name>.parquet``), returning only
a few counts; the workers of a :class:`~dask.distributed.LocalCluster` run one thread each, so a
worker holds one partition at a time.

Input layout: the one :func:`recommender.simulate.workforce.write_workforce` writes
(``educators/``, ``evidence/``, ``completions/`` with one ``<name>.parquet`` per partition).
"""

from __future__ import annotations

import resource
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import orjson
import pandas as pd

from recommender.catalog import Catalog
from recommender.estimate import MasteryEstimator
from recommender.evidence import proficient_threshold, validate_evidence
from recommender.ranking import (
    EducatorContext,
    RankingIndex,
    RankingRequest,
    prepare,
    rank_activities,
    rank_batch,
)
from recommender.serving import estimate_mastery
from recommender.simulate.workforce import WORKFORCE_FRAMES

__all__ = ["PartitionResult", "Progress", "Scorer", "explained_frame", "make_scorer",
           "partition_names", "peak_rss_mb", "read_partition_frames", "run_local", "run_on_dask",
           "score_file", "score_folder_dask", "score_folder_local", "score_partition",
           "write_partition"]

MASTERY_OUT = ("educator_id", "competency_id", "p_mastery", "p_bound", "n_evidence")
"""Columns of the mastery files (the estimator's answer the ranker reads)."""


@dataclass(frozen=True)
class Scorer:
    """Everything a partition is scored with, built once and shipped to every worker."""

    graph: nx.DiGraph
    catalog: Catalog
    estimator: MasteryEstimator
    index: RankingIndex
    request: RankingRequest
    as_of: pd.Timestamp
    explain: bool = True
    model_version: str | None = None


@dataclass(frozen=True)
class PartitionResult:
    """What scoring one partition produced (the frames) or wrote (their counts)."""

    name: str
    educators: int
    recommendations: int
    rejected: int
    seconds: float
    peak_rss_mb: float


def make_scorer(graph: nx.DiGraph, catalog: Catalog, *, as_of, predictor=None, gains=None,
                severity=None, k: int = 5, explain: bool = True,
                model_version: str | None = None) -> Scorer:
    """A :class:`Scorer` with the estimator and ranking index built once."""
    estimator = MasteryEstimator(graph, catalog, predictor=predictor, gains=gains,
                                 severity=severity)
    at = pd.Timestamp(as_of)
    at = at.tz_localize("UTC") if at.tzinfo is None else at.tz_convert("UTC")
    return Scorer(graph, catalog, estimator, prepare(graph, catalog, gains),
                  RankingRequest(k=k), at, explain, model_version)


def _contexts(educators: pd.DataFrame, completions: pd.DataFrame) -> dict[str, EducatorContext]:
    """Goals (``'|'``-joined ids in ``goals``) and completed activities per educator."""
    done = (completions.groupby("educator_id", sort=False)["activity_id"].agg(frozenset)
            if len(completions) else pd.Series(dtype=object))
    goals = (educators["goals"].fillna("").str.split("|") if "goals" in educators
             else pd.Series([[]] * len(educators), index=educators.index))
    ids = educators["educator_id"].to_numpy(object)
    return {e: EducatorContext(goals=tuple(x for x in g if x), completed=done.get(e, frozenset()))
            for e, g in zip(ids, goals.to_numpy(object), strict=True)}


def explained_frame(graph: nx.DiGraph, catalog: Catalog,
                    tables: Iterable[tuple[str, pd.DataFrame]],
                    contexts: Mapping[str, EducatorContext], *, request: RankingRequest,
                    index: RankingIndex, model_version: str | None) -> pd.DataFrame:
    """Every educator's explained top-k, one :func:`rank_activities` call each (the API's
    explained path) on ``(educator_id, mastery table)`` pairs; the explanation as JSON."""
    rows = []
    for e, table in tables:
        ranked = rank_activities(graph, catalog, table, context=contexts[e], request=request,
                                 index=index, model_version=model_version)
        rows.extend((e, i + 1, r.activity_id, r.score, r.reason,
                     orjson.dumps(r.explanation).decode()) for i, r in enumerate(ranked))
    return pd.DataFrame(rows, columns=["educator_id", "rank", "activity_id", "score", "reason",
                                       "explanation"])


def score_partition(scorer: Scorer, evidence: pd.DataFrame, completions: pd.DataFrame,
                    educators: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Mastery and top-k of every educator of one partition.

    ``evidence`` is raw (the evidence contract: ``score, scale_min, scale_max, ...``) and is
    validated here against the framework, the partition's educators and ``as_of``: a bad row is
    rejected and counted, never fatal to the others.

    Returns
    -------
    (mastery, recommendations, rejected)
        ``mastery``: :data:`MASTERY_OUT` per (educator, competency); ``recommendations``:
        ``educator_id, rank, activity_id, score`` and, with ``explain``, ``reason`` and
        ``explanation`` (JSON); ``rejected``: evidence rows refused at validation.
    """
    ids = educators["educator_id"].to_numpy(object)
    checked = validate_evidence(evidence, competencies=list(scorer.graph), educators=ids,
                                proficient_at=proficient_threshold(scorer.graph.graph["scale"]),
                                now=scorer.as_of)
    mine = completions[completions["educator_id"].isin(ids)
                       & (completions["completed_at"] <= scorer.as_of)]
    mastery = estimate_mastery(scorer.estimator, checked.valid, ids, as_of=scorer.as_of,
                               completions=mine, educators=educators)
    mastery = mastery.loc[:, list(MASTERY_OUT)]
    contexts = _contexts(educators, mine)
    if scorer.explain:
        tables = ((e, t.drop(columns="educator_id"))
                  for e, t in mastery.groupby("educator_id", sort=False))
        recs = explained_frame(scorer.graph, scorer.catalog, tables, contexts,
                               request=scorer.request, index=scorer.index,
                               model_version=scorer.model_version)
    else:
        recs = rank_batch(scorer.graph, scorer.catalog, mastery, contexts=contexts,
                          request=scorer.request, index=scorer.index)
    return mastery, recs.reset_index(drop=True), len(checked.rejections)


def partition_names(root) -> list[str]:
    """The partitions of a workforce folder (stems present in all three subfolders), sorted."""
    root = Path(root)
    stems = [{p.stem for p in (root / sub).glob("*.parquet")} for sub in WORKFORCE_FRAMES]
    if not stems[0]:
        raise FileNotFoundError(f"{root}: no educators/*.parquet partition; write one with "
                                "`pdrec generate-workforce --out`")
    missing = sorted((stems[0] - stems[1]) | (stems[0] - stems[2]))
    if missing:
        raise FileNotFoundError(f"{root}: partitions {missing[:5]} lack an evidence or "
                                "completions file")
    return sorted(stems[0])


def read_partition_frames(root, name: str) -> dict[str, pd.DataFrame]:
    """Partition ``name`` of the workforce folder ``root``: its ``educators``, ``evidence`` and
    ``completions`` frames, as read (evidence not validated)."""
    return {sub: pd.read_parquet(Path(root) / sub / f"{name}.parquet")
            for sub in WORKFORCE_FRAMES}


def score_file(scorer: Scorer, root, name: str, out) -> PartitionResult:
    """Read partition ``name`` of ``root``, score it, write its two files under ``out``.

    The unit of work of both the single-process and the Dask paths; returns counts only.
    """
    t0 = time.perf_counter()
    frames = read_partition_frames(root, name)
    mastery, recs, rejected = score_partition(scorer, **frames)
    write_partition(out, name, mastery, recs)
    return PartitionResult(name, len(frames["educators"]), len(recs), rejected,
                           time.perf_counter() - t0, peak_rss_mb())


def write_partition(out, name: str, mastery: pd.DataFrame, recs: pd.DataFrame) -> None:
    """A partition's two files: ``out/mastery/<name>.parquet`` and
    ``out/recommendations/<name>.parquet``."""
    for sub, frame in (("mastery", mastery), ("recommendations", recs)):
        (Path(out) / sub).mkdir(parents=True, exist_ok=True)
        frame.to_parquet(Path(out) / sub / f"{name}.parquet", index=False)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports KB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


Progress = Callable[[PartitionResult, int, int], None]


def score_folder_local(scorer: Scorer, root, out, *, progress: Progress | None = None
                       ) -> list[PartitionResult]:
    """Every partition of ``root`` scored in this process, one after the other."""
    return run_local(score_file, scorer, [(n, (root, n, out)) for n in partition_names(root)],
                     progress=progress)


def run_local(func: Callable[..., PartitionResult], shared,
              tasks: Sequence[tuple[str, tuple]], *, progress: Progress | None = None
              ) -> list[PartitionResult]:
    """``func(shared, *args)`` for every ``(name, args)`` of ``tasks``, one after the other in
    this process (:func:`run_on_dask`'s counterpart)."""
    results = []
    for i, (_, args) in enumerate(tasks, start=1):
        results.append(func(shared, *args))
        if progress:
            progress(results[-1], i, len(tasks))
    return results


def score_folder_dask(scorer: Scorer, root, out, client, *, progress: Progress | None = None
                      ) -> list[PartitionResult]:
    """Every partition of ``root`` scored as one task each on a ``dask.distributed`` client.

    The scorer is broadcast to the workers once; results come back as they complete (the
    progress callback sees them in that order) and are returned in partition order. ``root``
    and ``out`` must be paths every worker can read and write (a shared file system on a real
    cluster).
    """
    names = partition_names(root)
    shared = client.scatter(scorer, broadcast=True)
    root, out = str(Path(root).resolve()), str(Path(out).resolve())
    return run_on_dask(client, score_file, shared, [(n, (root, n, out)) for n in names],
                       progress=progress)


def run_on_dask(client, func: Callable[..., PartitionResult], shared,
                tasks: Sequence[tuple[str, tuple]], *, progress: Progress | None = None
                ) -> list[PartitionResult]:
    """``func(shared, *args)`` for every ``(name, args)`` of ``tasks``, one task each.

    ``shared`` is what every task is scored with, already scattered; results come back as they
    complete (the progress callback sees them in that order) and are returned in task order.
    """
    from dask.distributed import as_completed

    futures = [client.submit(func, shared, *args, key=f"score-{name}-{uuid.uuid4().hex[:8]}",
                             pure=False) for name, args in tasks]
    done: dict[str, PartitionResult] = {}
    for i, fut in enumerate(as_completed(futures), start=1):
        result = fut.result()
        done[result.name] = result
        if progress:
            progress(result, i, len(tasks))
    return [done[name] for name, _ in tasks]
