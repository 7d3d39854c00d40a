"""The gradient-boosted mastery-likelihood model (LightGBM), and its no-graph ablation."""

from __future__ import annotations

import fnmatch
import warnings
from collections.abc import Mapping, Sequence

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import GroupShuffleSplit

from recommender.models.base import (
    FeatureFrameError,
    MasteryModel,
    _as_prefixes,
    _check_number,
    _check_option,
    categorical_feature_columns,
    check_feature_frame,
    check_is_fitted,
    check_target,
    encode_categories,
    feature_columns,
    learn_categories,
)

__all__ = ["LightGBMMastery", "LightGBMNoGraph", "MONOTONE_INCREASING", "PlattCalibrator"]

MONOTONE_INCREASING: dict[str, int] = {
    "own_mean_score*": +1,
    "own_last_score*": +1,
    "own_decay_mean": +1,
    "own_rate": +1,
    "graph_prereq_mastery": +1,
    "graph_prereq_min": +1,
}
"""Column-name patterns (``fnmatch`` syntax) whose effect is increasing by construction.

A better own score history, or better-mastered prerequisites, never makes proficiency less
likely. ``monotone=True`` applies these to the columns present (0 elsewhere).
"""

_ISOTONIC_EPS = 1e-3
"""Isotonic calibration is clipped to ``[eps, 1 - eps]`` so log loss stays finite."""


class PlattCalibrator:
    """Platt scaling on the raw margin: ``p = sigmoid(a * margin + b)`` by maximum likelihood."""

    def fit(self, margin, y):
        margin = np.asarray(margin, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)

        def nll(w):
            z = w[0] * margin + w[1]
            # log(1 + e^z) - y z, and its gradient
            loss = np.sum(np.logaddexp(0.0, z) - y * z)
            r = expit(z) - y
            return loss, np.array([np.sum(r * margin), np.sum(r)])

        res = minimize(nll, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
        self.a_, self.b_ = float(res.x[0]), float(res.x[1])
        return self

    def predict(self, margin):
        return expit(self.a_ * np.asarray(margin, dtype=np.float64) + self.b_)


class LightGBMMastery(MasteryModel):
    """Gradient-boosted probability that an educator is proficient on a competency.

    Parameters
    ----------
    n_estimators : int, default=2000
        Maximum number of boosting rounds (early stopping usually ends sooner).
    learning_rate : float, default=0.05
    num_leaves : int, default=63
    min_child_samples : int, default=50
        Minimum rows in a leaf.
    feature_fraction : float in (0, 1], default=0.8
        Share of features sampled per tree.
    bagging_fraction : float in (0, 1], default=0.8
        Share of rows sampled per tree (every iteration).
    reg_lambda : float, default=1.0
        L2 regularization on leaf values.
    early_stopping_rounds : int or None, default=100
        Stop when validation log loss has not improved for this many rounds; ``None`` or 0
        trains all ``n_estimators``.
    validation_fraction : float in [0, 1), default=0.15
        Share of *educators* held out (grouped split) for early stopping and calibration.
        0 trains on every row, without early stopping, and requires ``calibration="none"``.
    monotone : bool or dict, default=True
        ``True`` applies :data:`MONOTONE_INCREASING` (pattern -> +1) to the columns present;
        a dict of ``fnmatch`` pattern -> +1/-1 uses those instead; ``False`` none.
    calibration : {"isotonic", "sigmoid", "none"}, default="isotonic"
        Calibration of probabilities, fitted on the held-out validation fold's margins.
    exclude_prefixes : str or tuple of str, default=()
        Feature-column prefixes to leave out (``("graph_",)`` is the no-graph ablation).
    random_state : int, default=0
    n_jobs : int, default=1
        LightGBM threads. One by default: on the shared two-core machines this project runs
        on, OpenMP threads competing with another busy process slow a fit down many times
        over; raise it for a large fit on an idle machine.

    Attributes
    ----------
    booster_ : lightgbm.Booster
        The boosted trees (trained on the training fold).
    best_iteration_ : int
        Number of trees used to predict.
    feature_names_in_ : ndarray of str
        Model input columns, in the order the booster sees them.
    n_features_in_ : int
    categorical_features_ : list of str
        Columns fed as LightGBM native categoricals.
    categories_ : dict of str -> list
        Levels seen at fit per categorical column; unseen levels predict as missing.
    monotone_constraints_ : dict of str -> int
        The constraint applied per column (only non-zero ones listed).
    exclude_prefixes_ : tuple of str
        Prefixes actually excluded.
    calibrator_ : IsotonicRegression, PlattCalibrator or None
        Maps the raw margin to a calibrated probability; ``None`` when ``calibration="none"``.
    feature_importance_ : Series
        Total gain per feature (up to ``best_iteration_``).
    n_train_rows_, n_valid_rows_ : int
        Rows in the training and validation folds.
    classes_ : ndarray, ``[0, 1]``

    Notes
    -----
    The validation split is by educator (``groups``, by default ``X["educator_id"]``), so no
    educator's evidence leaks between the fold that fits trees and the fold that stops and
    calibrates them. The booster is not refitted on all rows: the calibrator maps the margins of
    exactly the model it was fitted for.
    """

    _always_exclude_prefixes: tuple[str, ...] = ()
    reads_matrix = True

    def __init__(
        self,
        *,
        n_estimators=2000,
        learning_rate=0.05,
        num_leaves=63,
        min_child_samples=50,
        feature_fraction=0.8,
        bagging_fraction=0.8,
        reg_lambda=1.0,
        early_stopping_rounds=100,
        validation_fraction=0.15,
        monotone=True,
        calibration="isotonic",
        exclude_prefixes=(),
        random_state=0,
        n_jobs=1,
    ):
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.monotone = monotone
        self.calibration = calibration
        self.exclude_prefixes = exclude_prefixes
        self.random_state = random_state
        self.n_jobs = n_jobs

    # ---------------------------------------------------------------- validation
    def _validate_params(self) -> None:
        name = type(self).__name__
        _check_number(name, "n_estimators", self.n_estimators, integer=True, low=1)
        _check_number(name, "learning_rate", self.learning_rate, low=0, low_open=True)
        _check_number(name, "num_leaves", self.num_leaves, integer=True, low=2)
        _check_number(name, "min_child_samples", self.min_child_samples, integer=True, low=1)
        _check_number(name, "feature_fraction", self.feature_fraction, low=0, high=1, low_open=True)
        _check_number(name, "bagging_fraction", self.bagging_fraction, low=0, high=1, low_open=True)
        _check_number(name, "reg_lambda", self.reg_lambda, low=0)
        if self.early_stopping_rounds is not None:
            _check_number(
                name, "early_stopping_rounds", self.early_stopping_rounds, integer=True, low=0
            )
        _check_number(
            name, "validation_fraction", self.validation_fraction, low=0, high=1, high_open=True
        )
        _check_option(name, "calibration", self.calibration, {"isotonic", "sigmoid", "none"})
        _check_number(name, "random_state", self.random_state, integer=True, low=0)
        _check_number(name, "n_jobs", self.n_jobs, integer=True, low=1)
        if not isinstance(self.monotone, (bool, dict)):
            raise ValueError(
                f"The 'monotone' parameter of {name} must be a bool or a dict of "
                f"pattern -> +1/-1. Got {self.monotone!r} instead."
            )
        if isinstance(self.monotone, dict) and not set(self.monotone.values()) <= {-1, 0, 1}:
            raise ValueError(
                f"The 'monotone' parameter of {name} maps patterns to -1, 0 or +1. "
                f"Got {self.monotone!r} instead."
            )
        if self.calibration != "none" and self.validation_fraction == 0:
            raise ValueError(
                f"{name}: calibration={self.calibration!r} is fitted on a validation fold; "
                "set validation_fraction > 0 or calibration='none'"
            )

    def _resolve_monotone(self, columns: list[str], categorical: list[str]) -> dict[str, int]:
        if self.monotone is False:
            return {}
        patterns = MONOTONE_INCREASING if self.monotone is True else self.monotone
        out = {}
        for col in columns:
            if col in categorical:
                continue
            for pattern, sign in patterns.items():
                if sign and fnmatch.fnmatchcase(col, pattern):
                    out[col] = int(sign)
                    break
        return out

    # ---------------------------------------------------------------- encoding
    def input_matrix(self, X: pd.DataFrame) -> np.ndarray:
        """The float matrix the booster reads: categoricals as codes of the fitted levels.

        Numeric columns are converted in one block (the feature frame keeps them in one float
        block, so this is a single copy); only a column that is not numeric is coerced alone,
        with an error naming it if it cannot be.
        """
        cols = list(self.feature_names_in_)
        M = np.empty((len(X), len(cols)), dtype=np.float64)
        numeric = [j for j, col in enumerate(cols) if col not in self.categories_]
        names = [cols[j] for j in numeric]
        block = X[names]
        if all(pd.api.types.is_numeric_dtype(t) and not pd.api.types.is_bool_dtype(t)
               for t in block.dtypes):
            M[:, numeric] = block.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            for j, col in zip(numeric, names, strict=True):
                try:
                    M[:, j] = pd.to_numeric(X[col], errors="raise").to_numpy(
                        dtype=np.float64, na_value=np.nan
                    )
                except (TypeError, ValueError) as err:
                    raise FeatureFrameError(
                        f"{type(self).__name__}: column {col!r} must be numeric "
                        f"(it was numeric at fit); got dtype {X[col].dtype}"
                    ) from err
        for j, col in enumerate(cols):
            if col in self.categories_:
                M[:, j] = encode_categories(X[col], self.categories_[col])
        return M

    def booster_params(self, monotone: list[int]) -> dict:
        params = {
            "objective": "binary",
            "metric": "binary_logloss",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1 if self.bagging_fraction < 1 else 0,
            "lambda_l2": self.reg_lambda,
            "seed": self.random_state,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_col_wise": True,
            "verbosity": -1,
        }
        if any(monotone):
            params["monotone_constraints"] = monotone
            params["monotone_constraints_method"] = "intermediate"
        return params

    # ---------------------------------------------------------------- fit
    def fit(self, X, y, *, groups=None):
        """Fit trees on the training educators, stop early and calibrate on the held-out ones.

        Parameters
        ----------
        X : DataFrame
            Feature frame, one row per evidence record.
        y : array-like of 0/1
            Whether each record is proficient.
        groups : array-like, optional
            Educator id per row for the grouped validation split; defaults to
            ``X["educator_id"]``.

        Returns
        -------
        self
        """
        self._validate_params()
        name = type(self).__name__
        X = check_feature_frame(X, (), owner=name)
        y = check_target(y, len(X), owner=name)
        use_valid = self.validation_fraction > 0
        if use_valid:
            groups = self._validation_groups(X, groups)
        columns = self.set_schema(X)
        categorical = self.categorical_features_
        monotone = [self.monotone_constraints_.get(c, 0) for c in columns]
        M = self.input_matrix(X)

        if use_valid:
            split = GroupShuffleSplit(
                n_splits=1, test_size=self.validation_fraction, random_state=self.random_state
            )
            train_idx, valid_idx = next(split.split(M, y, groups))
        else:
            train_idx, valid_idx = np.arange(len(X)), np.arange(0)
        self._train_booster(M, y, train_idx, valid_idx, columns, categorical, monotone)
        self.n_train_rows_, self.n_valid_rows_ = len(train_idx), len(valid_idx)
        self.calibrator_ = self._fit_calibrator(M[valid_idx], y[valid_idx])
        self.feature_importance_ = pd.Series(
            self.booster_.feature_importance("gain", iteration=self.best_iteration_),
            index=pd.Index(columns, name="feature"),
            name="gain",
        )
        return self

    def _input_columns(self, X: pd.DataFrame) -> tuple[tuple[str, ...], list[str]]:
        """The prefixes excluded and the model input columns left, which must not be none."""
        excluded = tuple(
            dict.fromkeys(self._always_exclude_prefixes + _as_prefixes(self.exclude_prefixes))
        )
        columns = feature_columns(X, exclude_prefixes=excluded)
        if not columns:
            raise FeatureFrameError(
                f"{type(self).__name__}: the feature frame has no model input columns "
                "(competency_id, source, domain or own_/graph_/dom_/edu_/dose_/diff_/prof_ "
                f"features); got {list(X.columns)}"
            )
        return excluded, columns

    def _validation_groups(self, X: pd.DataFrame, groups) -> np.ndarray:
        """The educator of each row for the grouped validation split (``groups`` or
        ``X["educator_id"]``), checked to have one per row and at least two educators."""
        name = type(self).__name__
        if groups is None:
            if "educator_id" not in X.columns:
                raise FeatureFrameError(
                    f"{name}: the feature frame is missing required column(s) "
                    "['educator_id'], used to split validation by educator; add it or pass "
                    "groups="
                )
            groups = X["educator_id"].to_numpy()
        groups = np.asarray(groups)
        if len(groups) != len(X):
            raise FeatureFrameError(f"{name}: groups has {len(groups)} rows but X has {len(X)}")
        if len(pd.unique(groups)) < 2:
            raise FeatureFrameError(
                f"{name}: the validation split is by educator and needs at least 2 educators; "
                "set validation_fraction=0 and calibration='none' to train on one"
            )
        return groups

    def _train_booster(self, M: np.ndarray, y: np.ndarray, train_idx: np.ndarray,
                       valid_idx: np.ndarray, columns: list[str], categorical: list[str],
                       monotone: list[int]) -> None:
        """Boost trees on the training rows, stopping early on the validation rows if any; sets
        ``booster_`` and ``best_iteration_``."""
        cat_idx = [columns.index(c) for c in categorical]
        dtrain = lgb.Dataset(
            M[train_idx],
            y[train_idx],
            feature_name=columns,
            categorical_feature=cat_idx,
            free_raw_data=True,
        )
        valid_sets, callbacks = [], []
        if self.validation_fraction > 0:
            dvalid = lgb.Dataset(M[valid_idx], y[valid_idx], reference=dtrain)
            valid_sets = [dvalid]
            if self.early_stopping_rounds:
                callbacks.append(lgb.early_stopping(self.early_stopping_rounds, verbose=False))
        self.booster_ = lgb.train(
            self.booster_params(monotone),
            dtrain,
            num_boost_round=self.n_estimators,
            valid_sets=valid_sets,
            valid_names=["valid"] * len(valid_sets),
            callbacks=callbacks,
        )
        best = self.booster_.best_iteration
        self.best_iteration_ = int(best) if best and best > 0 else self.booster_.current_iteration()

    def set_schema(self, X: pd.DataFrame,
                   categories: Mapping[str, Sequence] | None = None) -> list[str]:
        """Fix what the model reads from a feature frame: its input columns, categorical
        columns and their levels, and monotone constraints; returns the input columns.

        ``fit`` learns the levels from its whole frame. A fit whose frame is never in one
        place (``pdrec train --dask`` builds it on the workers) passes a sample of it as ``X``
        and the levels as ``categories`` (its feature builder's category dtypes), so every
        partition is coded alike before any is built; a categorical column without levels there
        raises ValueError naming it.
        """
        excluded, columns = self._input_columns(X)
        categorical = categorical_feature_columns(X, columns)
        if categories is None:
            levels = {c: learn_categories(X[c]) for c in categorical}
        else:
            unfixed = [c for c in categorical if c not in categories]
            if unfixed:
                raise ValueError(f"categorical columns {unfixed} have no levels in "
                                 f"categories (given for {sorted(categories)}); pass them, or "
                                 "fit on the whole frame so the levels are learned from it")
            levels = {c: list(categories[c]) for c in categorical}
        self.exclude_prefixes_ = excluded
        self.categorical_features_ = categorical
        self.categories_ = levels
        self._set_fitted_classes(columns)
        self.monotone_constraints_ = self._resolve_monotone(columns, categorical)
        return columns

    def _fit_calibrator(self, M_valid: np.ndarray, y_valid: np.ndarray):
        """The calibrator of the booster's margins on the validation rows (:meth:`calibrator`)."""
        return self.calibrator(self._margin(M_valid) if self.calibration != "none" else
                               np.empty(0), y_valid)

    def calibrator(self, margin: np.ndarray, y_valid: np.ndarray):
        """The calibrator of validation ``margin`` (the booster's raw scores at
        ``best_iteration_``) against their outcomes ``y_valid``, or None (no calibration asked,
        or a one-class fold, which warns). ``fit`` sets ``calibrator_`` to it; a fit that
        computes the margins elsewhere (on Dask workers) passes them here."""
        if self.calibration == "none":
            return None
        if len(np.unique(y_valid)) < 2:
            warnings.warn(
                f"{type(self).__name__}: the validation fold holds one class only; probabilities "
                "are left uncalibrated. Use more educators or a larger validation_fraction.",
                UserWarning,
                stacklevel=4,  # the caller of fit (through _fit_calibrator)
            )
            return None
        if self.calibration == "isotonic":
            return IsotonicRegression(
                y_min=_ISOTONIC_EPS, y_max=1 - _ISOTONIC_EPS, out_of_bounds="clip"
            ).fit(margin, y_valid)
        return PlattCalibrator().fit(margin, y_valid)

    # ---------------------------------------------------------------- predict
    def _margin(self, M: np.ndarray) -> np.ndarray:
        return self.booster_.predict(
            M, num_iteration=self.best_iteration_, raw_score=True, num_threads=self.n_jobs
        )

    def _predict_positive(self, X: pd.DataFrame) -> np.ndarray:
        return self._positive(self._margin(self.input_matrix(X)))

    def _positive(self, margin: np.ndarray) -> np.ndarray:
        """P(proficient) from raw margins: the calibrator's, or the sigmoid without one.

        A clipping isotonic calibrator is read directly: ``np.interp`` on its thresholds after
        clipping to its range is what ``IsotonicRegression.predict`` computes (scipy's linear
        ``interp1d`` hands float64 data to ``np.interp``), without its per-call input checks,
        which cost more than the interpolation on a single educator's rows (a test checks the
        two are equal).
        """
        cal = self.calibrator_
        if cal is None:
            return expit(margin)
        if (isinstance(cal, IsotonicRegression) and cal.out_of_bounds == "clip"
                and len(cal.y_thresholds_) > 1):
            return np.interp(np.clip(np.asarray(margin, dtype=np.float64), cal.X_min_, cal.X_max_),
                             cal.X_thresholds_, cal.y_thresholds_)
        return cal.predict(margin)

    def predict_matrix(self, M) -> np.ndarray:
        """P(proficient) per row of a matrix of ``feature_names_in_``, in that order.

        The matrix path (:meth:`recommender.features.FeatureBuilder.serving_matrix` builds
        one): numeric columns as floats, categorical ones as codes of ``categories_`` (NaN for
        missing or unseen levels), exactly the matrix :meth:`predict_proba` makes of a feature
        frame, so the two give the same numbers; no frame is checked or converted here.
        """
        check_is_fitted(self)
        M = np.asarray(M, dtype=np.float64)
        if M.ndim != 2 or M.shape[1] != self.n_features_in_:
            raise FeatureFrameError(
                f"{type(self).__name__}: predict_matrix takes a (rows, {self.n_features_in_}) "
                f"matrix of feature_names_in_; got shape {M.shape}")
        return np.clip(np.asarray(self._positive(self._margin(M)), dtype=np.float64), 0.0, 1.0)

    def decision_function(self, X) -> np.ndarray:
        """Raw (uncalibrated) log-odds of proficiency per row."""
        X = self._check_X_predict(X)
        return self._margin(self.input_matrix(X))

    def feature_contributions(self, X) -> pd.DataFrame:
        """Per-prediction feature contributions (TreeSHAP) in raw log-odds space.

        Columns are ``feature_names_in_`` plus ``bias``; each row sums to
        :meth:`decision_function` for that row (before calibration). Index follows ``X``.
        """
        X = self._check_X_predict(X)
        contrib = self.booster_.predict(
            self.input_matrix(X),
            num_iteration=self.best_iteration_,
            pred_contrib=True,
            num_threads=self.n_jobs,
        )
        return pd.DataFrame(
            np.asarray(contrib), index=X.index, columns=[*self.feature_names_in_, "bias"]
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class LightGBMNoGraph(LightGBMMastery):
    """:class:`LightGBMMastery` without the ``graph_`` features: the no-graph ablation.

    Same parameters; ``graph_`` is always excluded, in addition to ``exclude_prefixes``.
    """

    _always_exclude_prefixes = ("graph_",)
