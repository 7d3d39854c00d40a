"""Mastery models behind one interface, baselines beside them.

Every model is a scikit-learn classifier over a feature frame (see
:mod:`recommender.models.base`): ``fit(X, y, *, groups=None)`` returns ``self``,
``predict_proba(X)[:, 1]`` is P(proficient). :data:`MODELS` names them for configs and the CLI;
:func:`make_model` builds one by name.
"""

from __future__ import annotations

from recommender.models.base import (
    FeatureFrameError,
    MasteryModel,
    expected_calibration_error,
    feature_columns,
    mastery_metrics,
    reliability_table,
)
from recommender.models.baselines import (
    BKTMastery,
    LogisticMastery,
    PopulationRate,
    bkt_predict,
)
from recommender.models.lgbm import LightGBMMastery, LightGBMNoGraph

__all__ = [
    "MODELS",
    "make_model",
    "MasteryModel",
    "FeatureFrameError",
    "LightGBMMastery",
    "LightGBMNoGraph",
    "LogisticMastery",
    "BKTMastery",
    "PopulationRate",
    "bkt_predict",
    "feature_columns",
    "expected_calibration_error",
    "reliability_table",
    "mastery_metrics",
]

MODELS: dict[str, type[MasteryModel]] = {
    "lightgbm": LightGBMMastery,
    "lightgbm_nograph": LightGBMNoGraph,
    "logistic": LogisticMastery,
    "bkt": BKTMastery,
    "population": PopulationRate,
}
"""Model name -> class. The names are what configs, the CLI and MLflow runs use."""


def make_model(name: str, **params) -> MasteryModel:
    """A new, unfitted model by registry name, with hyperparameters ``params``.

    Raises
    ------
    ValueError
        If ``name`` is not in :data:`MODELS` (the message lists the known names), or if a
        parameter is not one the model takes.

    Examples
    --------
    >>> make_model("population", smoothing=5.0)
    PopulationRate(smoothing=5.0)
    """
    try:
        cls = MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown model {name!r}; known models: {', '.join(sorted(MODELS))}"
        ) from None
    model = cls()
    valid = model.get_params(deep=False)
    unknown = sorted(set(params) - set(valid))
    if unknown:
        raise ValueError(
            f"{cls.__name__} ({name!r}) has no parameter(s) {unknown}; "
            f"valid parameters: {sorted(valid)}"
        )
    return model.set_params(**params)
