"""The HTTP API: ``create_app()`` builds the FastAPI app (see :mod:`api.app`)."""

from api.app import create_app

__all__ = ["create_app"]
