"""The coach page (``/coach``): sign in with a coach key, review and adjust educators' pathways.

:func:`install` mounts its routes and its static files (no CDN: everything the page loads is
served by the app) on the API app.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Add ``/coach`` (pages, sign-in, sign-out) and ``/coach/static`` to ``app``."""
    from api.coach.router import STATIC_DIR, router

    app.include_router(router)
    app.mount("/coach/static", StaticFiles(directory=STATIC_DIR), name="coach-static")
