"""What is served: one model version with everything read with it (:class:`ModelState`), and the
loaders that produce it.

Its own module so that what reads a state (the services, the answers, the pipelines) need not
import the services that hold it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType

import pandas as pd

from recommender.estimate import MasteryEstimator
from recommender.ranking import RankingIndex
from recommender.serving import EVIDENCE_FILTER
from recommender.tenant_content import TenantContent

__all__ = ["MASTERY_FORMAT", "Loader", "ModelState", "TenantLoader"]


MASTERY_FORMAT = "m3"
"""What a stored mastery cell means: ``m3`` is the level with a lower bound that decides
"mastered", read through the raters' severity (the prior and every rated record; 2026-12-01).
Rows of an older format (``m2``: the same without rater ids reaching the estimator; none: the
level read one sd below the mean) are recomputed on their next read."""


@dataclass(frozen=True)
class ModelState:
    """What is served: a predictor (None: the evidence filter alone), its version, learned
    gains, rater severity and the parameters its training run logged, all of one model version
    (the loader reads them together; :func:`pipelines.app.champion_loader`).

    ``index`` is the ranking index of these gains (:func:`recommender.ranking.prepare`) and
    ``estimator`` the mastery estimator of this predictor, gains and severity
    (:class:`recommender.estimate.MasteryEstimator`); the :class:`ModelService` builds both when
    it installs a state without them.
    """

    predictor: object | None = None
    name: str = EVIDENCE_FILTER
    version: str | None = None
    gains: pd.DataFrame | None = None
    severity: pd.DataFrame | None = None  # recommender.raters.SEVERITY_COLUMNS
    run_id: str | None = None  # the training run of this version
    params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}), repr=False)
    loaded_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    reason: str | None = None  # why the evidence filter alone is served, when it is
    scope: str = "default"  # "tenant": the tenant's own champion (``none`` when no model)
    # the short model card (api.schemas.ModelCard), read by the loader; None: none logged
    card: dict | None = field(default=None, repr=False, compare=False)
    index: RankingIndex | None = field(default=None, repr=False, compare=False)
    estimator: MasteryEstimator | None = field(default=None, repr=False, compare=False)
    # the tenant content this state is adapted to (api.content.ContentService.serve); None:
    # not adapted yet (the default content's index and estimator)
    content: TenantContent | None = field(default=None, repr=False, compare=False)
    note: str | None = None  # why the graph rule answers though a model is served
    # where the loader read the model: "registry" (MLflow) or "bundle" (a directory,
    # PDREC_MODEL_DIR: pipelines.model_bundle); None when the loader does not say
    source: str | None = None

    @property
    def fallback(self) -> bool:
        return self.predictor is None

    @property
    def key(self) -> str:
        """Identifies the estimator in stored mastery rows: the model, and the format of the
        estimate (:data:`MASTERY_FORMAT`), so rows computed with another meaning are stale."""
        model = EVIDENCE_FILTER if self.predictor is None else f"{self.name}:{self.version}"
        own = self.content is not None and not self.content.default
        return f"{model}@{MASTERY_FORMAT}" + (f"/{self.content.tag}" if own else "")

    def info(self) -> dict:
        """The ``model`` field of every response; ``scope`` says whose champion it is: the
        tenant's own, the ``default`` one, or ``none`` (the evidence filter); ``card`` what it
        was trained on (None for the evidence filter or a model logged without a card);
        ``content`` the framework and catalog versions the answer used; ``note`` why the graph
        rule answers when a model is served (a tenant framework it was not trained on);
        ``source`` where the model was read from (the registry or a bundle directory)."""
        return {"name": self.name, "version": self.version, "fallback": self.fallback,
                "scope": "none" if self.fallback else self.scope,
                "source": None if self.fallback else self.source,
                "card": None if self.fallback else self.card, "note": self.note,
                "content": None if self.content is None else self.content.info()}


Loader = Callable[[], ModelState]
"""Returns the state to serve; called at start and by every reload. The app is handed one
(:func:`api.app.create_app`): ``pdrec serve`` passes the MLflow champion's
(:func:`pipelines.app.champion_loader`), so this package never imports MLflow or the
pipelines."""

TenantLoader = Callable[[str], "ModelState | None"]
"""Returns a tenant's own champion, or None when the tenant is served the default one
(:func:`pipelines.app.tenant_champion_loader`: the ``champion-<tenant>`` alias)."""
