"""The kept-answer lane: ``GET /v1/educators/{id}/recommendations`` answered from the kept answer
before routing, when there is nothing to validate or compute.

A read whose answer is kept (:mod:`api.answers`) is one point read plus the response; through
the router it also paid FastAPI's per-request work (route matching, dependency and parameter
solving: most of its cost, several times that of the point read). This pure ASGI middleware,
placed after authentication, answers such a read itself when **all** of these hold, and
otherwise passes the request on untouched to the route, which validates, computes, keeps and
answers as before:

- the query is empty or exactly ``k=N`` with ``1 <= N <= 50`` (anything else, including an
  invalid ``k``, is the route's to validate);
- the educator id is a valid path segment id and the caller's role may read (else the route's
  422 or 403);
- the tenant's content and model are already known to this process, and an answer to this
  query is kept for the educator's current data (else the route's 404, or it computes);
- no dependency is overridden (tests that fix the request's time go through the route).

The response, its ``request_id`` and its log rows come from the route's own
:func:`api.routers.recommendations.answer_response`, so both lanes answer alike; the request is
counted under the route's template by the metrics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd
from starlette.types import ASGIApp, Receive, Scope, Send

from api.answers import AnswerQuery
from api.routers.recommendations import answer_response
from recommender.fields import ADDRESSABLE_ID

__all__ = ["KeptAnswerLane", "ROUTE"]

ROUTE = "/v1/educators/{educator_id}/recommendations"
_PATH = re.compile(r"/v1/educators/([^/]+)/recommendations")
_ID = re.compile(ADDRESSABLE_ID.pattern)
_QUERY = re.compile(rb"(?:k=([1-9][0-9]?))?")


@dataclass(frozen=True)
class _Template:
    path: str


_COUNTED_AS = _Template(ROUTE)
"""What ``scope["route"]`` holds for a lane answer: :class:`api.metrics.MetricsMiddleware`
labels requests by the route's ``path`` template."""


class KeptAnswerLane:
    """Pure ASGI middleware (see the module docstring); ``app`` is the rest of the stack."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            found = _PATH.fullmatch(scope["path"])
            response = found and await self._kept(scope, found.group(1))
            if response:
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

    async def _kept(self, scope: Scope, educator_id: str):
        query = _QUERY.fullmatch(scope["query_string"])
        k = 5 if query is None or query.group(1) is None else int(query.group(1))
        who = scope.get("state", {}).get("principal")
        app = scope["app"]
        if (query is None or k > 50 or who is None or not who.can("read")
                or app.dependency_overrides or not _ID.fullmatch(educator_id)):
            return None
        services = app.state.services
        content = services.content.known(who.tenant_id)
        state = None if content is None else services.known(who.tenant_id, content)
        if state is None:
            return None
        q = AnswerQuery.of(k, None, False, None, who.role)
        _, answer = await services.answers.lookup(who.tenant_id, educator_id, q, state,
                                                  count_miss=False)
        if answer is None:
            return None
        scope["route"] = _COUNTED_AS  # the metrics count it under the route's template
        return answer_response(services, who, state, educator_id, answer,
                               pd.Timestamp.now(tz="UTC"))
