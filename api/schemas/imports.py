"""Bodies of the standards imports admins run through the API: a CASE package as the tenant's
framework, and a OneRoster CSV set as its educators (docs/standards.md)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.tenant_content import ContentUploadOut

MAX_ROSTER_FILES = 20
MAX_REPORTED = 1000


class CaseUploadIn(BaseModel):
    """A 1EdTech CASE 1.0 CFPackage to import as a new version of the tenant's framework."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "package": {"CFDocument": {"identifier": "d1", "title": "District coaching"},
                    "CFItems": [{"identifier": "i1", "fullStatement": "Plans lessons",
                                 "humanCodingScheme": "D.1"}],
                    "CFAssociations": []}}]})

    package: dict[str, Any] = Field(description="The CFPackage JSON (CFDocument, CFItems, "
                                                "CFAssociations, CFDefinitions)")
    associations: dict[str, Literal["hierarchy", "prerequisite", "prerequisite-reversed",
                                    "level", "skip"]] | None = Field(
        None, description="Roles for association types beyond the defaults (isChildOf: "
                          "hierarchy, precedes: prerequisite, hasSkillLevel: level), e.g. "
                          "`{\"isPartOf\": \"hierarchy\"}`")
    catalog: dict[str, Any] | str | None = Field(
        None, description="A catalog to store with the framework (checked against it)")
    mapping: dict[str, str] | None = Field(
        None, description="Retired competency id -> the new framework's competency evidence on "
                          "it counts for")


class CaseSkipped(BaseModel):
    element: str
    index: int | None
    identifier: str
    reason: str
    detail: str = ""


class CaseReport(BaseModel):
    summary: dict[str, int] = Field(description="Items and associations per role")
    skipped_by_reason: dict[str, int]
    skipped: list[CaseSkipped] = Field(description="Every element left out, with why")


class CaseUploadOut(ContentUploadOut):
    """The upload's answer plus the CASE import report."""

    report: CaseReport


class RosterImportIn(BaseModel):
    """A OneRoster 1.1/1.2 CSV set, each file's text by its name."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "files": {"manifest.csv": "propertyName,value\nfile.users,bulk\n",
                  "users.csv": "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,"
                               "role,username,givenName,familyName\n"
                               "t1,active,2026-09-01T00:00:00Z,true,s1,teacher,t1,Ada,Lee\n"}}]})

    files: dict[str, str] = Field(
        description="File name (`manifest.csv`, `orgs.csv`, `users.csv`, `enrollments.csv`, "
                    "`classes.csv`, ...) -> its CSV text; names not ending in .csv are ignored. "
                    "A large roster (tens of thousands of users) goes through `pdrec roster "
                    "import` or a raised PDREC_MAX_REQUEST_BYTES",
        max_length=MAX_ROSTER_FILES)
    id_field: Literal["sourcedId", "username", "email", "identifier"] = Field(
        "sourcedId", description="The users.csv column that becomes the educator id")
    dry_run: bool = Field(False, description="Map and report only; store nothing")


class RosterRejection(BaseModel):
    file: str
    line: int | None
    sourced_id: str | None
    field: str | None
    value: str | None
    reason: str


class RosterImportOut(BaseModel):
    """What the import read, stored and left out."""

    counts: dict[str, int] = Field(description="Rows read per file, educators, non-educators "
                                               "by role, created/updated/unchanged/stale")
    notes: list[dict[str, str]] = Field(description="File-level notes (`file`, `note`)")
    rejections_total: int
    rejections: list[RosterRejection] = Field(
        description=f"Every row not used, with file, line and reason (the first {MAX_REPORTED})")
