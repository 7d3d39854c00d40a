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
from api.services import Loader, ModelState
from api.settings import Settings
from pipelines import tracking

__all__ = ["champion_loader", "create_app"]

log = logging.getLogger("pdrec.api")


def champion_loader(data_dir: Path) -> Loader:
    """A loader of ``models:/mastery@champion`` (MLflow, :mod:`pipelines.tracking`) for the app."""

    def load() -> ModelState:
        tracking.configure(data_dir)
        version = tracking.champion_version()
        if version is None:
            return ModelState(reason="no champion in the model registry (models:/mastery@champion)")
        predictor = tracking.load_champion()
        gains = severity = None
        try:
            gains = tracking.load_champion_gains()
        except Exception as exc:  # noqa: BLE001 - gains are optional: serve the catalog prior
            log.warning("champion gains not loaded (%s); using catalog priors", exc)
        try:
            severity = tracking.load_champion_severity()
        except Exception as exc:  # noqa: BLE001 - optional: estimate without the correction
            log.warning("champion rater severity not loaded (%s); no rater correction", exc)
        return ModelState(predictor=predictor, name=str(getattr(predictor, "name", "mastery")),
                          version=str(predictor.version), gains=gains, severity=severity)

    return load


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API app serving the MLflow champion (when ``PDREC_LOAD_MODEL``, the default)."""
    settings = settings or Settings()
    loader = champion_loader(settings.data_dir) if settings.load_model else None
    return create_api(settings, model_loader=loader)
