"""Admin (role admin): import a OneRoster CSV set as the tenant's educators
(:func:`recommender.standards.roster_import.import_roster`; docs/standards.md). The CLI's
``pdrec roster import`` does the same from a folder or a zip."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from api.auth import Admin
from api.deps import Now, ServicesDep
from api.routers._common import errors, json_response
from api.schemas.imports import MAX_REPORTED, RosterImportIn, RosterImportOut
from recommender.standards.roster_import import import_roster

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.post("/roster", response_model=RosterImportOut,
             summary="Import a OneRoster CSV set as the tenant's educators",
             description="OneRoster 1.1/1.2 bulk or delta files, each file's text by its name. "
                         "Staff users (teachers, aides, administrators, counselors) become "
                         "educators with role, school and grade band, merged into their "
                         "profiles (goals and the keys the roster does not own are kept; a "
                         "`tobedeleted` user is marked, never deleted); students and parents "
                         "are counted, not imported; every row not used is reported with its "
                         "file, line and reason. Importing the same set twice changes nothing.",
             responses=errors(401, 403, 413, 422))
def post_roster(body: RosterImportIn, who: Admin, services: ServicesDep, now: Now) -> Response:
    result = import_roster(services.store, who.tenant_id, body.files, id_field=body.id_field,
                           dry_run=body.dry_run, now=now)
    rejections = result.rejections
    shown = rejections.head(MAX_REPORTED).astype(object)
    return json_response({
        "counts": result.counts(),
        "notes": [{"file": f, "note": n} for f, n in result.roster.notes],
        "rejections_total": len(rejections),
        "rejections": shown.where(shown.notna(), None).to_dict("records"),
    })
