"""Query strings: a parameter that takes one value, sent more than once, is a 422.

Starlette keeps every value of a repeated query parameter, and FastAPI reads a parameter that
takes one value with ``get``: ``GET /v1/educators?search=a&search=b`` was answered for ``b``
alone, silently. :func:`single_valued_query`, a dependency of every route (installed by
:func:`api.app.create_app`), refuses such a request before the route runs, with the body of any
other query validation error (``validation_error``; ``details`` name the parameter, its
``location`` ``query``, the values sent and why). Parameters that take a list
(``?formats=course&formats=workshop``) and names the route does not read are left alone.

The check runs before the route's own dependencies, so a key whose role may not use the route
hears this 422 rather than its 403 (authentication comes first: it is done at the door,
:class:`api.auth.AuthMiddleware`).
"""

from __future__ import annotations

import collections
import collections.abc
import types
from typing import Annotated, Any, Union, get_args, get_origin

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

__all__ = ["single_value_parameters", "single_valued_query", "takes_many"]

_MANY = (list, tuple, set, frozenset, collections.deque, collections.abc.Sequence,
         collections.abc.Set)


def takes_many(annotation: Any) -> bool:
    """Whether FastAPI reads every value of a query parameter of this type: a list, tuple, set or
    other sequence (not ``str`` or ``bytes``), possibly optional or annotated."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return takes_many(get_args(annotation)[0])
    if origin is Union or origin is types.UnionType:
        return any(takes_many(a) for a in get_args(annotation) if a is not type(None))
    kind = origin or annotation
    return (isinstance(kind, type) and issubclass(kind, _MANY)
            and not issubclass(kind, (str, bytes)))


def _query_fields(dependant: Dependant):
    yield from dependant.query_params
    for sub in dependant.dependencies:
        yield from _query_fields(sub)


def single_value_parameters(route: APIRoute) -> frozenset[str]:
    """The names (aliases) of the query parameters of ``route`` that take one value, its
    dependencies' included (worked out only for a request that repeats a name: a rare one)."""
    return frozenset(field.alias for field in _query_fields(route.dependant)
                     if not takes_many(field.field_info.annotation))


async def single_valued_query(request: Request) -> None:
    """Raise a 422 naming every single-value query parameter of the route sent more than once."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or len(request.query_params) == len(
            request.query_params.multi_items()):
        return  # no name is repeated (the common case, checked without looking at the route)
    single = single_value_parameters(route)
    errors = []
    for name in dict.fromkeys(request.query_params):
        values = request.query_params.getlist(name)
        if len(values) > 1 and name in single:
            errors.append({"type": "single_value", "loc": ("query", name), "input": values,
                           "msg": f"sent {len(values)} times; this parameter takes one value"})
    if errors:
        raise RequestValidationError(errors)
