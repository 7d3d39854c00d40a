"""One router per resource; :func:`api.app.create_app` mounts them all."""

from api.routers import (
    admin,
    content,
    crosswalks,
    educator_history,
    educators,
    equity_audit,
    evidence,
    feedback,
    firewall,
    health,
    pathways,
    recommendations,
    renewal,
    roster,
    teams,
    tenant_content,
)

# Matched in this order (FastAPI tries each included router in turn): the read path's hot
# route right after the health checks; no two routers have overlapping paths.
ROUTERS = [health.router, recommendations.router, pathways.router, evidence.router,
           educator_history.router, educators.router, feedback.router, content.router,
           crosswalks.router, admin.router, tenant_content.router, roster.router,
           renewal.router, teams.router, equity_audit.router, firewall.router]

__all__ = ["ROUTERS"]
