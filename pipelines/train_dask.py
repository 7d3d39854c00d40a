"""``pdrec train --dask``: the mastery model's training frame built, and its trees boosted, on a
Dask cluster (``lightgbm.dask``).

The run is :func:`pipelines.training.train` with the training side moved to the cluster
(:func:`train_on_dask`, :func:`fit_frames_on_dask`):

- the driver loads the data, splits it and fits the feature builder on the training side
  (:func:`~pipelines.training.prepare_fold`: competency difficulty and profile levels, one
  small table each), splits the training educators into the model's fitting and validation
  folds exactly as :class:`LightGBMMastery` does (``validation_fraction`` of the educators,
  ``GroupShuffleSplit`` with the model's seed), and cuts each fold into partitions of whole
  educators;
- each partition's training frame is built by a task on a worker from that partition's
  evidence, completions and profiles (:mod:`pipelines.dask_frames`: the same rows as the whole
  frame, value for value), and turned there into the model's input matrix (categoricals as
  codes of levels fixed before boosting, from what every partition reports);
- ``lightgbm.dask`` boosts on the fitting fold's matrices where they lie; the validation fold's
  log loss per block of rounds and, at the chosen round, its margins are computed on the
  workers too; only those margins and labels (one float each per validation row) come back,
  for the model's own calibrator.

The model that comes back is a plain :class:`LightGBMMastery` (a local copy of the booster),
packaged, logged and served exactly like a single-machine one.

What stays on the driver, and why: reading the data (``load_dataset`` reads evidence,
completions and profiles here; each partition's raw rows are then sent to its worker, not its
frame), the builder's fit (it needs every
training record's competency and outcome, as two small per-competency tables come of it), the
held-out test frame and its evaluation, model card and equity audit
(:func:`~pipelines.training.package`, on the ``test_size`` share of the educators), and, with
``compare`` (the default), the single-machine reference: the whole training frame built and
fitted in this process, as before, to report both held-out qualities. ``compare=False``
(``--no-compare``) leaves the whole training frame off this machine.

Two things differ from the single-machine fit, on purpose:

- ``lightgbm.dask`` has no early stopping (LightGBM issues #3712 and #4189; asking for it hangs
  the workers, #6351), so every ``n_estimators`` round is boosted and the number of trees kept is
  chosen afterwards: the round with the lowest log loss on the whole validation fold, evaluated
  every ``eval_every`` rounds (:func:`validation_curve`);
- data-parallel histograms are summed over workers, so trees can differ slightly from the
  single-machine ones: the run therefore also fits the single-machine model on the same frames
  and reports both held-out qualities (``single_auc``, ``single_log_loss``, and the Dask minus
  single differences) beside the Dask model's own metrics.

:func:`fit_on_dask` is the earlier path, kept for frames already in memory: the frame built
here, its matrix scattered from here to the workers.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.model_selection import GroupShuffleSplit

from pipelines import dask_frames
from pipelines.config import TrainConfig
from pipelines.training import Fold, Prepared, Progress, TrainResult, fit_model, package, prepare_fold
from recommender.models import LightGBMMastery, LightGBMNoGraph, make_model, mastery_metrics

__all__ = ["cluster_client", "fit_frames_on_dask", "fit_on_dask", "fit_partitions",
           "train_on_dask", "validation_curve"]

_SKLEARN_NAMES = {
    "lambda_l2": "reg_lambda",
    "bagging_fraction": "subsample",
    "bagging_freq": "subsample_freq",
    "feature_fraction": "colsample_bytree",
    "seed": "random_state",
}
"""LightGBM parameter -> the scikit-learn name ``DaskLGBMClassifier`` already sets (to its own
default), so each parameter reaches the booster under one name only."""


def validation_curve(booster: lgb.Booster, M: np.ndarray, y: np.ndarray,
                     every: int) -> tuple[np.ndarray, np.ndarray]:
    """Validation log loss after every ``every`` rounds (and after the last): ``(rounds, loss)``.

    The margins are accumulated block by block (``start_iteration``), so the whole curve costs
    one prediction of all trees.
    """
    n = booster.current_iteration()
    starts = np.arange(0, n, every)
    rounds = np.minimum(starts + every, n)
    margin = np.zeros(len(M))
    losses = np.empty(len(starts))
    for i, (start, stop) in enumerate(zip(starts, rounds, strict=True)):
        margin += booster.predict(M, start_iteration=int(start),
                                  num_iteration=int(stop - start), raw_score=True)
        p = np.clip(expit(margin), 1e-15, 1 - 1e-15)
        losses[i] = -np.mean(y * np.log(p) + (1 - y) * np.log1p(-p))
    return rounds, losses


def _boost(client, dX, dy, model: LightGBMMastery, monotone: list[int], columns: list[str],
           categorical: list[str]) -> lgb.Booster:
    """All ``model.n_estimators`` rounds boosted by ``lightgbm.dask`` on the chunks of ``dX``,
    ``dy`` where they lie, with the model's own parameters; the local copy of the booster."""
    params = {_SKLEARN_NAMES.get(k, k): v for k, v in model.booster_params(monotone).items()
              if k != "num_threads"}  # one thread per worker process: the worker's own
    trees = lgb.DaskLGBMClassifier(client=client, n_estimators=model.n_estimators, **params)
    with warnings.catch_warnings():  # the wrapper's own n_jobs default, replaced by design
        warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored")
        trees.fit(dX, dy, feature_name=list(columns),
                  categorical_feature=[columns.index(c) for c in categorical])
    return trees.to_local().booster_


class _DaskTrees:
    """Mixin over :class:`LightGBMMastery`: ``_train_booster`` on a Dask client's workers.

    ``_client`` and ``_eval_every`` are set by :func:`fit_on_dask` before ``fit``.
    """

    _client = None
    _eval_every = 10

    def _train_booster(self, M, y, train_idx, valid_idx, columns, categorical, monotone):
        """Boost on the workers (each gets one share of the training rows), then keep the
        rounds with the lowest validation log loss; sets ``booster_`` and ``best_iteration_``."""
        import dask.array as da

        client = self._client
        rows, labels = M[train_idx], y[train_idx]
        workers = sorted(client.scheduler_info()["workers"])
        shares = [s for s in np.array_split(np.arange(len(rows)), len(workers)) if len(s)]
        # share i on worker i: the same placement, the same trees, run after run
        placed = list(zip(shares, workers[:len(shares)], strict=True))
        x_parts = [client.scatter(rows[s], workers=[w]) for s, w in placed]
        y_parts = [client.scatter(labels[s], workers=[w]) for s, w in placed]
        dX = da.concatenate([da.from_delayed(f, shape=(len(s), M.shape[1]), dtype=M.dtype)
                             for f, s in zip(x_parts, shares, strict=True)])
        dy = da.concatenate([da.from_delayed(f, shape=(len(s),), dtype=labels.dtype)
                             for f, s in zip(y_parts, shares, strict=True)])
        self.booster_ = _boost(client, dX, dy, self, monotone, columns, categorical)
        self.best_iteration_ = self.booster_.current_iteration()
        if len(valid_idx) and self.early_stopping_rounds:
            rounds, loss = validation_curve(self.booster_, M[valid_idx], y[valid_idx],
                                            self._eval_every)
            self.best_iteration_ = int(rounds[np.argmin(loss)])


class _DaskLightGBMMastery(_DaskTrees, LightGBMMastery):
    pass


class _DaskLightGBMNoGraph(_DaskTrees, LightGBMNoGraph):
    pass


_DASK_CLASSES = {LightGBMMastery: _DaskLightGBMMastery, LightGBMNoGraph: _DaskLightGBMNoGraph}


def _check_dask_model(model, eval_every: int = 10) -> None:
    """Refuse a model ``lightgbm.dask`` cannot boost, naming the ones it can, and a bad
    ``eval_every``."""
    if type(model) not in _DASK_CLASSES:
        raise ValueError("--dask trains the LightGBM models (model: lightgbm or "
                         f"lightgbm_nograph); got {type(model).__name__}")
    if int(eval_every) < 1:
        raise ValueError(f"eval_every must be a positive number of rounds; got {eval_every!r}")


def fit_on_dask(model: LightGBMMastery, X, y, client, *, eval_every: int = 10) -> LightGBMMastery:
    """``model`` (unfitted, its parameters kept) fitted with its trees boosted on ``client``.

    Returns a new fitted instance of ``type(model)``: a plain model, picklable and servable
    without Dask.
    """
    _check_dask_model(model, eval_every)
    trainer = _DASK_CLASSES[type(model)](**model.get_params())
    trainer._client, trainer._eval_every = client, int(eval_every)
    trainer.fit(X, y, groups=X["educator_id"].to_numpy())
    plain = type(model)(**model.get_params())
    vars(plain).update({k: v for k, v in vars(trainer).items() if k.endswith("_")})
    return plain


def _valid_curve(booster: lgb.Booster, M: np.ndarray, y: np.ndarray, every: int):
    """A validation partition's :func:`validation_curve` and its row count (a worker task)."""
    rounds, loss = validation_curve(booster, M, y, every)
    return rounds, loss, len(y)


def _valid_margin(booster: lgb.Booster, M: np.ndarray, trees: int) -> np.ndarray:
    """A validation partition's raw margins with the first ``trees`` trees (a worker task)."""
    return booster.predict(M, num_iteration=int(trees), raw_score=True)


def _fold_ids(model: LightGBMMastery, educator_ids) -> tuple[np.ndarray, np.ndarray]:
    """The training educators with evidence, ``educator_ids``, split into the fitting and
    validation folds exactly as :meth:`LightGBMMastery.fit` splits the whole frame's rows
    (``GroupShuffleSplit`` depends on the distinct educators only)."""
    ids = np.sort(pd.unique(np.asarray(educator_ids, dtype=object)))
    if model.validation_fraction == 0:
        return ids, ids[:0]
    if len(ids) < 2:
        raise ValueError(f"{type(model).__name__}: the validation split is by educator and "
                         f"needs at least 2 training educators; got {len(ids)}")
    split = GroupShuffleSplit(n_splits=1, test_size=model.validation_fraction,
                              random_state=model.random_state)
    fit_idx, valid_idx = next(split.split(ids, groups=ids))
    return ids[fit_idx], ids[valid_idx]


def _fit_schema(model: LightGBMMastery, builder, evidence: pd.DataFrame,
                completions: pd.DataFrame, educators: pd.DataFrame, educator_id) -> list[str]:
    """Sets the model's input columns, categorical levels and monotone constraints as ``fit``
    would from the whole frame, before any partition is built: the columns from one educator's
    frame built here from its rows of the three frames (the columns and dtypes every frame
    has), the levels from the fitted builder's category dtypes (what
    :func:`~recommender.models.base.learn_categories` reads from the whole frame's categorical
    columns). Returns the columns."""
    head, _ = builder.training_frame(
        evidence[evidence["educator_id"] == educator_id],
        completions=completions[completions["educator_id"] == educator_id],
        educators=educators[educators["educator_id"] == educator_id])
    return model.set_schema(head, categories={
        col: dtype.categories for col, dtype in builder.categorical_dtypes().items()})


def _choose_and_calibrate(model: LightGBMMastery, client, valid, every: int) -> None:
    """``best_iteration_`` from the validation fold's log loss per block of rounds, summed over
    its partitions on the workers, and ``calibrator_`` from its margins at that round."""
    booster = model.booster_
    model.best_iteration_ = booster.current_iteration()
    if valid is None:
        model.calibrator_ = model.calibrator(np.empty(0), np.empty(0))
        return
    on = client.scatter(booster, broadcast=True)
    placed = list(zip(valid.matrices, valid.labels, strict=True))
    if model.early_stopping_rounds:
        curves = client.gather([client.submit(_valid_curve, on, M, y, every, pure=False)
                                for M, y in placed])
        rows = sum(n for _, _, n in curves)
        loss = sum(part * n for _, part, n in curves) / rows
        model.best_iteration_ = int(curves[0][0][np.argmin(loss)])
    margin = np.concatenate(client.gather([
        client.submit(_valid_margin, on, M, model.best_iteration_, pure=False)
        for M, _ in placed]))
    y = np.concatenate(client.gather(list(valid.labels))).astype(np.int64)
    model.calibrator_ = model.calibrator(margin, y)


def fit_frames_on_dask(model: LightGBMMastery, fold: Fold, client, *,
                       partitions: int | None = None, eval_every: int = 10) -> LightGBMMastery:
    """``model`` (unfitted, its parameters kept) fitted on ``fold``'s training records with
    the training frame built, and the trees boosted, on ``client``'s workers.

    ``partitions`` is the number of educator partitions of the fitting fold (default:
    :func:`pipelines.dask_frames.partition_count`: at least one per worker, so every worker
    boosts on a share); the validation fold gets partitions in proportion to its educators
    (at least one). Returns a plain fitted ``type(model)``.
    """
    _check_dask_model(model, eval_every)
    plain = type(model)(**model.get_params())
    plain._validate_params()
    evidence = fold.train_evidence
    fit_ids, valid_ids = _fold_ids(plain, evidence["educator_id"].unique())
    n_fit = dask_frames.partition_count(
        round(len(evidence) * len(fit_ids) / (len(fit_ids) + len(valid_ids))),
        len(client.scheduler_info()["workers"]), partitions)
    n_valid = max(1, math.ceil(n_fit * len(valid_ids) / len(fit_ids)))
    data = fold.data
    columns = _fit_schema(plain, fold.builder, evidence, data.completions, data.educators,
                          fit_ids[0])
    builder = client.scatter(fold.builder, broadcast=True)
    on = client.scatter(plain, broadcast=True)
    inputs = (builder, on, evidence, data.completions, data.educators)
    fit_parts = dask_frames.submit_matrices(
        client, *inputs, dask_frames.educator_partitions(fit_ids, n_fit))
    valid_parts = None
    if len(valid_ids):
        valid_parts = dask_frames.submit_matrices(
            client, *inputs, dask_frames.educator_partitions(valid_ids, n_valid),
            offset=len(fit_parts.ids))
    return fit_partitions(plain, client, columns, fit_parts, valid_parts, int(eval_every))


def fit_partitions(model: LightGBMMastery, client, columns: list[str],
                   fit_parts: dask_frames.MatrixPartitions,
                   valid_parts: dask_frames.MatrixPartitions | None,
                   eval_every: int) -> LightGBMMastery:
    """``model`` (its schema set: :func:`_fit_schema`) boosted on the fitting fold's matrices
    where they lie, its number of trees chosen and its calibrator fitted on the validation
    fold's (:func:`_choose_and_calibrate`); returns it."""
    dX, dy = fit_parts.as_dask_arrays(len(columns))
    monotone = [model.monotone_constraints_.get(c, 0) for c in columns]
    model.booster_ = _boost(client, dX, dy, model, monotone, columns, model.categorical_features_)
    _choose_and_calibrate(model, client, valid_parts, eval_every)
    model.n_train_rows_ = int(sum(fit_parts.rows))
    model.n_valid_rows_ = int(sum(valid_parts.rows)) if valid_parts else 0
    model.feature_importance_ = pd.Series(
        model.booster_.feature_importance("gain", iteration=model.best_iteration_),
        index=pd.Index(columns, name="feature"), name="gain")
    return model


def train_on_dask(config: TrainConfig, data_dir: Path, client,
                  progress: Progress = lambda _: None, *, partitions: int | None = None,
                  compare: bool = True, **package_options) -> TrainResult:
    """One configured training with the training frame built and the trees boosted on
    ``client`` (:func:`fit_frames_on_dask`); with ``compare``, the single-machine fit of the
    same data beside it (the whole training frame built here; its metrics logged as
    ``single_*``).

    ``package_options`` go to :func:`pipelines.training.package` as they do from ``train``.
    """
    model = make_model(config.model, **dict(config.params))
    _check_dask_model(model)  # before the data are read and featurized
    model.set_params(random_state=config.seed)
    dask_frames.partition_count(0, 1, partitions)  # a bad count, before the data are read
    fold = prepare_fold(config, data_dir, progress)
    n_workers = len(client.scheduler_info()["workers"])
    progress(f"fitting {config.model} on Dask ({n_workers} workers; training frame built "
             "on the workers)")
    t0 = time.perf_counter()
    dask_model = fit_frames_on_dask(model, fold, client, partitions=partitions)
    dask_seconds = time.perf_counter() - t0
    X_test, y_test = fold.test_frame()
    rows = dask_model.n_train_rows_ + dask_model.n_valid_rows_
    prep = Prepared(fold.data, fold.fingerprint, fold.split, fold.builder, X_test.iloc[:0],
                    np.empty(0, dtype=np.int64), X_test, y_test, train_rows=rows)
    comparison = {"dask_workers": float(n_workers), "dask_fit_seconds": dask_seconds,
                  "dask_trees": float(dask_model.best_iteration_)}
    if compare:
        progress(f"fitting {config.model} on this machine for comparison")
        comparison.update(_single_fit(config, fold, X_test, y_test))
    result = package(config, prep, dask_model, progress, **package_options)
    if compare:
        comparison["dask_minus_single_auc"] = result.metrics["auc"] - comparison["single_auc"]
        comparison["dask_minus_single_log_loss"] = (result.metrics["log_loss"]
                                                    - comparison["single_log_loss"])
    result.metrics.update(comparison)
    result.card["metrics"].update(comparison)
    result.card["trainer"] = {"kind": "lightgbm.dask", "workers": n_workers,
                              "training_frame": "built on the workers by educator partition"}
    return result


def _single_fit(config: TrainConfig, fold: Fold, X_test: pd.DataFrame,
                y_test: np.ndarray) -> dict[str, float]:
    """The single-machine reference: the whole training frame built and fitted here, and its
    AUC and log loss on the held-out frame ``X_test``, ``y_test``."""
    X_train, y_train = fold.training_frame()
    t0 = time.perf_counter()
    single = fit_model(config, X_train, y_train)
    seconds = time.perf_counter() - t0
    reference = mastery_metrics(y_test, single.predict_proba(X_test)[:, 1])
    return {"single_auc": reference["auc"], "single_log_loss": reference["log_loss"],
            "single_fit_seconds": seconds, "single_trees": float(single.best_iteration_)}


@contextmanager
def cluster_client(scheduler: str | None = None, workers: int = 2) -> Iterator:
    """A client of the scheduler at ``scheduler``, else of a LocalCluster of ``workers``
    one-thread worker processes (LightGBM's network needs one process per worker)."""
    from dask.distributed import Client, LocalCluster

    if scheduler:
        with Client(scheduler) as client:
            yield client
        return
    if int(workers) < 1:
        raise ValueError(f"--workers must be at least 1; got {workers!r}")
    with LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                      dashboard_address=":0") as cluster, Client(cluster) as client:
        yield client
