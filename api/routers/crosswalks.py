"""The crosswalk of the tenant's framework to Danielson components and InTASC standards
(read-only): which competencies evidence coded by an external framework's code lands on."""

from __future__ import annotations

from typing import Annotated

import networkx as nx
from fastapi import APIRouter, Path
from starlette.responses import Response

from api.auth import Reader
from api.crosswalks import crosswalk_of, crosswalk_problem
from api.deps import ContentDep, ServicesDep
from api.errors import NotFound
from api.routers._common import errors, json_response
from api.schemas.standards import CrosswalkOut, CrosswalkSchemeOut
from api.services import Services
from recommender.standards.crosswalk import Crosswalk

router = APIRouter(prefix="/v1/crosswalks", tags=["content"])


def _crosswalk(services: Services, graph: nx.DiGraph) -> Crosswalk:
    """The crosswalk of the tenant's framework ``graph``, or a 404 saying why it has none."""
    cw = crosswalk_of(services, graph)
    if cw is None:
        problem = crosswalk_problem(services, graph)
        raise NotFound(f"{problem}; evidence coded by a framework code is rejected",
                       details=[{"field": "framework", "value": graph.graph.get("name"),
                                 "reason": problem}])
    return cw


@router.get("", response_model=CrosswalkOut, summary="The framework's crosswalk",
            description="Per competency, the Danielson Framework for Teaching components and "
                        "InTASC standards it relates to (codes and names only), and the "
                        "competencies deliberately left unmapped. Evidence sent with "
                        "`framework_code` (e.g. `danielson:3b`) lands on every competency "
                        "listing that code. 404 when the served framework has no crosswalk.",
            responses=errors(401, 403, 404))
def get_crosswalk(who: Reader, services: ServicesDep, content: ContentDep) -> Response:
    data = _crosswalk(services, content.graph).to_dict()
    return json_response({"framework": data["framework"], "schemes": list(data["schemes"]),
                          "mappings": data["mappings"], "unmapped": data["unmapped"]})


@router.get("/{scheme}", response_model=CrosswalkSchemeOut,
            summary="One external framework's codes and the competencies each maps to",
            description="`scheme` is `danielson` or `intasc` (or an alias such as `fft`). Each "
                        "code lists the competencies evidence coded with it lands on; a code "
                        "with none is rejected on evidence. 404 naming the schemes otherwise.",
            responses=errors(401, 403, 404, 422))
def get_crosswalk_scheme(
    who: Reader, services: ServicesDep, content: ContentDep,
    scheme: Annotated[str, Path(max_length=64, description="danielson or intasc")],
) -> Response:
    cw = _crosswalk(services, content.graph)
    key = cw.scheme_key(scheme)
    if key is None:
        raise NotFound(f"no crosswalk to {scheme!r}; schemes: {', '.join(cw.schemes)}",
                       details=[{"field": "scheme", "value": scheme,
                                 "reason": f"expected one of {', '.join(cw.schemes)}"}])
    s = cw.schemes[key]
    table = cw.table[cw.table["scheme"] == key]
    by_code = table.groupby("code", sort=False)["competency_id"].agg(list).to_dict()
    return json_response({
        "framework": cw.framework, "scheme": key, "title": s.title, "aliases": list(s.aliases),
        "codes": [{"code": c, "name": n, "competencies": by_code.get(c, [])}
                  for c, n in s.codes.items()]})
