"""A fitted feature builder and mastery model, packaged as one thing to save, load and serve.

The :class:`MasteryPredictor` is what the training pipeline registers and what the API loads:
evidence in, P(mastery) for every (educator, competency) out, through the same feature code path
that built the training rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from recommender.features import FeatureBuilder
from recommender.models.base import MasteryModel

__all__ = ["MasteryGrid", "MasteryPredictor"]


@dataclass(frozen=True, eq=False)
class MasteryGrid:
    """P(mastery) and evidence counts of every competency for each educator: ``(E, C)`` arrays
    whose rows follow ``educator_ids`` and columns ``competencies``."""

    educator_ids: np.ndarray
    competencies: list[str]
    p_mastery: np.ndarray
    n_evidence: np.ndarray

    def frame(self) -> pd.DataFrame:
        """The long frame ``educator_id, competency_id, p_mastery, n_evidence``, educator-major."""
        n_e, n_c = self.p_mastery.shape
        return pd.DataFrame({
            "educator_id": np.repeat(self.educator_ids, n_c),
            "competency_id": np.tile(np.asarray(self.competencies, dtype=object), n_e),
            "p_mastery": self.p_mastery.ravel(),
            "n_evidence": self.n_evidence.ravel(),
        })


@dataclass
class MasteryPredictor:
    """Feature builder + fitted model (+ a label for explanations and audit logs).

    Examples
    --------
    >>> predictor = MasteryPredictor(builder, model, name="lightgbm")      # doctest: +SKIP
    >>> predictor.mastery(evidence, educator_ids=["E000001"], as_of=now)    # doctest: +SKIP
    """

    builder: FeatureBuilder
    model: MasteryModel
    name: str
    version: str | None = None
    metadata: dict = field(default_factory=dict)

    @property
    def input_columns(self) -> list[str]:
        """The feature-frame columns the model reads."""
        return list(self.model.feature_names_in_)

    def features(
        self,
        evidence: pd.DataFrame,
        *,
        educator_ids: Iterable[str],
        as_of,
        completions: pd.DataFrame | None = None,
        educators: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Serving feature frame: every competency for each educator, as of ``as_of`` (one time,
        or one per educator)."""
        return self.builder.serving_frame(
            evidence,
            as_of=as_of,
            educator_ids=educator_ids,
            completions=completions,
            educators=educators,
        )

    def predict_features(self, X: pd.DataFrame) -> np.ndarray:
        """P(mastery) for each row of a feature frame."""
        return self.model.predict_proba(X)[:, 1]

    def mastery_grid(
        self,
        evidence: pd.DataFrame,
        *,
        educator_ids: Iterable[str],
        as_of,
        completions: pd.DataFrame | None = None,
        educators: pd.DataFrame | None = None,
    ) -> MasteryGrid:
        """P(mastery) of every competency for each educator as of ``as_of``, as arrays.

        ``as_of`` is one time, or one time per (distinct) educator id (see
        :meth:`FeatureBuilder.serving_frame`). A model that reads a matrix
        (``model.reads_matrix``, LightGBM) is served on the builder's matrix of its input
        columns, predicted in blocks of rows (:meth:`FeatureBuilder.serving_blocks`): no feature
        frame, and no frame of the answer either (the estimator reads these arrays as they
        are; :meth:`mastery` is the long frame of the same numbers). The others are served on the
        feature frame. Both give the numbers :meth:`predict_features` gives on
        :meth:`features`.
        """
        ids = np.asarray(list(dict.fromkeys(educator_ids)), dtype=object)  # read once
        kw = {"educator_ids": ids, "as_of": as_of, "completions": completions,
              "educators": educators}
        shape = (len(ids), len(self.builder.competencies))
        if self.model.reads_matrix:
            blocks, own_n = self.builder.serving_blocks(
                evidence, columns=self.input_columns, categories=self.model.categories_, **kw)
            p = np.concatenate([self.model.predict_matrix(M) for M in blocks])
        else:
            X = self.features(evidence, **kw)  # rows educator-major, competencies in order
            p, own_n = self.predict_features(X), X["own_n"].to_numpy(float)
        return MasteryGrid(ids, self.builder.competencies, p.reshape(shape),
                           np.asarray(own_n).reshape(shape))

    def mastery(
        self,
        evidence: pd.DataFrame,
        *,
        educator_ids: Iterable[str],
        as_of,
        completions: pd.DataFrame | None = None,
        educators: pd.DataFrame | None = None,
    ) -> pd.DataFrame:
        """Long frame ``educator_id, competency_id, p_mastery, n_evidence`` as of ``as_of``:
        :meth:`mastery_grid` as one row per (educator, competency)."""
        return self.mastery_grid(evidence, educator_ids=educator_ids, as_of=as_of,
                                 completions=completions, educators=educators).frame()

    def to_strings(self, X: pd.DataFrame) -> pd.DataFrame:
        """The model's input columns with categoricals as plain strings (for MLflow schemas)."""
        X = X[self.input_columns]
        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        return X.astype({c: object for c in cats}).astype({c: "string" for c in cats})

    def from_strings(self, X: pd.DataFrame) -> pd.DataFrame:
        """Inverse of :meth:`to_strings`: categoricals restored with the builder's categories."""
        dtypes = self.builder.categorical_dtypes()
        out = X.copy()
        for col in self.input_columns:
            if col in dtypes and col in out:
                out[col] = pd.Categorical(out[col].astype(object), dtype=dtypes[col])
        return out
