"""Training feature frames built on a Dask cluster's workers, one partition of whole educators each.

A training row reads only its own educator's strictly earlier evidence, completions and profile,
and what the feature builder learned at ``fit`` (:mod:`recommender.features.chunks`), so
:meth:`~recommender.features.FeatureBuilder.training_frame` over the records of a partition of
whole educators gives exactly that partition's rows of the whole training frame, value for
value. Each partition's frame is built by a task on a worker and stays there; the driver sees
only what a partition reports about itself (its row count and the levels of its categorical
columns), and the model's input matrix of each partition is then made on the same worker
(:func:`partition_matrices`), where ``lightgbm.dask`` boosts on it.

What each task reads is that partition's evidence, completions and profiles, sent to it by the
driver (:func:`submit_frames`): the raw inputs (a few columns per record), not the feature
frame (one float per feature per record, about twenty times as large).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.features import FeatureBuilder
from recommender.models.base import learn_categories

__all__ = [
    "ROWS_PER_PARTITION",
    "FramePartitions",
    "educator_partitions",
    "partition_count",
    "submit_frames",
    "partition_matrices",
    "merge_levels",
    "partition_head",
    "partition_schemas",
    "split_rows",
]

ROWS_PER_PARTITION = 100_000
"""Training records per partition by default: a build's temporaries of about 0.5 GB at the
default chunk budget, and enough partitions to spread over the workers."""


def partition_count(n_records: int, n_workers: int, partitions: int | None = None) -> int:
    """``partitions`` if given (checked), else one per :data:`ROWS_PER_PARTITION` records and
    at least one per worker."""
    if partitions is None:
        return max(int(n_workers), math.ceil(n_records / ROWS_PER_PARTITION), 1)
    if isinstance(partitions, bool) or not isinstance(partitions, (int, np.integer)) \
            or partitions < 1:
        raise ValueError(f"partitions must be a positive number of educator partitions; "
                         f"got {partitions!r}")
    return int(partitions)


def educator_partitions(educator_ids, n: int) -> list[np.ndarray]:
    """The distinct ``educator_ids`` in id order, cut into at most ``n`` runs of about equal
    size (none empty): partitions of whole educators."""
    ids = np.sort(pd.unique(np.asarray(educator_ids, dtype=object)))
    return [part for part in np.array_split(ids, max(1, min(int(n), len(ids)))) if len(part)]


def split_rows(frame: pd.DataFrame, ids: list[np.ndarray]) -> list[pd.DataFrame]:
    """``frame``'s rows of each partition of ``ids`` (runs of sorted educator ids, as
    :func:`educator_partitions` makes them), in frame order; rows of other educators are left
    out. One pass over the frame, whatever the number of partitions."""
    col = frame["educator_id"].to_numpy(dtype=object)
    firsts = np.array([part[0] for part in ids], dtype=object)
    k = np.searchsorted(firsts, col, side="right") - 1
    k[pd.Index(np.concatenate(ids)).get_indexer(col) < 0] = -1
    groups = dict(tuple(frame.groupby(k, sort=True)))
    empty = frame.iloc[:0]
    return [groups.get(i, empty) for i in range(len(ids))]


def build_partition(builder: FeatureBuilder, evidence: pd.DataFrame, completions: pd.DataFrame,
                    educators: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """The training frame of one partition's records (a worker task)."""
    return builder.training_frame(evidence, completions=completions, educators=educators)


def partition_head(part: tuple[pd.DataFrame, np.ndarray]) -> pd.DataFrame:
    """A partition frame's zero first rows: its column names and dtypes (a worker task)."""
    return part[0].head(0)


def partition_schema(part: tuple[pd.DataFrame, np.ndarray], categorical: Sequence[str]
                     ) -> tuple[int, dict[str, list]]:
    """What a partition reports to the driver: its rows and the levels of its ``categorical``
    columns (a worker task)."""
    X = part[0]
    return len(X), {c: learn_categories(X[c]) for c in categorical}


def merge_levels(head: pd.DataFrame, levels: Sequence[dict[str, list]]) -> dict[str, list]:
    """The levels the whole frame's categorical columns have, from each partition's.

    A column of category dtype has the builder's fixed categories in every partition (a
    partition differing from another is an error naming the column); any other categorical
    column's levels are the union of the partitions', sorted as
    :func:`~recommender.models.base.learn_categories` sorts them.
    """
    merged: dict[str, list] = {}
    for col in levels[0]:
        seen = [part[col] for part in levels]
        if isinstance(head[col].dtype, pd.CategoricalDtype):
            if any(s != seen[0] for s in seen):
                raise ValueError(f"column {col!r} has different categories in different "
                                 "educator partitions; the builder's dtypes should fix them")
            merged[col] = list(seen[0])
        else:
            merged[col] = sorted(set().union(*seen), key=str)
    return merged


def _matrix_of(model, part: tuple[pd.DataFrame, np.ndarray]) -> np.ndarray:
    """The model's input matrix of one partition's frame (a worker task)."""
    return model._matrix(part[0])


def _labels_of(part: tuple[pd.DataFrame, np.ndarray]) -> np.ndarray:
    return np.asarray(part[1], dtype=np.float64)


@dataclass
class FramePartitions:
    """Partition frames held on the workers: ``frames[i]`` is a future of ``(X, y)`` of the
    educators ``ids[i]`` pinned to ``workers[i]``; ``rows[i]`` its row count once known."""

    client: object
    ids: list[np.ndarray]
    workers: list[str]
    frames: list
    rows: list[int]

    def release(self) -> None:
        """Let the workers drop the frames (the matrices made from them stay)."""
        self.frames = []


def submit_frames(client, builder_future, evidence: pd.DataFrame, completions: pd.DataFrame,
                  educators: pd.DataFrame, ids: list[np.ndarray], *, offset: int = 0,
                  key: str = "frame") -> FramePartitions:
    """One build task per partition of ``ids``, partition ``i`` pinned to worker
    ``(offset + i) mod workers`` (the same placement, so the same trees, run after run).

    Each task is sent only its partition's rows of the three inputs; it keeps its frame in
    the worker's memory and nothing comes back to the driver yet.
    """
    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        raise ValueError("the Dask cluster has no workers to build feature frames on")
    placed = [workers[(offset + i) % len(workers)] for i in range(len(ids))]
    frames = []
    rows = [split_rows(frame, ids) for frame in (evidence, completions, educators)]
    for i, worker in enumerate(placed):
        inputs = [client.scatter(split[i], workers=[worker]) for split in rows]
        frames.append(client.submit(build_partition, builder_future, *inputs, workers=[worker],
                                    key=f"{key}-{i}-{client.id[-8:]}", pure=False))
    return FramePartitions(client, list(ids), placed, frames, [])


def partition_schemas(parts: FramePartitions, categorical: Sequence[str]
                      ) -> list[dict[str, list]]:
    """Each partition's levels of its ``categorical`` columns (:func:`partition_schema`);
    sets ``parts.rows``."""
    client = parts.client
    got = client.gather([client.submit(partition_schema, f, list(categorical), workers=[w],
                                       pure=False)
                         for f, w in zip(parts.frames, parts.workers, strict=True)])
    parts.rows = [n for n, _ in got]
    return [levels for _, levels in got]


def partition_matrices(parts: FramePartitions, model_future, n_columns: int):
    """``(X, y)``: dask arrays of every partition's model matrix and labels, each chunk made
    and kept on the worker that holds the partition's frame."""
    import dask.array as da

    client = parts.client
    placed = list(zip(parts.frames, parts.workers, parts.rows, strict=True))
    matrices = [client.submit(_matrix_of, model_future, f, workers=[w], pure=False)
                for f, w, _ in placed]
    labels = [client.submit(_labels_of, f, workers=[w], pure=False) for f, w, _ in placed]
    X = da.concatenate([da.from_delayed(m, shape=(n, n_columns), dtype=np.float64)
                        for m, (_, _, n) in zip(matrices, placed, strict=True)])
    y = da.concatenate([da.from_delayed(v, shape=(n,), dtype=np.float64)
                        for v, (_, _, n) in zip(labels, placed, strict=True)])
    return X, y, matrices, labels
