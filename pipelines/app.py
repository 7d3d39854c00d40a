"""The API as ``pdrec serve`` runs it: :func:`api.app.create_app` handed the champion's loader.

The app (:mod:`api`) serves whatever model its loader returns and never imports MLflow or this
package; the wiring is done here, in the outer layer. uvicorn runs :func:`create_app` in factory
mode (``pipelines.app:create_app``), once per worker.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from fastapi import FastAPI

from api.app import create_app as create_api
from api.services import Loader, ModelState, TenantLoader
from api.settings import Settings
from pipelines import model_bundle, tracking
from pipelines.model_card import served_card

__all__ = ["bundle_loader", "champion_loader", "tenant_champion_loader", "create_app",
           "model_loaders", "model_state"]

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
        return model_state(champion, source="registry")

    return load


def bundle_loader(model_dir: Path, first: tracking.Champion | None = None) -> Loader:
    """A loader of the model bundle in ``model_dir`` (:func:`pipelines.model_bundle.load_bundle`,
    ``PDREC_MODEL_DIR``): no tracking server or registry is read. Each load verifies the bundle
    again, so a reload picks up a bundle replaced in place, and a broken one keeps the model
    being served. ``first``: a bundle already loaded, returned by the first load instead.
    """
    pending = [] if first is None else [first]

    def load() -> ModelState:
        champion = pending.pop() if pending else model_bundle.load_bundle(model_dir)
        for note in champion.notes:  # a gains or severity table absent from the bundle
            log.warning("%s", note)
        return model_state(champion, source="bundle")

    return load


def registry_exists(data_dir: Path) -> bool:
    """Whether there is a model registry to read: ``MLFLOW_TRACKING_URI`` is set or the embedded
    store exists (``DATA_DIR/mlflow/mlflow.db``); asking :mod:`pipelines.tracking` would create
    the embedded one."""
    return bool(os.environ.get("MLFLOW_TRACKING_URI")) or (
        Path(data_dir).resolve() / "mlflow" / "mlflow.db").is_file()


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
        return model_state(champion, source="registry")

    return load


def model_state(champion: tracking.Champion, source: str = "registry") -> ModelState:
    """What the app serves of a champion: every field from its one version; ``source`` says
    where it was read (``registry`` or ``bundle``)."""
    return ModelState(predictor=champion.predictor, source=source,
                      name=str(getattr(champion.predictor, "name", "mastery")),
                      version=champion.version, run_id=champion.run_id, gains=champion.gains,
                      severity=champion.severity, params=champion.params,
                      card=(None if champion.card is None
                            else served_card(champion.card, champion.trained_at)))


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API app serving the MLflow champion (when ``PDREC_LOAD_MODEL``, the default), or the
    bundle in ``PDREC_MODEL_DIR`` when it is set (:func:`model_loaders`)."""
    settings = settings or Settings()
    model_loader, tenant_loader = model_loaders(settings)
    return create_api(settings, model_loader=model_loader, tenant_loader=tenant_loader)


def model_loaders(settings: Settings) -> tuple[Loader | None, TenantLoader | None]:
    """The default model's loader and the tenants' own champions' loader ``pdrec serve`` serves
    with: none when ``PDREC_LOAD_MODEL`` is off; the bundle in ``PDREC_MODEL_DIR`` when set, else
    the MLflow champion.

    A bundle is loaded here, at once: one that fails verification or loading raises
    :class:`~pipelines.model_bundle.BundleError` (or MLflow's error) and the process does not
    start, rather than serving the graph rule (what a registry champion that fails to load
    does: the registry may be down for a while, a named directory is a deployment mistake).
    Tenants' own champions still come from the registry when one exists
    (:func:`registry_exists`); without one, every tenant is served the bundle.
    """
    if not settings.load_model:
        return None, None
    data_dir = settings.data_dir
    tenants = tenant_champion_loader(data_dir)
    if settings.model_dir is None:
        return champion_loader(data_dir), tenants
    champion = model_bundle.load_bundle(settings.model_dir)  # raises: the start fails, loudly
    log.info("model bundle %s (mastery version %s, run %s)", settings.model_dir,
             champion.version, champion.run_id)

    def tenant_load(tenant: str) -> ModelState | None:
        return tenants(tenant) if registry_exists(data_dir) else None

    return bundle_loader(settings.model_dir, champion), tenant_load
