"""Baselines the LightGBM mastery model is compared against.

- :class:`PopulationRate`: each competency's proficiency rate, smoothed toward the global rate;
- :class:`BKTMastery`: four-parameter Bayesian Knowledge Tracing per competency, fitted by
  maximum likelihood of each row's outcome given its packed history;
- :class:`LogisticMastery`: logistic regression on the same features as LightGBM.

The BKT forward filter is a pure function, :func:`bkt_predict`; the estimator wraps it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit, logit
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from recommender.models.base import (
    FeatureFrameError,
    MasteryModel,
    _as_prefixes,
    _check_number,
    categorical_feature_columns,
    check_feature_frame,
    check_target,
    encode_categories,
    feature_columns,
    learn_categories,
)

__all__ = ["PopulationRate", "BKTMastery", "LogisticMastery", "bkt_predict", "unpack_history"]

MAX_HISTORY = 62
"""Longest history ``hist_bits`` can pack in an int64 (features.py keeps 20)."""


# --------------------------------------------------------------------------------------------
# population rate


class PopulationRate(MasteryModel):
    """Per-competency proficiency rate, smoothed toward the global rate.

    ``p(c) = (proficient_c + smoothing * global_rate) / (n_c + smoothing)``; a competency not
    seen at fit (or missing) gets the global rate.

    Parameters
    ----------
    smoothing : float, default=10.0
        Pseudo-count of global-rate observations added to each competency.

    Attributes
    ----------
    global_rate_ : float
    rates_ : Series
        Smoothed rate per competency seen at fit.
    counts_ : Series
        Training rows per competency.
    classes_, feature_names_in_, n_features_in_
    """

    def __init__(self, *, smoothing=10.0):
        self.smoothing = smoothing

    def fit(self, X, y, *, groups=None):
        """Count proficiency per competency. ``groups`` is accepted and ignored."""
        name = type(self).__name__
        _check_number(name, "smoothing", self.smoothing, low=0)
        X = check_feature_frame(X, ["competency_id"], owner=name)
        y = check_target(y, len(X), owner=name)
        levels = learn_categories(X["competency_id"])
        codes = encode_categories(X["competency_id"], levels)
        seen = ~np.isnan(codes)
        idx = codes[seen].astype(np.int64)
        n = np.bincount(idx, minlength=len(levels)).astype(np.float64)
        k = np.bincount(idx, weights=y[seen], minlength=len(levels))
        self.global_rate_ = float(y.mean())
        m = float(self.smoothing)
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = (k + m * self.global_rate_) / (n + m)
        rates[n + m == 0] = self.global_rate_
        index = pd.Index(levels, name="competency_id")
        self.rates_ = pd.Series(rates, index=index, name="rate")
        self.counts_ = pd.Series(n.astype(np.int64), index=index, name="n")
        self._set_fitted_classes(["competency_id"])
        return self

    def _predict_positive(self, X):
        codes = encode_categories(X["competency_id"], list(self.rates_.index))
        p = np.full(len(X), self.global_rate_)
        ok = ~np.isnan(codes)
        p[ok] = self.rates_.to_numpy()[codes[ok].astype(np.int64)]
        return p


# --------------------------------------------------------------------------------------------
# Bayesian Knowledge Tracing


def unpack_history(hist_bits, hist_len, max_len: int | None = None) -> np.ndarray:
    """Unpack packed histories into an ``(max_len, n)`` int8 array: row ``t`` is outcome ``t``
    (oldest first) where ``t < hist_len``, else -1."""
    bits = np.asarray(hist_bits, dtype=np.int64)
    lens = np.asarray(hist_len, dtype=np.int64)
    if max_len is None:
        max_len = int(lens.max()) if len(lens) else 0
    t = np.arange(max_len, dtype=np.int64)[:, None]
    out = ((bits[None, :] >> t) & 1).astype(np.int8)
    out[t >= lens[None, :]] = -1
    return out


def bkt_predict(hist_bits, hist_len, p_init, p_learn, p_guess, p_slip) -> np.ndarray:
    """P(next outcome proficient) under BKT after filtering each row's packed history.

    Parameters may be scalars or per-row arrays. For each past outcome ``o`` (oldest first) the
    belief ``P(L)`` is conditioned on ``o`` and then advanced by learning:
    ``P(L) <- P(L|o) + (1 - P(L|o)) * p_learn``; finally
    ``P(correct) = P(L) (1 - p_slip) + (1 - P(L)) p_guess``.

    Examples
    --------
    >>> float(bkt_predict(0, 0, 0.3, 0.1, 0.2, 0.1).round(4))
    0.41
    >>> bool(bkt_predict(1, 1, 0.3, 0.1, 0.2, 0.1) > bkt_predict(0, 1, 0.3, 0.1, 0.2, 0.1))
    True
    """
    lens = np.atleast_1d(np.asarray(hist_len, dtype=np.int64))
    n = len(lens)
    L0, T, G, S = (
        np.broadcast_to(np.asarray(v, dtype=np.float64), (n,))
        for v in (p_init, p_learn, p_guess, p_slip)
    )
    obs = unpack_history(np.broadcast_to(np.asarray(hist_bits, dtype=np.int64), (n,)), lens)
    p = L0.copy()
    for t in range(obs.shape[0]):
        o = obs[t]
        active = o >= 0
        right = o == 1
        like_l = np.where(right, 1.0 - S, S)
        like_n = np.where(right, G, 1.0 - G)
        num = p * like_l
        post = num / (num + (1.0 - p) * like_n)
        p = np.where(active, post + (1.0 - post) * T, p)
    q = p * (1.0 - S) + (1.0 - p) * G
    return q if np.ndim(hist_len) else q[0]


def _bkt_nll_grad(theta, obs, n_active, n_right, n_wrong, g_max, s_max):
    """Mean negative log-likelihood and its gradient in the logit parameters.

    Each column of ``obs`` (``(max_len, n)``) is a distinct history, seen followed by a
    proficient outcome ``n_right`` times and by a not-proficient one ``n_wrong`` times. Columns
    are sorted by history length, longest first, so that at step ``t`` the active ones are the
    first ``n_active[t]``. Forward-mode differentiation carries ``dP(L)/dtheta`` through the
    filter.
    """
    a, b, c, d = theta
    L0, T, sg, ss = expit(a), expit(b), expit(c), expit(d)
    G, S = g_max * sg, s_max * ss
    dT, dG, dS = T * (1 - T), G * (1 - sg), S * (1 - ss)
    n = len(n_right)
    p = np.full(n, L0)
    dp = np.zeros((n, 4))
    dp[:, 0] = L0 * (1 - L0)
    for t in range(obs.shape[0]):
        k = n_active[t]
        if k == 0:
            break
        right = obs[t, :k] == 1
        pk, dpk = p[:k], dp[:k]
        like_l = np.where(right, 1.0 - S, S)
        like_n = np.where(right, G, 1.0 - G)
        dlike_l = np.where(right, -dS, dS)  # d like_l / d d
        dlike_n = np.where(right, dG, -dG)  # d like_n / d c
        num = pk * like_l
        den = num + (1.0 - pk) * like_n
        post = num / den
        dnum = dpk * like_l[:, None]
        dnum[:, 3] += pk * dlike_l
        dden = dpk * (like_l - like_n)[:, None]
        dden[:, 3] += pk * dlike_l
        dden[:, 2] += (1.0 - pk) * dlike_n
        dpost = (dnum - post[:, None] * dden) / den[:, None]
        new_dp = dpost * (1.0 - T)
        new_dp[:, 1] += (1.0 - post) * dT
        p[:k] = post + (1.0 - post) * T
        dp[:k] = new_dp
    q = p * (1.0 - S) + (1.0 - p) * G
    dq = dp * (1.0 - S - G)
    dq[:, 3] -= p * dS
    dq[:, 2] += (1.0 - p) * dG
    q = np.clip(q, 1e-12, 1 - 1e-12)
    total = n_right.sum() + n_wrong.sum()
    ll = n_right @ np.log(q) + n_wrong @ np.log1p(-q)
    dll = n_right / q - n_wrong / (1 - q)
    return -ll / total, -(dll @ dq) / total


def _history_counts(bits, lens, y):
    """Distinct histories (the filter depends on nothing else) with their outcome counts,
    laid out for :func:`_bkt_nll_grad`: ``(obs, n_active, n_right, n_wrong)``."""
    keys, inverse = np.unique(np.column_stack([lens, bits]), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    n_right = np.bincount(inverse, weights=y, minlength=len(keys))
    n_wrong = np.bincount(inverse, minlength=len(keys)) - n_right
    order = np.argsort(-keys[:, 0], kind="stable")
    lens_u, bits_u = keys[order, 0], keys[order, 1]
    obs = unpack_history(bits_u, lens_u)
    n_active = (lens_u[None, :] > np.arange(obs.shape[0])[:, None]).sum(axis=1)
    return obs, n_active, n_right[order], n_wrong[order]


class BKTMastery(MasteryModel):
    """Standard four-parameter Bayesian Knowledge Tracing, one parameter set per competency.

    Parameters per competency: ``p_init`` (L0, mastered before any evidence), ``p_learn`` (T,
    learning between observations), ``p_guess`` (G, proficient without mastery) and ``p_slip``
    (S, not proficient despite mastery); no forgetting. G and S are bounded above so the model
    stays identifiable (mastery means "more likely right than wrong").

    Fitting maximizes the likelihood of each training row's outcome given its packed history
    (``hist_bits``/``hist_len``), by L-BFGS-B on logit-parametrized parameters with an exact
    forward-mode gradient. Pooled parameters are fitted on every row first; each competency
    with at least ``min_rows`` rows is then fitted starting from them, the others keep them.

    Parameters
    ----------
    max_iter : int, default=200
        L-BFGS-B iterations per fit.
    min_rows : int, default=50
        Rows a competency needs for its own parameters.
    max_guess : float in (0, 0.5], default=0.3
    max_slip : float in (0, 0.5], default=0.3
    n_init : int, default=3
        Starts for the pooled fit (the first is a fixed default, the others random); the best
        likelihood wins.
    tol : float, default=1e-7
        L-BFGS-B tolerance on the mean log-likelihood.
    random_state : int, default=0

    Attributes
    ----------
    params_ : DataFrame
        Per competency seen at fit: ``p_init``, ``p_learn``, ``p_guess``, ``p_slip``, ``n_rows``
        and ``pooled`` (True when it fell back to the pooled parameters).
    pooled_params_ : dict of str -> float
        Parameters for competencies not seen at fit (or with little data).
    classes_, feature_names_in_, n_features_in_
    """

    _COLUMNS = ("competency_id", "hist_bits", "hist_len")
    _NAMES = ("p_init", "p_learn", "p_guess", "p_slip")

    def __init__(
        self,
        *,
        max_iter=200,
        min_rows=50,
        max_guess=0.3,
        max_slip=0.3,
        n_init=3,
        tol=1e-7,
        random_state=0,
    ):
        self.max_iter = max_iter
        self.min_rows = min_rows
        self.max_guess = max_guess
        self.max_slip = max_slip
        self.n_init = n_init
        self.tol = tol
        self.random_state = random_state

    def _history(self, X) -> tuple[np.ndarray, np.ndarray]:
        name = type(self).__name__
        out = []
        for col in ("hist_bits", "hist_len"):
            s = X[col]
            if not pd.api.types.is_integer_dtype(s.dtype) and not (
                pd.api.types.is_float_dtype(s.dtype)
                and s.notna().all()
                and (s.to_numpy() == np.round(s.to_numpy())).all()
            ):
                raise FeatureFrameError(
                    f"{name}: column {col!r} must hold integers without missing values; "
                    f"got dtype {s.dtype}"
                )
            out.append(s.to_numpy(dtype=np.int64))
        bits, lens = out
        if len(lens) and (lens.min() < 0 or lens.max() > MAX_HISTORY or bits.min() < 0):
            raise FeatureFrameError(
                f"{name}: 'hist_len' must be in [0, {MAX_HISTORY}] and 'hist_bits' non-negative"
            )
        return bits, lens

    def _fit_one(self, bits, lens, y, starts):
        args = (*_history_counts(bits, lens, y), self.max_guess, self.max_slip)
        best = None
        for x0 in starts:
            res = minimize(
                _bkt_nll_grad,
                x0,
                args=args,
                jac=True,
                method="L-BFGS-B",
                bounds=[(-9.0, 9.0)] * 4,
                options={"maxiter": self.max_iter, "ftol": self.tol, "gtol": 1e-6},
            )
            if best is None or res.fun < best.fun:
                best = res
        return best.x

    def _to_params(self, theta) -> np.ndarray:
        s = expit(np.asarray(theta))
        return np.array([s[0], s[1], self.max_guess * s[2], self.max_slip * s[3]])

    def fit(self, X, y, *, groups=None):
        """Fit pooled, then per-competency BKT parameters. ``groups`` is accepted and ignored."""
        name = type(self).__name__
        _check_number(name, "max_iter", self.max_iter, integer=True, low=1)
        _check_number(name, "min_rows", self.min_rows, integer=True, low=1)
        _check_number(name, "max_guess", self.max_guess, low=0, high=0.5, low_open=True)
        _check_number(name, "max_slip", self.max_slip, low=0, high=0.5, low_open=True)
        _check_number(name, "n_init", self.n_init, integer=True, low=1)
        _check_number(name, "tol", self.tol, low=0, low_open=True)
        _check_number(name, "random_state", self.random_state, integer=True, low=0)
        X = check_feature_frame(X, self._COLUMNS, owner=name)
        y = check_target(y, len(X), owner=name)
        bits, lens = self._history(X)

        # p_init 0.4, p_learn 0.15, guess and slip at half their bounds
        default = np.array([logit(0.4), logit(0.15), 0.0, 0.0])
        rng = np.random.default_rng(self.random_state)
        starts = [default] + [rng.uniform(-2.0, 2.0, size=4) for _ in range(self.n_init - 1)]
        pooled_theta = self._fit_one(bits, lens, y, starts)

        levels = learn_categories(X["competency_id"])
        codes = encode_categories(X["competency_id"], levels)
        rows = []
        for j, _level in enumerate(levels):
            mask = codes == j
            n = int(mask.sum())
            own = n >= self.min_rows and 0 < y[mask].sum() < n
            theta = (
                self._fit_one(bits[mask], lens[mask], y[mask], [pooled_theta])
                if own
                else pooled_theta
            )
            rows.append([*self._to_params(theta), n, not own])
        self.params_ = pd.DataFrame(
            rows,
            index=pd.Index(levels, name="competency_id"),
            columns=[*self._NAMES, "n_rows", "pooled"],
        ).astype({"n_rows": np.int64, "pooled": bool})
        self.pooled_params_ = dict(
            zip(self._NAMES, map(float, self._to_params(pooled_theta)), strict=True)
        )
        self._set_fitted_classes(self._COLUMNS)
        return self

    def _predict_positive(self, X):
        bits, lens = self._history(X)
        codes = encode_categories(X["competency_id"], list(self.params_.index))
        table = np.vstack(
            [
                self.params_[list(self._NAMES)].to_numpy(dtype=np.float64),
                np.array([self.pooled_params_[k] for k in self._NAMES]),
            ]
        )
        idx = np.where(np.isnan(codes), len(table) - 1, np.nan_to_num(codes, nan=0)).astype(
            np.int64
        )
        P = table[idx]
        return bkt_predict(bits, lens, P[:, 0], P[:, 1], P[:, 2], P[:, 3])


# --------------------------------------------------------------------------------------------
# logistic regression


_MISSING = "__missing__"


class LogisticMastery(MasteryModel):
    """Logistic regression on the same feature columns as :class:`LightGBMMastery`.

    Numeric columns: median imputation with missing-value indicators, then standard scaling.
    Categorical columns: one-hot, missing as its own level, levels unseen at fit ignored.

    Parameters
    ----------
    C : float, default=1.0
        Inverse L2 regularization strength.
    max_iter : int, default=1000
    exclude_prefixes : str or tuple of str, default=()
        Feature-column prefixes to leave out, as for LightGBM.

    Attributes
    ----------
    pipeline_ : sklearn.pipeline.Pipeline
        Preprocessing and the fitted ``LogisticRegression``.
    categorical_features_, numeric_features_ : list of str
    classes_, feature_names_in_, n_features_in_
    """

    def __init__(self, *, C=1.0, max_iter=1000, exclude_prefixes=()):
        self.C = C
        self.max_iter = max_iter
        self.exclude_prefixes = exclude_prefixes

    def _design(self, X: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for col in self.categorical_features_:
            s = X[col]
            out[col] = np.where(s.isna().to_numpy(), _MISSING, s.astype(str).to_numpy()).astype(
                object
            )
        for col in self.numeric_features_:
            try:
                out[col] = pd.to_numeric(X[col]).to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError) as err:
                raise FeatureFrameError(
                    f"{type(self).__name__}: column {col!r} must be numeric; "
                    f"got dtype {X[col].dtype}"
                ) from err
        return pd.DataFrame(out, index=X.index)

    def fit(self, X, y, *, groups=None):
        """Fit preprocessing and the logistic regression. ``groups`` is accepted and ignored."""
        name = type(self).__name__
        _check_number(name, "C", self.C, low=0, low_open=True)
        _check_number(name, "max_iter", self.max_iter, integer=True, low=1)
        X = check_feature_frame(X, (), owner=name)
        y = check_target(y, len(X), owner=name)
        columns = feature_columns(X, exclude_prefixes=_as_prefixes(self.exclude_prefixes))
        if not columns:
            raise FeatureFrameError(f"{name}: the feature frame has no model input columns")
        self.categorical_features_ = categorical_feature_columns(X, columns)
        self.numeric_features_ = [c for c in columns if c not in self.categorical_features_]
        transformers = []
        if self.numeric_features_:
            numeric = Pipeline(
                [
                    (
                        "impute",
                        SimpleImputer(
                            strategy="median", add_indicator=True, keep_empty_features=True
                        ),
                    ),
                    ("scale", StandardScaler()),
                ]
            )
            transformers.append(("num", numeric, self.numeric_features_))
        if self.categorical_features_:
            transformers.append(
                ("cat", OneHotEncoder(handle_unknown="ignore"), self.categorical_features_)
            )
        self.pipeline_ = Pipeline(
            [
                ("prep", ColumnTransformer(transformers)),
                ("clf", LogisticRegression(C=self.C, max_iter=self.max_iter)),
            ]
        )
        self._set_fitted_classes(columns)
        self.pipeline_.fit(self._design(X), y)
        return self

    def _predict_positive(self, X):
        return self.pipeline_.predict_proba(self._design(X))[:, 1]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
