"""Coach page sessions: a coach key is exchanged once for an HttpOnly cookie.

The cookie (:data:`COOKIE`) holds a random token; the store keeps its SHA-256 with the key it
was opened with (:mod:`recommender.store.coach`). Every request made with the cookie looks the
session up, so signing out, the expiry (``PDREC_COACH_SESSION_HOURS``) or revoking the key ends
it at once. The key itself never travels again after the sign-in form, and never in a URL.

CSRF: the cookie is ``SameSite=Strict``, and every state-changing request authenticated by it
must also carry ``X-CSRF-Token``, an HMAC of the session token that the page reads from its own
HTML (a cross-site page can neither read it nor send custom headers without a CORS preflight,
which this app never grants).
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from fastapi import Request

from api.errors import Forbidden, Unauthorized
from recommender.store import ApiKey
from recommender.store.coach import session_key

__all__ = ["COOKIE", "CSRF_HEADER", "COACH_ROLES", "PAGE_ROLES", "csrf_token",
           "current_session", "signed_in_key"]

COOKIE = "pdrec_coach"
CSRF_HEADER = "X-CSRF-Token"
COACH_ROLES = frozenset({"coach", "admin"})
"""Roles whose keys may sign in to the coach page (platform keys are for programs)."""
PAGE_ROLES = COACH_ROLES | {"educator"}
"""Roles whose keys may sign in at ``/coach``: coaches and admins to the coach page, an educator
to their own view (``/coach/me``; the API answers such a session as the educator key)."""

_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_token(session_token: str) -> str:
    """The CSRF token that goes with a session (derived, so nothing more is stored)."""
    return hmac.new(session_token.encode(), b"pdrec-coach-csrf", hashlib.sha256).hexdigest()


def current_session(request: Request) -> tuple[ApiKey, str]:
    """The key behind the request's session cookie and the session token.

    Raises :class:`~api.errors.Unauthorized` without a live session (no cookie, unknown or
    expired session, revoked key) and :class:`~api.errors.Forbidden` for a key whose role may
    not use the coach page.
    """
    token = request.cookies.get(COOKIE)
    if not token:
        raise Unauthorized("not signed in: sign in at /coach with a coach key")
    store = request.app.state.services.store
    found = session_key(store, token)
    if found is None:
        raise Unauthorized("coach session unknown or signed out: sign in again at /coach")
    key, expires = found
    if expires <= datetime.now(UTC):
        raise Unauthorized("coach session expired: sign in again at /coach")
    if not key.active:
        raise Unauthorized(f"API key {key.key_id} was revoked, which ended this session")
    if key.role not in PAGE_ROLES:
        raise Forbidden(f"role {key.role!r} may not use the coach page; roles allowed: "
                        f"{sorted(PAGE_ROLES)}")
    return key, token


def signed_in_key(request: Request) -> ApiKey | None:
    """The key behind a ``/v1`` request authenticated by the coach cookie; None without one
    (:func:`api.auth.authenticate` makes the caller from it).

    State-changing methods must also send the session's :data:`CSRF_HEADER` (else 403).
    """
    if not request.cookies.get(COOKIE):
        return None
    key, token = current_session(request)
    if request.method not in _SAFE:
        sent = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(sent, csrf_token(token)):
            raise Forbidden(f"a request authenticated by the coach session cookie must send the "
                            f"page's {CSRF_HEADER} header",
                            details=[{"field": CSRF_HEADER, "value": None if not sent else "…",
                                      "reason": "missing or not this session's token"}])
    return key
