"""``POST /v1/feedback``: what educators did with recommendations, and coach overrides."""

from __future__ import annotations

from collections import Counter

import pandas as pd
from fastapi import APIRouter
from starlette.responses import Response

from api.auth import FeedbackWriter
from api.deps import ContentDep, Now, ServicesDep
from api.errors import BadRequest, Forbidden, NotFound
from api.routers._common import errors, json_response
from api.schemas import FeedbackIn, FeedbackOut
from recommender.fields import parse_times, time_reason, time_window

router = APIRouter(prefix="/v1/feedback", tags=["feedback"])

OVERRIDES = frozenset({"pinned", "unpinned", "replaced"})

_NO_ACTIVITY = "no activity of the catalog has this id; GET /v1/activities lists them"


@router.post("", response_model=FeedbackOut, status_code=201,
             summary="Record feedback events (all or none are stored)",
             description="Events: accepted, declined, started, completed, rated (with `rating` "
                         "1-5) and the coach overrides pinned, unpinned and replaced (with "
                         "`replaces`; roles coach or admin); `noted` records a `note` about an "
                         "activity and changes nothing else. `at` is ISO 8601 (naive: UTC) from "
                         "1970-01-01 to now + 1 day, default now. Invalid values are a 422 "
                         "naming each (`events[i].<field>`). Then every id must name something "
                         "that exists: an `activity_id` or `replaces` not in the catalog "
                         "(`GET /v1/activities` lists it) or an `educator_id` not in the "
                         "caller's tenant is a 404 naming each (`events[i].<field>`). Either way "
                         "nothing is stored. The next recommendations of these educators take "
                         "the events into account.",
             responses=errors(401, 403, 404, 422, notes={404: (
                 "An `activity_id` or `replaces` not in the catalog, or an `educator_id` not in "
                 "the caller's tenant; each is named (`events[i].<field>`), nothing was "
                 "stored")}))
def post_feedback(
    who: FeedbackWriter,
    services: ServicesDep,
    content: ContentDep,
    now: Now,
    body: FeedbackIn,
) -> Response:
    problems = []  # invalid values: a 422
    unknown = []  # well-formed ids naming nothing: a 404, once the values are valid
    acts = content.catalog.activities.index
    window = time_window(now)  # the request's time: also the time of events sent without one
    sent = [ev.at for ev in body.events]
    times = parse_times(pd.Series(sent, dtype="str"), window)
    for i, ev in enumerate(body.events):
        why = time_reason(f"events[{i}].at", ev.at, times, i, window)
        if why is not None:
            problems.append({"field": f"events[{i}].at", "value": ev.at, "reason": why})
        if ev.event in OVERRIDES and not who.can("overrides:write"):
            raise Forbidden(f"role {who.role!r} may not send coach overrides ({ev.event}); "
                            "roles allowed: ['admin', 'coach']",
                            details=[{"field": f"events[{i}].event", "value": ev.event,
                                      "reason": "coach overrides need role coach or admin"}])
        if ev.activity_id not in acts:
            unknown.append({"field": f"events[{i}].activity_id", "value": ev.activity_id,
                            "reason": _NO_ACTIVITY})
        if ev.event == "rated" and ev.rating is None:
            problems.append({"field": f"events[{i}].rating", "value": None,
                             "reason": "a 'rated' event needs a rating from 1 to 5"})
        if ev.event == "noted" and not (ev.note or "").strip():
            problems.append({"field": f"events[{i}].note", "value": ev.note,
                             "reason": "a 'noted' event needs a non-empty note"})
        if ev.event == "replaced":
            if ev.replaces is None:
                problems.append({"field": f"events[{i}].replaces", "value": None,
                                 "reason": "a 'replaced' event names the activity it replaces"})
            elif ev.replaces not in acts:
                unknown.append({"field": f"events[{i}].replaces", "value": ev.replaces,
                                "reason": _NO_ACTIVITY})
    if problems:
        raise BadRequest(f"{len(problems)} problem(s) in the feedback events; nothing was "
                         "stored", details=problems)
    ids = sorted({ev.educator_id for ev in body.events})
    records = services.store.get_educators(who.tenant_id, ids)
    unknown += [{"field": f"events[{i}].educator_id", "value": ev.educator_id,
                 "reason": "no such educator in this tenant"}
                for i, ev in enumerate(body.events) if ev.educator_id not in records]
    if unknown:
        activities = list(dict.fromkeys(d["value"] for d in unknown
                                        if not d["field"].endswith(".educator_id")))
        missing = [e for e in ids if e not in records]
        named = ([f"activity id(s) {activities} not in the catalog (GET /v1/activities lists "
                  "them)"] if activities else []) + (
                 [f"no educator(s) {missing} in this tenant"] if missing else [])
        raise NotFound(f"{'; '.join(named)}; nothing was stored", details=unknown)
    stamps = times.times.fillna(now)
    rows = []
    for ev, at in zip(body.events, stamps.dt.to_pydatetime(), strict=True):
        rows.append({"educator_id": ev.educator_id, "activity_id": ev.activity_id,
                     "event": ev.event, "at": at, "rating": ev.rating, "replaces": ev.replaces,
                     "by": ev.by, "note": ev.note, "key_id": who.key_id})
    stored = services.store.add_feedback(who.tenant_id, rows)
    completed = sorted({r["educator_id"] for r in rows if r["event"] == "completed"})
    if services.serve(who.tenant_id, content).predictor is not None:  # completions: features
        services.mastery_changed(who.tenant_id, completed, now)
    for event, n in Counter(r["event"] for r in rows).items():
        services.metrics.feedback.labels(event).inc(n)
    return json_response({"stored": stored, "educators_updated": len(ids)}, 201)
