"""The framework and the activity catalog the caller's tenant is served (its active versions,
else the default: :mod:`api.content`), with the catalog's vocabularies (the words its
``format``, ``modality`` and ``level`` come from, which request filters accept:
:mod:`recommender.vocabulary`); both answers carry ``content``, the versions they show."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from starlette.responses import Response

from api.auth import Reader
from api.deps import ContentDep, ServicesDep
from api.routers._common import errors, json_response, unknown_competencies, unknown_word
from api.schemas import Format
from recommender.errors import InvalidInputError
from recommender.graph import framework_to_dict

router = APIRouter(prefix="/v1", tags=["content"])


@router.get("/framework", summary="The competency framework (competencies and prerequisites)",
            responses=errors(401, 403))
def get_framework(
    who: Reader,
    services: ServicesDep,
    content: ContentDep,
) -> Response:
    """The caller's tenant's framework (its active version, else the default), with ``content``
    naming the version."""
    cache = services.__dict__.setdefault("_framework_json", {})
    key = (content.tag, content.framework_hash)
    cached = cache.get(key)
    if cached is None:
        data = framework_to_dict(content.graph)
        data["edges"] = [{"from": u, "to": v} for u, v in sorted(content.graph.edges)]
        data["content"] = content.info()
        if len(cache) >= 64:
            cache.clear()
        cached = cache[key] = orjson.Fragment(orjson.dumps(data, default=str))
    return json_response(cached)


@router.get("/activities", summary="The activity catalog, optionally filtered",
            description="Each activity says whether it is `repeatable` (proposed again "
                        "`cooldown_days` after its last completion) or one-shot. "
                        "`vocabularies` lists the words the catalog's `format`, `modality` and "
                        "`level` come from (its own, or the defaults), the words the `format`, "
                        "`modality` and `level` filters here and the `formats` filters of "
                        "recommendations and pathways accept; another word is a 404 naming the "
                        "allowed ones. "
                        "Filters combine (all must hold). `competency` keeps the activities "
                        "developing that competency; one that names no competency of the "
                        "framework is a 404 naming it (`GET /v1/framework` lists them).",
            responses=errors(401, 403, 404, 422, notes={404: (
                "`competency` names no competency of the framework (`GET /v1/framework` lists "
                "them), or a `format`, `modality` or `level` is not a word of the catalog's "
                "vocabulary (listed under `vocabularies`)")}))
def get_activities(
    who: Reader,
    content: ContentDep,
    format: Annotated[list[Format] | None, Query(description="Only these formats")] = None,
    modality: Annotated[list[Format] | None, Query(description="Only these modalities")] = None,
    level: Annotated[list[Format] | None, Query(description="Only these levels")] = None,
    competency: Annotated[str | None, Query(max_length=128,
                                            description="Only activities developing it")] = None,
    max_hours: Annotated[float | None, Query(gt=0, le=10000)] = None,
) -> Response:
    cat = content.catalog
    acts = cat.activities
    if competency is not None and competency not in content.graph:
        raise unknown_competencies(content, [("competency", competency)])
    try:
        matching = cat.matching(formats=format, modalities=modality, levels=level)
    except InvalidInputError as exc:  # named as the query names them: format, modality, level
        name = exc.field.partition("[")[0]
        raise unknown_word(exc, {"formats": "format", "modalities": "modality",
                                 "levels": "level"}[name]) from None
    keep = acts.index.to_series()
    keep = keep[keep.isin(matching)]
    if max_hours is not None:
        keep = keep[acts.loc[keep.index, "hours"] <= max_hours]
    targets = cat.targets
    if competency is not None:
        keep = keep[keep.isin(targets.loc[targets["competency_id"] == competency, "activity_id"])]
    by_act = {a: dict(zip(g["competency_id"], g["weight"], strict=True))
              for a, g in targets.groupby("activity_id", sort=False)}
    items = []
    for a in keep.index:
        row = acts.loc[a]
        items.append({"activity_id": a, "title": row["title"], "format": row["format"],
                      "hours": float(row["hours"]), "modality": row["modality"],
                      "level": row["level"], "expected_gain": float(row["expected_gain"]),
                      "competencies": by_act.get(a, {}), "description": row["description"],
                      "repeatable": bool(row.get("repeatable", False)),
                      "cooldown_days": float(row.get("cooldown_days", 0.0))})
    return json_response({"count": len(items), "activities": items,
                          "vocabularies": cat.vocabularies.to_dict(),
                          "content": content.info()})
