"""What every mastery model shares: the feature-frame contract, input checks and metrics.

A *feature frame* (built by :mod:`recommender.features`) is a pandas DataFrame with one row per
evidence record (training) or per ``(educator, competency)`` pair (serving):

- identity columns, never model inputs: ``educator_id``, ``as_of`` and, optionally,
  ``evidence_id``;
- categorical columns (``category`` dtype): ``competency_id``, ``source``, ``domain``, and
  profile categoricals prefixed ``prof_``;
- ``hist_bits`` / ``hist_len``: the last (up to 20) proficiency outcomes on the competency
  strictly before ``as_of``, oldest first, packed as bits (bit ``i`` is the ``i``-th outcome);
  read by BKT only;
- numeric features (float, NaN for "no history"), prefixed ``own_``, ``graph_``, ``dom_``,
  ``edu_``, ``dose_``, ``diff_`` or ``prof_``.

The target ``y`` is 0/1 (proficient or not). Every model is a scikit-learn classifier with
``classes_ == [0, 1]``; ``predict_proba(X)[:, 1]`` is the probability of proficiency.
"""

from __future__ import annotations

from collections.abc import Iterable
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score

from recommender.errors import FeatureFrameError, NotFittedError

__all__ = [
    "IDENTITY_COLUMNS",
    "HIST_COLUMNS",
    "CATEGORICAL_COLUMNS",
    "FEATURE_PREFIXES",
    "FeatureFrameError",
    "MasteryModel",
    "feature_columns",
    "categorical_feature_columns",
    "check_feature_frame",
    "check_target",
    "check_is_fitted",
    "encode_categories",
    "learn_categories",
    "expected_calibration_error",
    "reliability_table",
    "mastery_metrics",
]

IDENTITY_COLUMNS = ("educator_id", "as_of", "evidence_id")
"""Columns that identify a row; never model inputs."""

HIST_COLUMNS = ("hist_bits", "hist_len")
"""Packed outcome history; read by BKT, never by tree or linear models."""

CATEGORICAL_COLUMNS = ("competency_id", "source", "domain")
"""Categorical model inputs, always treated as categories whatever their dtype."""

FEATURE_PREFIXES = ("own_", "graph_", "dom_", "edu_", "dose_", "diff_", "prof_")
"""Prefixes of the feature families, in the order :func:`feature_columns` lists them."""


# --------------------------------------------------------------------------------------------
# the feature-frame contract


def _as_prefixes(exclude_prefixes) -> tuple[str, ...]:
    if exclude_prefixes is None:
        return ()
    if isinstance(exclude_prefixes, str):
        return (exclude_prefixes,)
    prefixes = tuple(exclude_prefixes)
    if not all(isinstance(p, str) for p in prefixes):
        raise ValueError(
            f"exclude_prefixes must be a string or an iterable of strings; got {exclude_prefixes!r}"
        )
    return prefixes


def _is_categorical_dtype(dtype) -> bool:
    return isinstance(dtype, pd.CategoricalDtype) or (
        not pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_datetime64_any_dtype(dtype)
    )


def feature_columns(X: pd.DataFrame, *, exclude_prefixes: Iterable[str] = ()) -> list[str]:
    """Model input columns of a feature frame, in a stable order.

    The order is: ``competency_id``, ``source``, ``domain`` (those present), then each feature
    family in :data:`FEATURE_PREFIXES` order, columns within a family in frame order. Identity
    columns, ``hist_bits``/``hist_len`` and columns with no known prefix are left out, as is
    any column starting with one of ``exclude_prefixes``.

    Parameters
    ----------
    X : DataFrame
        A feature frame.
    exclude_prefixes : str or iterable of str, default=()
        Leave out columns whose name starts with any of these (``("graph_",)`` for the
        no-graph ablation).

    Returns
    -------
    list of str

    Examples
    --------
    >>> X = pd.DataFrame(columns=["educator_id", "own_n", "graph_prereq_mastery",
    ...                           "competency_id", "hist_bits", "edu_mean"])
    >>> feature_columns(X)
    ['competency_id', 'own_n', 'graph_prereq_mastery', 'edu_mean']
    >>> feature_columns(X, exclude_prefixes=("graph_",))
    ['competency_id', 'own_n', 'edu_mean']
    """
    excluded = _as_prefixes(exclude_prefixes)
    cols = [str(c) for c in X.columns]

    def keep(name: str) -> bool:
        return not (excluded and name.startswith(excluded))

    out = [c for c in CATEGORICAL_COLUMNS if c in cols and keep(c)]
    for prefix in FEATURE_PREFIXES:
        out.extend(c for c in cols if c.startswith(prefix) and keep(c))
    return out


def categorical_feature_columns(X: pd.DataFrame, columns: Iterable[str]) -> list[str]:
    """Those of ``columns`` that are categorical: the base categoricals, and any other column of
    category, string or object dtype (profile categoricals such as ``prof_role``)."""
    return [c for c in columns if c in CATEGORICAL_COLUMNS or _is_categorical_dtype(X[c].dtype)]


def check_feature_frame(X, required: Iterable[str], *, owner: str = "model") -> pd.DataFrame:
    """Return ``X`` if it is a DataFrame holding every ``required`` column, else raise
    :class:`FeatureFrameError` naming what is missing."""
    if not isinstance(X, pd.DataFrame):
        raise FeatureFrameError(
            f"{owner} expects a feature frame (pandas DataFrame, see recommender.features); "
            f"got {type(X).__name__}"
        )
    missing = [c for c in required if c not in X.columns]
    if missing:
        raise FeatureFrameError(
            f"{owner}: the feature frame is missing required column(s) {missing}; "
            "build it with recommender.features so it has the columns the model was fitted on"
        )
    return X


def check_target(y, n_rows: int, *, owner: str = "model") -> np.ndarray:
    """Return ``y`` as an int64 0/1 array of length ``n_rows`` holding both classes."""
    y_arr = np.asarray(y)
    if y_arr.ndim != 1:
        raise FeatureFrameError(f"{owner}: y must be one-dimensional; got shape {y_arr.shape}")
    if len(y_arr) != n_rows:
        raise FeatureFrameError(f"{owner}: X has {n_rows} rows but y has {len(y_arr)}")
    if y_arr.dtype == bool:
        y_arr = y_arr.astype(np.int64)
    try:
        y_num = y_arr.astype(np.float64)
    except (TypeError, ValueError) as err:
        raise FeatureFrameError(f"{owner}: y must be 0/1 (proficient or not)") from err
    bad = ~np.isin(y_num, (0.0, 1.0))
    if bad.any():
        raise FeatureFrameError(
            f"{owner}: y must be 0/1 (proficient or not); "
            f"found {sorted(set(y_arr[bad].tolist()))[:5]}"
        )
    y_int = y_num.astype(np.int64)
    present = np.unique(y_int)
    if len(present) < 2:
        raise FeatureFrameError(
            f"{owner}: y holds only class {int(present[0]) if len(present) else 'none'}; "
            "a mastery model needs both proficient (1) and not-proficient (0) outcomes"
        )
    return y_int


def learn_categories(column: pd.Series) -> list:
    """The levels of a categorical column: its categories if it has category dtype, else its
    sorted distinct non-missing values."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return list(column.cat.categories)
    return sorted(pd.unique(column.dropna()).tolist(), key=str)


def encode_categories(column: pd.Series, levels: list) -> np.ndarray:
    """Integer codes of ``column`` against the fitted ``levels``, as float64 with NaN for
    missing values and for levels not seen at fit (so prediction never fails on a new id)."""
    if isinstance(column.dtype, pd.CategoricalDtype) and list(column.dtype.categories) == list(levels):
        # the serving path: the builder's dtype is the fitted one, so its codes are ours
        codes = column.array.codes.astype(np.float64)
        codes[codes < 0] = np.nan
        return codes
    index = pd.Index(levels)
    if isinstance(column.dtype, pd.CategoricalDtype):
        # map the column's categories once, then look its codes up
        lookup = np.append(index.get_indexer(column.cat.categories), -1)
        raw = column.cat.codes.to_numpy()
        codes = lookup[np.where(raw < 0, len(lookup) - 1, raw)]
    else:
        codes = index.get_indexer(pd.Index(column.astype(object)))
    codes = codes.astype(np.float64)
    codes[codes < 0] = np.nan
    return codes


def check_is_fitted(estimator, attributes: Iterable[str] = ("classes_",)) -> None:
    """Raise :class:`~recommender.errors.NotFittedError` unless ``estimator`` has been fitted."""
    if not all(hasattr(estimator, a) for a in attributes):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call 'fit' with a "
            "feature frame and targets before using this model."
        )


# --------------------------------------------------------------------------------------------
# parameter checks (at fit time, never in __init__)


def _check_number(
    owner, name, value, *, integer=False, low=None, high=None, low_open=False, high_open=False
):
    kind = Integral if integer else Real
    ok = isinstance(value, kind) and not isinstance(value, bool) and not pd.isna(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "-inf" if low is None else low
        hi = "inf" if high is None else high
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        bounds = f"{left}{lo}, {hi}{right}"
        raise ValueError(
            f"The {name!r} parameter of {owner} must be {'an int' if integer else 'a number'} "
            f"in {bounds}. Got {value!r} instead."
        )


def _check_option(owner, name, value, options):
    if value not in options:
        raise ValueError(
            f"The {name!r} parameter of {owner} must be one of {sorted(map(str, options))}. "
            f"Got {value!r} instead."
        )


# --------------------------------------------------------------------------------------------
# the shared estimator behaviour


class MasteryModel(ClassifierMixin, BaseEstimator):
    """Shared behaviour of the mastery models: ``predict_proba``/``predict`` at the door.

    Subclasses implement ``fit`` (which must set ``classes_``, ``feature_names_in_`` and
    ``n_features_in_``) and ``_predict_positive(X) -> ndarray`` (P(proficient) per row, for a
    frame already checked to hold ``feature_names_in_``).
    """

    reads_matrix: bool = False
    """Whether the model has ``predict_matrix(M)``: P(proficient) from a float matrix of
    ``feature_names_in_`` (categoricals as codes of ``categories_``), the serving path that
    skips the feature frame (:class:`~recommender.models.predictor.MasteryPredictor`)."""

    def _check_X_predict(self, X) -> pd.DataFrame:
        check_is_fitted(self)
        return check_feature_frame(X, self.feature_names_in_, owner=type(self).__name__)

    def _set_fitted_classes(self, columns: Iterable[str]) -> None:
        self.classes_ = np.array([0, 1])
        self.feature_names_in_ = np.asarray(list(columns), dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities of not proficient (column 0) and proficient (column 1).

        Parameters
        ----------
        X : DataFrame
            A feature frame holding ``feature_names_in_``.

        Returns
        -------
        ndarray of shape (n_rows, 2)
        """
        X = self._check_X_predict(X)
        p = np.clip(np.asarray(self._predict_positive(X), dtype=np.float64), 0.0, 1.0)
        return np.column_stack([1.0 - p, p])

    def predict(self, X) -> np.ndarray:
        """Predicted class (1 = proficient) at threshold 0.5."""
        positive = self.predict_proba(X)[:, 1] >= 0.5
        return self.classes_[positive.astype(np.int64)]

    def predict_mastery(self, X) -> pd.Series:
        """P(proficient) per row, as a Series aligned with ``X.index``."""
        return pd.Series(self.predict_proba(X)[:, 1], index=X.index, name="p_mastery")


# --------------------------------------------------------------------------------------------
# metrics (pure)


def _check_y_p(y, p) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    p = np.asarray(p, dtype=np.float64)
    if p.ndim == 2 and p.shape[1] == 2:
        p = p[:, 1]
    p = p.ravel()
    if y.shape != p.shape:
        raise ValueError(f"y and p must have the same length; got {len(y)} and {len(p)}")
    if np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p must hold probabilities in [0, 1] (no NaN)")
    return y, p


def reliability_table(y, p, n_bins: int = 15) -> pd.DataFrame:
    """Equal-width reliability bins of predicted probabilities.

    Returns one row per non-empty bin with ``bin_lo``, ``bin_hi``, ``n``, ``mean_p`` (mean
    predicted probability) and ``rate`` (observed proficiency rate).
    """
    y, p = _check_y_p(y, p)
    if not isinstance(n_bins, Integral) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive int; got {n_bins!r}")
    idx = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    n = np.bincount(idx, minlength=n_bins)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y, minlength=n_bins)
    keep = n > 0
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    return pd.DataFrame(
        {
            "bin_lo": edges[:-1][keep],
            "bin_hi": edges[1:][keep],
            "n": n[keep],
            "mean_p": sum_p[keep] / n[keep],
            "rate": sum_y[keep] / n[keep],
        }
    )


def expected_calibration_error(y, p, n_bins: int = 15) -> float:
    """Expected calibration error over ``n_bins`` equal-width bins.

    ``sum_b (n_b / n) * |rate_b - mean_p_b|``; 0 is perfectly calibrated. ``p`` may be the
    positive-class probabilities or a ``(n, 2)`` ``predict_proba`` array.

    Examples
    --------
    >>> expected_calibration_error([0, 1, 1, 0], [0.0, 1.0, 1.0, 0.0])
    0.0
    >>> round(expected_calibration_error([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]), 6)
    0.0
    >>> round(expected_calibration_error([1, 1, 1, 1], [0.5, 0.5, 0.5, 0.5]), 6)
    0.5
    """
    table = reliability_table(y, p, n_bins)
    if table.empty:
        return float("nan")
    w = table["n"].to_numpy() / table["n"].sum()
    return float(np.sum(w * np.abs(table["rate"].to_numpy() - table["mean_p"].to_numpy())))


def mastery_metrics(y, p, n_bins: int = 15) -> dict[str, float]:
    """AUC, log loss, Brier score and ECE of probabilities ``p`` for 0/1 outcomes ``y``.

    AUC is NaN when ``y`` holds a single class. Returns plain floats (MLflow-loggable).
    """
    y, p = _check_y_p(y, p)
    both = len(np.unique(y)) == 2
    return {
        "n": float(len(y)),
        "base_rate": float(y.mean()) if len(y) else float("nan"),
        "auc": float(roc_auc_score(y, p)) if both else float("nan"),
        "log_loss": float(log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "ece": expected_calibration_error(y, p, n_bins),
    }
