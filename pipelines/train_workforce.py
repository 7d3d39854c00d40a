"""``pdrec train --dask`` on a workforce folder: the data are read on the workers, a partition at
a time, and no machine holds them whole.

The folder is the one ``pdrec score`` reads (``data.kind: workforce``,
:mod:`pipelines.workforce_data`). The run is :func:`pipelines.training.train`'s, step by step,
with every data-wide step done as a reduction over the partitions (each task reads one partition
and returns a summary; the driver adds the summaries up):

1. **ids** (:func:`_educator_ids`): each partition's educator ids, from its profiles file
   alone; the split is :func:`~pipelines.training.split_educators` over every educator id,
   the single-machine run's split.
2. **census** (:func:`_census`): each partition read and validated once for its row hashes,
   counts and spans, and the :class:`~recommender.features.builder.FitSummary` of its training
   records and profiles. The driver streams the hashes, partition by partition, into the same
   SHA-256 digests :func:`~pipelines.training.data_fingerprint` and
   :func:`~pipelines.model_card.frame_hash` take over the whole frames, so the data
   fingerprint, the split id and the card's hashes are those of the single-machine run on the
   same folder; the builder is fitted on the summaries' sum
   (:meth:`~recommender.features.FeatureBuilder.fit_summary`).
3. **matrices** (:func:`_matrices`): each partition's fitting and validation folds' training
   frames built on its worker and turned into the model's input matrices, which stay there for
   ``lightgbm.dask`` (:func:`pipelines.train_dask.fit_partitions`, as ``train_on_dask`` boosts).
4. **evaluation on a sample**: the held-out evaluation, the activity-gain posteriors, the rater
   severity and the equity audit (:func:`~pipelines.training.package`) read every record of
   the educators they look at, so they run here on a random sample of whole educators
   (``sample_educators`` held-out educators, and as many training educators for the gains and
   the rater severity; all of them when there are fewer), read from the partitions that hold
   them by one task each (:func:`_sampled_rows`, which also builds the sampled held-out
   educators' feature frame). The card's ``evaluation`` says how many were used out of how
   many; its ``data`` and ``split`` describe the whole folder.

What the driver holds: the educator ids (and the split's), one partition's row hashes at a time,
the summaries, and the sampled educators' records: bounded by the sample, not the data.

A time split trains on the records before its cut and tests on the rest, each test record's
features read from all of its educator's earlier records (the sampled held-out educators' whole
histories are read for that), as in the single-machine run. The cut is ``split.before``
(``--before DATE``), or the single-machine run's quantile of every record's time
(:func:`_quantile_cut`: a pass counts each partition's records per day, a second returns the
times of the day that holds the quantile, then the census is taken at the cut: three reads of
the folder instead of one, and no time but that day's gathered).
"""

from __future__ import annotations

import hashlib
import operator
import time
from dataclasses import dataclass
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd

from pipelines import dask_frames
from pipelines.config import TrainConfig
from pipelines.train_dask import _check_dask_model, _fit_schema, _fold_ids, fit_partitions
from pipelines.training import (
    Dataset,
    Prepared,
    Progress,
    Split,
    TrainResult,
    check_time_cut,
    cut_instant,
    held_out_frame,
    package,
    split_educators,
    split_records,
    time_split,
)
from pipelines.workforce_data import read_partition, workforce_partitions
from recommender.catalog import default_catalog
from recommender.evidence import proficient_threshold
from recommender.features import FeatureBuilder
from recommender.features.asof import NS_PER_DAY, to_ns
from recommender.features.builder import FitSummary
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


def _educator_ids(root: str, name: str) -> np.ndarray:
    """A worker task (pass 1): partition ``name``'s educator ids, its profiles' one column."""
    return pd.read_parquet(Path(root) / "educators" / f"{name}.parquet",
                           columns=["educator_id"])["educator_id"].to_numpy(object)


@dataclass(frozen=True)
class _Census:
    """Pass 2 of one partition (:func:`_census`)."""

    hashes: dict[str, bytes]  # evidence (fingerprint columns), completions, educators
    completion_rows: int
    rejected: int
    fit: FitSummary  # of the training records and profiles
    train: _Span
    test: _Span
    trained: np.ndarray  # educators with training records
    tested: np.ndarray  # educators with test records


def _training_side(evidence: pd.DataFrame, train_ids: np.ndarray,
                   before: pd.Timestamp | None) -> np.ndarray:
    """Which evidence rows train: the training educators' (``train_ids``), and with a time split
    only those observed before ``before``."""
    is_train = evidence["educator_id"].isin(train_ids).to_numpy()
    if before is not None:
        is_train = is_train & (evidence["observed_at"] < before).to_numpy()
    return is_train


def _census(builder: FeatureBuilder, graph: nx.DiGraph, root: str, name: str,
            train_ids: np.ndarray, before: pd.Timestamp | None) -> _Census:
    """A worker task (pass 2): partition ``name``'s row hashes and counts, and the fit summary
    and spans of its training records (:func:`_training_side`: its training educators'
    ``train_ids``, before ``before`` with a time split) and of the others."""
    part = read_partition(graph, root, name)
    ev = part.evidence
    is_train = _training_side(ev, train_ids, before)
    train = ev[is_train]
    return _Census(
        {"evidence": _row_hashes(ev[_FINGERPRINT_COLUMNS]),
         "completions": _row_hashes(part.completions),
         "educators": _row_hashes(part.educators.astype(str))},
        len(part.completions), part.rejected,
        builder.summarize(train, educators=part.educators[
            part.educators["educator_id"].isin(train_ids)]),
        _Span.of(train), _Span.of(ev[~is_train]),
        *(np.sort(pd.unique(side["educator_id"].to_numpy(object)))
          for side in (train, ev[~is_train])))


def _times(graph: nx.DiGraph, root: str, name: str) -> np.ndarray:
    """Partition ``name``'s valid records' times, UTC ns."""
    return to_ns(read_partition(graph, root, name).evidence["observed_at"])


def _day_counts(graph: nx.DiGraph, root: str, name: str) -> pd.Series:
    """A worker task: partition ``name``'s valid records per UTC day number."""
    return pd.Series(_times(graph, root, name) // NS_PER_DAY).value_counts()


def _times_on(graph: nx.DiGraph, root: str, name: str, day: int) -> np.ndarray:
    """A worker task: partition ``name``'s valid records' times (UTC ns) on UTC day ``day``."""
    times = _times(graph, root, name)
    return times[times // NS_PER_DAY == day]


def _quantile_cut(client, graph: nx.DiGraph, folder: _Folder, test_size: float
                  ) -> pd.Timestamp:
    """:func:`~pipelines.training.time_cut` over every partition's records: the time of the
    record at the ``1 - test_size`` quantile of all of them, found from per-day counts and
    the times of that one day."""
    days = pd.concat(client.gather([
        client.submit(_day_counts, graph, folder.root, name, pure=False)
        for name in folder.names])).groupby(level=0).sum().sort_index()
    n = int(days.sum())
    k = min(n - 1, int(np.floor((1 - test_size) * n)))  # the cut's position among sorted times
    before = days.cumsum() - days  # records on earlier days
    day = int(days.index[np.searchsorted((before + days).to_numpy(), k, side="right")])
    times = np.sort(np.concatenate(client.gather([
        client.submit(_times_on, graph, folder.root, name, day, pure=False)
        for name in folder.names])))
    return pd.Timestamp(int(times[k - int(before.loc[day])]), tz="UTC")


def _matrices(builder: FeatureBuilder, model, graph: nx.DiGraph, root: str, name: str,
              folds: tuple[np.ndarray, np.ndarray], before: pd.Timestamp | None):
    """A worker task (pass 3): partition ``name``'s fitting- and validation-fold matrices and
    labels (:func:`pipelines.dask_frames.partition_matrix` on each fold's educators' training
    records of it)."""
    part = read_partition(graph, root, name)
    return tuple(dask_frames.partition_matrix(
        builder, model, part.evidence[_training_side(part.evidence, ids, before)],
        part.completions, part.educators) for ids in folds)


def _rows_of(graph: nx.DiGraph, root: str, name: str, ids: np.ndarray):
    """A worker task: partition ``name``'s rows of the educators ``ids``."""
    part = read_partition(graph, root, name)
    return tuple(frame[frame["educator_id"].isin(ids)]
                 for frame in (part.educators, part.evidence, part.completions))


def _sampled_rows(builder: FeatureBuilder, graph: nx.DiGraph, root: str, name: str,
                  ids: np.ndarray, test_ids: np.ndarray, before: pd.Timestamp | None):
    """A worker task (pass 4): partition ``name``'s rows of the sampled educators ``ids`` and
    the held-out features and labels of its sampled held-out ones ``test_ids`` (built here, so
    the driver receives the frame without the build's temporaries): their records, or with a
    time split their records from ``before`` on, each read with all earlier records."""
    educators, evidence, completions = _rows_of(graph, root, name, ids)
    tested = evidence[evidence["educator_id"].isin(test_ids)]
    is_test = np.ones(len(tested), bool) if before is None else \
        (tested["observed_at"] >= before).to_numpy()
    X, y = held_out_frame(builder, tested, is_test, by_time=before is not None,
                          completions=completions, educators=educators)
    return educators, evidence, completions, X, y


@dataclass
class _Folder:
    """The folder as the driver knows it: partition names and each one's educator ids."""

    root: str
    names: list[str]
    ids: list[np.ndarray]

    def share(self, ids: np.ndarray) -> list[np.ndarray]:
        """Each partition's share of the educators ``ids`` (one hashed pass over every id)."""
        every = np.concatenate(self.ids)
        member = pd.Index(ids).get_indexer(every) >= 0
        ends = np.cumsum([len(mine) for mine in self.ids])[:-1]
        return [mine[keep] for mine, keep in zip(self.ids, np.split(member, ends), strict=True)]

    def holder(self, educator_id) -> int:
        """The partition holding ``educator_id``."""
        return next(i for i, mine in enumerate(self.ids) if (mine == educator_id).any())


@dataclass(frozen=True)
class _Summary:
    """Passes 1 and 2 added up: the data fingerprint, the card's ``data`` and the partitions'
    censuses."""

    fingerprint: str
    data_card: dict
    censuses: list[_Census]

    @property
    def rejected(self) -> int:
        return self.data_card["rows"]["rejected"]

    def span(self, side: str) -> _Span:
        return sum((getattr(c, side) for c in self.censuses), _Span())


def _take_census(client, on_builder, graph: nx.DiGraph, folder: _Folder, train_ids: np.ndarray,
                 before: pd.Timestamp | None, source: dict, progress: Progress) -> _Summary:
    """Pass 2 on every partition, its row hashes digested in partition order into the digests
    the single-machine run takes over the whole frames."""
    futures = [client.submit(_census, on_builder, graph, folder.root, n, mine, before,
                             pure=False)
               for n, mine in zip(folder.names, folder.share(train_ids), strict=True)]
    digests = {k: hashlib.sha256() for k in ("evidence", "completions", "educators")}
    censuses = []
    for i, fut in enumerate(futures, start=1):  # in partition order: the digests' order
        got = fut.result()
        fut.release()
        for key, digest in digests.items():
            digest.update(got.hashes.pop(key))  # the bytes are not kept
        censuses.append(got)
        if i == len(futures) or i % max(1, len(futures) // 10) == 0:
            progress(f"loading data: {i:,} of {len(futures):,} partitions read on the workers")
    fingerprint = digests["evidence"].hexdigest()[:16]
    completions = sum(c.completion_rows for c in censuses)
    every = sum((c.train + c.test for c in censuses), _Span())
    card = {**source, "fingerprint": fingerprint,
            "rows": {"educators": sum(len(x) for x in folder.ids), "evidence": every.records,
                     "completions": completions, "rejected": sum(c.rejected for c in censuses)},
            "hashes": {"evidence": fingerprint,
                       "completions": (digests["completions"].hexdigest()[:16] if completions
                                       else "empty"),
                       "educators": digests["educators"].hexdigest()[:16]},
            "time_range": {k: every.card()[k] for k in ("from", "to")}}
    return _Summary(fingerprint, card, censuses)


def _sample(ids: np.ndarray, n: int, seed: int) -> np.ndarray:
    """At most ``n`` of ``ids`` drawn without replacement, sorted (all of them if fewer)."""
    if len(ids) <= n:
        return np.sort(ids)
    return np.sort(np.random.default_rng(seed).choice(ids, size=n, replace=False))


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
    by_time = config.split.get("by", "educator") == "time"
    model.set_params(random_state=config.seed)
    model._validate_params()
    root, names = workforce_partitions(config.data)
    root = str(root.resolve())
    graph = default_framework("educator")
    catalog = default_catalog(graph)
    source = {"kind": "workforce", "path": str(config.data["path"])}
    folder = _Folder(root, names, client.gather(
        [client.submit(_educator_ids, root, n, pure=False) for n in names]))
    all_ids = np.concatenate(folder.ids)
    before = None
    if by_time and config.split.get("before") is not None:
        before = cut_instant(config.split["before"])
    elif by_time:  # the cut is a quantile of every record's time
        before = _quantile_cut(client, graph, folder, float(config.split["test_size"]))
        progress(f"time split at {before.isoformat()}")
    train_ids = all_ids if by_time else split_educators(
        all_ids, test_size=config.split["test_size"], seed=config.split["seed"])[0]
    builder = FeatureBuilder(graph, catalog=catalog, **{
        "proficient_at": proficient_threshold(graph.graph["scale"]), **config.features})
    summary = _take_census(client, client.scatter(builder, broadcast=True), graph, folder,
                           train_ids, before, source, progress)
    split = _split(config.split, all_ids, summary, before)

    progress(f"building features: fitting the feature builder on {len(split.train_ids):,} "
             "training educators' summaries")
    fits = [c.fit for c in summary.censuses]
    builder.fit_summary(sum(fits[1:], fits[0]))
    on_builder = client.scatter(builder, broadcast=True)  # fitted: the one every pass reads

    n_workers = len(client.scheduler_info()["workers"])
    progress(f"fitting {config.model} on Dask ({n_workers} workers; {len(folder.names):,} "
             "partitions read and featurized on the workers)")
    t0 = time.perf_counter()
    fitted = _fit(model, builder, on_builder, graph, client, folder, summary, split.before,
                  eval_every)
    dask_seconds = time.perf_counter() - t0

    progress("evaluating on a sample of held-out educators")
    prep, sampled = _sample_prepared(client, on_builder, graph, catalog, folder, split, builder,
                                     fitted, summary, source, sample_educators, config.seed)
    result = package(config, prep, fitted, progress, audit=audit)
    extra = {"dask_workers": float(n_workers), "dask_fit_seconds": dask_seconds,
             "dask_trees": float(fitted.best_iteration_),
             "n_test_educators": float(len(split.test_ids)),
             "n_test_educators_evaluated": float(len(sampled["test"])),
             "n_train_educators_summarized": float(len(sampled["train"]))}
    result.metrics.update(extra)
    card = result.card
    card["metrics"].update(extra)
    card["data"] = summary.data_card
    card["split"] = {**split.info, "split_id": split.split_id,
                     "train": summary.span("train").card(), "test": summary.span("test").card()}
    card["evaluation"] = {"held_out_educators": len(sampled["test"]),
                          "of_held_out_educators": len(split.test_ids),
                          "training_educators_for_gains_and_raters": len(sampled["train"]),
                          "of_training_educators": len(split.train_ids)}
    card["trainer"] = {"kind": "lightgbm.dask", "workers": n_workers,
                       "training_frame": "read and built on the workers, partition by "
                                         "partition of the workforce folder"}
    return result


def _split(config: dict, all_ids: np.ndarray, summary: _Summary,
           before: pd.Timestamp | None) -> Split:
    """The single-machine run's split, named by the data's fingerprint. Its masks over records
    are not used here (each partition makes its own, :func:`_training_side`): by educator it
    is made from the ids alone, by time from the censuses' counts and held-out educators."""
    if before is None:
        return split_records(pd.DataFrame({"educator_id": all_ids}), all_ids, config,
                             summary.fingerprint)
    check_time_cut(before, summary.span("train").records, summary.span("test").records,
                   summary.data_card["time_range"])
    tested = np.unique(np.concatenate([c.tested for c in summary.censuses]))
    return time_split(before, np.empty(0, bool), all_ids, tested, summary.fingerprint)


def _fit(model, builder: FeatureBuilder, on_builder, graph: nx.DiGraph, client,
         folder: _Folder, summary: _Summary, before: pd.Timestamp | None, eval_every: int):
    """The model boosted on the partitions' fitting-fold matrices (pass 3), its trees chosen
    and calibrated on the validation fold's."""
    trained = np.concatenate([c.trained for c in summary.censuses])
    fit_ids, valid_ids = _fold_ids(model, trained)
    head = client.submit(_rows_of, graph, folder.root, folder.names[folder.holder(fit_ids[0])],
                         fit_ids[:1], pure=False).result()
    columns = _fit_schema(model, builder, head[1], head[2], head[0], fit_ids[0])
    workers = sorted(client.scheduler_info()["workers"])
    placed = [workers[i % len(workers)] for i in range(len(folder.names))]
    on_model = client.scatter(model, broadcast=True)
    folds = list(zip(folder.share(fit_ids), folder.share(valid_ids), strict=True))
    built = [client.submit(_matrices, on_builder, on_model, graph, folder.root, n, f, before,
                           workers=[w], pure=False)
             for n, f, w in zip(folder.names, folds, placed, strict=True)]
    parts = [dask_frames.MatrixPartitions.held(
        client, [client.submit(operator.itemgetter(k), b, workers=[w], pure=False)
                 for b, w in zip(built, placed, strict=True)],
        placed, [f[k] for f in folds], keep_empty=False) for k in (0, 1)]
    del built  # each partition's matrices are held by its two getters' results
    return fit_partitions(model, client, columns, parts[0], parts[1] if parts[1].rows else None,
                          eval_every)


def _sample_prepared(client, on_builder, graph, catalog, folder: _Folder, split: Split,
                     builder: FeatureBuilder, model, summary: _Summary, source: dict, n: int,
                     seed: int):
    """The :class:`~pipelines.training.Prepared` of the sampled educators (module docstring,
    step 4; pass 4: one task per partition holding any) and the sampled ids
    ``{"train": ..., "test": ...}``."""
    sampled = {"test": _sample(split.test_ids, n, seed),
               "train": _sample(split.train_ids, n, seed + 1)}
    shares = folder.share(np.union1d(sampled["train"], sampled["test"]))  # by time: overlap
    parts = client.gather([
        client.submit(_sampled_rows, on_builder, graph, folder.root, name, mine, tests,
                      split.before, pure=False)
        for name, mine, tests in zip(folder.names, shares, folder.share(sampled["test"]),
                                     strict=True) if len(mine)])
    educators, evidence, completions, X_test = (
        pd.concat([p[i] for p in parts], ignore_index=True) for i in range(4))
    y_test = np.concatenate([p[4] for p in parts])
    del parts
    data = Dataset(graph, catalog, educators, evidence, completions,
                   rejected=summary.rejected, source=source)
    is_train = _training_side(evidence, sampled["train"], split.before)
    is_test = evidence["educator_id"].isin(sampled["test"]).to_numpy()
    if split.before is not None:  # the sampled held-out educators' records from the cut on
        is_test = is_test & (evidence["observed_at"] >= split.before).to_numpy()
    sample_split = Split(split.by, is_train, is_test, sampled["train"], sampled["test"],
                         split.split_id, split.info, split.before)
    prep = Prepared(data, summary.fingerprint, sample_split, builder, X_test.iloc[:0],
                    np.empty(0, dtype=np.int64), X_test, y_test,
                    train_rows=model.n_train_rows_ + model.n_valid_rows_)
    return prep, sampled
