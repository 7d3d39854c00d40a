"""The API as ``pdrec serve`` runs it: :func:`api.app.create_app` handed the champion's loader.

The app (:mod:`api`) serves whatever model its loader returns and never imports MLflow or this
package; the wiring is done here, in the outer layer. uvicorn runs :func:`create_app` in factory
mode (``pipelines.app:create_app``), once per worker.
"""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI

from api.app import create_app as create_api
from api.services import Loader, ModelState, TenantLoader
from api.settings import Settings
from pipelines import tracking
from pipelines.model_card import served_card

__all__ = ["champion_loader", "tenant_champion_loader", "create_app", "model_state"]

log = logging.getLogger("pdrec.api")


def champion_loader(data_dir: Path) -> Loader:
    """A loader of ``models:/mastery@champion`` (MLflow, :mod:`pipelines.tracking`) for the app.

    Each load resolves the alias once and reads the model, gains, rater severity and parameters
    from that one version (:func:`pipelines.tracking.load_champion_bundle`) into one
    :class:`~api.services.ModelState`, which the app swaps in whole: a promote during a load
    is served by the next load, never mixed into this one.
    """

    def load() -> ModelState:
        tracking.configure(data_dir)
        champion = tracking.load_champion_bundle()
        if champion is None:
            return ModelState(reason="no champion in the model registry (models:/mastery@champion)")
        for note in champion.notes:  # a gains or severity table absent or unreadable
            log.warning("%s", note)
        return model_state(champion)

    return load


def tenant_champion_loader(data_dir: Path) -> TenantLoader:
    """A loader of a tenant's own champion (``models:/mastery@champion-<tenant>``): its
    :class:`~api.services.ModelState`, read from one version as :func:`champion_loader` does,
    or None when the tenant has none (or an id no alias can name): it is served the default.
    """

    def load(tenant: str) -> ModelState | None:
        try:
            tracking.tenant_alias(tenant)
        except ValueError:
            return None
        tracking.configure(data_dir)
        champion = tracking.load_champion_bundle(tenant)
        if champion is None:
            return None
        for note in champion.notes:
            log.warning("tenant %s: %s", tenant, note)
        return model_state(champion)

    return load


def model_state(champion: tracking.Champion) -> ModelState:
    """What the app serves of a champion: every field from its one version."""
    return ModelState(predictor=champion.predictor,
                      name=str(getattr(champion.predictor, "name", "mastery")),
                      version=champion.version, run_id=champion.run_id, gains=champion.gains,
                      severity=champion.severity, params=champion.params,
                      card=(None if champion.card is None
                            else served_card(champion.card, champion.trained_at)))


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API app serving the MLflow champion (when ``PDREC_LOAD_MODEL``, the default)."""
    settings = settings or Settings()
    if not settings.load_model:
        return create_api(settings)
    return create_api(settings, model_loader=champion_loader(settings.data_dir),
                      tenant_loader=tenant_champion_loader(settings.data_dir))
