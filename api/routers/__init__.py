"""One router per resource; :func:`api.app.create_app` mounts them all."""

from api.routers import (
    admin,
    content,
    educator_history,
    educators,
    evidence,
    feedback,
    health,
    recommendations,
)

ROUTERS = [health.router, evidence.router, educator_history.router, educators.router,
           recommendations.router, feedback.router, content.router, admin.router]

__all__ = ["ROUTERS"]
