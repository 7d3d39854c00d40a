"""``pdrec train --dask`` on a workforce folder: the data are read on the workers, a partition at
a time, and no machine holds them whole.

The folder is the one ``pdrec score`` reads (``data.kind: workforce``,
:mod:`pipelines.workforce_data`). The run is :func:`pipelines.training.train`'s, step by step,
with every data-wide step done as a reduction over the partitions (each task reads one partition
and returns a summary; the driver adds the summaries up):

1. **census** (:func:`_census`): each partition's educator ids, evidence counts and the per-row
   hashes of its evidence, completions and profiles. The driver streams the hashes, partition
   by partition, into the same SHA-256 digests :func:`~pipelines.training.data_fingerprint` and
   :func:`~pipelines.model_card.frame_hash` take over the whole frames, so the data fingerprint
   and the card's hashes are those of the single-machine run on the same folder; the split is
   :func:`~pipelines.training.split_educators` over every educator id, the same split too.
2. **fit summary** (:func:`_summary`): each partition's :class:`~recommender.features.FitSummary`
   of its training records and profiles, and the card's counts and time spans; the builder is
   fitted on their sum (:meth:`~recommender.features.FeatureBuilder.fit_summary`).
3. **matrices** (:func:`_matrices`): each partition's fitting and validation folds' training
   frames built on its worker and turned into the model's input matrices, which stay there for
   ``lightgbm.dask`` (:func:`pipelines.train_dask.fit_partitions`, as ``train_on_dask`` boosts).
4. **evaluation on a sample**: the held-out evaluation, the activity-gain posteriors, the rater
   severity and the equity audit (:func:`~pipelines.training.package`) read every record of
   the educators they look at, so they run here on a random sample of whole educators
   (``sample_educators`` held-out educators, and as many training educators for the gains and
   the rater severity; all of them when there are fewer), read from the partitions that hold
   them. The card's ``evaluation`` says how many were used out of how many; its ``data`` and
   ``split`` describe the whole folder.

What the driver holds: the educator ids (and the split's), one partition's row hashes at a time,
the summaries, and the sampled educators' records: bounded by the sample, not the data.

Only the split by educator is supported: a time split's cut is a quantile of every record's
time, and its test rows are built from all of each educator's earlier records.
"""

from __future__ import annotations

import hashlib
import operator
import time
from dataclasses import dataclass, field

import networkx as nx
import numpy as np
import pandas as pd

from pipelines import dask_frames
from pipelines.config import TrainConfig
from pipelines.score import partition_names
from pipelines.train_dask import _check_dask_model, _fit_schema, _fold_ids, fit_partitions
from pipelines.training import (
    Dataset,
    Prepared,
    Progress,
    Split,
    TrainResult,
    package,
    split_records,
)
from pipelines.workforce_data import read_partition, workforce_root
from recommender.catalog import default_catalog
from recommender.evidence import proficient_threshold
from recommender.features import FeatureBuilder
from recommender.graph import default_framework
from recommender.models import make_model

__all__ = ["SAMPLE_EDUCATORS", "train_workforce_on_dask"]

SAMPLE_EDUCATORS = 10_000
"""Held-out educators evaluated (and training educators the gains and rater severity are
learned from) by default: ~370,000 held-out records of the generated workforce, an AUC's
standard error near 0.001; the driver's memory for the evaluation grows with it (about 1 GB
at 10,000 on the generated workforce, docs/scale.md)."""

_FINGERPRINT_COLUMNS = ["evidence_id", "educator_id", "competency_id", "source", "score_norm",
                        "observed_at"]


def _row_hashes(frame: pd.DataFrame) -> bytes:
    """The per-row hashes the data fingerprint and the card's frame hashes digest."""
    return pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()


@dataclass(frozen=True)
class _Census:
    """Pass 1 of one partition (:func:`_census`)."""

    educator_ids: np.ndarray
    hashes: dict[str, bytes]  # evidence (fingerprint columns), completions, educators
    evidence_rows: int
    completion_rows: int
    rejected: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None


def _census(graph: nx.DiGraph, root: str, name: str) -> _Census:
    """A worker task: partition ``name``'s ids, counts, time span and row hashes."""
    part = read_partition(graph, root, name)
    ev, times = part.evidence, part.evidence["observed_at"]
    return _Census(
        part.educators["educator_id"].to_numpy(object),
        {"evidence": _row_hashes(ev[_FINGERPRINT_COLUMNS]),
         "completions": _row_hashes(part.completions),
         "educators": _row_hashes(part.educators.astype(str))},
        len(ev), len(part.completions), part.rejected,
        times.min() if len(ev) else None, times.max() if len(ev) else None)


@dataclass
class _Span:
    """Records, educators and time span of one side of the split (the card's ``part``),
    added up over partitions."""

    records: int = 0
    educators: int = 0
    first: pd.Timestamp | None = None
    last: pd.Timestamp | None = None

    @classmethod
    def of(cls, evidence: pd.DataFrame) -> _Span:
        t = evidence["observed_at"]
        return cls(len(evidence), int(evidence["educator_id"].nunique()),
                   t.min() if len(t) else None, t.max() if len(t) else None)

    def __add__(self, other: _Span) -> _Span:
        return _Span(self.records + other.records, self.educators + other.educators,
                     _extreme(min, self.first, other.first), _extreme(max, self.last, other.last))

    def card(self) -> dict:
        return {"records": self.records, "educators": self.educators,
                "from": None if self.first is None else self.first.isoformat(),
                "to": None if self.last is None else self.last.isoformat()}


def _extreme(pick, a, b):
    """``pick(a, b)`` of two optional times (None: no records)."""
    return b if a is None else a if b is None else pick(a, b)


@dataclass(frozen=True)
class _Summary:
    """Pass 2 of one partition (:func:`_summary`)."""

    fit: object  # FitSummary of the training records and profiles
    train: _Span
    test: _Span
    trained: np.ndarray  # training educators with evidence


def _summary(builder: FeatureBuilder, graph: nx.DiGraph, root: str, name: str,
             train_ids: np.ndarray) -> _Summary:
    """A worker task: partition ``name``'s fit summary over its training educators (``train_ids``,
    the partition's share of them) and the spans of both sides."""
    part = read_partition(graph, root, name)
    ev = part.evidence
    is_train = ev["educator_id"].isin(train_ids).to_numpy()
    train = ev[is_train]
    fit = builder.summarize(train, educators=part.educators[
        part.educators["educator_id"].isin(train_ids)])
    return _Summary(fit, _Span.of(train), _Span.of(ev[~is_train]),
                    np.sort(pd.unique(train["educator_id"].to_numpy(object))))


def _matrices(builder: FeatureBuilder, model, graph: nx.DiGraph, root: str, name: str,
              folds: tuple[np.ndarray, np.ndarray]):
    """A worker task: partition ``name``'s fitting- and validation-fold matrices and labels
    (:func:`pipelines.dask_frames.partition_matrix` on each fold's educators of it)."""
    part = read_partition(graph, root, name)
    return tuple(dask_frames.partition_matrix(
        builder, model, part.evidence[part.evidence["educator_id"].isin(ids)],
        part.completions, part.educators) for ids in folds)


def _test_frame_of(builder: FeatureBuilder, graph: nx.DiGraph, root: str, name: str,
                   ids: np.ndarray):
    """A worker task: the held-out features and labels of partition ``name``'s educators
    ``ids`` (built here, so the driver receives the frame without the build's temporaries)."""
    part = read_partition(graph, root, name)
    return builder.training_frame(part.evidence[part.evidence["educator_id"].isin(ids)],
                                  completions=part.completions, educators=part.educators)


def _rows_of(graph: nx.DiGraph, root: str, name: str, ids: np.ndarray):
    """A worker task: partition ``name``'s rows of the educators ``ids``."""
    part = read_partition(graph, root, name)
    return tuple(frame[frame["educator_id"].isin(ids)]
                 for frame in (part.educators, part.evidence, part.completions))


@dataclass
class _Folder:
    """What the driver knows of the folder after pass 1: partition names, each one's educator
    ids, and the data-wide figures of the card."""

    root: str
    names: list[str]
    ids: list[np.ndarray]
    fingerprint: str
    card: dict = field(default_factory=dict)
    rejected: int = 0

    def share(self, ids: np.ndarray) -> list[np.ndarray]:
        """Each partition's share of the educators ``ids`` (one hashed pass over every id)."""
        every = np.concatenate(self.ids)
        member = pd.Index(ids).get_indexer(every) >= 0
        ends = np.cumsum([len(mine) for mine in self.ids])[:-1]
        return [mine[keep] for mine, keep in zip(self.ids, np.split(member, ends), strict=True)]

    def holder(self, educator_id) -> int:
        """The partition holding ``educator_id``."""
        return next(i for i, mine in enumerate(self.ids) if (mine == educator_id).any())


def _read_folder(client, graph: nx.DiGraph, root: str, source: dict,
                 progress: Progress) -> _Folder:
    """Pass 1: the census of every partition, its hashes digested in partition order."""
    names = partition_names(root)
    futures = [client.submit(_census, graph, root, n, pure=False) for n in names]
    digests = {k: hashlib.sha256() for k in ("evidence", "completions", "educators")}
    ids, rows, comp_rows, rejected, span = [], 0, 0, 0, _Span()
    for i, fut in enumerate(futures, start=1):  # in partition order: the digests' order
        got = fut.result()
        fut.release()
        for key, digest in digests.items():
            digest.update(got.hashes[key])
        ids.append(got.educator_ids)
        rows, comp_rows, rejected = (rows + got.evidence_rows, comp_rows + got.completion_rows,
                                     rejected + got.rejected)
        span = span + _Span(first=got.first, last=got.last)
        if i == len(names) or i % max(1, len(names) // 10) == 0:
            progress(f"loading data: {i:,} of {len(names):,} partitions read on the workers")
    fingerprint = digests["evidence"].hexdigest()[:16]
    hashes = {"evidence": fingerprint,
              "completions": digests["completions"].hexdigest()[:16] if comp_rows else "empty",
              "educators": digests["educators"].hexdigest()[:16]}
    educators = sum(len(x) for x in ids)
    card = {**source, "fingerprint": fingerprint,
            "rows": {"educators": educators, "evidence": rows, "completions": comp_rows,
                     "rejected": rejected},
            "hashes": hashes, "time_range": {k: span.card()[k] for k in ("from", "to")}}
    return _Folder(root, names, ids, fingerprint, card, rejected)


def _sample(ids: np.ndarray, n: int, seed: int) -> np.ndarray:
    """At most ``n`` of ``ids`` drawn without replacement, sorted (all of them if fewer)."""
    if len(ids) <= n:
        return np.sort(ids)
    return np.sort(np.random.default_rng(seed).choice(ids, size=n, replace=False))


def _gather_rows(client, graph: nx.DiGraph, folder: _Folder, ids: np.ndarray):
    """The educators, evidence and completions of the educators ``ids``, read on the workers
    from the partitions that hold them."""
    shares = folder.share(ids)
    parts = client.gather([client.submit(_rows_of, graph, folder.root, n, mine, pure=False)
                           for n, mine in zip(folder.names, shares, strict=True) if len(mine)])
    return tuple(pd.concat([p[i] for p in parts], ignore_index=True) for i in range(3))


def train_workforce_on_dask(config: TrainConfig, client, progress: Progress = lambda _: None,
                            *, sample_educators: int = SAMPLE_EDUCATORS, eval_every: int = 10,
                            audit: bool = True) -> TrainResult:
    """One configured training on the workforce folder ``config.data['path']``, read a
    partition at a time on ``client``'s workers (module docstring).

    Returns the packaged model as :func:`pipelines.training.train` does: a plain model,
    logged and served like any other; its metrics are measured on the sample (``metrics``
    ``n_test_educators_evaluated`` of ``n_test_educators``).
    """
    model = make_model(config.model, **dict(config.params))
    _check_dask_model(model, eval_every)
    if isinstance(sample_educators, bool) or int(sample_educators) < 1:
        raise ValueError(f"sample_educators must be a positive number of educators; "
                         f"got {sample_educators!r}")
    if config.split.get("by", "educator") != "educator":
        raise ValueError("a workforce folder trains on Dask with split.by educator; a time "
                         "split needs every record's time in one place (train it without "
                         "--dask, or split by educator)")
    model.set_params(random_state=config.seed)
    model._validate_params()
    root = str(workforce_root(config.data).resolve())
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    folder = _read_folder(client, graph, root, {"kind": "workforce",
                                                "path": str(config.data["path"])}, progress)
    all_ids = np.concatenate(folder.ids)
    # the split of the single-machine run: by educator, it reads the ids only (its masks are
    # over this frame of ids, and unused)
    split = split_records(pd.DataFrame({"educator_id": all_ids}), all_ids, config.split,
                          folder.fingerprint)

    progress(f"building features: fitting the feature builder on {len(split.train_ids):,} "
             "training educators' summaries")
    builder = FeatureBuilder(graph, catalog=catalog, **{
        "proficient_at": proficient_threshold(graph.graph["scale"]), **config.features})
    on_builder = client.scatter(builder, broadcast=True)
    summaries = client.gather([
        client.submit(_summary, on_builder, graph, root, n, mine, pure=False)
        for n, mine in zip(folder.names, folder.share(split.train_ids), strict=True)])
    builder.fit_summary(sum((s.fit for s in summaries[1:]), summaries[0].fit))

    n_workers = len(client.scheduler_info()["workers"])
    progress(f"fitting {config.model} on Dask ({n_workers} workers; {len(folder.names):,} "
             "partitions read and featurized on the workers)")
    t0 = time.perf_counter()
    fitted = _fit(model, builder, graph, client, folder, summaries, eval_every)
    dask_seconds = time.perf_counter() - t0

    progress("evaluating on a sample of held-out educators")
    prep, sampled = _sample_prepared(client, graph, catalog, folder, split, builder, fitted,
                                     sample_educators, config.seed)
    result = package(config, prep, fitted, progress, audit=audit)
    extra = {"dask_workers": float(n_workers), "dask_fit_seconds": dask_seconds,
             "dask_trees": float(fitted.best_iteration_),
             "n_test_educators": float(len(split.test_ids)),
             "n_test_educators_evaluated": float(len(sampled["test"])),
             "n_train_educators_summarized": float(len(sampled["train"]))}
    result.metrics.update(extra)
    card = result.card
    card["metrics"].update(extra)
    train_span = sum((s.train for s in summaries), _Span())
    test_span = sum((s.test for s in summaries), _Span())
    card["data"] = folder.card
    card["split"] = {**split.info, "split_id": split.split_id, "train": train_span.card(),
                     "test": test_span.card()}
    card["evaluation"] = {"held_out_educators": len(sampled["test"]),
                          "of_held_out_educators": len(split.test_ids),
                          "training_educators_for_gains_and_raters": len(sampled["train"]),
                          "of_training_educators": len(split.train_ids)}
    card["trainer"] = {"kind": "lightgbm.dask", "workers": n_workers,
                       "training_frame": "read and built on the workers, partition by "
                                         "partition of the workforce folder"}
    return result


def _fit(model, builder: FeatureBuilder, graph: nx.DiGraph, client, folder: _Folder,
         summaries: list[_Summary], eval_every: int):
    """The model boosted on the partitions' fitting-fold matrices (pass 3), its trees chosen
    and calibrated on the validation fold's."""
    trained = np.concatenate([s.trained for s in summaries])
    fit_ids, valid_ids = _fold_ids(model, trained)
    head = client.submit(_rows_of, graph, folder.root, folder.names[folder.holder(fit_ids[0])],
                         fit_ids[:1], pure=False).result()
    columns = _fit_schema(model, builder, head[1], head[2], head[0], fit_ids[0])
    workers = sorted(client.scheduler_info()["workers"])
    placed = [workers[i % len(workers)] for i in range(len(folder.names))]
    on_builder = client.scatter(builder, broadcast=True)
    on_model = client.scatter(model, broadcast=True)
    folds = list(zip(folder.share(fit_ids), folder.share(valid_ids), strict=True))
    built = [client.submit(_matrices, on_builder, on_model, graph, folder.root, n, f,
                           workers=[w], pure=False)
             for n, f, w in zip(folder.names, folds, placed, strict=True)]
    parts = [dask_frames.MatrixPartitions.held(
        client, [client.submit(operator.itemgetter(k), b, workers=[w], pure=False)
                 for b, w in zip(built, placed, strict=True)],
        placed, [f[k] for f in folds], keep_empty=False) for k in (0, 1)]
    del built  # each partition's matrices are held by its two getters' results
    return fit_partitions(model, client, columns, parts[0], parts[1] if parts[1].rows else None,
                          eval_every)


def _sample_prepared(client, graph, catalog, folder: _Folder, split: Split,
                     builder: FeatureBuilder, model, n: int, seed: int):
    """The :class:`~pipelines.training.Prepared` of the sampled educators (module docstring,
    step 4) and the sampled ids ``{"train": ..., "test": ...}``."""
    sampled = {"test": _sample(split.test_ids, n, seed),
               "train": _sample(split.train_ids, n, seed + 1)}
    educators, evidence, completions = _gather_rows(
        client, graph, folder, np.concatenate([sampled["train"], sampled["test"]]))
    data = Dataset(graph, catalog, educators, evidence, completions, rejected=folder.rejected,
                   source={"kind": "workforce", "path": folder.card["path"]})
    is_test = evidence["educator_id"].isin(sampled["test"]).to_numpy()
    sample_split = Split("educator", ~is_test, is_test, sampled["train"], sampled["test"],
                         split.split_id, split.info)
    on_builder = client.scatter(builder, broadcast=True)
    frames = client.gather([
        client.submit(_test_frame_of, on_builder, graph, folder.root, name, mine, pure=False)
        for name, mine in zip(folder.names, folder.share(sampled["test"]), strict=True)
        if len(mine)])
    X_test = pd.concat([X for X, _ in frames], ignore_index=True)
    y_test = np.concatenate([y for _, y in frames])
    del frames
    prep = Prepared(data, folder.fingerprint, sample_split, builder, X_test.iloc[:0],
                    np.empty(0, dtype=np.int64), X_test, y_test,
                    train_rows=model.n_train_rows_ + model.n_valid_rows_)
    return prep, sampled
