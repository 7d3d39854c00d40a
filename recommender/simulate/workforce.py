"""A state's workforce as partitioned parquet, generated chunk by chunk in bounded memory.

:func:`write_workforce` calls :func:`~recommender.simulate.generator.generate` once per chunk of
``chunk_size`` educators, each chunk with its own seed (spawned from one
:class:`numpy.random.SeedSequence`, so the same ``seed`` gives the same files) and its own ids,
and writes the chunk's evidence, completions and educators before drawing the next. Memory is
that of one chunk, whatever the total; the latent truth is not written (it is as large as
``educators x competencies`` and no scoring reads it).

Layout (one file per chunk and frame; a chunk is a partition the batch scorer reads whole)::

    out/educators/chunk-00000.parquet   out/evidence/chunk-00000.parquet
    out/completions/chunk-00000.parquet ...

Ids. The generator numbers educators, evidence and raters from 1 in every call, so each chunk's
ids get the chunk number after their letter (``E000001`` of chunk 3 becomes ``E00003-000001``,
``V...`` and ``R...`` likewise): ids are unique across the workforce, and an educator's peers
and evaluators are those of its own chunk (a chunk is a district).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from recommender.catalog import Catalog
from recommender.simulate.generator import generate
from recommender.simulate.params import SimulationParams
from recommender.simulate.sampling import check_count

__all__ = ["WORKFORCE_FRAMES", "WorkforceSummary", "chunk_name", "generate_chunk",
           "workforce_chunks", "write_workforce"]

WORKFORCE_FRAMES = ("educators", "evidence", "completions")
"""The frames written per chunk, each in its own subfolder of the output."""

_ID_COLUMNS = {"educators": ("educator_id",), "completions": ("educator_id",),
               "evidence": ("evidence_id", "educator_id", "rater_id")}


@dataclass(frozen=True)
class WorkforceSummary:
    """What :func:`write_workforce` wrote: counts and the chunk names, in order."""

    educators: int
    evidence_rows: int
    completion_rows: int
    chunks: tuple[str, ...]


def chunk_name(chunk: int) -> str:
    """The file stem of chunk ``chunk`` (``chunk-00003``)."""
    return f"chunk-{chunk:05d}"


def _tag_ids(ids: pd.Series, chunk: int) -> pd.Series:
    """``X123`` -> ``X<chunk>-123`` on arrow strings (missing values stay missing)."""
    return ids.str.slice(0, 1) + f"{chunk:05d}-" + ids.str.slice(1)


def generate_chunk(graph: nx.DiGraph, catalog: Catalog, *, chunk: int, n_educators: int,
                   months: int, seed: np.random.SeedSequence,
                   params: SimulationParams | None = None, start=None
                   ) -> dict[str, pd.DataFrame]:
    """Chunk ``chunk``'s educators, evidence and completions, ids tagged with the chunk."""
    data = generate(graph, catalog, n_educators=n_educators, months=months, params=params,
                    random_state=np.random.default_rng(seed), start=start)
    frames = {}
    for name in WORKFORCE_FRAMES:
        frame = getattr(data, name)
        frames[name] = frame.assign(**{c: _tag_ids(frame[c], chunk) for c in _ID_COLUMNS[name]})
    return frames


def workforce_chunks(educators: int, chunk_size: int) -> list[int]:
    """Chunk sizes: ``chunk_size`` each, the last one what remains."""
    educators = check_count("educators", educators)
    chunk_size = check_count("chunk_size", chunk_size)
    full, rest = divmod(educators, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def write_workforce(graph: nx.DiGraph, catalog: Catalog, out, *, educators: int, months: int = 12,
                    chunk_size: int = 5000, seed: int = 0,
                    params: SimulationParams | None = None, start=None,
                    progress: Callable[[int, int], None] | None = None) -> WorkforceSummary:
    """Generate ``educators`` educators over ``months`` months in chunks and write them.

    Parameters
    ----------
    out : path
        Output folder; an existing chunk file is overwritten, other files are left alone.
    chunk_size : int >= 1
        Educators per chunk: the memory bound (one chunk is held at a time) and the
        partition the batch scorer reads.
    seed : int
        Chunk ``i`` is drawn from ``SeedSequence(seed).spawn(n_chunks)[i]``.
    progress : callable, optional
        ``progress(educators_written, educators)`` after each chunk.

    Returns
    -------
    WorkforceSummary
    """
    sizes = workforce_chunks(educators, chunk_size)
    seeds = np.random.SeedSequence(int(seed)).spawn(len(sizes))
    out = Path(out)
    for name in WORKFORCE_FRAMES:
        (out / name).mkdir(parents=True, exist_ok=True)
    done = n_evidence = n_completions = 0
    names = []
    for i, (size, ss) in enumerate(zip(sizes, seeds, strict=True)):
        frames = generate_chunk(graph, catalog, chunk=i, n_educators=size, months=months,
                                seed=ss, params=params, start=start)
        names.append(chunk_name(i))
        for name, frame in frames.items():
            frame.to_parquet(out / name / f"{names[-1]}.parquet", index=False)
        done += size
        n_evidence += len(frames["evidence"])
        n_completions += len(frames["completions"])
        del frames
        if progress:
            progress(done, educators)
    return WorkforceSummary(done, n_evidence, n_completions, tuple(names))
