"""Bodies of the tenant content admin endpoints: upload a framework or a catalog, read the
active version and list the versions (docs/tenants.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import ContentInfo

_DOCUMENT = ("The document: a JSON object (the mapping a framework or catalog YAML/JSON file "
             "holds, docs/frameworks.md), or the YAML or JSON text of one")


class FrameworkUploadIn(BaseModel):
    """A new framework version, with the catalog to serve with it when the current one no
    longer fits, and the ids it replaces."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "document": {"name": "district", "competencies": [
            {"id": "D.PLAN", "name": "Planning", "domain": "instruction",
             "replaces": ["INS.PLANNING"]},
            {"id": "D.ASSESS", "name": "Assessment", "domain": "instruction",
             "prerequisites": ["D.PLAN"]}]},
        "mapping": {"INS.FORMATIVE": "D.ASSESS"}}]})

    document: dict[str, Any] | str = Field(description=_DOCUMENT)
    catalog: dict[str, Any] | str | None = Field(
        None, description="A catalog to store with the framework (checked against it); "
                          "needed when the tenant's catalog targets competencies the new "
                          "framework drops")
    mapping: dict[str, str] | None = Field(
        None, description="Retired competency id -> the new framework's competency that "
                          "evidence on it counts for (stored as the new competency's "
                          "`replaces`)")


class CatalogUploadIn(BaseModel):
    """A new catalog version, checked against the tenant's framework."""

    model_config = ConfigDict(extra="forbid")

    document: dict[str, Any] | str = Field(description=_DOCUMENT)


class RetiredCompetency(BaseModel):
    """Stored evidence on a competency the new framework does not have."""

    competency_id: str
    records: int = Field(description="Evidence records on it (all kept in the store)")
    educators: int = Field(description="Educators with evidence on it")
    mapped_to: str | None = Field(description="The competency the evidence now counts for; "
                                              "null: left out of estimates")


class ContentUploadOut(BaseModel):
    """What an upload stored and what it did to stored evidence and mastery."""

    versions: dict[str, int] = Field(description="The new versions, by kind")
    educators_marked_stale: int = Field(description="Educators whose stored mastery will be "
                                                    "recomputed on their next read")
    framework_hash: str = Field(description="The hash of the framework now served (model cards "
                                            "record it: a model trained on another is not "
                                            "served to this tenant)")
    retired: list[RetiredCompetency] = Field(description="Evidence on ids the framework no "
                                                         "longer has, by id")
    content: ContentInfo = Field(description="What the tenant is served now")


class ContentVersionOut(BaseModel):
    version: int
    content_hash: str
    active: bool
    uploaded_by: str
    uploaded_at: str | None


class ContentOut(BaseModel):
    """A kind of the tenant's content: the version read (the active one unless `?version=`)
    and every stored version."""

    kind: Literal["framework", "catalog"]
    source: Literal["tenant", "default"] = Field(description="`default`: no active upload")
    version: int | None = Field(description="The version shown; null: the default")
    document: dict[str, Any] | None = Field(
        description="The stored document (the default framework as a document; null for the "
                    "default catalog, which `GET /v1/activities` lists)")
    versions: list[ContentVersionOut] = Field(description="Every stored version, newest first")
    content: ContentInfo = Field(description="What the tenant is served now")


class ActivateIn(BaseModel):
    """Serve a stored version again (null: back to the default)."""

    model_config = ConfigDict(extra="forbid")

    version: int | None = Field(ge=1, le=2**31 - 1,
                                description="A stored version; null: the default")
