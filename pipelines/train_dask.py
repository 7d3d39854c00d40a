"""``pdrec train --dask``: the mastery model's trees boosted on a Dask cluster (``lightgbm.dask``).

The run is :func:`pipelines.training.train` with one step changed: the same data, split and
feature frames (:func:`~pipelines.training.prepare`), the same :class:`LightGBMMastery` fit
(its validation split by educator, categorical levels, monotone constraints and calibration),
but the boosting itself runs data-parallel on the cluster's workers, each holding one share of
the training rows. The model that comes back is a plain :class:`LightGBMMastery` (a local copy
of the booster), so it is packaged, logged and served exactly like a single-machine one.

Two things differ from the single-machine fit, on purpose:

- ``lightgbm.dask`` has no early stopping (LightGBM issues #3712 and #4189; asking for it hangs
  the workers, #6351), so every ``n_estimators`` round is boosted and the number of trees kept is
  chosen afterwards on this machine: the round with the lowest log loss on the whole validation
  fold, evaluated every ``eval_every`` rounds (:func:`validation_curve`);
- data-parallel histograms are summed over workers, so trees can differ slightly from the
  single-machine ones: the run therefore also fits the single-machine model on the same frames
  and reports both held-out qualities (``single_auc``, ``single_log_loss``, and the Dask minus
  single differences) beside the Dask model's own metrics.

What is distributed is the boosting (rows x rounds); the feature frames are still built in this
process (docs/scale.md, "Limits").
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import lightgbm as lgb
import numpy as np
from scipy.special import expit

from pipelines.config import TrainConfig
from pipelines.training import Progress, TrainResult, fit_model, package, prepare
from recommender.models import LightGBMMastery, LightGBMNoGraph, make_model, mastery_metrics

__all__ = ["cluster_client", "fit_on_dask", "train_on_dask", "validation_curve"]

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
        params = {_SKLEARN_NAMES.get(k, k): v for k, v in self._lgb_params(monotone).items()
                  if k != "num_threads"}  # one thread per worker process: the worker's own
        model = lgb.DaskLGBMClassifier(client=client, n_estimators=self.n_estimators, **params)
        with warnings.catch_warnings():  # the wrapper's own n_jobs default, replaced by design
            warnings.filterwarnings("ignore", "Parameter n_jobs will be ignored")
            model.fit(dX, dy, feature_name=list(columns),
                      categorical_feature=[columns.index(c) for c in categorical])
        self.booster_ = model.to_local().booster_
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


def _check_dask_model(model) -> None:
    """Refuse a model ``lightgbm.dask`` cannot boost, naming the ones it can."""
    if type(model) not in _DASK_CLASSES:
        raise ValueError("--dask trains the LightGBM models (model: lightgbm or "
                         f"lightgbm_nograph); got {type(model).__name__}")


def fit_on_dask(model: LightGBMMastery, X, y, client, *, eval_every: int = 10) -> LightGBMMastery:
    """``model`` (unfitted, its parameters kept) fitted with its trees boosted on ``client``.

    Returns a new fitted instance of ``type(model)``: a plain model, picklable and servable
    without Dask.
    """
    _check_dask_model(model)
    if int(eval_every) < 1:
        raise ValueError(f"eval_every must be a positive number of rounds; got {eval_every!r}")
    trainer = _DASK_CLASSES[type(model)](**model.get_params())
    trainer._client, trainer._eval_every = client, int(eval_every)
    trainer.fit(X, y, groups=X["educator_id"].to_numpy())
    plain = type(model)(**model.get_params())
    vars(plain).update({k: v for k, v in vars(trainer).items() if k.endswith("_")})
    return plain


def train_on_dask(config: TrainConfig, data_dir: Path, client,
                  progress: Progress = lambda _: None, **package_options) -> TrainResult:
    """One configured training with the trees boosted on ``client``, and the single-machine fit
    of the same frames beside it for comparison (its metrics logged as ``single_*``).

    ``package_options`` go to :func:`pipelines.training.package` as they do from ``train``.
    """
    model = make_model(config.model, **dict(config.params))
    _check_dask_model(model)  # before the data are read and featurized
    model.set_params(random_state=config.seed)
    prep = prepare(config, data_dir, progress)
    n_workers = len(client.scheduler_info()["workers"])
    progress(f"fitting {config.model} on Dask ({n_workers} workers)")
    t0 = time.perf_counter()
    dask_model = fit_on_dask(model, prep.X_train, prep.y_train, client)
    dask_seconds = time.perf_counter() - t0
    progress(f"fitting {config.model} on this machine for comparison")
    t0 = time.perf_counter()
    single = fit_model(config, prep.X_train, prep.y_train)
    single_seconds = time.perf_counter() - t0
    result = package(config, prep, dask_model, progress, **package_options)
    reference = mastery_metrics(prep.y_test, single.predict_proba(prep.X_test)[:, 1])
    comparison = {
        "single_auc": reference["auc"], "single_log_loss": reference["log_loss"],
        "dask_minus_single_auc": result.metrics["auc"] - reference["auc"],
        "dask_minus_single_log_loss": result.metrics["log_loss"] - reference["log_loss"],
        "dask_workers": float(n_workers), "dask_fit_seconds": dask_seconds,
        "single_fit_seconds": single_seconds,
        "dask_trees": float(dask_model.best_iteration_),
        "single_trees": float(single.best_iteration_),
    }
    result.metrics.update(comparison)
    result.card["metrics"].update(comparison)
    result.card["trainer"] = {"kind": "lightgbm.dask", "workers": n_workers}
    return result


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
