"""The coach page's HTML routes: sign in and out, the educator list and an educator's view,
the team list and a team's view,
and an educator's own view (``/coach/me``) for a signed-in educator key.

The pages are shells (a Jinja2 template, one stylesheet, one script, all served by the app:
nothing is fetched from the internet); the script reads everything through the ``/v1`` API with
the session cookie, and records every coach action through ``POST /v1/feedback``.
"""

from __future__ import annotations

import hmac
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from fastapi import APIRouter, Request
from fastapi.templating import Jinja2Templates
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from api.auth import lookup_key
from api.coach.session import COOKIE, PAGE_ROLES, csrf_token, current_session
from api.errors import ApiError, TooManyRequests
from recommender.store.coach import create_session, end_session
from recommender.store.renewal_rules import renewal_rules

__all__ = ["router", "STATIC_DIR"]

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
templates = Jinja2Templates(directory=str(HERE / "templates"))

router = APIRouter(prefix="/coach", include_in_schema=False)

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _page(request: Request, name: str, context: dict, status: int = 200) -> Response:
    response = templates.TemplateResponse(request, name, context, status_code=status)
    response.headers.update(_SECURITY_HEADERS)
    return response


def _session_or_none(request: Request):
    try:
        return current_session(request)
    except ApiError as exc:
        return None if not request.cookies.get(COOKIE) else exc


def _safe_next(target: str | None) -> str:
    """Only same-site paths under /coach (no open redirect)."""
    if target and target.startswith("/coach") and not target.startswith("//"):
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return "/coach"


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    if origin is None or origin == "null":
        return origin is None
    o = urlsplit(origin)
    return (o.scheme, o.netloc) == (request.url.scheme, request.url.netloc)


def _signin(request: Request, *, message: str | None = None, status: int = 200,
            next_path: str = "/coach") -> Response:
    response = _page(request, "signin.html", {"message": message, "next": next_path}, status)
    if request.cookies.get(COOKIE) and message:
        response.delete_cookie(COOKIE, path="/")
    return response


def _renewal(services, tenant_id: str) -> str:
    """What the educator view's renewal panel can ask: ``deadline`` (the tenant's rules set
    one), ``rules`` (rules without a deadline: the coach picks one), or "" (no rules: no panel,
    rather than a 404 in the browser)."""
    stored = renewal_rules(services.store, tenant_id)
    if stored is None:
        return ""
    return "deadline" if stored.document.get("deadline") else "rules"


def _app(request: Request, key, token: str, educator_id: str | None,
         template: str = "app.html") -> Response:
    services = request.app.state.services
    content = services.content.for_tenant(key.tenant_id)  # the tenant's framework and catalog
    g = content.graph.graph
    ctx = {"csrf": csrf_token(token), "key_label": key.label or key.key_id, "role": key.role,
           "tenant": key.tenant_id, "educator_id": educator_id or "",
           "framework": g.get("title") or g.get("name"),
           "framework_version": content.framework_version,
           "model": services.serve(key.tenant_id, content).info()}
    ctx["renewal"] = _renewal(services, key.tenant_id) if educator_id else ""
    return _page(request, template, ctx)


_ME = "/coach/me"
"""An educator key's own view; the coach pages send a signed-in educator there."""


@router.get("")
def coach_home(request: Request, next: str | None = None) -> Response:
    """The educator list when signed in, else the sign-in form."""
    found = _session_or_none(request)
    if found is None or isinstance(found, ApiError):
        return _signin(request, message=None if found is None else found.message,
                       status=200 if found is None else 401, next_path=_safe_next(next))
    key, token = found
    if key.role == "educator":
        return RedirectResponse(_ME, status_code=303)
    return _app(request, key, token, None)


@router.get("/me")
def educator_home(request: Request) -> Response:
    """A signed-in educator's own view: map, evidence, next steps, renewal, consent."""
    found = _session_or_none(request)
    if found is None or isinstance(found, ApiError):
        return RedirectResponse(f"/coach?next={_ME}", status_code=303)
    key, token = found
    if key.role != "educator":  # coaches and admins have no own view: their list
        return RedirectResponse("/coach", status_code=303)
    return _app(request, key, token, key.educator_id, "educator.html")


@router.get("/educators/{educator_id}")
def coach_educator(request: Request, educator_id: str) -> Response:
    """An educator's view (the script loads it through the API)."""
    found = _session_or_none(request)
    if found is None or isinstance(found, ApiError):
        return RedirectResponse(f"/coach?next=/coach/educators/{educator_id}", status_code=303)
    key, token = found
    if key.role == "educator":  # an educator key sees its own educator, whatever the address
        return RedirectResponse(_ME, status_code=303)
    return _app(request, key, token, educator_id)


@router.get("/teams")
def coach_teams(request: Request) -> Response:
    """The tenant's teams (the script reads ``GET /v1/teams``)."""
    return _team_page(request, None)


@router.get("/teams/{team_id}")
def coach_team(request: Request, team_id: str) -> Response:
    """A team's shared next steps, member by member (``POST /v1/teams/{id}/recommendations``)."""
    return _team_page(request, team_id)


def _team_page(request: Request, team_id: str | None) -> Response:
    found = _session_or_none(request)
    if found is None or isinstance(found, ApiError):
        here = "/coach/teams" + (f"/{quote(team_id, safe='')}" if team_id else "")
        return RedirectResponse(f"/coach?next={quote(here, safe='/')}", status_code=303)
    key, token = found
    if key.role == "educator":  # teams are not an educator key's to see
        return RedirectResponse(_ME, status_code=303)
    return _app(request, key, token, None)


@router.post("/session")
async def sign_in(request: Request) -> Response:
    """Exchange a coach, admin or educator key from the form for a session cookie."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    next_path = _safe_next((form.get("next") or [None])[0])
    if not _same_origin(request):
        return _signin(request, message="Sign-in refused: the form was posted from another "
                                        "site.", status=403)
    if not key:
        return _signin(request, message="Enter your coach key.", status=401,
                       next_path=next_path)
    services = request.app.state.services
    try:
        record = await lookup_key(services, request.scope, key, "key")
    except TooManyRequests as exc:  # same budget as the API's keys (api.auth)
        response = _signin(request, message=f"Too many failed sign-ins from here. Try again in "
                                            f"{exc.headers['Retry-After']} s.",
                           status=429, next_path=next_path)
        response.headers.update(exc.headers)
        return response
    if record is None:
        return _signin(request, message="That key is not valid. Check it and try again.",
                       status=401, next_path=next_path)
    if not record.active:
        return _signin(request, message=f"Key {record.key_id} was revoked. Ask an admin for a "
                                        "new coach key.", status=401, next_path=next_path)
    if record.role not in PAGE_ROLES:
        return _signin(request, message=f"A {record.role} key is for programs calling the API "
                                        "and cannot sign in here. Use a coach key, or your "
                                        "own educator key.",
                       status=403, next_path=next_path)
    if record.role == "educator":
        next_path = _ME
    hours = services.settings.coach_session_hours
    token = await run_in_threadpool(create_session, services.store, record,
                                    timedelta(hours=hours))
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(COOKIE, token, max_age=int(hours * 3600), path="/", httponly=True,
                        samesite="strict", secure=request.url.scheme == "https")
    return response


@router.post("/logout")
async def sign_out(request: Request) -> Response:
    """End the session (the form carries the page's CSRF token)."""
    token = request.cookies.get(COOKIE)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    sent = (form.get("csrf") or [""])[0]
    if token and hmac.compare_digest(sent, csrf_token(token)):
        await run_in_threadpool(end_session, request.app.state.services.store, token)
    response = RedirectResponse("/coach", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
