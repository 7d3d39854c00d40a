"""Training feature frames built on a Dask cluster's workers, one partition of whole educators each.

A training row reads only its own educator's strictly earlier evidence, completions and profile,
and what the feature builder learned at ``fit`` (:mod:`recommender.features.chunks`), so
:meth:`~recommender.features.FeatureBuilder.training_frame` over the records of a partition of
whole educators gives exactly that partition's rows of the whole training frame, value for
value. Each partition's frame is built by a task on a worker and turned there into the model's
input matrix (:func:`partition_matrix`; categoricals as codes of levels the model fixed before
any frame was built, from the fitted builder's category dtypes), which stays on that worker,
where ``lightgbm.dask`` boosts on it; the driver sees only each partition's row count.

What each task reads is that partition's evidence, completions and profiles, sent to it by the
driver (:func:`submit_matrices`): the raw inputs (12 columns per record on the synthetic data),
not the feature frame (79 columns, about four times the bytes of that evidence, whose string
ids weigh most), and the driver never holds more than the raw inputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from recommender.features import FeatureBuilder

__all__ = [
    "ROWS_PER_PARTITION",
    "MatrixPartitions",
    "educator_partitions",
    "partition_count",
    "partition_matrix",
    "split_rows",
    "submit_matrices",
]

ROWS_PER_PARTITION = 100_000
"""Training records per partition by default: a build's temporaries of about 0.5 GB at the
default chunk budget, and enough partitions to spread over the workers."""


def partition_count(n_records: int, n_workers: int, partitions: int | None = None) -> int:
    """``partitions`` if given (checked), else one per :data:`ROWS_PER_PARTITION` of
    ``n_records`` and at least one per worker."""
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


def partition_matrix(builder: FeatureBuilder, model, evidence: pd.DataFrame,
                     completions: pd.DataFrame, educators: pd.DataFrame
                     ) -> tuple[np.ndarray, np.ndarray]:
    """One partition's training frame, built and turned into the model's input matrix, and
    its labels (a worker task: the frame is dropped once its matrix is made, so a worker holds
    its matrices and at most one frame).

    The model's categorical levels were fixed before boosting from the builder's dtypes; a
    partition whose column has other categories would be coded differently, so it is refused
    by name.
    """
    X, y = builder.training_frame(evidence, completions=completions, educators=educators)
    for col, levels in model.categories_.items():
        dtype = X[col].dtype
        if not isinstance(dtype, pd.CategoricalDtype) or list(dtype.categories) != list(levels):
            raise ValueError(f"column {col!r} of an educator partition's frame is not of the "
                             "builder's category dtype the model's levels were fixed from")
    return model.input_matrix(X), np.asarray(y, dtype=np.float64)


def _matrix(part: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return part[0]


def _labels(part: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return part[1]


def _rows(part: tuple[np.ndarray, np.ndarray]) -> int:
    return len(part[1])


@dataclass
class MatrixPartitions:
    """Partition matrices held on the workers: ``matrices[i]`` and ``labels[i]`` are futures of
    the model matrix and labels of educators ``ids[i]``, on ``workers[i]``, ``rows[i]`` rows."""

    ids: list[np.ndarray]
    workers: list[str]
    matrices: list
    labels: list
    rows: list[int]

    @classmethod
    def held(cls, client, built: list, placed: list[str], ids: list[np.ndarray],
             keep_empty: bool = True) -> MatrixPartitions:
        """The partitions of ``built`` (futures of :func:`partition_matrix` results, ``i`` on
        worker ``placed[i]``), their matrices and labels left where they lie; only the row
        counts come to the driver. ``keep_empty=False`` leaves out partitions of no rows."""
        matrices = [client.submit(_matrix, b, workers=[w], pure=False)
                    for b, w in zip(built, placed, strict=True)]
        labels = [client.submit(_labels, b, workers=[w], pure=False)
                  for b, w in zip(built, placed, strict=True)]
        counts = client.gather([client.submit(_rows, b, workers=[w], pure=False)
                                for b, w in zip(built, placed, strict=True)])
        keep = [i for i, n in enumerate(counts) if keep_empty or n]
        return cls([ids[i] for i in keep], [placed[i] for i in keep],
                   [matrices[i] for i in keep], [labels[i] for i in keep],
                   [counts[i] for i in keep])

    def as_dask_arrays(self, n_columns: int):
        """``(X, y)``: dask arrays whose chunks are these partitions, where they lie."""
        import dask.array as da

        X = da.concatenate([da.from_delayed(m, shape=(n, n_columns), dtype=np.float64)
                            for m, n in zip(self.matrices, self.rows, strict=True)])
        y = da.concatenate([da.from_delayed(v, shape=(n,), dtype=np.float64)
                            for v, n in zip(self.labels, self.rows, strict=True)])
        return X, y


def submit_matrices(client, builder_future, model_future, evidence: pd.DataFrame,
                    completions: pd.DataFrame, educators: pd.DataFrame, ids: list[np.ndarray],
                    *, offset: int = 0) -> MatrixPartitions:
    """One :func:`partition_matrix` task per partition of ``ids``, partition ``i`` pinned to
    worker ``(offset + i) mod workers`` (the same placement, so the same trees, run after run).

    Each task is sent only its partition's rows of the three inputs; its matrix stays in the
    worker's memory and only its row count comes back to the driver.
    """
    workers = sorted(client.scheduler_info()["workers"])
    if not workers:
        raise ValueError("the Dask cluster has no workers to build feature frames on")
    placed = [workers[(offset + i) % len(workers)] for i in range(len(ids))]
    rows = [split_rows(frame, ids) for frame in (evidence, completions, educators)]
    built = []
    for i, worker in enumerate(placed):
        inputs = [client.scatter(split[i], workers=[worker]) for split in rows]
        built.append(client.submit(partition_matrix, builder_future, model_future, *inputs,
                                   workers=[worker], pure=False))
    del rows  # the driver's copies of the partitions' inputs
    return MatrixPartitions.held(client, built, placed, ids)
