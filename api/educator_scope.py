"""What an ``educator`` key may reach: its own educator, and the tenant's content, nothing else.

An educator key (:class:`~recommender.store.ApiKey` with ``educator_id``) is checked here, once,
by :class:`~api.auth.AuthMiddleware`, before any route runs or any body is read; the routes'
role checks (``read``, ``consent:write``) apply after it as for every key. The rules, by route
template (so a new route is covered the moment it is added):

- ``/v1/educators/{educator_id}`` and every path under it, for **another** educator id: 404,
  with the very body a missing educator gets (:func:`missing_educator`), whatever the method:
  whether someone else exists is not the key's to learn (as across tenants).
- the same paths for **its own** id: every read (GET), and the writes of
  :data:`EDUCATOR_WRITES` (its consent settings); any other write is 403.
- the tenant's content, read-only (:data:`CONTENT_READS`: framework, catalog, crosswalks): it
  is about no one, and the educator's page names competencies and activities with it.
- everything else under ``/v1`` (the educator list, batch endpoints, teams, evidence ingest,
  feedback writes, admin): 403. Feedback (accepted, completed, ...) stays with the platform and
  the coach, who verify it; an educator's completions arrive through their PD platform.

Templates come from the app's OpenAPI document (:class:`EducatorRoutes`); a ``/v1`` path
that matches none of them is refused too (deny by default).
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.routing import compile_path
from starlette.types import Scope

from api.errors import ApiError, Forbidden, NotFound

__all__ = ["CONTENT_READS", "EDUCATOR_PATH", "EDUCATOR_WRITES", "READS", "EducatorRoutes",
           "educator_scope_error", "missing_educator"]

EDUCATOR_PATH = "/v1/educators/{educator_id}"
"""The route template of one educator; every template under it is about that educator."""

READS = frozenset({"GET", "HEAD"})

EDUCATOR_WRITES = frozenset({("PUT", EDUCATOR_PATH + "/consent")})
"""``(method, route template)`` an educator key may write, for its own educator only."""

CONTENT_READS = frozenset({"/v1/framework", "/v1/activities", "/v1/crosswalks",
                           "/v1/crosswalks/{scheme}"})
"""Route templates of the tenant's content an educator key may read (GET)."""


def missing_educator(educator_id: str) -> NotFound:
    """The 404 of an educator that is not in the caller's tenant (the routes' own answer)."""
    return NotFound(f"no educator {educator_id!r}",
                    details=[{"field": "educator_id", "value": educator_id,
                              "reason": "no such educator in this tenant"}])


class EducatorRoutes:
    """The app's ``/v1`` route templates, compiled once, to tell which one a path is for.

    Read from the app's OpenAPI document (the same list the tests sweep), so every route the
    API documents is covered; a ``/v1`` path that matches none of them (a route hidden from
    the document, or no route at all) is refused to an educator key.
    """

    def __init__(self, templates: Sequence[str]):
        self._compiled = [(compile_path(t)[0], t) for t in templates if t.startswith("/v1/")]

    @classmethod
    def of(cls, app) -> EducatorRoutes:  # noqa: ANN001 - a FastAPI app
        """The app's routes, compiled on first use and kept on ``app.state``."""
        found = getattr(app.state, "educator_routes", None)
        if found is None:
            found = app.state.educator_routes = cls(list(app.openapi().get("paths", {})))
        return found

    def match(self, path: str) -> tuple[str, dict[str, str]] | None:
        """``(template, path params)`` of the route ``path`` is for; None when there is none."""
        for regex, template in self._compiled:
            found = regex.match(path)
            if found:
                return template, found.groupdict()
        return None


def educator_scope_error(routes: EducatorRoutes, scope: Scope,
                         educator_id: str | None) -> ApiError | None:
    """Why an educator key bound to ``educator_id`` may not make this request (an error to
    answer with), or None when it may (the route's own checks still follow)."""
    method = scope["method"]
    found = routes.match(scope["path"])
    if found is None:
        return _refused(method, scope["path"], "its own educator and the tenant's framework and "
                                               "catalog")
    template, params = found
    if template == EDUCATOR_PATH or template.startswith(EDUCATOR_PATH + "/"):
        asked = params.get("educator_id")
        if asked != educator_id:
            return missing_educator(str(asked))
        if method in READS or (method, template) in EDUCATOR_WRITES:
            return None
        return _refused(method, template, "reads of its own educator and its consent settings")
    if method in READS and template in CONTENT_READS:
        return None
    return _refused(method, template, "its own educator and the tenant's framework and catalog")


def _refused(method: str, template: str, open_to_it: str) -> Forbidden:
    return Forbidden(
        f"an educator key may not do this ({method} {template}): it is bound to one educator "
        f"and reaches {open_to_it} only; use a platform, coach or admin key",
        details=[{"field": "role", "value": "educator",
                  "reason": f"an educator key reaches {open_to_it}"}])
